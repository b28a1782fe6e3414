"""training: compile with the course loss and metrics, a compact fit, history plots, predictions."""

import re

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fcn_lessons  # noqa: E402
from fcn_lessons import data, losses, metrics, models, training  # noqa: E402
from fcn_lessons.labels import VOID_LABEL  # noqa: E402

NUM_CLASSES = data.NUM_CLASSES


@pytest.fixture(scope="module")
def tiny_data():
    images, masks = data.make_shapes(6, 64, seed=0)
    return models.preprocess_input(images), masks


def _tiny_run(tiny_data, seed):
    fcn_lessons.setup(seed, verbose=False)
    model = training.compile_model(models.fcn(NUM_CLASSES, "32s"), NUM_CLASSES, learning_rate=1e-2)
    x, y = tiny_data
    history = training.fit(model, x[:4], y[:4], epochs=2, batch_size=2, validation=(x[4:], y[4:]), verbose="silent")
    return history.history, model


@pytest.fixture(scope="module")
def trained(tiny_data):
    return _tiny_run(tiny_data, seed=0)


def test_compile_uses_the_course_loss_and_the_papers_metrics():
    model = training.compile_model(models.fcn(NUM_CLASSES, "32s"), NUM_CLASSES)
    assert isinstance(model.loss, losses.PixelCrossEntropy) and model.loss.ignore_label == VOID_LABEL
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(training.DEFAULT_LEARNING_RATE)


def test_pixel_accuracy_metric_matches_the_numpy_metrics():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 8, 8, NUM_CLASSES)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, size=(3, 8, 8)).astype(np.uint8)
    labels[0, :3] = VOID_LABEL
    metric = training.PixelAccuracy(NUM_CLASSES)
    metric.update_state(labels[:2], logits[:2])
    metric.update_state(labels[2:], logits[2:])
    expected = metrics.segmentation_scores(metrics.confusion_matrix(labels, logits.argmax(-1), NUM_CLASSES))
    assert float(metric.result()) == pytest.approx(expected["pixel_accuracy"], rel=1e-6)
    again = training.PixelAccuracy.from_config(metric.get_config())
    assert again.num_classes == NUM_CLASSES and again.name == "pixel_accuracy"


def test_fit_prints_one_line_per_epoch(tiny_data, capsys):
    fcn_lessons.setup(0, verbose=False)
    model = training.compile_model(models.fcn(NUM_CLASSES, "32s"), NUM_CLASSES)
    x, y = tiny_data
    history = training.fit(model, x[:4], y[:4], epochs=3, batch_size=2, validation=(x[4:], y[4:]))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    pattern = (r"^epoch [1-3]/3: loss \d\.\d{4}, mean IU \d\.\d{3}, pixel acc\. \d\.\d{3} \| "
               r"val loss \d\.\d{4}, mean IU \d\.\d{3}, pixel acc\. \d\.\d{3} \(\d+\.\d s\)$")
    assert all(re.match(pattern, line) for line in lines), lines
    assert set(history.history) >= {"loss", "mean_iu", "pixel_accuracy", "val_loss", "val_mean_iu"}
    training.fit(model, x[:4], y[:4], epochs=1, batch_size=2, verbose="silent")
    assert capsys.readouterr().out == ""


def test_same_seed_same_curve(tiny_data, trained):
    first, _ = trained
    second, _ = _tiny_run(tiny_data, seed=0)
    assert first == second
    assert first["loss"][0] != first["loss"][1]  # it trained


@pytest.mark.parametrize("call, error, match", [
    (lambda m, x, y: training.fit(models.fcn(NUM_CLASSES, "32s"), x, y, epochs=1), ValueError,
     "fit needs a compiled model"),
    (lambda m, x, y: training.fit(m, x, y[:, :8], epochs=1), ValueError, r"masks must be \(N, H, W\)"),
    (lambda m, x, y: training.fit(m, x, y.astype(np.float32), epochs=1), TypeError, "masks must have a"),
    (lambda m, x, y: training.fit(m, x, y, epochs=0), ValueError, "epochs must be >= 1"),
    (lambda m, x, y: training.fit(m, x, y, epochs=1, verbose=True), ValueError, "verbose must be one of"),
    (lambda m, x, y: training.fit(m, x, y, epochs=1, validation=x), ValueError, "validation must be a pair"),
    (lambda m, x, y: training.compile_model(m, 1), ValueError, "num_classes must be >= 2"),
    (lambda m, x, y: training.predict_labels("model", x), TypeError, "model must be a keras.Model"),
    (lambda m, x, y: training.predict_labels(m, x[0]), ValueError, "images must have rank 4"),
])
def test_bad_arguments_are_named(tiny_data, call, error, match):
    model = training.compile_model(models.fcn(NUM_CLASSES, "32s"), NUM_CLASSES)
    with pytest.raises(error, match=match):
        call(model, *tiny_data)


def test_predict_labels_batches_and_takes_the_argmax(tiny_data, trained):
    _, model = trained
    x, _ = tiny_data
    labels = training.predict_labels(model, x, batch_size=4)
    assert labels.shape == x.shape[:3] and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.asarray(model.predict_on_batch(x)).argmax(-1))
    np.testing.assert_array_equal(training.predict_labels(model, x, batch_size=1), labels)


def test_evaluate_gives_the_papers_four_metrics_over_the_whole_set(tiny_data, trained):
    _, model = trained
    x, y = tiny_data
    scores = training.evaluate(model, x, y, NUM_CLASSES, batch_size=4)
    expected = metrics.segmentation_scores(metrics.confusion_matrix(y, training.predict_labels(model, x), NUM_CLASSES))
    for name in metrics.SCORE_NAMES:
        assert scores[name] == pytest.approx(expected[name], nan_ok=True)


def test_plot_history_draws_training_and_validation(trained):
    history, _ = trained
    axes = training.plot_history(history, title="tiny")
    assert [len(ax.lines) for ax in axes] == [2, 2]
    assert [ax.get_ylabel() for ax in axes] == ["loss", "mean IU"]
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), history["loss"])
    with pytest.raises(TypeError, match="history must be what fit returned"):
        training.plot_history([0.5, 0.4])
