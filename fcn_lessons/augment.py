"""Joint augmentation of an image and its mask: one random draw, applied to both.

A segmentation label is a picture of the image: whatever moves the image's pixels must
move the mask's pixels the same way, or the labels no longer sit on their objects. The
blog post the course grew from augmented the image only; lesson 06 measures what that
costs. Here every geometric step (flip, scale, crop) is drawn once and applied to both,
and only the photometric jitter (brightness, contrast, saturation) touches the image
alone. Three rules keep the mask a label map:

- masks are resampled by nearest neighbour only (a bilinear mask between class 1 and
  void 255 holds 128, a class that does not exist);
- where a crop reaches past the (scaled) image, the mask is padded with the void label
  (the image with black), so the padding is ignored by the loss and the metrics;
- the output mask holds only values of the input mask and the void label.

Randomness is *stateless*: the result is a function of ``seed`` alone, so a run is
reproducible, a resumed run sees the same augmentations, and the same function works on
numpy arrays (it returns numpy) and on tensors inside a ``tf.data`` map.

:func:`image_only` is the blog post's mistake, kept for the lesson's comparison.
"""

from __future__ import annotations

import numbers

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.labels import VOID_LABEL

# Defaults: mild geometry and colour changes, the kind that keeps a shape recognisable.
DEFAULT_SCALE_RANGE = (0.75, 1.25)  # relative image side after scaling
DEFAULT_BRIGHTNESS = 0.1  # largest added brightness, in [0, 1] image units
DEFAULT_CONTRAST = 0.2  # contrast factor drawn from [1 - 0.2, 1 + 0.2]
DEFAULT_SATURATION = 0.2  # saturation factor drawn from [1 - 0.2, 1 + 0.2]
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 luma weights, as PIL's convert('L')
_NUM_DRAWS = 7  # flip, scale, pad top, pad left, crop row, crop column, photometric


def _tf():
    from fcn_lessons.environment import _import_tensorflow

    return _import_tensorflow()


def stateless_seed(seed):
    """``seed`` as a stateless-RNG seed: an int32 tensor of shape (2,).

    Accepts an int (taken as ``(seed, 0)``), a pair of ints, or a shape-(2,) integer
    tensor (what ``tf.data`` hands a map function).
    """
    tf = _tf()
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        seed = (int(seed), 0)
    if isinstance(seed, (tuple, list)):
        if len(seed) != 2 or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in seed):
            raise ValueError(f"seed must be an int or a pair of ints, received {seed!r}.")
        seed = [int(s) % (2**31) for s in seed]
    seed = tf.convert_to_tensor(seed)
    if seed.dtype not in (tf.int32, tf.int64) or (seed.shape.rank is not None and seed.shape != (2,)):
        raise ValueError(f"seed must be an int, a pair of ints or an integer tensor of shape (2,); "
                         f"received a {seed.dtype.name} tensor of shape {seed.shape}.")
    return tf.cast(seed, tf.int32)


def _size_pair(value, name):
    if value is None:
        return None
    return _validate.int_pair(value, name, minimum=1)


def _scale_range(value):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"scale_range must be a pair (low, high), received {value!r}.")
    low, high = (float(v) for v in value)
    if not 0 < low <= high:
        raise ValueError(f"scale_range must satisfy 0 < low <= high, received {value!r}.")
    return low, high


def _non_negative(value, name):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, received {value!r}.")
    return value


def _as_inputs(image, mask):
    """Tensors (H, W, 3) float32 in [0, 1] and (H, W, 1) of the mask's dtype; numpy-in flag."""
    tf = _tf()
    numpy_in = not (tf.is_tensor(image) or tf.is_tensor(mask))
    if numpy_in:
        image = _validate.image(image, "image", dtype="float32")
        mask = _validate.label_map(mask, "mask", ndim=(2, 3), ignore_label=VOID_LABEL,
                                   layout="(H, W) or (H, W, 1)")
        if mask.ndim == 3 and mask.shape[2] != 1:
            raise ValueError(f"mask must be (H, W) or (H, W, 1), received shape {mask.shape}.")
        if image.shape[:2] != mask.shape[:2]:
            raise ValueError(f"image is {image.shape[0]}×{image.shape[1]} but mask is "
                             f"{mask.shape[0]}×{mask.shape[1]} (H×W): they must be the same size.")
    image = tf.convert_to_tensor(image)
    mask = tf.convert_to_tensor(mask)
    if image.dtype == tf.uint8:
        image = tf.cast(image, tf.float32) / 255.0
    elif image.dtype != tf.float32:
        image = tf.cast(image, tf.float32)
    if not mask.dtype.is_integer:
        raise TypeError(f"mask must hold integer class ids, received dtype {mask.dtype.name}; "
                        "a label map is never interpolated.")
    if mask.shape.rank == 2:
        mask = mask[..., None]
    return image, mask, numpy_in


def augment(image, mask, seed, *, flip: bool = True, scale_range=DEFAULT_SCALE_RANGE, crop_size=None,
            brightness: float = DEFAULT_BRIGHTNESS, contrast: float = DEFAULT_CONTRAST,
            saturation: float = DEFAULT_SATURATION, ignore_label: int = VOID_LABEL):
    """Augment one image and its mask with the same random flip, scale and crop.

    Args:
        image: (H, W, 3) uint8, or float in [0, 1]; a numpy array or a tensor.
        mask: (H, W) or (H, W, 1) integer class ids (``ignore_label`` for void).
        seed: an int, a pair of ints, or a shape-(2,) integer tensor: the whole draw
            (same seed, same pair, on any machine).
        flip: a left-right flip with probability 1/2.
        scale_range: (low, high): both sides are multiplied by a factor drawn uniformly
            from it; (1, 1) switches scaling off.
        crop_size: (height, width) or an int of the output; None keeps the input size.
            A random window of that size is cut from the scaled pair; where the scaled
            image is smaller, the image is padded with 0 and the mask with ``ignore_label``.
        brightness, contrast, saturation: photometric jitter of the image only (0 = off):
            an added brightness in [-b, b], contrast and saturation factors in [1 - c, 1 + c]
            (saturation: a blend with the grey image, ``grey + s (image - grey)``).
        ignore_label: the void label the mask is padded with.

    Returns:
        (image, mask): float32 (h, w, 3) in [0, 1] and the mask (h, w) (or (h, w, 1), as
        given) in the input mask's dtype; numpy arrays for numpy inputs, tensors otherwise.
    """
    tf = _tf()
    low, high = _scale_range(scale_range)
    crop = _size_pair(crop_size, "crop_size")
    brightness = _non_negative(brightness, "brightness")
    contrast = _non_negative(contrast, "contrast")
    saturation = _non_negative(saturation, "saturation")
    if contrast >= 1 or saturation >= 1:
        raise ValueError(f"contrast and saturation must be below 1 (factors stay positive); received "
                         f"contrast={contrast}, saturation={saturation}.")
    ignore_label = _validate.integer(ignore_label, "ignore_label", minimum=0, maximum=255)
    mask_rank = len(np.shape(mask)) if not tf.is_tensor(mask) else mask.shape.rank
    image, mask, numpy_in = _as_inputs(image, mask)
    draws = tf.random.experimental.stateless_split(stateless_seed(seed), num=_NUM_DRAWS)

    height, width = tf.shape(image)[0], tf.shape(image)[1]
    out_h, out_w = (height, width) if crop is None else (tf.constant(crop[0]), tf.constant(crop[1]))
    if flip:
        flipped = tf.random.stateless_uniform([], draws[0]) < 0.5
        image = tf.cond(flipped, lambda: tf.reverse(image, [1]), lambda: image)
        mask = tf.cond(flipped, lambda: tf.reverse(mask, [1]), lambda: mask)
    if (low, high) != (1.0, 1.0):
        factor = tf.random.stateless_uniform([], draws[1], minval=low, maxval=high)
        new_h = tf.maximum(1, tf.cast(tf.round(tf.cast(height, tf.float32) * factor), tf.int32))
        new_w = tf.maximum(1, tf.cast(tf.round(tf.cast(width, tf.float32) * factor), tf.int32))
        image = tf.image.resize(image, [new_h, new_w], method="bilinear")
        mask = tf.image.resize(mask, [new_h, new_w], method="nearest")  # returns the mask's dtype
        height, width = new_h, new_w
    # Pad (mask with void) so the crop fits, then cut the same window from both.
    pad_h, pad_w = tf.maximum(out_h - height, 0), tf.maximum(out_w - width, 0)
    top = tf.random.stateless_uniform([], draws[2], 0, pad_h + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], draws[3], 0, pad_w + 1, dtype=tf.int32)
    paddings = [[top, pad_h - top], [left, pad_w - left], [0, 0]]
    image = tf.pad(image, paddings, constant_values=0.0)
    mask = tf.pad(mask, paddings, constant_values=tf.cast(ignore_label, mask.dtype))
    height, width = height + pad_h, width + pad_w
    row = tf.random.stateless_uniform([], draws[4], 0, height - out_h + 1, dtype=tf.int32)
    column = tf.random.stateless_uniform([], draws[5], 0, width - out_w + 1, dtype=tf.int32)
    image = image[row:row + out_h, column:column + out_w]
    mask = mask[row:row + out_h, column:column + out_w]
    image = _photometric(image, draws[6], brightness, contrast, saturation)
    if crop is not None:
        image = tf.ensure_shape(image, [crop[0], crop[1], 3])
        mask = tf.ensure_shape(mask, [crop[0], crop[1], 1])
    if mask_rank == 2:
        mask = mask[..., 0]
    if numpy_in:
        return image.numpy(), mask.numpy()
    return image, mask


def _photometric(image, seed, brightness, contrast, saturation):
    """Colour jitter of the image alone; the mask is unchanged by colour."""
    tf = _tf()
    seeds = tf.random.experimental.stateless_split(seed, num=3)
    if brightness:
        image = tf.image.stateless_random_brightness(image, brightness, seeds[0])
    if contrast:
        image = tf.image.stateless_random_contrast(image, 1 - contrast, 1 + contrast, seeds[1])
    if saturation:  # blend with the image's grey version (PIL's ImageEnhance.Color): cheaper than HSV
        factor = tf.random.stateless_uniform([], seeds[2], 1 - saturation, 1 + saturation)
        grey = tf.reduce_sum(image * tf.constant(_LUMA), axis=-1, keepdims=True)
        image = grey + factor * (image - grey)
    return tf.clip_by_value(image, 0.0, 1.0)


def image_only(image, mask, seed, **options):
    """The blog post's augmentation: the image is flipped, scaled and cropped, the mask is not.

    Same arguments as :func:`augment`; the image is augmented exactly as ``augment`` would,
    the mask comes back unchanged (nearest-resized to the output size when ``crop_size``
    differs from the input, so that a batch still stacks). A bug kept for lesson 06.
    """
    tf = _tf()
    augmented, _ = augment(image, mask, seed, **options)
    numpy_in = not (tf.is_tensor(image) or tf.is_tensor(mask))
    mask_t = tf.convert_to_tensor(mask)
    squeeze = mask_t.shape.rank == 2
    mask_t = mask_t[..., None] if squeeze else mask_t
    size = tf.shape(augmented)[:2]
    mask_t = tf.image.resize(mask_t, size, method="nearest")
    mask_t = mask_t[..., 0] if squeeze else mask_t
    return (augmented, mask_t.numpy()) if numpy_in else (augmented, mask_t)


def augment_numpy(image, mask, rng: np.random.Generator, *, flip: bool = True,
                  scale_range=DEFAULT_SCALE_RANGE, crop_size=None, brightness: float = DEFAULT_BRIGHTNESS,
                  contrast: float = DEFAULT_CONTRAST, ignore_label: int = VOID_LABEL):
    """The same joint augmentation in numpy and OpenCV, one image at a time (the naive loader's).

    Flip, scale (image bilinear, mask exact nearest), pad (mask with ``ignore_label``) and
    crop are drawn once from ``rng`` and applied to both; brightness and contrast jitter the
    image only (no saturation: this is the plain per-image loader a learner writes first).
    Its draws come from numpy's generator, so it does not reproduce :func:`augment`'s.

    Args:
        image: (H, W, 3) uint8, or float in [0, 1]. mask: (H, W) class ids.
        rng: a ``numpy.random.Generator``.

    Returns:
        float32 (h, w, 3) in [0, 1] and the mask (h, w) in its dtype.
    """
    import cv2

    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), received "
                        f"{type(rng).__name__}.")
    low, high = _scale_range(scale_range)
    image = _validate.image(image, "image", dtype="float32")
    mask = _validate.label_map(mask, "mask", ignore_label=ignore_label)
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image is {image.shape[:2]} but mask is {mask.shape} (H, W): they must match.")
    out_h, out_w = _size_pair(crop_size, "crop_size") or mask.shape
    if flip and rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    if (low, high) != (1.0, 1.0):
        factor = rng.uniform(low, high)
        size = (max(1, round(mask.shape[1] * factor)), max(1, round(mask.shape[0] * factor)))
        image = cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(np.ascontiguousarray(mask), size, interpolation=cv2.INTER_NEAREST_EXACT)
    pad_h, pad_w = max(out_h - mask.shape[0], 0), max(out_w - mask.shape[1], 0)
    top, left = int(rng.integers(0, pad_h + 1)), int(rng.integers(0, pad_w + 1))
    pads = ((top, pad_h - top), (left, pad_w - left))
    image = np.pad(image, (*pads, (0, 0)))
    mask = np.pad(mask, pads, constant_values=ignore_label)
    row = int(rng.integers(0, mask.shape[0] - out_h + 1))
    column = int(rng.integers(0, mask.shape[1] - out_w + 1))
    image = image[row:row + out_h, column:column + out_w]
    mask = mask[row:row + out_h, column:column + out_w]
    if brightness:
        image = image + rng.uniform(-brightness, brightness)
    if contrast:
        mean = image.mean(axis=(0, 1), keepdims=True)
        image = (image - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean
    return np.clip(image, 0.0, 1.0).astype(np.float32), np.ascontiguousarray(mask)


def mislabelled_share(masks, *, image_only: bool, seed: int = 0, **options) -> float:
    """The share of labelled output pixels whose mask label is not what the image shows there.

    Each mask gets an image whose colour encodes its labels; the pair is augmented (jointly,
    or the post's image-only way) with seeds ``(seed, i)``, and the labels the augmented
    image's colours encode are compared with the augmented mask at pixels of a pure code
    colour (not blended at an edge). Joint augmentation gives 0.

    Args:
        masks: (N, H, W) class ids below 250 (255 void).
        image_only: use :func:`image_only` instead of :func:`augment`.
        options: :func:`augment` options (colour jitter is switched off here).
    """
    masks = _validate.label_map(masks, "masks", ndim=3, ignore_label=VOID_LABEL)
    labels = np.unique(masks)
    rng = np.random.default_rng(0)
    colours = {int(label): rng.uniform(0.2, 1.0, 3).astype(np.float32) for label in labels}
    table = np.array([colours[int(label)] for label in labels])
    options = {**options, "brightness": 0.0, "contrast": 0.0, "saturation": 0.0}
    transform = globals()["image_only"] if image_only else augment  # the function, not the flag
    wrong = total = 0
    for i, mask in enumerate(masks):
        coded = table[np.searchsorted(labels, mask)]
        out_image, out_mask = transform(coded, mask, (seed, i), **options)
        distance = ((out_image[..., None, :] - table) ** 2).sum(-1)
        shown, pure = labels[distance.argmin(-1)], distance.min(-1) < 1e-6
        keep = pure & (out_mask != VOID_LABEL) & (shown != VOID_LABEL)
        wrong += int((shown[keep] != out_mask[keep]).sum())
        total += int(keep.sum())
    return wrong / total if total else 0.0
