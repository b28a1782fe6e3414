"""The paper's metrics: against scikit-learn (an independent implementation), hand-worked
examples, the absent-class rule, every input error, the streaming and Keras versions."""

import warnings

import keras
import numpy as np
import pytest
from sklearn import metrics as sk

from fcn_lessons import metrics


def _random_case(rng, shape, num_classes, void_share=0.1, dtype=np.uint8):
    labels = rng.integers(0, num_classes, size=shape).astype(dtype)
    predictions = np.where(rng.uniform(size=shape) < 0.6, labels, rng.integers(0, num_classes, size=shape)).astype(dtype)
    labels[rng.uniform(size=shape) < void_share] = 255
    return labels, predictions


@pytest.mark.parametrize("shape, num_classes, dtype", [
    ((17, 23), 2, np.uint8),
    ((4, 32, 32), 5, np.uint8),
    ((3, 40, 30), 21, np.uint8),  # VOC: uint8 arithmetic would overflow
    ((2, 50, 50), 40, np.int32),
    ((300, 300), 21, np.int64),  # several chunks
])
def test_confusion_matrix_matches_scikit_learn(shape, num_classes, dtype):
    rng = np.random.default_rng(num_classes)
    labels, predictions = _random_case(rng, shape, num_classes, dtype=dtype)
    keep = labels != 255
    expected = sk.confusion_matrix(labels[keep], predictions[keep], labels=range(num_classes))
    received = metrics.confusion_matrix(labels, predictions, num_classes)
    np.testing.assert_array_equal(received, expected)
    assert received.dtype == np.int64 and received.sum() == keep.sum()


def test_scores_match_scikit_learn():
    rng = np.random.default_rng(0)
    labels, predictions = _random_case(rng, (6, 40, 40), 6)
    keep = labels != 255
    y_true, y_pred = labels[keep], predictions[keep]
    scores = metrics.segmentation_scores(metrics.confusion_matrix(labels, predictions, 6))
    iou = sk.jaccard_score(y_true, y_pred, labels=range(6), average=None)
    np.testing.assert_allclose(scores["per_class_iou"], iou)
    assert scores["pixel_accuracy"] == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert scores["mean_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y_true, y_pred))
    assert scores["mean_iou"] == pytest.approx(sk.jaccard_score(y_true, y_pred, average="macro"))
    assert scores["frequency_weighted_iou"] == pytest.approx(sk.jaccard_score(y_true, y_pred, average="weighted"))
    assert scores["num_pixels"] == keep.sum()


def test_lesson_worked_example():
    labels = np.array([[0, 0, 0, 1, 1], [0, 0, 1, 1, 1], [0, 2, 2, 1, 255], [0, 2, 2, 255, 255]])
    predicted = np.array([[0, 0, 0, 0, 1], [0, 0, 1, 1, 1], [0, 0, 2, 1, 1], [2, 2, 2, 2, 1]])
    confusion = metrics.confusion_matrix(labels, predicted, 3)
    np.testing.assert_array_equal(confusion, [[6, 0, 1], [1, 5, 0], [1, 0, 3]])
    scores = metrics.segmentation_scores(confusion)
    assert scores["pixel_accuracy"] == pytest.approx(14 / 17)
    assert scores["mean_accuracy"] == pytest.approx((6 / 7 + 5 / 6 + 3 / 4) / 3)
    np.testing.assert_allclose(scores["per_class_iou"], [6 / 9, 5 / 6, 3 / 5])
    assert scores["mean_iou"] == pytest.approx(0.7)
    assert scores["frequency_weighted_iou"] == pytest.approx((7 * 6 / 9 + 6 * 5 / 6 + 4 * 3 / 5) / 17)


def test_absent_classes():
    """Absent from labels and predictions: left out. Predicted but never labelled: IU 0, counted."""
    confusion = np.array([[5, 0, 1, 0],
                          [0, 0, 0, 0],   # class 1: absent everywhere
                          [1, 0, 3, 0],
                          [0, 0, 0, 0]])  # class 3: never labelled...
    confusion[0, 3] = 2                  # ...but predicted twice
    scores = metrics.segmentation_scores(confusion)
    iou = scores["per_class_iou"]
    assert np.isnan(iou[1]) and iou[3] == 0
    assert scores["mean_iou"] == pytest.approx((5 / 9 + 3 / 5 + 0) / 3)
    assert np.isnan(scores["per_class_accuracy"][1]) and np.isnan(scores["per_class_accuracy"][3])
    assert scores["mean_accuracy"] == pytest.approx((5 / 8 + 3 / 4) / 2)
    assert scores["frequency_weighted_iou"] == pytest.approx((8 * 5 / 9 + 4 * 3 / 5) / 12)


def test_all_void_gives_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = metrics.segmentation_scores(metrics.confusion_matrix(np.full((4, 4), 255), np.zeros((4, 4), int), 3))
    assert scores["num_pixels"] == 0
    assert all(np.isnan(scores[name]) for name in metrics.SCORE_NAMES)


def test_perfect_and_everything_background():
    labels = np.zeros((10, 10), np.uint8)
    labels[2:6, 2:6] = 1
    assert metrics.segmentation_scores(metrics.confusion_matrix(labels, labels, 2))["mean_iou"] == 1.0
    scores = metrics.segmentation_scores(metrics.confusion_matrix(labels, np.zeros_like(labels), 2))
    assert scores["pixel_accuracy"] == pytest.approx(0.84) and scores["mean_iou"] == pytest.approx(0.42)


def test_void_predictions_are_ignored_whatever_they_are():
    rng = np.random.default_rng(1)
    labels, predictions = _random_case(rng, (30, 30), 4, void_share=0.3)
    other = predictions.copy()
    other[labels == 255] = rng.integers(0, 4, size=(labels == 255).sum())
    np.testing.assert_array_equal(metrics.confusion_matrix(labels, predictions, 4),
                                  metrics.confusion_matrix(labels, other, 4))


def test_scores_take_the_argmax_of_a_class_axis():
    rng = np.random.default_rng(2)
    labels, ids = _random_case(rng, (3, 8, 8), 5)
    logits = rng.normal(size=ids.shape + (5,))
    np.put_along_axis(logits, ids[..., None].astype(int), 10.0, axis=-1)
    expected = metrics.confusion_matrix(labels, ids, 5)
    np.testing.assert_array_equal(metrics.confusion_matrix(labels, logits, 5), expected)
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_array_equal(metrics.confusion_matrix(labels, probabilities, 5), expected)
    np.testing.assert_array_equal(metrics.confusion_matrix(labels[..., None], logits, 5), expected)  # Keras (N, H, W, 1)
    np.testing.assert_array_equal(metrics.confusion_matrix(labels.astype(np.float32), ids, 5), expected)  # integral floats


def test_ignore_label_none_and_other_values():
    labels = np.array([[0, 1], [2, 9]])
    assert metrics.confusion_matrix(labels, np.zeros((2, 2), int), 3, ignore_label=9).sum() == 3
    with pytest.raises(ValueError, match=r"labels hold values \[9\] outside the classes 0\.\.2\."):
        metrics.confusion_matrix(labels, np.zeros((2, 2), int), 3, ignore_label=None)


@pytest.mark.parametrize("labels, predictions, kwargs, error, match", [
    (np.array([[0.0, 0.5]]), np.zeros((1, 2), int), {}, ValueError,
     r"labels holds fractional values such as \[0\.5\].*nearest-neighbour"),
    (np.zeros((1, 2), int), np.array([[0.2, 0.9]]), {}, ValueError,
     r"predictions holds fractional values.*probabilities.*class axis"),
    (np.array([[0, 7]]), np.zeros((1, 2), int), {}, ValueError, r"labels hold values \[7\] outside the classes 0\.\.2 and 255"),
    (np.array([[0, -1]]), np.zeros((1, 2), int), {}, ValueError, r"labels hold values \[-1\]"),
    (np.zeros((1, 2), int), np.array([[0, 3]]), {}, ValueError, r"predictions hold class ids \[3\] outside 0\.\.2"),
    (np.zeros((2, 3), int), np.zeros((3, 2), int), {}, ValueError, r"predictions of shape \(3, 2\) do not match labels of shape \(2, 3\)"),
    (np.zeros((2, 3), int), np.zeros((2, 3, 4)), {}, ValueError, r"4 scores per pixel .* num_classes is 3"),
    (np.zeros((2, 3), int), np.full((2, 3, 3), np.nan), {}, ValueError, "hold NaN"),
    (np.zeros((2, 3), int), np.zeros((2, 3), int), {"ignore_label": 0}, ValueError, r"ignore_label=0 is also a class id"),
    (np.zeros((2, 3), int), np.zeros((2, 3), int), {"num_classes": 1}, ValueError, "num_classes must be >= 2"),
    (np.array([["a"]]), np.zeros((1, 1), int), {}, TypeError, "labels must have a"),
])
def test_bad_inputs_say_what_is_wrong(labels, predictions, kwargs, error, match):
    kwargs.setdefault("num_classes", 3)
    with pytest.raises(error, match=match):
        metrics.confusion_matrix(labels, predictions, **kwargs)


@pytest.mark.parametrize("confusion, match", [
    (np.zeros((2, 3)), "square matrix"),
    (np.array([[1, -1], [0, 2]]), "non-negative"),
    (np.zeros(4), "rank 2"),
])
def test_bad_confusion_matrices(confusion, match):
    with pytest.raises(ValueError, match=match):
        metrics.segmentation_scores(confusion)


def test_format_scores():
    scores = metrics.segmentation_scores(np.array([[3, 1], [0, 0]]))
    assert metrics.format_scores(scores) == "pixel acc. 75.0  mean acc. 75.0  mean IU 37.5  f.w. IU 75.0"
    assert metrics.format_scores(scores, ["bg", "fg"]).endswith("IU per class: bg 75.0, fg 0.0")


def test_accumulator_sums_batches_and_differs_from_averaging_batches():
    rng = np.random.default_rng(3)
    batches = [_random_case(rng, (2, 16, 16), 4) for _ in range(5)]
    batches[0][1][:] = 0  # one bad batch
    accumulator = metrics.ConfusionAccumulator(4)
    for labels, predictions in batches:
        accumulator.update(labels, predictions)
    everything = metrics.confusion_matrix(np.stack([b[0] for b in batches]), np.stack([b[1] for b in batches]), 4)
    np.testing.assert_array_equal(accumulator.confusion, everything)
    assert accumulator.num_updates == 5
    averaged = np.mean([metrics.segmentation_scores(metrics.confusion_matrix(*b, 4))["mean_iou"] for b in batches])
    assert accumulator.scores()["mean_iou"] != pytest.approx(averaged)
    accumulator.reset()
    assert accumulator.confusion.sum() == 0 and accumulator.num_updates == 0


# --- the Keras metric -------------------------------------------------------------------------

def _logits_for(rng, labels, num_classes):
    logits = rng.normal(size=labels.shape + (num_classes,)).astype(np.float32)
    return logits


def test_keras_metric_equals_numpy():
    rng = np.random.default_rng(4)
    labels, _ = _random_case(rng, (4, 12, 12), 5)
    logits = _logits_for(rng, labels, 5)
    metric = metrics.MeanIU(5)
    assert np.isnan(float(metric.result()))
    metric.update_state(labels, logits)
    metric.update_state(labels[..., None], logits)  # Keras-style (N, H, W, 1) labels
    expected = metrics.segmentation_scores(2 * metrics.confusion_matrix(labels, logits, 5))["mean_iou"]
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)
    weights = (labels != 255).astype(np.float32) * 2.0
    weighted = metrics.MeanIU(5)
    weighted.update_state(labels, logits, sample_weight=weights)
    assert float(weighted.result()) == pytest.approx(expected, abs=1e-6)
    metric.reset_state()
    assert np.isnan(float(metric.result()))


def test_keras_metric_in_compile_fit_evaluate():
    rng = np.random.default_rng(5)
    images = rng.uniform(size=(6, 16, 16, 3)).astype(np.float32)
    labels, _ = _random_case(rng, (6, 16, 16), 3, dtype=np.int32)
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 3, padding="same")])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    model.compile(optimizer="adam", loss=loss, metrics=[metrics.MeanIU(3)])
    history = model.fit(images, labels, epochs=1, batch_size=3, verbose=0)
    assert "mean_iu" in history.history
    result = model.evaluate(images, labels, batch_size=3, verbose=0, return_dict=True)
    expected = metrics.segmentation_scores(metrics.confusion_matrix(labels, model.predict(images, verbose=0), 3))
    assert result["mean_iu"] == pytest.approx(expected["mean_iou"], abs=1e-6)


def test_keras_metric_config_and_errors():
    metric = metrics.MeanIU(4, ignore_label=99, name="miu")
    clone = metrics.MeanIU.from_config(metric.get_config())
    assert (clone.num_classes, clone.ignore_label, clone.name) == (4, 99, "miu")
    assert isinstance(keras.metrics.deserialize(keras.metrics.serialize(metric)), metrics.MeanIU)
    with pytest.raises(ValueError, match=r"y_pred has 1 scores per pixel .* num_classes is 4"):
        metric.update_state(np.zeros((1, 2, 2)), np.zeros((1, 2, 2, 1)))
    with pytest.raises(ValueError, match="ignore_label=2 is also a class id"):
        metrics.MeanIU(4, ignore_label=2)


# --- quality near borders (trimap) ------------------------------------------------------------

def test_boundary_band_on_a_square():
    labels = np.zeros((20, 20), np.uint8)
    labels[5:15, 5:15] = 1
    band = metrics.boundary_band(labels, 1)
    # border pixels: the square's outer ring and the background ring around it (4-neighbours differ)
    assert band[4, 10] and band[5, 10] and band[6, 10] and band[3, 10]
    assert not band[10, 10] and not band[0, 0] and not band[2, 10]
    assert metrics.boundary_band(labels, 30).all()
    assert not metrics.boundary_band(np.zeros((5, 5), np.uint8), 2).any()  # no border at all
    void = np.zeros((9, 9), np.uint8)
    void[4, 4] = 255
    # border: the void pixel and its 4 neighbours (a plus); within 1 px of it: 13 pixels
    assert metrics.boundary_band(void, 1).sum() == 13 == metrics.boundary_band(void, 1, ignore_label=None).sum()
    stacked = metrics.boundary_band(np.stack([labels, labels]), 2)
    assert stacked.shape == (2, 20, 20) and (stacked[0] == stacked[1]).all()


def test_trimap_scores():
    rng = np.random.default_rng(6)
    labels = np.zeros((2, 32, 32), np.uint8)
    labels[:, 8:24, 8:24] = 1
    labels[:, 7, 8:24] = 255
    predictions = np.roll(labels, 2, axis=2)
    predictions[predictions == 255] = 0
    narrow = metrics.trimap_scores(labels, predictions, 2, 2)
    wide = metrics.trimap_scores(labels, predictions, 2, 100)
    whole = metrics.segmentation_scores(metrics.confusion_matrix(labels, predictions, 2))
    assert narrow["mean_iou"] < whole["mean_iou"]
    assert wide["mean_iou"] == pytest.approx(whole["mean_iou"])
    band = metrics.boundary_band(labels, 2)
    manual = metrics.confusion_matrix(np.where(band, labels, 255), predictions, 2)
    np.testing.assert_array_equal(narrow["num_pixels"], manual.sum())
    assert narrow["mean_iou"] == pytest.approx(metrics.segmentation_scores(manual)["mean_iou"])
    perfect = metrics.trimap_scores(labels, np.where(labels == 255, 0, labels), 2, 3)
    assert perfect["mean_iou"] == 1.0
    with pytest.raises(ValueError, match="width must be a positive number"):
        metrics.trimap_scores(labels, predictions, 2, 0)
    del rng


# --- scores over the pixels a region keeps ----------------------------------------------------

def test_region_scores_are_the_scores_of_the_kept_pixels():
    rng = np.random.default_rng(11)
    labels, predictions = _random_case(rng, (3, 17, 19), 4)
    region = rng.uniform(size=labels.shape) < 0.4
    kept = metrics.region_scores(labels, predictions, 4, region)
    alone = metrics.segmentation_scores(metrics.confusion_matrix(labels[region], predictions[region], 4))
    for name in metrics.SCORE_NAMES + ("num_pixels",):
        assert kept[name] == pytest.approx(alone[name], nan_ok=True), name
    everything = metrics.region_scores(labels, predictions, 4, np.ones(labels.shape, bool))
    whole = metrics.segmentation_scores(metrics.confusion_matrix(labels, predictions, 4))
    assert everything["mean_iou"] == whole["mean_iou"]
    nothing = metrics.region_scores(labels, predictions, 4, np.zeros(labels.shape, bool))
    assert nothing["num_pixels"] == 0 and np.isnan(nothing["pixel_accuracy"]) and np.isnan(nothing["mean_iou"])
    scores = rng.normal(size=labels.shape + (4,))  # scores with a class axis: the argmax is taken
    assert metrics.region_scores(labels, scores, 4, region)["num_pixels"] == kept["num_pixels"]


@pytest.mark.parametrize("region, error, match", [
    (np.ones((2, 3), bool), ValueError, r"region must be a bool mask of the labels' shape \(2, 4\)"),
    (np.ones((2, 4), np.uint8), TypeError, "region must have a bool dtype"),
])
def test_region_scores_validate_the_region(region, error, match):
    with pytest.raises(error, match=match):
        metrics.region_scores(np.zeros((2, 4), np.uint8), np.zeros((2, 4), np.uint8), 2, region)


def test_trimap_scores_are_region_scores_of_the_band():
    labels, predictions = _random_case(np.random.default_rng(12), (2, 24, 24), 3)
    labels[:, 6:18, 6:18] = 1  # some flat area, so the band is not everything
    for width in (1, 2.5, 6):
        band = metrics.boundary_band(labels, width)
        trimap, region = metrics.trimap_scores(labels, predictions, 3, width), metrics.region_scores(
            labels, predictions, 3, band)
        assert all(np.array_equal(np.asarray(trimap[k]), np.asarray(region[k]), equal_nan=True) for k in trimap)


def test_accuracy_by_distance_is_region_scores_of_centres_and_edges():
    from fcn_lessons import labels as label_maps

    from fcn_lessons import data

    rng = np.random.default_rng(13)
    _, masks = data.make_shapes(3, 48, seed=13, classes=["circle", "square", "triangle"])
    predictions = np.where(rng.uniform(size=masks.shape) < 0.7, np.where(masks == 255, 0, masks),
                           rng.integers(0, 4, masks.shape)).astype(np.uint8)
    for metric in label_maps.METRICS:
        result = metrics.accuracy_by_distance(masks, predictions, centre_distance=3, edge_distance=1, metric=metric)
        distance = label_maps.distance_to_boundary(masks, metric=metric)
        objects = (masks > 0) & (masks != 255)
        centre = metrics.region_scores(masks, predictions, 4, objects & (distance >= 3))
        assert result["centre"]["pixels"] == centre["num_pixels"] > 0
        assert result["centre"]["mean_accuracy"] == centre["mean_accuracy"]
        assert result["centre"]["predicted"].sum() == pytest.approx(1.0)
    # distance >= 5: Euclidean clears a disc, chessboard the whole 9×9 square (its corners 5.7 px away)
    euclidean = metrics.accuracy_by_distance(masks, predictions, centre_distance=5, edge_distance=1)
    chessboard = metrics.accuracy_by_distance(masks, predictions, centre_distance=5, edge_distance=1,
                                              metric="chessboard")
    assert 0 < chessboard["centre"]["pixels"] < euclidean["centre"]["pixels"]
    profile = metrics.accuracy_profile(masks, predictions, (1, 2, 4, 99), metric="chessboard")
    assert profile["pixels"].sum() == ((masks > 0) & (masks != 255)).sum()


def test_accuracy_by_distance_takes_ignore_label_and_still_the_old_void_label():
    masks = np.zeros((1, 12, 12), np.uint8)
    masks[0, 2:10, 2:10] = 1
    masks[0, 0] = 7  # a data set whose void label is 7
    new = metrics.accuracy_by_distance(masks, masks, centre_distance=3, edge_distance=1, ignore_label=7)
    with pytest.warns(DeprecationWarning, match="accuracy_by_distance\\(void_label=...\\) is deprecated"):
        old = metrics.accuracy_by_distance(masks, masks, centre_distance=3, edge_distance=1, void_label=7)
    assert old["edge"]["pixels"] == new["edge"]["pixels"] and new["centre"]["pixel_accuracy"] == 1.0
    with pytest.warns(DeprecationWarning, match="accuracy_profile\\(void_label=...\\) is deprecated"):
        profile = metrics.accuracy_profile(masks, masks, (1, 99), void_label=7)
    assert profile["pixels"].tolist() == [64]


def test_a_model_compiled_with_the_metric_saves_and_loads(tmp_path):
    rng = np.random.default_rng(7)
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 1)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
                  metrics=[metrics.MeanIU(3)])
    images = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    labels, _ = _random_case(rng, (2, 8, 8), 3, dtype=np.int32)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    result = loaded.evaluate(images, labels, verbose=0, return_dict=True)
    expected = metrics.segmentation_scores(metrics.confusion_matrix(labels, loaded.predict(images, verbose=0), 3))
    assert result["mean_iu"] == pytest.approx(expected["mean_iou"], abs=1e-6)
