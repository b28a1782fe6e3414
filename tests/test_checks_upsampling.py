"""Lesson 03's checks: they pass the reference and fail on the stub and on plausible mistakes."""

import keras
import numpy as np
import pytest

from fcn_lessons import checks, upsampling
from fcn_lessons.checks import upsampling as upsampling_checks
from _stubs import as_learner, stub_for


# --- Exercise 3.1: numpy transposed convolution ----------------------------------------------

def _scatter(x, kernel, stride, *, flip=False, swap_channels=False, accumulate=True, dilate_kernel=False,
             size=None):
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
    out = np.zeros(size or ((h - 1) * stride + kh, (w - 1) * stride + kw, c_out))
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    y, z = i * stride + a, j * stride + b
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


WRONG_3_1 = {
    "kernel flipped": lambda x, k, s: _scatter(x, k, s, flip=True),
    "zero-stuffed input correlated without the flip": _zero_stuffed_correlation,
    "stride applied to the wrong side (kernel dilated)": lambda x, k, s: _scatter(x, k, s, dilate_kernel=True),
    "channel axes swapped": lambda x, k, s: _scatter(x, k, s, swap_channels=True),
    "overlaps overwritten instead of added": lambda x, k, s: _scatter(x, k, s, accumulate=False),
    "output of n*s pixels (cropped)": lambda x, k, s: _scatter(x, k, s, size=(x.shape[0] * s, x.shape[1] * s,
                                                                              k.shape[2])),
    "square kernel assumed": lambda x, k, s: _scatter(x, k[:, :k.shape[0]], s),
    "Keras 'same' output instead of the full one": lambda x, k, s: upsampling.transposed_conv2d(x, k, s, "same"),
}


def test_3_1_passes_the_reference(capsys):
    checks.check_transposed_conv2d(lambda x, k, s: upsampling_checks._full_transposed_conv(x, k, s))
    assert capsys.readouterr().out.strip() == "Exercise 3.1 passed: 6 random cases match the scatter-add of kernel copies."


def test_3_1_passes_a_learner_style_loop():
    checks.check_transposed_conv2d(_scatter)


def test_3_1_stub_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 3.1"):
        checks.check_transposed_conv2d(stub_for("3.1"))


@pytest.mark.parametrize("mistake", WRONG_3_1)
def test_3_1_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 3\.1 failed on case \d of 6") as failure:
        checks.check_transposed_conv2d(WRONG_3_1[mistake])
    assert "Hint:" in str(failure.value)


def test_3_1_names_the_flip_and_the_swapped_channels():
    with pytest.raises(AssertionError, match="kernel flipped"):
        checks.check_transposed_conv2d(WRONG_3_1["kernel flipped"])
    with pytest.raises(AssertionError, match="channel axes are swapped"):
        checks.check_transposed_conv2d(WRONG_3_1["channel axes swapped"])


# --- Exercise 3.2: bilinear kernel --------------------------------------------------------------

def _bilinear(factor, channels, *, centre=None, size=None, mix=False, normalise=False):
    """A learner-style bilinear kernel, with one mistake switched on."""
    size = size or 2 * factor - factor % 2
    c = centre(factor, size) if centre else (factor - 1 if size % 2 == 1 else factor - 0.5)
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


WRONG_3_2 = {
    "every channel pair filled (mixes classes)": lambda f, c: _bilinear(f, c, mix=True),
    "align_corners mixed up (centre factor - 1 for even sizes)": lambda f, c: _bilinear(f, c, centre=lambda f, k: f - 1),
    "centre at factor (off by half a pixel)": lambda f, c: _bilinear(f, c, centre=lambda f, k: f),
    "size 2*factor even for odd factors": lambda f, c: _bilinear(f, c, size=2 * f),
    "size factor instead of 2*factor": lambda f, c: _bilinear(f, c, size=f),
    "normalised to sum 1": lambda f, c: _bilinear(f, c, normalise=True),
    "PyTorch layout (C, C, k, k)": lambda f, c: _bilinear(f, c).transpose(2, 3, 0, 1),
    "Keras' Conv2D initialiser instead": lambda f, c: np.asarray(
        keras.initializers.GlorotUniform(seed=0)((2 * f - f % 2, 2 * f - f % 2, c, c))),
}


def test_3_2_passes_the_reference(capsys):
    checks.check_bilinear_kernel(as_learner(upsampling.bilinear_kernel))
    assert capsys.readouterr().out.strip() == "Exercise 3.2 passed: 7 (factor, channels) cases match the FCN bilinear kernel."


def test_3_2_passes_a_learner_style_answer():
    checks.check_bilinear_kernel(_bilinear)


def test_3_2_stub_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 3.2"):
        checks.check_bilinear_kernel(stub_for("3.2"))


@pytest.mark.parametrize("mistake", WRONG_3_2)
def test_3_2_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 3\.2 failed on case \d of 7"):
        checks.check_bilinear_kernel(WRONG_3_2[mistake])


@pytest.mark.parametrize("mistake, words", [
    ("every channel pair filled (mixes classes)", "mixes channels"),
    ("align_corners mixed up (centre factor - 1 for even sizes)", "align_corners"),
    ("normalised to sum 1", "sums to 1"),
])
def test_3_2_hints_name_the_mistake(mistake, words):
    with pytest.raises(AssertionError, match=words):
        checks.check_bilinear_kernel(WRONG_3_2[mistake])


# --- Exercise 3.3: Conv2DTranspose output size ---------------------------------------------------

def _size(n, k, s, padding, p=None, *, pad=lambda k: k // 2, no_max=False, ignore_p=False, same=None):
    if p is None or ignore_p:
        if padding == "valid":
            return (n - 1) * s + k if no_max else n * s + max(k - s, 0)
        return same(n, k, s) if same else n * s
    return (n - 1) * s + k - 2 * (pad(k) if padding == "same" else 0) + p


WRONG_3_3 = {
    "convolution formula": lambda n, k, s, padding, p=None: (n - k) // s + 1,
    "stride applied to the wrong side": lambda n, k, s, padding, p=None: (n - 1) * k + s,
    "(n - 1)*s + k for every padding": lambda n, k, s, padding, p=None: (n - 1) * s + k,
    "max(k - s, 0) forgotten": lambda n, k, s, padding, p=None: _size(n, k, s, padding, p, no_max=True),
    "output_padding ignored": lambda n, k, s, padding, p=None: _size(n, k, s, padding, p, ignore_p=True),
    "'same' pad taken as (k - 1) // 2": lambda n, k, s, padding, p=None: _size(n, k, s, padding, p,
                                                                               pad=lambda k: (k - 1) // 2),
    "'same' keeps the input size": lambda n, k, s, padding, p=None: _size(n, k, s, padding, p,
                                                                          same=lambda n, k, s: n),
    "float division": lambda n, k, s, padding, p=None: float(_size(n, k, s, padding, p)),
}


def test_3_3_passes_the_reference(capsys):
    checks.check_transposed_conv_output_size(as_learner(upsampling.transposed_conv_output_size))
    assert capsys.readouterr().out.strip().startswith("Exercise 3.3 passed: 14 cases")


def test_3_3_cases_are_what_keras_returns():
    for n, k, s, padding, p in upsampling_checks._SIZE_CASES:
        layer = keras.layers.Conv2DTranspose(1, (k, 1), strides=(s, 1), padding=padding,
                                             output_padding=None if p is None else (p, 0))
        assert layer.compute_output_shape((1, n, 1, 1))[1] == upsampling.transposed_conv_output_size(n, k, s, padding, p)
        assert tuple(layer(np.zeros((1, n, 1, 1), np.float32)).shape)[1] == layer.compute_output_shape((1, n, 1, 1))[1]


def test_3_3_stub_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 3.3"):
        checks.check_transposed_conv_output_size(stub_for("3.3"))


@pytest.mark.parametrize("mistake", WRONG_3_3)
def test_3_3_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 3\.3 failed on case \d+ of 14"):
        checks.check_transposed_conv_output_size(WRONG_3_3[mistake])


# --- Exercise 3.4: which (kernel, stride) pairs make checkerboards ---------------------------------

WRONG_3_4 = {
    "kernel 2·s called uneven (any overlap)": lambda k, s: k > s,
    "the known bad quiz answer (k = s = 2 uneven)": lambda k, s: k % s != 0 or k == s,
    "odd kernels": lambda k, s: k % 2 == 1,
    "stride applied to the wrong side (s % k)": lambda k, s: s % k != 0,
    "inverted": lambda k, s: k % s == 0,
    "only holes (k < s)": lambda k, s: k < s,
    "only k = 2s is safe": lambda k, s: k != 2 * s,
    "returns the remainder, not a bool": lambda k, s: k % s,
}


def test_3_4_passes_the_reference(capsys):
    checks.check_makes_checkerboard(as_learner(upsampling.uneven_overlap))
    assert capsys.readouterr().out.strip().startswith("Exercise 3.4 passed: 18 (kernel, stride) pairs")


def test_3_4_truth_agrees_with_the_rule_and_not_with_the_bad_quiz():
    assert not upsampling.uneven_overlap(2, 2) and not upsampling.uneven_overlap(4, 2)
    for k, s in upsampling_checks._PAIRS:
        counts = upsampling.overlap_counts(k, s, (s, s))
        assert (counts.min() != counts.max()) == upsampling.uneven_overlap(k, s)


def test_3_4_stub_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 3.4"):
        checks.check_makes_checkerboard(stub_for("3.4"))


@pytest.mark.parametrize("mistake", WRONG_3_4)
def test_3_4_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 3\.4 failed on case \d+ of 18") as failure:
        checks.check_makes_checkerboard(WRONG_3_4[mistake])
    assert "Hint:" in str(failure.value)


def test_3_4_failure_shows_the_counts():
    with pytest.raises(AssertionError, match=r"(?s)kernel 2, stride 2.*\[1, 1\] times each \(even\)"):
        checks.check_makes_checkerboard(WRONG_3_4["the known bad quiz answer (k = s = 2 uneven)"])
