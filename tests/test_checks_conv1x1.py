"""Lesson 01's checks, table-driven (tests/check_harness.py): each passes the reference and a
learner-style answer, and fails on the stub and on the plausible mistakes listed here (the
independent reviewer's wrong answers among them)."""

import keras
import numpy as np
import pytest

from fcn_lessons import checks, conv1x1
from check_harness import CheckSpec, check_tests, memorised, prediction_of


# --- Exercise 1.1: a Keras Dense kernel after Flatten, as a PyTorch Linear weight -----------

def _learner_1_1(kernel, feature_shape):
    """Weight by weight: Keras input (i*W + j)*C + c is PyTorch input (c*H + i)*W + j."""
    height, width, channels = feature_shape
    weight = np.zeros((kernel.shape[1], channels * height * width), kernel.dtype)
    for i in range(height):
        for j in range(width):
            for c in range(channels):
                weight[:, (c * height + i) * width + j] = kernel[(i * width + j) * channels + c]
    return weight


def _as_conv(m, s):
    return m.reshape(*s, m.shape[1])  # (H, W, C, K)


MISTAKES_1_1 = {
    "Keras' input order kept (only transposed)": lambda m, s: m.T,
    "(out, in) layout forgotten": lambda m, s: _as_conv(m, s).transpose(2, 0, 1, 3).reshape(-1, m.shape[1]),
    "height and width swapped": lambda m, s: _as_conv(m, s).transpose(3, 2, 1, 0).reshape(m.shape[1], -1),
    "channel and output axes swapped": lambda m, s: _as_conv(m, s).transpose(2, 3, 0, 1).reshape(m.shape[1], -1),
    "float16": lambda m, s: conv1x1.dense_kernel_to_channels_first_linear(m, s).astype(np.float16),
    "feature_shape read as (C, H, W)": lambda m, s: m.reshape(s[1], s[2], s[0], -1).transpose(3, 2, 0, 1)
                                                   .reshape(m.shape[1], -1),
    "left 4-D, as a conv weight (K, C, H, W)": lambda m, s: _as_conv(m, s).transpose(3, 2, 0, 1),
    "Fortran-order flatten": lambda m, s: _as_conv(m, s).transpose(3, 2, 0, 1).reshape(m.shape[1], -1, order="F"),
    "returns nothing": lambda m, s: None,
}
HINTS_1_1 = {
    "Keras' input order kept (only transposed)": r"kept Keras' order of the inputs",
    "(out, in) layout forgotten": r"\(out_features, in_features\)",
    "height and width swapped": r"\(C, W, H\)",
    "float16": r"float16, which rounds them",
}


# --- Exercise 1.2: GlobalAveragePooling2D + Dense -> one H×W convolution -------------------

def _gap_conv(kernel_of, *, padding="valid", strides=1, use_bias=True, bias_of=None, keep_activation=True,
              kernel_size=None, build=True):
    """A learner-style answer to 1.2, with one mistake switched on."""
    def answer(dense, feature_shape):
        h, w, c = feature_shape
        kernel, bias = dense.get_weights()
        conv = keras.layers.Conv2D(dense.units, kernel_size or (h, w), padding=padding, strides=strides,
                                   use_bias=use_bias, activation=dense.activation if keep_activation else None)
        if build:
            conv.build((None, h, w, c))
            weights = [kernel_of(kernel, h, w, c)]
            if use_bias:
                weights.append(bias if bias_of is None else bias_of(bias, h, w))
            conv.set_weights(weights)
        return conv
    return answer


def _average_kernel(kernel, h, w, c):
    """Each of the H·W positions weighs its pixel by the Dense kernel over H·W."""
    return np.stack([np.stack([kernel / (h * w)] * w) for _ in range(h)])


def _one_position(kernel, h, w, c):
    out = np.zeros((h, w, *kernel.shape), kernel.dtype)
    out[0, 0] = kernel
    return out


def _pool_then_1x1(dense, feature_shape):
    h, w, c = feature_shape
    conv = keras.layers.Conv2D(dense.units, 1, activation=dense.activation)
    conv.build((None, 1, 1, c))
    kernel, bias = dense.get_weights()
    conv.set_weights([kernel[None, None], bias])
    return keras.Sequential([keras.layers.AveragePooling2D((h, w), strides=1), conv])


LEARNER_1_2 = _gap_conv(_average_kernel)
MISTAKES_1_2 = {
    "summed, not averaged": _gap_conv(lambda m, h, w, c: np.broadcast_to(m, (h, w, *m.shape)).copy()),
    "activation dropped": _gap_conv(_average_kernel, keep_activation=False),
    "bias dropped": _gap_conv(_average_kernel, use_bias=False),
    "bias divided by H·W too": _gap_conv(_average_kernel, bias_of=lambda b, h, w: b / (h * w)),
    "'same' padding": _gap_conv(_average_kernel, padding="same"),
    "strides=(H, W)": lambda dense, s: _gap_conv(_average_kernel, strides=s[:2])(dense, s),
    "1×1 kernel": _gap_conv(lambda m, h, w, c: m[None, None] / (h * w), kernel_size=1),
    "kernel at one position only": _gap_conv(_one_position),
    "tiled channels-first, then reshaped": _gap_conv(
        lambda m, h, w, c: np.broadcast_to(m[:, None, None] / (h * w), (c, h, w, m.shape[1])).reshape(h, w, c, -1)),
    "weights never set": _gap_conv(_average_kernel, build=False),
    "pooling + 1×1 convolution (not one Conv2D)": _pool_then_1x1,
    "returns the Dense layer": lambda dense, shape: dense,
}
HINTS_1_2 = {
    "summed, not averaged": r"divides that sum by H·W",
    "activation dropped": r"applies 'linear'",
    "bias dropped": r"adds a bias; your layer has none",
    "bias divided by H·W too": r"bias is added once",
    "'same' padding": r"'same' padding adds zeros",
    "strides=(H, W)": r"strides 1",
    "1×1 kernel": r"Your kernel is \(1, 1\)",
    "kernel at one position only": r"one position only",
    "pooling + 1×1 convolution (not one Conv2D)": r"single H×W convolution",
}


def _dense_key(dense, feature_shape):
    return tuple(w.tobytes() for w in dense.get_weights()) + tuple(feature_shape)


# --- Exercise 1.3: convolutionalize a classifier ------------------------------------------

def _flatten_dense_conv(reshape, *, padding="valid"):
    """A learner's Flatten + Dense -> H×W convolution (lesson 01, section 3), for 1.3's answers."""
    def convert(dense, feature_shape):
        h, w, c = feature_shape
        kernel, bias = dense.get_weights()
        conv = keras.layers.Conv2D(dense.units, (h, w), padding=padding, activation=dense.activation)
        conv.build((None, h, w, c))
        conv.set_weights([reshape(kernel, h, w, c, dense.units), bias])
        return conv
    return convert


def _convolutionalize_with(fc_answer, *, fixed_size=False, first_dense_1x1=False, final_activation=True,
                           skip_rescaling=False, keep_flatten=False):
    """A learner-style answer to 1.3, with one mistake switched on."""
    def answer(classifier):
        size = classifier.input_shape[1:3] if fixed_size else (None, None)
        inputs = keras.Input((*size, 3))
        x = inputs
        layers = classifier.layers
        at = next(i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Flatten))
        for layer in layers[:at]:
            if not (skip_rescaling and isinstance(layer, keras.layers.Rescaling)):
                x = layer(x)
        if keep_flatten:
            return keras.Model(inputs, layers[at + 1](keras.layers.Flatten()(x)))
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


RIGHT_FC = _flatten_dense_conv(lambda m, h, w, c, k: m.reshape(h, w, c, k))
CHANNELS_FIRST_FC = _flatten_dense_conv(lambda m, h, w, c, k: m.reshape(c, h, w, k).transpose(1, 2, 0, 3))
MISTAKES_1_3 = {
    "the classifier returned unchanged": lambda classifier: classifier,
    "input size kept fixed": _convolutionalize_with(RIGHT_FC, fixed_size=True),
    "channels-first reshape of fc1": _convolutionalize_with(CHANNELS_FIRST_FC),
    "softmax dropped": _convolutionalize_with(RIGHT_FC, final_activation=False),
    "'same' padding for fc1": _convolutionalize_with(_flatten_dense_conv(lambda m, h, w, c, k: m.reshape(h, w, c, k),
                                                                         padding="same")),
    "first Dense as a 1×1 convolution": _convolutionalize_with(RIGHT_FC, first_dense_1x1=True),
    "first Dense as a 1×1 convolution left untrained": _convolutionalize_with(
        lambda dense, shape: keras.layers.Conv2D(dense.units, 1, activation=dense.activation)),
    "Rescaling skipped": _convolutionalize_with(RIGHT_FC, skip_rescaling=True),
    "Flatten kept": _convolutionalize_with(RIGHT_FC, keep_flatten=True),
}
HINTS_1_3 = {
    "input size kept fixed": r"input is fixed at \(",
    "Rescaling skipped": r"rescales its pixels",
    "channels-first reshape of fc1": r"channels-first order",
    "first Dense as a 1×1 convolution left untrained": r"fc1 reads the whole",
}


# --- Exercise 1.4: predict the score map's size of a deeper classifier ----------------------

FIELD, STRIDE, CROP = 46, 8, 48  # exercise 1.4's classifier: 46-pixel receptive field, output stride 8
ROWS, COLS = checks.conv1x1.PREDICTION_CANVAS


def _positions(size, window, stride):
    return (size - window) // stride + 1


MISTAKES_1_4 = {
    "the 48-pixel crop instead of the field": lambda: _positions(ROWS, CROP, STRIDE) * _positions(COLS, CROP, STRIDE),
    "the lesson's stride 4 kept": lambda: _positions(ROWS, FIELD, 4) * _positions(COLS, FIELD, 4),
    "the lesson's classifier (30 pixels, stride 4)": lambda: _positions(ROWS, 30, 4) * _positions(COLS, 30, 4),
    "the lesson's 30-pixel field at stride 8": lambda: _positions(ROWS, 30, STRIDE) * _positions(COLS, 30, STRIDE),
    "no rounding down": lambda: ((ROWS - FIELD) / STRIDE + 1) * ((COLS - FIELD) / STRIDE + 1),
    "stride forgotten": lambda: (ROWS - FIELD + 1) * (COLS - FIELD + 1),
    "the old question's answer (150 × 203, lesson's classifier)": lambda: 31 * 44,
    "the old question's crop-sized answer": lambda: 1290,
    "a (rows, cols) tuple": lambda: (14, 21),
    "a string": lambda: "294",
}


SPECS = [
    CheckSpec(checks.check_dense_kernel_to_channels_first_linear,
              reference=conv1x1.dense_kernel_to_channels_first_linear, learner=_learner_1_1,
              mistakes=MISTAKES_1_1, hints=HINTS_1_1, passed=r"5 random cases",
              hard_coded=memorised(checks.check_dense_kernel_to_channels_first_linear,
                                   conv1x1.dense_kernel_to_channels_first_linear,
                                   key=lambda m, s: (m.tobytes(), tuple(s)))),
    CheckSpec(checks.check_global_average_dense_to_conv, reference=conv1x1.global_average_dense_to_conv,
              learner=LEARNER_1_2, mistakes=MISTAKES_1_2, hints=HINTS_1_2, passed=r"5 random cases",
              hard_coded=memorised(checks.check_global_average_dense_to_conv, LEARNER_1_2, key=_dense_key)),
    CheckSpec(checks.check_convolutionalize_classifier, reference=conv1x1.convolutionalize,
              learner=_convolutionalize_with(RIGHT_FC), mistakes=MISTAKES_1_3, hints=HINTS_1_3,
              passed=r"3 random cases"),
    CheckSpec(checks.check_score_map_prediction, reference=lambda: 14 * 21,  # (150-46)//8+1, (207-46)//8+1
              learner=lambda: _positions(ROWS, FIELD, STRIDE) * _positions(COLS, FIELD, STRIDE),
              mistakes=MISTAKES_1_4, passed=r"measured 294\)", hints={"a string": "must be a number"},
              call=lambda answer: checks.check_score_map_prediction(prediction_of(answer))),
]
globals().update(check_tests(SPECS))


def _in_notebook(source: str, name: str):
    """The function ``name`` defined by ``source`` as a notebook cell would define it (module ``__main__``)."""
    namespace = {"__name__": "__main__", "np": np, "keras": keras, "conv1x1": conv1x1}
    exec(source, namespace)  # noqa: S102 - test code, fixed strings
    return namespace[name]


@pytest.mark.parametrize("check, source", [
    (checks.check_dense_kernel_to_channels_first_linear,
     "answer = lambda k, s: conv1x1.dense_kernel_to_channels_first_linear(k, s)"),
    (checks.check_global_average_dense_to_conv,
     "def answer(dense, shape):\n    return conv1x1.global_average_dense_to_conv(dense, shape)\n"),
    (checks.check_convolutionalize_classifier,  # the reviewer's wrapper: passed before forbidden= existed
     "answer = lambda c: conv1x1.convolutionalize(c)"),
    (checks.check_convolutionalize_classifier,  # a learner's loop around the course's dense_to_conv
     "from fcn_lessons.conv1x1 import dense_to_conv\n"
     "def answer(c):\n    return [dense_to_conv(layer, (1, 1, 1)) for layer in c.layers][0]\n"),
], ids=["1.1 lambda", "1.2 def", "1.3 lambda", "1.3 from-import"])
def test_a_notebook_wrapper_around_the_course_answer_is_refused(check, source):
    with pytest.raises(AssertionError, match=r"uses fcn_lessons\.conv1x1\.\w+, the course's own answer"):
        check(_in_notebook(source, "answer"))
    assert check.forbidden == ("fcn_lessons.conv1x1",)


def test_1_4_allows_the_course_modules():
    assert checks.check_score_map_prediction.forbidden == ()


def test_failure_message_shows_expected_and_received():
    with pytest.raises(AssertionError) as failure:
        checks.check_dense_kernel_to_channels_first_linear(MISTAKES_1_1["channel and output axes swapped"])
    message = str(failure.value)
    assert "Exercise 1.1 failed on case 1 of 5" in message and "expected" in message and "received" in message


def test_the_generic_hints_nudge_without_giving_the_recipe():
    for mistake, check in [(MISTAKES_1_1["Fortran-order flatten"], checks.check_dense_kernel_to_channels_first_linear),
                           (MISTAKES_1_2["weights never set"], checks.check_global_average_dense_to_conv)]:
        with pytest.raises(AssertionError) as failure:
            check(mistake)
        hint = str(failure.value).split("Hint: ")[-1]
        assert "reshape" not in hint and "transpose" not in hint, hint


def test_the_prediction_explains_the_field():
    with pytest.raises(AssertionError, match=r"you predicted 260 .* measured 294\.\nWhy: .*output stride 8.*"
                                             r"48 → 46 → 23 → 21 → 10 → 8 → 4 → 2 → 1.*reads 46 of the crop's 48"):
        checks.check_score_map_prediction(MISTAKES_1_4["the 48-pixel crop instead of the field"]())


def test_the_prediction_canvas_separates_the_field_from_the_crop():
    # both sides leave a remainder of 6 or 7 after the field's positions: the crop's formula is one short
    assert all((side - FIELD) % STRIDE in (0, 1) for side in (ROWS, COLS))
    model = checks.conv1x1.prediction_classifier()
    assert model.compute_output_shape((1, ROWS, COLS, 3))[1:3] == (14, 21)
