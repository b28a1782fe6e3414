"""Checks for lesson 01's exercises: dense layers as convolutions.

- 1.1 ``check_dense_kernel_to_channels_first_linear``: a Keras Dense kernel after Flatten,
  exported as a PyTorch ``Linear`` weight (channels-first flatten, (out, in) layout).
- 1.2 ``check_global_average_dense_to_conv``: GlobalAveragePooling2D + Dense as one H×W
  'valid' convolution.
- 1.3 ``check_convolutionalize_classifier``: a crop classifier as a fully convolutional model.
- 1.4 ``check_score_map_prediction`` ("predict, then run"): the score map's size for a
  deeper classifier on a canvas the lesson never shows.

Every check draws its cases (shapes, weights, inputs) from :func:`case_rng`, so a graded run
sees other cases than the learner did. Hints nudge; a recognised mistake gets its own hint.
1.1-1.3 refuse a notebook function that reaches into ``fcn_lessons.conv1x1`` (the answers).
"""

from __future__ import annotations

import keras
import numpy as np

from fcn_lessons import conv1x1, models
from fcn_lessons.checks._core import case_rng, cases, check_prediction, describe, exercise_check, passed

__all__ = ["check_dense_kernel_to_channels_first_linear", "check_global_average_dense_to_conv",
           "check_convolutionalize_classifier", "check_score_map_prediction"]

_SEED = 101  # the checks draw their own random cases; the learner's seed is untouched
_COURSE_ANSWERS = ("fcn_lessons.conv1x1",)  # the module that holds the answers to 1.1-1.3


# --- 1.1 ---------------------------------------------------------------------------------

def _map_shapes(rng, count: int) -> list[tuple[int, int, int, int]]:
    """(H, W, C, K) cases: the first square (H = W), the others not, so both kinds of mistake show."""
    shapes = []
    for i in range(count):
        c, k = (int(v) for v in rng.integers(2, 6, size=2))
        h = int(rng.integers(2, 5))
        w = h if i == 0 else int(rng.choice([v for v in range(2, 6) if v != h]))
        shapes.append((h, w, c, k))
    return shapes


def _diagnose_1_1(received: np.ndarray, kernel: np.ndarray, h: int, w: int, c: int, k: int) -> str | None:
    """The hint for a recognised mistake in 1.1, or None."""
    if received.dtype == np.float16:
        return "Your weights are float16, which rounds them: keep the kernel's float32."
    as_conv = kernel.reshape(h, w, c, k)
    mistakes = {
        "You transposed the kernel but kept Keras' order of the inputs, (i·W + j)·C + c; PyTorch's Linear "
        "reads the flattened (C, H, W) map, channel by channel.": lambda: kernel.T,
        "PyTorch stores a Linear weight as (out_features, in_features): one row per output, K rows.":
            lambda: as_conv.transpose(2, 0, 1, 3).reshape(c * h * w, k),
        "Your columns run over (C, W, H); PyTorch flattens the (C, H, W) map, so within a channel it "
        "goes row by row.": lambda: as_conv.transpose(3, 2, 1, 0).reshape(k, c * h * w),
    }
    for hint, mistake in mistakes.items():
        candidate = mistake()
        if candidate.shape == received.shape and np.allclose(candidate, received):
            return hint
    return None


@exercise_check("1.1", forbidden=_COURSE_ANSWERS)
def check_dense_kernel_to_channels_first_linear(fn) -> None:
    """Exercise 1.1: ``fn(kernel (H*W*C, K), feature_shape (H, W, C)) -> (K, C*H*W)`` PyTorch weight.

    The kernel is a Keras Dense kernel after Keras' Flatten of an (H, W, C) map; the
    result must make ``nn.Flatten()`` + ``nn.Linear`` on the (C, H, W) map give the same scores.
    """
    rng = case_rng(_SEED)
    shapes = _map_shapes(rng, 5)
    hint = ("Follow one weight: row (i·W + j)·C + c, column k of the Keras kernel is what output k "
            "gives pixel (i, j) of channel c. Where must PyTorch keep that number?")
    descriptions = [f"Dense({k}) after Flatten of an (H, W, C) = ({h}, {w}, {c}) map" for h, w, c, k in shapes]
    for case, (h, w, c, k) in zip(cases("1.1", descriptions, hint), shapes):
        kernel = rng.standard_normal((h * w * c, k)).astype(np.float32)
        received = case.call(fn, kernel.copy(), (h, w, c))
        expected = conv1x1.dense_kernel_to_channels_first_linear(kernel, (h, w, c))
        specific = None
        if isinstance(received, np.ndarray):
            specific = _diagnose_1_1(received, kernel, h, w, c, k)
        case.assert_close(received, expected, what="PyTorch Linear weight (K, C·H·W)", atol=1e-7, rtol=1e-6,
                          hint=specific)
    passed("1.1", len(shapes), "turn the Keras kernel into the PyTorch weight")


# --- 1.2 ---------------------------------------------------------------------------------

def _random_dense(rng, inputs: int, units: int, activation, use_bias: bool = True):
    dense = keras.layers.Dense(units, activation=activation, use_bias=use_bias)
    dense.build((None, inputs))
    weights = [rng.standard_normal((inputs, units)).astype(np.float32) / np.sqrt(inputs)]
    if use_bias:
        weights.append(rng.standard_normal(units).astype(np.float32))
    dense.set_weights(weights)
    return dense


def _call(case, layer_or_model, x, *, who: str, hint: str | None) -> np.ndarray:
    """``layer_or_model(x)`` in inference mode; an exception fails the case with ``hint`` (if any)."""
    try:
        return np.asarray(layer_or_model(x, training=False))
    except NotImplementedError:
        raise
    except Exception as err:  # the learner's layer or model raised: this case's failure
        raise case.fail(f"{who} raised {type(err).__name__}: {err}", hint=hint) from err


def _run_layer(case, layer, x, hint=None):
    if not isinstance(layer, keras.layers.Layer):
        raise case.fail(f"expected a keras layer (Conv2D), received {describe(layer)}")
    return _call(case, layer, x, who="calling your layer", hint=hint)


def _activation_name(layer) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "linear")


def _diagnose_1_2(layer, dense, h: int, w: int, c: int) -> str | None:
    """The hint for a recognised mistake in 1.2 (read from the layer's settings and weights), or None."""
    if not isinstance(layer, keras.layers.Conv2D):
        return None
    if tuple(layer.kernel_size) != (h, w):
        return (f"Your kernel is {tuple(layer.kernel_size)}; the average reads the whole {h}×{w} map, "
                "so one convolution must too.")
    if tuple(layer.strides) != (1, 1):
        return ("Your layer moves by its strides; on a larger map the classifier's window moves one "
                "position at a time, so the convolution must slide with strides 1.")
    if layer.padding != "valid":
        return "'same' padding adds zeros around the map; the pooled classifier never saw those."
    if _activation_name(layer) != _activation_name(dense):
        return (f"The Dense layer applies {_activation_name(dense)!r} after its sum; your layer applies "
                f"{_activation_name(layer)!r}.")
    if not layer.use_bias:
        return "The Dense layer adds a bias; your layer has none."
    if not layer.built:
        return None
    kernel, bias = dense.get_weights()
    got_kernel, got_bias = (np.asarray(v) for v in layer.get_weights()[:2])
    if got_bias.shape == bias.shape and not np.allclose(got_bias, bias, atol=1e-6):
        return "The bias is added once, after the average: it needs no change."
    if got_kernel.shape == (h, w, c, kernel.shape[1]):
        if np.allclose(got_kernel, np.broadcast_to(kernel, got_kernel.shape), atol=1e-6):
            return "Your kernel sums over the H·W positions; an average divides that sum by H·W."
        if np.count_nonzero(np.abs(got_kernel).sum(axis=(2, 3))) == 1:
            return "Your kernel reads one position only; every position counts in an average."
    return None


@exercise_check("1.2", forbidden=_COURSE_ANSWERS)
def check_global_average_dense_to_conv(fn) -> None:
    """Exercise 1.2: ``fn(dense_layer, feature_shape (H, W, C)) -> Conv2D`` for GlobalAveragePooling2D + Dense.

    The layer must give the pooled classifier's output on an (H, W, C) map, shape
    (N, 1, 1, K), and on a larger map the classifier on every H×W window (stride 1).
    """
    rng = case_rng(_SEED + 2)
    activations = ["relu", None, "sigmoid", "relu", None]
    configs = [(int(rng.integers(2, 5)), int(rng.integers(2, 6)), int(rng.integers(1, 5)), int(rng.integers(2, 7)),
                activation) for activation in activations]  # (H, W, C, K, activation)
    hint = ("Write output k of pooling + Dense as one sum over i, j and c: which weight multiplies "
            "x[i, j, c]? That weight is your kernel's entry (i, j, c, k).")
    descriptions = [f"GlobalAveragePooling2D + Dense({k}, activation={a!r}) on an ({h}, {w}, {c}) map"
                    for h, w, c, k, a in configs]
    for case, (h, w, c, k, activation) in zip(cases("1.2", descriptions, hint), configs):
        dense = _random_dense(rng, c, k, activation)
        layer = case.call(fn, dense, (h, w, c))
        if isinstance(layer, keras.layers.Layer) and not isinstance(layer, keras.layers.Conv2D):
            raise case.fail(f"expected one keras.layers.Conv2D, received {type(layer).__name__}",
                            hint="Pooling then a 1×1 convolution computes the same, but the exercise asks "
                                 "for the single H×W convolution: find its kernel.")
        specific = _diagnose_1_2(layer, dense, h, w, c)
        x = rng.standard_normal((3, h, w, c)).astype(np.float32)
        expected = np.asarray(dense(x.mean(axis=(1, 2)))).reshape(3, 1, 1, k)
        case.assert_close(_run_layer(case, layer, x, specific), expected, hint=specific,
                          what=f"output on a batch of 3 maps of shape ({h}, {w}, {c})")
        bigger = rng.standard_normal((2, h + 2, w + 3, c)).astype(np.float32)
        reference = conv1x1.global_average_dense_to_conv(dense, (h, w, c))
        case.assert_close(_run_layer(case, layer, bigger, specific), np.asarray(reference(bigger)), hint=specific,
                          what=f"output on a larger map ({h + 2}, {w + 3}, {c}): one per {h}×{w} window")
    passed("1.2", len(configs), "match pooling + Dense and slide like a convolution")


# --- 1.3 ---------------------------------------------------------------------------------

def _random_classifier(rng, crop_size: int, widths, num_classes: int):
    model = models.crop_classifier(crop_size, num_classes, widths=widths, hidden_units=12)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) /
                               np.sqrt(np.prod(w.shape[:-1]) if len(w.shape) > 1 else 10.0)
                               for w in layer.get_weights()])
    return model


def _all_layers(model) -> list:
    found = []
    for layer in getattr(model, "layers", []):
        found += [layer, *_all_layers(layer)] if isinstance(layer, keras.Model) else [layer]
    return found


def _diagnose_1_3(model, classifier) -> str | None:
    """The hint for a recognised mistake in 1.3 (read from the model's layers), or None."""
    layers = _all_layers(model)
    if any(isinstance(layer, keras.layers.Flatten) for layer in layers):
        return "Your model still flattens: a Flatten layer fixes the number of values it can take."
    spatial = tuple(model.input_shape[1:3]) if isinstance(model.input_shape, tuple) else ()
    if spatial and any(s is not None for s in spatial):
        return f"Your model's input is fixed at {spatial}: it must accept images of any size."
    rescalings = sum(isinstance(layer, keras.layers.Rescaling) for layer in _all_layers(classifier))
    if sum(isinstance(layer, keras.layers.Rescaling) for layer in layers) < rescalings:
        return "The classifier rescales its pixels before the first convolution; your model does not."
    flatten = next(layer for layer in classifier.layers if isinstance(layer, keras.layers.Flatten))
    map_size = tuple(flatten.input.shape[1:3])
    convs = [layer for layer in layers if isinstance(layer, keras.layers.Conv2D)]
    trunk = sum(isinstance(layer, keras.layers.Conv2D) for layer in classifier.layers)
    if len(convs) > trunk and tuple(convs[trunk].kernel_size) != map_size:
        return (f"fc1 reads the whole {map_size[0]}×{map_size[1]} map the trunk leaves on a crop; your "
                f"convolution that replaces it is {tuple(convs[trunk].kernel_size)}.")
    return None


def _channels_first_scores(classifier, crops) -> np.ndarray:
    """What the classifier gives when its first Dense kernel is read in channels-first order."""
    mistaken = keras.models.clone_model(classifier)
    mistaken.set_weights(classifier.get_weights())
    flatten_at = next(i for i, layer in enumerate(classifier.layers) if isinstance(layer, keras.layers.Flatten))
    first = next(layer for layer in mistaken.layers[flatten_at + 1:] if isinstance(layer, keras.layers.Dense))
    kernel, *rest = first.get_weights()
    h, w, c = (int(d) for d in classifier.layers[flatten_at].input.shape[1:])
    first.set_weights([conv1x1.unflatten_kernel(kernel, (h, w, c), "channels_first").reshape(kernel.shape), *rest])
    return np.asarray(mistaken(crops, training=False))


@exercise_check("1.3", forbidden=_COURSE_ANSWERS)
def check_convolutionalize_classifier(fn) -> None:
    """Exercise 1.3: ``fn(classifier) -> keras.Model`` running on any image size.

    At the training size the model must reproduce the classifier's scores as (N, 1, 1, K);
    on a larger image its map must equal the classifier run on every window at the
    trunk's output stride (computed here by explicit cropping, not by the reference).
    """
    rng = case_rng(_SEED + 3)
    configs = [(16, (4, 8), 3), (24, (4, 6, 8), 5), (32, (6, 8, 8), 4)]  # crop, widths, classes
    hint = ("Compare your model with the classifier layer by layer on one crop: where do the numbers "
            "first differ? (Lesson 01, sections 3 and 5.)")
    descriptions = [f"classifier of {crop}×{crop} crops, widths {widths}, {k} classes"
                    for crop, widths, k in configs]
    for case, (crop, widths, k) in zip(cases("1.3", descriptions, hint), configs):
        classifier = _random_classifier(rng, crop, widths, k)
        stride = 2 ** (len(widths) - 1)
        model = case.call(fn, classifier)
        if not isinstance(model, keras.Model):
            raise case.fail(f"expected a keras.Model, received {describe(model)}")
        specific = _diagnose_1_3(model, classifier)
        crops = rng.uniform(0, 255, (2, crop, crop, 3)).astype(np.float32)
        expected = np.asarray(classifier(crops, training=False)).reshape(2, 1, 1, k)
        received = _call(case, model, crops, who="calling your model", hint=specific)
        if specific is None and received.shape == expected.shape and np.allclose(
                received, _channels_first_scores(classifier, crops).reshape(expected.shape), atol=1e-4):
            specific = ("Your fc1 kernel reads the flattened map in channels-first order; Keras' Flatten "
                        "read it row by row, channels fastest (lesson 01, section 3).")
        case.assert_close(received, expected, what=f"scores at the training size {crop}×{crop}", atol=1e-4,
                          hint=specific)
        image = rng.uniform(0, 255, (crop + 3 * stride, crop + 5 * stride, 3)).astype(np.float32)
        expected = conv1x1.sliding_window_scores(classifier, image, stride)
        received = _call(case, model, image[None], who="calling your model", hint=specific)
        case.assert_close(np.asarray(received)[0] if np.ndim(received) == 4 else received, expected,
                          what=f"score map on a {image.shape[0]}×{image.shape[1]} image "
                               f"(every window at stride {stride})", atol=1e-4, hint=specific)
    passed("1.3", len(configs), "equal the classifier on every window")


# --- 1.4 ---------------------------------------------------------------------------------

PREDICTION_CROP = 48  # exercise 1.4's classifier: models.crop_classifier(48, widths=PREDICTION_WIDTHS)
PREDICTION_WIDTHS = (32, 64, 64, 64)  # four 3×3 'valid' convolutions, three 2×2 poolings
PREDICTION_CANVAS = (150, 207)  # (rows, columns): both sides 6 or 7 past a multiple of 8


def prediction_classifier() -> keras.Model:
    """Exercise 1.4's classifier, convolutionalized (its weights do not matter for the map's size)."""
    return conv1x1.convolutionalize(models.crop_classifier(PREDICTION_CROP, widths=PREDICTION_WIDTHS))


def _side_chain(model, crop: int) -> tuple[str, list[int]]:
    """The map side after each convolution and pooling on one crop ('48 → 46 → 23 → ...'), and
    the odd sides that a pooling rounded down."""
    sides, shape, rounded = [crop], (1, crop, crop, 3), []
    for layer in model.layers[1:]:
        shape = tuple(layer.compute_output_shape(shape))
        if isinstance(layer, keras.layers.MaxPooling2D) and sides[-1] % 2:
            rounded.append(sides[-1])
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.MaxPooling2D)) and shape[1] != sides[-1]:
            sides.append(shape[1])
    return " → ".join(str(side) for side in sides), rounded


@exercise_check("1.4")
def check_score_map_prediction(prediction) -> None:
    """Exercise 1.4 ("predict, then run"): how many score vectors does the deeper classifier give?

    Runs ``prediction_classifier()`` (48-pixel crops, four 'valid' convolutions, three
    poolings) on a canvas of ``PREDICTION_CANVAS`` whose pixels are drawn from
    ``case_rng`` and compares the number of positions of its score map with ``prediction``.
    """
    from fcn_lessons import receptive

    model = prediction_classifier()
    canvas_h, canvas_w = PREDICTION_CANVAS
    canvas = case_rng(_SEED + 4).uniform(0, 255, (1, canvas_h, canvas_w, 3)).astype(np.float32)
    rows, cols = np.asarray(model.predict_on_batch(canvas)).shape[1:3]
    field = receptive.receptive_fields(model)[model.layers[-1].name]
    stride, size = field.stride[0], field.size[0]
    by_window = (conv1x1.output_size(canvas_h, PREDICTION_CROP, stride)
                 * conv1x1.output_size(canvas_w, PREDICTION_CROP, stride))
    chain, rounded = _side_chain(model, PREDICTION_CROP)
    dropped = " and ".join(f"the odd {side} rows" for side in rounded)
    pools = sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)
    explanation = (f"Pooling {pools} times by 2 makes the output stride {stride}. On a {PREDICTION_CROP}-pixel crop the "
                   f"maps are {chain}: the pooling of {dropped} drops one, and walking back from "
                   f"there the score reads {size} of the crop's {PREDICTION_CROP} "
                   f"rows. A score exists where those {size} fit: ({canvas_h} - {size}) // {stride} + 1 = {rows} "
                   f"rows and ({canvas_w} - {size}) // {stride} + 1 = {cols} columns. The crop's size instead "
                   f"of the field gives {by_window:,}.")
    check_prediction("1.4", prediction, int(rows * cols), what=f"the number of score vectors on a "
                     f"{canvas_h}×{canvas_w} canvas", explanation=explanation, tolerance=0)
