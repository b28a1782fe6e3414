"""Checks for lesson 01's exercises: dense layers as convolutions."""

from __future__ import annotations

import keras
import numpy as np

from fcn_lessons import conv1x1, models
from fcn_lessons.checks._core import case_rng, cases, describe, exercise_check, passed

__all__ = ["check_dense_kernel_to_conv1x1", "check_flatten_dense_to_conv", "check_convolutionalize_classifier"]

_SEED = 101  # the checks draw their own random cases; the learner's seed is untouched


@exercise_check("1.1")
def check_dense_kernel_to_conv1x1(fn) -> None:
    """Exercise 1.1: ``fn(kernel (C, K)) -> (1, 1, C, K)`` Conv2D kernel."""
    rng = case_rng(_SEED)
    shapes = [(3, 5), (8, 8), (1, 4), (16, 2), (6, 6), (5, 1)]
    hint = ("A Dense kernel is (C, K): C inputs, K outputs. Keras' Conv2D kernel is "
            "(kernel_h, kernel_w, in_channels, out_channels): add two leading axes of "
            "size 1, and do not transpose.")
    for case, (c, k) in zip(cases("1.1", [f"Dense kernel of shape {s}" for s in shapes], hint), shapes):
        kernel = rng.standard_normal((c, k)).astype(np.float32)
        received = case.call(fn, kernel.copy())
        case.assert_close(received, conv1x1.dense_kernel_to_conv1x1(kernel), what="1×1 kernel",
                          atol=0, rtol=0)
    passed("1.1", len(shapes), "match the reference")


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
