"""Lesson 00: what semantic segmentation answers, and wrong ways to score its answers.

- ``present_classes(mask, class_names)``: the classification answer (which classes occur).
- ``region_boxes(mask, num_classes)``: a box around every connected region of a class,
  the nearest a label map comes to a detector's answer, and ``lone_objects(mask)``,
  which says whether every such region is a whole, unoccluded object.
- ``draw_boxes(ax, boxes, class_names)``: those boxes with labels that stay readable.
- ``plot_three_tasks(image, mask, class_names)``: classification, detection and
  segmentation of one scene, side by side, with a legend that includes void;
  ``plot_label_zoom`` shows a scene (or a window of it) with its region boxes.
- ``probabilities(class_ids, num_classes, confidence)`` and ``soft_mean_iou(labels,
  probs)``: scores with given decisions and confidence, and the wrong "soft" IoU that
  depends on the confidence (trap 3 of lesson 00).

Boxes are ``(class_id, x, y, width, height)`` in pixels, x to the right, y down, as
OpenCV's ``connectedComponentsWithStats`` returns them.
"""

from __future__ import annotations

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.labels import VOID_LABEL

BOX_EDGE_WIDTH = 2.5  # points: the class-coloured edge of a box
BOX_HALO_WIDTH = 4.0  # points: the white line under it, so the edge shows on any background
LABEL_FONT_SIZE = 8  # points


def _mask(mask, name: str = "mask") -> np.ndarray:
    return _validate.array(mask, name, ndim=2, kinds="iu", layout="(H, W)")


def present_classes(mask, class_names, ignore_label: int | None = VOID_LABEL) -> list[str]:
    """The names of the object classes that occur in ``mask`` (background and void left out).

    Args:
        mask: (H, W) class ids.
        class_names: one name per class id, background first.
    """
    mask = _mask(mask)
    ids = [int(c) for c in np.unique(mask) if c != ignore_label]
    unknown = [c for c in ids if c >= len(class_names)]
    if unknown:
        raise ValueError(f"mask holds class ids {unknown} but class_names has {len(class_names)} names.")
    return [class_names[c] for c in ids if c > 0]


def region_boxes(mask, num_classes: int, *, connectivity: int = 8) -> list[tuple[int, int, int, int, int]]:
    """A box around each connected region of each object class.

    A label map says which class every pixel has, not which object: two objects of one
    class that touch form one region, and one object cut in two by an occluder forms two.
    So these boxes are a detector's answer only where every object stands alone
    (``lone_objects``).

    Args:
        mask: (H, W) class ids (0 background, ``1..num_classes - 1`` objects, other ids
            such as void 255 ignored).
        connectivity: 4 or 8, the pixel neighbourhood that joins a region.

    Returns:
        [(class_id, x, y, width, height), ...] by class, then by OpenCV's region order.
    """
    import cv2

    mask = _mask(mask)
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    connectivity = _validate.choice(connectivity, "connectivity", (4, 8))
    boxes = []
    for class_id in range(1, num_classes):
        count, _, stats, _ = cv2.connectedComponentsWithStats((mask == class_id).astype(np.uint8),
                                                              connectivity=connectivity)
        boxes += [(class_id, *(int(v) for v in stats[k, :4])) for k in range(1, count)]
    return boxes


def lone_objects(mask) -> bool:
    """True when no two object regions touch: every island of non-background pixels
    (void outlines included) holds one region of one class.

    Then ``region_boxes`` gives one box per island. An object cut in two by an occluder,
    or objects of two classes in contact, make this False. Two overlapping objects of the
    *same* class still form one region of one class: no label map can tell them apart.
    """
    import cv2

    mask = _mask(mask)
    count, islands = cv2.connectedComponents((mask != 0).astype(np.uint8), connectivity=8)
    for island in range(1, count):
        inside = mask[islands == island]
        classes = np.unique(inside[inside != VOID_LABEL])
        if len(classes) != 1:
            return False
        alone, _ = cv2.connectedComponents(((islands == island) & (mask == classes[0])).astype(np.uint8),
                                           connectivity=8)
        if alone != 2:  # the class is split inside its island (background cannot split it)
            return False
    return True


def draw_boxes(ax, boxes, class_names, *, image_shape, palette=None) -> list:
    """Draw ``boxes`` on an ``imshow`` axis, each with a readable class label.

    The edge has the class's palette colour over a white halo, so it shows on any
    background; the label is white on a patch of the class colour. Each label goes to the
    first free place among: above the box (left, then right end), below it, inside its top
    edge; a place is free when the label stays inside the image and covers no label drawn
    before. So labels never cover the panel's title or each other.

    Args:
        ax: a matplotlib Axes showing an image of ``image_shape``.
        boxes: [(class_id, x, y, width, height), ...] as ``region_boxes`` returns.
        class_names: one name per class id.
        image_shape: (H, W) of the image shown.
        palette: (256, 3) uint8 colours (default: the VOC palette).

    Returns:
        the matplotlib Text objects of the labels, in the order of ``boxes``.
    """
    import matplotlib.patheffects as effects
    from matplotlib.patches import Rectangle

    if palette is None:
        from fcn_lessons.viz import VOC_PALETTE as palette
    height, width = _validate.int_pair(tuple(image_shape)[:2], "image_shape", minimum=1)
    renderer = ax.figure.canvas.get_renderer()
    inside_image = ax.transData.transform([(-0.5, -0.5), (width - 0.5, height - 0.5)])
    left, right = sorted(inside_image[:, 0])
    bottom, top = sorted(inside_image[:, 1])
    placed, labels = [], []
    for class_id, x, y, w, h in boxes:
        colour = np.asarray(palette[class_id]) / 255
        edge = Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor=colour, linewidth=BOX_EDGE_WIDTH)
        edge.set_path_effects([effects.Stroke(linewidth=BOX_HALO_WIDTH, foreground="white"), effects.Normal()])
        ax.add_patch(edge)
        text = ax.text(0, 0, class_names[class_id], fontsize=LABEL_FONT_SIZE, color="white",
                       bbox=dict(boxstyle="square,pad=0.2", facecolor=colour, edgecolor="white", linewidth=0.8))
        x0, x1, y0, y1 = x - 0.5, x + w - 0.5, y - 0.5, y + h - 0.5
        candidates = [(x0, y0 - 1, "left", "bottom"), (x1, y0 - 1, "right", "bottom"),
                      (x0, y1 + 1, "left", "top"), (x1, y1 + 1, "right", "top"),
                      (x0 + 1, y0 + 1, "left", "top")]
        for cx, cy, ha, va in candidates:
            text.set_position((cx, cy))
            text.set_ha(ha)
            text.set_va(va)
            text.update_bbox_position_size(renderer)
            extent = text.get_bbox_patch().get_window_extent(renderer)
            fits = left <= extent.x0 and extent.x1 <= right and bottom <= extent.y0 and extent.y1 <= top
            if fits and not any(extent.overlaps(other) for other in placed):
                break
        placed.append(text.get_bbox_patch().get_window_extent(renderer))
        labels.append(text)
    return labels


def plot_three_tasks(image, mask, class_names, *, boxes=None, overlay_alpha: float = 0.6, fig=None):
    """One scene answered three ways: classification, detection, semantic segmentation.

    Args:
        image: (H, W, 3) uint8, or float in [0, 1].
        mask: (H, W) class ids, 255 void.
        class_names: one name per class id, background first.
        boxes: the detection panel's boxes (default: ``region_boxes`` of ``mask``).
        overlay_alpha: weight of the class colours in the segmentation panel.
        fig: a matplotlib Figure to draw into, or None for a new one.

    Returns:
        the matplotlib Figure (three panels and a legend of every class and void).
    """
    import matplotlib.pyplot as plt

    from fcn_lessons import viz

    mask = _mask(mask)
    boxes = region_boxes(mask, len(class_names)) if boxes is None else boxes
    fig = fig or plt.figure(figsize=(11, 4.3))
    axes = fig.subplots(1, 3)
    axes[0].imshow(image)
    axes[0].set_title("classification: which classes?\n" + ", ".join(present_classes(mask, class_names)),
                      fontsize=10)
    axes[1].imshow(image)
    draw_boxes(axes[1], boxes, class_names, image_shape=mask.shape)
    axes[1].set_title("detection: a class and a box\nper object", fontsize=10)
    viz.overlay(image, mask, alpha=overlay_alpha, ax=axes[2])
    axes[2].set_title("semantic segmentation:\na class for every pixel", fontsize=10)
    for ax in axes:
        ax.set_axis_off()
    fig.legend(handles=viz.legend_handles(class_names, void=True), loc="lower center",
               ncol=len(class_names) + 1, frameon=False)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.86, bottom=0.1, wspace=0.05)
    return fig


def plot_label_zoom(image, mask, class_names, *, window=None, classes=None, fig=None):
    """A scene (or a window of it), photo and label map side by side, with the region boxes inside it.

    Args:
        image: (H, W, 3) uint8, or float in [0, 1].
        mask: (H, W) class ids, 255 void.
        class_names: one name per class id.
        window: (top, left, height, width) in pixels, inside the image; None (the default)
            shows the whole scene.
        classes: class ids whose regions get boxes (default: every object class).
        fig: a matplotlib Figure to draw into, or None for a new one.

    Returns:
        the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from fcn_lessons import viz

    mask = _mask(mask)
    if window is None:
        window = (0, 0, *mask.shape)
    if not (isinstance(window, (tuple, list)) and len(window) == 4):
        raise ValueError(f"window must be (top, left, height, width), received {window!r}.")
    top, left, height, width = (_validate.integer(v, f"window[{i}]", minimum=0) for i, v in enumerate(window))
    if height < 1 or width < 1 or top + height > mask.shape[0] or left + width > mask.shape[1]:
        raise ValueError(f"window {tuple(window)} must lie inside the image of shape {mask.shape} "
                         "with a height and width of at least 1.")
    crop = mask[top:top + height, left:left + width]
    boxes = [box for box in region_boxes(crop, len(class_names)) if classes is None or box[0] in classes]
    fig = fig or plt.figure(figsize=(6.4, 3.4))
    axes = fig.subplots(1, 2)
    axes[0].imshow(np.asarray(image)[top:top + height, left:left + width], interpolation="nearest")
    axes[0].set_title("the photo", fontsize=10)
    axes[1].imshow(viz.colorize(crop), interpolation="nearest")
    axes[1].set_title("its label map, a box per region", fontsize=10)
    for ax in axes:
        draw_boxes(ax, boxes, class_names, image_shape=crop.shape)
        ax.set_axis_off()
    fig.subplots_adjust(left=0.01, right=0.99, top=0.88, bottom=0.01, wspace=0.05)
    return fig


def probabilities(class_ids, num_classes: int, confidence: float) -> np.ndarray:
    """Scores with the decisions ``class_ids`` and a given confidence.

    Args:
        class_ids: (...,) integer class ids, e.g. (N, H, W).
        confidence: the probability put on each pixel's class, in (1 / num_classes, 1];
            the rest is spread evenly over the other classes.

    Returns:
        (..., num_classes) float32 probabilities whose argmax is ``class_ids``.
    """
    ids = _validate.array(class_ids, "class_ids", kinds="iu")
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    confidence = float(confidence)
    if not 1 / num_classes < confidence <= 1:
        raise ValueError(f"confidence must be in (1/num_classes, 1] = ({1 / num_classes:.3g}, 1] so the "
                         f"argmax is the given class; received {confidence}.")
    if ids.size and ids.max() >= num_classes:
        raise ValueError(f"class_ids hold {int(ids.max())}, outside 0..{num_classes - 1}.")
    probs = np.full(ids.shape + (num_classes,), (1 - confidence) / (num_classes - 1), np.float32)
    np.put_along_axis(probs, ids[..., None].astype(np.intp), confidence, axis=-1)
    return probs


def soft_mean_iou(labels, probs, ignore_label: int | None = VOID_LABEL) -> float:
    """The wrong metric: IoU with probabilities in place of 0/1 decisions (void ignored).

    Per class, intersection = sum of p(class) over the pixels of that class, union = its
    pixels + the sum of p(class) over all pixels - the intersection; then the mean over the
    classes. It changes with the confidence even when every decision (argmax) is the same.

    Args:
        labels: (...,) class ids, e.g. (N, H, W), with ``ignore_label`` for void.
        probs: (..., C) probabilities, the labels' shape plus a class axis.
    """
    labels = _validate.array(labels, "labels", kinds="iu")
    probs = _validate.array(probs, "probs", kinds="f")
    if probs.shape[:-1] != labels.shape:
        raise ValueError(f"probs must have shape labels.shape + (classes,) = {labels.shape} + (C,), "
                         f"received {probs.shape}.")
    num_classes = probs.shape[-1]
    labelled = labels != ignore_label if ignore_label is not None else np.ones(labels.shape, bool)
    if np.any(labels[labelled] >= num_classes):
        raise ValueError(f"labels hold ids outside 0..{num_classes - 1} (other than ignore_label).")
    truth = np.eye(num_classes)[np.where(labelled, labels, 0)] * labelled[..., None]
    kept = probs * labelled[..., None]
    axes = tuple(range(labels.ndim))
    intersection = (truth * kept).sum(axis=axes)
    union = truth.sum(axis=axes) + kept.sum(axis=axes) - intersection
    return float(np.mean(intersection / union))
