"""Lesson 01's checks, table-driven (tests/check_harness.py): each passes the reference and a
learner-style answer, and fails on the stub and on the plausible mistakes listed here."""

import contextlib
import io
import os

import keras
import numpy as np
import pytest

from fcn_lessons import checks, conv1x1
from fcn_lessons.checks._core import GRADING_SEED_ENV
from check_harness import CheckSpec, check_tests


def _memorised(check, reference, key):
    """An answer fitted to the cases a learner sees: it replays what the reference gave on them.

    ``key(*args)`` identifies a case by its inputs; an unseen case gets None. The table is
    filled on first use by running ``check`` once with the learner's (visible) cases.
    """
    table = {}

    def recorder(*args):
        table[key(*args)] = reference(*args)
        return table[key(*args)]

    def answer(*args):
        if not table:
            seed = os.environ.pop(GRADING_SEED_ENV, None)
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    check(recorder)
            finally:
                if seed is not None:
                    os.environ[GRADING_SEED_ENV] = seed
        return table.get(key(*args))
    return answer


# --- Exercise 1.1: a PyTorch Linear weight (channels-first flatten) as a Keras kernel --------

def _learner_1_1(weight, feature_shape):
    """Weight by weight: PyTorch input (c*H + i)*W + j is pixel (i, j), channel c."""
    channels, height, width = feature_shape
    kernel = np.zeros((height, width, channels, weight.shape[0]), weight.dtype)
    for c in range(channels):
        for i in range(height):
            for j in range(width):
                kernel[i, j, c, :] = weight[:, (c * height + i) * width + j]
    return kernel


def _kernel_1_1(weight, feature_shape):
    return conv1x1.channels_first_linear_to_conv_kernel(weight, feature_shape)


MISTAKES_1_1 = {
    "no channel transpose (Keras' flatten order)": lambda m, s: m.T.reshape(s[1], s[2], s[0], m.shape[0]),
    "(out, in) layout forgotten": lambda m, s: m.reshape(*s, m.shape[0]).transpose(1, 2, 0, 3),
    "height and width swapped": lambda m, s: m.reshape(m.shape[0], *s).transpose(3, 2, 1, 0),
    "channel and output axes swapped": lambda m, s: m.reshape(m.shape[0], *s).transpose(2, 3, 0, 1),
    "PyTorch's conv layout (K, C, H, W)": lambda m, s: m.reshape(m.shape[0], *s),
    "the Dense kernel (H*W*C, K), not the conv kernel": lambda m, s: _kernel_1_1(m, s).reshape(-1, m.shape[0]),
    "feature_shape read as (H, W, C)": lambda m, s: m.reshape(m.shape[0], s[2], s[0], s[1]).transpose(2, 3, 1, 0),
    "Fortran-order unflatten": lambda m, s: m.T.reshape(*s, m.shape[0], order="F").transpose(1, 2, 0, 3),
    "returns nothing": lambda m, s: None,
}
HINTS_1_1 = {
    "no channel transpose (Keras' flatten order)": r"PyTorch flattened the \(C, H, W\) map",
    "(out, in) layout forgotten": r"\(out_features, in_features\)",
    "height and width swapped": r"You swapped H and W",
}


# --- Exercise 1.2: Flatten + Dense -> H×W conv layer ----------------------------------------

def _conv_from(reshape, *, padding="valid", use_bias=True, keep_activation=True, build=True):
    def answer(dense, feature_shape):
        h, w, c = feature_shape
        kernel, bias = dense.get_weights()
        conv = keras.layers.Conv2D(dense.units, (h, w), padding=padding, use_bias=use_bias,
                                   activation=dense.activation if keep_activation else None)
        if build:
            conv.build((None, h, w, c))
            conv.set_weights([reshape(kernel, h, w, c, dense.units)] + ([bias] if use_bias else []))
        return conv
    return answer


def _right(kernel, h, w, c, k):
    return kernel.reshape(h, w, c, k)


MISTAKES_1_2 = {
    "channels-first flatten order": _conv_from(lambda m, h, w, c, k: m.reshape(c, h, w, k).transpose(1, 2, 0, 3)),
    "kernel reshaped in Fortran order": _conv_from(lambda m, h, w, c, k: m.reshape(h, w, c, k, order="F")),
    "height and width swapped": _conv_from(lambda m, h, w, c, k: m.reshape(w, h, c, k).transpose(1, 0, 2, 3)),
    "transposed weight matrix": _conv_from(lambda m, h, w, c, k: m.T.reshape(h, w, c, k)),
    "bias dropped": _conv_from(_right, use_bias=False),
    "activation dropped": _conv_from(_right, keep_activation=False),
    "'same' padding": _conv_from(_right, padding="same"),
    "weights never set": _conv_from(_right, build=False),
    "returns the Dense layer": lambda dense, shape: dense,
}


def _dense_key(dense, feature_shape):
    return tuple(w.tobytes() for w in dense.get_weights()) + tuple(feature_shape)


# --- Exercise 1.3: convolutionalize a classifier ------------------------------------------

def _convolutionalize_with(fc_answer, *, fixed_size=False, first_dense_1x1=False, final_activation=True):
    """A learner-style answer to 1.3, with one mistake switched on."""
    def answer(classifier):
        size = classifier.input_shape[1:3] if fixed_size else (None, None)
        inputs = keras.Input((*size, 3))
        x = inputs
        layers = classifier.layers
        at = next(i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Flatten))
        for layer in layers[:at]:
            x = layer(x)
        shape = (1, 1, layers[at].input.shape[-1]) if first_dense_1x1 else tuple(layers[at].input.shape[1:])
        dense_layers = [layer for layer in layers[at + 1:] if isinstance(layer, keras.layers.Dense)]
        for layer in layers[at + 1:]:
            if isinstance(layer, keras.layers.Dense):
                conv = fc_answer(layer, shape)
                if layer is dense_layers[-1] and not final_activation:
                    conv.activation = keras.activations.linear
                x = conv(x)
                shape = (1, 1, layer.units)
            else:
                x = layer(x)
        return keras.Model(inputs, x)
    return answer


LEARNER_1_2 = _conv_from(_right)
MISTAKES_1_3 = {
    "the classifier returned unchanged": lambda classifier: classifier,
    "input size kept fixed": _convolutionalize_with(LEARNER_1_2, fixed_size=True),
    "channels-first reshape of fc1": _convolutionalize_with(MISTAKES_1_2["channels-first flatten order"]),
    "softmax dropped": _convolutionalize_with(LEARNER_1_2, final_activation=False),
    "'same' padding for fc1": _convolutionalize_with(MISTAKES_1_2["'same' padding"]),
    "first Dense as a 1×1 convolution": _convolutionalize_with(LEARNER_1_2, first_dense_1x1=True),
}


# --- Exercise 1.4: predict the number of score vectors on a 150 × 203 canvas ---------------

def _prediction(answer):
    """What the exercise cell leaves in PREDICTION: the stub leaves `...`."""
    try:
        return answer()
    except NotImplementedError:
        return ...


FIELD, STRIDE = 30, 4  # lesson 01's classifier: 30-pixel receptive field, output stride 4
ROWS, COLS = checks.conv1x1.PREDICTION_CANVAS
MISTAKES_1_4 = {
    "the 32-pixel crop instead of the field": lambda: ((ROWS - 32) // STRIDE + 1) * ((COLS - 32) // STRIDE + 1),
    "no rounding down": lambda: ((ROWS - FIELD) / STRIDE + 1) * ((COLS - FIELD) / STRIDE + 1),
    "stride forgotten": lambda: (ROWS - FIELD + 1) * (COLS - FIELD + 1),
    "canvas divided by the stride": lambda: (ROWS // STRIDE) * (COLS // STRIDE),
    "a (rows, cols) tuple": lambda: (31, 44),
    "a string": lambda: "1364",
}


SPECS = [
    CheckSpec(checks.check_channels_first_linear_to_conv, reference=_kernel_1_1, learner=_learner_1_1,
              mistakes=MISTAKES_1_1, hints=HINTS_1_1, passed=r"5 random cases",
              hard_coded=_memorised(checks.check_channels_first_linear_to_conv, _kernel_1_1,
                                    key=lambda m, s: (m.tobytes(), tuple(s)))),
    CheckSpec(checks.check_flatten_dense_to_conv, reference=conv1x1.dense_to_conv, learner=LEARNER_1_2,
              mistakes=MISTAKES_1_2, passed=r"5 random cases",
              hard_coded=_memorised(checks.check_flatten_dense_to_conv, LEARNER_1_2, key=_dense_key)),
    CheckSpec(checks.check_convolutionalize_classifier, reference=conv1x1.convolutionalize,
              learner=_convolutionalize_with(LEARNER_1_2), mistakes=MISTAKES_1_3, passed=r"3 random cases"),
    CheckSpec(checks.check_score_map_prediction, reference=lambda: 31 * 44,  # (150-30)//4+1, (203-30)//4+1
              learner=lambda: ((ROWS - FIELD) // STRIDE + 1) * ((COLS - FIELD) // STRIDE + 1),
              mistakes=MISTAKES_1_4, passed=r"measured 1,364\)", hints={"a string": "must be a number"},
              call=lambda answer: checks.check_score_map_prediction(_prediction(answer))),
]
globals().update(check_tests(SPECS))


def test_failure_message_shows_expected_and_received():
    with pytest.raises(AssertionError) as failure:
        checks.check_channels_first_linear_to_conv(MISTAKES_1_1["channel and output axes swapped"])
    message = str(failure.value)
    assert "Exercise 1.1 failed on case 1 of 5" in message and "expected" in message and "received" in message


def test_the_prediction_explains_the_field():
    with pytest.raises(AssertionError, match=r"you predicted 1290 .* measured 1,364\.\nWhy: .*30-pixel receptive "
                                             r"field.* last 2 rows and columns of its crop"):
        checks.check_score_map_prediction(MISTAKES_1_4["the 32-pixel crop instead of the field"]())
