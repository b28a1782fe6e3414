"""Lesson 04's checks pass the reference and learner-style answers, and fail on the stub and on plausible mistakes."""

import math

import keras
import numpy as np

from check_harness import CheckSpec, check_tests
from fcn_lessons import checks, losses, models, receptive, upsampling
from fcn_lessons.checks import models as model_checks
from fcn_lessons.labels import VOID_LABEL

# --- Exercise 4.1: per-pixel softmax cross-entropy, void ignored ------------------------------


def _loss(labels, logits, *, void_as_background=False, denominator="labelled", per_image=False, shift=True,
          axis=-1, reduce=True):
    """A learner-style numpy answer to 4.1, with one mistake switched on."""
    with np.errstate(all="ignore"):  # the no-shift mistake overflows, as it does for a learner
        return _loss_value(labels, logits, void_as_background, denominator, per_image, shift, axis, reduce)


def _loss_value(labels, logits, void_as_background, denominator, per_image, shift, axis, reduce):
    z = logits.astype(np.float64)
    top = z.max(axis=axis, keepdims=True) if shift else 0.0
    log_sum = np.log(np.exp(z - top).sum(axis=axis, keepdims=True)) + top
    log_probs = z - log_sum
    labelled = labels != VOID_LABEL
    if void_as_background:
        labels, labelled = np.where(labelled, labels, 0), np.ones(labels.shape, bool)
    safe = np.where(labelled, labels, 0).astype(np.int64)
    per_pixel = -np.take_along_axis(log_probs, safe[..., None], axis=-1)[..., 0] * labelled
    if not reduce:
        return per_pixel
    if per_image:
        return float(np.mean([per_pixel[i].sum() / labelled[i].sum() for i in range(len(labels))]))
    if denominator == "sum":
        return float(per_pixel.sum())
    count = labelled.sum() if denominator == "labelled" else labels.size
    return float(per_pixel.sum() / max(count, 1))


def _hard_coded_loss():
    """Answers looked up from the cases a learner sees: right there, wrong when graded."""
    table = {}
    for _, labels, logits in model_checks._loss_cases(np.random.default_rng(model_checks._SEED)):
        table[labels.tobytes() + logits.tobytes()] = losses.pixel_cross_entropy(labels, logits)
    return lambda labels, logits: table[labels.tobytes() + logits.tobytes()]


SPEC_4_1 = CheckSpec(
    checks.check_pixel_cross_entropy, reference=losses.pixel_cross_entropy, learner=_loss,
    mistakes={
        "void counted as background": lambda y, z: _loss(y, z, void_as_background=True),
        "mean over every pixel, void included": lambda y, z: _loss(y, z, denominator="all"),
        "per-image means averaged": lambda y, z: _loss(y, z, per_image=True),
        "no max-shift (overflows on large logits)": lambda y, z: _loss(y, z, shift=False),
        "sum instead of mean": lambda y, z: _loss(y, z, denominator="sum"),
        "softmax over the batch axis": lambda y, z: _loss(y, z, axis=0),
        "per-pixel losses returned, not reduced": lambda y, z: _loss(y, z, reduce=False),
    },
    hints={
        "void counted as background": "skip every pixel labelled 255",
        "mean over every pixel, void included": "divide by the labelled pixels only",
        "per-image means averaged": "you averaged per-image means",
        "no max-shift (overflows on large logits)": "subtract each pixel's largest logit",
        "sum instead of mean": "that is the sum",
        "per-pixel losses returned, not reduced": "expected one number",
    },
    passed=r"6 random cases match", hard_coded=_hard_coded_loss(),
)


# --- Exercise 4.2: crop offset and upsampled length ----------------------------------------------

def _crop(layers, kernel, stride, n, *, padding=True, ceil=True, centre=lambda k: (k - 1) / 2, centred_crop=False):
    """A learner-style answer to 4.2 (its own recurrence and size rules), with one mistake switched on."""
    jump, offset, size = 1, 0.0, n
    for kind, k, s, p in layers:
        p = p if padding else 0
        offset += (centre(k) - p) * jump
        jump *= s
        span = size + 2 * p - k
        size = (math.ceil(span / s) if (kind == "pool" and ceil) else span // s) + 1
    length = (size - 1) * stride + kernel
    first = offset - centre(kernel) * jump / stride
    crop = (length - n) // 2 if centred_crop else -first
    return int(crop) if float(crop).is_integer() else crop, length


def _hard_coded_crop():
    table = {}
    for layers, kernel, stride, n in model_checks._crop_cases(np.random.default_rng(model_checks._SEED + 1), 6):
        table[(tuple(layers), n)] = model_checks.reference_crop(layers, kernel, stride, n)
    table[None] = (19, 544)  # the VGG16 case, looked up too

    def answer(layers, kernel, stride, n):
        return table.get((tuple(layers), n), table[None])
    return answer


SPEC_4_2 = CheckSpec(
    checks.check_fcn32s_crop, reference=model_checks.reference_crop, learner=_crop,
    mistakes={
        "padding forgotten": lambda *a: _crop(*a, padding=False),
        "floor instead of ceil pooling": lambda *a: _crop(*a, ceil=False),
        "off by half a kernel (centre at k / 2)": lambda *a: _crop(*a, centre=lambda k: k / 2),
        "centred crop from the sizes": lambda *a: _crop(*a, centred_crop=True),
        "sign flipped": lambda *a: (-_crop(*a)[0], _crop(*a)[1]),
        "offset only": lambda *a: _crop(*a)[0],
    },
    hints={
        "padding forgotten": "padding was left out",
        "floor instead of ceil pooling": "rounds up",
        "off by half a kernel (centre at k / 2)": "half",
        "centred crop from the sizes": "a centred crop is not the aligned one",
    },
    passed=r"7 random cases match", hard_coded=_hard_coded_crop(),
)


# --- Exercise 4.3: the FCN-32s head ------------------------------------------------------------------

def _head(trunk, num_classes, *, zero=True, mixing=False, crop=True, crop_shift=0, frozen=True, padding="valid",
          bias=False, names=("score_fr", "upscore", "score")):
    """A learner-style answer to 4.3 (Keras layers and Cropping2D), with one mistake switched on."""
    stride = int(list(receptive.receptive_fields(trunk).values())[-1].stride[0])
    init = "zeros" if zero else "glorot_uniform"
    scores = keras.layers.Conv2D(num_classes, 1, kernel_initializer=init, bias_initializer=init,
                                 name=names[0])(trunk.output)
    kernel = upsampling.bilinear_kernel(stride, num_classes)
    if mixing:
        kernel = np.repeat(kernel.sum(axis=3, keepdims=True), num_classes, axis=3)
    up_layer = keras.layers.Conv2DTranspose(num_classes, 2 * stride, strides=stride, padding=padding, use_bias=bias,
                                            kernel_initializer=keras.initializers.Constant(kernel), name=names[1])
    up = up_layer(scores)
    up_layer.trainable = not frozen
    if not crop:
        return keras.Model(trunk.input, up)
    offset = receptive.receptive_fields(keras.Model(trunk.input, up))[names[1]].offset
    top, left = int(-offset[0]), int(-offset[1])
    h, w = trunk.input_shape[1:3]
    top += crop_shift if top + crop_shift + h <= up.shape[1] else -crop_shift  # stay inside the map
    bottom, right = up.shape[1] - top - h, up.shape[2] - left - w
    out = keras.layers.Cropping2D(((top, bottom), (left, right)), name=names[2])(up)
    return keras.Model(trunk.input, out)


def _hard_coded_head():
    offsets = {trunk.name: models.crop_offsets(models.fcn32s_head(trunk, 2))["score"]
               for trunk in model_checks._trunks(np.random.default_rng(model_checks._SEED + 2), 4)}
    return lambda trunk, num_classes: models.fcn32s_head(trunk, num_classes, crop=offsets.get(trunk.name, (0, 0)))


def _hard_coded_as_learner():
    inner = _hard_coded_head()
    return lambda trunk, num_classes: inner(trunk, num_classes)


SPEC_4_3 = CheckSpec(
    checks.check_fcn32s_head, reference=models.fcn32s_head, learner=_head,
    mistakes={
        "score layer not zero-initialised": lambda t, c: _head(t, c, zero=False),
        "channel-mixing bilinear kernel": lambda t, c: _head(t, c, mixing=True),
        "crop missing": lambda t, c: _head(t, c, crop=False),
        "crop one pixel off": lambda t, c: _head(t, c, crop_shift=1),
        "upsampling left trainable": lambda t, c: _head(t, c, frozen=False),
        "transposed convolution with a bias": lambda t, c: _head(t, c, bias=True),
        "layers not named as the reference": lambda t, c: _head(t, c, names=("scores", "up", "crop")),
    },
    hints={
        "score layer not zero-initialised": "zero",
        "channel-mixing bilinear kernel": "zero between different classes",
        "crop missing": "crop it back",
        "crop one pixel off": "aligned crop is at",
        "upsampling left trainable": "frozen",
        "layers not named as the reference": "no layer named 'score_fr'",
    },
    passed=r"4 random cases match", hard_coded=_hard_coded_as_learner(),
)


# --- Exercise 4.4: predict, then run --------------------------------------------------------------------

def _as_prediction(answer):
    """The harness hands over functions; a prediction is the value a learner's cell sets."""
    try:
        return answer()
    except NotImplementedError:
        return ...  # the shipped `PREDICTION = ...`


SPEC_4_4 = CheckSpec(
    checks.check_initial_loss_prediction, reference=lambda: math.log(5), learner=lambda: 1.6,
    mistakes={"zero (a perfect start)": lambda: 0.0, "1 / C": lambda: 0.2, "log2 C": lambda: math.log2(5),
              "ln 2 (as if binary)": lambda: math.log(2), "not a number": lambda: "ln 5"},
    passed=r"measured 1\.61", call=lambda answer: checks.check_initial_loss_prediction(_as_prediction(answer)),
)

globals().update(check_tests([SPEC_4_1, SPEC_4_2, SPEC_4_3, SPEC_4_4]))


def test_the_vgg16_case_is_the_reference_crop():
    layers = [("conv", 3, 1, 100), ("conv", 3, 1, 1), ("pool", 2, 2, 0)]
    assert model_checks.reference_crop(layers, 4, 2, 10) == (100, (104 - 1) * 2 + 4)
    vgg16 = ([("conv", 3, 1, 100), ("conv", 3, 1, 1), ("pool", 2, 2, 0)] + [("conv", 3, 1, 1)] * 2 + [("pool", 2, 2, 0)]
             + ([("conv", 3, 1, 1)] * 3 + [("pool", 2, 2, 0)]) * 3 + [("conv", 7, 1, 0)])
    assert model_checks.reference_crop(vgg16, 64, 32, 500) == (19, 544)
