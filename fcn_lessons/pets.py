"""Oxford-IIIT Pet as a segmentation data set: pet against background, the border void.

The data set (Parkhi, Vedaldi, Zisserman and Jawahar, "Cats and Dogs", CVPR 2012) comes
as two archives, the layout TensorFlow Datasets' ``oxford_iiit_pet`` builder reads::

    images.tar.gz        images/<Name>_<n>.jpg
    annotations.tar.gz   annotations/trimaps/<Name>_<n>.png   one trimap per image
                         annotations/trainval.txt             the "train" split (3,680 images)
                         annotations/test.txt                 the "test" split (3,669 images)

Each line of a split file is ``<image name> <class id> <species> <breed id>``. A trimap
pixel is 1 for the pet, 2 for background and 3 for the border ("not classified", says
the data set's README). The course maps them to its convention: 0 background, 1 pet,
255 void (:data:`TRIMAP_TO_CLASS`), so the loss and the metrics ignore the border.

Two ways in, the same result:

- :func:`read_archives`: reads the two archives directly with Python's ``tarfile`` (no
  extra package). Download them once by hand and point ``manual_dir`` at their folder;
  :func:`write_voc_folder` turns them into a VOC-layout folder for ``pipeline.from_voc``.
- :func:`load_tfds`: ``tensorflow-datasets`` (an optional extra: ``pip install
  tensorflow-datasets``), which downloads, or uses the same two files placed in its
  ``manual_dir`` (it then checks them against its recorded checksums).

The tests use :func:`write_fixture_archives`: a few generated scenes in exactly this layout.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.labels import VOID_LABEL

IMAGES_ARCHIVE = "images.tar.gz"
ANNOTATIONS_ARCHIVE = "annotations.tar.gz"
SPLIT_FILES = {"train": "annotations/trainval.txt", "test": "annotations/test.txt"}
SPLIT_SIZES = {"train": 3680, "test": 3669}  # tensorflow-datasets' catalog, oxford_iiit_pet
CLASS_NAMES = ("background", "pet")
PET, BACKGROUND, BORDER = 1, 2, 3  # trimap values
TRIMAP_TO_CLASS = {PET: 1, BACKGROUND: 0, BORDER: VOID_LABEL}
TFDS_NAME = "oxford_iiit_pet"
INSTALL_HINT = "pip install tensorflow-datasets  (an optional extra of the course: pip install 'fcn-lessons[pets]')"


class PetsFormatError(ValueError):
    """An archive exists but does not hold what the Oxford-IIIT Pet layout requires."""


def trimap_to_mask(trimap, *, name: str = "trimap") -> np.ndarray:
    """(H, W) trimap (1 pet, 2 background, 3 border) -> (H, W) uint8 mask (1, 0, 255).

    Any other value is an error naming ``name``: nothing is silently relabelled.
    """
    trimap = _validate.array(trimap, name, ndim=(2, 3), kinds="iu")
    if trimap.ndim == 3:
        if trimap.shape[2] != 1:
            raise ValueError(f"{name} must be (H, W) or (H, W, 1), received shape {trimap.shape}.")
        trimap = trimap[..., 0]
    lookup = np.full(256, -1, np.int16)
    for value, label in TRIMAP_TO_CLASS.items():
        lookup[value] = label
    if trimap.max(initial=0) > 255:
        raise PetsFormatError(f"{name} holds values above 255; a trimap holds 1, 2 and 3.")
    mask = lookup[trimap]
    if (mask < 0).any():
        unknown = np.unique(trimap[mask < 0]).tolist()[:10]
        raise PetsFormatError(f"{name} holds values {unknown}; a trimap holds only 1 (pet), 2 (background) "
                              "and 3 (border).")
    return mask.astype(np.uint8)


def _archives(manual_dir) -> tuple[Path, Path]:
    manual_dir = Path(manual_dir)
    if not manual_dir.is_dir():
        raise FileNotFoundError(f"{manual_dir}: no such folder (expected the folder holding {IMAGES_ARCHIVE} "
                                f"and {ANNOTATIONS_ARCHIVE}).")
    paths = manual_dir / IMAGES_ARCHIVE, manual_dir / ANNOTATIONS_ARCHIVE
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{manual_dir}: missing {', '.join(missing)}. Download the Oxford-IIIT Pet "
                                "archives by hand (the data set's page) into this folder.")
    return paths


def _member(archive: tarfile.TarFile, path: str, archive_path: Path) -> bytes:
    try:
        member = archive.getmember(path)
    except KeyError:
        raise PetsFormatError(f"{archive_path}: no member {path!r}.") from None
    handle = archive.extractfile(member)
    if handle is None:
        raise PetsFormatError(f"{archive_path}: {path!r} is not a file.")
    return handle.read()


def _split_names(text: str, where: str) -> list[str]:
    names = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != 4:
            raise PetsFormatError(f"{where}, line {number}: expected '<name> <class> <species> <breed>', "
                                  f"received {line!r}.")
        names.append(fields[0])
    if not names:
        raise PetsFormatError(f"{where}: the split lists no images.")
    return names


def read_archives(manual_dir, split: str = "train", *, size=None, limit: int | None = None):
    """Images and course masks of one split, read straight from the two archives.

    Args:
        manual_dir: the folder holding ``images.tar.gz`` and ``annotations.tar.gz``.
        split: "train" (``trainval.txt``) or "test" (``test.txt``), tfds' names.
        size: None (each image's own size), an int or (height, width): images resized
            with area/bilinear interpolation, masks with exact nearest neighbour.
        limit: read only the first ``limit`` images of the split.

    Returns:
        (images, masks, names): lists of (H, W, 3) uint8 RGB images, (H, W) uint8 masks
        (0 background, 1 pet, 255 border), and the image names, in the split file's order.
    """
    from PIL import Image

    from fcn_lessons import voc

    _validate.choice(split, "split", tuple(SPLIT_FILES))
    if limit is not None:
        limit = _validate.integer(limit, "limit", minimum=1)
    images_path, annotations_path = _archives(manual_dir)
    images, masks, kept = [], [], []
    with tarfile.open(images_path, "r:*") as image_tar, tarfile.open(annotations_path, "r:*") as notes_tar:
        names = _split_names(_member(notes_tar, SPLIT_FILES[split], annotations_path).decode("utf-8"),
                             f"{annotations_path}:{SPLIT_FILES[split]}")
        for name in names[:limit]:
            picture = Image.open(io.BytesIO(_member(image_tar, f"images/{name}.jpg", images_path)))
            image = np.asarray(picture.convert("RGB"), dtype=np.uint8)
            trimap_name = f"annotations/trimaps/{name}.png"
            trimap = np.asarray(Image.open(io.BytesIO(_member(notes_tar, trimap_name, annotations_path))))
            mask = trimap_to_mask(trimap, name=f"{annotations_path}:{trimap_name}")
            if mask.shape != image.shape[:2]:
                raise PetsFormatError(f"{trimap_name} is {mask.shape} but images/{name}.jpg is {image.shape[:2]}.")
            if size is not None:
                image, mask = voc.resize_pair(image, mask, size)
            images.append(image)
            masks.append(mask)
            kept.append(name)
    return images, masks, kept


def write_voc_folder(manual_dir, root, *, size=None, limit: int | None = None, overwrite: bool = False) -> Path:
    """Convert the archives into a VOC-layout folder (splits "train" and "test"); returns ``root``.

    Then ``pipeline.from_voc(root, "train", ...)`` reads the pets like any other data.
    """
    from fcn_lessons import voc

    root = Path(root)
    for split in SPLIT_FILES:
        images, masks, names = read_archives(manual_dir, split, size=size, limit=limit)
        voc.write_voc(root, split, images, masks, ids=names, class_names=CLASS_NAMES, overwrite=overwrite)
    return root


def _tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:
        raise ImportError(f"load_tfds needs tensorflow-datasets, which is not installed: {INSTALL_HINT}. "
                          "Without it, read the archives with pets.read_archives(manual_dir).") from err
    return tfds


def load_tfds(split: str = "train", *, data_dir=None, manual_dir=None):
    """Oxford-IIIT Pet through tensorflow-datasets: a ``tf.data.Dataset`` of (image, mask) pairs.

    The masks are mapped to the course convention (0 background, 1 pet, 255 border).
    With ``manual_dir``, tfds takes ``images.tar.gz`` and ``annotations.tar.gz`` from that
    folder instead of downloading them (and verifies their recorded checksums).

    Returns:
        dataset of uint8 (H, W, 3) images and uint8 (H, W) masks, unbatched, in tfds' order.
    """
    tfds = _tfds()
    from fcn_lessons.environment import _import_tensorflow

    tf = _import_tensorflow()
    _validate.choice(split, "split", tuple(SPLIT_FILES))
    kwargs = {}
    if manual_dir is not None:
        kwargs["download_and_prepare_kwargs"] = {
            "download_config": tfds.download.DownloadConfig(manual_dir=str(manual_dir))}
    dataset = tfds.load(TFDS_NAME, split=split, data_dir=None if data_dir is None else str(data_dir), **kwargs)
    table = tf.constant([VOID_LABEL] + [TRIMAP_TO_CLASS.get(v, VOID_LABEL) for v in range(1, 256)], tf.uint8)

    def pair(example):
        trimap = tf.cast(example["segmentation_mask"][..., 0], tf.int32)
        return example["image"], tf.gather(table, trimap)

    return dataset.map(pair, num_parallel_calls=tf.data.AUTOTUNE)


def write_fixture_archives(directory, *, num_train: int = 4, num_test: int = 2, image_size: int = 64,
                           seed: int = 0) -> Path:
    """Write a small fake Oxford-IIIT Pet in the real archives' layout (course scenes as "pets").

    Every object of a course scene becomes pet (trimap 1), the rest background (2), and
    the void borders the trimap border (3). Returns ``directory``.
    """
    from PIL import Image

    from fcn_lessons import data

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    count = num_train + num_test
    images, masks = data.make_shapes(count, image_size, seed=seed)
    trimaps = np.where(masks == VOID_LABEL, BORDER, np.where(masks > 0, PET, BACKGROUND)).astype(np.uint8)
    names = [f"{'Abyssinian' if i % 2 else 'beagle'}_{i + 1}" for i in range(count)]

    def add(archive, path, payload):
        info = tarfile.TarInfo(path)
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))

    def encoded(array, format_name):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format=format_name, **({"quality": 95} if format_name == "JPEG" else {}))
        return buffer.getvalue()

    with tarfile.open(directory / IMAGES_ARCHIVE, "w:gz") as archive:
        for name, image in zip(names, images):
            add(archive, f"images/{name}.jpg", encoded(image, "JPEG"))
    with tarfile.open(directory / ANNOTATIONS_ARCHIVE, "w:gz") as archive:
        for name, trimap in zip(names, trimaps):
            add(archive, f"annotations/trimaps/{name}.png", encoded(trimap, "PNG"))
        lines = {"train": names[:num_train], "test": names[num_train:]}
        for split, path in SPLIT_FILES.items():
            text = "".join(f"{n} {1 + i % 2} {1 + i % 2} 1\n" for i, n in enumerate(lines[split]))
            add(archive, path, text.encode("utf-8"))
    return directory
