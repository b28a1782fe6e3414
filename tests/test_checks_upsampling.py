"""Lesson 03's checks, table-driven (tests/check_harness.py): each passes the reference and a
learner-style answer, and fails on the stub and on the plausible mistakes listed here."""

import keras
import numpy as np
import pytest

import functools

import fcn_lessons
from fcn_lessons import checks, upsampling
from fcn_lessons.checks import upsampling as upsampling_checks
from fcn_lessons.checks._core import GRADING_SEED_ENV, CaseFailure, NotDone
from check_harness import GRADING_SEED, CheckSpec, check_tests, memorised, prediction_of


def _in_notebook(source: str, name: str = "answer"):
    """The function ``name`` defined by ``source`` as a notebook cell would define it (module ``__main__``)."""
    namespace = {"__name__": "__main__", "np": np, "upsampling": upsampling, "fcn_lessons": fcn_lessons}
    exec(source, namespace)  # noqa: S102 - test code, fixed strings
    return namespace[name]


# --- Exercise 3.1: numpy transposed convolution ----------------------------------------------

def _scatter(x, kernel, stride, *, flip=False, swap_channels=False, accumulate=True, dilate_kernel=False,
             size=None, placement_stride=None):
    """A learner-style per-pixel scatter-add, with one mistake switched on."""
    if flip:
        kernel = kernel[::-1, ::-1]
    matrices = kernel.transpose(0, 1, 3, 2) if swap_channels else kernel  # (kh, kw, out, in)
    h, w, _ = x.shape
    kh, kw, c_out = kernel.shape[0], kernel.shape[1], matrices.shape[2]
    if dilate_kernel:  # "stride applied to the wrong side": kernel taps s apart, pixels 1 apart
        out = np.zeros((h - 1 + (kh - 1) * stride + 1, w - 1 + (kw - 1) * stride + 1, c_out))
        for i in range(h):
            for j in range(w):
                for a in range(kh):
                    for b in range(kw):
                        out[i + a * stride, j + b * stride] += matrices[a, b] @ x[i, j]
        return out
    step = stride if placement_stride is None else placement_stride
    out = np.zeros(size or ((h - 1) * stride + kh, (w - 1) * stride + kw, c_out))
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    y, z = i * step + a, j * step + b
                    if y < out.shape[0] and z < out.shape[1]:
                        value = matrices[a, b] @ x[i, j]
                        out[y, z] = out[y, z] + value if accumulate else value
    return out


def _zero_stuffed_correlation(x, kernel, stride):
    """Insert s-1 zeros between pixels, pad k-1, then *correlate* (forgetting the flip)."""
    h, w, c_in = x.shape
    kh, kw = kernel.shape[:2]
    stuffed = np.zeros(((h - 1) * stride + 1, (w - 1) * stride + 1, c_in))
    stuffed[::stride, ::stride] = x
    padded = np.pad(stuffed, ((kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    out_h, out_w = padded.shape[0] - kh + 1, padded.shape[1] - kw + 1
    out = np.zeros((out_h, out_w, kernel.shape[2]))
    for a in range(kh):
        for b in range(kw):
            out += padded[a:a + out_h, b:b + out_w] @ kernel[a, b].T
    return out


MISTAKES_3_1 = {
    "stride forgotten (copies one pixel apart)": lambda x, k, s: _scatter(x, k, 1),
    "stride forgotten in the placement (output of the right size)": lambda x, k, s: _scatter(x, k, s,
                                                                                             placement_stride=1),
    "kernel flipped": lambda x, k, s: _scatter(x, k, s, flip=True),
    "zero-stuffed input correlated without the flip": _zero_stuffed_correlation,
    "stride applied to the wrong side (kernel dilated)": lambda x, k, s: _scatter(x, k, s, dilate_kernel=True),
    "channel axes swapped": lambda x, k, s: _scatter(x, k, s, swap_channels=True),
    "overlaps overwritten instead of added": lambda x, k, s: _scatter(x, k, s, accumulate=False),
    "output of n*s pixels (cropped)": lambda x, k, s: _scatter(x, k, s, size=(x.shape[0] * s, x.shape[1] * s,
                                                                              k.shape[2])),
    "square kernel assumed": lambda x, k, s: _scatter(x, k[:, :k.shape[0]], s),
    "Keras 'same' output instead of the full one": lambda x, k, s: upsampling.transposed_conv2d(x, k, s, "same"),
    "Keras 'valid' length when k < s (trailing zeros)": lambda x, k, s: _scatter(
        x, k, s, size=(x.shape[0] * s + max(k.shape[0] - s, 0), x.shape[1] * s + max(k.shape[1] - s, 0), k.shape[2])),
    "a notebook lambda around the course's transposed_conv2d": _in_notebook(
        "answer = lambda x, k, s: upsampling.transposed_conv2d(x, k, s)"),
}
HINTS_3_1 = {
    "Keras 'valid' length when k < s (trailing zeros)": "padding='valid' then returns",
    "a notebook lambda around the course's transposed_conv2d": "your lambda uses fcn_lessons.upsampling.transposed_conv2d",
    "stride forgotten (copies one pixel apart)": "The stride is missing",
    "stride forgotten in the placement (output of the right size)": "The stride is missing",
    "kernel flipped": "kernel flipped",
    "channel axes swapped": "channel axes are swapped",
}


# --- Exercise 3.2: bilinear kernel --------------------------------------------------------------

def _bilinear(factor, channels, *, centre=None, size=None, mix=False, normalise=False):
    """A learner-style bilinear kernel, with one mistake switched on."""
    size = size or 2 * factor - factor % 2
    c = centre(factor, size) if centre else (size - 1) / 2
    taps = 1 - np.abs(np.arange(size) - c) / factor
    filt = np.outer(taps, taps)
    if normalise:
        filt = filt / filt.sum()
    kernel = np.zeros((size, size, channels, channels), np.float32)
    if mix:
        kernel[:] = filt[:, :, None, None]
    else:
        for i in range(channels):
            kernel[:, :, i, i] = filt
    return kernel


MISTAKES_3_2 = {
    "every channel pair filled (mixes classes)": lambda f, c: _bilinear(f, c, mix=True),
    "centre factor - 1 for even sizes": lambda f, c: _bilinear(f, c, centre=lambda f, k: f - 1),
    "centre factor - 0.5 for odd sizes too": lambda f, c: _bilinear(f, c, centre=lambda f, k: f - 0.5),
    "centre at factor (off by half a pixel)": lambda f, c: _bilinear(f, c, centre=lambda f, k: f),
    "size 2*factor even for odd factors": lambda f, c: _bilinear(f, c, size=2 * f),
    "size factor instead of 2*factor": lambda f, c: _bilinear(f, c, size=f),
    "normalised to sum 1": lambda f, c: _bilinear(f, c, normalise=True),
    "PyTorch layout (C, C, k, k)": lambda f, c: _bilinear(f, c).transpose(2, 3, 0, 1),
    "Keras' Conv2D initialiser instead": lambda f, c: np.asarray(
        keras.initializers.GlorotUniform(seed=0)((2 * f - f % 2, 2 * f - f % 2, c, c))),
    # the reviewer's: the reference's upsample_filt(2f) for every factor (its VGG nets' sizes)
    "the reference's upsample_filt(2·factor) for odd factors too": lambda f, c: _bilinear(
        f, c, size=2 * f, centre=lambda f, k: (k + 1) // 2 - (1 if k % 2 else 0.5)),
    "a notebook lambda around the course's bilinear_kernel": _in_notebook(
        "answer = lambda f, c: upsampling.bilinear_kernel(f, c)"),
    "a notebook function using the course's Keras initialiser": _in_notebook(
        "from fcn_lessons.models import BilinearUpsampling\n"
        "def answer(f, c):\n    k = 2 * f - f % 2\n    return np.asarray(BilinearUpsampling()((k, k, c, c)))\n"),
}
HINTS_3_2 = {
    "every channel pair filled (mixes classes)": "mixes channels",
    "centre factor - 1 for even sizes": r"no\s+middle tap",
    "centre factor - 0.5 for odd sizes too": "its middle is a tap",
    "normalised to sum 1": "sums to 1",
    "a notebook lambda around the course's bilinear_kernel": "uses fcn_lessons.upsampling.bilinear_kernel",
    "a notebook function using the course's Keras initialiser": "uses fcn_lessons.models.BilinearUpsampling",
}


# --- Exercise 3.3: Conv2DTranspose output size (output_padding=None) -----------------------------

def _size_by_picture(n, k, s, padding):
    """A learner's derivation: the copies cover (n - 1)*s + k pixels; Keras keeps a slot of s per input."""
    covered = (n - 1) * s + k
    return n * s if padding == "same" else max(covered, n * s)


def _size_by_slots(n, k, s, padding):
    """Another learner's: n slots of s pixels, plus whatever the last copy sticks out of its slot."""
    return n * s + (max(k - s, 0) if padding == "valid" else 0)


MISTAKES_3_3 = {
    "convolution formula": lambda n, k, s, padding: (n - k) // s + 1,
    "stride applied to the wrong side": lambda n, k, s, padding: (n - 1) * k + s,
    "(n - 1)*s + k for every padding": lambda n, k, s, padding: (n - 1) * s + k,
    "max(k - s, 0) forgotten": lambda n, k, s, padding: n * s if padding == "same" else (n - 1) * s + k,
    "'valid' as n*s always": lambda n, k, s, padding: n * s,
    "last copy starting at n*s": lambda n, k, s, padding: n * s if padding == "same" else n * s + k,
    "'same' keeps the input size": lambda n, k, s, padding: n if padding == "same" else _size_by_picture(n, k, s, padding),
    "'same' crops k // 2 on each side": lambda n, k, s, padding: (
        (n - 1) * s + k - 2 * (k // 2) if padding == "same" else _size_by_picture(n, k, s, padding)),
    "float division": lambda n, k, s, padding: float(_size_by_picture(n, k, s, padding)),
    "a notebook lambda around the course's function": _in_notebook(
        "answer = lambda n, k, s, padding: upsampling.transposed_conv_output_size(n, k, s, padding)"),
}
HINTS_3_3 = {
    "convolution formula": "That is a convolution's output size",
    "stride applied to the wrong side": "Stride and kernel size are swapped",
    "(n - 1)*s + k for every padding": "With k < s the copies leave gaps",
    "max(k - s, 0) forgotten": "With k < s the copies leave gaps",
    "last copy starting at n*s": r"starts at \(n - 1\)·s",
    "float division": "Use integer arithmetic",
    "a notebook lambda around the course's function": "uses fcn_lessons.upsampling.transposed_conv_output_size",
}


# --- Exercise 3.4: phase sums and flatness ---------------------------------------------------------

def _phases(kernel, stride, *, reduce=np.sum, group=lambda t, s: t % s, transpose=False):
    kh, kw = kernel.shape
    sums = np.zeros((stride, stride))
    for p in range(stride):
        for q in range(stride):
            rows = [a for a in range(kh) if group(a, stride) == p]
            cols = [b for b in range(kw) if group(b, stride) == q]
            taps = kernel[np.ix_(rows, cols)]
            sums[p, q] = reduce(taps) if taps.size else 0.0
    return sums.T if transpose else sums


def _learner_3_4(kernel, stride):
    """Tap by tap: tap (a, b) lands on the output pixels of phase (a % s, b % s)."""
    sums = np.zeros((stride, stride))
    for a in range(kernel.shape[0]):
        for b in range(kernel.shape[1]):
            sums[a % stride, b % stride] += kernel[a, b]
    return sums, bool(np.allclose(sums, sums[0, 0]))


def _reference_3_4(kernel, stride):
    return upsampling.phase_sums(kernel, stride), upsampling.balanced_phases(kernel, stride)


# The second part: a 5×5 kernel balanced at stride 3. A 1-D row of 5 taps has the phases {0, 3},
# {1, 4} and {2}: a + d = b + e = c, e.g. 1, 1, 2, 1, 1; the outer product of two balanced rows is
# balanced in 2-D (each 2-D phase sum is a product of two equal 1-D sums).
SOLUTION_KERNEL = np.outer([1, 1, 2, 1, 1], [1, 1, 2, 1, 1])
LEARNER_KERNEL = np.outer([2, 1, 3, 1, 2], [1, 2, 3, 2, 1]) + 0.0  # another row, and the bilinear row: still balanced


def _with_kernel(answer, kernel):
    """An analyse_phases answer that also carries a BALANCED_KERNEL (the row's call passes it on)."""
    def analyse_phases(k, s):
        return answer(k, s)
    analyse_phases.balanced = kernel
    return analyse_phases


def _run_3_4(answer):
    return checks.check_analyse_phases(answer, getattr(answer, "balanced", SOLUTION_KERNEL))


def _flat(sums):
    return bool(np.allclose(sums, sums.flat[0]))


MISTAKES_3_4 = {
    "overlap counts instead of weights": lambda k, s: (lambda c: (c, _flat(c)))(_phases(np.ones_like(k), s)),
    "phase means instead of sums": lambda k, s: (lambda m: (m, _flat(m)))(_phases(k, s, reduce=np.mean)),
    "phases as blocks of neighbouring taps (t // s)": lambda k, s: (lambda b: (b, _flat(b)))(
        _phases(k, s, group=lambda t, s: (t // s) % s)),
    "rows and columns swapped": lambda k, s: (_phases(k, s, transpose=True), _flat(_phases(k, s))),
    "flat decided by the overlap (k % s == 0)": lambda k, s: (_phases(k, s),
                                                             k.shape[0] % s == 0 and k.shape[1] % s == 0),
    "flat means every phase sums to 1": lambda k, s: (_phases(k, s), bool(np.allclose(_phases(k, s), 1))),
    "flat by exact equality (no tolerance)": lambda k, s: (_phases(k, s), bool(np.all(_phases(k, s) ==
                                                                                      _phases(k, s)[0, 0]))),
    "flat from the row phases only": lambda k, s: (_phases(k, s), _flat(_phases(k, s).sum(axis=1))),
    "only the phase sums returned": lambda k, s: _phases(k, s),
    "flat as 0/1": lambda k, s: (_phases(k, s), int(_flat(_phases(k, s)))),
    # the reviewer's: equal row sums and equal column sums of the phase array taken for "flat"
    "flat when the phase array's row and column sums are equal": lambda k, s: (
        _phases(k, s), _flat(_phases(k, s).sum(axis=0)) and _flat(_phases(k, s).sum(axis=1))),
    "a notebook lambda around the course's functions": _in_notebook(
        "answer = lambda k, s: (upsampling.phase_sums(k, s), upsampling.balanced_phases(k, s))"),
    "BALANCED_KERNEL: the ×3 bilinear kernel, doubled": _with_kernel(
        _learner_3_4, 2 * np.outer(*[upsampling.bilinear_taps(3)] * 2)),
    "BALANCED_KERNEL: uniform (unequal phases at k = 5, s = 3)": _with_kernel(_learner_3_4, np.ones((5, 5))),
    "BALANCED_KERNEL: the tent of size 5 (not the stride's)": _with_kernel(
        _learner_3_4, np.outer(*[1 - np.abs(np.arange(5) - 2) / 2.5] * 2)),  # the explorer's "tent of size k"
    "BALANCED_KERNEL: a 3×3 block of ones padded with zeros": _with_kernel(
        _learner_3_4, np.pad(np.ones((3, 3)), ((0, 2), (0, 2)))),
    "BALANCED_KERNEL: balanced for stride 2 instead": _with_kernel(
        _learner_3_4, np.outer([1, 2, 2, 2, 1], [1, 2, 2, 2, 1])),
    "BALANCED_KERNEL: balanced along the rows only": _with_kernel(
        _learner_3_4, np.outer([1, 1, 2, 1, 1], [1, 2, 3, 4, 5])),
    "BALANCED_KERNEL: a 6×6 kernel (k = 2s)": _with_kernel(_learner_3_4, np.ones((6, 6))),
    "BALANCED_KERNEL: a list of strings": _with_kernel(_learner_3_4, [["1"] * 5] * 5),
}
HINTS_3_4 = {
    "overlap counts instead of weights": "You counted the taps",
    "phase means instead of sums": "You averaged each phase",
    "phases as blocks of neighbouring taps (t // s)": "not a block of neighbouring taps",
    "rows and columns swapped": "Rows and columns are swapped",
    "flat decided by the overlap (k % s == 0)": "follows the overlap",
    "flat means every phase sums to 1": r"not sums\s+equal to 1",
    "only the phase sums returned": r"expected a pair \(phase sums, flat\)",
    "flat as 0/1": "expected True or False",
    "flat when the phase array's row and column sums are equal": "Equal along each axis is not enough",
    "a notebook lambda around the course's functions": r"uses fcn_lessons\.upsampling\.(phase_sums|balanced_phases)",
    "BALANCED_KERNEL: the ×3 bilinear kernel, doubled": "the ×3 bilinear kernel \\(up to a factor\\)",
    "BALANCED_KERNEL: uniform (unequal phases at k = 5, s = 3)": "does not turn a constant into a constant",
    "BALANCED_KERNEL: the tent of size 5 (not the stride's)": "does not turn a constant into a constant",
    "BALANCED_KERNEL: a 3×3 block of ones padded with zeros": "must be a positive number",
    "BALANCED_KERNEL: balanced for stride 2 instead": "does not turn a constant into a constant",
    "BALANCED_KERNEL: balanced along the rows only": "does not turn a constant into a constant",
    "BALANCED_KERNEL: a 6×6 kernel (k = 2s)": r"must have shape \(5, 5\)",
}


# --- Exercise 3.5: predict the ratio after two stacked layers -------------------------------------

MISTAKES_3_5 = {
    "one layer's ratio (2)": lambda: 2,
    "the ratios multiply (2 · 2)": lambda: 4,
    "the 2-D ratio (9)": lambda: 9,
    "no artifact left (1)": lambda: 1,
    "a string": lambda: "3",
}


SPECS = [
    CheckSpec(checks.check_transposed_conv2d, reference=upsampling_checks._full_transposed_conv, learner=_scatter,
              mistakes=MISTAKES_3_1, hints=HINTS_3_1, passed=r"6 random cases",
              hard_coded=memorised(checks.check_transposed_conv2d, upsampling_checks._full_transposed_conv,
                                   key=lambda x, k, s: (x.tobytes(), k.tobytes(), s))),
    CheckSpec(checks.check_bilinear_kernel, reference=upsampling.bilinear_kernel, learner=_bilinear,
              mistakes=MISTAKES_3_2, hints=HINTS_3_2, passed=r"8 \(factor, channels\) cases",
              hard_coded=memorised(checks.check_bilinear_kernel, upsampling.bilinear_kernel,
                                   key=lambda f, c: (f, c))),
    CheckSpec(checks.check_transposed_conv_output_size, reference=upsampling.transposed_conv_output_size,
              learner=_size_by_slots, mistakes=MISTAKES_3_3, hints=HINTS_3_3, passed=r"19 cases",
              hard_coded=memorised(checks.check_transposed_conv_output_size, upsampling.transposed_conv_output_size,
                                   key=lambda *args: args)),
    CheckSpec(checks.check_analyse_phases, reference=_reference_3_4, learner=_with_kernel(_learner_3_4, LEARNER_KERNEL),
              mistakes=MISTAKES_3_4, hints=HINTS_3_4, call=_run_3_4,
              passed=r"12 kernels, .* your 5×5 kernel is balanced at stride 3: every phase sums to 4",
              hard_coded=memorised(functools.partial(checks.check_analyse_phases, balanced_kernel=SOLUTION_KERNEL),
                                   _reference_3_4, key=lambda k, s: (k.tobytes(), k.shape, s))),
    CheckSpec(checks.check_stacked_checkerboard_prediction, reference=lambda: 3.0, learner=lambda: 3,
              mistakes=MISTAKES_3_5, hints={"a string": "must be a number"}, passed=r"measured 3\)",
              call=lambda answer: checks.check_stacked_checkerboard_prediction(prediction_of(answer))),
]
globals().update(check_tests(SPECS))


# --- what the tables rest on -------------------------------------------------------------------------

@pytest.mark.parametrize("graded", [False, True])
def test_3_3_cases_are_what_keras_returns(graded, monkeypatch):
    if graded:
        monkeypatch.setenv(GRADING_SEED_ENV, str(GRADING_SEED))
    for n, k, s, padding in upsampling_checks.size_cases():
        layer = keras.layers.Conv2DTranspose(1, (k, 1), strides=(s, 1), padding=padding)
        assert layer.compute_output_shape((1, n, 1, 1))[1] == upsampling.transposed_conv_output_size(n, k, s, padding)
    for n, k, s, padding in upsampling_checks._SIZE_CASES:  # the visible ones also run through the layer
        layer = keras.layers.Conv2DTranspose(1, (k, 1), strides=(s, 1), padding=padding)
        assert tuple(layer(np.zeros((1, n, 1, 1), np.float32)).shape)[1] == layer.compute_output_shape((1, n, 1, 1))[1]


def test_3_3_answers_with_the_old_output_padding_argument_still_pass(capsys):
    """Before the review 3.3 also asked for output_padding; such an answer (default None) still passes."""
    def old_answer(n, k, s, padding, output_padding=None):
        return _size_by_picture(n, k, s, padding) if output_padding is None else -1
    checks.check_transposed_conv_output_size(old_answer)
    assert "Exercise 3.3 passed" in capsys.readouterr().out


def test_3_3_covers_what_the_lessons_table_derives():
    kinds = {(padding, k < s, k % s == 0) for _, k, s, padding in upsampling_checks._SIZE_CASES}
    assert {("valid", True, False), ("valid", False, True), ("valid", False, False), ("same", False, False),
            ("same", False, True)} <= kinds


def test_3_3_graded_cases_differ_from_the_visible_ones(monkeypatch):
    visible = upsampling_checks.size_cases()
    monkeypatch.setenv(GRADING_SEED_ENV, str(GRADING_SEED))
    assert upsampling_checks.size_cases() != visible


def test_3_4_cases_cover_what_the_exercise_promises():
    kinds = {"flat, uneven overlap": 0, "flat, even overlap": 0, "not flat, even overlap": 0,
             "not flat, uneven overlap": 0}
    for _, kernel, stride in upsampling_checks.phase_cases():
        # the truth is what a transposed convolution of ones does in its interior
        out = upsampling.transposed_conv2d(np.ones((6, 6, 1)), kernel[:, :, None, None], stride)[..., 0]
        top, left = -(-kernel.shape[0] // stride) * stride, -(-kernel.shape[1] // stride) * stride
        np.testing.assert_allclose(out[top:top + stride, left:left + stride], upsampling.phase_sums(kernel, stride),
                                   atol=1e-9)
        flat = upsampling.balanced_phases(kernel, stride)
        uneven = kernel.shape[0] % stride != 0 or kernel.shape[1] % stride != 0
        kinds[f"{'flat' if flat else 'not flat'}, {'uneven' if uneven else 'even'} overlap"] += 1
    assert all(kinds.values()), kinds


def test_3_5_measurement_agrees_with_keras():
    row = np.ones((1, 1, 12, 1), np.float32)
    for _ in range(upsampling_checks.STACKED_LAYERS):
        layer = keras.layers.Conv2DTranspose(1, (1, upsampling_checks.STACKED_KERNEL),
                                             strides=(1, upsampling_checks.STACKED_STRIDE), use_bias=False,
                                             kernel_initializer="ones")
        row = np.asarray(layer(row))
    values = row[0, 0, 6:-6, 0]  # away from both ends
    assert values.max() / values.min() == pytest.approx(3.0)
    interior = upsampling_checks.stacked_interior()
    assert interior.max() / interior.min() == pytest.approx(3.0)


def test_3_4_refuses_the_course_functions():
    for borrowed in (upsampling.phase_sums, upsampling.balanced_phases):
        with pytest.raises(CaseFailure, match="the course's own answer"):
            checks.check_analyse_phases(borrowed, SOLUTION_KERNEL)


def test_3_4_failure_names_the_range_of_the_phase_sums():
    with pytest.raises(CaseFailure, match=r"(?s)case 2 of 12 \(the ×3 bilinear kernel.*flat: expected True, "
                                          r"received False: the phase sums run from 1 to 1"):
        checks.check_analyse_phases(MISTAKES_3_4["flat decided by the overlap (k % s == 0)"], SOLUTION_KERNEL)


def test_3_4_the_reviewers_counterexample_is_a_case():
    """[[1, 0], [0, 1]] at stride 2: equal row and column sums of its phases, yet a pure checkerboard."""
    with pytest.raises(CaseFailure, match=r"(?s)case 11 of 12 \(the diagonal kernel.*expected False, received True"):
        checks.check_analyse_phases(MISTAKES_3_4["flat when the phase array's row and column sums are equal"],
                                    SOLUTION_KERNEL)
    out = upsampling.transposed_conv2d(np.ones((6, 6, 1)), np.eye(2)[:, :, None, None], 2)[2:-2, 2:-2, 0]
    assert set(np.unique(out)) == {0.0, 1.0}  # a checkerboard of 0 and 1


def test_3_4_asks_for_the_kernel_once_the_function_passes():
    with pytest.raises(NotDone, match=r"^Exercise 3\.4 is not done yet: your analyse_phases passes") as raised:
        checks.check_analyse_phases(_learner_3_4, ...)
    assert raised.value._render_traceback_() == [str(raised.value)]
    with pytest.raises(NotDone):
        checks.check_analyse_phases(_learner_3_4)  # the old one-argument call


def test_3_4_solution_kernels_are_balanced_and_not_bilinear():
    bilinear = np.outer(*[upsampling.bilinear_taps(3)] * 2)
    for kernel in (SOLUTION_KERNEL, LEARNER_KERNEL):
        assert kernel.shape == (5, 5) and (kernel > 0).all() and upsampling.balanced_phases(kernel, 3)
        assert upsampling.uneven_overlap(5, 3) and not np.allclose(kernel / kernel.sum(), bilinear / bilinear.sum())


def test_3_1_stride_hint_comes_first():
    with pytest.raises(CaseFailure) as failure:
        checks.check_transposed_conv2d(MISTAKES_3_1["stride forgotten (copies one pixel apart)"])
    assert "case 1 of 6" in str(failure.value) and "(i*stride, j*stride)" in str(failure.value)


@pytest.mark.parametrize("mistake", ["'valid' as n*s always", "'same' crops k // 2 on each side",
                                     "(n - 1)*s + k for every padding", "max(k - s, 0) forgotten"])
def test_3_3_hints_do_not_give_the_formula_away(mistake):
    with pytest.raises(CaseFailure) as failure:
        checks.check_transposed_conv_output_size(MISTAKES_3_3[mistake])
    message = str(failure.value)
    for formula in ("n*s + max", "max(", "n·s if", "(n - 1)·s + k", "(n - 1)*s + k", "(n - 1) * s + k"):
        assert formula not in message


@pytest.mark.parametrize("check, answer", [
    ("check_bilinear_kernel", MISTAKES_3_2["centre factor - 1 for even sizes"]),
    ("check_analyse_phases", MISTAKES_3_4["phase means instead of sums"]),
    ("check_transposed_conv_output_size", MISTAKES_3_3["convolution formula"]),
])
def test_generic_hints_nudge_without_the_recipe(check, answer):
    """The hint a failure shows when no specific mistake is recognised names no formula."""
    import re

    source = {"check_bilinear_kernel": "1 - |t - c| / factor", "check_analyse_phases": "a % s == p",
              "check_transposed_conv_output_size": "n·s"}[check]
    with pytest.raises(CaseFailure) as failure:
        getattr(checks, check)(answer) if check != "check_analyse_phases" else checks.check_analyse_phases(
            answer, SOLUTION_KERNEL)
    hint = re.search(r"Hint: (.*)", str(failure.value), re.S).group(1)
    assert source not in hint and "np.outer" not in hint and "2*factor - factor % 2" not in hint


def test_3_1_has_its_own_hint_for_keras_valid_lengths():
    with pytest.raises(CaseFailure, match=r"(?s)case 4 of 6 .*padding='valid' then returns"):
        checks.check_transposed_conv2d(MISTAKES_3_1["Keras 'valid' length when k < s (trailing zeros)"])
