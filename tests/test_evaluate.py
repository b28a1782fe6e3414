"""fcn_lessons.evaluate: batches from every kind of data, predictors, the report, compare, the model cache."""

import numpy as np
import pytest

from fcn_lessons import data, evaluate, metrics

NUM_CLASSES = data.NUM_CLASSES


@pytest.fixture(scope="module")
def scenes():
    return data.make_shapes(20, 48, seed=4)


def _lookup_model(images, masks, *, damage=True):
    """A predict function that knows the labels of these images (a model with known mistakes)."""
    table = {image.tobytes(): mask for image, mask in zip(images, masks)}

    def predict(batch):
        out = []
        for image in np.asarray(batch):
            key = np.round(image * 255).astype(np.uint8).tobytes() if image.dtype != np.uint8 else image.tobytes()
            mask = np.where(table[key] == metrics.VOID_LABEL, 0, table[key]).astype(np.uint8)
            if damage:
                mask = np.roll(mask, 2, axis=1)
                mask[:4] = 0
            out.append(mask)
        return np.stack(out)
    return predict


# --- batches -------------------------------------------------------------------------------------

def test_batches_from_arrays_cover_every_image_once(scenes):
    images, masks = scenes
    got = list(evaluate.batches((images, masks), batch_size=6))
    assert [len(ids) for _, _, ids in got] == [6, 6, 6, 2]
    assert sum((ids for _, _, ids in got), []) == list(range(20))
    assert np.array_equal(np.concatenate([m for _, m, _ in got]), masks)


def test_batches_from_lists_group_images_of_one_size():
    small_images, small_masks = data.make_shapes(3, 48, seed=1)
    big_images, big_masks = data.make_shapes(2, 64, seed=1)
    images = [small_images[0], small_images[1], big_images[0], small_images[2], big_images[1]]
    masks = [small_masks[0], small_masks[1], big_masks[0], small_masks[2], big_masks[1]]
    got = list(evaluate.batches((images, masks), batch_size=4))
    assert [(im.shape[1], ids) for im, _, ids in got] == [(48, [0, 1]), (64, [2]), (48, [3]), (64, [4])]


def test_batches_from_a_voc_folder_stream_its_files(tmp_path, scenes):
    images, masks = scenes
    ids = data.write_voc(tmp_path, "val", images, masks, class_names=data.CLASS_NAMES, image_format="png")
    got = list(evaluate.batches(tmp_path, batch_size=8, split="val"))
    assert sum((i for _, _, i in got), []) == ids
    assert np.array_equal(np.concatenate([im for im, _, _ in got]), images)
    assert np.array_equal(np.concatenate([m for _, m, _ in got]), masks)


def test_batches_from_tf_data_batched_or_not(scenes):
    import tensorflow as tf

    from fcn_lessons import pipeline

    images, masks = scenes
    batched = list(evaluate.batches(pipeline.from_arrays(images, masks, batch_size=7, shuffle=False)))
    assert [len(i) for _, _, i in batched] == [7, 7, 6]
    assert np.array_equal(np.concatenate([m for _, m, _ in batched]), masks)
    single = list(evaluate.batches(tf.data.Dataset.from_tensor_slices((images[:3], masks[:3]))))
    assert [i for _, _, i in single] == [[0], [1], [2]] and single[0][0].shape == (1, 48, 48, 3)


def test_batches_refuse_bad_data(tmp_path, scenes):
    images, masks = scenes
    with pytest.raises(TypeError, match="data must be"):
        list(evaluate.batches(images))
    with pytest.raises(ValueError, match="pass split="):
        list(evaluate.batches(tmp_path))
    with pytest.raises(ValueError, match="masks must be"):
        list(evaluate.batches((images, masks[:, :24])))
    with pytest.raises(ValueError, match="same length"):
        list(evaluate.batches((list(images), list(masks[:3]))))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        list(evaluate.batches((images, masks), batch_size=0))


# --- predictors ------------------------------------------------------------------------------------

def _tiny_keras_model(stride=2):
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(NUM_CLASSES, 1)(inputs)
    x = keras.layers.MaxPooling2D(stride)(x)
    return keras.Model(inputs, keras.layers.UpSampling2D(stride)(x), name="tiny")


def test_predictor_takes_models_and_functions(scenes):
    images, masks = scenes
    model = _tiny_keras_model()
    x = images[:4].astype(np.float32) / 255
    from_model = evaluate.predictor(model)(images[:4])
    assert from_model.shape == (4, 48, 48)
    assert np.array_equal(from_model, np.asarray(model.predict_on_batch(x)).argmax(-1))
    ids = evaluate.predictor(_lookup_model(images, masks), preprocess=None)(images[:4])
    scores = evaluate.predictor(lambda b: np.eye(NUM_CLASSES)[_lookup_model(images, masks)(b)], preprocess=None)
    assert np.array_equal(scores(images[:4]), ids)


def test_pad_to_lets_a_strided_model_take_any_size():
    model = _tiny_keras_model(stride=4)
    images = np.zeros((2, 30, 30, 3), np.uint8)
    with pytest.raises(Exception):
        evaluate.predictor(model)(images)  # 30 is not a multiple of 4: the upsampled map is 28×28
    assert evaluate.predictor(model, pad_to=4)(images).shape == (2, 30, 30)


def test_a_low_resolution_output_is_refused_with_the_reason(scenes):
    images, _ = scenes
    quarter = lambda batch: np.zeros((len(batch), 8, 8, NUM_CLASSES), np.float32)  # noqa: E731
    with pytest.raises(ValueError, match="not at the input's resolution"):
        evaluate.predictor(quarter, preprocess=None)(images[:2])
    with pytest.raises(TypeError, match="model must be a keras.Model or a function"):
        evaluate.predictor("fcn8s")
    with pytest.raises(ValueError, match="expected scores"):
        evaluate.predictor(lambda b: np.zeros(len(b)), preprocess=None)(images[:2])


# --- the report ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report(scenes):
    images, masks = scenes
    return evaluate.evaluate(_lookup_model(images, masks), (images, masks), NUM_CLASSES, class_names=data.CLASS_NAMES,
                             name="shifted", preprocess=None, batch_size=6, trimap_widths=(1, 4), keep_worst=3)


def test_report_counts_are_the_metrics_over_the_whole_set(scenes, report):
    images, masks = scenes
    predicted = _lookup_model(images, masks)(images)
    assert np.array_equal(report.confusion, metrics.confusion_matrix(masks, predicted, NUM_CLASSES))
    assert report.scores["mean_iou"] == metrics.segmentation_scores(report.confusion)["mean_iou"]
    for width in (1, 4):
        assert report.trimap_iou()[width] == pytest.approx(
            metrics.trimap_scores(masks, predicted, NUM_CLASSES, width)["mean_iou"])
    assert report.errors == metrics.error_breakdown(masks, predicted, NUM_CLASSES)
    area = 48 * 48
    edges = [f * area for f in evaluate.DEFAULT_SIZE_FRACTIONS[:-1]] + [area + 1]
    counts = metrics.object_size_counts(masks, predicted, NUM_CLASSES, edges, margin=evaluate.DEFAULT_SIZE_MARGIN)
    assert np.array_equal(report.sizes["objects"], counts["objects"])
    assert np.array_equal(report.sizes["confusion"], counts["confusion"])


def test_the_report_does_not_depend_on_the_batch_size(scenes, report):
    images, masks = scenes
    other = evaluate.evaluate(_lookup_model(images, masks), (images, masks), NUM_CLASSES, preprocess=None,
                              batch_size=20, trimap_widths=(1, 4), keep_worst=3)
    assert np.array_equal(other.confusion, report.confusion) and other.errors == report.errors
    assert [r["mean_iou"] for r in other.images] == [r["mean_iou"] for r in report.images]
    assert [w[1] for w in other.worst] == [w[1] for w in report.worst]


def test_per_image_rows_and_the_worst_images(scenes, report):
    images, masks = scenes
    assert [row["id"] for row in report.images] == list(range(20))
    rows = metrics.per_image_scores(masks, _lookup_model(images, masks)(images), NUM_CLASSES)
    assert [row["mean_iou"] for row in report.images] == pytest.approx(rows["mean_iou"].tolist())
    worst = np.argsort(rows["mean_iou"], kind="stable")[:3].tolist()
    assert [w[1] for w in report.worst] == worst  # worst first, only keep_worst of them kept
    assert all(np.array_equal(w[3], masks[w[1]]) for w in report.worst)
    table = report.image_table(rows=2)
    assert table.count("\n") == 3 and f"| {worst[0]} |" in table.splitlines()[2]
    with pytest.raises(ValueError, match="sort_by must be one of"):
        report.image_table(sort_by="iou")


def test_report_text_and_figures(report):
    import matplotlib

    matplotlib.use("Agg")
    text = report.summary()
    for part in ("shifted: 20 images", "mean IU", "trimap mean IU: 1 px", "objects by size", "boundary",
                 "objects missed"):
        assert part in text
    assert report.plot_confusion().get_title() == "shifted"
    assert len(report.plot_trimap().lines) == 1
    assert report.show_worst(2) is not None
    sizes = report.size_scores()
    assert sizes["labels"] == ["< 1%", "1-4%", "4-16%", ">= 16%"]


def test_voc_folder_and_dataset_give_the_arrays_report(tmp_path, scenes, report):
    from fcn_lessons import pipeline

    images, masks = scenes
    data.write_voc(tmp_path, "val", images, masks, class_names=data.CLASS_NAMES, image_format="png")
    model = _lookup_model(images, masks)
    options = {"preprocess": None, "trimap_widths": (1, 4), "keep_worst": 3}
    folder = evaluate.evaluate(model, tmp_path, NUM_CLASSES, split="val", **options)
    dataset = evaluate.evaluate(model, pipeline.from_voc(tmp_path, "val", batch_size=8, shuffle=False), NUM_CLASSES,
                                **options)
    assert np.array_equal(folder.confusion, report.confusion) and np.array_equal(dataset.confusion, report.confusion)
    assert folder.images[0]["id"] == "val_0000"


def test_evaluate_refuses_bad_arguments(scenes):
    images, masks = scenes
    model = _lookup_model(images, masks)
    with pytest.raises(ValueError, match="class_names has 2 names"):
        evaluate.evaluate(model, (images, masks), NUM_CLASSES, class_names=("a", "b"), preprocess=None)
    with pytest.raises(ValueError, match="trimap_widths must be positive"):
        evaluate.evaluate(model, (images, masks), NUM_CLASSES, trimap_widths=(0,), preprocess=None)
    with pytest.raises(ValueError, match="size_fractions must be increasing"):
        evaluate.evaluate(model, (images, masks), NUM_CLASSES, size_fractions=(0.5, 0.1), preprocess=None)
    with pytest.raises(ValueError, match="holds no images"):
        evaluate.evaluate(model, (images[:0], masks[:0]), NUM_CLASSES, preprocess=None)


# --- compare -----------------------------------------------------------------------------------------

def test_compare_puts_models_in_one_table(scenes, report):
    images, masks = scenes
    perfect = evaluate.evaluate(_lookup_model(images, masks, damage=False), (images, masks), NUM_CLASSES,
                                name="perfect", preprocess=None, trimap_widths=(1, 4))
    table = evaluate.compare({"a": report, "b": perfect}, trimap_widths=(1, 4))
    lines = table.splitlines()
    assert len(lines) == 4 and lines[3].startswith("| perfect | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 |")
    assert "trimap 4 px" in lines[0]
    with pytest.raises(ValueError, match="no trimap at"):
        evaluate.compare([report], trimap_widths=(16,))
    fewer = evaluate.evaluate(_lookup_model(images, masks), (images[:5], masks[:5]), NUM_CLASSES, preprocess=None)
    with pytest.raises(ValueError, match="same data"):
        evaluate.compare([report, fewer], trimap_widths=(1,))
    with pytest.raises(TypeError, match="reports must be Reports"):
        evaluate.compare([1, 2])


def test_evaluate_many_names_the_reports(scenes):
    images, masks = scenes
    model = _lookup_model(images, masks)
    reports = evaluate.evaluate_many({"x": model, "y": model}, (images[:4], masks[:4]), NUM_CLASSES, preprocess=None)
    assert list(reports) == ["x", "y"] and reports["y"].name == "y"


# --- the saved-model cache -------------------------------------------------------------------------------

TINY = {"num_images": 4, "image_size": 64, "epochs": (1, 1, 1), "batch_size": 4, "num_crops": 0, "classifier_epochs": 0}


def test_trained_fcns_are_cached_and_come_back_identical(tmp_path, monkeypatch):
    monkeypatch.setenv(evaluate.CACHE_ENV, str(tmp_path / "cache"))
    first = evaluate.trained_fcns(verbose=False, **TINY)
    assert evaluate.trained_fcns.last_source == "trained" and list(first) == ["FCN-32s", "FCN-16s", "FCN-8s"]
    again = evaluate.trained_fcns(verbose=False, **TINY)
    assert evaluate.trained_fcns.last_source == "cache"
    x = np.random.default_rng(0).random((1, 64, 64, 3)).astype(np.float32)
    for name in first:
        assert np.array_equal(first[name].predict_on_batch(x), again[name].predict_on_batch(x))
    assert len(list((tmp_path / "cache").glob("lesson07-*/*.keras"))) == 3


def test_the_cache_is_never_required(tmp_path, monkeypatch):
    from fcn_lessons import models, pyramid

    def untrained(budget, train_data, **options):  # the schedule itself is tested above and in lesson 05's tests
        return {v: {"model": models.fcn(NUM_CLASSES, v)} for v in models.VARIANTS}

    monkeypatch.setattr(pyramid, "staged", untrained)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv(evaluate.CACHE_ENV, str(blocker))
    assert len(evaluate.trained_fcns(verbose=False, **TINY)) == 3
    assert evaluate.trained_fcns.last_source == "trained"


def test_trained_fcns_refuses_unknown_settings():
    with pytest.raises(TypeError, match="unknown settings"):
        evaluate.trained_fcns(epochs_32s=3)
    with pytest.raises(ValueError, match="three stages"):
        evaluate.trained_fcns(epochs=(1, 1))
    with pytest.raises(ValueError, match="num_crops and classifier_epochs"):
        evaluate.trained_fcns(cache=False, num_crops=10, classifier_epochs=0)


def test_a_changed_training_module_changes_the_cache_key(monkeypatch):
    import inspect

    settings = {**evaluate.TRAINING_DEFAULTS}
    before = evaluate._cache_key(settings)
    assert evaluate._cache_key(dict(settings)) == before and "pyramid" in evaluate.TRAINING_MODULES
    original = inspect.getsource

    def edited(obj):  # lesson 05's schedule edited: a stale saved model must not be loaded
        text = original(obj)
        return text + "\n# edited" if getattr(obj, "__name__", "") == "fcn_lessons.pyramid" else text

    monkeypatch.setattr(inspect, "getsource", edited)
    assert evaluate._cache_key(settings) != before
    monkeypatch.setattr(inspect, "getsource", original)
    assert evaluate._cache_key({**settings, "num_crops": 1}) != before


def test_trained_fcns_pretrains_the_classifier_when_asked(tmp_path, monkeypatch):
    from fcn_lessons import models, pyramid

    seen = {}

    def pretrain(budget, *, seed, log):
        seen["crops"], seen["epochs"] = budget.num_crops, budget.classifier_epochs
        return "the classifier", {}

    def staged(budget, train_data, *, classifier=None, **options):
        seen["classifier"] = classifier
        return {v: {"model": models.fcn(NUM_CLASSES, v)} for v in models.VARIANTS}

    monkeypatch.setattr(pyramid, "pretrain_classifier", pretrain)
    monkeypatch.setattr(pyramid, "staged", staged)
    evaluate.trained_fcns(cache=False, verbose=False, **{**TINY, "num_crops": 7, "classifier_epochs": 2})
    assert seen == {"crops": 7, "epochs": 2, "classifier": "the classifier"}
    evaluate.trained_fcns(cache=False, verbose=False, **TINY)
    assert seen["classifier"] is None
