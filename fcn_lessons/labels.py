"""Label maps: the void label, the VOC palette, borders, and label maps at a coarser grid.

A label map (mask) is an (H, W) or (N, H, W) integer array of class ids: 0 background,
1.. the classes, and ``VOID_LABEL`` for pixels that belong to no class. This module is
the one home of what every lesson says about label maps; ``data``, ``voc``, ``viz``,
``metrics`` and ``receptive`` use it (and keep their old names for its functions).

- ``VOID_LABEL`` (255): the class id of pixels that belong to no class, as in PASCAL VOC
  (object outlines and ambiguous regions). Losses and metrics ignore it; it is never
  background.
- ``VOC_PALETTE``: the PASCAL VOC colour map, (256, 3) uint8; entry 255 (void) is VOC's
  cream (224, 224, 192), distinct from every class colour.
- ``borders``: the pixels that touch another label (a 4-neighbour differs).
- ``distance_to_boundary``: how far each pixel is from a pixel of another label
  (Euclidean or chessboard); ``boundary_band``: the pixels within a width of a border
  (the "trimap" band of ``metrics.trimap_scores``).
- ``class_counts_per_block``: the classes of every block×block cell;
  ``class_shares_per_block``: the same as shares of its labelled pixels (the ideal score
  map at that output stride); ``coarse_oracle``: that score map upsampled and arg-maxed
  (a perfect-proportions oracle: a reference for that stride, not a ceiling).

Image borders are never label borders: a region that reaches the edge of the image is not
closer to a boundary for it.
"""

from __future__ import annotations

import numpy as np

from fcn_lessons import _validate

VOID_LABEL = 255

METRICS = ("euclidean", "chessboard")
_LABEL_MAPS = "(H, W) or (N, H, W)"


# --- the palette ---------------------------------------------------------------------------

def voc_palette() -> np.ndarray:
    """(256, 3) uint8: the VOC colour map, the bits of each class id spread over R, G, B.

    Bit 3i of the id sets bit (7 - i) of red, bit 3i + 1 of green, bit 3i + 2 of blue: the
    colour map of the PASCAL VOC development kit, which VOC's palette PNGs carry. Returns a
    new array at each call.
    """
    palette = np.zeros((256, 3), np.uint8)
    for class_id in range(256):
        value, r, g, b = class_id, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= ((value >> 0) & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette[class_id] = (r, g, b)
    return palette


VOC_PALETTE = voc_palette()
VOC_PALETTE.setflags(write=False)  # shared by every module: nobody may repaint it by accident


# --- borders and distances -----------------------------------------------------------------

def _label_maps(masks, name: str = "masks") -> np.ndarray:
    return _validate.label_map(masks, name, ndim=(2, 3), ignore_label=None, layout=_LABEL_MAPS)


def borders(masks, *, ignore_label: int | None = VOID_LABEL) -> np.ndarray:
    """The pixels that touch another label: a 4-neighbour (up, down, left, right) differs.

    Both sides of a border are marked, so a border between two regions is two pixels wide
    (``data.make_shapes`` makes exactly this band void). With ``ignore_label``, void pixels
    are borders too (VOC marks object outlines void).

    Args:
        masks: (H, W) or (N, H, W) integer class ids.
        ignore_label: the void label, or None to treat it as any other label.

    Returns:
        bool array of the masks' shape.
    """
    masks = _label_maps(masks)
    out = np.zeros(masks.shape, bool)
    vertical = masks[..., 1:, :] != masks[..., :-1, :]
    horizontal = masks[..., :, 1:] != masks[..., :, :-1]
    out[..., 1:, :] |= vertical
    out[..., :-1, :] |= vertical
    out[..., :, 1:] |= horizontal
    out[..., :, :-1] |= horizontal
    if ignore_label is not None:
        out |= masks == ignore_label
    return out


def _distance_inside(inside: np.ndarray, metric: str) -> np.ndarray:
    """(H, W) float32: distance of each True pixel to the nearest False one (0 on False).

    ``inf`` everywhere when no pixel is False. Outside the image counts as neither.
    """
    import cv2

    if inside.all():
        return np.full(inside.shape, np.inf, np.float32)
    if metric == "euclidean":  # exact Euclidean distances between pixel centres
        return cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    # chessboard: max(|dy|, |dx|); a 3×3 mask is exact for it (OpenCV's documentation)
    return cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_C, 3)


@_validate.renamed_keyword("void_label", "ignore_label")
def distance_to_boundary(masks, *, metric: str = "euclidean", ignore_label: int | None = VOID_LABEL,
                         ) -> np.ndarray:
    """(N, H, W) or (H, W) label maps -> float32 distance of each pixel to another label.

    For a pixel of class c: the distance, in pixels between pixel centres, to the nearest
    pixel whose label is not c (void included). Void pixels get 0. Large values mark the
    flat centres of big regions; 1 is a pixel next to a border (a 4-neighbour, or with
    "chessboard" also a diagonal one). A region that fills its whole image gets ``inf``.

    Args:
        masks: integer class ids.
        metric: "euclidean" (straight-line distance) or "chessboard" (max(|dy|, |dx|)).
            With "chessboard", distance >= r means the (2r - 1)×(2r - 1) square centred
            on the pixel holds only its class (within the image): a field of that side
            sees no boundary. With "euclidean" it only clears a disc: from r = 4 on, the
            square's corners, (r - 1)·√2 >= r away, may hold another label.
        ignore_label: the void label (distance 0), or None to treat it as a class.
    """
    _validate.choice(metric, "metric", METRICS)
    masks = _label_maps(masks)
    single = masks.ndim == 2
    masks = masks[None] if single else masks
    out = np.zeros(masks.shape, np.float32)
    for i, mask in enumerate(masks):
        for label in np.unique(mask):
            if ignore_label is not None and label == ignore_label:
                continue
            inside = mask == label
            out[i][inside] = _distance_inside(inside, metric)[inside]
    return out[0] if single else out


def boundary_band(masks, width: float, ignore_label: int | None = VOID_LABEL, *,
                  metric: str = "euclidean") -> np.ndarray:
    """The pixels within ``width`` pixels of a label border: the "trimap" band.

    A border pixel is one of ``borders(masks)``: a void pixel or a pixel whose 4-neighbour
    has another label. The band is what ``metrics.trimap_scores`` evaluates.

    Args:
        masks: (H, W) or (N, H, W) integer class ids.
        width: band half-width in pixels (> 0), measured with ``metric`` ("euclidean" or
            "chessboard") from the nearest border pixel.

    Returns:
        bool array of the masks' shape; all False for a map without borders.
    """
    width = float(width)
    if not width > 0:
        raise ValueError(f"width must be a positive number of pixels, received {width}.")
    _validate.choice(metric, "metric", METRICS)
    edge = borders(masks, ignore_label=ignore_label)
    band = np.zeros(edge.shape, bool)
    for index in np.ndindex(edge.shape[:-2]):
        if edge[index].any():
            band[index] = _distance_inside(~edge[index], metric) <= width
    return band


# --- label maps at a coarser grid (lessons 00, 02 and 03) ------------------------------------

def class_counts_per_block(masks, block: int, num_classes: int) -> np.ndarray:
    """How many pixels of each class every ``block``×``block`` cell holds.

    Void (and any id >= ``num_classes``) counts for no class, so a cell's counts sum to its
    labelled pixels. Divided by ``block ** 2`` they are class shares: an ideal score map at
    output stride ``block``.

    Args:
        masks: (N, H, W) class ids, H and W divisible by ``block``.

    Returns:
        (N, H / block, W / block, num_classes) float32 whole numbers.
    """
    masks = _validate.label_map(masks, "masks", ndim=3, ignore_label=None)
    block = _validate.integer(block, "block", minimum=1)
    num_classes = _validate.integer(num_classes, "num_classes", minimum=1)
    n, h, w = masks.shape
    if h % block or w % block:
        raise ValueError(f"masks of {h}×{w} pixels do not split into {block}×{block} cells; "
                         f"use a block size that divides both sides.")
    one_hot = (masks[..., None] == np.arange(num_classes)).astype(np.float32)  # void: all zeros
    return one_hot.reshape(n, h // block, block, w // block, block, num_classes).sum(axis=(2, 4))


def class_shares_per_block(masks, block: int, num_classes: int) -> np.ndarray:
    """The ideal score map at output stride ``block``: each cell's class shares of its labelled pixels.

    ``class_counts_per_block`` divided by the cell's labelled pixels (void counts for no
    class), so a cell's shares sum to 1, or to 0 for an all-void cell. What
    ``coarse_oracle`` upsamples, and lesson 03's fitting task feeds its upsamplers.

    Returns:
        (N, H / block, W / block, num_classes) float32.
    """
    cells = class_counts_per_block(masks, block, num_classes)
    return cells / np.maximum(cells.sum(axis=-1, keepdims=True), 1.0)


def coarse_oracle(masks, stride: int, num_classes: int) -> np.ndarray:
    """What a perfect-proportions oracle at output stride ``stride`` predicts after bilinear upsampling.

    Each ``stride``×``stride`` cell of the score map holds the *true* class proportions of
    its pixels (void left out): an oracle that is never wrong about its cell. Upsampled
    bilinearly (as ``UpSampling2D(interpolation='bilinear')``) and arg-maxed, it shows what
    a coarse output with these cell scores loses: thin parts and boundaries, not centres.
    It is a reference point, not a ceiling: a network at the same stride may choose other
    cell scores (sharper ones, for instance) and label more boundary pixels right.

    Args:
        masks: (N, H, W) labels, H and W divisible by ``stride``.

    Returns:
        (N, H, W) int class ids.
    """
    import keras

    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    cells = class_shares_per_block(masks, stride, num_classes)
    h, w = np.shape(masks)[1:]
    if stride == 1:
        return cells.argmax(axis=-1)
    scores = keras.ops.image.resize(cells, (h, w), interpolation="bilinear")
    return np.asarray(scores).argmax(axis=-1)
