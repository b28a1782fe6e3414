"""The course's embedded data set: shapes on textured backgrounds.

Nothing is downloaded: images are drawn on the fly, deterministically for a seed.
The data set is built to teach (see lesson 00):

- class is *shape*, not colour: every object and every background draws its colour
  from the same distribution, so a per-pixel colour classifier is no better than chance;
- objects range from small to a large share of the image, so the flat centre of a big
  object can only be labelled by a unit that sees its outline (a large receptive field);
- backgrounds are textured and noisy, objects occlude each other, and object borders
  are marked 255 ("void"), as in PASCAL VOC.

Shapes: images ``(N, H, W, 3)`` uint8, masks ``(N, H, W)`` uint8 with class ids and 255.

Also here: ``read_voc`` / ``write_voc`` (PASCAL VOC folders, from ``fcn_lessons.voc``),
the measures behind the design (``interior_pixels``, ``colour_classifier_accuracy``), and
the committed fixture ``data/shapes_voc``::

    python -m fcn_lessons.data write-fixtures data    # what `make data` runs
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

from fcn_lessons import _validate
from fcn_lessons import labels as _labels
from fcn_lessons.labels import VOID_LABEL
from fcn_lessons.voc import read_voc, write_voc  # noqa: F401  (public: fcn_lessons.data.read_voc)

CLASS_NAMES = ("background", "circle", "square", "triangle", "cross")
SHAPE_NAMES = CLASS_NAMES[1:]
NUM_CLASSES = len(CLASS_NAMES)

MIN_IMAGE_SIZE = 16  # below this the smallest object is a few pixels of void border
# Object size (diameter of the circle through its outermost points) as a fraction of
# the image side, drawn log-uniformly: from small objects to ones filling most of it.
DEFAULT_OBJECT_SIZE = (0.15, 0.75)
DEFAULT_NUM_OBJECTS = (1, 4)
MIN_OBJECT_PIXELS = 6  # an object smaller than this is mostly void border
_MIN_CONTRAST = 0.3  # minimum RGB distance between an object and the background under it
_SUBPIXEL_BITS = 4  # cv2 drawing with 1/16-pixel vertex precision


def _colour(rng: np.random.Generator) -> np.ndarray:
    """One RGB colour in [0, 1]; the same distribution for every class and the background."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(60, 255), rng.uniform(60, 255)]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0


def _smooth_noise(size: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size, 3) float32 noise with about ``cells`` bumps per side."""
    grid = rng.standard_normal((cells + 1, cells + 1, 3)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size, 3) float32: a colour with low- and mid-frequency texture."""
    base = _colour(rng)
    colour_blotches = 0.10 * _smooth_noise(size, 3, rng)
    grey = _smooth_noise(size, max(4, size // 6), rng)
    # The channel mean, written out: bit-identical to grey.mean(axis=2) and 10× faster.
    grain = 0.07 * (((grey[..., 0] + grey[..., 1]) + grey[..., 2]) / np.float32(3))[..., None]
    return base + colour_blotches + grain


def _outline(shape: str, centre, radius: float, angle: float) -> np.ndarray | None:
    """Polygon vertices (k, 2) in (x, y) pixels, or None for a circle."""
    if shape == "circle":
        return None
    if shape == "square":
        angles = angle + np.arange(4) * (math.pi / 2)
        pts = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    elif shape == "triangle":
        angles = angle + np.arange(3) * (2 * math.pi / 3)
        pts = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    elif shape == "cross":
        arm, half = radius, 0.32 * radius  # a plus sign: two bars of width 0.64 r
        pts = np.array([
            (half, half), (arm, half), (arm, -half), (half, -half), (half, -arm), (-half, -arm),
            (-half, -half), (-arm, -half), (-arm, half), (-half, half), (-half, arm), (half, arm),
        ], dtype=np.float64)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        pts = pts @ rot.T
    else:  # pragma: no cover - names are validated by the public functions
        raise ValueError(shape)
    return pts + np.asarray(centre, dtype=np.float64)


def _coverage(size: int, shape: str, centre, radius: float, angle: float) -> np.ndarray:
    """(size, size) uint8 anti-aliased coverage of one object, 0..255."""
    canvas = np.zeros((size, size), np.uint8)
    scale = 1 << _SUBPIXEL_BITS
    outline = _outline(shape, centre, radius, angle)
    if outline is None:
        centre_fixed = tuple(int(round(c * scale)) for c in centre)
        cv2.circle(canvas, centre_fixed, int(round(0.9 * radius * scale)), 255, -1,
                   cv2.LINE_AA, _SUBPIXEL_BITS)
    else:
        cv2.fillPoly(canvas, [np.round(outline * scale).astype(np.int32)], 255,
                     cv2.LINE_AA, _SUBPIXEL_BITS)
    return canvas


def _void_border(label: np.ndarray) -> np.ndarray:
    """Boolean (H, W): pixels whose 4-neighbourhood holds another label (a 2-pixel band)."""
    return _labels.borders(label, ignore_label=None)


def _render(size: int, objects: list[tuple[int, tuple, float, float]],
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``objects`` (class id, centre (x, y), radius, angle), back to front."""
    image = _background(size, rng)
    label = np.zeros((size, size), np.uint8)
    for class_id, centre, radius, angle in objects:
        alpha = _coverage(size, CLASS_NAMES[class_id], centre, radius, angle)
        cx, cy = (int(np.clip(c, 0, size - 1)) for c in centre)
        under = image[cy, cx].copy()
        colour = _colour(rng)
        for _ in range(20):  # keep the object visible against what lies under its centre
            if np.linalg.norm(colour - under) >= _MIN_CONTRAST:
                break
            colour = _colour(rng)
        x, y, w, h = cv2.boundingRect(alpha)  # blend only where the object has coverage
        if w == 0:
            continue
        box = (slice(y, y + h), slice(x, x + w))
        a = alpha[box].astype(np.float32)[..., None] / 255.0
        image[box] = image[box] * (1.0 - a) + colour * a
        label[box][alpha[box] >= 128] = class_id
    mask = label.copy()
    mask[_void_border(label)] = VOID_LABEL
    image += rng.normal(0.0, 0.03, image.shape).astype(np.float32)  # sensor noise everywhere
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8), mask


def _class_ids(classes) -> list[int]:
    if classes is None:
        return list(range(1, NUM_CLASSES))
    if isinstance(classes, str) or not hasattr(classes, "__iter__"):
        raise TypeError(f"classes must be a list of shape names, received {classes!r}.")
    ids = []
    for name in classes:
        if name not in SHAPE_NAMES:
            raise ValueError(
                f"Unknown class {name!r} in classes; the shapes are {', '.join(SHAPE_NAMES)}."
            )
        ids.append(CLASS_NAMES.index(name))
    if not ids:
        raise ValueError("classes must name at least one shape, received an empty list.")
    return ids


def _range(value, name: str, *, low: float, high: float) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (min, max), received {value!r}.")
    lo, hi = (float(v) for v in value)
    if not (low <= lo <= hi <= high):
        raise ValueError(f"{name} must satisfy {low} <= min <= max <= {high}, received {value!r}.")
    return lo, hi


def make_shapes(num_images: int, image_size: int = 64, seed: int = 0, *,
                num_objects=DEFAULT_NUM_OBJECTS, object_size=DEFAULT_OBJECT_SIZE,
                classes=None) -> tuple[np.ndarray, np.ndarray]:
    """The course data set: ``num_images`` random scenes of shapes.

    Image ``i`` depends only on ``(seed, i, image_size)`` and the keyword arguments, so
    ``make_shapes(10)[0][:5]`` equals ``make_shapes(5)[0]``.

    Args:
        num_images: number of scenes (>= 0).
        image_size: side of the square images in pixels (>= 16).
        seed: non-negative int.
        num_objects: (min, max) objects per image, each drawn uniformly.
        object_size: (min, max) object diameter as a fraction of ``image_size``,
            drawn log-uniformly.
        classes: shape names to draw from (default: all of ``SHAPE_NAMES``).

    Returns:
        images: (N, image_size, image_size, 3) uint8.
        masks: (N, image_size, image_size) uint8; 0 background, 1.. shapes, 255 void.
    """
    num_images = _validate.integer(num_images, "num_images", minimum=0)
    image_size = _validate.integer(image_size, "image_size", minimum=MIN_IMAGE_SIZE)
    seed = _validate.integer(seed, "seed", minimum=0)
    lo_n, hi_n = _validate.int_pair(num_objects, "num_objects", minimum=0)
    if lo_n > hi_n:
        raise ValueError(f"num_objects must be (min, max) with min <= max, received {num_objects!r}.")
    lo_s, hi_s = _range(object_size, "object_size", low=0.0, high=1.0)
    if lo_s * image_size < MIN_OBJECT_PIXELS:
        raise ValueError(
            f"object_size min {lo_s} gives objects of {lo_s * image_size:.1f} px in "
            f"{image_size}-px images; objects need at least {MIN_OBJECT_PIXELS} px. "
            "Use a larger image_size or object_size."
        )
    ids = _class_ids(classes)

    images = np.empty((num_images, image_size, image_size, 3), np.uint8)
    masks = np.empty((num_images, image_size, image_size), np.uint8)
    for i in range(num_images):
        rng = np.random.default_rng([seed, i, image_size])
        objects = []
        for _ in range(rng.integers(lo_n, hi_n + 1)):
            diameter = image_size * math.exp(rng.uniform(math.log(lo_s), math.log(hi_s)))
            radius = diameter / 2
            # centre such that most of the object is inside the image
            margin = min(0.6 * radius, image_size / 2)
            centre = tuple(rng.uniform(margin, image_size - margin, size=2))
            objects.append((int(rng.choice(ids)), centre, radius, rng.uniform(0, 2 * math.pi)))
        images[i], masks[i] = _render(image_size, objects, rng)
    return images, masks


def make_shape_crops(num_images: int, crop_size: int = 32, seed: int = 0, *,
                     background_fraction: float = 0.4, object_size=(0.5, 0.9),
                     ) -> tuple[np.ndarray, np.ndarray]:
    """A classification version of the data set: label a crop by the class at its centre.

    Each crop shows one or two shapes; its label is the class of its centre pixel, so
    a classifier of these crops, convolutionalized (lesson 01), labels the centre of
    every window: a coarse segmentation. Object crops hold a shape over the centre
    (not always centred); background crops may show shapes away from the centre.

    Args:
        num_images: number of crops.
        crop_size: side in pixels (>= 16).
        background_fraction: share of crops whose centre is background (label 0).
        object_size: (min, max) object diameter as a fraction of ``crop_size``.

    Returns:
        images: (N, crop_size, crop_size, 3) uint8.
        labels: (N,) uint8 class ids (0 background, 1.. the shapes of ``CLASS_NAMES``).
    """
    num_images = _validate.integer(num_images, "num_images", minimum=0)
    crop_size = _validate.integer(crop_size, "crop_size", minimum=MIN_IMAGE_SIZE)
    seed = _validate.integer(seed, "seed", minimum=0)
    if not 0.0 <= float(background_fraction) <= 1.0:
        raise ValueError(f"background_fraction must be in [0, 1], received {background_fraction!r}.")
    lo_s, hi_s = _range(object_size, "object_size", low=0.0, high=1.0)

    images = np.empty((num_images, crop_size, crop_size, 3), np.uint8)
    labels = np.empty((num_images,), np.uint8)
    middle = crop_size // 2
    for i in range(num_images):
        rng = np.random.default_rng([seed, i, crop_size, 1])
        target = 0 if rng.uniform() < background_fraction else int(rng.integers(1, NUM_CLASSES))
        while True:  # redraw until the centre shows the target class (a few tries at most)
            objects = []
            for class_id in ([target] if target else []) + [int(rng.integers(1, NUM_CLASSES))] * int(rng.integers(0, 2)):
                radius = crop_size * rng.uniform(lo_s, hi_s) / 2
                if class_id == target and not objects:  # the target covers the centre
                    centre = middle + rng.uniform(-0.8, 0.8, size=2) * radius
                else:  # a distractor anywhere
                    centre = rng.uniform(0, crop_size, size=2)
                objects.append((class_id, tuple(centre), radius, rng.uniform(0, 2 * math.pi)))
            objects.reverse()  # the target is drawn last, on top
            image, mask = _render(crop_size, objects, rng)
            if (mask[middle - 1:middle + 2, middle - 1:middle + 2] == target).all():
                break
        images[i], labels[i] = image, target
    return images, labels


# --- label maps at a coarser grid (lessons 02 and 03) -----------------------------------------

def class_counts_per_block(masks, block: int, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """``labels.class_counts_per_block`` with the course's classes by default (its old home)."""
    return _labels.class_counts_per_block(masks, block, num_classes)


# --- measures of the design (used by lesson 00 and tests/test_data.py) -----------------------

def interior_pixels(masks, window: int = 9) -> np.ndarray:
    """Object pixels whose ``window``×``window`` neighbourhood holds only their own class.

    Such a pixel sees flat colour all around: a network that looks at no more than that
    window cannot tell which shape it belongs to (the colours say nothing about the class).
    Pixels beyond the image edge count as neither the class nor another one.

    Args:
        masks: (H, W) or (N, H, W) integer class ids, 0 background, 255 void.
        window: odd side of the neighbourhood in pixels (>= 1).

    Returns:
        bool array of the shape of ``masks``; False on background and void.
    """
    window = _validate.integer(window, "window", minimum=1)
    if window % 2 == 0:
        raise ValueError(f"window must be odd (a centred neighbourhood), received {window}.")
    masks = _validate.label_map(masks, "masks", ndim=(2, 3), ignore_label=VOID_LABEL)
    kernel = np.ones((window, window), np.uint8)
    out = np.zeros(masks.shape, bool)
    for index in np.ndindex(masks.shape[:-2]):
        mask = masks[index]
        for class_id in np.unique(mask):
            if class_id in (0, VOID_LABEL):
                continue
            inside = cv2.erode((mask == class_id).astype(np.uint8), kernel)  # the border counts as inside
            out[index] |= inside.astype(bool)
    return out


def colour_classifier_accuracy(train_images, train_masks, test_images, test_masks, *,
                               classes=SHAPE_NAMES, bins: int = 16) -> tuple[float, float]:
    """How well a pixel's colour alone predicts its class, against the best constant guess.

    A histogram classifier (the Bayes-optimal rule for colours quantised to ``bins`` levels
    per channel) is fitted on the pixels of ``classes`` in the training images and
    evaluated on those of the test images.

    Args:
        train_images, test_images: (N, H, W, 3) uint8 (or float in [0, 1]).
        train_masks, test_masks: (N, H, W) class ids.
        classes: names from ``CLASS_NAMES`` whose pixels are classified (default: the shapes).
        bins: levels per channel (2..256).

    Returns:
        (accuracy of the colour classifier, accuracy of always answering the most common class).
    """
    bins = _validate.integer(bins, "bins", minimum=2, maximum=256)
    unknown = [name for name in classes if name not in CLASS_NAMES]
    if unknown or len(classes) < 2:
        raise ValueError(f"classes must name at least two of {CLASS_NAMES}, received {classes!r}.")
    ids = np.array([CLASS_NAMES.index(name) for name in classes])

    def colour_index(images):
        q = _validate.image(images, "images", batch=True).astype(np.int64) * bins // 256
        return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]

    train_index, test_index = colour_index(train_images), colour_index(test_images)
    train_masks, test_masks = np.asarray(train_masks), np.asarray(test_masks)
    histogram = np.stack([np.bincount(train_index[train_masks == c], minlength=bins ** 3) for c in ids], axis=1)
    selected = np.isin(test_masks, ids)
    truth = test_masks[selected]
    if truth.size == 0:
        raise ValueError(f"the test masks hold no pixels of {list(classes)}.")
    predicted = ids[histogram[test_index[selected]].argmax(axis=1)]
    chance = np.bincount(truth, minlength=NUM_CLASSES).max() / truth.size
    return float((predicted == truth).mean()), float(chance)


# --- the committed fixture data/shapes_voc ----------------------------------------------------

FIXTURE_NAME = "shapes_voc"
FIXTURE_IMAGE_SIZE = 64
FIXTURE_SPLITS = {"train": (8, 100), "val": (4, 200)}  # split: (number of images, make_shapes seed)


def write_fixtures(directory) -> Path:
    """(Re)write ``<directory>/shapes_voc``: ``make_shapes`` scenes in the VOC layout.

    The folder is generated: it is rebuilt whole (written beside it, then swapped in), so
    files of an older version never linger. Returns its path.
    """
    directory = Path(directory)
    target, staging = directory / FIXTURE_NAME, directory / f"{FIXTURE_NAME}.new"
    if staging.exists():
        shutil.rmtree(staging)  # left over from an interrupted run of this function
    for split, (count, seed) in FIXTURE_SPLITS.items():
        images, masks = make_shapes(count, FIXTURE_IMAGE_SIZE, seed=seed)
        write_voc(staging, split, images, masks, class_names=CLASS_NAMES)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fcn_lessons.data",
                                     description="The course data set's command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    fixtures = commands.add_parser("write-fixtures", help=f"rewrite DIRECTORY/{FIXTURE_NAME} (VOC layout)")
    fixtures.add_argument("directory")
    args = parser.parse_args(argv)
    target = write_fixtures(args.directory)
    counts = ", ".join(f"{split} {count}" for split, (count, _) in FIXTURE_SPLITS.items())
    print(f"wrote {target} ({counts} images of {FIXTURE_IMAGE_SIZE}×{FIXTURE_IMAGE_SIZE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
