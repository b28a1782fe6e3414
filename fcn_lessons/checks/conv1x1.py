"""Checks for lesson 01's exercises: dense layers as convolutions."""

from __future__ import annotations

import keras
import numpy as np

from fcn_lessons import conv1x1, models
from fcn_lessons.checks._core import case_rng, cases, check_prediction, describe, exercise_check, passed

__all__ = ["check_channels_first_linear_to_conv", "check_flatten_dense_to_conv",
           "check_convolutionalize_classifier", "check_score_map_prediction"]

_SEED = 101  # the checks draw their own random cases; the learner's seed is untouched


def _linear_shapes(rng, count: int) -> list[tuple[int, int, int, int]]:
    """(C, H, W, K) cases: one square map (H = W) so that swapping H and W shows in the values."""
    shapes = []
    for i in range(count):
        c, k = (int(v) for v in rng.integers(2, 6, size=2))
        h = int(rng.integers(2, 5))
        w = h if i == 0 else int(rng.choice([v for v in range(2, 6) if v != h]))
        shapes.append((c, h, w, k))
    return shapes


def _diagnose_1_1(received: np.ndarray, weight: np.ndarray, c: int, h: int, w: int, k: int) -> str | None:
    """The hint for a recognised mistake, or None."""
    mistakes = {
        "You kept Keras' order (H, W, C) for the flat index; PyTorch flattened the (C, H, W) map, "
        "channel by channel.": lambda: weight.T.reshape(h, w, c, k),
        "You unflattened the weight as if it were stored (in, out); PyTorch stores a Linear weight "
        "as (out_features, in_features).": lambda: weight.reshape(c, h, w, k).transpose(1, 2, 0, 3),
        "You swapped H and W; a Keras kernel's axes are (kernel_height, kernel_width, in_channels, "
        "out_channels).": lambda: weight.reshape(k, c, h, w).transpose(3, 2, 1, 0),
    }
    for hint, mistake in mistakes.items():
        candidate = mistake()
        if candidate.shape == received.shape and np.allclose(candidate, received):
            return hint
    return None


@exercise_check("1.1")
def check_channels_first_linear_to_conv(fn) -> None:
    """Exercise 1.1: ``fn(weight (K, C*H*W), feature_shape (C, H, W)) -> (H, W, C, K)`` kernel.

    The weight is a PyTorch ``Linear`` weight after a channels-first flatten; the kernel
    must make a Keras ``Conv2D(K, (H, W))`` on the (H, W, C) map give the same scores.
    """
    rng = case_rng(_SEED)
    shapes = _linear_shapes(rng, 5)
    hint = ("Follow one weight: PyTorch's input (c·H + i)·W + j is pixel (i, j), channel c. "
            "The weight is (out, in) = (K, C·H·W); the Keras kernel is (H, W, C, K).")
    descriptions = [f"Linear({c}·{h}·{w} -> {k}) after flattening a (C, H, W) = ({c}, {h}, {w}) map"
                    for c, h, w, k in shapes]
    for case, (c, h, w, k) in zip(cases("1.1", descriptions, hint), shapes):
        weight = rng.standard_normal((k, c * h * w)).astype(np.float32)
        received = case.call(fn, weight.copy(), (c, h, w))
        expected = conv1x1.channels_first_linear_to_conv_kernel(weight, (c, h, w))
        specific = _diagnose_1_1(received, weight, c, h, w, k) if isinstance(received, np.ndarray) else None
        case.assert_close(received, expected, what="Conv2D kernel (H, W, C, K)", atol=0, rtol=0, hint=specific)
    passed("1.1", len(shapes), "turn the PyTorch weight into the Keras kernel")


def _random_dense(rng, inputs: int, units: int, activation, use_bias: bool = True):
    dense = keras.layers.Dense(units, activation=activation, use_bias=use_bias)
    dense.build((None, inputs))
    weights = [rng.standard_normal((inputs, units)).astype(np.float32) / np.sqrt(inputs)]
    if use_bias:
        weights.append(rng.standard_normal(units).astype(np.float32))
    dense.set_weights(weights)
    return dense


def _run_layer(case, layer, x):
    if not isinstance(layer, keras.layers.Layer):
        raise case.fail(f"expected a keras layer (Conv2D), received {describe(layer)}")
    return np.asarray(case.call(layer, x, who="calling your layer"))


@exercise_check("1.2")
def check_flatten_dense_to_conv(fn) -> None:
    """Exercise 1.2: ``fn(dense_layer, feature_shape (H, W, C)) -> Conv2D`` layer.

    The layer must give the Dense output at the training size, shape (N, 1, 1, K), and
    slide like the reference convolution on a larger map.
    """
    rng = case_rng(_SEED + 2)
    configs = [  # (H, W, C, K, activation)
        (2, 3, 4, 5, "relu"), (3, 3, 2, 7, None), (4, 2, 3, 3, "relu"),
        (1, 1, 6, 4, None), (3, 5, 1, 2, "sigmoid"),
    ]
    hint = ("Keras' Flatten reads the (H, W, C) map row by row, channels fastest, so the "
            "Dense kernel (H*W*C, K) reshapes to (H, W, C, K). Keep the bias and the "
            "activation, use padding='valid', build the layer, then set_weights.")
    descriptions = [f"Dense({k}, activation={a!r}) after Flatten of an ({h}, {w}, {c}) map"
                    for h, w, c, k, a in configs]
    for case, (h, w, c, k, activation) in zip(cases("1.2", descriptions, hint), configs):
        dense = _random_dense(rng, h * w * c, k, activation)
        layer = case.call(fn, dense, (h, w, c))
        x = rng.standard_normal((3, h, w, c)).astype(np.float32)
        expected = np.asarray(dense(x.reshape(3, -1))).reshape(3, 1, 1, k)
        case.assert_close(_run_layer(case, layer, x), expected,
                          what=f"output on a batch of 3 maps of shape ({h}, {w}, {c})")
        bigger = rng.standard_normal((2, h + 2, w + 3, c)).astype(np.float32)
        reference = conv1x1.dense_to_conv(dense, (h, w, c))
        case.assert_close(_run_layer(case, layer, bigger), np.asarray(reference(bigger)),
                          what=f"output on a larger map ({h + 2}, {w + 3}, {c})")
    passed("1.2", len(configs), "match the Dense layer and slide like a convolution")


def _random_classifier(rng, crop_size: int, widths, num_classes: int):
    model = models.crop_classifier(crop_size, num_classes, widths=widths, hidden_units=12)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) /
                               np.sqrt(np.prod(w.shape[:-1]) if len(w.shape) > 1 else 10.0)
                               for w in layer.get_weights()])
    return model


@exercise_check("1.3")
def check_convolutionalize_classifier(fn) -> None:
    """Exercise 1.3: ``fn(classifier) -> keras.Model`` running on any image size.

    At the training size the model must reproduce the classifier's scores as (N, 1, 1, K);
    on a larger image its map must equal the classifier run on every window at the
    trunk's output stride (computed here by explicit cropping, not by the reference).
    """
    rng = case_rng(_SEED + 3)
    configs = [(16, (4, 8), 3), (24, (4, 6, 8), 5), (32, (6, 8, 8), 4)]  # crop, widths, classes
    hint = ("Reuse the trunk (every layer before Flatten) on a keras.Input((None, None, 3)); "
            "replace the first Dense by an H×W 'valid' convolution (your Exercise 1.2) and every "
            "later Dense by a 1×1 convolution, keeping activations and Dropout.")
    descriptions = [f"classifier of {crop}×{crop} crops, widths {widths}, {k} classes"
                    for crop, widths, k in configs]
    for case, (crop, widths, k) in zip(cases("1.3", descriptions, hint), configs):
        classifier = _random_classifier(rng, crop, widths, k)
        stride = 2 ** (len(widths) - 1)
        model = case.call(fn, classifier)
        if not isinstance(model, keras.Model):
            raise case.fail(f"expected a keras.Model, received {describe(model)}")
        crops = rng.uniform(0, 255, (2, crop, crop, 3)).astype(np.float32)
        expected = np.asarray(classifier(crops, training=False)).reshape(2, 1, 1, k)
        case.assert_close(case.call(model, crops, training=False, who="calling your model"), expected,
                          what=f"scores at the training size {crop}×{crop}", atol=1e-4)
        image = rng.uniform(0, 255, (crop + 3 * stride, crop + 5 * stride, 3)).astype(np.float32)
        expected = conv1x1.sliding_window_scores(classifier, image, stride)
        received = case.call(model, image[None], training=False, who="calling your model")
        case.assert_close(np.asarray(received)[0] if np.ndim(received) == 4 else received, expected,
                          what=f"score map on a {image.shape[0]}×{image.shape[1]} image "
                               f"(every window at stride {stride})", atol=1e-4)
    passed("1.3", len(configs), "equal the classifier on every window")


PREDICTION_CANVAS = (150, 203)  # exercise 1.4's canvas (rows, columns): both sides 2 or 3 past a multiple of 4


@exercise_check("1.4")
def check_score_map_prediction(prediction) -> None:
    """Exercise 1.4 ("predict, then run"): how many score vectors on a 150 × 203 canvas?

    Runs lesson 01's convolutionalized classifier (``models.crop_classifier()``, 32-pixel
    crops, output stride 4) on a canvas of ``PREDICTION_CANVAS`` and compares the number
    of positions of its score map with ``prediction``.
    """
    from fcn_lessons import receptive

    classifier = models.crop_classifier()
    model = conv1x1.convolutionalize(classifier)
    canvas_h, canvas_w = PREDICTION_CANVAS
    rows, cols = np.asarray(model.predict_on_batch(np.zeros((1, canvas_h, canvas_w, 3), np.float32))).shape[1:3]
    field = receptive.receptive_fields(model)[model.layers[-1].name]
    crop, stride, size = classifier.input_shape[1], field.stride[0], field.size[0]
    by_window = conv1x1.output_size(canvas_h, crop, stride) * conv1x1.output_size(canvas_w, crop, stride)
    explanation = (f"A score exists exactly where its {size}-pixel receptive field fits inside the canvas: "
                   f"({canvas_h} - {size}) // {stride} + 1 = {rows} rows and ({canvas_w} - {size}) // {stride} + 1 = "
                   f"{cols} columns. With the {crop}-pixel crop instead of the field you would get {by_window:,}: "
                   f"the classifier never reads the last {crop - size} rows and columns of its crop.")
    check_prediction("1.4", prediction, int(rows * cols), what=f"the number of score vectors on a "
                     f"{canvas_h}×{canvas_w} canvas", explanation=explanation, tolerance=0)
