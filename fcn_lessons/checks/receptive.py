"""Checks for lesson 02's exercises: receptive fields.

- 2.1 ``check_transposed_step``: the recurrence through a 'valid' transposed convolution.
- 2.2 ``check_model_field``: field, output stride and offset of a Keras model, with
  TensorFlow's 'same' padding (which depends on the input length when the stride is > 1).
- 2.3 ``check_dilation_schedule``: dilations that give the smallest field at or above a
  target, without holes.
- 2.4 ``check_field_prediction``: "predict, then run": the learner's predicted field
  width of one unit against the width measured with gradients.

Each check draws some of its cases from ``case_rng``, so the grader's seed gives cases
the learner has not seen. The reference is ``fcn_lessons.receptive`` (public names only);
2.1-2.3 refuse a learner's function that uses it.
"""

from __future__ import annotations

import functools

import numpy as np

from fcn_lessons import receptive
from fcn_lessons.checks._core import (CaseFailure, case_rng, cases, check_prediction, describe,
                                      exercise_check, grading_seed, passed)

__all__ = ["check_transposed_step", "check_model_field", "check_dilation_schedule",
           "check_field_prediction", "field_question_model", "FIELD_QUESTION"]

_SEED = 202  # the checks draw their own random cases; the learner's seed is untouched


def _number(x: float):
    """``x`` as an int when it is one (44.0 -> 44), else a float (3.5), for messages."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _show(values) -> tuple:
    return tuple(_number(v) for v in values)


# --- Exercise 2.1: the recurrence through a transposed convolution -------------------------

_FORBIDDEN = ("fcn_lessons.receptive",)  # the course's answers to 2.1-2.3 (and the Keras walker)

_HINT_2_1 = ("Place every input unit i at the middle of the kernel copy it writes (outputs i*s .. i*s + k - 1); "
             "then output unit m sits at a fractional input unit. Convert input units to pixels with the "
             "input's offset and jump. Check: fc7 (404, 32, 12.5) through kernel 64, stride 32 gives offset -19.")

# Fixed cases first, each aimed at one mistake, then random ones.
_FIXED_2_1 = [
    ((404, 32, 12.5), 64, 32),  # FCN-32s's upscore: offset -19, the crop of 19
    ((404, 32, 12.5), 4, 2),  # FCN-16s's upscore2
    ((1, 1, 0), 4, 2),  # a x2 bilinear-sized kernel on pixels
    ((5, 2, 1.5), 3, 2),  # odd kernel
    ((9, 4, 3.5), 2, 4),  # kernel smaller than the stride: some outputs read nothing
    ((3, 1, 0), 3, 1),  # stride 1: a transposed convolution is a convolution
]
_RANDOM_2_1 = 6  # random cases after the fixed ones


def cases_2_1() -> list:
    """The (field, kernel, stride) cases exercise 2.1 is checked on (random ones: grader's seed)."""
    rng = case_rng(_SEED)
    drawn = []
    for _ in range(_RANDOM_2_1):
        jump = int(rng.choice([1, 2, 4, 8, 16, 32]))
        size = int(rng.integers(1, 60)) * jump - int(rng.integers(0, jump))
        offset = float(rng.integers(-40, 40)) + float(rng.choice([0.0, 0.5]))
        stride = int(rng.integers(1, 5))
        kernel = int(rng.integers(1, 3 * stride + 2))
        drawn.append(((size, jump, offset), kernel, stride))
    return _FIXED_2_1 + drawn


def _as_triple(case, received) -> np.ndarray:
    try:
        values = tuple(float(v) for v in received)
    except (TypeError, ValueError) as err:
        raise case.fail(f"expected a (size, jump, offset) tuple of numbers; received {describe(received)} "
                        f"({err})") from err
    if len(values) != 3:
        raise case.fail(f"expected a (size, jump, offset) tuple; received {len(values)} values: {received!r}"[:400])
    return np.array(values)


def _diagnose_2_1(field, kernel, stride, got) -> str:
    """A hint aimed at the mistake that explains ``got``, when one does."""
    size, jump, offset = field
    want = receptive.transposed_step(field, kernel, stride)
    if not np.isclose(got[1], want[1]):
        if np.isclose(got[1], jump * stride):
            return ("the jump: a transposed convolution with stride s puts s output units where its input had "
                    "one, so its units are closer together, not farther apart.")
        return "the jump: how far apart, in input pixels, are two neighbouring output units?"
    if not np.isclose(got[0], want[0]):
        if np.isclose(got[0], size + (kernel - 1) * jump):
            return ("the size grew by (k - 1) input units: count how many *input* units write to one output "
                    "unit (it depends on the stride too).")
        if np.isclose(got[0], size + kernel / stride * jump):
            return "the size: the first and the last tap of a k-wide kernel are k - 1 apart, not k."
        return _HINT_2_1
    if np.isclose(got[2], offset + (kernel - 1) / (2 * stride) * jump):
        return ("the offset moved the wrong way: output unit 0 lies at the start of input unit 0's copy, "
                "before that unit's middle.")
    if np.isclose(got[2], offset - (kernel - 1) / 2 * jump):
        return "the offset: (k - 1) / 2 output units are (k - 1) / (2 s) input units; then convert with the jump."
    if np.isclose(got[2], offset - kernel / (2 * stride) * jump):
        return ("off by half an output unit: the middle of a copy of k taps starting at output i*s is at "
                "i*s + (k - 1) / 2.")
    if np.isclose(got[2], -want[2]):
        return "the offset is the input coordinate of output unit 0's centre: negative when it lies before the image."
    return _HINT_2_1


@exercise_check("2.1", forbidden=_FORBIDDEN)
def check_transposed_step(fn) -> None:
    """Exercise 2.1: ``fn((size, jump, offset), kernel, stride) -> (size, jump, offset)`` after a
    'valid' transposed convolution."""
    pairs = cases_2_1()
    descriptions = [f"input field (size, jump, offset) = {_show(field)}, kernel {k}, stride {s}"
                    for field, k, s in pairs]
    for case, (field, kernel, stride) in zip(cases("2.1", descriptions, _HINT_2_1), pairs):
        expected = np.array(receptive.transposed_step(field, kernel, stride), dtype=np.float64)
        got = _as_triple(case, case.call(fn, field, kernel, stride))
        if not np.allclose(got, expected, atol=1e-9):
            raise case.fail(f"expected (size, jump, offset) = {_show(expected)}, received {_show(got)}",
                            hint=_diagnose_2_1(field, kernel, stride, got))
    crop = -receptive.transposed_step(*_FIXED_2_1[0])[2]
    passed("2.1", len(pairs), f"match; FCN-32s's upscore lands {_number(crop)} pixels before the image: crop "
                              f"{_number(crop)}")


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


def _walk(model, same_rule, *, model_length: bool = False) -> tuple:
    """(size, stride, offset) of the last layer, each (h, w), with ``same_rule`` for 'same' padding
    (applied to the model's input length instead of each layer's with ``model_length``).

    Only for diagnosing a wrong offset; the expected values come from ``receptive.receptive_fields``.
    """
    import keras

    model_shape = model.inputs[0].shape

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
            n = (model_shape if model_length else layer.input.shape)[1 + axis]
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
    # two strided 'same' layers: the first pads 0 zeros before its 34 pixels, the second 1 before its 17
    # (the model's 34 would give 0 again)
    same_twice = keras.Sequential([
        keras.Input((34, 34, 3)), L.Conv2D(2, 3, strides=2, padding="same"),
        L.Conv2D(2, 3, strides=2, padding="same")], name="check_2_2_same_twice")
    return [vgg_like, dilated, strided, strided_same, same_twice]


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
    if np.allclose(_walk(model, _SAME_RULES["tf"], model_length=True)[2], offset):
        return ("'same' padding depends on the length n of *this layer's* input (layer.input.shape), which "
                "after a strided layer is not the model's input length.")
    for rule in ("stride-1 rule", "larger half first", "no padding"):
        if np.allclose(_walk(model, _SAME_RULES[rule])[2], offset):
            if rule == "no padding":
                return "padding='same' puts zeros before the first pixel, which moves unit 0: " + _HINT_SAME
            return _HINT_SAME
    return ("the offset moves by ((k_eff - 1) / 2 - padding) units of the layer below, times its jump; "
            + _HINT_SAME)


@exercise_check("2.2", forbidden=_FORBIDDEN)
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
             "dilation exceeds the field below it skips pixels (holes). Find the largest field num_layers "
             "layers can reach without holes, and which field sizes are possible at all.")

# (target, layers): exact fits, odd and even targets, targets below what the layers must add, the limit
_FIXED_2_3 = [(7, 3), (15, 3), (27, 3), (63, 5), (100, 5), (9, 2), (9, 4), (5, 4), (30, 3), (2, 1), (26, 4)]
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


@exercise_check("2.3", forbidden=_FORBIDDEN)
def check_dilation_schedule(fn) -> None:
    """Exercise 2.3: ``fn(target, num_layers) -> list of dilations`` (3×3 convolutions, stride 1).

    The field must be the smallest one at or above ``target`` that ``num_layers`` layers can
    have (``receptive.smallest_field``), with no holes; an unreachable target (more than
    3 ** num_layers) must raise ValueError.
    """
    pairs = cases_2_3()
    descriptions = [f"target {t} pixels with {n} layers" for t, n in pairs]
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
            raise case.fail(f"no schedule of {layers} layers reaches {target} pixels without holes, so your "
                            f"function should raise ValueError; it returned {received!r}",
                            hint="what is the largest field each layer can grow to, without holes, from the "
                                 "field below it?")
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
        smallest = receptive.smallest_field(target, layers)
        if len(support) != smallest:
            raise case.fail(f"dilations {dilations} give a field of {len(support)} pixels without holes, but "
                            f"{layers} layers can have a field of {smallest} pixels, the smallest at or above "
                            f"{target}: the task asks for that one",
                            hint="once the field is large enough, the later layers should add as little as "
                                 "they can; which field sizes can a stack of 3×3 convolutions have at all?")
    passed("2.3", len(pairs), "give the smallest field at or above their target, with no holes")


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
    explanation = ("Each layer adds (k_eff - 1) times the jump of the layer *below* it (its taps are that many "
                   "input pixels apart), and each pooling multiplies the jump by its stride for the layers after "
                   "it; the gradient is non-zero exactly inside the field.")
    if isinstance(prediction, (tuple, list)):
        raise CaseFailure("Exercise 2.4: predict one number, the field's width in pixels (it is square); "
                          f"received {prediction!r}.")
    check_prediction("2.4", prediction, measured, what=f"the field width of {layer} unit {position}",
                     explanation=explanation, tolerance=0)
