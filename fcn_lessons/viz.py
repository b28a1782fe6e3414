"""Pictures of label maps.

- ``VOC_PALETTE``: the PASCAL VOC colour map, (256, 3) uint8 (defined in
  ``fcn_lessons.labels``); entry 255 (void) is VOC's cream (224, 224, 192).
- ``colorize(mask)``: class ids -> RGB with that palette.
- ``overlay(image, mask)``: the label colours blended over the photo (background untinted).
- ``show_samples(images, masks, predictions=None)``: a grid with a class legend.
- ``plot_confusion(confusion, class_names)``: a row-normalised confusion matrix.

Plotting helpers take ``ax=None`` (or ``fig=None``) and return what they drew.
"""

from __future__ import annotations

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.labels import VOC_PALETTE, VOID_LABEL, voc_palette  # noqa: F401  (public here too)


_voc_palette = voc_palette  # its old name here; the palette lives in fcn_lessons.labels


def colorize(mask) -> np.ndarray:
    """(..., H, W) integer class ids -> (..., H, W, 3) uint8 RGB in the VOC palette."""
    mask = _validate.label_map(mask, "mask", ndim=None, num_classes=len(VOC_PALETTE), ignore_label=None)
    return VOC_PALETTE[mask]


def overlay(image, mask, *, alpha: float = 0.5, ax=None) -> np.ndarray:
    """Blend the class colours of ``mask`` over ``image``; background stays untinted.

    Args:
        image: (H, W, 3) uint8, or float in [0, 1].
        mask: (H, W) class ids; void (255) is tinted cream like VOC's outlines.
        alpha: weight of the class colour, 0..1.
        ax: a matplotlib Axes to draw on, or None to only compute.

    Returns:
        (H, W, 3) uint8: the blended picture (also what is drawn on ``ax``).
    """
    picture = _validate.image(image, "image")
    mask = _validate.label_map(mask, "mask", ndim=2, ignore_label=VOID_LABEL)
    if mask.shape != picture.shape[:2]:
        raise ValueError(f"mask has shape {mask.shape} but image is {picture.shape[:2]} (H, W).")
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], received {alpha}.")
    tinted = (1 - alpha) * picture + alpha * colorize(mask).astype(np.float64)
    blended = np.where((mask == 0)[..., None], picture, np.round(tinted)).astype(np.uint8)
    if ax is not None:
        ax.imshow(blended)
        ax.set_axis_off()
    return blended


def legend_handles(class_names, *, void: bool = True) -> list:
    """Matplotlib patches naming each class by its palette colour (and void)."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=VOC_PALETTE[i] / 255, edgecolor="0.3", label=f"{i} {name}")
               for i, name in enumerate(class_names)]
    if void:
        handles.append(Patch(facecolor=VOC_PALETTE[VOID_LABEL] / 255, edgecolor="0.3",
                             label=f"{VOID_LABEL} void"))
    return handles


def show_samples(images, masks, predictions=None, *, class_names=None, max_samples: int = 6,
                 titles=None, fig=None):
    """A grid: one row per sample with image, label map (and prediction), plus a legend.

    Args:
        images: (N, H, W, 3) uint8 or float in [0, 1] (or a list of such images).
        masks: (N, H, W) class ids, 255 void (or a list).
        predictions: optional (N, H, W) class ids, shown in a third column.
        class_names: names for the legend (default: the course's ``data.CLASS_NAMES``).
        max_samples: at most this many rows.
        titles: optional one title per sample, shown on its image.
        fig: a matplotlib Figure to draw into, or None for a new one.

    Returns:
        the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    if class_names is None:
        from fcn_lessons.data import CLASS_NAMES as class_names
    max_samples = _validate.integer(max_samples, "max_samples", minimum=1)
    count = min(len(images), max_samples)
    if len(masks) < count or (predictions is not None and len(predictions) < count):
        raise ValueError(f"masks ({len(masks)}) and predictions must have an entry per image ({len(images)}).")
    if count == 0:
        raise ValueError("show_samples needs at least one image.")
    columns = 2 if predictions is None else 3
    panel, legend_width, title_height = 2.2, 1.9, 0.35  # inches
    width, height = panel * columns + legend_width, panel * count + title_height
    fig = fig or plt.figure(figsize=(width, height))
    axes = np.asarray(fig.subplots(count, columns, squeeze=False))
    headers = ["image", "label map", "prediction"]
    for row in range(count):
        panels = [_validate.image(images[row], f"images[{row}]"), colorize(masks[row])]
        if predictions is not None:
            panels.append(colorize(predictions[row]))
        for column, (ax, panel) in enumerate(zip(axes[row], panels)):
            ax.imshow(panel, interpolation="nearest")
            ax.set_axis_off()
            if row == 0:
                ax.set_title(headers[column])
        if titles is not None:
            axes[row, 0].set_title(titles[row], fontsize=9)
    fig.legend(handles=legend_handles(class_names), loc="center right", frameon=False)
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=0.02, right=1 - legend_width / width, bottom=0.02,
                        top=1 - title_height / height, wspace=0.05, hspace=0.08)
    return fig


def plot_confusion(confusion, class_names, *, normalize: bool = True, ax=None):
    """Draw a confusion matrix (rows: true class, columns: predicted class).

    Args:
        confusion: (C, C) pixel counts, as ``fcn_lessons.metrics.confusion_matrix`` returns.
        class_names: C names.
        normalize: colour and print each row as a share of that class's pixels (so small
            classes are as visible as the background); False prints raw counts.
        ax: a matplotlib Axes, or None for a new figure.

    Returns:
        the Axes it drew on.
    """
    import matplotlib.pyplot as plt

    matrix = _validate.array(confusion, "confusion", ndim=2, kinds="iuf", layout="(C, C)").astype(np.float64)
    if matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(class_names):
        raise ValueError(f"confusion must be (C, C) with C = len(class_names) = {len(class_names)}, "
                         f"received shape {matrix.shape}.")
    if ax is None:
        size = 1.0 + 0.6 * len(class_names)
        _, ax = plt.subplots(figsize=(size + 1.2, size))
    rows = matrix.sum(axis=1, keepdims=True)
    shown = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0) if normalize else matrix
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    threshold = 0.5 * (shown.max() if shown.size else 1)
    for (i, j), value in np.ndenumerate(shown):
        text = f"{value:.2f}" if normalize else f"{int(value)}"
        ax.text(j, i, text, ha="center", va="center", fontsize=8,
                color="white" if value > threshold else "black")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                       label="share of the true class's pixels" if normalize else "pixels")
    return ax
