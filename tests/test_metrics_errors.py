"""Lesson 07's metric primitives: region counts, objects, errors by kind, sizes, precision/recall."""

import numpy as np
import pytest

from fcn_lessons import labels as label_maps
from fcn_lessons import metrics

VOID = metrics.VOID_LABEL
KIND = {name: i + 1 for i, name in enumerate(metrics.ERROR_KINDS)}


def _random_maps(seed, shape=(3, 12, 14), num_classes=4, void_share=0.1):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=shape).astype(np.uint8)
    predictions = np.where(rng.random(shape) < 0.6, labels, rng.integers(0, num_classes, size=shape)).astype(np.uint8)
    labels[rng.random(shape) < void_share] = VOID
    return labels, predictions


# --- region_confusion ------------------------------------------------------------------------

def test_region_confusion_counts_the_kept_pixels_only():
    labels, predictions = _random_maps(0)
    region = np.random.default_rng(1).random(labels.shape) < 0.5
    expected = metrics.confusion_matrix(labels[region], predictions[region], 4)
    received = metrics.region_confusion(labels, predictions, 4, region)
    assert received.dtype == np.int64 and np.array_equal(received, expected)
    scores = metrics.region_scores(labels, predictions, 4, region)
    assert scores["mean_iou"] == metrics.segmentation_scores(received)["mean_iou"]


def test_region_confusion_adds_up_over_batches():
    labels, predictions = _random_maps(2, shape=(6, 8, 8))
    region = label_maps.boundary_band(labels, 1.5)
    whole = metrics.region_confusion(labels, predictions, 4, region)
    parts = sum(metrics.region_confusion(labels[i:i + 2], predictions[i:i + 2], 4, region[i:i + 2]) for i in (0, 2, 4))
    assert np.array_equal(whole, parts)


def test_region_confusion_takes_scores_and_refuses_a_wrong_region():
    labels, predictions = _random_maps(3)
    scores = np.eye(4, dtype=np.float32)[predictions]
    region = np.ones(labels.shape, bool)
    assert np.array_equal(metrics.region_confusion(labels, scores, 4, region),
                          metrics.confusion_matrix(labels, predictions, 4))
    with pytest.raises(ValueError, match="region must be a bool mask of the labels' shape"):
        metrics.region_confusion(labels, predictions, 4, region[0])
    with pytest.raises(TypeError, match="region must have a bool dtype"):
        metrics.region_confusion(labels, predictions, 4, region.astype(np.uint8))


# --- object_regions --------------------------------------------------------------------------

def _two_squares(gap_label):
    m = np.zeros((8, 12), np.uint8)
    m[2:6, 1:5] = 1
    m[2:6, 6:10] = 1
    m[2:6, 5] = gap_label
    return m


def test_void_separates_objects_and_touching_objects_merge():
    ids, classes, areas = metrics.object_regions(_two_squares(VOID))
    assert classes.tolist() == [1, 1] and areas.tolist() == [16, 16]
    assert set(np.unique(ids)) == {0, 1, 2}
    ids, classes, areas = metrics.object_regions(_two_squares(1))  # one class, touching: one region
    assert classes.tolist() == [1] and areas.tolist() == [36]


def test_object_regions_numbering_classes_and_connectivity():
    m = np.zeros((6, 6), np.uint8)
    m[0, 4] = 3  # first in raster order, although its class is the largest
    m[2, 1] = m[3, 2] = 2  # diagonal neighbours: two regions with 4-connectivity, one with 8
    ids, classes, areas = metrics.object_regions(m)
    assert classes.tolist() == [3, 2, 2] and areas.tolist() == [1, 1, 1]
    assert ids[0, 4] == 1 and ids[2, 1] == 2 and ids[3, 2] == 3
    _, classes8, areas8 = metrics.object_regions(m, connectivity=8)
    assert classes8.tolist() == [3, 2] and areas8.tolist() == [1, 2]


def test_object_regions_background_void_and_empty_maps():
    ids, classes, areas = metrics.object_regions(np.zeros((4, 4), np.uint8))
    assert ids.shape == (4, 4) and not ids.any() and classes.size == 0 and areas.size == 0
    m = np.array([[1, 1, VOID], [0, 0, 0]], np.uint8)
    _, classes, _ = metrics.object_regions(m, background=1)  # class 1 is "no object" here; 0 is an object
    assert classes.tolist() == [0]
    with pytest.raises(TypeError, match="label_map must have a signed int or unsigned int dtype"):
        metrics.object_regions(m.astype(np.float32))
    with pytest.raises(ValueError, match="connectivity must be one of 4, 8"):
        metrics.object_regions(m, connectivity=6)
    with pytest.raises(ValueError, match="label_map must have rank 2"):
        metrics.object_regions(m[None])


# --- error kinds -----------------------------------------------------------------------------

def _scene():
    """A 40×40 label map with three objects (classes 1 and 2) and a prediction that misses
    one, confuses one, draws one too large and invents a fourth."""
    labels = np.zeros((40, 40), np.uint8)
    labels[2:12, 2:12] = 1  # A: missed
    labels[2:12, 26:36] = 2  # B: predicted as class 3
    labels[24:34, 2:12] = 1  # C: predicted too large
    pred = np.zeros_like(labels)
    pred[2:12, 26:36] = 3
    pred[22:36, 0:14] = 1  # C plus a 2-px ring: just over half of it lies on C
    pred[26:32, 26:32] = 2  # D: a false object on background
    return labels, pred


def test_each_wrong_pixel_gets_one_kind():
    labels, pred = _scene()
    result = metrics.error_kinds(labels, pred, 4, boundary_width=1.0)
    kinds = result["kinds"]
    wrong = pred != labels
    assert kinds.dtype == np.int8 and kinds.shape == labels.shape
    assert np.array_equal(kinds > 0, wrong)  # every wrong pixel has a kind, right ones none
    band = label_maps.boundary_band(labels, 1.0)
    assert np.all(kinds[wrong & band] == KIND["boundary"])
    assert np.all(kinds[6:8, 6:8] == KIND["missed object"])  # A's centre
    assert np.all(kinds[6:8, 30:32] == KIND["class confusion"])  # B's centre
    assert np.all(kinds[27:31, 27:31] == KIND["false object"])  # D, away from any label border
    assert kinds[22, 0] == KIND["extent"] and kinds[35, 13] == KIND["extent"]  # C's ring, far from C's border
    assert (result["objects"], result["missed_objects"]) == (3, 1)
    assert (result["predicted_objects"], result["false_objects"]) == (3, 1)


def test_boundary_band_takes_priority_and_void_is_never_an_error():
    labels, pred = _scene()
    labels[12, 2:12] = VOID  # an outline under A's lower edge
    result = metrics.error_kinds(labels, pred, 4, boundary_width=2.0)
    assert np.all(result["kinds"][12, 2:12] == 0)
    assert result["kinds"][11, 6] == KIND["boundary"] and result["kinds"][10, 6] == KIND["boundary"]
    assert result["kinds"][9, 6] == KIND["boundary"]  # 2 px from the border pixels of row 11
    assert result["kinds"][8, 6] == KIND["missed object"]


def test_a_half_found_object_is_not_missed():
    labels = np.zeros((20, 20), np.uint8)
    labels[4:16, 4:16] = 1
    pred = labels.copy()
    pred[4:16, 4:9] = 0  # 5 of 12 columns lost: 58% still predicted as an object
    result = metrics.error_kinds(labels, pred, 2, boundary_width=1.0)
    assert result["missed_objects"] == 0 and result["kinds"][10, 6] == KIND["extent"]
    stricter = metrics.error_kinds(labels, pred, 2, boundary_width=1.0, min_share=0.75)
    assert stricter["missed_objects"] == 1 and stricter["kinds"][10, 6] == KIND["missed object"]


def test_error_kinds_of_a_batch_equal_those_of_each_map():
    labels, pred = _scene()
    batch = metrics.error_kinds(np.stack([labels, pred * 0]), np.stack([pred, pred]), 4)
    one = metrics.error_kinds(labels, pred, 4)
    assert np.array_equal(batch["kinds"][0], one["kinds"])
    assert batch["objects"].tolist() == [3, 0] and batch["false_objects"].tolist() == [1, 3]


def test_error_breakdown_counts_sum_to_the_wrong_pixels():
    labels, pred = _scene()
    labels[0, :] = VOID
    breakdown = metrics.error_breakdown(labels, pred, 4, boundary_width=1.0)
    assert breakdown["labelled"] == int((labels != VOID).sum())
    assert breakdown["wrong"] == int(((pred != labels) & (labels != VOID)).sum())
    assert sum(breakdown[name] for name in metrics.ERROR_KINDS) == breakdown["wrong"]
    shares = metrics.error_shares(breakdown)
    assert sum(shares[name] for name in metrics.ERROR_KINDS) == pytest.approx(1.0)
    assert shares["missed_object_rate"] == pytest.approx(1 / 3)
    assert shares["error_rate"] == pytest.approx(breakdown["wrong"] / breakdown["labelled"])


def test_a_perfect_prediction_has_no_errors():
    labels, _ = _scene()
    breakdown = metrics.error_breakdown(labels, labels, 4)
    assert breakdown["wrong"] == 0 and breakdown["missed_objects"] == 0 and breakdown["false_objects"] == 0
    shares = metrics.error_shares(breakdown)
    assert np.isnan(shares["boundary"]) and shares["error_rate"] == 0.0


def test_error_kinds_refuse_bad_arguments():
    labels, pred = _scene()
    with pytest.raises(ValueError, match="min_share must be in"):
        metrics.error_kinds(labels, pred, 4, min_share=0)
    with pytest.raises(ValueError, match="width must be a positive number"):
        metrics.error_kinds(labels, pred, 4, boundary_width=0)
    with pytest.raises(ValueError, match="predictions hold class ids"):
        metrics.error_kinds(labels, pred, 3)
    with pytest.raises(ValueError, match="do not match labels"):
        metrics.error_kinds(labels, pred[:10], 4)
    with pytest.raises(ValueError, match="must be what error_breakdown returns"):
        metrics.error_shares({"wrong": 3})


# --- object sizes ----------------------------------------------------------------------------

def test_object_size_counts_bin_objects_by_area():
    labels = np.zeros((30, 30), np.uint8)
    labels[1:3, 1:3] = 1  # 4 px, missed
    labels[10:14, 10:14] = 2  # 16 px, found
    labels[20:28, 2:26] = 3  # 192 px, half right
    pred = labels.copy()
    pred[1:3, 1:3] = 0
    pred[20:28, 2:14] = 0
    counts = metrics.object_size_counts(labels, pred, 4, (0, 10, 100, 1000), margin=0)
    assert counts["objects"].tolist() == [1, 1, 1]
    assert counts["pixels"].tolist() == [4, 16, 192] and counts["hits"].tolist() == [0, 16, 96]
    assert counts["recognised"].tolist() == [0, 1, 1]  # half of the big one is enough
    assert counts["confusion"][1].sum() == 16  # margin 0: the object's own pixels only
    scores = metrics.size_scores(counts)
    assert scores["recall"].tolist() == [0.0, 1.0, 0.5]
    assert scores["recognised_rate"].tolist() == [0.0, 1.0, 1.0]
    assert scores["mean_iou"][1] == 1.0


def test_the_ring_counts_a_prediction_that_spills_over():
    labels = np.zeros((20, 20), np.uint8)
    labels[8:12, 8:12] = 1
    pred = np.zeros_like(labels)
    pred[6:14, 6:14] = 1
    tight = metrics.size_scores(metrics.object_size_counts(labels, pred, 2, (0, 100), margin=0))
    ringed = metrics.size_scores(metrics.object_size_counts(labels, pred, 2, (0, 100), margin=2))
    assert tight["recall"][0] == 1.0 and ringed["recall"][0] == 1.0
    assert tight["mean_iou"][0] == 1.0 > ringed["mean_iou"][0]


def test_size_counts_add_up_and_empty_bins_are_nan():
    labels, pred = _scene()
    edges = (0, 50, 200, 5000)
    both = metrics.object_size_counts(np.stack([labels, labels]), np.stack([pred, labels]), 4, edges)
    one = metrics.object_size_counts(labels, pred, 4, edges)
    two = metrics.object_size_counts(labels, labels, 4, edges)
    for key in ("objects", "recognised", "pixels", "hits", "confusion"):
        assert np.array_equal(both[key], one[key] + two[key])
    scores = metrics.size_scores(one)
    assert np.isnan(scores["recall"][0]) and np.isnan(scores["mean_iou"][0]) and scores["objects"][0] == 0
    with pytest.raises(ValueError, match="size_edges must be"):
        metrics.object_size_counts(labels, pred, 4, (10, 5))
    with pytest.raises(ValueError, match="margin must be >= 0"):
        metrics.object_size_counts(labels, pred, 4, edges, margin=-1)


# --- precision, recall, F1; per-image scores -------------------------------------------------

def test_precision_recall_f1_against_counts_by_hand():
    confusion = np.array([[50, 5, 0], [10, 20, 0], [0, 0, 0]])
    result = metrics.precision_recall_f1(confusion)
    np.testing.assert_allclose(result["precision"][:2], [50 / 60, 20 / 25])
    np.testing.assert_allclose(result["recall"][:2], [50 / 55, 20 / 30])
    assert np.isnan(result["precision"][2]) and np.isnan(result["f1"][2])
    iou = metrics.per_class_iou(confusion)
    np.testing.assert_allclose(result["f1"][:2], 2 * iou[:2] / (1 + iou[:2]))  # F1 = Dice = 2 IU / (1 + IU)
    assert result["macro_f1"] == pytest.approx(np.nanmean(result["f1"]))


def test_micro_precision_recall_and_f1_are_the_pixel_accuracy():
    labels, predictions = _random_maps(5, num_classes=6)
    confusion = metrics.confusion_matrix(labels, predictions, 6)
    result = metrics.precision_recall_f1(confusion)
    accuracy = metrics.segmentation_scores(confusion)["pixel_accuracy"]
    for key in ("micro_precision", "micro_recall", "micro_f1"):
        assert result[key] == pytest.approx(accuracy)


def test_per_image_scores_rank_images_and_their_mean_is_not_the_data_sets():
    labels = np.zeros((2, 10, 10), np.uint8)
    labels[0, :5] = 1
    labels[1, :1] = 2
    pred = labels.copy()
    pred[1] = 0  # the second image misses its thin strip of class 2
    rows = metrics.per_image_scores(labels, pred, 3)
    assert rows["mean_iou"][0] == 1.0 and rows["mean_iou"][1] == pytest.approx(0.45)
    assert rows["labelled"].tolist() == [100, 100]
    whole = metrics.segmentation_scores(metrics.confusion_matrix(labels, pred, 3))["mean_iou"]
    assert whole != pytest.approx(rows["mean_iou"].mean())
    one = metrics.per_image_scores(labels[0], pred[0], 3)
    assert one["mean_iou"].shape == (1,)
