"""Input pipelines: ``tf.data`` from arrays and from VOC-layout folders, and the naive loader.

What makes an input pipeline fast (lesson 06 measures each):

- decode once: files are read and decoded in parallel a single time and kept in memory
  (the role of ``Dataset.cache``), not decoded again every epoch;
- work in parallel and ahead: augmentation runs as a parallel ``map`` and batches are
  prepared while the model trains on the previous one (``prefetch``);
- batch: the model sees a batch per step, so per-step overheads are paid once per batch.

What keeps it right:

- masks keep their class ids. A VOC mask is a palette PNG: each pixel stores an index
  into the file's palette, and the index is the class. ``tf.io.decode_png`` converts a
  palette image to its colours (and ``channels=1`` to grey levels), never to indices, so
  masks are decoded here with Pillow, which returns the stored indices
  (:func:`decode_mask`). Colours cannot be mapped back safely either: a palette may hold
  the same colour twice, for instance in unused entries;
- every random choice is a function of ``(seed, epoch, position)``: the same seed gives
  the same batches on every run, and a run resumed at epoch 5 (``BackupAndRestore``) sees
  exactly the batches of epoch 5 of an uninterrupted run, provided the pipeline knows the
  epoch: pass an :class:`EpochClock` and its ``callback()`` to ``fit``.

:class:`NaiveLoader` is the blog post's ``DataLoader``, corrected only enough to return
labels: it reads one file at a time in Python, every step, and hands Keras one batch at
a time. It is the baseline of ``python -m fcn_lessons.bench pipeline``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from fcn_lessons import _validate, augment as _augment, voc
from fcn_lessons.labels import VOID_LABEL

DEFAULT_SHUFFLE_SEED = 0
_MASK_CHECK_FILE = "mask file"


def _tf():
    from fcn_lessons.environment import _import_tensorflow

    return _import_tensorflow()


# --- the epoch the randomness is drawn from ------------------------------------------------------

class EpochClock:
    """The epoch number a pipeline draws its shuffle order and augmentations from.

    Keras iterates a finite dataset anew every epoch. Without a clock, a pipeline counts
    its own iterations (epoch 0, 1, 2 ... since the process started), so a run resumed
    in a new process would repeat epoch 0's batches. With a clock, ``fit`` tells the
    pipeline the epoch it is in::

        clock = pipeline.EpochClock()
        train = pipeline.from_arrays(images, masks, batch_size=16, epoch_clock=clock)
        model.fit(train, epochs=10, callbacks=[clock.callback(), ...])

    Put ``clock.callback()`` after ``BackupAndRestore`` in the list: it only reads the
    epoch Keras announces, so the order does not matter for correctness.
    """

    def __init__(self, epoch: int = 0):
        tf = _tf()
        epoch = _validate.integer(epoch, "epoch", minimum=0)
        self.variable = tf.Variable(epoch, dtype=tf.int64, trainable=False, name="pipeline_epoch")

    @property
    def epoch(self) -> int:
        return int(self.variable.numpy())

    def set(self, epoch: int) -> None:
        self.variable.assign(_validate.integer(epoch, "epoch", minimum=0))

    def callback(self):
        """A Keras callback that sets the clock at the start of every epoch of ``fit``."""
        import keras

        clock = self

        class _SetEpoch(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                clock.set(epoch)

        return _SetEpoch()


# --- decoding -----------------------------------------------------------------------------------

def _mask_indices(data: bytes, num_classes: int, name: str = _MASK_CHECK_FILE) -> np.ndarray:
    """(H, W) uint8 palette indices of a palette PNG's bytes; errors name ``name``."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(data, np.ndarray):  # what tf.numpy_function hands over: a 0-d array of bytes
        data = data.item()
    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise voc.VOCFormatError(f"{name}: cannot decode this mask ({type(err).__name__}: {err}).") from err
    if picture.format != "PNG" or picture.mode != "P":
        raise voc.VOCFormatError(
            f"{name}: a mask must be a palette PNG (PIL mode 'P'); this is {picture.format} mode "
            f"{picture.mode!r}. Its pixels would be colours or grey levels, not class ids.")
    indices = np.asarray(picture, dtype=np.uint8)
    bad = (indices >= num_classes) & (indices != VOID_LABEL)
    if bad.any():
        raise voc.VOCFormatError(f"{name}: class ids {np.unique(indices[bad])[:10].tolist()} are outside "
                                 f"0..{num_classes - 1} and {VOID_LABEL} (void).")
    return indices


def decode_mask(png_bytes, num_classes: int = len(voc.VOC_CLASS_NAMES)):
    """Palette PNG bytes (a scalar string tensor) -> (H, W) uint8 class ids, inside ``tf.data`` too.

    The pixel values are the indices stored in the file (Pillow reads them as they are),
    not the palette's colours that ``tf.io.decode_png`` returns. A file that is not a
    palette PNG, or holds ids >= ``num_classes`` other than 255, raises an error that
    names the problem (``InvalidArgumentError`` inside a graph).
    """
    tf = _tf()
    num_classes = _validate.integer(num_classes, "num_classes", minimum=1, maximum=VOID_LABEL)

    def indices(data):
        return _mask_indices(data, num_classes)

    mask = tf.numpy_function(indices, [png_bytes], tf.uint8, stateful=False, name="decode_palette_mask")
    return tf.ensure_shape(mask, [None, None])


def decode_image(encoded):
    """JPEG or PNG bytes -> (H, W, 3) uint8 RGB (grey files repeated into three channels).

    JPEGs are decoded with the accurate integer DCT, as Pillow does (``voc.read_image``),
    so both readers give the same pixels up to rounding.
    """
    tf = _tf()
    image = tf.cond(tf.io.is_jpeg(encoded),
                    lambda: tf.io.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE"),
                    lambda: tf.io.decode_png(encoded, channels=3))
    return tf.ensure_shape(image, [None, None, 3])


# --- what the pipeline holds in memory -----------------------------------------------------------

class _Store:
    """Decoded images and masks in memory, readable by index inside a graph.

    Equal sizes: dense (N, H, W, 3) and (N, H, W) uint8 tensors. Different sizes: every
    pair flattened into one long pixel tensor, with each pair's start, height and width.
    """

    def __init__(self, images, masks):
        tf = _tf()
        self.count = len(images)
        shapes = {image.shape[:2] for image in images}
        self.dense = len(shapes) == 1
        if self.dense:
            self.images = tf.constant(np.stack(images).astype(np.uint8))
            self.masks = tf.constant(np.stack(masks).astype(np.uint8))
            self.size = next(iter(shapes))
        else:
            sizes = np.array([image.shape[:2] for image in images], np.int64)
            pixels = sizes[:, 0] * sizes[:, 1]
            self.starts = tf.constant(np.concatenate([[0], np.cumsum(pixels)[:-1]]))
            self.heights, self.widths = tf.constant(sizes[:, 0]), tf.constant(sizes[:, 1])
            self.images = tf.constant(np.concatenate([image.reshape(-1, 3) for image in images]).astype(np.uint8))
            self.masks = tf.constant(np.concatenate([mask.reshape(-1) for mask in masks]).astype(np.uint8))
            self.size = None

    def read(self, index):
        """(H, W, 3) uint8 image and (H, W) uint8 mask number ``index``."""
        tf = _tf()
        if self.dense:
            return tf.gather(self.images, index), tf.gather(self.masks, index)
        start, height, width = (tf.gather(t, index) for t in (self.starts, self.heights, self.widths))
        count = height * width
        image = tf.reshape(self.images[start:start + count], tf.stack([height, width, 3]))
        mask = tf.reshape(self.masks[start:start + count], tf.stack([height, width]))
        return image, mask


def _check_pairs(images, masks):
    if isinstance(images, np.ndarray) and images.ndim == 4:
        images = list(images)
    if isinstance(masks, np.ndarray) and masks.ndim == 3:
        masks = list(masks)
    if not isinstance(images, (list, tuple)) or not isinstance(masks, (list, tuple)):
        raise TypeError("images and masks must be arrays (N, H, W, 3) and (N, H, W), or lists of (H, W, 3) "
                        f"and (H, W) arrays; received {type(images).__name__} and {type(masks).__name__}.")
    if len(images) != len(masks):
        raise ValueError(f"images and masks must have the same length, received {len(images)} and {len(masks)}.")
    if not images:
        raise ValueError("a pipeline needs at least one image; received none.")
    images = [_validate.image(image, f"images[{i}]", dtype="uint8") for i, image in enumerate(images)]
    checked = []
    for i, (image, mask) in enumerate(zip(images, masks)):
        mask = _validate.label_map(mask, f"masks[{i}]", ignore_label=VOID_LABEL, num_classes=VOID_LABEL)
        if mask.shape != image.shape[:2]:
            raise ValueError(f"masks[{i}] is {mask.shape} but images[{i}] is {image.shape[:2]} (H, W).")
        checked.append(mask)
    return images, checked


# --- the pipeline ------------------------------------------------------------------------------

def _augment_options(augment):
    if augment is None or augment is False:
        return None
    if augment is True:
        return {}
    if isinstance(augment, dict):
        allowed = {"flip", "scale_range", "crop_size", "brightness", "contrast", "saturation"}
        unknown = sorted(set(augment) - allowed)
        if unknown:
            raise ValueError(f"augment has unknown options {unknown}; allowed: {sorted(allowed)}.")
        return dict(augment)
    raise TypeError(f"augment must be None, True, or a dict of augment.augment options, received {augment!r}.")


def _from_store(store: _Store, *, batch_size, shuffle, augment, seed, epoch_clock, drop_remainder,
                preprocess, prefetch, image_only):
    tf = _tf()
    batch_size = _validate.integer(batch_size, "batch_size", minimum=1)
    seed = _validate.integer(seed, "seed", minimum=0)
    options = _augment_options(augment)
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be True or False, received {shuffle!r}.")
    if epoch_clock is not None and not isinstance(epoch_clock, EpochClock):
        raise TypeError(f"epoch_clock must be a pipeline.EpochClock or None, received {type(epoch_clock).__name__}.")
    if preprocess is not None and not callable(preprocess):
        raise TypeError(f"preprocess must be a function of an image tensor, received {preprocess!r}.")
    fixed_size = store.dense or (options is not None and options.get("crop_size") is not None)
    if batch_size > 1 and not fixed_size:
        raise ValueError("the images differ in size, so they cannot be stacked into batches of "
                         f"{batch_size}: pass size=(H, W) to resize them, augment={{'crop_size': (H, W)}} to "
                         "crop them, or batch_size=1.")
    if drop_remainder and store.count < batch_size:
        raise ValueError(f"drop_remainder=True with {store.count} images and batch_size={batch_size} "
                         "gives no batch at all.")
    counter = EpochClock() if epoch_clock is None else None
    transform = _augment.image_only if image_only else _augment.augment
    count = store.count

    def element(index, position, epoch):
        image, mask = store.read(index)
        if options is None:
            image = tf.cast(image, tf.float32) / 255.0
        else:
            element_seed = tf.stack([tf.cast(seed, tf.int64), epoch * count + position])
            image, mask = transform(image, mask, tf.cast(element_seed % (2**31 - 1), tf.int32), **options)
        if preprocess is not None:
            image = preprocess(image)
        return image, mask

    def one_epoch(_):
        epoch = counter.variable.assign_add(1) - 1 if counter is not None else epoch_clock.variable.read_value()
        positions = tf.range(count, dtype=tf.int64)
        order = positions
        if shuffle:
            keys = tf.random.stateless_uniform([count], tf.cast(tf.stack([seed, epoch]), tf.int32))
            order = tf.cast(tf.argsort(keys, stable=True), tf.int64)
        ds = tf.data.Dataset.from_tensor_slices((order, positions))
        ds = ds.map(lambda index, position: element(index, position, epoch),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.batch(batch_size, drop_remainder=drop_remainder)

    dataset = tf.data.Dataset.range(1).flat_map(one_epoch)
    batches = count // batch_size if drop_remainder else -(-count // batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    if prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return dataset


def from_arrays(images, masks, *, batch_size: int, shuffle: bool = True, augment=None,
                seed: int = DEFAULT_SHUFFLE_SEED, epoch_clock: EpochClock | None = None,
                drop_remainder: bool = False, preprocess=None, prefetch: bool = True,
                image_only: bool = False):
    """A ``tf.data.Dataset`` of (images, masks) batches from images and masks in memory.

    Args:
        images: (N, H, W, 3) uint8 or float in [0, 1], or a list of (H, W, 3) arrays.
        masks: (N, H, W) class ids (255 void), or a list of (H, W) arrays.
        batch_size: images per batch (images of different sizes need ``crop_size``).
        shuffle: a new order every epoch, drawn from ``(seed, epoch)``.
        augment: None (off), True (``augment.augment``'s defaults) or a dict of its
            options (``flip``, ``scale_range``, ``crop_size``, ``brightness``,
            ``contrast``, ``saturation``); each element's draw comes from
            ``(seed, epoch, position in the epoch)``.
        seed: the run's seed (>= 0).
        epoch_clock: an :class:`EpochClock` whose ``callback()`` goes to ``fit``; None:
            the pipeline counts its own iterations.
        drop_remainder: drop the last, smaller batch of each epoch.
        preprocess: a function of one float32 (H, W, 3) image in [0, 1], applied last
            (e.g. what the backbone's weights expect).
        prefetch: prepare batches while the model trains (``prefetch(AUTOTUNE)``).
        image_only: augment the image only (``augment.image_only``, the blog post's bug).

    Returns:
        ``tf.data.Dataset`` of float32 (B, h, w, 3) images and uint8 (B, h, w) masks, of
        known length (batches per epoch); iterate it once per epoch.
    """
    images, masks = _check_pairs(images, masks)
    return _from_store(_Store(images, masks), batch_size=batch_size, shuffle=shuffle, augment=augment,
                       seed=seed, epoch_clock=epoch_clock, drop_remainder=drop_remainder,
                       preprocess=preprocess, prefetch=prefetch, image_only=image_only)


def voc_files(root, split: str) -> tuple[list[str], list[str], list[str]]:
    """Image paths, mask paths and ids of one split of a VOC-layout folder, checked to exist."""
    root = Path(root)
    ids = voc.read_ids(root, split)
    split_file = root / voc.SPLIT_DIR / f"{split}.txt"
    images, masks = [], []
    for image_id in ids:
        candidates = [root / voc.IMAGE_DIR / f"{image_id}{s}" for s in voc.IMAGE_SUFFIXES]
        found = [p for p in candidates if p.is_file()]
        if not found:
            raise FileNotFoundError(f"{candidates[0]}: missing image for id {image_id!r} listed in {split_file}.")
        if len(found) > 1:
            raise voc.VOCFormatError(f"id {image_id!r} has several images ({', '.join(p.name for p in found)}); "
                                     "keep one.")
        mask = root / voc.MASK_DIR / f"{image_id}.png"
        if not mask.is_file():
            raise FileNotFoundError(f"{mask}: missing mask for id {image_id!r} listed in {split_file}.")
        images.append(str(found[0]))
        masks.append(str(mask))
    return images, masks, ids


def decode_voc(root, split: str, *, num_classes: int | None = None, size=None):
    """Read and decode one split with ``tf.data`` (in parallel): lists of uint8 images and masks, ids.

    The pipeline's counterpart of ``voc.read_voc``: images decoded by TensorFlow, masks
    by :func:`decode_mask` (palette indices). ``size`` resizes both (image bilinear with
    antialiasing, mask nearest). Errors name the file.
    """
    tf = _tf()
    image_paths, mask_paths, ids = voc_files(root, split)
    if num_classes is None:
        num_classes = len(voc.read_class_names(root))
    num_classes = _validate.integer(num_classes, "num_classes", minimum=1, maximum=VOID_LABEL)
    size = None if size is None else _validate.int_pair(size, "size", minimum=1)

    def load(image_path, mask_path, index):
        image = decode_image(tf.io.read_file(image_path))
        mask = tf.numpy_function(lambda data, i: _mask_indices(data, num_classes, mask_paths[int(i)]),
                                 [tf.io.read_file(mask_path), index], tf.uint8, stateful=False)
        mask = tf.ensure_shape(mask, [None, None])
        tf.debugging.assert_equal(tf.shape(image)[:2], tf.shape(mask),
                                  message="an image and its mask differ in size")
        if size is not None:
            image = tf.cast(tf.round(tf.image.resize(image, size, antialias=True)), tf.uint8)
            mask = tf.image.resize(mask[..., None], size, method="nearest")[..., 0]
        return image, mask

    ds = tf.data.Dataset.from_tensor_slices((image_paths, mask_paths, tf.range(len(ids))))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    images, masks = [], []
    for number, (image, mask) in enumerate(ds.as_numpy_iterator()):
        images.append(image)
        masks.append(mask)
    return images, masks, ids


def from_voc(root, split: str, *, batch_size: int, num_classes: int | None = None, size=None, **options):
    """A ``tf.data.Dataset`` of batches from one split of a VOC-layout folder.

    The files are decoded once, in parallel (:func:`decode_voc`), and kept in memory; the
    batches then come as from :func:`from_arrays` (same options: ``shuffle``, ``augment``,
    ``seed``, ``epoch_clock``, ``drop_remainder``, ``preprocess``, ``prefetch``).

    Args:
        root: the folder with ``JPEGImages/``, ``SegmentationClass/``, ``ImageSets/``.
        split: e.g. "train".
        num_classes: class ids must be below it (255 void); default: ``class_names.txt``'s
            length, else VOC's 21.
        size: resize every pair to (H, W) (images of different sizes need it, or a
            ``crop_size``, to form batches).
    """
    images, masks, _ = decode_voc(root, split, num_classes=num_classes, size=size)
    return _from_store(_Store(images, masks), batch_size=batch_size,
                       **{"shuffle": True, "augment": None, "seed": DEFAULT_SHUFFLE_SEED, "epoch_clock": None,
                          "drop_remainder": False, "preprocess": None, "prefetch": True, "image_only": False,
                          **options})


# --- the naive loader (the baseline) -------------------------------------------------------------

class NaiveLoader:
    """The blog post's ``DataLoader``, corrected only enough to return labels.

    As in the post: it lists the image folder, and every call of ``load_data`` picks
    ``batch_size`` random files (with replacement), reads and decodes each one in Python
    (OpenCV), augments it, and stacks the batch. Corrected: it also reads each image's
    mask (with Pillow, so palette indices survive) and returns ``(images, masks)``;
    images are converted from OpenCV's BGR to RGB and scaled to [0, 1], as the course
    models expect. Augmentation is joint (``augment.augment_numpy``) unless
    ``image_only=True`` (the post's version, for lesson 06's comparison).

    Nothing is cached, parallel or prepared ahead: every step waits for its files.
    """

    def __init__(self, root, split: str = "train", *, seed: int = 0, augment=None, image_only: bool = False):
        import cv2  # noqa: F401  (fail here, not at the first batch)

        self.image_paths, self.mask_paths, self.ids = voc_files(root, split)
        self.num_classes = len(voc.read_class_names(root))
        self.rng = np.random.default_rng(_validate.integer(seed, "seed", minimum=0))
        self.options = _augment_options(augment)
        self.image_only = bool(image_only)

    def __len__(self) -> int:
        return len(self.image_paths)

    def _read(self, index: int):
        import cv2

        image = cv2.imread(self.image_paths[index], cv2.IMREAD_COLOR)
        if image is None:
            raise voc.VOCFormatError(f"{self.image_paths[index]}: OpenCV cannot decode this image.")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        with open(self.mask_paths[index], "rb") as f:
            mask = _mask_indices(f.read(), self.num_classes, self.mask_paths[index])
        return image, mask

    def load_data(self, batch_size: int = 1, subset: str = "train"):
        """One batch: float32 (B, H, W, 3) images in [0, 1] and uint8 (B, H, W) masks."""
        batch_size = _validate.integer(batch_size, "batch_size", minimum=1)
        _validate.choice(subset, "subset", ("train", "val", "test"))
        images, masks = [], []
        for _ in range(batch_size):
            index = int(self.rng.integers(len(self.image_paths)))  # as the post: random, with replacement
            image, mask = self._read(index)
            if subset == "train" and self.options is not None:
                augmented, augmented_mask = _augment.augment_numpy(image, mask, self.rng, **self.options)
                image, mask = augmented, (mask if self.image_only else augmented_mask)
                if mask.shape != image.shape[:2]:
                    import cv2
                    mask = cv2.resize(mask, image.shape[1::-1], interpolation=cv2.INTER_NEAREST_EXACT)
            else:
                image = image.astype(np.float32) / 255.0
            images.append(image)
            masks.append(mask)
        return np.stack(images), np.stack(masks)

    def batches(self, batch_size: int = 1, subset: str = "train"):
        """An endless generator of ``load_data`` batches, for ``model.fit(..., steps_per_epoch=...)``."""
        while True:
            yield self.load_data(batch_size, subset)


def cpu_count() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
