"""Lesson 03's explorers: every upsampling method on an image, and checkerboard artifacts.

Both follow the package's explorer pattern (see ``fcn_lessons.widgets``): a plain
``render(**values) -> RGB frame`` function, one persistent ``ipywidgets.Image``, and a
callback that reads the controls' current values. Only widgets that ipywidgets 7.7
(Colab) and 8 share are used: ``Dropdown``, ``IntSlider``, ``Image``, ``HBox``, ``VBox``.
All drawing is numpy/OpenCV (no TensorFlow, no matplotlib), so a callback stays well
under the 50 ms budget measured by ``python -m fcn_lessons.bench widgets``.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from fcn_lessons import _validate, upsampling
from fcn_lessons.widgets._frames import colorbar, colormap, enlarge, explorer_box, hstack, label, to_png

__all__ = [
    "upsampling_explorer", "checkerboard_explorer", "render_upsampling", "render_checkerboard",
    "upsample_image", "checkerboard_output", "METHODS", "FACTORS", "IMAGE_NAMES", "KERNEL_WEIGHTS",
]

IMAGE_SIZE = 128  # side of the explorer's images: the benchmark's 128×128
FACTORS = (2, 4, 8)
DISPLAY_SCALE = 2  # every panel is shown at 2× so single pixels stay visible
CHECKERBOARD_PANEL = 256  # display side of the checkerboard panels, in pixels
ZOOM_SIZE = 32  # side of the zoomed crop (shown at IMAGE_SIZE * DISPLAY_SCALE pixels)
RANDOM_SEED = 0  # the "random init" weights: the same frame every time
SHAPES_SEED = 3  # a make_shapes scene with several objects
COLOUR_BAR_WIDTH = 14  # pixels: the colour scale beside the checkerboard explorer's output

METHODS = (
    "nearest",
    "bilinear (half-pixel centres)",
    "bilinear (align_corners=True)",
    "transposed conv, bilinear init (k=2f)",
    "transposed conv, random init (k=2f)",
    "transposed conv, uniform kernel, k=3f/2 (uneven overlap)",
    "resize-conv (nearest, then random 3×3 conv)",
    "depth-to-space (random 1×1 conv)",
    "max-unpooling (switches)",
)
DEFAULT_METHOD = "bilinear (half-pixel centres)"
IMAGE_NAMES = ("photo", "shapes", "label map", "zone plate", "flat grey")
KERNEL_WEIGHTS = ("uniform", "tent of size k", "bilinear of the stride", "random")


# --- images -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _builtin_image(name: str) -> np.ndarray:
    """One of ``IMAGE_NAMES`` as (IMAGE_SIZE, IMAGE_SIZE, 3) float32 in [0, 1].

    "photo" is matplotlib's sample photograph of Grace Hopper (``fcn_lessons.photo``).
    """
    from fcn_lessons import data, photo, viz

    if name == "photo":
        return photo.grace_hopper(IMAGE_SIZE).astype(np.float32) / 255
    if name in ("shapes", "label map"):
        images, masks = data.make_shapes(1, image_size=IMAGE_SIZE, seed=SHAPES_SEED, num_objects=(4, 4))
        picture = images[0] if name == "shapes" else viz.colorize(masks[0])
        return picture.astype(np.float32) / 255
    if name == "zone plate":  # rings whose frequency grows to the Nyquist limit at the edge
        r2 = ((np.mgrid[:IMAGE_SIZE, :IMAGE_SIZE] - (IMAGE_SIZE - 1) / 2) ** 2).sum(axis=0)
        rings = 0.5 + 0.5 * np.cos(np.pi * r2 / IMAGE_SIZE)
        return np.repeat(rings[..., None], 3, axis=2).astype(np.float32)
    return np.full((IMAGE_SIZE, IMAGE_SIZE, 3), 0.5, np.float32)


def _prepare_image(image) -> np.ndarray:
    """A learner's (H, W) or (H, W, 3) image, uint8 or float in [0, 1] -> 128×128×3 float32."""
    image = _validate.image(image, "image", grey=True, dtype="float32")  # out of [0, 1]: an error
    return cv2.resize(image, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)


def _zoom_corner(image: np.ndarray) -> tuple[int, int]:
    """Top-left corner of the ZOOM_SIZE crop with the most edges (where methods differ)."""
    grey = image.mean(axis=2)
    edges = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1, :]
    energy = cv2.boxFilter(edges, -1, (ZOOM_SIZE, ZOOM_SIZE), normalize=False, anchor=(0, 0),
                           borderType=cv2.BORDER_CONSTANT)
    limit = IMAGE_SIZE - ZOOM_SIZE
    energy = energy[:limit + 1, :limit + 1]
    if energy.max() <= 0:
        return limit // 2, limit // 2
    y, x = np.unravel_index(np.argmax(energy), energy.shape)
    return int(y), int(x)


# --- the methods, on one image ------------------------------------------------------------------

def _normalised(weights: np.ndarray, axes, total: float) -> np.ndarray:
    return (weights * (total / weights.sum(axis=axes, keepdims=True))).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _random_weights(shape: tuple, axes: tuple, total: float) -> np.ndarray:
    """Positive random weights, scaled so each output channel sums to ``total`` (keeps brightness)."""
    rng = np.random.default_rng([RANDOM_SEED, *shape])
    return _normalised(rng.uniform(0, 1, shape), axes, total)


@functools.lru_cache(maxsize=None)
def _uniform_transposed_kernel(size: int, factor: int, channels: int) -> np.ndarray:
    kernel = np.zeros((size, size, channels, channels), np.float32)
    kernel[:, :, np.arange(channels), np.arange(channels)] = factor ** 2 / size ** 2
    return kernel


def _downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Average f×f blocks: the coarse input a network would have at stride f."""
    h, w, c = image.shape
    return image.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3))


def upsample_image(image, method: str, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Downsample ``image`` by ``factor`` and upsample it back with ``method``.

    Args:
        image: (H, W, 3) float in [0, 1], H and W divisible by factor.
        method: one of ``METHODS``.
        factor: one of ``FACTORS`` (or any int dividing H and W).

    Returns:
        (coarse input (H/f, W/f, 3), output (H, W, 3)), float32, the output clipped to [0, 1].
        The coarse input is the f×f block mean, except for max-unpooling, which keeps each
        block's maximum (per channel) and its position (the "switch").
    """
    method = _validate.choice(method, "method", METHODS)
    factor = _validate.integer(factor, "factor", minimum=1)
    image = _validate.array(image, "image", ndim=3, kinds="f", layout="(H, W, 3)")
    if image.shape[0] % factor or image.shape[1] % factor:
        raise ValueError(f"image sides {image.shape[:2]} must be divisible by factor {factor}.")
    channels = image.shape[2]
    if method == "max-unpooling (switches)":
        coarse, switches = upsampling.max_pool_with_argmax(image, factor)
        return coarse, upsampling.max_unpool(coarse, switches, image.shape)
    coarse = _downsample(image, factor)
    if method == "nearest":
        out = upsampling.nearest_upsample(coarse, factor)
    elif method.startswith("bilinear"):
        out = upsampling.bilinear_upsample(coarse, factor, align_corners="align_corners" in method)
    elif method == "transposed conv, bilinear init (k=2f)":
        out = upsampling.transposed_conv2d(coarse, upsampling.bilinear_kernel(factor, channels), factor, "same")
    elif method == "transposed conv, random init (k=2f)":
        size = 2 * factor
        kernel = _random_weights((size, size, channels, channels), (0, 1, 3), float(factor ** 2))
        out = upsampling.transposed_conv2d(coarse, kernel, factor, "same")
    elif method == "transposed conv, uniform kernel, k=3f/2 (uneven overlap)":
        size = 3 * factor // 2
        out = upsampling.transposed_conv2d(coarse, _uniform_transposed_kernel(size, factor, channels), factor, "same")
    elif method == "resize-conv (nearest, then random 3×3 conv)":
        kernel = _random_weights((3, 3, channels, channels), (0, 1, 2), 1.0)
        out = upsampling.resize_conv(coarse, factor, kernel)
    else:  # depth-to-space: a 1×1 conv to C·f² channels, then the pixel shuffle
        weights = _random_weights((channels, factor * factor * channels), (0,), 1.0)
        out = upsampling.depth_to_space(coarse @ weights, factor)
    return coarse.astype(np.float32), np.clip(out, 0, 1).astype(np.float32)


def render_upsampling(image, method: str = DEFAULT_METHOD, factor: int = 4, *, title: str = "") -> np.ndarray:
    """The upsampling explorer's frame: coarse input, output, zoomed output, zoomed original.

    Args:
        image: (IMAGE_SIZE, IMAGE_SIZE, 3) float in [0, 1].
        method: one of ``METHODS``; factor: one of ``FACTORS``.

    Returns:
        (H, W, 3) uint8 RGB frame; its title strip gives the artifact score of the output
        (``upsampling.artifact_score`` at stride f, border of f pixels dropped) and its mean
        absolute difference from the original.
    """
    coarse, out = upsample_image(image, method, factor)
    size = image.shape[0]
    y, x = _zoom_corner(image)
    zoom = (size // ZOOM_SIZE) * DISPLAY_SCALE
    crop = np.s_[y:y + ZOOM_SIZE, x:x + ZOOM_SIZE]
    score = upsampling.artifact_score(out, factor, margin=factor)
    error = float(np.abs(out - image).mean())
    panels = [
        label(enlarge(coarse, factor * DISPLAY_SCALE), f"input {coarse.shape[0]}x{coarse.shape[1]}"),
        label(enlarge(out, DISPLAY_SCALE), f"output x{factor}, {size}x{size}"),
        label(enlarge(out[crop], zoom), f"output, zoom on ({y}, {x})"),
        label(enlarge(image[crop], zoom), "original, same zoom"),
    ]
    text = f"{method}, x{factor}{' on ' + title if title else ''}:  artifact score {score:.2f}   " \
           f"mean |output - original| {error:.3f}"
    return label(hstack(panels), text, height=22)


def _tent(size: int) -> np.ndarray:
    """A tent of ``size`` taps centred on the kernel, half as wide as the kernel.

    Its shape depends on the kernel size only: it is the bilinear kernel of the stride
    when size = 2·stride, and unbalanced for most other sizes (k = 5, s = 3: phase sums
    0.85 to 1.33 once scaled), where the bilinear kernel of the stride is flat.
    """
    centre, half_width = (size - 1) / 2, size / 2
    return 1 - np.abs(np.arange(size) - centre) / half_width


def _checkerboard_kernel(kernel_size: int, stride: int, weights: str) -> np.ndarray:
    """A single-channel (k, k, 1, 1) kernel scaled so a constant 1 maps to 1 on average.

    "bilinear of the stride" is ``upsampling.bilinear_taps(stride, kernel_size)`` in both
    axes: the tent FCN uses for ×stride, cut off (k < 2s - 1) or padded with zeros.
    """
    if weights == "uniform":
        kernel = np.ones((kernel_size, kernel_size))
    elif weights == "random":
        kernel = np.random.default_rng([RANDOM_SEED, kernel_size, stride]).uniform(0, 1, (kernel_size, kernel_size))
    elif weights == "bilinear of the stride":
        taps = upsampling.bilinear_taps(stride, kernel_size)
        kernel = np.outer(taps, taps)
    else:
        kernel = np.outer(_tent(kernel_size), _tent(kernel_size))
    return (kernel * (stride ** 2 / kernel.sum()))[:, :, None, None].astype(np.float32)


def checkerboard_output(kernel_size: int, stride: int, weights: str = "uniform") -> dict:
    """The numbers behind the checkerboard explorer, for one (kernel size, stride, weights).

    Returns:
        dict with ``counts`` (4s × 4s ints, ``upsampling.overlap_counts`` in the interior),
        ``output`` (a 'valid' transposed convolution of a constant input of ones, with the
        kernel scaled so that its copies add up to 1 on average), ``interior`` (``output``
        without the ``k - 1`` border pixels that miss some copies), ``score``
        (``upsampling.artifact_score`` of the interior), ``uneven`` (k % s != 0),
        ``phase_sums`` (s × s, ``upsampling.phase_sums`` of the scaled kernel: the
        interior's values) and ``balanced`` (all phase sums equal: the interior is flat).
    """
    k = _validate.integer(kernel_size, "kernel_size", minimum=1)
    s = _validate.integer(stride, "stride", minimum=1)
    weights = _validate.choice(weights, "weights", KERNEL_WEIGHTS)
    inputs = 4 + -(-k // s)  # enough pixels that the interior spans several periods
    kernel = _checkerboard_kernel(k, s, weights)
    output = upsampling.transposed_conv2d(np.ones((inputs, inputs, 1), np.float32), kernel, s)[..., 0]
    margin = k - 1  # output pixels closer to the border miss some kernel copies
    return {
        "phase_sums": upsampling.phase_sums(kernel[:, :, 0, 0], s),
        "balanced": upsampling.balanced_phases(kernel[:, :, 0, 0], s, rtol=1e-5),
        "counts": upsampling.overlap_counts(k, s, (4 * s, 4 * s)),
        "output": output,
        "interior": output[margin:output.shape[0] - margin, margin:output.shape[1] - margin],
        "score": upsampling.artifact_score(output, s, margin=margin),
        "uneven": upsampling.uneven_overlap(k, s),
    }


def render_checkerboard(kernel_size: int = 3, stride: int = 2, weights: str = "uniform") -> np.ndarray:
    """The checkerboard explorer's frame (see ``checkerboard_output`` for the numbers).

    Left: how many kernel copies cover each output pixel in the interior (four stride
    periods). Right: a transposed convolution with that kernel size and stride applied to
    a constant input ('valid', so the border is visible), with its colour scale. The title
    gives the overlap, the range of the phase sums (equal sums: a flat interior) and the
    artifact score of the interior of that output.

    Args:
        kernel_size: int >= 1; stride: int >= 1.
        weights: one of ``KERNEL_WEIGHTS``; every kernel is scaled so its copies add up to
            1 on average (a perfect upsampler maps the constant 1 to 1 everywhere).

    Returns:
        (H, W, 3) uint8 RGB frame.
    """
    result = checkerboard_output(kernel_size, stride, weights)
    counts, out, interior = result["counts"], result["output"], result["interior"]
    period_view = counts.shape[0]
    cell = max(1, CHECKERBOARD_PANEL // period_view)
    count_map = enlarge(colormap(counts, vmin=0, vmax=max(counts.max(), 1), name="viridis"), cell)
    if cell >= 16:  # write the count in each cell, dark on the bright (yellow) end of viridis
        for (r, c), value in np.ndenumerate(counts):
            colour = (0, 0, 0) if value > counts.max() / 2 else (255, 255, 255)
            cv2.putText(count_map, str(value), (c * cell + cell // 2 - 4, r * cell + cell // 2 + 4),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    scale = max(1, CHECKERBOARD_PANEL // out.shape[0])
    top = max(float(out.max()), 1e-6)
    output_map = enlarge(colormap(out, vmin=0, vmax=top, name="magma"), scale)
    scale_bar = colorbar(output_map.shape[0], vmin=0.0, vmax=top, name="magma", width=COLOUR_BAR_WIDTH)
    inputs = (out.shape[0] - kernel_size) // stride + 1
    panels = [
        label(count_map, f"kernel copies per output pixel ({period_view}x{period_view})"),
        label(hstack([output_map, scale_bar], gap=4), f"transposed conv of a constant {inputs}x{inputs} input"),
    ]
    sums = result["phase_sums"]
    verdict = "uneven overlap" if result["uneven"] else "even overlap"
    flat = "equal: flat" if result["balanced"] else "unequal: a pattern"
    lines = (f"kernel {kernel_size}, stride {stride}, {weights}: {verdict}; phase sums {sums.min():.2f} to "
             f"{sums.max():.2f} ({flat})",
             f"interior of the output: {interior.min():.2f} to {interior.max():.2f} (ideal: 1 everywhere); "
             f"artifact score {result['score']:.2f}")
    return label(label(hstack(panels), lines[1]), lines[0], height=22)


# --- the widgets --------------------------------------------------------------------------------

def _explorer(render, controls: dict):
    """Controls + one Image widget, updated from the controls' current values."""
    import ipywidgets

    image = ipywidgets.Image(format="png")

    def update(change=None):
        image.value = to_png(render(**{name: control.value for name, control in controls.items()}))

    for control in controls.values():
        control.observe(update, names="value")
    update()
    return explorer_box([ipywidgets.HBox(list(controls.values())), image],
                        render=render, controls=controls, image=image, update=update)


def upsampling_explorer(image=None, *, method: str = DEFAULT_METHOD, factor: int = 4):
    """Compare every upsampling method of lesson 03 on an image, at ×2, ×4 and ×8.

    The image is averaged down by the factor (what a network sees at that output stride)
    and upsampled back; the frame shows the coarse input, the output, a zoomed crop of the
    output and the same crop of the original, with the artifact score.

    Args:
        image: optional (H, W) or (H, W, 3) image of your own (uint8, or float in [0, 1]),
            resized to 128×128 and offered first as "your image". Without it the first
            image is "photo" (matplotlib's sample photograph of Grace Hopper).
        method: the initial method (one of ``METHODS``); factor: the initial factor.

    Returns:
        an ``ipywidgets.VBox`` with ``.render(method=, factor=, image=)`` (image: a name),
        ``.controls`` (``method``, ``factor``, ``image`` dropdowns), ``.image`` and ``.update``.
    """
    import ipywidgets

    method = _validate.choice(method, "method", METHODS)
    factor = _validate.choice(factor, "factor", FACTORS)
    images = {} if image is None else {"your image": _prepare_image(image)}
    names = (*images, *IMAGE_NAMES)

    def render(method: str = method, factor: int = factor, image: str = names[0]) -> np.ndarray:
        image = _validate.choice(image, "image", names)
        picture = images[image] if image in images else _builtin_image(image)
        return render_upsampling(picture, method, factor, title=image)

    controls = {
        "method": ipywidgets.Dropdown(options=list(METHODS), value=method, description="method"),
        "factor": ipywidgets.Dropdown(options=[(f"×{f}", f) for f in FACTORS], value=factor,
                                      description="factor"),
        "image": ipywidgets.Dropdown(options=list(names), value=names[0], description="image"),
    }
    controls["method"].layout.width = "420px"
    return _explorer(render, controls)


def checkerboard_explorer(*, kernel_size: int = 3, stride: int = 2, weights: str = "uniform"):
    """Kernel size and stride sliders: overlap counts and a transposed conv of a constant input.

    Returns:
        an ``ipywidgets.VBox`` with ``.render(kernel_size=, stride=, weights=)``,
        ``.controls`` (two ``IntSlider``s and a weights ``Dropdown``), ``.image`` and ``.update``.
    """
    import ipywidgets

    kernel_size = _validate.integer(kernel_size, "kernel_size", minimum=1, maximum=16)
    stride = _validate.integer(stride, "stride", minimum=1, maximum=8)
    weights = _validate.choice(weights, "weights", KERNEL_WEIGHTS)

    def render(kernel_size: int = kernel_size, stride: int = stride, weights: str = weights) -> np.ndarray:
        return render_checkerboard(kernel_size, stride, weights)

    controls = {
        "kernel_size": ipywidgets.IntSlider(value=kernel_size, min=1, max=16, description="kernel size",
                                            style={"description_width": "initial"}),
        "stride": ipywidgets.IntSlider(value=stride, min=1, max=8, description="stride"),
        "weights": ipywidgets.Dropdown(options=list(KERNEL_WEIGHTS), value=weights, description="weights"),
    }
    controls["weights"].layout.width = "300px"
    return _explorer(render, controls)
