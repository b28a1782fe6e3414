"""Joint augmentation: image and mask stay aligned, masks stay label maps, seeds reproduce."""

import numpy as np
import pytest

from fcn_lessons import augment, data
from fcn_lessons.labels import VOID_LABEL

# Each label gets a colour far from every other and from black (the image padding).
CODE = {0: (0.2, 0.9, 0.9), 1: (0.9, 0.2, 0.2), 2: (0.2, 0.9, 0.2), 3: (0.2, 0.2, 0.9), 4: (0.9, 0.9, 0.2),
        VOID_LABEL: (0.6, 0.6, 0.6)}
NO_JITTER = {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0}


def _coded(mask):
    """An image whose colour at every pixel says the pixel's label."""
    image = np.zeros((*mask.shape, 3), np.float32)
    for label, colour in CODE.items():
        image[mask == label] = colour
    return image


def _decode(image):
    """The label each pixel's colour encodes (nearest code colour); black (padding) -> -1."""
    labels = np.array(list(CODE))
    colours = np.array(list(CODE.values()) + [(0.0, 0.0, 0.0)], np.float32)
    distance = ((image[..., None, :] - colours) ** 2).sum(-1)
    decoded = np.append(labels, -1)[distance.argmin(-1)]
    pure = distance.min(-1) < 1e-6  # the colour is exactly a code (not a blend at an edge)
    return decoded, pure


def _scene(seed=0, size=48):
    images, masks = data.make_shapes(1, size, seed=seed)
    return masks[0]


@pytest.mark.parametrize("seed", range(6))
def test_image_and_mask_stay_aligned(seed):
    mask = _scene(seed)
    image, out = augment.augment(_coded(mask), mask, seed, crop_size=(40, 56), scale_range=(0.6, 1.4), **NO_JITTER)
    decoded, pure = _decode(image)
    assert pure.mean() > 0.5  # most pixels are interior, not blended edges
    assert np.array_equal(decoded[pure & (decoded >= 0)], out[pure & (decoded >= 0)])
    assert np.all(out[pure & (decoded == -1)] == VOID_LABEL), "the padded image must meet a void mask"


def test_flip_and_crop_alone_are_exact():
    mask = _scene(3)
    image, out = augment.augment(_coded(mask), mask, 11, scale_range=(1, 1), crop_size=32, **NO_JITTER)
    decoded, pure = _decode(image)
    assert pure.all() and np.array_equal(decoded, out)


@pytest.mark.parametrize("seed", range(8))
def test_masks_only_hold_their_labels_and_void(seed):
    mask = _scene(seed)
    _, out = augment.augment(np.zeros((*mask.shape, 3), np.uint8), mask, seed, scale_range=(0.5, 2.0))
    assert out.dtype == mask.dtype
    assert set(np.unique(out)) <= set(np.unique(mask)) | {VOID_LABEL}


def test_shrinking_pads_the_mask_with_void_and_the_image_with_black():
    mask = np.zeros((32, 32), np.uint8)
    image, out = augment.augment(np.full((32, 32, 3), 255, np.uint8), mask, 0, scale_range=(0.5, 0.5),
                                 flip=False, **NO_JITTER)
    assert (out == VOID_LABEL).sum() == 32 * 32 - 16 * 16 and (image.sum(-1) == 0).sum() == 32 * 32 - 16 * 16


def test_same_seed_same_pair_other_seed_other_pair():
    mask = _scene(1)
    image = _coded(mask)
    first = augment.augment(image, mask, (7, 3))
    again = augment.augment(image, mask, (7, 3))
    other = augment.augment(image, mask, (7, 4))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


def test_tensors_inside_tf_data_give_the_numpy_result():
    import tensorflow as tf

    mask = _scene(2)
    image = _coded(mask)
    expected = augment.augment(image, mask, (5, 9), crop_size=40)
    ds = tf.data.Dataset.from_tensors((image, mask)).map(
        lambda i, m: augment.augment(i, m, tf.constant([5, 9]), crop_size=40))
    got = next(iter(ds))
    assert got[0].shape == (40, 40, 3) and got[1].shape == (40, 40)
    np.testing.assert_allclose(got[0].numpy(), expected[0], atol=1e-6)
    assert np.array_equal(got[1].numpy(), expected[1])


def test_photometric_jitter_changes_the_image_only():
    mask = _scene(4)
    image = _coded(mask)
    plain = augment.augment(image, mask, 2, **NO_JITTER)
    jittered = augment.augment(image, mask, 2, brightness=0.3, contrast=0.5, saturation=0.5)
    assert np.array_equal(plain[1], jittered[1]) and not np.allclose(plain[0], jittered[0])
    assert jittered[0].min() >= 0 and jittered[0].max() <= 1


def test_image_only_is_the_blog_posts_bug():
    mask = _scene(5)
    image = _coded(mask)
    for seed in range(10):  # some seed flips the image: the mask then no longer fits it
        augmented, kept = augment.image_only(image, mask, seed, scale_range=(1, 1), **NO_JITTER)
        if not np.array_equal(augmented, image):
            break
    assert np.array_equal(kept, mask)
    decoded, pure = _decode(augmented)
    assert (decoded[pure] != kept[pure]).mean() > 0.05


def test_numpy_version_keeps_the_same_rules():
    mask = _scene(6)
    rng = np.random.default_rng(0)
    for _ in range(5):
        image, out = augment.augment_numpy(_coded(mask), mask, rng, crop_size=40, scale_range=(0.6, 1.4),
                                           brightness=0, contrast=0)
        decoded, pure = _decode(image)
        keep = pure & (decoded >= 0)
        assert np.array_equal(decoded[keep], out[keep]) and np.all(out[pure & (decoded == -1)] == VOID_LABEL)
        assert set(np.unique(out)) <= set(np.unique(mask)) | {VOID_LABEL}


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": 1.5}, "seed must be"),
    ({"seed": (1, 2, 3)}, "seed must be"),
    ({"scale_range": (2, 1)}, "scale_range"),
    ({"crop_size": 0}, "crop_size"),
    ({"brightness": -1}, "brightness"),
    ({"contrast": 1.5}, "contrast and saturation"),
])
def test_bad_arguments_are_named(kwargs, message):
    mask = _scene(0)
    options = {"seed": 0, **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        augment.augment(_coded(mask), mask, options.pop("seed"), **options)


def test_bad_inputs_are_named():
    mask = _scene(0)
    with pytest.raises(TypeError, match="mask"):
        augment.augment(_coded(mask), mask.astype(np.float32), 0)
    with pytest.raises(ValueError, match="same size"):
        augment.augment(_coded(mask)[:10], mask, 0)
    with pytest.raises(TypeError, match="rng"):
        augment.augment_numpy(_coded(mask), mask, 0)


def test_mislabelled_share_is_zero_for_joint_and_not_for_image_only():
    _, masks = data.make_shapes(6, 48, seed=7)
    assert augment.mislabelled_share(masks, image_only=False) == 0.0
    assert augment.mislabelled_share(masks, image_only=True) > 0.02
