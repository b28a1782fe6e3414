"""Lesson 03's demonstrations: the figures, kernels and small experiments behind its cells.

The numpy references themselves live in :mod:`fcn_lessons.upsampling`; this module holds
what the lesson *does* with them, so that its cells stay short:

- figures: :func:`draw_scatter_add_2d` (a transposed convolution as copies of the kernel),
  :func:`show_interpolations` (nearest and both bilinear conventions on a photograph),
  :func:`show_counts_and_phases` (overlap counts beside phase sums);
- checkerboards: :func:`per_channel`, :func:`artifact_demo` (four upsamplers on one
  image), :func:`stack_on_constant` (stacked upsampling layers) and :func:`plot_profiles`
  (their outputs, periods marked), :func:`fcn32s_border` (what FCN-32s's first output
  rows receive);
- the fitting task of section 6: :func:`block_class_shares`, :func:`upsampling_model`,
  :func:`pixel_accuracy`, :func:`fit_upsamplers`, :func:`constant_map_artifact_score`.
"""

from __future__ import annotations

import numpy as np

from fcn_lessons import _validate, upsampling

__all__ = [
    "draw_scatter_add_2d", "show_interpolations", "show_counts_and_phases", "per_channel", "artifact_demo",
    "stack_on_constant", "plot_profiles", "fcn32s_border", "block_class_shares", "upsampling_model", "pixel_accuracy",
    "fit_upsamplers", "constant_map_artifact_score", "ARTIFACT_DEMOS",
]

# --- figures -------------------------------------------------------------------------------------


def _grid(ax, values, *, title: str, shade=None, highlight=None, fmt="{:g}", fontsize=9):
    """Draw a small matrix with its numbers; ``nan`` cells are left blank.

    ``shade`` (same shape, default: 1 where a number is shown) sets each cell's colour, on
    a 0..4 scale (the most copies a pixel of a 2-D stride-2 picture receives).
    """
    import matplotlib.patches as patches

    values = np.asarray(values, dtype=float)
    shade = np.where(np.isnan(values), 0.0, 1.0) if shade is None else np.asarray(shade, dtype=float)
    ax.imshow(shade, cmap="Blues", vmin=0, vmax=6)
    for (r, c), v in np.ndenumerate(values):
        if not np.isnan(v):
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=fontsize)
    if highlight is not None:  # (top, left, height, width) of one kernel copy
        top, left, height, width = highlight
        ax.add_patch(patches.Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor="crimson",
                                       linewidth=2))
    ax.set_xticks(np.arange(values.shape[1]))
    ax.set_yticks(np.arange(values.shape[0]))
    ax.tick_params(length=0, labelsize=7)
    ax.set_title(title, fontsize=9)


def draw_scatter_add_2d(x, kernel, stride: int):
    """A single-channel transposed convolution drawn as what it is: one kernel copy per pixel.

    Panels: the input x (h × w), the kernel (kh × kw), then for every input pixel the output
    grid with that pixel's copy ``x[i, j] · kernel`` placed at ``(i·s, j·s)`` (outlined),
    and last their sum, the full 'valid' output of ((h - 1)·s + kh) × ((w - 1)·s + kw).

    Args:
        x: (h, w) numbers, at most 3×3 (one panel per pixel).
        kernel: (kh, kw) numbers.
        stride: positive int.

    Returns:
        the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    x = _validate.array(x, "x", ndim=2, kinds="biuf", layout="(h, w)").astype(float)
    kernel = _validate.array(kernel, "kernel", ndim=2, kinds="biuf", layout="(kh, kw)").astype(float)
    stride = _validate.integer(stride, "stride", minimum=1)
    if x.size > 9:
        raise ValueError(f"x must have at most 9 pixels (one panel each), received shape {x.shape}.")
    (h, w), (kh, kw) = x.shape, kernel.shape
    out_h, out_w = (h - 1) * stride + kh, (w - 1) * stride + kw
    total = upsampling.transposed_conv2d(x[:, :, None], kernel[:, :, None, None], stride)[:out_h, :out_w, 0]
    fig, axes = plt.subplots(1, x.size + 3, figsize=(1.9 * (x.size + 3), 2.4),
                             gridspec_kw={"width_ratios": [w, kw] + [out_w] * (x.size + 1)})
    _grid(axes[0], x, title=f"input x ({h}×{w})")
    _grid(axes[1], kernel, title=f"kernel ({kh}×{kw})")
    for ax, (i, j) in zip(axes[2:], np.ndindex(h, w)):
        copy = np.full((out_h, out_w), np.nan)
        copy[i * stride:i * stride + kh, j * stride:j * stride + kw] = x[i, j] * kernel
        _grid(ax, copy, title=f"copy of x[{i}, {j}] at ({i * stride}, {j * stride})",
              highlight=(i * stride, j * stride, kh, kw), fontsize=7)
    counts = upsampling.transposed_conv2d(np.ones((h, w, 1)), np.ones((kh, kw, 1, 1)), stride)[:out_h, :out_w, 0]
    _grid(axes[-1], total, title=f"sum: the output ({out_h}×{out_w})\ndarker = more copies", shade=counts,
          fontsize=7)
    fig.suptitle(f"transposed convolution, stride {stride}: copies start {stride} pixels apart", fontsize=10)
    fig.tight_layout()
    return fig


def show_interpolations(image, factor: int, *, zoom=None):
    """Average ``image`` down by ``factor``, bring it back three ways, and show the difference.

    Panels: the original, nearest, bilinear with half-pixel centres, bilinear with
    ``align_corners=True``, and |half-pixel - align_corners| (grey levels, brighter =
    larger), optionally all cropped to ``zoom`` (a pair of slices).

    Args:
        image: (H, W, 3) uint8 or float in [0, 1], H and W divisible by factor.

    Returns:
        (figure, dict of the three upsampled float images).
    """
    import matplotlib.pyplot as plt

    factor = _validate.integer(factor, "factor", minimum=1)
    picture = _validate.array(image, "image", ndim=3, kinds="uf", layout="(H, W, 3)")
    picture = picture.astype(np.float32) / 255 if picture.dtype.kind == "u" else picture.astype(np.float32)
    h, w, c = picture.shape
    if h % factor or w % factor:
        raise ValueError(f"image sides {(h, w)} must be divisible by factor {factor}.")
    coarse = picture.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3))
    results = {
        "nearest": upsampling.nearest_upsample(coarse, factor),
        "bilinear, half-pixel centres": upsampling.bilinear_upsample(coarse, factor),
        "bilinear, align_corners=True": upsampling.bilinear_upsample(coarse, factor, align_corners=True),
    }
    zoom = zoom or (slice(None), slice(None))
    difference = np.abs(results["bilinear, half-pixel centres"] - results["bilinear, align_corners=True"]).mean(2)
    fig, axes = plt.subplots(1, 5, figsize=(14, 3.2))
    panels = [("original", picture), *results.items()]
    for ax, (name, shown) in zip(axes, panels):
        ax.imshow(np.clip(shown[zoom], 0, 1), interpolation="nearest")
        ax.set_title(name, fontsize=10)
    axes[4].imshow(difference[zoom], cmap="gray", interpolation="nearest")
    axes[4].set_title("|half-pixel - align_corners|", fontsize=10)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(f"averaged ×{factor} down, then upsampled ×{factor}", fontsize=10)
    fig.tight_layout()
    return fig, results


def show_counts_and_phases(kernel, stride: int, *, name: str = "kernel"):
    """Overlap counts (how many copies land on each pixel of a period) beside phase sums (how much weight).

    Args:
        kernel: (kh, kw) one channel pair.

    Returns:
        the matplotlib Figure: the kernel, its overlap counts, its phase sums.
    """
    import matplotlib.pyplot as plt

    kernel = _validate.array(kernel, "kernel", ndim=2, kinds="biuf", layout="(kh, kw)")
    stride = _validate.integer(stride, "stride", minimum=1)
    counts = upsampling.overlap_counts(kernel.shape, stride, (stride, stride))
    sums = upsampling.phase_sums(kernel, stride)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), gridspec_kw={"width_ratios": [kernel.shape[1], stride, stride]})
    _grid(axes[0], kernel, title=f"{name} ({kernel.shape[0]}×{kernel.shape[1]})", fmt="{:.2f}", fontsize=7)
    _grid(axes[1], counts, title=f"copies per pixel, one period ({stride}×{stride})", shade=counts)
    _grid(axes[2], sums, title="weight per pixel: phase sums", fmt="{:.2f}", shade=2 * sums / max(sums.max(), 1e-12))
    fig.tight_layout()
    return fig


# --- checkerboards -------------------------------------------------------------------------------


def per_channel(kernel_2d, channels: int) -> np.ndarray:
    """A Conv2DTranspose kernel (kh, kw, C, C) applying ``kernel_2d`` to each channel alone.

    ``kernel_2d`` is (kh, kw), or (kh, kw, C) for one filter per channel; channel i feeds
    only output channel i (as FCN's bilinear kernels do).
    """
    kernel_2d = _validate.array(kernel_2d, "kernel_2d", ndim=(2, 3), kinds="biuf", layout="(kh, kw) or (kh, kw, C)")
    channels = _validate.integer(channels, "channels", minimum=1)
    filters = np.broadcast_to(kernel_2d[..., None] if kernel_2d.ndim == 2 else kernel_2d,
                              (*kernel_2d.shape[:2], channels))
    kernel = np.zeros((*kernel_2d.shape[:2], channels, channels), np.float32)
    kernel[:, :, np.arange(channels), np.arange(channels)] = filters
    return kernel


ARTIFACT_DEMOS = ("transposed, uniform k=3f/2", "transposed, bilinear k=2f", "transposed, random k=2f",
                  "resize-conv, random 3×3")


def _positive_random(rng, shape, total: float) -> np.ndarray:
    """Uniform(0, 1) weights per channel (last axis), scaled so each channel's weights sum to ``total``."""
    weights = rng.uniform(0, 1, shape)
    return weights * (total / weights.sum(axis=(0, 1), keepdims=True))


def artifact_demo(image, factor: int, *, seed: int = 0) -> dict:
    """``image`` averaged down by ``factor`` and upsampled by four methods (``ARTIFACT_DEMOS``).

    Every kernel is positive and scaled so that a constant input keeps its brightness on
    average: the uniform k = 3f/2 transposed kernel (uneven overlap, unequal phase sums),
    the bilinear kernel (even overlap, equal phase sums), a random kernel of size 2f (even
    overlap, unequal phase sums) and resize-convolution (nearest, then a random 3×3
    convolution whose weights sum to 1 per channel: no stride, no phases).

    Args:
        image: (H, W, C) float, H and W divisible by factor.

    Returns:
        {name: (H, W, C) float upsampled image}, in the order of ``ARTIFACT_DEMOS``.
    """
    image = _validate.array(image, "image", ndim=3, kinds="f", layout="(H, W, C)")
    factor = _validate.integer(factor, "factor", minimum=2)
    h, w, c = image.shape
    if h % factor or w % factor:
        raise ValueError(f"image sides {(h, w)} must be divisible by factor {factor}.")
    rng = np.random.default_rng(seed)
    small = image.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3))
    uneven = 3 * factor // 2
    kernels = {
        ARTIFACT_DEMOS[0]: per_channel(np.full((uneven, uneven), factor ** 2 / uneven ** 2), c),
        ARTIFACT_DEMOS[1]: upsampling.bilinear_kernel(factor, c),
        ARTIFACT_DEMOS[2]: per_channel(_positive_random(rng, (2 * factor, 2 * factor, c), factor ** 2), c),
    }
    out = {name: upsampling.transposed_conv2d(small, kernel, factor, "same") for name, kernel in kernels.items()}
    smoothing = np.zeros((3, 3, c, c))
    smoothing[:, :, np.arange(c), np.arange(c)] = _positive_random(rng, (3, 3, c), 1.0)
    out[ARTIFACT_DEMOS[3]] = upsampling.resize_conv(small, factor, smoothing)
    return out


def stack_on_constant(layers, *, length: int = 12) -> np.ndarray:
    """A row of ones through stacked 1-D transposed convolutions: the interior of the result.

    Args:
        layers: a list of (taps, stride): each a 1-D kernel (k,) and its stride, applied in
            order ('valid', as in the reference FCNs, which crop afterwards).
        length: how many ones the first layer receives.

    Returns:
        1-D float array: the output with every position that misses a kernel copy at
        either end dropped (the interior, where only the kernels decide the values).
    """
    if not layers:
        raise ValueError("layers must hold at least one (taps, stride) pair.")
    length = _validate.integer(length, "length", minimum=2)
    row = np.ones((1, length, 1))
    incomplete = 0  # output positions at each end that miss some copy, in the current layer's units
    for index, (taps, stride) in enumerate(layers):
        taps = _validate.array(taps, f"layers[{index}] taps", ndim=1, kinds="biuf", layout="(k,)")
        stride = _validate.integer(stride, f"layers[{index}] stride", minimum=1)
        row = upsampling.transposed_conv2d(row, taps[None, :, None, None].astype(float), (1, stride))
        row = row[:, :(row.shape[1] - taps.size) // stride * stride + taps.size]  # Keras pads when k < s
        incomplete = incomplete * stride + taps.size - 1
    values = row[0, :, 0]
    if values.size <= 2 * incomplete:
        raise ValueError(f"length {length} is too short: every output position misses a copy; use a longer row.")
    return values[incomplete:values.size - incomplete]


def plot_profiles(panels, *, shown: int):
    """Rows of values (e.g. from :func:`stack_on_constant`), one panel per period, with the period marked.

    Args:
        panels: a list of (title, {name: 1-D profile}, period): each panel draws its
            profiles' first ``shown`` values and a dashed line every ``period`` pixels,
            so the period a pattern repeats with can be read off.
        shown: positive int, the number of output pixels drawn.

    Returns:
        the matplotlib Figure (panels stacked, one x axis).
    """
    import matplotlib.pyplot as plt

    shown = _validate.integer(shown, "shown", minimum=1)
    if not panels:
        raise ValueError("panels must hold at least one (title, profiles, period) entry.")
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.2 * len(panels)), sharex=True, squeeze=False)
    for ax, (title, profiles, period) in zip(axes[:, 0], panels):
        period = _validate.integer(period, "period", minimum=1)
        for x in range(0, shown + 1, period):
            ax.axvline(x - 0.5, color="grey", linestyle="--", linewidth=0.7)
        for name, profile in profiles.items():
            ax.plot(np.asarray(profile)[:shown], marker=".", markersize=3, label=name)
        ax.set_title(f"{title} (dashed lines every {period} pixels)", fontsize=10)
        ax.set_ylabel("value")
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom, top + 0.45 * (top - bottom))  # room for the legend above the curves
        ax.legend(loc="upper right", fontsize=8, ncol=len(profiles))
    axes[-1, 0].set_xlabel("output pixel (interior)")
    fig.tight_layout()
    return fig


def fcn32s_border(*, kernel_size: int = 64, stride: int = 32, crop: int = 19, rows: int = 64) -> dict:
    """What the first output rows of the reference FCN-32s receive from its upsampling layer.

    The reference upsamples with a 'valid' transposed convolution (``kernel_size`` 64,
    stride 32, bilinear taps, fixed) and then crops ``crop`` = 19 rows and columns at the
    top and left (its Crop layer, offset from Caffe's coord_map). This applies that layer
    to a column of ones with the course's own functions and reports, for each output row
    after the crop, how many kernel copies reach it and their total weight (the same holds
    for columns).

    Returns:
        dict with ``copies`` (int, per row) and ``weight`` (float, per row), for the first
        ``rows`` rows of the cropped output.
    """
    kernel_size = _validate.integer(kernel_size, "kernel_size", minimum=1)
    stride = _validate.integer(stride, "stride", minimum=1)
    crop = _validate.integer(crop, "crop", minimum=0)
    rows = _validate.integer(rows, "rows", minimum=1)
    coarse = -(-(crop + rows + kernel_size) // stride) + 1  # enough coarse rows that the last ones stay out of view
    ones = np.ones((coarse, 1, 1))
    taps = upsampling.bilinear_taps(stride, kernel_size)
    weight = upsampling.transposed_conv2d(ones, taps[:, None, None, None], (stride, 1))[crop:crop + rows, 0, 0]
    copies = upsampling.transposed_conv2d(ones, np.ones((kernel_size, 1, 1, 1)), (stride, 1))[crop:crop + rows, 0, 0]
    return {"copies": np.rint(copies).astype(int), "weight": weight}


# --- section 6: learning an upsampler --------------------------------------------------------------


def block_class_shares(label_maps, factor: int, num_classes: int) -> np.ndarray:
    """(N, H, W) class ids -> (N, H/f, W/f, num_classes): each f×f block's class shares.

    The ideal score map at output stride f, ``labels.class_shares_per_block`` (shares of a
    block's labelled pixels; void counts for no class): the same cells that lesson 00's and
    02's ``labels.coarse_oracle`` upsamples bilinearly.
    """
    from fcn_lessons import labels

    factor = _validate.integer(factor, "factor", minimum=1)
    return labels.class_shares_per_block(label_maps, factor, num_classes)


def upsampling_model(kernel_initializer, *, factor: int, num_classes: int, learning_rate: float, seed: int = 0):
    """One ``Conv2DTranspose(num_classes, 2·factor, strides=factor, padding='same')``, no bias.

    Compiled with Adam and softmax cross-entropy from logits with the void label ignored
    (Keras' ``SparseCategoricalCrossentropy(ignore_class=255)``). ``seed`` fixes the
    random initialisers.
    """
    import keras

    from fcn_lessons.labels import VOID_LABEL

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((None, None, num_classes)),
        keras.layers.Conv2DTranspose(num_classes, 2 * factor, strides=factor, padding="same", use_bias=False,
                                     kernel_initializer=kernel_initializer),
    ])
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=VOID_LABEL))
    return model


def pixel_accuracy(model, scores, labels, num_classes: int) -> float:
    """Pixel accuracy of ``model``'s argmax on ``scores`` against ``labels``, void pixels left out."""
    from fcn_lessons import metrics

    confusion = metrics.confusion_matrix(labels, model.predict_on_batch(scores), num_classes)
    return metrics.segmentation_scores(confusion)["pixel_accuracy"]


def fit_upsamplers(initialisers: dict, train, val, *, factor: int, num_classes: int, epochs: int,
                   batch_size: int, learning_rate: float):
    """Train one :func:`upsampling_model` per initialiser on the same data, epoch by epoch.

    Args:
        initialisers: {name: Keras initializer or its name}.
        train, val: (scores (N, h, w, classes), label maps (N, h·f, w·f)) pairs.

    Returns:
        (curves, models): ``curves[name]`` is an (epochs + 1, 2) array of (validation loss,
        validation pixel accuracy), row 0 before training; ``models[name]`` the trained model.
    """
    epochs = _validate.integer(epochs, "epochs", minimum=1)
    (train_scores, train_maps), (val_scores, val_maps) = train, val
    curves, models = {}, {}
    for name, initializer in initialisers.items():
        model = upsampling_model(initializer, factor=factor, num_classes=num_classes, learning_rate=learning_rate)

        def measure():
            return (model.evaluate(val_scores, val_maps, verbose=0),
                    pixel_accuracy(model, val_scores, val_maps, num_classes))

        curve = [measure()]
        for _ in range(epochs):
            model.fit(train_scores, train_maps, batch_size=batch_size, epochs=1, verbose=0)
            curve.append(measure())
        curves[name], models[name] = np.array(curve), model
    return curves, models


def constant_map_artifact_score(kernel, factor: int, *, side: int = 12, channel: int = 0) -> float:
    """The artifact score of a (trained) upsampling kernel on a map that says one class everywhere.

    The map is ``side``×``side`` coarse pixels of score 1 for ``channel`` and 0 for the
    others; it is upsampled with ``kernel`` ('same', stride ``factor``), and output channel
    ``channel`` is scored by ``upsampling.artifact_score`` with a border of 2·factor pixels
    dropped. 0 means the kernel maps a constant to a constant.
    """
    kernel = _validate.array(kernel, "kernel", ndim=4, kinds="f", layout="(kh, kw, C_out, C_in)")
    factor = _validate.integer(factor, "factor", minimum=1)
    constant = np.zeros((1, side, side, kernel.shape[3]), np.float32)
    constant[..., channel] = 1
    logits = upsampling.transposed_conv2d(constant, kernel, factor, "same")[0, :, :, channel]
    return upsampling.artifact_score(logits, factor, margin=2 * factor)
