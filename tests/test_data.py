from pathlib import Path

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


# --- the data set is built to teach: each design claim is measured ---------------------------

@pytest.fixture(scope="module")
def scenes():
    train = data.make_shapes(300, 64, seed=11)
    test = data.make_shapes(150, 64, seed=12)
    return train, test


def test_shape_not_colour_histogram_classifier(scenes):
    (train_images, train_masks), (test_images, test_masks) = scenes
    accuracy, chance = data.colour_classifier_accuracy(train_images, train_masks, test_images, test_masks)
    assert 0.25 <= chance < 0.5  # four shapes, none dominant
    assert accuracy < chance + 0.02, (accuracy, chance)
    everything = data.colour_classifier_accuracy(train_images, train_masks, test_images, test_masks,
                                                 classes=data.CLASS_NAMES)
    assert everything[0] < everything[1] + 0.01, everything  # not even object vs background


def test_shape_not_colour_independent_classifier(scenes):
    """A different learner (scikit-learn, test-only) on RGB gives the same verdict."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    (train_images, train_masks), (test_images, test_masks) = scenes
    rng = np.random.default_rng(0)

    def shape_pixels(images, masks, count):
        where = np.flatnonzero((masks > 0) & (masks < data.VOID_LABEL))
        pick = rng.choice(where, size=min(count, where.size), replace=False)
        return images.reshape(-1, 3)[pick].astype(np.float32), masks.ravel()[pick]

    x_train, y_train = shape_pixels(train_images, train_masks, 15_000)
    x_test, y_test = shape_pixels(test_images, test_masks, 8_000)
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x_train, y_train)
    accuracy = (model.predict(x_test) == y_test).mean()
    chance = np.bincount(y_test).max() / y_test.size
    assert accuracy < chance + 0.02, (accuracy, chance)


def test_objects_range_from_small_to_large(scenes):
    import cv2

    (_, masks), _ = scenes
    areas = []
    for mask in masks:
        for class_id in range(1, data.NUM_CLASSES):
            count, _, stats, _ = cv2.connectedComponentsWithStats((mask == class_id).astype(np.uint8), connectivity=4)
            areas += list(stats[1:count, cv2.CC_STAT_AREA] / mask.size)
    areas = np.array(areas)
    assert np.percentile(areas, 10) < 0.01  # small objects: under 1% of the image
    assert np.percentile(areas, 95) > 0.15 and areas.max() > 0.3  # and some covering a large share


def test_centres_of_big_objects_need_context(scenes):
    """A quarter of object pixels see only their own class within 9×9: they need a larger field."""
    (_, masks), _ = scenes
    objects = (masks > 0) & (masks < data.VOID_LABEL)
    share = data.interior_pixels(masks, window=9).sum() / objects.sum()
    assert 0.15 < share < 0.6, share
    # still true with a larger window, though less often
    assert 0.02 < data.interior_pixels(masks, window=17).sum() / objects.sum() < share


def test_backgrounds_are_textured_and_noisy(scenes):
    (images, masks), _ = scenes
    spreads, noise = [], []
    for image, mask in zip(images[:50], masks[:50]):
        grey = image.astype(np.float64).mean(axis=2)
        background = mask == 0
        spreads.append(grey[background].std())
        # pixel-to-pixel differences inside the background: sensor noise plus fine grain
        right = background[:, 1:] & background[:, :-1]
        noise.append(np.abs(np.diff(grey, axis=1))[right].mean())
    assert np.median(spreads) > 8  # blotches: not a flat colour
    assert np.median(noise) > 3  # and not smooth either


def test_several_objects_and_occlusion(scenes):
    """Most images hold several shapes; objects overlap (two object classes meet at a border)."""
    import cv2

    (_, masks), _ = scenes
    classes_per_image = [len(set(np.unique(m)) - {0, data.VOID_LABEL}) for m in masks]
    assert np.mean(np.array(classes_per_image) >= 2) > 0.5
    touching = 0
    for mask in masks:
        near = [cv2.dilate((mask == c).astype(np.uint8), np.ones((5, 5), np.uint8)) for c in range(1, data.NUM_CLASSES)]
        overlap = sum(n.astype(int) for n in near) >= 2  # within 2 px of two object classes
        touching += bool((overlap & (mask == data.VOID_LABEL)).any())
    assert touching / len(masks) > 0.15, touching


def test_interior_pixels_on_a_hand_made_mask():
    mask = np.zeros((12, 12), np.uint8)
    mask[1:10, 1:10] = 2  # a 9×9 square
    mask[mask.shape[0] - 1, :] = data.VOID_LABEL
    interior = data.interior_pixels(mask, window=3)
    expected = np.zeros_like(interior)
    expected[2:9, 2:9] = True  # one pixel in from each side
    np.testing.assert_array_equal(interior, expected)
    edge = np.full((5, 5), 3, np.uint8)  # an object filling the image: the edge does not count as another class
    assert data.interior_pixels(edge, window=3).all()
    assert data.interior_pixels(mask[None], window=9).sum() == 1  # batch axis; only the centre


@pytest.mark.parametrize("kwargs, match", [
    ({"window": 4}, "window must be odd"),
    ({"window": 0}, "window must be >= 1"),
])
def test_interior_pixels_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.interior_pixels(np.zeros((4, 4), np.uint8), **kwargs)


def test_colour_classifier_arguments():
    images, masks = data.make_shapes(2, seed=0)
    with pytest.raises(ValueError, match="classes must name at least two"):
        data.colour_classifier_accuracy(images, masks, images, masks, classes=["circle"])
    with pytest.raises(ValueError, match="classes must name at least two"):
        data.colour_classifier_accuracy(images, masks, images, masks, classes=["circle", "hexagon"])


# --- the committed fixture data/shapes_voc ---------------------------------------------------

FIXTURE = Path(__file__).resolve().parent.parent / "data" / data.FIXTURE_NAME


def test_committed_fixture_is_current():
    """data/shapes_voc holds make_shapes scenes; `make data` regenerates it."""
    assert data.read_voc(FIXTURE, "train")[2][0] == "train_0000"
    for split, (count, seed) in data.FIXTURE_SPLITS.items():
        images, masks, ids = data.read_voc(FIXTURE, split)
        expected_images, expected_masks = data.make_shapes(count, data.FIXTURE_IMAGE_SIZE, seed=seed)
        assert len(ids) == count
        np.testing.assert_array_equal(np.stack(masks), expected_masks,
                                      err_msg="data/shapes_voc is stale: run `make data`")
        error = np.abs(np.stack(images).astype(int) - expected_images)
        assert error.mean() < 6 and error.max() < 64  # JPEG compression of noisy images
    assert (FIXTURE / "class_names.txt").read_text().split() == list(data.CLASS_NAMES)


def test_write_fixtures_command_rebuilds_the_folder(tmp_path, capsys):
    stale = tmp_path / data.FIXTURE_NAME / "JPEGImages" / "old_0000.jpg"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over from an older version")
    assert data.main(["write-fixtures", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert not stale.exists()
    written = sorted(p.relative_to(tmp_path / data.FIXTURE_NAME) for p in (tmp_path / data.FIXTURE_NAME).rglob("*"))
    committed = sorted(p.relative_to(FIXTURE) for p in FIXTURE.rglob("*"))
    assert written == committed
    for split in data.FIXTURE_SPLITS:
        new, old = data.read_voc(tmp_path / data.FIXTURE_NAME, split), data.read_voc(FIXTURE, split)
        assert new[2] == old[2]
        np.testing.assert_array_equal(np.stack(new[1]), np.stack(old[1]))


def test_class_counts_per_block_leave_void_out():
    masks = np.zeros((2, 8, 8), np.uint8)
    masks[0, :4, :4] = 3
    masks[0, 0, 0] = data.VOID_LABEL
    counts = data.class_counts_per_block(masks, 4, data.NUM_CLASSES)
    assert counts.shape == (2, 2, 2, data.NUM_CLASSES) and counts.dtype == np.float32
    assert counts[0, 0, 0].tolist() == [0, 0, 0, 15, 0]  # 16 pixels, one void
    assert counts[0, 1, 1].tolist() == [16, 0, 0, 0, 0] and counts[1].sum() == 2 * 2 * 16
    with pytest.raises(ValueError, match="do not split into 3×3 cells"):
        data.class_counts_per_block(masks, 3)
