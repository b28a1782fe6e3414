"""Checks for lesson 03's exercises: transposed convolution, bilinear kernels, checkerboards."""

from __future__ import annotations

import numbers

import numpy as np

from fcn_lessons import upsampling
from fcn_lessons.checks._core import case_rng, cases, describe, exercise_check, passed

__all__ = [
    "check_transposed_conv2d", "check_bilinear_kernel", "check_transposed_conv_output_size",
    "check_makes_checkerboard",
]

_SEED = 303  # the checks draw their own random cases; the learner's seed is untouched


def _close(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, atol=1e-5))


# --- Exercise 3.1 ---------------------------------------------------------------------------

def _full_transposed_conv(x, kernel, stride):
    """The reference scatter-add, never cropped: ((H-1)·s + kh, (W-1)·s + kw, C_out)."""
    h, w = x.shape[:2]
    kh, kw = kernel.shape[:2]
    out = upsampling.transposed_conv2d(x, kernel, stride, "valid")
    return out[:(h - 1) * stride + kh, :(w - 1) * stride + kw]


@exercise_check("3.1")
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
    hint = ("Start from zeros of shape ((H-1)*s + kh, (W-1)*s + kw, C_out). For every input pixel "
            "(i, j) and kernel offset (a, b), add kernel[a, b] @ x[i, j] to out[i*s + a, j*s + b] "
            "(+=: overlapping copies add up). The kernel's last axis is C_in, and nothing is flipped.")
    descriptions = [f"x {h}×{w}×{cin}, kernel {k[0]}×{k[1]} with {cin}->{cout} channels, stride {s}"
                    for h, w, cin, cout, k, s in configs]
    for case, (h, w, cin, cout, (kh, kw), s) in zip(cases("3.1", descriptions, hint), configs):
        x = rng.standard_normal((h, w, cin)).astype(np.float32)
        kernel = rng.standard_normal((kh, kw, cout, cin)).astype(np.float32)
        received = case.call(fn, x.copy(), kernel.copy(), s)
        expected = _full_transposed_conv(x, kernel, s)
        specific = None
        if _close(received, _full_transposed_conv(x, kernel[::-1, ::-1], s)):
            specific = ("Your result is the transposed convolution with the kernel flipped. The scatter-add "
                        "places kernel[a, b] at offset (a, b) as it is: no flip (a flip appears only when you "
                        "rewrite it as a convolution of a zero-stuffed input).")
        elif cin == cout and _close(received, _full_transposed_conv(x, kernel.transpose(0, 1, 3, 2), s)):
            specific = ("The channel axes are swapped: a Conv2DTranspose kernel is (kh, kw, C_out, C_in), so "
                        "kernel[a, b] is a (C_out, C_in) matrix and kernel[a, b] @ x[i, j] has C_out values.")
        case.assert_close(received, expected, what="transposed convolution", atol=1e-4, hint=specific)
    passed("3.1", len(configs), "match the scatter-add of kernel copies")


# --- Exercise 3.2 ---------------------------------------------------------------------------

@exercise_check("3.2")
def check_bilinear_kernel(fn) -> None:
    """Exercise 3.2: ``fn(factor, channels) -> (k, k, channels, channels)`` bilinear kernel."""
    configs = [(2, 1), (2, 3), (1, 2), (3, 2), (4, 4), (5, 1), (8, 2)]
    hint = ("Size k = 2*factor - factor % 2; centre c = factor - 0.5 for an even k, factor - 1 for an odd "
            "k; tap (a, b) weighs (1 - |a - c| / factor) * (1 - |b - c| / factor); put that filter at "
            "[:, :, i, i] for every channel i and leave the rest zero.")
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
                specific = ("Your centre is factor - 1 for an even kernel: that aligns pixel corners "
                            "(align_corners-style), shifting the output by half an input pixel. Use factor - 0.5.")
        case.assert_close(received, expected, what="bilinear kernel", atol=1e-6, hint=specific)
    print(f"Exercise 3.2 passed: {len(configs)} (factor, channels) cases match the FCN bilinear kernel.")


def _tent(factor: int, centre: float) -> np.ndarray:
    size = 2 * factor - factor % 2
    taps = 1 - np.abs(np.arange(size) - centre) / factor
    return np.outer(taps, taps)


# --- Exercise 3.3 ---------------------------------------------------------------------------

_SIZE_CASES = [  # (input_size, kernel_size, stride, padding, output_padding)
    (4, 4, 2, "valid", None), (7, 3, 1, "valid", None), (5, 64, 32, "valid", None),
    (4, 1, 2, "valid", None), (6, 2, 3, "valid", None), (4, 4, 2, "same", None),
    (5, 3, 2, "same", None), (9, 16, 8, "same", None), (4, 3, 2, "same", 1), (4, 4, 2, "same", 1),
    (6, 5, 3, "same", 2), (3, 3, 2, "valid", 1), (5, 6, 4, "same", 1), (8, 7, 1, "same", 0),
]


@exercise_check("3.3")
def check_transposed_conv_output_size(fn) -> None:
    """Exercise 3.3: ``fn(input_size, kernel_size, stride, padding, output_padding=None) -> int``."""
    hint = ("Without output_padding Keras returns n*s + max(k - s, 0) for 'valid' and n*s for 'same'. With "
            "output_padding p it returns (n - 1)*s + k - 2*pad + p, where pad = k // 2 for 'same' and 0 for "
            "'valid'.")
    descriptions = [f"n={n}, k={k}, s={s}, padding={padding!r}, output_padding={p}"
                    for n, k, s, padding, p in _SIZE_CASES]
    for case, (n, k, s, padding, p) in zip(cases("3.3", descriptions, hint), _SIZE_CASES):
        received = case.call(fn, n, k, s, padding, p)
        expected = upsampling.transposed_conv_output_size(n, k, s, padding, p)
        if isinstance(received, bool) or not isinstance(received, numbers.Integral):
            raise case.fail(f"expected an int ({expected}), received {describe(received)}",
                            hint="Use integer arithmetic (//, not /) and return an int.")
        if received != expected:
            specific = None
            if received == (n - 1) * s + k:
                specific = ("(n - 1)*s + k is the full scatter-add; Keras then crops it for 'same', extends "
                            "it for output_padding, and pads it to n*s when k < s.")
            elif received == (n - 1) * k + s:
                specific = "Stride and kernel size are swapped: copies start every s pixels and are k wide."
            raise case.fail(f"expected {expected}, received {received}", hint=specific)
    print(f"Exercise 3.3 passed: {len(_SIZE_CASES)} cases give Keras' Conv2DTranspose output size.")


# --- Exercise 3.4 ---------------------------------------------------------------------------

_PAIRS = [(2, 2), (4, 2), (3, 2), (1, 2), (1, 1), (5, 1), (3, 3), (5, 3), (6, 3), (9, 3), (6, 4),
          (8, 4), (12, 8), (16, 8), (64, 32), (7, 7), (10, 4), (2, 3)]


@exercise_check("3.4")
def check_makes_checkerboard(fn) -> None:
    """Exercise 3.4: ``fn(kernel_size, stride) -> bool``, True when the overlap is uneven.

    The truth comes from counting kernel copies (``upsampling.overlap_counts``), not from a
    formula: a checkerboard appears exactly when some output pixels of the stride grid
    receive more copies than others.
    """
    hint = ("Output pixel o (in the interior) receives the kernel taps t in 0..k-1 with t ≡ o (mod s). "
            "Count them for each o in 0..s-1: a checkerboard appears when the counts differ. "
            "k = s and k = 2s give equal counts.")
    descriptions = [f"kernel {k}, stride {s}" for k, s in _PAIRS]
    for case, (k, s) in zip(cases("3.4", descriptions, hint), _PAIRS):
        counts = upsampling.overlap_counts(k, s, (s, s))
        expected = bool(counts.min() != counts.max())
        received = case.call(fn, k, s)
        if not isinstance(received, (bool, np.bool_)):
            raise case.fail(f"expected True or False, received {describe(received)}")
        if bool(received) != expected:
            row = upsampling.overlap_counts((1, k), (1, s), (1, s))[0].tolist()
            raise case.fail(
                f"expected {expected}, received {bool(received)}: the copies of a {k}-tap kernel at stride {s} "
                f"cover the {s} output phases {row} times each ({'uneven' if expected else 'even'})")
    print(f"Exercise 3.4 passed: {len(_PAIRS)} (kernel, stride) pairs classified as their overlap counts say.")
