"""Checks for lesson 03's exercises: transposed convolution, bilinear kernels, output sizes, phase sums.

=========  ===========================================  ==========================================
exercise   the learner writes                           check
=========  ===========================================  ==========================================
3.1        ``transposed_conv2d(x, kernel, stride)``      :func:`check_transposed_conv2d`
3.2        ``bilinear_kernel(factor, channels)``         :func:`check_bilinear_kernel`
3.3        ``transposed_conv_output_size(n, k, s, ...)``  :func:`check_transposed_conv_output_size`
3.4        ``analyse_phases(kernel, stride)``,           :func:`check_analyse_phases`
           ``BALANCED_KERNEL`` (a design)
3.5        ``PREDICTION`` (predict, then run)            :func:`check_stacked_checkerboard_prediction`
=========  ===========================================  ==========================================

Every check draws (some of) its cases from :func:`~fcn_lessons.checks._core.case_rng`, so a
graded run (``FCN_LESSONS_CHECK_SEED``) sees cases the learner has not seen; 3.5 asks for
one number about a fixed setting, which the learner predicts before running it, and 3.4's
second part asks for a kernel of the learner's own design (any kernel that meets the rule
passes).

Exercises 3.1-3.4 may not use ``fcn_lessons.upsampling`` (``FORBIDDEN``), nor 3.2 the
course's Keras initialiser (``fcn_lessons.models.BilinearUpsampling``): a learner's function
that calls them is refused.
"""

from __future__ import annotations

import numbers

import numpy as np

from fcn_lessons import upsampling
from fcn_lessons.checks._core import (CaseFailure, NotDone, case_rng, cases, check_prediction, describe,
                                      exercise_check, passed)

__all__ = [
    "check_transposed_conv2d", "check_bilinear_kernel", "check_transposed_conv_output_size",
    "check_analyse_phases", "check_stacked_checkerboard_prediction",
]

_SEED = 303  # the checks draw their own random cases; the learner's seed is untouched
FORBIDDEN = ("fcn_lessons.upsampling",)  # it holds the answers of exercises 3.1-3.4


def _close(a, b, atol: float = 1e-5) -> bool:
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol))


# --- Exercise 3.1 ---------------------------------------------------------------------------

def _full_transposed_conv(x, kernel, stride):
    """The reference scatter-add, never cropped: ((H-1)·s + kh, (W-1)·s + kw, C_out)."""
    h, w = x.shape[:2]
    kh, kw = kernel.shape[:2]
    out = upsampling.transposed_conv2d(x, kernel, stride, "valid")
    return out[:(h - 1) * stride + kh, :(w - 1) * stride + kw]


def _stride_forgotten(received, x, kernel, stride) -> bool:
    """Copies one pixel apart: the stride-1 result, alone or in the top-left of a right-sized output."""
    if stride == 1:
        return False
    one_apart = _full_transposed_conv(x, kernel, 1)
    if _close(received, one_apart, 1e-4):
        return True
    got = np.asarray(received) if isinstance(received, np.ndarray) else None
    if got is None or got.ndim != 3 or got.shape[0] < one_apart.shape[0] or got.shape[1] < one_apart.shape[1]:
        return False
    corner = got[:one_apart.shape[0], :one_apart.shape[1]]
    rest = got.copy()
    rest[:one_apart.shape[0], :one_apart.shape[1]] = 0
    return _close(corner, one_apart, 1e-4) and not np.abs(rest).max() > 1e-6


_STRIDE_HINT = ("The stride is missing: the copy of x[i, j] must start at output pixel (i*stride, j*stride), not "
                "at (i, j). Copies start stride pixels apart; that is what makes the output larger than the input.")
_SHORT_KERNEL_HINT = ("Here the kernel is shorter than the stride along an axis. Keras' padding='valid' then returns "
                      "n·stride pixels, a whole slot per input pixel, of which the last stride - k stay zero; this "
                      "exercise asks for the pixels the copies reach, which end where the last copy ends.")


def _keras_valid_length(n: int, k: int, s: int) -> int:
    return n * s + max(k - s, 0)


def _keras_valid_shape(received, x, kernel, stride) -> bool:
    """``received`` is the right scatter-add padded with zeros to Keras' 'valid' length (k < s somewhere)."""
    (h, w), (kh, kw) = x.shape[:2], kernel.shape[:2]
    if kh >= stride and kw >= stride:
        return False
    got = np.asarray(received) if isinstance(received, np.ndarray) else None
    shape = (_keras_valid_length(h, kh, stride), _keras_valid_length(w, kw, stride), kernel.shape[2])
    if got is None or got.shape != shape:
        return False
    full = _full_transposed_conv(x, kernel, stride)
    return _close(got[:full.shape[0], :full.shape[1]], full, 1e-4)


@exercise_check("3.1", forbidden=FORBIDDEN)
def check_transposed_conv2d(fn) -> None:
    """Exercise 3.1: ``fn(x (H, W, C_in), kernel (kh, kw, C_out, C_in), stride) -> full output``.

    The full output of the scatter-add, ((H - 1)·s + kh, (W - 1)·s + kw, C_out): what
    ``keras.layers.Conv2DTranspose(padding='valid')`` returns whenever kh, kw >= s.
    """
    rng = case_rng(_SEED)
    configs = [  # (H, W, C_in, C_out, (kh, kw), stride)
        (3, 3, 1, 1, (3, 3), 2), (4, 5, 2, 2, (4, 4), 2), (5, 4, 3, 2, (3, 3), 1),
        (3, 4, 2, 3, (2, 5), 3), (4, 4, 3, 3, (5, 5), 3), (2, 3, 1, 2, (1, 1), 2),
    ]
    hint = ("Compare with the scatter-add picture (lesson 03, section 3.1): one copy of the kernel per input "
            "pixel, weighted by that pixel, copies stride pixels apart, overlaps added up. A Conv2DTranspose "
            "kernel is (kh, kw, C_out, C_in).")
    descriptions = [f"x {h}×{w}×{cin}, kernel {k[0]}×{k[1]} with {cin}->{cout} channels, stride {s}"
                    for h, w, cin, cout, k, s in configs]
    for case, (h, w, cin, cout, (kh, kw), s) in zip(cases("3.1", descriptions, hint), configs):
        x = rng.standard_normal((h, w, cin)).astype(np.float32)
        kernel = rng.standard_normal((kh, kw, cout, cin)).astype(np.float32)
        received = case.call(fn, x.copy(), kernel.copy(), s)
        expected = _full_transposed_conv(x, kernel, s)
        specific = None
        if _stride_forgotten(received, x, kernel, s):
            specific = _STRIDE_HINT
        elif _keras_valid_shape(received, x, kernel, s):
            specific = _SHORT_KERNEL_HINT
        elif _close(received, _full_transposed_conv(x, kernel[::-1, ::-1], s), 1e-4):
            specific = ("Your result is the transposed convolution with the kernel flipped. The scatter-add "
                        "places kernel[a, b] at offset (a, b) as it is: no flip (a flip appears only when you "
                        "rewrite it as a convolution of a zero-stuffed input).")
        elif cin == cout and _close(received, _full_transposed_conv(x, kernel.transpose(0, 1, 3, 2), s), 1e-4):
            specific = ("The channel axes are swapped: a Conv2DTranspose kernel is (kh, kw, C_out, C_in), so "
                        "kernel[a, b] is a (C_out, C_in) matrix and kernel[a, b] @ x[i, j] has C_out values.")
        case.assert_close(received, expected, what="transposed convolution", atol=1e-4, hint=specific)
    passed("3.1", len(configs), "match the scatter-add of kernel copies")


# --- Exercise 3.2 ---------------------------------------------------------------------------

def _tent(factor: int, centre: float) -> np.ndarray:
    size = 2 * factor - factor % 2
    taps = 1 - np.abs(np.arange(size) - centre) / factor
    return np.outer(taps, taps)


@exercise_check("3.2", forbidden=FORBIDDEN + ("fcn_lessons.models.BilinearUpsampling",))
def check_bilinear_kernel(fn) -> None:
    """Exercise 3.2: ``fn(factor, channels) -> (k, k, channels, channels)`` bilinear kernel.

    Three fixed cases (×2 for one and three channels, ×1, ×3) and four drawn from the
    check's generator (factors 2-9, 1-4 channels).
    """
    rng = case_rng(_SEED + 2)
    configs = [(2, 1), (2, 3), (1, 2), (3, 2)]
    configs += [(int(rng.integers(2, 10)), int(rng.integers(1, 5))) for _ in range(4)]
    hint = ("Look at one channel of yours, kernel[:, :, 0, 0], beside the expected values: where is the peak, and "
            "does the tent fall by the same step on every side of it? Then look at the entries [:, :, i, j], i != j.")
    descriptions = [f"factor {f}, {c} channel{'s' if c > 1 else ''}" for f, c in configs]
    for case, (factor, channels) in zip(cases("3.2", descriptions, hint), configs):
        received = case.call(fn, factor, channels)
        expected = upsampling.bilinear_kernel(factor, channels)
        got = np.asarray(received) if received is not None else None
        specific = None
        if got is not None and got.shape == expected.shape and got.dtype.kind in "fiu":
            off_diagonal = got.copy()
            off_diagonal[:, :, np.arange(channels), np.arange(channels)] = 0
            diagonal = got[:, :, np.arange(channels), np.arange(channels)]
            if channels > 1 and np.abs(off_diagonal).max() > 1e-6:
                specific = ("Your kernel mixes channels: weight [:, :, i, j] with i != j must be zero, or "
                            "every output class becomes a blend of all classes.")
            elif np.allclose(diagonal.sum(axis=(0, 1)), 1, atol=1e-4) and factor > 1:
                specific = ("Your kernel sums to 1; the bilinear kernel sums to factor² (each output pixel "
                            "receives weights from several kernel copies that add up to 1).")
            elif factor % 2 == 0 and _close(got[..., 0, 0], _tent(factor, factor - 1)):
                specific = ("Your tent peaks on tap factor - 1, but a kernel with an even number of taps has no "
                            "middle tap: the copy's centre lies between two taps, and the tent must be symmetric "
                            "about it. Where is the middle of taps 0 .. k - 1?")
            elif factor % 2 == 1 and _close(got[..., 0, 0], _tent(factor, factor - 0.5)):
                specific = ("For an odd factor the kernel has an odd number of taps, so its middle is a tap, not "
                            "a point between two: which tap is it?")
        case.assert_close(received, expected, what="bilinear kernel", atol=1e-6, hint=specific)
    print(f"Exercise 3.2 passed: {len(configs)} (factor, channels) cases match the FCN bilinear kernel.")


# --- Exercise 3.3 ---------------------------------------------------------------------------

_SIZE_CASES = [  # (input_size, kernel_size, stride, padding): the visible, fixed ones
    (4, 4, 2, "valid"), (7, 3, 1, "valid"), (5, 64, 32, "valid"), (4, 1, 2, "valid"), (6, 2, 3, "valid"),
    (3, 5, 2, "valid"), (4, 4, 2, "same"), (5, 3, 2, "same"), (9, 16, 8, "same"), (6, 2, 3, "same"),
    (8, 7, 1, "same"),
]
_RANDOM_SIZE_CASES = 8


def size_cases() -> list[tuple]:
    """Exercise 3.3's cases (n, k, s, padding): the fixed ones, then ``_RANDOM_SIZE_CASES`` drawn from ``case_rng``."""
    rng = case_rng(_SEED + 3)
    drawn = []
    for _ in range(_RANDOM_SIZE_CASES):
        n, k, s = int(rng.integers(2, 10)), int(rng.integers(1, 10)), int(rng.integers(1, 6))
        drawn.append((n, k, s, ("valid", "same")[int(rng.integers(0, 2))]))
    return _SIZE_CASES + drawn


@exercise_check("3.3", forbidden=FORBIDDEN)
def check_transposed_conv_output_size(fn) -> None:
    """Exercise 3.3: ``fn(input_size, kernel_size, stride, padding) -> int``, Keras' length with
    ``output_padding=None`` (the exercise leaves ``output_padding`` out: it is a Keras convention the
    scatter-add picture cannot derive)."""
    all_cases = size_cases()
    hint = ("Draw the copies of a short row for this case (lesson 03, sections 3.1 and 4), and compare with the "
            "lesson's table of lengths measured on the layer: which of its columns does Keras return here?")
    descriptions = [f"n={n}, k={k}, s={s}, padding={padding!r}" for n, k, s, padding in all_cases]
    for case, (n, k, s, padding) in zip(cases("3.3", descriptions, hint), all_cases):
        received = case.call(fn, n, k, s, padding)
        expected = upsampling.transposed_conv_output_size(n, k, s, padding)
        if isinstance(received, bool) or not isinstance(received, numbers.Integral):
            raise case.fail(f"expected an int ({expected}), received {describe(received)}",
                            hint="Use integer arithmetic (//, not /) and return an int.")
        if received != expected:
            specific = None
            if received == (n - 1) * s + k and padding == "same":
                specific = ("That is every pixel the copies reach; 'same' makes a promise about the output's length "
                            "instead (look at the table's 'same' rows).")
            elif received == (n - 1) * s + k and k < s:
                specific = ("With k < s the copies leave gaps after the last one, and Keras keeps a full stride "
                            "slot for every input pixel: count the pixels the last slot owns, not only the copy.")
            elif received == (n - 1) * k + s:
                specific = "Stride and kernel size are swapped: copies start every s pixels and are k wide."
            elif received == (n - k) // s + 1 or received == n:
                specific = ("That is a convolution's output size (or the input's). A transposed convolution "
                            "goes the other way: every input pixel adds a copy, stride pixels after the last.")
            elif received == n * s + k and padding == "valid":
                specific = ("The copy of the last input pixel, number n - 1, starts at (n - 1)·s, not at n·s: "
                            "count the copies' starting points again.")
            raise case.fail(f"expected {expected}, received {received}", hint=specific)
    print(f"Exercise 3.3 passed: {len(all_cases)} cases give Keras' Conv2DTranspose output size.")


# --- Exercise 3.4 ---------------------------------------------------------------------------

def _balanced_kernel(rng, shape, stride, *, total: float, signed: bool = False) -> np.ndarray:
    """A random kernel whose phases all sum to ``total``: hand-made balance, uneven overlap allowed."""
    kernel = rng.uniform(-1, 1, shape) if signed else rng.uniform(0.2, 1, shape)
    for p in range(stride):
        for q in range(stride):
            phase = kernel[p::stride, q::stride]
            if phase.size:
                phase += (total - phase.sum()) / phase.size
    return kernel


def _rows_only_balanced(rng, stride: int) -> np.ndarray:
    """Balanced along the rows (its row phases sum alike), not as a 2-D kernel."""
    column = _balanced_kernel(rng, (2 * stride + 1, 1), stride, total=1.0)[:, 0]
    row = rng.uniform(0.2, 1, 2 * stride + 1)
    return np.outer(column, row)


def _with_phase_sums(rng, shape, targets: np.ndarray) -> np.ndarray:
    """A random positive kernel of ``shape`` whose phase (p, q) sums to ``targets[p, q]``."""
    stride = targets.shape[0]
    kernel = rng.uniform(0.2, 1, shape)
    for p in range(stride):
        for q in range(stride):
            phase = kernel[p::stride, q::stride]
            phase *= targets[p, q] / phase.sum()
    return kernel


def _equal_margins(rng, stride: int) -> np.ndarray:
    """Phase sums whose rows all add up alike and whose columns do too, yet differ: a Latin square."""
    values = 1 + rng.permutation(stride) * float(rng.uniform(0.3, 0.8))
    return values[(np.arange(stride)[:, None] + np.arange(stride)[None, :]) % stride]


def phase_cases() -> list[tuple[str, np.ndarray, int]]:
    """Exercise 3.4's cases: (description, (kh, kw) kernel, stride); some drawn from ``case_rng``."""
    rng = case_rng(_SEED + 4)
    uniform_s = int(rng.integers(2, 5))
    balanced_s = int(rng.integers(2, 4))
    signed_s = int(rng.integers(2, 4))
    return [
        ("the ×2 bilinear kernel, stride 2 (k = 2s)", upsampling.bilinear_kernel(2, 1)[..., 0, 0], 2),
        ("the ×3 bilinear kernel, stride 3 (k = 5)", upsampling.bilinear_kernel(3, 1)[..., 0, 0], 3),
        ("a uniform 3×3 kernel, stride 2", np.ones((3, 3)), 2),
        ("a random positive 4×4 kernel, stride 2", rng.uniform(0.1, 1, (4, 4)), 2),
        (f"a hand-balanced {2 * balanced_s + 1}×{2 * balanced_s + 1} kernel, stride {balanced_s} (uneven overlap)",
         _balanced_kernel(rng, (2 * balanced_s + 1,) * 2, balanced_s, total=float(rng.uniform(0.5, 3))), balanced_s),
        (f"a uniform {uniform_s + 1}×{uniform_s + 2} kernel, stride {uniform_s}",
         np.ones((uniform_s + 1, uniform_s + 2)), uniform_s),
        ("a 2×2 kernel, stride 3 (k < s: some pixels get no copy)", rng.uniform(0.1, 1, (2, 2)), 3),
        ("a kernel balanced along its rows only, stride 2", _rows_only_balanced(rng, 2), 2),
        (f"a hand-balanced 7×4 kernel with negative taps, stride {signed_s}",
         _balanced_kernel(rng, (7, 4), signed_s, total=float(rng.uniform(-1, 1)), signed=True), signed_s),
        ("FCN-AlexNet's 63-tap bilinear kernel, stride 32", np.outer(*[upsampling.bilinear_taps(32, 63)] * 2), 32),
        ("the diagonal kernel [[1, 0], [0, 1]], stride 2", np.eye(2), 2),
        ("a 7×5 kernel, stride 3, whose phase sums agree row by row and column by column",
         _with_phase_sums(rng, (7, 5), _equal_margins(rng, 3)), 3),
    ]


def _phase_diagnosis(sums, kernel, stride, expected) -> str | None:
    """A hint naming the mistake, when ``sums`` matches one."""
    kh, kw = kernel.shape
    if _close(sums, upsampling.overlap_counts((kh, kw), stride, (stride, stride)), 1e-6) and not _close(sums, expected):
        return "You counted the taps of each phase; add up their weights instead (a phase sum is a total weight)."
    means = np.array([[kernel[p::stride, q::stride].mean() if kernel[p::stride, q::stride].size else 0.0
                       for q in range(stride)] for p in range(stride)])
    if _close(sums, means, 1e-6):
        return "You averaged each phase; sum it: phases with more taps receive more kernel copies."
    if _close(sums, expected.T, 1e-6):
        return "Rows and columns are swapped: sums[p, q] belongs to the output pixels (y, x) with y % s == p, x % s == q."
    blocks = np.array([[kernel[p * stride:(p + 1) * stride, q * stride:(q + 1) * stride].sum() for q in range(stride)]
                       for p in range(stride)])
    if _close(sums, blocks, 1e-6):
        return "A phase is not a block of neighbouring taps: taps s apart (t % s equal) land on the same pixels."
    return None


def _equal(values) -> bool:
    values = np.asarray(values, dtype=float)
    return bool(np.ptp(values) <= 1e-6 * max(float(np.abs(values).max()), 1e-12))


def _flatness_hint(flat: bool, truth: bool, expected: np.ndarray, kernel, stride) -> str | None:
    if truth and not np.isclose(expected.mean(), 1.0):
        return ("All phase sums are equal here, though not 1 (and the copies may overlap unevenly): a constant "
                "comes out as another constant, which is flat. Flat needs equal sums, not sums equal to 1.")
    if flat and not truth and _equal(expected.sum(axis=0)) and _equal(expected.sum(axis=1)):
        return ("Equal along each axis is not enough: here every row of the phase sums adds up to the same total, "
                "and so does every column, yet the s×s sums themselves differ (see above). An output pixel takes "
                "the value of its own phase, not of its row or column.")
    uneven = upsampling.uneven_overlap(kernel.shape[0], stride) or upsampling.uneven_overlap(kernel.shape[1], stride)
    if flat == (not uneven):
        return ("Your flatness follows the overlap (k % s), not the weights. Overlap counts copies; what the output "
                "holds is their weight.")
    return None


BALANCED_SIZE, BALANCED_STRIDE = 5, 3  # exercise 3.4's design: a 5×5 kernel at stride 3 (uneven overlap)


def _check_balanced_kernel(kernel) -> float:
    """Exercise 3.4, second part: the learner's own balanced kernel. Returns its phase sum."""
    if kernel is Ellipsis or kernel is None:
        raise NotDone("Exercise 3.4 is not done yet: your analyse_phases passes; now set BALANCED_KERNEL to a "
                      f"{BALANCED_SIZE}×{BALANCED_SIZE} kernel of your own, run that cell, then this one.")
    try:
        taps = np.asarray(kernel, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise CaseFailure(f"Exercise 3.4: BALANCED_KERNEL must be a {BALANCED_SIZE}×{BALANCED_SIZE} array of numbers; "
                          f"received {describe(kernel)}.") from err
    if taps.shape != (BALANCED_SIZE, BALANCED_SIZE):
        raise CaseFailure(f"Exercise 3.4: BALANCED_KERNEL must have shape ({BALANCED_SIZE}, {BALANCED_SIZE}) "
                          f"(k = {BALANCED_SIZE}, for stride {BALANCED_STRIDE}); received shape {taps.shape}.")
    if not np.isfinite(taps).all() or (taps <= 0).any():
        raise CaseFailure(f"Exercise 3.4: every tap of BALANCED_KERNEL must be a positive number (a zero tap would "
                          f"make it a smaller kernel in disguise); its smallest is {np.nanmin(taps):.4g}.")
    sums = upsampling.phase_sums(taps, BALANCED_STRIDE)
    if not upsampling.balanced_phases(taps, BALANCED_STRIDE):
        raise CaseFailure(f"Exercise 3.4: at stride {BALANCED_STRIDE}, BALANCED_KERNEL does not turn a constant into a "
                          f"constant: its phase sums are\n{np.array2string(sums, precision=4)}\nHint: which taps of a "
                          f"{BALANCED_SIZE}-tap row share a phase at stride {BALANCED_STRIDE}? Design one row first.")
    bilinear = np.outer(*[upsampling.bilinear_taps(BALANCED_STRIDE, BALANCED_SIZE)] * 2)
    if np.allclose(taps / taps.sum(), bilinear / bilinear.sum(), atol=1e-9):
        raise CaseFailure(f"Exercise 3.4: BALANCED_KERNEL is the ×{BALANCED_STRIDE} bilinear kernel (up to a factor), the "
                          "lesson's own example. Design another kernel that is balanced at this stride.")
    constant = upsampling.transposed_conv2d(np.ones((6, 6, 1)), taps[:, :, None, None], BALANCED_STRIDE)[..., 0]
    edge = 2 * BALANCED_SIZE
    assert np.allclose(constant[edge:-edge, edge:-edge], sums[0, 0])  # what balance means, measured
    return float(sums[0, 0])


@exercise_check("3.4", forbidden=FORBIDDEN)
def check_analyse_phases(fn, balanced_kernel=Ellipsis) -> None:
    """Exercise 3.4: ``fn(kernel (kh, kw), stride) -> (sums (s, s), flat)``, then ``balanced_kernel``.

    ``sums[p, q]`` is the value of an interior output pixel (y, x) with ``y % s == p`` and
    ``x % s == q`` when every input pixel is 1: the total weight of the taps ``kernel[a, b]``
    with ``a % s == p`` and ``b % s == q``. ``flat`` says whether a constant input comes out
    flat in the interior (all phase sums equal, up to float rounding). Cases: bilinear
    kernels (flat, even with uneven overlap), uniform and random kernels (not flat),
    hand-made balanced kernels with uneven overlap (flat), and kernels whose phase sums agree
    along each axis without being equal (not flat); some drawn from the check's generator.

    ``balanced_kernel``: the learner's own 5×5 kernel that stride 3 turns into a flat output,
    every tap positive, not the bilinear kernel.
    """
    all_cases = phase_cases()
    hint = ("Take one interior output pixel of phase (p, q) and list, copy by copy, which kernel taps land on it "
            "(lesson 03, section 8.1); then compare your sums with the expected ones.")
    descriptions = [description for description, _, _ in all_cases]
    for case, (description, kernel, stride) in zip(cases("3.4", descriptions, hint), all_cases):
        result = case.call(fn, kernel.copy(), stride)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise case.fail(f"expected a pair (phase sums, flat), received {describe(result)}")
        sums, flat = result
        expected = upsampling.phase_sums(kernel, stride)
        case.assert_close(sums, expected, what="phase sums", atol=1e-6, rtol=1e-6,
                          hint=_phase_diagnosis(sums, kernel, stride, expected))
        truth = upsampling.balanced_phases(kernel, stride)
        if not isinstance(flat, (bool, np.bool_)):
            raise case.fail(f"flat: expected True or False, received {describe(flat)}")
        if bool(flat) != truth:
            shown = f":\n{np.array2string(expected, precision=4)}" if stride <= 4 else ""
            raise case.fail(f"flat: expected {truth}, received {bool(flat)}: the phase sums run from "
                            f"{expected.min():.4g} to {expected.max():.4g}{shown}",
                            hint=_flatness_hint(bool(flat), truth, expected, kernel, stride))
    total = _check_balanced_kernel(balanced_kernel)
    print(f"Exercise 3.4 passed: {len(all_cases)} kernels, phase sums and flatness right (bilinear, uniform, random, "
          f"hand-balanced), and your {BALANCED_SIZE}×{BALANCED_SIZE} kernel is balanced at stride {BALANCED_STRIDE}: "
          f"every phase sums to {total:.4g}, so a constant comes out flat although the copies overlap unevenly.")


# --- Exercise 3.5 (predict, then run) --------------------------------------------------------

STACKED_LAYERS = 2  # exercise 3.5: two stacked transposed convolutions ...
STACKED_KERNEL, STACKED_STRIDE = 3, 2  # ... each with 3 uniform taps (all 1) and stride 2, on a row of ones


def stacked_interior() -> np.ndarray:
    """Exercise 3.5's measurement: a row of ones through the stacked layers, its interior."""
    from fcn_lessons import upsampling_demos

    return upsampling_demos.stack_on_constant([(np.ones(STACKED_KERNEL), STACKED_STRIDE)] * STACKED_LAYERS)


@exercise_check("3.5")
def check_stacked_checkerboard_prediction(prediction) -> None:
    """Exercise 3.5 ("predict, then run"): how uneven is a constant after two stacked k=3, s=2 layers?

    One transposed convolution with 3 uniform taps and stride 2 turns a row of ones into
    2, 1, 2, 1, ... (largest / smallest = 2). The learner predicts that ratio after a second,
    identical layer; the check measures it with ``upsampling_demos.stack_on_constant``.
    """
    interior = stacked_interior()
    period = STACKED_STRIDE ** STACKED_LAYERS
    pattern = ", ".join(f"{v:g}" for v in interior[:period])
    explanation = (f"After one layer the row is 2, 1, 2, 1, ... The second layer's even outputs each add two "
                   f"neighbouring inputs (taps 0 and 2): always 2 + 1 = 3; its odd outputs copy one input (tap 1): "
                   f"2 or 1 in turn. So the row repeats {pattern} (period {period} = 2·2): the artifacts compound "
                   f"into a longer period and a larger ratio, 3 (in 2-D, 3² = 9), not 2 and not 2·2.")
    check_prediction("3.5", prediction, float(interior.max() / interior.min()), what="largest / smallest interior value after "
                     "two stacked layers", explanation=explanation, tolerance=0.05)
