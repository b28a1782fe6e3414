"""Checks for lesson 02's exercises: receptive fields."""

from __future__ import annotations

import functools

import numpy as np

from fcn_lessons import receptive
from fcn_lessons.checks._core import case_rng, cases, describe, exercise_check, passed

__all__ = ["check_receptive_field_1d", "check_model_field", "check_dilation_schedule"]

_SEED = 202  # the checks draw their own random cases; the learner's seed is untouched


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


def _random_layers(rng, count: int) -> list:
    layers = []
    for _ in range(count):
        kernel = int(rng.integers(1, 7))
        stride = int(rng.choice([1, 1, 2, 3]))
        dilation = int(rng.choice([1, 1, 2, 3])) if stride == 1 else 1
        padding = int(rng.integers(0, dilation * (kernel - 1) // 2 + 2))
        layers.append(receptive.Layer1D(kernel, stride, padding, dilation))
    return layers


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
    rng = case_rng(_SEED)
    stacks = _FIXED_2_1 + [_random_layers(rng, int(rng.integers(2, 7))) for _ in range(5)]
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
                    f"(size, jump, offset) = {tuple(receptive._number(v) for v in before)}:\n"
                    f"expected {tuple(receptive._number(v) for v in e)}, "
                    f"received {tuple(receptive._number(v) for v in g)}",
                    hint=_diagnose_2_1(layers[i], g, e, before))
    passed("2.1", len(stacks), "match the recurrence")


# --- Exercise 2.2: the field and output stride of a Keras model ----------------------------

_HINT_2_2 = ("Walk model.layers: a Conv2D has kernel_size, strides and dilation_rate; a pooling layer "
             "has pool_size and strides (dilation 1); other layers (activations, normalisation, "
             "dropout) leave the field alone. Apply your recurrence to rows and to columns separately.")


def _random_model(rng, index: int):
    import keras

    L = keras.layers
    size = int(rng.integers(40, 72))
    layers = [keras.Input((size, size + int(rng.integers(0, 9)), 3))]
    for i in range(int(rng.integers(3, 7))):
        kind = rng.choice(["conv", "conv", "conv", "pool", "pointwise"])
        if kind == "conv":
            kernel = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
            stride = int(rng.choice([1, 1, 2]))
            dilation = (int(rng.choice([1, 2, 3])), int(rng.choice([1, 2]))) if stride == 1 else (1, 1)
            layers.append(L.Conv2D(2, kernel, strides=stride, dilation_rate=dilation,
                                   padding=str(rng.choice(["valid", "same"])), activation="relu"))
        elif kind == "pool":
            pool = L.MaxPooling2D if rng.uniform() < 0.5 else L.AveragePooling2D
            window = int(rng.integers(2, 4))
            layers.append(pool(window, strides=int(rng.integers(1, window + 1)), padding="same"))
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
    return [vgg_like, dilated, strided]


def _pairs(case, received) -> tuple:
    try:
        size, stride = received
        size, stride = tuple(float(v) for v in size), tuple(float(v) for v in stride)
        if len(size) != 2 or len(stride) != 2:
            raise ValueError("each must be an (h, w) pair")
    except (TypeError, ValueError) as err:
        raise case.fail(f"expected (size, stride), each an (h, w) pair such as ((44, 44), (8, 8)); "
                        f"received {describe(received)} ({err})") from err
    return size, stride


@functools.lru_cache(maxsize=1)
def _models_2_2() -> tuple:
    """The models of Exercise 2.2's cases, built once per session (building is the slow part)."""
    rng = case_rng(_SEED + 2)
    return tuple(_fixed_models() + [_random_model(rng, i) for i in range(4)])


@exercise_check("2.2")
def check_model_field(fn) -> None:
    """Exercise 2.2: ``fn(model) -> (size, stride)`` of the model's last layer, (h, w) pairs."""
    models = _models_2_2()

    def summary(model) -> str:
        parts = []
        for layer in model.layers:
            config = layer.get_config()
            window = config.get("kernel_size") or config.get("pool_size")
            text = type(layer).__name__
            if window is not None:
                text += f"{tuple(window)}/s{tuple(config['strides'])}"
                if tuple(config.get("dilation_rate", (1, 1))) != (1, 1):
                    text += f"/d{tuple(config['dilation_rate'])}"
            parts.append(text)
        return ", ".join(parts)

    descriptions = [f"model: {summary(m)}" for m in models]
    for case, model in zip(cases("2.2", descriptions, _HINT_2_2), models):
        last = receptive.receptive_fields(model)[model.layers[-1].name]
        size, stride = _pairs(case, case.call(fn, model))
        want_size, want_stride = tuple(map(float, last.size)), tuple(map(float, last.stride))
        show = lambda pair: tuple(receptive._number(v) for v in pair)  # noqa: E731
        if stride != want_stride:
            raise case.fail(f"output stride: expected {show(want_stride)}, received {show(stride)}",
                            hint="the stride is the product of every layer's strides, pooling included.")
        if size != want_size:
            hint = _HINT_2_2
            windows = [getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
                       for layer in model.layers]
            if any(w is not None and w[0] != w[1] for w in windows):
                hint += " Kernels need not be square: kernel_size[0] is for rows, kernel_size[1] for columns."
            raise case.fail(f"receptive field: expected {show(want_size)}, received {show(size)}", hint=hint)
    passed("2.2", len(models), "give the field and output stride of random models")


# --- Exercise 2.3: a dilation schedule ------------------------------------------------------

_HINT_2_3 = ("With 3×3 stride-1 convolutions each layer adds 2 * dilation to the field; a layer whose "
             "dilation exceeds the field below it skips pixels (holes). Doubling (1, 2, 4, ...) grows "
             "without holes; stop growing once the target is reached.")

_CASES_2_3 = [(7, 3), (15, 3), (27, 3), (63, 5), (100, 5), (9, 2), (5, 4), (30, 3), (2, 1)]


@exercise_check("2.3")
def check_dilation_schedule(fn) -> None:
    """Exercise 2.3: ``fn(target, num_layers) -> list of dilations`` (3×3 convolutions, stride 1).

    The field must reach ``target`` with no holes; an unreachable target (more than
    3 ** num_layers) must raise ValueError.
    """
    descriptions = [f"target {t} pixels with {n} layers" + (" (out of reach: expect ValueError)"
                                                            if t > 3 ** n else "")
                    for t, n in _CASES_2_3]
    for case, (target, layers) in zip(cases("2.3", descriptions, _HINT_2_3), _CASES_2_3):
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
    passed("2.3", len(_CASES_2_3), "reach their target with no holes")
