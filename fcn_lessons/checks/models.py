"""Checks for lesson 04's exercises: the per-pixel loss, the crop offset, the FCN-32s head.

=========  ============================================  =====================================
exercise   the learner writes                            check
=========  ============================================  =====================================
4.1        ``pixel_cross_entropy(labels, logits)``       :func:`check_pixel_cross_entropy`
4.2        ``fcn32s_crop(layers, kernel, stride, n)``    :func:`check_fcn32s_crop`
4.3        ``fcn32s_head(trunk, num_classes)``           :func:`check_fcn32s_head`
4.4        ``PREDICTION`` (predict, then run)            :func:`check_initial_loss_prediction`
=========  ============================================  =====================================

Every check draws its cases from :func:`~fcn_lessons.checks._core.case_rng`, so a graded
run (``FCN_LESSONS_CHECK_SEED``) sees cases the learner has not seen.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from fcn_lessons import losses, receptive, upsampling
from fcn_lessons.checks._core import case_rng, cases, check_prediction, describe, exercise_check, passed
from fcn_lessons.labels import VOID_LABEL

__all__ = ["check_pixel_cross_entropy", "check_fcn32s_crop", "check_fcn32s_head", "check_initial_loss_prediction"]

_SEED = 404  # the checks draw their own random cases; the learner's seed is untouched


# --- Exercise 4.1: per-pixel softmax cross-entropy, void ignored -------------------------------

_HINT_4_1 = ("Keep only the pixels whose label is not 255; for each, the loss is log(sum_c exp(z_c)) - z_label, "
             "with the largest logit subtracted first; average over those pixels of the whole batch.")
_LARGE_LOGITS = 1e4  # exp(1e4) overflows float64: the max-shift is what keeps such logits finite


def _loss_cases(rng) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(description, labels (N, H, W) uint8, logits (N, H, W, C) float32)."""
    out = []
    for index in range(6):
        n, h, w, c = int(rng.integers(2, 4)), int(rng.integers(3, 9)), int(rng.integers(3, 9)), int(rng.integers(2, 6))
        labels = rng.integers(0, c, size=(n, h, w)).astype(np.uint8)
        # a different share of void per image, so a mean of per-image means differs
        for i in range(n):
            labels[i][rng.uniform(size=(h, w)) < rng.uniform(0.1, 0.7)] = VOID_LABEL
            labels[i].flat[int(rng.integers(0, h * w))] = int(rng.integers(0, c))  # at least one labelled pixel
        scale = _LARGE_LOGITS if index in (2, 4) else float(rng.uniform(0.5, 4))
        logits = (rng.normal(size=(n, h, w, c)) * scale).astype(np.float32)
        what = "logits of size about 1e4" if index in (2, 4) else "ordinary logits"
        out.append((f"{n} images of {h}×{w}, {c} classes, {int((labels == VOID_LABEL).sum())} void pixels, {what}",
                    labels, logits))
    return out


def _loss_diagnosis(labels, logits, got: float) -> str | None:
    """A hint naming the mistake whose value ``got`` equals, when one does."""
    z = logits.astype(np.float64)
    top = z.max(-1, keepdims=True)
    per_pixel = (top[..., 0] + np.log(np.exp(z - top).sum(-1))) - np.take_along_axis(
        z, np.where(labels == VOID_LABEL, 0, labels)[..., None].astype(np.int64), -1)[..., 0]
    labelled = labels != VOID_LABEL
    as_background = per_pixel.copy()
    as_background[~labelled] = (top[..., 0] + np.log(np.exp(z - top).sum(-1)) - z[..., 0])[~labelled]
    candidates = {
        "void pixels were counted (as background): skip every pixel labelled 255": as_background.mean(),
        "the sum was divided by every pixel, void included: divide by the labelled pixels only":
            per_pixel[labelled].sum() / labels.size,
        "you averaged per-image means: average over the labelled pixels of the whole batch instead (an image "
        "with few labelled pixels must weigh less)":
            np.mean([per_pixel[i][labelled[i]].mean() for i in range(len(labels))]),
        "that is the sum over the labelled pixels: divide it by their number": per_pixel[labelled].sum(),
    }
    for hint, value in candidates.items():
        if np.isfinite(value) and math.isclose(got, value, rel_tol=1e-5, abs_tol=1e-6):
            return hint
    return None


@exercise_check("4.1")
def check_pixel_cross_entropy(fn) -> None:
    """Exercise 4.1: ``fn(labels, logits) -> float``, the mean loss over the batch's labelled pixels."""
    rng = case_rng(_SEED)
    data = _loss_cases(rng)
    for case, (_, labels, logits) in zip(cases("4.1", [d for d, _, _ in data], _HINT_4_1), data):
        expected = losses.pixel_cross_entropy(labels, logits)
        received = case.call(fn, labels.copy(), logits.copy())
        if isinstance(received, np.ndarray) and received.size == 1:
            received = received.reshape(())[()]
        if isinstance(received, bool) or not isinstance(received, (numbers.Real, np.floating)):
            raise case.fail(f"expected one number (the mean loss), received {describe(received)}",
                            hint="reduce the per-pixel losses to a single float: their mean over labelled pixels.")
        got = float(received)
        if not math.isfinite(got):
            raise case.fail(f"expected {expected:.6g}, received {got}",
                            hint="exp of a logit near 1e4 overflows: subtract each pixel's largest logit before "
                                 "exp, and add it back after the log (log-sum-exp).")
        if not math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-6):
            raise case.fail(f"expected {expected:.6g}, received {got:.6g}",
                            hint=_loss_diagnosis(labels, logits, got))
    passed("4.1", len(data), "match the mean cross-entropy over labelled pixels")


# --- Exercise 4.2: the crop offset and the size of the upsampled map ---------------------------

_HINT_4_2 = ("Offset: run the receptive-field recurrence over the layers (padding moves unit 0 left); the "
             "transposed convolution puts its output unit 0 (kernel - 1) / 2 output pixels before its input "
             "unit 0; the crop is minus that coordinate. Size: convolutions round down, Caffe's pooling rounds up, "
             "and a transposed convolution gives (n - 1)·stride + kernel.")


def _size(n: int, kind: str, kernel: int, stride: int, padding: int) -> int:
    span = n + 2 * padding - kernel
    return (-(-span // stride) if kind == "pool" else span // stride) + 1


def reference_crop(layers, upsample_kernel: int, upsample_stride: int, input_size: int) -> tuple[int, int]:
    """(crop offset, length of the upsampled map) for a 1-D stack of ("conv"|"pool", k, s, p) layers."""
    field = (1, 1, 0.0)
    n = input_size
    for kind, kernel, stride, padding in layers:
        field = receptive.conv_step(field, kernel, stride, padding)
        n = _size(n, kind, kernel, stride, padding)
        if n < 1:
            raise ValueError(f"input_size {input_size} is too small for this stack: a {kind} layer gets no output")
    _, jump, offset = field
    first = offset - (upsample_kernel - 1) / 2 * jump / upsample_stride  # centre of upsampled unit 0
    return int(round(-first)), (n - 1) * upsample_stride + upsample_kernel


def _crop_cases(rng, count: int) -> list:
    """Stacks like FCN's: blocks of odd convolutions, 2×2 pooling, a last 'valid' convolution."""
    out = []
    while len(out) < count:
        layers = []
        first_padding = int(rng.choice([0, 1, 3, 20, 100]))
        for block in range(int(rng.integers(2, 6))):
            for i in range(int(rng.integers(1, 3))):
                kernel = int(rng.choice([1, 3, 3, 5]))
                padding = first_padding if not layers else int(rng.integers(0, kernel // 2 + 1))
                layers.append(("conv", kernel, 1, padding))
            layers.append(("pool", 2, 2, 0))
        layers.append(("conv", int(rng.choice([1, 3, 7])), 1, 0))
        stride = 2 ** sum(1 for layer in layers if layer[0] == "pool")
        n = int(rng.integers(1, 4)) * stride + int(rng.integers(0, stride))
        try:
            crop, length = reference_crop(layers, 2 * stride, stride, n)
        except ValueError:
            continue
        field = receptive.recurrence([layer[1:] for layer in layers])[-1]
        first = field[2] - (2 * stride - 1) / 2
        if crop < 0 or not float(first).is_integer() or crop + n > length:
            continue  # no aligned crop exists for this stack: draw another
        out.append((layers, 2 * stride, stride, n))
    return out


def _stack_text(layers) -> str:
    return ", ".join(f"{kind} k{k} s{s} p{p}" for kind, k, s, p in layers)


@exercise_check("4.2")
def check_fcn32s_crop(fn) -> None:
    """Exercise 4.2: ``fn(layers, upsample_kernel, upsample_stride, input_size) -> (offset, upsampled_length)``."""
    rng = case_rng(_SEED + 1)
    vgg16 = ([("conv", 3, 1, 100), ("conv", 3, 1, 1), ("pool", 2, 2, 0), ("conv", 3, 1, 1), ("conv", 3, 1, 1),
              ("pool", 2, 2, 0)] + [("conv", 3, 1, 1)] * 3 + [("pool", 2, 2, 0)]
             + ([("conv", 3, 1, 1)] * 3 + [("pool", 2, 2, 0)]) * 2 + [("conv", 7, 1, 0)])
    stacks = [(vgg16, 64, 32, 500)] + _crop_cases(rng, 6)
    descriptions = ["FCN-VGG16 (pad 100, 500 pixels)"] + [f"[{_stack_text(s[0])}], upsample k{s[1]} s{s[2]}, "
                                                         f"input {s[3]} px" for s in stacks[1:]]
    for case, (layers, kernel, stride, n) in zip(cases("4.2", descriptions, _HINT_4_2), stacks):
        expected = reference_crop(layers, kernel, stride, n)
        received = case.call(fn, [tuple(layer) for layer in layers], kernel, stride, n)
        try:
            got = tuple(int(v) if float(v).is_integer() else float(v) for v in received)
        except (TypeError, ValueError) as err:
            raise case.fail(f"expected a pair (offset, upsampled_length), received {describe(received)}") from err
        if len(got) != 2:
            raise case.fail(f"expected a pair (offset, upsampled_length), received {len(got)} values")
        if got[0] != expected[0]:
            raise case.fail(f"crop offset: expected {expected[0]}, received {got[0]}", hint=_offset_hint(
                layers, kernel, stride, got[0], expected, n))
        if got[1] != expected[1]:
            raise case.fail(f"length of the upsampled map: expected {expected[1]}, received {got[1]}",
                            hint=_length_hint(layers, kernel, stride, n, got[1]))
    passed("4.2", len(stacks), "match the derived crop offset and the upsampled length")


def _offset_with(layers, kernel, stride, *, padding=True, centre=lambda k: (k - 1) / 2) -> float:
    """The crop offset computed with one rule changed (for the hints)."""
    jump, offset = 1, 0.0
    for _, k, s, p in layers:
        offset += (centre(k) - (p if padding else 0)) * jump
        jump *= s
    return -(offset - centre(kernel) * jump / stride)


def _offset_hint(layers, kernel, stride, got, expected, n) -> str:
    if got == _offset_with(layers, kernel, stride, padding=False):
        return "padding was left out: p zeros before the first pixel move unit 0 left by p units of the layer below."
    if got == _offset_with(layers, kernel, stride, centre=lambda k: k / 2):
        return "off by half a kernel: a window of k taps starting at tap 0 is centred at (k - 1) / 2, not k / 2."
    if got in ((expected[1] - n) // 2, (expected[1] - n) / 2):
        return ("a centred crop is not the aligned one: the extra pixels are not split evenly. Derive the offset "
                "from the receptive-field offsets instead of the sizes.")
    return _HINT_4_2


def _length_hint(layers, kernel, stride, n, got) -> str:
    floor_n = n
    for _, k, s, p in layers:
        floor_n = (floor_n + 2 * p - k) // s + 1
    if got == (floor_n - 1) * stride + kernel:
        return "Caffe's pooling rounds up (ceil mode): a pooling window may hang over the last pixel."
    return "a transposed convolution of n inputs gives (n - 1)·stride + kernel outputs ('valid', nothing cropped)."


# --- Exercise 4.3: the FCN-32s head on a trunk --------------------------------------------------

_HINT_4_3 = ("score_fr: Conv2D(num_classes, 1) with zero kernel and bias; upscore: Conv2DTranspose(num_classes, 2s, "
             "strides=s, padding='valid', use_bias=False) initialised with the per-class bilinear kernel and frozen; "
             "then crop to the image at the offset your receptive fields give.")


def _random_trunk(rng, index: int):
    """A small conv/pool trunk with a static input size and a whole output stride."""
    import keras

    L = keras.layers
    pools = int(rng.integers(2, 4))
    stride = 2 ** pools
    side = stride * int(rng.integers(2, 4))
    inputs = keras.Input((side, side + stride, 3), name="image")
    x = L.ZeroPadding2D(int(rng.choice([0, 2, 5, 10])), name="pad")(inputs)
    for b in range(1, pools + 1):
        x = L.Conv2D(4, 3, padding=str(rng.choice(["same", "valid", "same"])), activation="relu", name=f"conv{b}")(x)
        x = L.MaxPooling2D(2, padding="same", name=f"pool{b}")(x)
    x = L.Conv2D(6, int(rng.choice([1, 3])), padding="valid", activation="relu", name="fc")(x)
    trunk = keras.Model(inputs, x, name=f"check_4_3_trunk_{index}")
    for layer in trunk.layers:  # random weights, so that misaligned crops show
        if layer.get_weights():
            layer.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()])
    return trunk


def _trunks(rng, count: int) -> list:
    from fcn_lessons import models

    out = []
    while len(out) < count:
        trunk = _random_trunk(rng, len(out))
        try:
            models.fcn32s_head(trunk, 2)  # an aligned crop exists
        except ValueError:
            continue
        out.append(trunk)
    return out


def _layer(case, model, name: str, kind):
    try:
        layer = model.get_layer(name)
    except ValueError:
        raise case.fail(f"your model has no layer named {name!r}; name the head's layers score_fr, upscore and score "
                        "as the reference does") from None
    if not isinstance(layer, kind):
        raise case.fail(f"layer {name!r} is a {type(layer).__name__}, expected a {kind.__name__}")
    return layer


@exercise_check("4.3")
def check_fcn32s_head(fn) -> None:
    """Exercise 4.3: ``fn(trunk, num_classes) -> keras.Model`` from images to per-pixel logits."""
    import keras

    from fcn_lessons import models

    rng = case_rng(_SEED + 2)
    trunks = _trunks(rng, 4)
    classes = [int(rng.integers(2, 6)) for _ in trunks]
    descriptions = [f"trunk {t.name} on {t.input_shape[1]}×{t.input_shape[2]} images, stride "
                    f"{list(receptive.receptive_fields(t).values())[-1].stride[0]:g}, {c} classes"
                    for t, c in zip(trunks, classes)]
    for case, trunk, num_classes in zip(cases("4.3", descriptions, _HINT_4_3), trunks, classes):
        model = case.call(fn, trunk, num_classes)
        if not isinstance(model, keras.Model):
            raise case.fail(f"expected a keras.Model, received {describe(model)}")
        h, w = trunk.input_shape[1:3]
        x = rng.uniform(size=(2, h, w, 3)).astype(np.float32)
        out = np.asarray(model(x, training=False))
        if out.shape != (2, h, w, num_classes):
            raise case.fail(f"output shape: expected {(2, h, w, num_classes)}, received {out.shape}",
                            hint="the upsampled map is larger than the image: crop it back to the image's size "
                                 "(Caffe's Crop; here models.Crop or keras.layers.Cropping2D).")
        score = _layer(case, model, "score_fr", keras.layers.Conv2D)
        weights = score.get_weights()
        if len(weights) != 2 or np.any(weights[0]) or np.any(weights[1]):
            raise case.fail("score_fr must start at zero (kernel and bias): the paper found random initialisation "
                            "yields neither better performance nor faster convergence",
                            hint="kernel_initializer='zeros' (and a bias, zero too).")
        up = _layer(case, model, "upscore", keras.layers.Conv2DTranspose)
        stride = int(list(receptive.receptive_fields(trunk).values())[-1].stride[0])
        expected_kernel = upsampling.bilinear_kernel(stride, num_classes)
        kernel = up.get_weights()[0]
        if up.use_bias or kernel.shape != expected_kernel.shape or not np.allclose(kernel, expected_kernel, atol=1e-6):
            mixing = kernel.shape == expected_kernel.shape and np.any(kernel * (1 - np.eye(num_classes)))
            raise case.fail(f"upscore: expected a {2 * stride}×{2 * stride} bilinear kernel per class, no bias; "
                            f"received kernel {kernel.shape}{', bias' if up.use_bias else ''}",
                            hint="kernel[:, :, i, i] = the bilinear filter, zero between different classes: a "
                                 "kernel that mixes classes adds every class's scores into each." if mixing else None)
        if up.trainable:
            raise case.fail("upscore must be frozen (trainable = False), as the reference fixes it (lr_mult: 0)")
        reference = models.fcn32s_head(trunk, num_classes)
        new = [rng.normal(size=v.shape).astype(np.float32) for v in weights]
        score.set_weights(new)
        reference.get_layer("score_fr").set_weights(new)
        got, want = np.asarray(model(x, training=False)), np.asarray(reference(x, training=False))
        if not np.allclose(got, want, atol=1e-4):
            expected_crop = models.crop_offsets(reference)["score"]
            raise case.fail(f"with random score_fr weights your output differs from the aligned one by up to "
                            f"{np.abs(got - want).max():.3g}; the aligned crop is at {expected_crop}",
                            hint="derive the crop from the receptive-field offset of upscore (lesson 02's "
                                 "receptive_fields): unit 0 of the image lies -offset pixels into the map.")
        score.set_weights(weights)
    passed("4.3", len(trunks), "match the aligned FCN-32s head")


# --- Exercise 4.4: predict, then run ------------------------------------------------------------

def measured_initial_loss(seed: int = 0) -> float:
    """The course loss of an untrained mini_vgg FCN-32s on a few course images."""
    from fcn_lessons import data, models

    images, masks = data.make_shapes(4, 64, seed=seed)
    model = models.fcn(data.NUM_CLASSES, "32s")
    logits = model.predict_on_batch(models.preprocess_input(images))
    return float(losses.pixel_cross_entropy(masks, np.asarray(logits)))


@exercise_check("4.4")
def check_initial_loss_prediction(prediction) -> None:
    """Exercise 4.4 ("predict, then run"): the loss of FCN-32s before its first training step."""
    from fcn_lessons.data import NUM_CLASSES

    measured = measured_initial_loss(seed=int(case_rng(_SEED + 3).integers(0, 1000)))
    explanation = (f"score_fr starts at zero, so every pixel gets the same {NUM_CLASSES} logits (0) whatever the "
                   f"image: a uniform softmax, probability 1/{NUM_CLASSES} for the true class, and the loss is "
                   f"ln {NUM_CLASSES} = {math.log(NUM_CLASSES):.3f} at every labelled pixel. The argmax is then "
                   "class 0 everywhere: the untrained FCN paints all background.")
    check_prediction("4.4", prediction, measured, what="the mean loss before training", explanation=explanation,
                     tolerance=0.05)
