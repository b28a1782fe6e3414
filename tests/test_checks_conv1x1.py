"""Lesson 01's checks: they pass the reference and fail on the stub and on plausible mistakes."""

import keras
import numpy as np
import pytest

from fcn_lessons import checks, conv1x1
from _stubs import as_learner, stub_for


# --- Exercise 1.1: Dense kernel -> 1×1 conv kernel -----------------------------------------

WRONG_1_1 = {
    "transposed weight matrix": lambda k: k.T[None, None],
    "transposed, then reshaped to the right shape": lambda k: k.T.reshape(1, 1, *k.shape),
    "axes added at the end": lambda k: k.reshape(*k.shape, 1, 1),
    "PyTorch layout (out, in, 1, 1)": lambda k: k.T.reshape(k.shape[1], k.shape[0], 1, 1),
    "returns nothing": lambda k: None,
    "a Keras layer instead of a kernel": lambda k: keras.layers.Conv2D(k.shape[1], 1),
}


def test_1_1_passes_the_reference(capsys):
    checks.check_dense_kernel_to_conv1x1(as_learner(conv1x1.dense_kernel_to_conv1x1))
    assert capsys.readouterr().out.strip() == "Exercise 1.1 passed: 6 random cases match the reference."


def test_1_1_stub_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 1.1"):
        checks.check_dense_kernel_to_conv1x1(stub_for("1.1"))


@pytest.mark.parametrize("mistake", WRONG_1_1)
def test_1_1_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 1\.1 failed on case \d of 6") as failure:
        checks.check_dense_kernel_to_conv1x1(WRONG_1_1[mistake])
    assert "Hint:" in str(failure.value)


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


WRONG_1_2 = {
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


def test_1_2_passes_the_reference(capsys):
    checks.check_flatten_dense_to_conv(as_learner(conv1x1.dense_to_conv))
    assert "Exercise 1.2 passed: 5 random cases" in capsys.readouterr().out


def test_1_2_passes_a_learner_style_answer():
    checks.check_flatten_dense_to_conv(_conv_from(_right))


def test_1_2_stub_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 1.2"):
        checks.check_flatten_dense_to_conv(stub_for("1.2"))


@pytest.mark.parametrize("mistake", WRONG_1_2)
def test_1_2_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 1\.2 failed on case \d of 5"):
        checks.check_flatten_dense_to_conv(WRONG_1_2[mistake])


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


WRONG_1_3 = {
    "the classifier returned unchanged": lambda classifier: classifier,
    "input size kept fixed": _convolutionalize_with(conv1x1.dense_to_conv, fixed_size=True),
    "channels-first reshape of fc1": _convolutionalize_with(WRONG_1_2["channels-first flatten order"]),
    "softmax dropped": _convolutionalize_with(conv1x1.dense_to_conv, final_activation=False),
    "'same' padding for fc1": _convolutionalize_with(WRONG_1_2["'same' padding"]),
    "first Dense as a 1×1 convolution": _convolutionalize_with(conv1x1.dense_to_conv, first_dense_1x1=True),
}


def test_1_3_passes_the_reference(capsys):
    checks.check_convolutionalize_classifier(as_learner(conv1x1.convolutionalize))
    assert "Exercise 1.3 passed: 3 random cases" in capsys.readouterr().out


def test_1_3_passes_a_learner_style_answer():
    checks.check_convolutionalize_classifier(_convolutionalize_with(conv1x1.dense_to_conv))


def test_1_3_stub_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 1.3"):
        checks.check_convolutionalize_classifier(stub_for("1.3"))


@pytest.mark.parametrize("mistake", WRONG_1_3)
def test_1_3_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 1\.3 failed on case \d of 3"):
        checks.check_convolutionalize_classifier(WRONG_1_3[mistake])


def test_failure_message_shows_expected_and_received():
    with pytest.raises(AssertionError) as failure:
        checks.check_dense_kernel_to_conv1x1(WRONG_1_1["transposed, then reshaped to the right shape"])
    message = str(failure.value)
    assert "values differ" in message and "expected" in message and "received" in message
    assert np.isfinite(float(message.split("max |difference| ")[1].split(")")[0]))
