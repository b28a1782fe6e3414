"""Numpy references for every upsampling lesson 03 explains.

Each function is a short, readable implementation of what a Keras/TF/OpenCV call
computes, and the tests check them for equality against that call:

====================================  ==================================================
numpy reference                        library counterpart
====================================  ==================================================
``nearest_upsample(x, f)``             ``keras.layers.UpSampling2D(f)``
``bilinear_upsample(x, f)``            ``tf.image.resize(..., "bilinear")``, ``cv2.resize``
                                       (``INTER_LINEAR``), ``UpSampling2D(f, "bilinear")``
``bilinear_upsample(x, f, True)``      ``tf.compat.v1.image.resize_bilinear(align_corners=True)``
``transposed_conv2d(x, kernel, s)``    ``keras.layers.Conv2DTranspose`` (both paddings,
                                       ``output_padding``)
``max_pool_with_argmax`` /             ``tf.nn.max_pool_with_argmax``
``max_unpool``
``depth_to_space(x, b)``               ``tf.nn.depth_to_space``
``conv_matrix`` / ``resize_conv``      ``keras.layers.Conv2D`` (after ``UpSampling2D``)
``transposed_conv2d_by_zero_insertion`` ``Conv2DTranspose('valid')``, computed as an
                                       ordinary convolution of a zero-stuffed input
``pixel_shuffle(x, r)``                PyTorch's ``pixel_shuffle`` (NCHW, its channel
                                       order; not TF's ``depth_to_space``)
====================================  ==================================================

and functions that have no library counterpart: ``bilinear_taps`` / ``bilinear_kernel``
(the FCN initialisation of a transposed convolution), and, for checkerboard artifacts
(Odena, Dumoulin and Olah, Distill 2016), ``overlap_counts``, ``uneven_overlap``,
``phase_sums``, ``balanced_phases`` and ``artifact_score``.

Shapes: images are (H, W), (H, W, C) or (N, H, W, C) (NHWC); the result has the rank of
the input. Kernels use Keras' layouts: Conv2D (kh, kw, in, out), Conv2DTranspose
(kh, kw, out, in).
"""

from __future__ import annotations

import numbers

import numpy as np

from fcn_lessons import _validate

__all__ = [
    "nearest_upsample", "bilinear_upsample", "interpolation_matrix", "transposed_conv2d",
    "transposed_conv_output_size", "bilinear_taps", "bilinear_kernel", "conv_matrix", "resize_conv",
    "insert_zeros", "transposed_conv2d_by_zero_insertion", "max_pool_with_argmax", "max_unpool",
    "depth_to_space", "pixel_shuffle", "overlap_counts", "uneven_overlap", "phase_sums",
    "balanced_phases", "artifact_score", "PADDINGS",
]

PADDINGS = ("valid", "same")


# --- shapes -----------------------------------------------------------------------------

def _factor(factor, name: str = "factor") -> tuple[int, int]:
    """An upsampling factor: a positive int or an (h, w) pair of them; floats are refused."""
    if isinstance(factor, numbers.Real) and not isinstance(factor, numbers.Integral):
        raise TypeError(f"{name} must be a positive int (or an (h, w) pair of ints), received "
                        f"{factor!r}: these methods upsample by whole pixels; for other sizes use "
                        f"tf.image.resize or cv2.resize.")
    return _validate.int_pair(factor, name, minimum=1)


def _as_nhwc(x, name: str = "x", *, ranks=(2, 3, 4), kinds: str | None = None):
    """``x`` as an (N, H, W, C) array, and a function giving results the rank of ``x``."""
    layouts = {2: "(H, W)", 3: "(H, W, C)", 4: "(N, H, W, C)"}
    x = _validate.array(x, name, ndim=ranks, kinds=kinds, layout=" or ".join(layouts[r] for r in ranks))
    rank = x.ndim
    batch = {2: lambda a: a[None, :, :, None], 3: lambda a: a[None], 4: lambda a: a}[rank](x)
    restore = {2: lambda a: a[0, :, :, 0], 3: lambda a: a[0], 4: lambda a: a}[rank]
    return batch, restore


def _float(x: np.ndarray) -> np.ndarray:
    """Float data stays in its precision; integers are computed in float32."""
    return x if x.dtype.kind == "f" else x.astype(np.float32)


# --- nearest and bilinear ---------------------------------------------------------------

def nearest_upsample(x, factor):
    """Repeat every pixel ``factor`` times along H and W (like ``keras.layers.UpSampling2D``).

    Args:
        x: (H, W), (H, W, C) or (N, H, W, C); any dtype (label masks stay integer).
        factor: positive int, or an (fh, fw) pair.

    Returns:
        x's rank and dtype, with H·fh rows and W·fw columns.
    """
    fh, fw = _factor(factor)
    batch, restore = _as_nhwc(x)
    return restore(np.repeat(np.repeat(batch, fh, axis=1), fw, axis=2))


def _taps(size: int, factor: int, align_corners: bool):
    """For each output pixel: the two input neighbours and the weight of the second."""
    out = np.arange(size * factor, dtype=np.float64)
    if align_corners:
        source = out * ((size - 1) / (size * factor - 1)) if size * factor > 1 else out * 0
    else:
        source = np.clip((out + 0.5) / factor - 0.5, 0, size - 1)
    lower = np.floor(source).astype(np.intp)
    return lower, np.minimum(lower + 1, size - 1), source - lower


def interpolation_matrix(size: int, factor: int, *, align_corners: bool = False) -> np.ndarray:
    """The (size·factor, size) matrix of 1-D linear interpolation: ``out = M @ row``.

    Output pixel ``o`` reads the input at the source coordinate

    - half-pixel centres (``align_corners=False``): ``(o + 0.5) / factor - 0.5``,
      clamped to ``[0, size - 1]`` (TF2, Keras, OpenCV, PyTorch's default);
    - ``align_corners=True``: ``o · (size - 1) / (size · factor - 1)``: the first and last
      pixel centres of input and output coincide.

    Each row holds the two weights ``1 - t`` and ``t`` of the neighbours of that coordinate.
    """
    size = _validate.integer(size, "size", minimum=1)
    factor = _validate.integer(factor, "factor", minimum=1)
    if not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"align_corners must be True or False, received {align_corners!r}.")
    lower, upper, t = _taps(size, factor, bool(align_corners))
    matrix = np.zeros((size * factor, size))
    np.add.at(matrix, (np.arange(lower.size), lower), 1 - t)
    np.add.at(matrix, (np.arange(lower.size), upper), t)
    return matrix


def bilinear_upsample(x, factor, align_corners: bool = False):
    """Bilinear interpolation to ``factor`` times the size, separably along H then W.

    Along each axis, output pixel ``o`` mixes its two input neighbours as in
    ``interpolation_matrix`` (the same numbers, gathered instead of multiplied).

    Args:
        x: (H, W), (H, W, C) or (N, H, W, C).
        factor: positive int, or an (fh, fw) pair.
        align_corners: False for half-pixel centres (``tf.image.resize``, Keras
            ``UpSampling2D(interpolation="bilinear")``, ``cv2.resize``); True for the
            corner-aligned convention (``tf.compat.v1`` / PyTorch ``align_corners=True``).

    Returns:
        float array of x's rank (float32 for integer input), H·fh × W·fw pixels.
    """
    fh, fw = _factor(factor)
    if not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"align_corners must be True or False, received {align_corners!r}.")
    batch, restore = _as_nhwc(x, kinds="biuf")
    out = _float(batch)
    for axis, f in ((1, fh), (2, fw)):
        lower, upper, t = _taps(out.shape[axis], f, bool(align_corners))
        shape = [1, 1, 1, 1]
        shape[axis] = t.size
        first = np.take(out, lower, axis=axis)
        out = first + (np.take(out, upper, axis=axis) - first) * t.reshape(shape).astype(out.dtype)
    return restore(out)


# --- transposed convolution ---------------------------------------------------------------

def transposed_conv_output_size(input_size: int, kernel_size: int, stride: int,
                                padding: str = "valid", output_padding: int | None = None) -> int:
    """Output length of ``keras.layers.Conv2DTranspose`` along one axis.

    - ``output_padding=None``: 'valid' gives ``n·s + max(k - s, 0)`` (that is
      ``(n - 1)·s + k`` whenever ``k >= s``); 'same' gives ``n·s``.
    - with ``output_padding=p``: ``(n - 1)·s + k - 2·pad + p`` with ``pad = k // 2`` for
      'same' and 0 for 'valid'.
    """
    n = _validate.integer(input_size, "input_size", minimum=1)
    k = _validate.integer(kernel_size, "kernel_size", minimum=1)
    s = _validate.integer(stride, "stride", minimum=1)
    padding = _validate.choice(padding, "padding", PADDINGS)
    if output_padding is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    p = _validate.integer(output_padding, "output_padding", minimum=0)
    if p >= s:
        raise ValueError(f"output_padding must be smaller than the stride ({s}), received {p}.")
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * s + k - 2 * pad + p


def transposed_conv2d(x, kernel, strides=1, padding: str = "valid", output_padding=None):
    """Transposed convolution as a scatter-add of kernel copies (Keras ``Conv2DTranspose``).

    Every input pixel ``x[i, j]`` (a vector of C_in values) adds a copy of the kernel,
    weighted by it, to the output window whose top-left corner is ``(i·s, j·s)``:
    ``full[i·s + a, j·s + b, :] += kernel[a, b] @ x[i, j]``. Overlapping copies add up.
    The loop below runs over the kh·kw kernel offsets instead of the H·W pixels (the same
    sum, fewer Python steps). 'same' padding and ``output_padding`` then crop (or extend
    with zeros) this full output exactly as TensorFlow does: the output length is
    ``transposed_conv_output_size``; 'same' drops ``max(full - length, 0) // 2`` leading
    rows/columns, 'valid' none.

    Args:
        x: (H, W, C_in) or (N, H, W, C_in).
        kernel: (kh, kw, C_out, C_in), Keras' Conv2DTranspose layout (not Conv2D's).
        strides: positive int or (sh, sw).
        padding: 'valid' or 'same'.
        output_padding: None, an int or an (h, w) pair, each smaller than the stride.

    Returns:
        (H', W', C_out) or (N, H', W', C_out), float.
    """
    batch, restore = _as_nhwc(x, ranks=(3, 4), kinds="biuf")
    kernel = _validate.array(kernel, "kernel", ndim=4, kinds="biuf", layout="(kh, kw, C_out, C_in)")
    if kernel.shape[3] != batch.shape[3]:
        raise ValueError(
            f"kernel has {kernel.shape[3]} input channels (its last axis; Conv2DTranspose kernels are "
            f"(kh, kw, C_out, C_in)) but x has {batch.shape[3]} channels: received kernel shape "
            f"{kernel.shape} and x shape {np.shape(x)}.")
    sh, sw = _factor(strides, "strides")
    padding = _validate.choice(padding, "padding", PADDINGS)
    extra = (None, None) if output_padding is None else _validate.int_pair(output_padding, "output_padding", minimum=0)
    n, h, w, _ = batch.shape
    kh, kw, c_out, _ = kernel.shape
    out_h = transposed_conv_output_size(h, kh, sh, padding, extra[0])
    out_w = transposed_conv_output_size(w, kw, sw, padding, extra[1])
    full_h, full_w = (h - 1) * sh + kh, (w - 1) * sw + kw
    top = max(full_h - out_h, 0) // 2 if padding == "same" else 0
    left = max(full_w - out_w, 0) // 2 if padding == "same" else 0

    data = _float(batch)
    dtype = np.result_type(data.dtype, kernel.dtype if kernel.dtype.kind == "f" else np.float32)
    full = np.zeros((n, max(full_h, top + out_h), max(full_w, left + out_w), c_out), dtype)
    for a in range(kh):
        for b in range(kw):
            full[:, a:a + (h - 1) * sh + 1:sh, b:b + (w - 1) * sw + 1:sw, :] += data @ kernel[a, b].T
    return restore(full[:, top:top + out_h, left:left + out_w, :])


def bilinear_taps(factor: int, kernel_size: int | None = None) -> np.ndarray:
    """The 1-D bilinear (tent) filter of a ×``factor`` transposed convolution.

    Tap ``t`` weighs ``max(0, 1 - |t - c| / factor)`` with ``c = (kernel_size - 1) / 2``,
    the middle of the kernel: ``factor - 0.5`` for an even size, ``factor - 1`` for the odd
    size ``2·factor - 1``. The default size, ``2·factor - factor % 2``, is the rule of
    Caffe's bilinear filler (its documentation in ``include/caffe/filler.hpp``); the FCN
    reference's ``surgery.upsample_filt(size)`` computes the same taps from the layer's
    size (its VGG16 nets use ``2·factor``: 4, 16, 32, 64; FCN-AlexNet 63 for stride 32).
    A kernel larger than the tent gets zeros at its ends.

    Returns:
        (kernel_size,) float64.
    """
    factor = _validate.integer(factor, "factor", minimum=1)
    size = 2 * factor - factor % 2 if kernel_size is None else _validate.integer(kernel_size, "kernel_size",
                                                                                  minimum=1)
    centre = (size - 1) / 2
    return np.maximum(0.0, 1 - np.abs(np.arange(size) - centre) / factor)


def bilinear_kernel(factor: int, channels: int, *, kernel_size: int | None = None) -> np.ndarray:
    """The FCN initialisation of a ×``factor`` Conv2DTranspose: bilinear, per channel.

    Kernel size ``2·factor - factor % 2`` by default (4 for ×2, 5 for ×3, 16 for ×8, 64
    for ×32); tap ``(a, b)`` weighs ``taps[a] · taps[b]`` with ``taps = bilinear_taps(factor,
    kernel_size)``, a tent centred on the kernel's middle, ``(k - 1) / 2`` (``factor - 0.5``
    for even k, ``factor - 1`` for odd k). Channel ``i`` feeds only output channel ``i``:
    the kernel is the identity across channels, so classes are never mixed. Used with
    ``strides=factor`` and ``padding='same'`` it equals ``bilinear_upsample`` (half-pixel
    centres) away from the border.

    Returns:
        (k, k, channels, channels) float32, Keras' Conv2DTranspose layout.
    """
    taps = bilinear_taps(factor, kernel_size)
    channels = _validate.integer(channels, "channels", minimum=1)
    kernel = np.zeros((taps.size, taps.size, channels, channels), np.float32)
    kernel[:, :, np.arange(channels), np.arange(channels)] = np.outer(taps, taps)[:, :, None]
    return kernel


def conv_matrix(input_shape, kernel, strides=1) -> np.ndarray:
    """The matrix of a single-channel 'valid' convolution: ``conv(x).ravel() == M @ x.ravel()``.

    Keras' Conv2D computes a cross-correlation: output ``(p, q)`` is
    ``sum(kernel * x[p·s : p·s + kh, q·s : q·s + kw])``. Row ``p·W' + q`` of ``M`` holds the
    kernel at those input positions. Its transpose ``M.T`` maps outputs back to inputs:
    that is the transposed convolution (with the same kernel, not an inverse).

    Args:
        input_shape: (H, W).
        kernel: (kh, kw) single-channel kernel.
        strides: positive int or (sh, sw).

    Returns:
        (H'·W', H·W) float array, with H' = (H - kh) // sh + 1 and likewise W'.
    """
    h, w = _validate.int_pair(input_shape, "input_shape", minimum=1)
    kernel = _validate.array(kernel, "kernel", ndim=2, kinds="biuf", layout="(kh, kw)")
    sh, sw = _factor(strides, "strides")
    kh, kw = kernel.shape
    if kh > h or kw > w:
        raise ValueError(f"kernel {kernel.shape} is larger than the input {(h, w)}: a 'valid' "
                         f"convolution has no output.")
    out_h, out_w = (h - kh) // sh + 1, (w - kw) // sw + 1
    matrix = np.zeros((out_h * out_w, h * w), np.result_type(kernel.dtype, np.float32))
    for p in range(out_h):
        for q in range(out_w):
            window = np.zeros((h, w), matrix.dtype)
            window[p * sh:p * sh + kh, q * sw:q * sw + kw] = kernel
            matrix[p * out_w + q] = window.ravel()
    return matrix


def resize_conv(x, factor, kernel, *, method: str = "nearest"):
    """Resize-convolution (Odena et al. 2016): upsample, then a stride-1 'same' convolution.

    Args:
        x: (H, W, C_in) or (N, H, W, C_in).
        factor: positive int or (fh, fw).
        kernel: (kh, kw, C_in, C_out), Keras' Conv2D layout.
        method: 'nearest' or 'bilinear' (half-pixel) for the resize.

    Returns:
        (H·fh, W·fw, C_out) (with N first if x had it), float. Equals
        ``UpSampling2D(factor, interpolation=method)`` followed by
        ``Conv2D(C_out, (kh, kw), padding='same', use_bias=False)``.
    """
    method = _validate.choice(method, "method", ("nearest", "bilinear"))
    batch, restore = _as_nhwc(x, ranks=(3, 4), kinds="biuf")
    kernel = _validate.array(kernel, "kernel", ndim=4, kinds="biuf", layout="(kh, kw, C_in, C_out)")
    if kernel.shape[2] != batch.shape[3]:
        raise ValueError(f"kernel has {kernel.shape[2]} input channels (axis 2 of a Conv2D kernel "
                         f"(kh, kw, C_in, C_out)) but x has {batch.shape[3]}.")
    up = nearest_upsample(_float(batch), factor) if method == "nearest" else bilinear_upsample(batch, factor)
    kh, kw = kernel.shape[:2]
    top, left = (kh - 1) // 2, (kw - 1) // 2  # Keras/TF 'same': the extra row goes last
    padded = np.pad(up, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    return restore(_correlate_valid(padded, kernel))


def _correlate_valid(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """What Keras' Conv2D computes with 'valid' padding, stride 1: a cross-correlation.

    x: (N, H, W, C_in); kernel: (kh, kw, C_in, C_out), Conv2D layout.
    Returns (N, H - kh + 1, W - kw + 1, C_out): ``out[p, q] = sum_ab x[p + a, q + b] @ kernel[a, b]``.
    """
    kh, kw = kernel.shape[:2]
    n, h, w, _ = x.shape
    out_h, out_w = h - kh + 1, w - kw + 1
    out = np.zeros((n, out_h, out_w, kernel.shape[3]), np.result_type(x.dtype, kernel.dtype))
    for a in range(kh):
        for b in range(kw):
            out += x[:, a:a + out_h, b:b + out_w, :] @ kernel[a, b]
    return out


def insert_zeros(x, strides):
    """Put ``s - 1`` zeros between neighbouring pixels: the "fractionally strided" input.

    Args:
        x: (H, W, C) or (N, H, W, C).
        strides: positive int or (sh, sw).

    Returns:
        ((H - 1)·sh + 1, (W - 1)·sw + 1, C) (with N first if x had it), x's values at
        rows and columns that are multiples of the stride, zeros elsewhere.
    """
    batch, restore = _as_nhwc(x, ranks=(3, 4), kinds="biuf")
    sh, sw = _factor(strides, "strides")
    n, h, w, c = batch.shape
    out = np.zeros((n, (h - 1) * sh + 1, (w - 1) * sw + 1, c), _float(batch).dtype)
    out[:, ::sh, ::sw] = batch
    return restore(out)


def transposed_conv2d_by_zero_insertion(x, kernel, strides=1):
    """The 'valid' transposed convolution computed as an ordinary convolution.

    Insert ``s - 1`` zeros between the input pixels (:func:`insert_zeros`), pad the result
    with ``k - 1`` zeros on every side, and correlate it (Keras' Conv2D, stride 1) with the
    kernel flipped in both spatial axes and read in Conv2D's layout (its two channel axes
    swapped). This is the full scatter-add of kernel copies (:func:`transposed_conv2d`,
    'valid'), seen from the output side; for k < s Keras' 'valid' output has ``s - k`` more
    rows (and columns) of zeros at the end. With stride 1 no zeros are inserted: a
    transposed convolution is an ordinary ('full'-padded) convolution with the flipped kernel.

    Args:
        x: (H, W, C_in) or (N, H, W, C_in).
        kernel: (kh, kw, C_out, C_in), Keras' Conv2DTranspose layout.
        strides: positive int or (sh, sw).

    Returns:
        ((H - 1)·sh + kh, (W - 1)·sw + kw, C_out) (with N first if x had it), float.
    """
    batch, restore = _as_nhwc(x, ranks=(3, 4), kinds="biuf")
    kernel = _validate.array(kernel, "kernel", ndim=4, kinds="biuf", layout="(kh, kw, C_out, C_in)")
    if kernel.shape[3] != batch.shape[3]:
        raise ValueError(f"kernel has {kernel.shape[3]} input channels (its last axis; Conv2DTranspose kernels "
                         f"are (kh, kw, C_out, C_in)) but x has {batch.shape[3]}.")
    kh, kw = kernel.shape[:2]
    stuffed = insert_zeros(batch, strides)
    padded = np.pad(stuffed, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    flipped = kernel[::-1, ::-1].transpose(0, 1, 3, 2)  # Conv2D layout (kh, kw, C_in, C_out)
    return restore(_correlate_valid(padded, flipped))


# --- max-unpooling and depth-to-space ---------------------------------------------------

def max_pool_with_argmax(x, pool_size=2):
    """Max pooling ('valid', stride = pool size) that also returns where each max was.

    Indices follow ``tf.nn.max_pool_with_argmax`` (``include_batch_in_index=False``):
    the position ``(y, x, c)`` of the maximum flattened as ``(y·W + x)·C + c`` within its
    own image. On ties the first maximum in row-major order wins.

    Args:
        x: (H, W, C) or (N, H, W, C).
        pool_size: positive int or (ph, pw).

    Returns:
        (pooled, indices), each (H // ph, W // pw, C) (with N first if x had it);
        indices are int64.
    """
    batch, restore = _as_nhwc(x, ranks=(3, 4), kinds="biuf")
    ph, pw = _factor(pool_size, "pool_size")
    n, h, w, c = batch.shape
    if ph > h or pw > w:
        raise ValueError(f"pool_size {(ph, pw)} is larger than the image ({h}, {w}).")
    oh, ow = h // ph, w // pw
    windows = batch[:, :oh * ph, :ow * pw].reshape(n, oh, ph, ow, pw, c).transpose(0, 1, 3, 5, 2, 4)
    flat = windows.reshape(n, oh, ow, c, ph * pw)
    best = flat.argmax(axis=-1)
    pooled = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
    rows = np.arange(oh)[None, :, None, None] * ph + best // pw
    cols = np.arange(ow)[None, None, :, None] * pw + best % pw
    indices = (rows * w + cols) * c + np.arange(c)
    return restore(pooled), restore(indices.astype(np.int64))


def max_unpool(x, indices, output_shape):
    """Max-unpooling with switches (SegNet): put each value back where its max came from.

    Every other position is zero. ``indices`` are the flattened positions returned by
    ``max_pool_with_argmax`` / ``tf.nn.max_pool_with_argmax`` (without the batch).

    Args:
        x: pooled values, (h, w, C) or (N, h, w, C).
        indices: int array of x's shape.
        output_shape: the shape of the tensor that was pooled: (H, W), (H, W, C) or
            (N, H, W, C).

    Returns:
        (H, W, C) or (N, H, W, C), x's dtype.
    """
    batch, restore = _as_nhwc(x, ranks=(3, 4), kinds="biuf")
    indices = _validate.array(indices, "indices", kinds="iu")
    if indices.shape != np.shape(x):
        raise ValueError(f"indices must have the shape of x {np.shape(x)}, received {indices.shape}.")
    if not isinstance(output_shape, (tuple, list)) or len(output_shape) not in (2, 3, 4):
        raise ValueError(f"output_shape must be (H, W), (H, W, C) or (N, H, W, C), received {output_shape!r}.")
    shape = tuple(_validate.integer(v, f"output_shape[{i}]", minimum=1) for i, v in enumerate(output_shape))
    n, _, _, c = batch.shape
    if len(shape) == 2:
        shape = (n, *shape, c)
    elif len(shape) == 3:
        shape = (n, *shape)
    if len(shape) != 4 or shape[0] != n or shape[3] != c:
        raise ValueError(f"output_shape must be (H, W), (H, W, C) or (N, H, W, C) with x's batch {n} "
                         f"and channels {c}, received {output_shape!r}.")
    flat_indices = indices.reshape(n, -1)
    size = shape[1] * shape[2] * shape[3]
    if flat_indices.size and (flat_indices.min() < 0 or flat_indices.max() >= size):
        raise ValueError(f"indices hold values in {flat_indices.min()}..{flat_indices.max()}, outside the "
                         f"{size} positions of output_shape {shape}: pass the shape that was pooled.")
    out = np.zeros((n, size), batch.dtype)
    out[np.arange(n)[:, None], flat_indices] = batch.reshape(n, -1)
    return restore(out.reshape(shape))


def depth_to_space(x, block_size: int):
    """Rearrange channels into b×b blocks of pixels (``tf.nn.depth_to_space``, NHWC).

    ``out[h·b + i, w·b + j, c] = x[h, w, (i·b + j)·C' + c]`` with ``C' = C / b²``: the
    "pixel shuffle" of sub-pixel convolution (Shi et al., CVPR 2016).

    Args:
        x: (H, W, C) or (N, H, W, C) with C divisible by block_size².

    Returns:
        (H·b, W·b, C / b²) (with N first if x had it).
    """
    batch, restore = _as_nhwc(x, ranks=(3, 4))
    b = _validate.integer(block_size, "block_size", minimum=1)
    n, h, w, c = batch.shape
    if c % (b * b):
        raise ValueError(f"x has {c} channels, not divisible by block_size² = {b * b}.")
    out = batch.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5)
    return restore(out.reshape(n, h * b, w * b, c // (b * b)))


def pixel_shuffle(x, upscale_factor: int):
    """PyTorch's ``pixel_shuffle`` in numpy: (N, C·r², H, W) -> (N, C, H·r, W·r), channels first.

    PyTorch documents the shapes as ``(*, C × r², H, W)`` to ``(*, C, H × r, W × r)``: the
    r² sub-pixel values of output channel ``c`` are the consecutive input channels
    ``c·r² .. c·r² + r² - 1``, ``out[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w]`` (the
    order ONNX's DepthToSpace calls "CRD", and the mode PyTorch's ONNX exporter gives it).
    TF's ``depth_to_space`` (:func:`depth_to_space`) reads channel ``(i·r + j)·C + c``
    instead ("DCR"): the same weights give a different image after a port.

    Args:
        x: (C·r², H, W) or (N, C·r², H, W): NCHW, as in PyTorch.

    Returns:
        (C, H·r, W·r) or (N, C, H·r, W·r).
    """
    x = _validate.array(x, "x", ndim=(3, 4), layout="(C·r², H, W) or (N, C·r², H, W), channels first")
    batch = x[None] if x.ndim == 3 else x
    r = _validate.integer(upscale_factor, "upscale_factor", minimum=1)
    n, c, h, w = batch.shape
    if c % (r * r):
        raise ValueError(f"x has {c} channels (axis 1 of NCHW), not divisible by upscale_factor² = {r * r}.")
    out = batch.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3)
    out = out.reshape(n, c // (r * r), h * r, w * r)
    return out[0] if x.ndim == 3 else out


# --- checkerboard artifacts ---------------------------------------------------------------

def overlap_counts(kernel_size, strides, output_size) -> np.ndarray:
    """How many kernel copies of a transposed convolution cover each output pixel.

    Away from the borders, output row ``o`` receives the kernel rows ``t`` with
    ``t ≡ o (mod s)``, ``0 <= t < k``: ``len(range(o % s, k, s))`` of them; the 2-D count
    is the product of the row and column counts. The pattern repeats every s pixels:
    it is constant exactly when k is divisible by s (Odena, Dumoulin and Olah, 2016). It
    equals :func:`phase_sums` of a kernel of ones.

    Args:
        kernel_size: positive int or (kh, kw).
        strides: positive int or (sh, sw).
        output_size: (H, W) of the window to return, starting on the stride grid.

    Returns:
        (H, W) int array.
    """
    kh, kw = _validate.int_pair(kernel_size, "kernel_size", minimum=1)
    sh, sw = _factor(strides, "strides")
    h, w = _validate.int_pair(output_size, "output_size", minimum=1)
    rows = np.array([len(range(o % sh, kh, sh)) for o in range(h)])
    cols = np.array([len(range(o % sw, kw, sw)) for o in range(w)])
    return np.outer(rows, cols)


def uneven_overlap(kernel_size: int, stride: int) -> bool:
    """True when a transposed convolution's kernel copies overlap unevenly: k % s != 0.

    Uneven overlap makes checkerboard artifacts likely (a uniform kernel then always has
    them), but it does not decide them: whether a constant input comes out flat depends
    on the kernel's weights, through :func:`phase_sums`. The ×3 bilinear kernel (k = 5,
    s = 3) overlaps unevenly and is flat; a random kernel with k = 2s overlaps evenly and
    is not.
    """
    k = _validate.integer(kernel_size, "kernel_size", minimum=1)
    s = _validate.integer(stride, "stride", minimum=1)
    return k % s != 0


def _single_channel_kernel(kernel) -> np.ndarray:
    kernel = _validate.array(kernel, "kernel", ndim=(1, 2), kinds="biuf",
                             layout="(k,) or (kh, kw): one channel pair; for a Keras kernel pass kernel[:, :, o, i]")
    return kernel[None, :] if kernel.ndim == 1 else kernel


def phase_sums(kernel, strides) -> np.ndarray:
    """The total weight of each phase of a transposed convolution's kernel.

    In the scatter-add, tap ``(a, b)`` of the copy of input pixel ``(i, j)`` lands on
    output pixel ``(i·s + a, j·s + b)``. So an output pixel ``(y, x)`` only ever receives
    the taps with ``a ≡ y`` and ``b ≡ x`` (mod s): the kernel splits into s×s *phases*
    ``(y mod s, x mod s)``. For a constant input c, every interior output pixel of phase
    ``(p, q)`` equals ``c · sums[p, q]``: the output is flat exactly when all the phase
    sums are equal (:func:`balanced_phases`).

    Args:
        kernel: (k,) or (kh, kw), one (output, input) channel pair.
        strides: positive int or (sh, sw); a 1-D kernel uses sw.

    Returns:
        (sh, sw) float64 (shape (1, sw) for a 1-D kernel):
        ``sums[p, q] = kernel[p::sh, q::sw].sum()``.
    """
    one_d = np.ndim(kernel) == 1
    kernel = _single_channel_kernel(kernel).astype(np.float64)
    sh, sw = _factor(strides, "strides")
    if one_d:
        sh = 1
    return np.array([[kernel[p::sh, q::sw].sum() for q in range(sw)] for p in range(sh)])


def balanced_phases(kernel, strides, *, rtol: float = 1e-6) -> bool:
    """True when every phase of ``kernel`` has the same total weight (:func:`phase_sums`).

    Then a constant input comes out flat away from the border, whatever the overlap; with
    unequal sums it comes out as a periodic pattern of period s (a checkerboard).
    ``rtol`` absorbs float rounding, relative to the largest |phase sum|.
    """
    sums = phase_sums(kernel, strides)
    scale = float(np.abs(sums).max())
    return bool(sums.max() - sums.min() <= rtol * max(scale, 1e-12))


def artifact_score(output, stride, *, margin: int = 0) -> float:
    """How strongly ``output`` varies with its position on the s×s stride grid.

    Split the pixels (after dropping ``margin`` pixels on every side, and keeping whole
    periods) into the s·s phases ``(y mod s, x mod s)`` and average each phase (over rows, columns and
    channels). The score is the spread of those averages relative to the mean absolute
    value: ``(max phase mean - min phase mean) / mean |output|``. It is 0 when every phase
    is equally bright (no checkerboard), and e.g. 4/3 for a uniform 3×3 kernel with
    stride 2 on a constant input (phases covered 4, 2, 2 and 1 times). The phase means
    are the output's periodic part at the stride period (the part that repeats every s
    pixels), so the score is the size, peak to peak, of that periodic part relative to the
    output's mean magnitude.

    Args:
        output: (H, W), (H, W, C) or (N, H, W, C).
        stride: positive int (or pair): the upsampling factor.
        margin: non-negative int; pixels dropped on each side (border effects).

    Returns:
        float >= 0 (0.0 for an all-zero output).
    """
    batch, _ = _as_nhwc(output, kinds="biuf")
    sh, sw = _factor(stride, "stride")
    margin = _validate.integer(margin, "margin", minimum=0)
    window = batch[:, margin:batch.shape[1] - margin, margin:batch.shape[2] - margin].astype(np.float64)
    if window.shape[1] < sh or window.shape[2] < sw:
        raise ValueError(f"output of shape {np.shape(output)} minus a margin of {margin} leaves "
                         f"{window.shape[1:3]} pixels, fewer than one stride period {(sh, sw)}.")
    # whole periods only, so that every phase has as many pixels as the others
    window = window[:, :window.shape[1] // sh * sh, :window.shape[2] // sw * sw]
    phases = np.array([[window[:, a::sh, b::sw].mean() for b in range(sw)] for a in range(sh)])
    scale = np.abs(window).mean()
    if scale == 0:
        return 0.0
    return float((phases.max() - phases.min()) / scale)
