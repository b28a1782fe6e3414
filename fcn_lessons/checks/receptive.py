"""Checks for lesson 02's exercises: receptive fields.

- 2.1 ``check_receptive_field_1d``: the recurrence on a list of 1-D layers.
- 2.2 ``check_model_field``: field, output stride and offset of a Keras model, with
  TensorFlow's 'same' padding (which depends on the input length when the stride is > 1).
- 2.3 ``check_dilation_schedule``: dilations that reach a target field without holes.
- 2.4 ``check_field_prediction``: "predict, then run": the learner's predicted field
  width of one unit against the width measured with gradients.

Each check draws some of its cases from ``case_rng``, so the grader's seed gives cases
the learner has not seen. The reference is ``fcn_lessons.receptive`` (public names only).
"""

from __future__ import annotations

import functools

import numpy as np

from fcn_lessons import receptive
from fcn_lessons.checks._core import (CaseFailure, case_rng, cases, check_prediction, describe,
                                      exercise_check, grading_seed, passed)

__all__ = ["check_receptive_field_1d", "check_model_field", "check_dilation_schedule",
           "check_field_prediction", "field_question_model", "FIELD_QUESTION"]

_SEED = 202  # the checks draw their own random cases; the learner's seed is untouched


def _number(x: float):
    """``x`` as an int when it is one (44.0 -> 44), else a float (3.5), for messages."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _show(values) -> tuple:
    return tuple(_number(v) for v in values)


# --- Exercise 2.1: the recurrence -------------------------------------------------------------

_HINT_2_1 = ("For each layer, with k_eff = dilation * (kernel - 1) + 1 and the jump of the layer "
             "*below*: size += (k_eff - 1) * jump; offset += ((k_eff - 1) / 2 - padding) * jump; "
             "only then jump *= stride.")

# Fixed cases first, each aimed at one mistake, then random stacks.
_FIXED_2_1 = [
    [receptive.Layer1D(3), receptive.Layer1D(3)],  # two 3-tap convolutions
    [receptive.Layer1D(3, 2), receptive.Layer1D(3)],  # a stride before a convolution
    [receptive.Layer1D(3, 1, 0, 2), receptive.Layer1D(3, 1, 0, 4)],  # dilation
    [receptive.Layer1D(3, 1, 1), receptive.Layer1D(2, 2, 0), receptive.Layer1D(3, 1, 1)],  # 'same' + pooling
    [receptive.Layer1D(4, 2, 1), receptive.Layer1D(5, 1, 2), receptive.Layer1D(2, 2)],  # even kernels
]
_RANDOM_2_1 = 5  # random stacks after the fixed ones


def _random_layers(rng, count: int) -> list:
    layers = []
    for _ in range(count):
        kernel = int(rng.integers(1, 7))
        stride = int(rng.choice([1, 1, 2, 3]))
        dilation = int(rng.choice([1, 1, 2, 3])) if stride == 1 else 1
        padding = int(rng.integers(0, dilation * (kernel - 1) // 2 + 2))
        layers.append(receptive.Layer1D(kernel, stride, padding, dilation))
    return layers


def stacks_2_1() -> list:
    """The layer stacks exercise 2.1 is checked on (the random ones depend on the grader's seed)."""
    rng = case_rng(_SEED)
    return _FIXED_2_1 + [_random_layers(rng, int(rng.integers(2, 7))) for _ in range(_RANDOM_2_1)]


def _layers_text(layers) -> str:
    return "[" + ", ".join(f"(k={k}, s={s}, p={p}, d={d})" for k, s, p, d in layers) + "]"


def _as_triples(case, received, count: int) -> np.ndarray:
    try:
        rows = [tuple(float(v) for v in item) for item in received]
    except (TypeError, ValueError) as err:
        raise case.fail(f"expected a list of (size, jump, offset) tuples, one per layer; received "
                        f"{describe(received)} ({err})") from err
    if len(rows) != count:
        extra = (" (do not include the input's own field (1, 1, 0): one entry per layer)"
                 if len(rows) == count + 1 else "")
        raise case.fail(f"expected {count} (size, jump, offset) tuples, one per layer; received "
                        f"{len(rows)}{extra}")
    if any(len(r) != 3 for r in rows):
        raise case.fail(f"each entry must be (size, jump, offset); received {received!r}"[:400])
    return np.array(rows, dtype=np.float64)


def _diagnose_2_1(layer, got, want, before) -> str:
    """A hint aimed at the mistake that explains ``got``, when one does."""
    k, s, p, d = layer
    size, jump, offset = before
    span = d * (k - 1)
    if got[0] != want[0]:
        if got[0] == size + span * jump * s:
            return "the size grew with the jump *after* this layer's stride: update the size before the jump."
        if got[0] == size + (k - 1) * jump and d > 1:
            return "dilation spreads the taps: the window spans dilation * (kernel - 1) + 1 pixels."
        return _HINT_2_1
    if got[1] != want[1]:
        return "the jump (distance between neighbouring units, in input pixels) multiplies by each stride."
    if got[2] == offset + (span / 2 + p) * jump:
        return "padding adds zeros *before* the first pixel, which moves unit 0 to the left: subtract it."
    if got[2] == offset + (span / 2 - p):
        return "the offset moves by ((k_eff - 1) / 2 - padding) units of the layer below: multiply by its jump."
    if abs(got[2] - want[2]) in (0.5, 0.5 * jump):
        return ("off by half a pixel: the centre of a window of k_eff taps starting at tap 0 is at "
                "(k_eff - 1) / 2, and pixel i is centred at coordinate i (not i + 0.5).")
    return _HINT_2_1


@exercise_check("2.1")
def check_receptive_field_1d(fn) -> None:
    """Exercise 2.1: ``fn(layers) -> [(size, jump, offset), ...]``, one tuple per layer."""
    stacks = stacks_2_1()
    descriptions = [f"layers {_layers_text(layers)}" for layers in stacks]
    for case, layers in zip(cases("2.1", descriptions, _HINT_2_1), stacks):
        expected = np.array(receptive.recurrence(layers), dtype=np.float64)
        received = case.call(fn, [receptive.Layer1D(*layer) for layer in layers])
        got = _as_triples(case, received, len(layers))
        for i, (g, e) in enumerate(zip(got, expected)):
            if not np.allclose(g, e, atol=1e-9):
                before = (1, 1, 0) if i == 0 else tuple(expected[i - 1])
                k, s, p, d = layers[i]
                raise case.fail(
                    f"after layer {i} (kernel {k}, stride {s}, padding {p}, dilation {d}), coming from "
                    f"(size, jump, offset) = {_show(before)}:\n"
                    f"expected {_show(e)}, received {_show(g)}",
                    hint=_diagnose_2_1(layers[i], g, e, before))
    passed("2.1", len(stacks), "match the recurrence")


# --- Exercise 2.2: the field, output stride and offset of a Keras model ---------------------

_HINT_2_2 = ("Walk model.layers: a Conv2D has kernel_size, strides, dilation_rate and padding; a pooling "
             "layer has pool_size, strides and padding (dilation 1); other layers leave the field alone. "
             "Apply the recurrence of exercise 2.1 to rows and to columns separately, with the padding "
             "each layer puts before its first pixel.")
_HINT_SAME = ("with padding='same' TensorFlow pads total = max((ceil(n / s) - 1) * s + k_eff - n, 0) zeros "
              "along an axis whose input is n pixels long, the smaller half (total // 2) before the first "
              "pixel; with stride 1 that is (k_eff - 1) // 2, with stride > 1 it depends on n "
              "(layer.input.shape[1] for rows, [2] for columns).")


def _tf_same(n: int, k_eff: int, stride: int) -> int:
    return max((-(-n // stride) - 1) * stride + k_eff - n, 0) // 2


_SAME_RULES = {  # 'same' padding before the first pixel, right and wrong: (n, k_eff, stride) -> pad
    "tf": _tf_same,
    "stride-1 rule": lambda n, k_eff, stride: (k_eff - 1) // 2,
    "larger half first": lambda n, k_eff, stride: -(-max((-(-n // stride) - 1) * stride + k_eff - n, 0) // 2),
    "no padding": lambda n, k_eff, stride: 0,
}


def _walk(model, same_rule) -> tuple:
    """(size, stride, offset) of the last layer, each (h, w), with ``same_rule`` for 'same' padding.

    Only for diagnosing a wrong offset; the expected values come from ``receptive.receptive_fields``.
    """
    import keras

    size, jump, offset = [1.0, 1.0], [1.0, 1.0], [0.0, 0.0]
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, strides, dilation = layer.kernel_size, layer.strides, layer.dilation_rate
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            kernel, strides, dilation = layer.pool_size, layer.strides, (1, 1)
        else:
            continue
        for axis in (0, 1):
            span = dilation[axis] * (kernel[axis] - 1)
            n = layer.input.shape[1 + axis]
            pad = 0 if layer.padding == "valid" else same_rule(n, span + 1, strides[axis])
            size[axis] += span * jump[axis]
            offset[axis] += (span / 2 - pad) * jump[axis]
            jump[axis] *= strides[axis]
    return tuple(size), tuple(jump), tuple(offset)


def _random_model(rng, index: int):
    import keras

    L = keras.layers
    size = int(rng.integers(40, 72))
    layers = [keras.Input((size, size + int(rng.integers(1, 9)), 3))]  # rows and columns differ
    for _ in range(int(rng.integers(3, 7))):
        kind = rng.choice(["conv", "conv", "conv", "pool", "pointwise"])
        if kind == "conv":
            kernel = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
            stride = int(rng.choice([1, 1, 2, 3]))
            dilation = (int(rng.choice([1, 2, 3])), int(rng.choice([1, 2]))) if stride == 1 else (1, 1)
            layers.append(L.Conv2D(2, kernel, strides=stride, dilation_rate=dilation,
                                   padding=str(rng.choice(["valid", "same", "same"])), activation="relu"))
        elif kind == "pool":
            pool = L.MaxPooling2D if rng.uniform() < 0.5 else L.AveragePooling2D
            window = int(rng.integers(2, 4))
            layers.append(pool(window, strides=int(rng.integers(1, window + 1)),
                               padding=str(rng.choice(["valid", "same"]))))
        else:
            layers.append(rng.choice([L.BatchNormalization, L.ReLU, lambda: L.Dropout(0.1)])())
    try:
        return keras.Sequential(layers, name=f"check_2_2_model_{index}")
    except ValueError:  # 'valid' layers shrank the map to nothing: draw another model
        return _random_model(rng, index)


def _fixed_models():
    import keras

    L = keras.layers
    vgg_like = keras.Sequential([
        keras.Input((64, 64, 3)), L.Conv2D(2, 3, padding="same"), L.Conv2D(2, 3, padding="same"),
        L.MaxPooling2D(2), L.Conv2D(2, 3, padding="same"), L.MaxPooling2D(2)], name="check_2_2_vgg_like")
    dilated = keras.Sequential([
        keras.Input((64, 64, 3)), L.Conv2D(2, 3, dilation_rate=1, padding="same"),
        L.Conv2D(2, 3, dilation_rate=2, padding="same"), L.Conv2D(2, 3, dilation_rate=4, padding="same")],
        name="check_2_2_dilated")
    strided = keras.Sequential([
        keras.Input((64, 48, 3)), L.Conv2D(2, (5, 3), strides=2), L.BatchNormalization(),
        L.Conv2D(2, (3, 1), strides=(2, 1)), L.Activation("relu"), L.Conv2D(2, 3)], name="check_2_2_strided")
    # 'same' with stride 2 on an odd and an even axis: TF pads 1 zero before the 33 rows, none before the 32 columns
    strided_same = keras.Sequential([
        keras.Input((33, 32, 3)), L.Conv2D(2, 3, strides=2, padding="same"), L.Conv2D(2, 3, padding="same"),
        L.MaxPooling2D(2, padding="same")], name="check_2_2_strided_same")
    return [vgg_like, dilated, strided, strided_same]


_RANDOM_2_2 = 4  # random models after the fixed ones


@functools.lru_cache(maxsize=2)
def _models_2_2(seed) -> tuple:
    """The models of exercise 2.2's cases for one grading seed (None: the learner's), built once."""
    rng = case_rng(_SEED + 2)
    return tuple(_fixed_models() + [_random_model(rng, i) for i in range(_RANDOM_2_2)])


def models_2_2() -> tuple:
    """The models exercise 2.2 is checked on (the random ones depend on the grader's seed)."""
    return _models_2_2(grading_seed())


def _model_summary(model) -> str:
    parts = []
    for layer in model.layers:
        config = layer.get_config()
        window = config.get("kernel_size") or config.get("pool_size")
        text = type(layer).__name__
        if window is not None:
            text += f"{tuple(window)}/s{tuple(config['strides'])}/{config['padding']}"
            if tuple(config.get("dilation_rate", (1, 1))) != (1, 1):
                text += f"/d{tuple(config['dilation_rate'])}"
        parts.append(text)
    return f"input {tuple(model.inputs[0].shape[1:3])}, " + ", ".join(parts)


def _triple(case, received) -> tuple:
    try:
        parts = tuple(received)
        if len(parts) != 3:
            raise ValueError(f"expected 3 items (size, stride, offset), received {len(parts)}")
        triple = tuple(tuple(float(v) for v in part) for part in parts)
        if any(len(part) != 2 for part in triple):
            raise ValueError("each must be an (h, w) pair")
    except (TypeError, ValueError) as err:
        raise case.fail(f"expected (size, stride, offset), each an (h, w) pair such as "
                        f"((44, 44), (8, 8), (3.5, 3.5)); received {describe(received)} ({err})") from err
    return triple


def _offset_hint(model, offset) -> str:
    """The hint for a wrong offset: the 'same' rule it followed, when one explains it."""
    for rule in ("stride-1 rule", "larger half first", "no padding"):
        if np.allclose(_walk(model, _SAME_RULES[rule])[2], offset):
            if rule == "no padding":
                return "padding='same' puts zeros before the first pixel, which moves unit 0: " + _HINT_SAME
            return _HINT_SAME
    return ("the offset moves by ((k_eff - 1) / 2 - padding) units of the layer below, times its jump; "
            + _HINT_SAME)


@exercise_check("2.2")
def check_model_field(fn) -> None:
    """Exercise 2.2: ``fn(model) -> (size, stride, offset)`` of the model's last layer, (h, w) pairs."""
    models = models_2_2()
    descriptions = [f"model: {_model_summary(m)}" for m in models]
    for case, model in zip(cases("2.2", descriptions, _HINT_2_2), models):
        last = receptive.receptive_fields(model)[model.layers[-1].name]
        size, stride, offset = _triple(case, case.call(fn, model))
        if stride != tuple(map(float, last.stride)):
            raise case.fail(f"output stride: expected {_show(last.stride)}, received {_show(stride)}",
                            hint="the stride is the product of every layer's strides, pooling included.")
        if size != tuple(map(float, last.size)):
            hint = _HINT_2_2
            windows = [getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
                       for layer in model.layers]
            if any(w is not None and w[0] != w[1] for w in windows):
                hint += " Kernels need not be square: kernel_size[0] is for rows, kernel_size[1] for columns."
            raise case.fail(f"receptive field: expected {_show(last.size)}, received {_show(size)}", hint=hint)
        if not np.allclose(offset, last.offset, atol=1e-9):
            raise case.fail(f"offset (centre of unit (0, 0)'s field): expected {_show(last.offset)}, "
                            f"received {_show(offset)}", hint=_offset_hint(model, offset))
    passed("2.2", len(models), "give the field, output stride and offset of random models")


# --- Exercise 2.3: a dilation schedule ------------------------------------------------------

_HINT_2_3 = ("With 3×3 stride-1 convolutions each layer adds 2 * dilation to the field; a layer whose "
             "dilation exceeds the field below it skips pixels (holes). Doubling (1, 2, 4, ...) grows "
             "without holes; stop growing once the target is reached.")

_FIXED_2_3 = [(7, 3), (15, 3), (27, 3), (63, 5), (100, 5), (9, 2), (5, 4), (30, 3), (2, 1)]
_RANDOM_2_3 = 5  # random (target, layers) after the fixed ones, the last one out of reach


def cases_2_3() -> list:
    """The (target, num_layers) pairs exercise 2.3 is checked on (random ones: grader's seed)."""
    rng = case_rng(_SEED + 3)
    drawn = []
    for i in range(_RANDOM_2_3):
        layers = int(rng.integers(1, 7))
        reach = 3 ** layers
        target = int(rng.integers(reach + 1, reach + 40)) if i == _RANDOM_2_3 - 1 else int(rng.integers(2, reach + 1))
        drawn.append((target, layers))
    return _FIXED_2_3 + drawn


@exercise_check("2.3")
def check_dilation_schedule(fn) -> None:
    """Exercise 2.3: ``fn(target, num_layers) -> list of dilations`` (3×3 convolutions, stride 1).

    The field must reach ``target`` with no holes; an unreachable target (more than
    3 ** num_layers) must raise ValueError.
    """
    pairs = cases_2_3()
    descriptions = [f"target {t} pixels with {n} layers" + (" (out of reach: expect ValueError)"
                                                            if t > 3 ** n else "")
                    for t, n in pairs]
    for case, (target, layers) in zip(cases("2.3", descriptions, _HINT_2_3), pairs):
        if target > 3 ** layers:
            try:
                received = fn(target, layers)
            except NotImplementedError:
                raise
            except ValueError:
                continue
            except Exception as err:
                raise case.fail(f"expected ValueError, your function raised {type(err).__name__}: {err}") from err
            raise case.fail(f"{layers} layers reach at most 3 ** {layers} = {3 ** layers} pixels without holes, "
                            f"so your function should raise ValueError; it returned {received!r}",
                            hint="check the target against kernel_size ** num_layers first.")
        received = case.call(fn, target, layers)
        try:
            dilations = [int(d) for d in received]
            ok = all(float(d) == int(d) and int(d) >= 1 for d in received)
        except (TypeError, ValueError) as err:
            raise case.fail(f"expected a list of {layers} positive ints, received {describe(received)}") from err
        if len(dilations) != layers or not ok:
            raise case.fail(f"expected a list of {layers} positive ints, one per layer; received {received!r}")
        support = receptive.support_1d([receptive.Layer1D(3, 1, 0, d) for d in dilations])
        if len(support) < target:
            raise case.fail(f"dilations {dilations} give a field of {len(support)} pixels, short of {target}")
        if not support.all():
            holes = np.flatnonzero(~support) - len(support) // 2
            raise case.fail(f"dilations {dilations} give a field of {len(support)} pixels with {len(holes)} "
                            f"holes, at offsets {holes[:8].tolist()}{' ...' if len(holes) > 8 else ''} "
                            "from its centre: the unit never sees those pixels (gridding)",
                            hint="keep each dilation at most the field size of the layers before it.")
    passed("2.3", len(pairs), "reach their target with no holes")


# --- Exercise 2.4: predict, then run ----------------------------------------------------------

FIELD_QUESTION = {"layer": "conv3", "position": (8, 8), "image_size": 64}
"""Exercise 2.4's question: the field of unit ``position`` of ``layer`` in ``field_question_model()``."""

_MEASURE_IMAGES = 32  # random images whose gradients are pooled: enough that ReLU and max pooling gaps fill


def field_question_model():
    """Exercise 2.4's network (untrained, seeded): 3×3 conv, 2×2 pool, dilated 3×3 conv, pool, 5×5 conv.

    Returns:
        keras.Sequential from (N, 64, 64, 3) to (N, 16, 16, 4); ``conv3`` is linear, so a
        unit's gradient never vanishes for a whole image.
    """
    import keras

    L = keras.layers
    size = FIELD_QUESTION["image_size"]
    init = keras.initializers.GlorotUniform(seed=_SEED + 4)
    return keras.Sequential([
        keras.Input((size, size, 3), name="image"),
        L.Conv2D(4, 3, padding="same", activation="relu", kernel_initializer=init, name="conv1"),
        L.MaxPooling2D(2, name="pool1"),
        L.Conv2D(4, 3, dilation_rate=2, padding="same", activation="relu", kernel_initializer=init, name="conv2"),
        L.MaxPooling2D(2, name="pool2"),
        L.Conv2D(4, 5, padding="same", kernel_initializer=init, name="conv3"),
    ], name="question_2_4")


def measured_field_width(model, layer_name: str, position, *, seed: int) -> int:
    """Width in pixels of the non-zero gradient of one unit, over random images drawn from ``seed``.

    Raises ``ValueError`` when the measured field touches the image border (then it is
    clipped and smaller than the unit's field).
    """
    size = tuple(model.inputs[0].shape[1:3])
    images = np.random.default_rng(seed).uniform(0, 1, (_MEASURE_IMAGES, *size, 3)).astype(np.float32)
    top, left, bottom, right = receptive.empirical_receptive_field(model, layer_name, position, inputs=images).box
    if min(top, left) == 0 or bottom == size[0] - 1 or right == size[1] - 1:
        raise ValueError(f"the field of unit {position} of {layer_name!r} reaches the image border; "
                         "pick a unit nearer the middle.")
    return right - left + 1


@exercise_check("2.4")
def check_field_prediction(prediction) -> None:
    """Exercise 2.4: the learner's predicted field width of ``FIELD_QUESTION``'s unit, against a measurement.

    The measurement uses random images drawn from ``case_rng`` (so the grader measures on
    other images): a receptive field does not depend on the images.
    """
    model = field_question_model()
    layer, position = FIELD_QUESTION["layer"], FIELD_QUESTION["position"]
    measured = measured_field_width(model, layer, position, seed=int(case_rng(_SEED + 4).integers(2 ** 31)))
    fields = receptive.receptive_fields(model)
    steps = ", ".join(f"{name} {_number(f.size[1])}" for name, f in fields.items())
    explanation = (f"After each layer the field is {steps} pixels: each layer adds (k_eff - 1) times the "
                   "jump of the layer below, and each pooling doubles that jump for the layers after it.")
    if isinstance(prediction, (tuple, list)):
        raise CaseFailure("Exercise 2.4: predict one number, the field's width in pixels (it is square); "
                          f"received {prediction!r}.")
    check_prediction("2.4", prediction, measured, what=f"the field width of {layer} unit {position}",
                     explanation=explanation, tolerance=0)
