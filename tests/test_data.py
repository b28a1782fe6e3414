import numpy as np
import pytest

from fcn_lessons import data


def test_make_shapes_contract():
    images, masks = data.make_shapes(6, image_size=48, seed=1)
    assert images.shape == (6, 48, 48, 3) and images.dtype == np.uint8
    assert masks.shape == (6, 48, 48) and masks.dtype == np.uint8
    assert set(np.unique(masks)) <= set(range(data.NUM_CLASSES)) | {data.VOID_LABEL}
    assert data.CLASS_NAMES[0] == "background" and len(data.CLASS_NAMES) == data.NUM_CLASSES


def test_make_shapes_is_deterministic_and_prefix_stable():
    a_images, a_masks = data.make_shapes(8, seed=4)
    b_images, b_masks = data.make_shapes(3, seed=4)
    np.testing.assert_array_equal(a_images[:3], b_images)
    np.testing.assert_array_equal(a_masks[:3], b_masks)
    c_images, _ = data.make_shapes(3, seed=5)
    assert not np.array_equal(b_images, c_images)


def test_void_separates_every_pair_of_labels():
    _, masks = data.make_shapes(20, seed=2)
    for mask in masks:
        void = mask == data.VOID_LABEL
        assert void.any() and void.mean() < 0.2
        for a, b in ((mask[1:], mask[:-1]), (mask[:, 1:], mask[:, :-1])):  # 4-neighbours
            both_labelled = (a != data.VOID_LABEL) & (b != data.VOID_LABEL)
            assert (a[both_labelled] == b[both_labelled]).all(), "two labels touch without void between"


def test_classes_can_be_restricted():
    _, masks = data.make_shapes(10, seed=0, classes=["circle"])
    assert set(np.unique(masks)) <= {0, 1, data.VOID_LABEL}


def test_other_sizes_work():
    for size in (16, 128, 224):
        images, masks = data.make_shapes(2, image_size=size, seed=0, object_size=(0.4, 0.8))
        assert images.shape == (2, size, size, 3) and masks.shape == (2, size, size)


@pytest.mark.parametrize("kwargs, match", [
    ({"num_images": -1}, "num_images must be >= 0"),
    ({"num_images": 2.0}, "num_images must be an int"),
    ({"num_images": 1, "image_size": 8}, "image_size must be >= 16"),
    ({"num_images": 1, "image_size": 32, "object_size": (0.1, 0.5)}, "objects need at least"),
    ({"num_images": 1, "object_size": (0.6, 0.2)}, "min <= max"),
    ({"num_images": 1, "num_objects": (3, 1)}, "min <= max"),
    ({"num_images": 1, "classes": ["hexagon"]}, "Unknown class 'hexagon'"),
    ({"num_images": 1, "classes": []}, "at least one shape"),
    ({"num_images": 1, "classes": "circle"}, "list of shape names"),
])
def test_bad_arguments_say_what_is_wrong(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        data.make_shapes(**kwargs)


def test_crops_are_labelled_by_their_centre():
    images, labels = data.make_shape_crops(300, crop_size=32, seed=3)
    assert images.shape == (300, 32, 32, 3) and labels.shape == (300,)
    counts = np.bincount(labels, minlength=data.NUM_CLASSES)
    assert counts[0] > 80 and (counts[1:] > 30).all()  # 40% background, the rest shared by 4 shapes
    np.testing.assert_array_equal(data.make_shape_crops(5, seed=3)[1], labels[:5])


def test_crop_arguments_are_validated():
    with pytest.raises(ValueError, match="background_fraction must be in"):
        data.make_shape_crops(2, background_fraction=1.5)
    with pytest.raises(ValueError, match="crop_size must be >= 16"):
        data.make_shape_crops(2, crop_size=4)
