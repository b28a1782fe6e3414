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


def test_stride_bounds_stride_one_is_perfect_and_coarse_strides_lose_edges():
    _, masks = data.make_shapes(12, 64, seed=2, num_objects=(2, 4), object_size=(0.3, 0.8))
    bounds = field_experiments.stride_bounds(masks, (1, 8, 32), data.NUM_CLASSES, centre_distance=6)
    assert bounds[1]["edge"] == bounds[1]["centre"] == 1.0
    assert bounds[32]["edge"] < bounds[8]["edge"] < 1.0


def test_score_tracker_records_every_epoch():
    images, masks = data.make_shapes(8, 32, seed=0, object_size=(0.3, 0.8))
    net = models.pixel_classifier((1, 1), width=4)
    net.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                                 ignore_class=255))
    tracker = field_experiments.ScoreTracker(images, masks, centre_distance=3)
    net.fit(images, masks, epochs=2, batch_size=4, verbose=0, callbacks=[tracker])
    assert [row["epoch"] for row in tracker.history] == [1, 2]
    assert tracker.series("regions").shape == (2,) and tracker.predictions.shape == masks.shape
    with pytest.raises(ValueError, match="key"):
        tracker.series("loss")


def test_score_tracker_checks_its_arguments():
    images, masks = data.make_shapes(2, 32, seed=0, object_size=(0.3, 0.8))
    with pytest.raises(ValueError, match="masks"):
        field_experiments.ScoreTracker(images, masks[:1], centre_distance=6)
    with pytest.raises(ValueError, match="edge_distance"):
        field_experiments.ScoreTracker(images, masks, centre_distance=3, edge_distance=3)


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
    """The lesson's explanation of the dilated network's speckle (section 7), on positions.

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
