"""Lesson 02's experiment helpers (fcn_lessons.field_experiments)."""

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fcn_lessons import data, field_experiments, labels, models, receptive  # noqa: E402


def test_centre_distance_keeps_the_whole_square_field_inside():
    assert field_experiments.centre_distance(11) == 6
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 1  # a 20×20 square
    distance = labels.distance_to_boundary(mask, metric=field_experiments.DISTANCE_METRIC)
    need = field_experiments.centre_distance(11)
    for y, x in zip(*np.nonzero((distance >= need) & (mask == 1))):
        assert (mask[y - 5:y + 6, x - 5:x + 6] == 1).all()  # the 11×11 field holds only the square
    # a field whose corner holds another label passes the Euclidean test, not this one
    hole = np.ones((40, 40), np.uint8)
    hole[10, 10] = 0  # one background pixel, at the corner of the 11×11 field around (15, 15)
    euclidean = labels.distance_to_boundary(hole, metric="euclidean")
    chessboard = labels.distance_to_boundary(hole, metric=field_experiments.DISTANCE_METRIC)
    assert euclidean[15, 15] >= need > chessboard[15, 15]


def test_centre_distance_refuses_bad_fields():
    with pytest.raises(TypeError, match="field_size"):
        field_experiments.centre_distance(11.0)


def test_regions_per_image_counts_connected_patches():
    maps = np.zeros((2, 8, 8), np.uint8)
    maps[0, 2:4, 2:4] = 1  # background + one square: 2 regions
    maps[1, 0, 0] = maps[1, 7, 7] = 1  # background + two isolated pixels: 3
    maps[1, 4, :] = 255  # void splits nothing that is counted... but it cuts the background in two
    assert field_experiments.regions_per_image(maps[:1]) == 2
    assert field_experiments.regions_per_image(maps[1:]) == 4
    assert field_experiments.regions_per_image(maps) == 3


def test_regions_per_image_refuses_empty_and_float_input():
    with pytest.raises(ValueError, match="no map"):
        field_experiments.regions_per_image(np.zeros((0, 4, 4), np.uint8))
    with pytest.raises(TypeError, match="label_maps"):
        field_experiments.regions_per_image(np.zeros((1, 4, 4), np.float32))


def test_the_image_border_counts_as_a_boundary_for_centres():
    mask = np.ones((1, 20, 20), np.uint8)  # one object filling the image: no other label at all
    room = field_experiments.distance_to_boundary_or_border(mask)
    assert room[0, 0, 0] == 1 and room[0, 5, 10] == 6 and room[0, 10, 10] == 10
    assert np.isinf(labels.distance_to_boundary(mask, metric="chessboard")).all()  # without the border
    regions = field_experiments.pixel_regions(mask, centre_distance=6)
    ys, xs = np.nonzero(regions["centre"][0])
    assert ys.min() == xs.min() == 5 and ys.max() == xs.max() == 14  # every 11×11 field inside the image
    assert not regions["edge"].any() and not regions["band"].any()


def test_pixel_regions_edges_are_object_pixels_and_the_band_has_both_sides():
    mask = np.zeros((1, 24, 24), np.uint8)
    mask[0, 6:18, 6:18] = 2
    regions = field_experiments.pixel_regions(mask, centre_distance=4, edge_distance=2)
    assert (mask[regions["edge"]] == 2).all() and regions["edge"][0, 6, 10] and not regions["edge"][0, 9, 10]
    assert set(np.unique(mask[regions["band"]])) == {0, 2}
    with pytest.raises(ValueError, match="edge_distance"):
        field_experiments.pixel_regions(mask, centre_distance=3, edge_distance=3)


def test_band_iou_punishes_grown_objects_that_edge_recall_rewards():
    """The reviewer's point: object-side edge accuracy is a recall, so painting objects too large
    raises it; mean IU in the trimap band counts the background pixels that got lost."""
    mask = np.zeros((1, 32, 32), np.uint8)
    mask[0, 8:24, 8:24] = 1
    grown = np.zeros_like(mask)
    grown[0, 4:28, 4:28] = 1
    shrunk = np.zeros_like(mask)
    shrunk[0, 9:23, 9:23] = 1
    regions = field_experiments.pixel_regions(mask, centre_distance=4)
    big, small = (field_experiments.region_scores(mask, p, regions, 2) for p in (grown, shrunk))
    assert big["edge"]["mean_accuracy"] == 1.0 > small["edge"]["mean_accuracy"]
    assert big["band_iou"] < field_experiments.region_scores(mask, mask, regions, 2)["band_iou"] == 1.0


def test_region_scores_checks_its_arguments():
    _, masks = data.make_shapes(2, 32, seed=0, object_size=(0.3, 0.8))
    regions = field_experiments.pixel_regions(masks, centre_distance=4)
    with pytest.raises(ValueError, match="predictions"):
        field_experiments.region_scores(masks, masks[:1], regions, data.NUM_CLASSES)
    with pytest.raises(ValueError, match="regions"):
        field_experiments.region_scores(masks, masks, {"centre": regions["centre"]}, data.NUM_CLASSES)


def test_oracle_at_stride_one_is_perfect_and_coarse_strides_lose_edges():
    _, masks = data.make_shapes(12, 64, seed=2, num_objects=(2, 4), object_size=(0.3, 0.8))
    oracle = field_experiments.oracle_scores(masks, (1, 8, 32), data.NUM_CLASSES, centre_distance=6)
    assert oracle[1]["edge"] == oracle[1]["centre"] == oracle[1]["band_iou"] == 1.0
    assert oracle[32]["edge"] < oracle[8]["edge"] < 1.0
    assert (field_experiments.oracle_predictions(masks, 8, data.NUM_CLASSES)
            == labels.coarse_oracle(masks, 8, data.NUM_CLASSES)).all()


def test_the_oracle_is_not_a_ceiling():
    """Sharper cell scores from the same true shares label more edge pixels right at stride 8."""
    _, masks = data.make_shapes(40, 64, seed=2, num_objects=(2, 4), object_size=(0.3, 0.8))
    plain = field_experiments.oracle_scores(masks, (8,), data.NUM_CLASSES, centre_distance=6)[8]
    sharper = field_experiments.oracle_scores(masks, (8,), data.NUM_CLASSES, centre_distance=6, power=0.25)[8]
    assert sharper["edge"] > plain["edge"] and sharper["band_iou"] > plain["band_iou"]
    with pytest.raises(ValueError, match="power"):
        field_experiments.oracle_predictions(masks, 8, data.NUM_CLASSES, power=0)


def test_label_change_rate_counts_changes_inside_true_regions_only():
    masks = np.zeros((1, 8, 8), np.uint8)
    masks[0, :, 4:] = 1  # two true regions, left and right
    assert field_experiments.label_change_rate(masks, masks, 1) == 0.0  # changes at true borders do not count
    stripes = np.zeros_like(masks)
    stripes[0, :, 1::2] = 1  # a column pattern with a period of 2: every horizontal neighbour pair differs
    rate_1 = field_experiments.label_change_rate(stripes, masks, 1)
    rate_2 = field_experiments.label_change_rate(stripes, masks, 2)
    assert rate_1 > rate_2 == 0.0
    with pytest.raises(ValueError, match="spacing"):
        field_experiments.label_change_rate(masks, masks, 8)


def test_distance_profile_bins_object_pixels():
    _, masks = data.make_shapes(6, 64, seed=2, num_objects=(2, 4), object_size=(0.3, 0.8))
    perfect = np.where(masks == labels.VOID_LABEL, 0, masks)
    profile = field_experiments.distance_profile(masks, perfect, (1, 3, 6, 64), data.NUM_CLASSES)
    objects = ((masks > 0) & (masks < 255)).sum()
    assert profile["pixels"].sum() == objects and (profile["mean_accuracy"] == 1.0).all()
    with pytest.raises(ValueError, match="bins"):
        field_experiments.distance_profile(masks, perfect, (3, 1), data.NUM_CLASSES)


def test_score_tracker_scores_every_few_epochs_and_the_last():
    images, masks = data.make_shapes(8, 32, seed=0, object_size=(0.3, 0.8))
    net = models.pixel_classifier((1, 1), width=4)
    net.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                                 ignore_class=255))
    tracker = field_experiments.ScoreTracker(images, masks, num_classes=data.NUM_CLASSES, centre_distance=3,
                                             every=2)
    net.fit(images, masks, epochs=3, batch_size=4, verbose=0, callbacks=[tracker])
    assert [row["epoch"] for row in tracker.history] == [2, 3]
    assert tracker.series("band_iou").shape == (2,) and tracker.predictions.shape == masks.shape
    with pytest.raises(ValueError, match="key"):
        tracker.series("loss")


def test_score_tracker_checks_its_arguments():
    images, masks = data.make_shapes(2, 32, seed=0, object_size=(0.3, 0.8))
    with pytest.raises(ValueError, match="masks"):
        field_experiments.ScoreTracker(images, masks[:1], num_classes=5, centre_distance=6)
    with pytest.raises(ValueError, match="edge_distance"):
        field_experiments.ScoreTracker(images, masks, num_classes=5, centre_distance=3, edge_distance=3)
    with pytest.raises(ValueError, match="every"):
        field_experiments.ScoreTracker(images, masks, num_classes=5, centre_distance=6, every=0)


def test_plot_label_maps_has_a_row_per_network_and_a_legend():
    images, masks = data.make_shapes(3, 32, seed=0, object_size=(0.3, 0.8))
    fig = field_experiments.plot_label_maps(images, masks, {"a": masks, "b": masks}, class_names=data.CLASS_NAMES,
                                            num_images=3)
    assert len(fig.axes) == 4 * 3 and len(fig.legends) == 1
    assert len(fig.legends[0].get_texts()) == len(data.CLASS_NAMES) + 1  # and void


def test_fcn32s_reference_crops_follow_from_the_recurrence():
    """The reference's Crop offsets (19; 5, 27; 5, 9, 31) from its layer settings, by the 1-D recurrence.

    conv1_1 pads 100, the other 3×3 convolutions 1, poolings 0 (Caffe's ceil mode adds
    nothing before the first pixel), fc6 is 7×7 'valid'; a 'valid' transposed convolution
    of kernel k and stride s centres its unit m at (m - (k - 1) / 2) / s input units.
    """
    trunk = [(3, 1, 100), (3, 1, 1), (2, 2, 0), (3, 1, 1), (3, 1, 1), (2, 2, 0)]
    trunk += [(3, 1, 1)] * 3 + [(2, 2, 0)]
    pool3 = receptive.recurrence(trunk)[-1]
    pool4 = receptive.recurrence(trunk + [(3, 1, 1)] * 3 + [(2, 2, 0)])[-1]
    fc7 = receptive.recurrence(trunk + [(3, 1, 1)] * 3 + [(2, 2, 0)] + [(3, 1, 1)] * 3 + [(2, 2, 0)] + [(7, 1, 0)])[-1]

    def up(field, kernel, stride):
        _, jump, offset = field
        return None, jump / stride, offset - (kernel - 1) / 2 * jump / stride

    assert -up(fc7, 64, 32)[2] == 19  # FCN-32s
    up2 = up(fc7, 4, 2)
    assert (up2[2] - pool4[2]) / pool4[1] == 5 and -up(up2, 32, 16)[2] == 27  # FCN-16s
    up4 = up(up2, 4, 2)
    assert (up4[2] - pool3[2]) / pool3[1] == 9 and -up(up4, 16, 8)[2] == 31  # FCN-8s


def test_neighbouring_outputs_of_the_dilated_network_share_no_hidden_unit():
    """The premise of the gridding question of lesson 02's section 7, on positions (the lesson
    then measures whether it shows in the labels: label_change_rate at 1 and 2 px).

    Output pixel x of pixel_classifier((1, 2, 4, 8, 16)) reads conv5 unit x (1×1 scores);
    conv_l unit u reads conv_(l-1) units u - d_l, u, u + d_l. The hidden units two
    neighbouring outputs depend on are disjoint at every layer; their input pixels overlap.
    """
    dilations = (1, 2, 4, 8, 16)

    def units(x):
        sets, current = [], {x}  # conv5 units first, then down to conv1, then the input
        for d in reversed(dilations):
            sets.append(current)
            current = {u + t * d for u in current for t in (-1, 0, 1)}
        return sets, current

    hidden_x, input_x = units(0)
    hidden_next, input_next = units(1)
    assert all(not (a & b) for a, b in zip(hidden_x, hidden_next))
    assert len(input_x & input_next) > 50
