"""The per-pixel cross-entropy: numpy reference and Keras loss agree, and handle every edge case."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from fcn_lessons import losses
from fcn_lessons.labels import VOID_LABEL

NUM_CLASSES = 4


def _batch(seed=0, shape=(3, 5, 7), scale=3.0, void_fraction=0.3):
    rng = np.random.default_rng(seed)
    logits = (rng.normal(size=(*shape, NUM_CLASSES)) * scale).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, size=shape).astype(np.uint8)
    labels[rng.uniform(size=shape) < void_fraction] = VOID_LABEL
    return labels, logits


def _by_hand(labels, logits, ignore_label=VOID_LABEL):
    """Per-pixel -log softmax, written out with float64 loops: the independent answer."""
    total, count = 0.0, 0
    for index in np.ndindex(labels.shape):
        if labels[index] == ignore_label:
            continue
        z = logits[index].astype(np.float64)
        total += np.log(np.sum(np.exp(z - z.max()))) + z.max() - z[labels[index]]
        count += 1
    return total, count


def _gradient(labels, logits, reduction="mean"):
    """d loss / d logits by hand: (softmax - one_hot) on labelled pixels, / count for "mean"."""
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    labelled = (labels != VOID_LABEL)[..., None]
    one_hot = np.eye(logits.shape[-1])[np.where(labels == VOID_LABEL, 0, labels)]
    g = (p - one_hot) * labelled
    return g / max(labelled.sum(), 1) if reduction == "mean" else g


def _keras_value_and_gradient(labels, logits, **kwargs):
    variable = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = losses.PixelCrossEntropy(**kwargs)(labels, variable)
    return float(value), tape.gradient(value, variable).numpy()


@pytest.mark.parametrize("reduction", losses.REDUCTIONS)
def test_numpy_reference_matches_the_definition(reduction):
    labels, logits = _batch()
    total, count = _by_hand(labels, logits)
    expected = total / count if reduction == "mean" else total
    assert losses.pixel_cross_entropy(labels, logits, reduction=reduction) == pytest.approx(expected, rel=1e-12)


def test_mean_is_over_the_batch_labelled_pixels_not_per_image_means():
    labels, logits = _batch(void_fraction=0.0)
    labels[0, :4] = VOID_LABEL  # image 0 keeps few labelled pixels: it must weigh less
    per_image = np.mean([losses.pixel_cross_entropy(labels[i:i + 1], logits[i:i + 1]) for i in range(3)])
    total, count = _by_hand(labels, logits)
    assert losses.pixel_cross_entropy(labels, logits) == pytest.approx(total / count)
    assert abs(per_image - total / count) > 1e-3


def test_matches_keras_and_pytorch_style_ignore_index():
    labels, logits = _batch()
    keras_builtin = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=VOID_LABEL)
    expected = float(keras_builtin(labels.astype(np.int32), logits))
    assert losses.pixel_cross_entropy(labels, logits) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("reduction", losses.REDUCTIONS)
def test_keras_loss_value_and_gradient_equal_the_reference(reduction):
    labels, logits = _batch(seed=1)
    value, gradient = _keras_value_and_gradient(labels, logits, reduction=reduction)
    assert value == pytest.approx(losses.pixel_cross_entropy(labels, logits, reduction=reduction), rel=1e-5)
    np.testing.assert_allclose(gradient, _gradient(labels, logits, reduction), atol=1e-6)


def test_labels_with_a_channel_axis_are_accepted():
    labels, logits = _batch()
    loss = losses.PixelCrossEntropy()
    assert float(loss(labels[..., None], logits)) == pytest.approx(float(loss(labels, logits)))


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_large_logits_stay_finite(scale):
    labels, logits = _batch(seed=2, scale=1.0)
    big = logits * scale
    total, count = _by_hand(labels, big)
    assert losses.pixel_cross_entropy(labels, big) == pytest.approx(total / count, rel=1e-9)
    value, gradient = _keras_value_and_gradient(labels, big)
    assert np.isfinite(value) and np.isfinite(gradient).all()
    assert value == pytest.approx(total / count, rel=1e-5)


def test_an_all_void_batch_gives_zero_with_zero_gradients():
    _, logits = _batch()
    labels = np.full(logits.shape[:3], VOID_LABEL, np.uint8)
    assert losses.pixel_cross_entropy(labels, logits) == 0.0
    for reduction in losses.REDUCTIONS:
        value, gradient = _keras_value_and_gradient(labels, logits, reduction=reduction)
        assert value == 0.0 and np.isfinite(gradient).all() and not gradient.any()


def test_void_pixels_do_not_change_the_loss_or_receive_gradient():
    labels, logits = _batch(seed=3)
    changed = logits.copy()
    changed[labels == VOID_LABEL] += 50.0  # anything at void pixels
    assert losses.pixel_cross_entropy(labels, changed) == pytest.approx(losses.pixel_cross_entropy(labels, logits))
    _, gradient = _keras_value_and_gradient(labels, logits)
    assert not gradient[labels == VOID_LABEL].any()


def test_ignore_label_none_counts_every_pixel():
    labels, logits = _batch(void_fraction=0.0)
    assert losses.pixel_cross_entropy(labels, logits, ignore_label=None) == pytest.approx(
        losses.pixel_cross_entropy(labels, logits))
    value, _ = _keras_value_and_gradient(labels, logits, ignore_label=None)
    assert value == pytest.approx(losses.pixel_cross_entropy(labels, logits), rel=1e-5)


def test_sample_weights_weigh_pixels():
    labels, logits = _batch(void_fraction=0.0)
    weights = np.array([1.0, 0.0, 2.0], np.float32)
    loss = losses.PixelCrossEntropy()
    total = sum(w * _by_hand(labels[i:i + 1], logits[i:i + 1])[0] for i, w in enumerate(weights))
    expected = total / (weights.sum() * labels[0].size)
    assert float(loss(labels, logits, sample_weight=weights)) == pytest.approx(expected, rel=1e-5)
    pixel_weights = np.broadcast_to(weights[:, None, None], labels.shape)
    assert float(loss(labels, logits, sample_weight=pixel_weights)) == pytest.approx(expected, rel=1e-5)


def test_out_of_range_labels_raise_in_eager_mode():
    labels, logits = _batch()
    labels[0, 0, 0] = NUM_CLASSES  # 4 with 4 classes: neither a class nor void
    with pytest.raises(ValueError, match=r"class ids \[4\] outside 0\.\.3 and 255 \(void\)"):
        losses.PixelCrossEntropy()(labels, logits)
    with pytest.raises(ValueError, match="outside 0..3"):
        losses.pixel_cross_entropy(labels, logits)


def test_out_of_range_labels_are_skipped_inside_a_compiled_graph():
    labels, logits = _batch(void_fraction=0.0)
    bad = labels.copy()
    bad[0, 0, 0] = NUM_CLASSES
    skipped = labels.copy()
    skipped[0, 0, 0] = VOID_LABEL
    loss = losses.PixelCrossEntropy()
    graph_value = tf.function(loss)(tf.constant(bad), tf.constant(logits))
    assert float(graph_value) == pytest.approx(losses.pixel_cross_entropy(skipped, logits), rel=1e-5)


def test_mixed_precision_logits_are_reduced_in_float32():
    labels, logits = _batch()
    value = losses.PixelCrossEntropy()(labels, tf.constant(logits, tf.float16))
    assert value.dtype == tf.float32
    assert float(value) == pytest.approx(losses.pixel_cross_entropy(labels, logits.astype(np.float16).astype(np.float32)),
                                         rel=1e-4)


@pytest.mark.parametrize("call, match", [
    (lambda: losses.pixel_cross_entropy(np.zeros((2, 3, 3), np.uint8), np.zeros((2, 3, 3), np.float32)),
     "logits must have rank 4"),
    (lambda: losses.pixel_cross_entropy(np.zeros((2, 3), np.uint8), np.zeros((2, 3, 3, 4), np.float32)),
     "labels must have rank 3"),
    (lambda: losses.pixel_cross_entropy(np.zeros((2, 3, 4), np.uint8), np.zeros((2, 3, 3, 4), np.float32)),
     r"labels must be \(N, H, W\) = \(2, 3, 3\)"),
    (lambda: losses.pixel_cross_entropy(np.zeros((1, 2, 2), np.float32), np.zeros((1, 2, 2, 3), np.float32)),
     "labels must have a signed int or unsigned int dtype"),
    (lambda: losses.pixel_cross_entropy(np.zeros((1, 2, 2), np.uint8), np.full((1, 2, 2, 3), np.nan, np.float32)),
     "NaN or infinite"),
    (lambda: losses.pixel_cross_entropy(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2, 2, 3), np.float32),
                                        reduction="average"), "reduction must be one of 'mean', 'sum'"),
    (lambda: losses.PixelCrossEntropy(reduction="sum_over_batch_size"), "reduction must be one of"),
    (lambda: losses.PixelCrossEntropy(ignore_label=-1), "ignore_label must be >= 0"),
    (lambda: losses.PixelCrossEntropy()(np.zeros((2, 3), np.uint8), np.zeros((2, 3, 4), np.float32)),
     r"needs y_pred \(N, H, W, C\) logits"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_config_round_trip_and_registration():
    loss = losses.PixelCrossEntropy(ignore_label=7, reduction="sum")
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again).__name__ == "PixelCrossEntropy"
    assert (again.ignore_label, again.reduction) == (7, "sum")


def test_importing_the_module_does_not_import_keras():
    code = "import sys, fcn_lessons.losses; print(json.dumps('keras' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) is False


_MIRRORED_SCRIPT = r"""
import json

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(2)])
import keras

from fcn_lessons import losses

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
rng = np.random.default_rng(0)
n, size, classes = 4, 6, 5
labels = rng.integers(0, classes, (n, size, size)).astype(np.uint8)
labels[0, :3] = 255  # replica 0 (images 0-1): 54 labelled pixels; replica 1 (images 2-3): 3
labels[2:] = 255
labels[2, 0, :3] = (1, 2, 3)
logits = rng.normal(0, 2, (n, size, size, classes)).astype(np.float32)
images = rng.normal(size=(n, size, size, 3)).astype(np.float32)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF


def per_replica(dataset):  # replica r gets rows [r * n / 2, (r + 1) * n / 2) of the one global batch
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def value_and_gradient(loss, y, z):
    with tf.GradientTape() as tape:
        tape.watch(z)
        value = loss(y, z)
    return value, tape.gradient(value, z)


out = {"labelled": [int((labels[:2] != 255).sum()), int((labels[2:] != 255).sum())]}
for name, make in (("mean", lambda: losses.PixelCrossEntropy()), ("sum", lambda: losses.PixelCrossEntropy(reduction="sum")),
                   ("keras_ignore_class", lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255))):
    value, gradient = value_and_gradient(make(), tf.constant(labels), tf.constant(logits))
    z, y = next(iter(per_replica(tf.data.Dataset.from_tensors((logits, labels)))))
    values, gradients = strategy.run(tf.function(lambda z, y: value_and_gradient(make(), y, z)), args=(z, y))
    out[name] = {"single": float(value), "replicas": float(strategy.reduce("SUM", values, axis=None)),
                 "gradient_difference": float(np.abs(np.concatenate(
                     [g.numpy() for g in strategy.experimental_local_results(gradients)]) - gradient.numpy()).max())}


def fit_once(strategy_or_none):
    scope = strategy_or_none.scope() if strategy_or_none else tf.distribute.get_strategy().scope()
    with scope:
        model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(classes, 1, name="score")])
        model.set_weights([np.linspace(-1, 1, 3 * classes, dtype=np.float32).reshape(1, 1, 3, classes),
                           np.zeros(classes, np.float32)])
        model.compile(keras.optimizers.SGD(0.5), loss=losses.PixelCrossEntropy())
    data = tf.data.Dataset.from_tensors((images, labels))
    history = model.fit(per_replica(data) if strategy_or_none else data, epochs=1, verbose=0)
    return history.history["loss"][0], model.get_weights()


single_loss, single_weights = fit_once(None)
mirrored_loss, mirrored_weights = fit_once(strategy)
out["fit"] = {"single": float(single_loss), "mirrored": float(mirrored_loss),
              "weight_difference": max(float(np.abs(a - b).max()) for a, b in zip(single_weights, mirrored_weights))}
print(json.dumps(out))
"""


def test_under_mirrored_strategy_the_loss_is_the_global_batch_mean():
    """Two logical CPUs, void spread unevenly (54 vs 3 labelled pixels): replicas' values, gradients
    and ``fit`` (reported loss and the weights after one SGD step) equal one device's on the same batch."""
    result = subprocess.run([sys.executable, "-c", _MIRRORED_SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["labelled"] == [54, 3]
    for reduction in ("mean", "sum"):
        assert out[reduction]["replicas"] == pytest.approx(out[reduction]["single"], rel=1e-5)
        assert out[reduction]["gradient_difference"] < 1e-6
    assert out["fit"]["mirrored"] == pytest.approx(out["fit"]["single"], rel=1e-5)
    assert out["fit"]["weight_difference"] < 1e-5
    # Keras' own masked mean divides by each replica's count, then by the replicas: not the batch's mean.
    keras_own = out["keras_ignore_class"]
    assert keras_own["single"] == pytest.approx(out["mean"]["single"], rel=1e-5)
    assert abs(keras_own["replicas"] - keras_own["single"]) > 0.05 and keras_own["gradient_difference"] > 1e-3
