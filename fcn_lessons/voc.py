"""Segmentation data in the PASCAL VOC layout: one reader and one writer for every data set.

The layout (``VOCdevkit/VOC2012`` is one, and so is ``data/shapes_voc`` of this course)::

    root/
      JPEGImages/<id>.jpg                   RGB photos (.jpeg or .png also accepted)
      SegmentationClass/<id>.png            palette PNGs: pixel value = class id, 255 = void
      ImageSets/Segmentation/<split>.txt    one id per line
      class_names.txt                       optional (this course's addition; VOC has none)

A VOC mask is a *palette* PNG (colour type 3): each pixel stores an index, and the file's
palette only says how to display it. The index is the class id. Reading it as RGB gives
colours, not classes; reading a palette with a library that converts to RGB is a classic
bug, so ``read_voc`` refuses masks that are not palette PNGs.

Nothing is skipped silently: a listed id whose image or mask is missing, a file that
cannot be decoded, a mask whose size differs from its image, or a class id outside the
classes each raise an error naming the file. ``write_voc`` never overwrites a file unless
``overwrite=True``.

Masks are never interpolated: when ``read_voc`` resizes (``size=...``), masks use exact
nearest-neighbour sampling, images area/bilinear interpolation.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from fcn_lessons import _validate
from fcn_lessons.labels import VOC_PALETTE, VOID_LABEL

VOC_CLASS_NAMES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)
IMAGE_DIR = "JPEGImages"
MASK_DIR = "SegmentationClass"
SPLIT_DIR = Path("ImageSets") / "Segmentation"
CLASS_FILE = "class_names.txt"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
IMAGE_FORMATS = {"jpg": ".jpg", "png": ".png"}
DEFAULT_JPEG_QUALITY = 95  # with 4:4:4 chroma: sharp shape edges, files of a few KB at 64×64


class VOCFormatError(ValueError):
    """A file of a VOC-layout folder exists but its content is not what the layout requires."""


# --- class names ---------------------------------------------------------------------------

def read_class_names(root) -> tuple[str, ...]:
    """The class names of a VOC-layout folder: ``class_names.txt`` if present, else VOC's 21."""
    path = Path(root) / CLASS_FILE
    if not path.is_file():
        return VOC_CLASS_NAMES
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(names) < 2 or len(set(names)) != len(names):
        raise VOCFormatError(f"{path}: expected one unique class name per line (at least 2), "
                             f"received {list(names)}.")
    return names


def _check_class_names(root: Path, class_names, overwrite: bool) -> tuple[str, ...]:
    """Validated names; refuses to replace a different class_names.txt unless overwrite."""
    names = tuple(str(n) for n in class_names)
    if len(names) < 2 or len(set(names)) != len(names) or any(not n.strip() or "\n" in n for n in names):
        raise ValueError(f"class_names must be at least 2 unique non-empty names, received {list(class_names)!r}.")
    if len(names) > VOID_LABEL:
        raise ValueError(f"class_names lists {len(names)} classes; ids must stay below {VOID_LABEL} (void).")
    path = root / CLASS_FILE
    if path.is_file() and read_class_names(root) != names and not overwrite:
        raise FileExistsError(f"{path} already lists other classes {list(read_class_names(root))}; "
                              "pass overwrite=True to replace it.")
    return names


# --- single files ----------------------------------------------------------------------------

def _open(path: Path, what: str) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()  # decode now: a truncated or corrupt file fails here, not later
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise VOCFormatError(f"{path}: cannot decode this {what} ({type(err).__name__}: {err}).") from err
    return image


def read_image(path) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a JPEG or PNG file (grey or CMYK files are converted)."""
    path = Path(path)
    image = _open(path, "image")
    return np.asarray(image.convert("RGB") if image.mode != "RGB" else image, dtype=np.uint8).copy()


def read_mask(path, num_classes: int = len(VOC_CLASS_NAMES)) -> np.ndarray:
    """(H, W) uint8 class ids from a palette PNG; ids must be < num_classes or 255 (void)."""
    path = Path(path)
    image = _open(path, "mask")
    if image.format != "PNG":
        raise VOCFormatError(f"{path}: a mask must be a PNG file, this is a {image.format} file.")
    if image.mode != "P":
        raise VOCFormatError(
            f"{path}: not a palette PNG (PIL mode {image.mode!r}, expected 'P'). VOC masks store class "
            "ids as palette indices; an RGB mask holds colours, not class ids. If the grey levels "
            "of a mode 'L' mask are class ids, re-save it as a palette PNG (fcn_lessons.data.write_voc).")
    mask = np.asarray(image, dtype=np.uint8).copy()
    counts = np.bincount(mask.ravel(), minlength=256)
    bad = [i for i in range(num_classes, VOID_LABEL) if counts[i]]
    if bad:
        raise VOCFormatError(
            f"{path}: class ids {bad} at {int(counts[bad].sum())} pixels are outside the "
            f"{num_classes} classes (0..{num_classes - 1}, and {VOID_LABEL} for void). If the data "
            f"set has more classes, list them in {CLASS_FILE} or pass num_classes.")
    return mask


def write_mask(path, mask) -> None:
    """Write (H, W) class ids (0..255, 255 void) as a palette PNG with the VOC colour map."""
    mask = _validate.label_map(mask, "mask", num_classes=VOID_LABEL, ignore_label=VOID_LABEL)
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    image = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.tobytes())
    image.putpalette(VOC_PALETTE.ravel().tolist())
    image.save(path, format="PNG")


def _write_image(path: Path, image: np.ndarray, quality: int) -> None:
    picture = Image.fromarray(image)
    if path.suffix == ".png":
        picture.save(path, format="PNG")
    else:
        picture.save(path, format="JPEG", quality=quality, subsampling=0)


# --- resizing ------------------------------------------------------------------------------

def _size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    return _validate.int_pair(size, "size", minimum=1)


def resize_pair(image: np.ndarray, mask: np.ndarray, size) -> tuple[np.ndarray, np.ndarray]:
    """Resize an image (area when shrinking, else bilinear) and its mask (exact nearest).

    Nearest neighbour never invents a label: every output pixel copies one input pixel.
    ``cv2.INTER_NEAREST_EXACT`` samples at pixel centres, like the image's interpolation,
    so mask and image stay aligned. ``size`` is an int or (height, width).
    """
    height, width = _size(size)
    shrink = height < image.shape[0] and width < image.shape[1]
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    return image, mask


# --- folders -------------------------------------------------------------------------------

def _split_path(root: Path, split: str) -> Path:
    if not isinstance(split, str) or not split or any(c in split for c in "/\\ \t\n"):
        raise ValueError(f"split must be a name such as 'train' or 'val', received {split!r}.")
    return root / SPLIT_DIR / f"{split}.txt"


def _root_hint(root: Path) -> str:
    for guess in (root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (guess / SPLIT_DIR).is_dir():
            return f" Did you mean root={str(guess)!r}?"
    return ""


def read_ids(root, split: str) -> list[str]:
    """The ids listed in ``ImageSets/Segmentation/<split>.txt``, in file order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected a VOC-layout root).")
    path = _split_path(root, split)
    if not path.is_file():
        available = sorted(p.stem for p in (root / SPLIT_DIR).glob("*.txt"))
        where = f"splits there: {', '.join(available)}" if available else f"no {SPLIT_DIR} folder with splits"
        raise FileNotFoundError(f"{path}: no such split file ({where}).{_root_hint(root)}")
    ids, seen = [], {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 1:
            raise VOCFormatError(f"{path}, line {number}: expected one id per line, received {line!r}.")
        if fields[0] in seen:
            raise VOCFormatError(f"{path}, line {number}: id {fields[0]!r} is listed twice "
                                 f"(first on line {seen[fields[0]]}).")
        seen[fields[0]] = number
        ids.append(fields[0])
    if not ids:
        raise VOCFormatError(f"{path}: the split lists no ids.")
    return ids


def _image_path(root: Path, image_id: str, split_file: Path) -> Path:
    found = [root / IMAGE_DIR / f"{image_id}{s}" for s in IMAGE_SUFFIXES
             if (root / IMAGE_DIR / f"{image_id}{s}").is_file()]
    if not found:
        raise FileNotFoundError(f"{root / IMAGE_DIR / (image_id + '.jpg')}: missing image for id "
                                f"{image_id!r} listed in {split_file}.")
    if len(found) > 1:
        raise VOCFormatError(f"id {image_id!r} has several images ({', '.join(p.name for p in found)}) in "
                             f"{root / IMAGE_DIR}; keep one.")
    return found[0]


def read_voc(root, split: str, *, num_classes: int | None = None, size=None,
             ) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Read one split of a VOC-layout folder (real VOC 2012, your own data, the course's).

    Args:
        root: the folder holding ``JPEGImages/``, ``SegmentationClass/``, ``ImageSets/``
            (for VOC 2012: ``.../VOCdevkit/VOC2012``).
        split: the split file's name, e.g. ``"train"``, ``"val"``, ``"trainval"``.
        num_classes: class ids must be below it (255 is void). Default: the length of
            ``class_names.txt`` when the folder has one, else 21 (PASCAL VOC).
        size: None (keep each file's size), an int or (height, width): resize images
            (area/bilinear) and masks (exact nearest neighbour, never interpolated).

    Returns:
        images: list of (H, W, 3) uint8 RGB arrays (sizes may differ: real VOC's do).
        masks: list of (H, W) uint8 class-id arrays, 255 = void, each the size of its image.
        ids: list of str, in the split file's order.

    Raises:
        FileNotFoundError: no such root or split file; a listed id without image or mask.
        VOCFormatError: a file that cannot be decoded, a mask that is not a palette PNG,
            a mask whose size differs from its image, a class id outside the classes.
    """
    root = Path(root)
    ids = read_ids(root, split)
    if num_classes is None:
        num_classes = len(read_class_names(root))
    num_classes = _validate.integer(num_classes, "num_classes", minimum=1, maximum=VOID_LABEL)
    size = _size(size)
    split_file = _split_path(root, split)
    images, masks = [], []
    for image_id in ids:
        image_path = _image_path(root, image_id, split_file)
        mask_path = root / MASK_DIR / f"{image_id}.png"
        if not mask_path.is_file():
            raise FileNotFoundError(f"{mask_path}: missing mask for id {image_id!r} listed in {split_file}.")
        image, mask = read_image(image_path), read_mask(mask_path, num_classes)
        if image.shape[:2] != mask.shape:
            raise VOCFormatError(f"{mask_path}: mask is {mask.shape[0]}×{mask.shape[1]} (H×W) but its image "
                                 f"{image_path.name} is {image.shape[0]}×{image.shape[1]}.")
        if size is not None:
            image, mask = resize_pair(image, mask, size)
        images.append(image)
        masks.append(mask)
    return images, masks, ids


def _as_mask(mask, index: int, image_shape, num_classes: int) -> np.ndarray:
    arr = _validate.label_map(mask, f"masks[{index}]", num_classes=num_classes, ignore_label=VOID_LABEL)
    if arr.shape != tuple(image_shape[:2]):
        raise ValueError(f"masks[{index}] has shape {arr.shape} but images[{index}] is "
                         f"{tuple(image_shape[:2])} (H, W).")
    return arr.astype(np.uint8)


def _check_ids(ids, count: int, split: str) -> list[str]:
    if ids is None:
        return [f"{split}_{i:04d}" for i in range(count)]
    if isinstance(ids, str) or not hasattr(ids, "__len__"):
        raise TypeError(f"ids must be a list of str, received {ids!r}.")
    ids = list(ids)
    if len(ids) != count:
        raise ValueError(f"ids has {len(ids)} entries for {count} images.")
    for i, image_id in enumerate(ids):
        if not isinstance(image_id, str) or not image_id or any(c in image_id for c in "/\\ \t\n") \
                or image_id.startswith("."):
            raise ValueError(f"ids[{i}] must be a file-name-safe str without spaces or slashes, "
                             f"received {image_id!r}.")
    duplicates = sorted({x for x in ids if ids.count(x) > 1})
    if duplicates:
        raise ValueError(f"ids must be unique; repeated: {duplicates[:10]}.")
    return ids


def write_voc(root, split: str, images, masks, *, ids=None, class_names=None,
              image_format: str = "jpg", jpeg_quality: int = DEFAULT_JPEG_QUALITY,
              overwrite: bool = False) -> list[str]:
    """Write images and masks as one split of a VOC-layout folder; returns the ids.

    Args:
        root: the folder (created if needed).
        split: the split's name; writes ``ImageSets/Segmentation/<split>.txt``.
        images: N images (H, W, 3): uint8, or float in [0, 1]; a list or an (N, H, W, 3) array.
        masks: N masks (H, W) of class ids (< number of classes, or 255 for void).
        ids: N unique names; default ``<split>_0000``, ``<split>_0001``...
        class_names: written to ``class_names.txt`` (checked against an existing one);
            default: the folder's own list, else VOC's 21 classes (for the mask check).
        image_format: "jpg" (VOC's, lossy) or "png" (lossless; ``read_voc`` accepts both).
        jpeg_quality: 1..100.
        overwrite: replace existing files of these ids and an existing split file.
            Without it, any existing file is an error and nothing is written.

    Masks are palette PNGs with the VOC colour map, so any image viewer shows the classes
    in VOC colours while the pixel values stay the class ids.
    """
    root = Path(root)
    _split_path(root, split)
    suffix = IMAGE_FORMATS[_validate.choice(image_format, "image_format", tuple(IMAGE_FORMATS))]
    jpeg_quality = _validate.integer(jpeg_quality, "jpeg_quality", minimum=1, maximum=100)
    if len(images) != len(masks):
        raise ValueError(f"images and masks must have the same length, received {len(images)} and {len(masks)}.")
    if not len(images):
        raise ValueError("write_voc needs at least one image (a split cannot be empty).")
    ids = _check_ids(ids, len(images), split)
    names = (_check_class_names(root, class_names, overwrite) if class_names is not None
             else read_class_names(root))
    images = [_validate.image(image, f"images[{i}]") for i, image in enumerate(images)]
    masks = [_as_mask(mask, i, images[i].shape, len(names)) for i, mask in enumerate(masks)]

    split_file = root / SPLIT_DIR / f"{split}.txt"
    targets = [(root / IMAGE_DIR / f"{i}{suffix}", root / MASK_DIR / f"{i}.png") for i in ids]
    if not overwrite:  # check everything before writing anything
        existing = [p for pair in targets for p in pair if p.exists()] + ([split_file] if split_file.exists() else [])
        others = [root / IMAGE_DIR / f"{i}{s}" for i in ids for s in IMAGE_SUFFIXES if s != suffix]
        existing += [p for p in others if p.exists()]
        if existing:
            shown = ", ".join(str(p) for p in existing[:3]) + (" ..." if len(existing) > 3 else "")
            raise FileExistsError(f"write_voc would overwrite {len(existing)} existing file(s): {shown}. "
                                  "Pass overwrite=True, or write to another root or split.")
    for folder in (root / IMAGE_DIR, root / MASK_DIR, root / SPLIT_DIR):
        folder.mkdir(parents=True, exist_ok=True)
    if class_names is not None:
        (root / CLASS_FILE).write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    for image_id, (image_path, mask_path), image, mask in zip(ids, targets, images, masks):
        for other in IMAGE_SUFFIXES:  # with overwrite=True, never leave two images for one id
            stale = root / IMAGE_DIR / f"{image_id}{other}"
            if other != suffix and stale.exists():
                stale.unlink()
        _write_image(image_path, image, jpeg_quality)
        write_mask(mask_path, mask)
    split_file.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    return ids
