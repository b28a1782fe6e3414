"""Lesson 02's checks: they pass the reference and fail on the stub and on plausible mistakes."""

import keras
import pytest

from fcn_lessons import checks, receptive
from _stubs import as_learner, stub_for


# --- Exercise 2.1: the recurrence -------------------------------------------------------------

def _recurrence(*, jump_first=False, use_dilation=True, centre=lambda span: span / 2, pad_sign=-1,
                scale_offset=True, start=(1, 1, 0.0), include_input=False):
    """A learner-style answer to 2.1, with one mistake switched on."""
    def answer(layers):
        size, jump, offset = start
        out = [start] if include_input else []
        for kernel, stride, padding, dilation in layers:
            span = (dilation if use_dilation else 1) * (kernel - 1)
            if jump_first:
                jump *= stride
            size += span * jump
            offset += (centre(span) + pad_sign * padding) * (jump if scale_offset else 1)
            if not jump_first:
                jump *= stride
            out.append((size, jump, offset))
        return out
    return answer


WRONG_2_1 = {
    "jump updated before size": _recurrence(jump_first=True),
    "dilation ignored": _recurrence(use_dilation=False),
    "offset off by half a pixel (centre at k_eff / 2)": _recurrence(centre=lambda span: (span + 1) / 2),
    "offset of pixel edges (input starts at 0.5)": _recurrence(start=(1, 1, 0.5)),
    "padding sign flipped": _recurrence(pad_sign=+1),
    "offset not multiplied by the jump": _recurrence(scale_offset=False),
    "the input's field included": _recurrence(include_input=True),
    "sizes only": lambda layers: [f[0] for f in _recurrence()(layers)],
    "returns nothing": lambda layers: None,
}


def test_2_1_passes_the_reference(capsys):
    checks.check_receptive_field_1d(as_learner(receptive.recurrence))
    assert capsys.readouterr().out.strip() == "Exercise 2.1 passed: 10 random cases match the recurrence."


def test_2_1_passes_a_learner_style_answer():
    checks.check_receptive_field_1d(_recurrence())


def test_2_1_stub_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 2.1"):
        checks.check_receptive_field_1d(stub_for("2.1"))


@pytest.mark.parametrize("mistake", WRONG_2_1)
def test_2_1_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 2\.1 failed on case \d+ of 10") as failure:
        checks.check_receptive_field_1d(WRONG_2_1[mistake])
    assert "Hint:" in str(failure.value)


@pytest.mark.parametrize("mistake, hint", [
    ("jump updated before size", "update the size before the jump"),
    ("dilation ignored", "dilation spreads the taps"),
    ("offset off by half a pixel (centre at k_eff / 2)", "off by half a pixel"),
    ("offset of pixel edges (input starts at 0.5)", "off by half a pixel"),
    ("padding sign flipped", "subtract it"),
    ("offset not multiplied by the jump", "multiply by its jump"),
    ("the input's field included", "do not include the input's own field"),
])
def test_2_1_failures_name_the_mistake(mistake, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_receptive_field_1d(WRONG_2_1[mistake])


def test_2_1_failure_shows_expected_and_received():
    with pytest.raises(AssertionError) as failure:
        checks.check_receptive_field_1d(WRONG_2_1["padding sign flipped"])
    message = str(failure.value)
    assert "expected (" in message and "received (" in message and "after layer" in message


# --- Exercise 2.2: a Keras model's field and stride ------------------------------------------

def _model_field(*, pooling=True, dilation=True, jump_first=False, square=False, pool_stride=True, swap=False):
    """A learner-style answer to 2.2 (walks model.layers), with one mistake switched on."""
    def answer(model):
        size, jump = [1, 1], [1, 1]
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv2D):
                kernel, strides = layer.kernel_size, layer.strides
                dilations = layer.dilation_rate if dilation else (1, 1)
            elif pooling and isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
                kernel, strides, dilations = layer.pool_size, layer.strides if pool_stride else (1, 1), (1, 1)
            else:
                continue
            for axis in (0, 1):
                k = kernel[0] if square else kernel[axis]
                if jump_first:
                    jump[axis] *= strides[axis]
                size[axis] += dilations[axis] * (k - 1) * jump[axis]
                if not jump_first:
                    jump[axis] *= strides[axis]
        return (tuple(jump), tuple(size)) if swap else (tuple(size), tuple(jump))
    return answer


def _reference_2_2(model):
    field = receptive.receptive_fields(model)[model.layers[-1].name]
    return field.size, field.stride


WRONG_2_2 = {
    "pooling layers ignored": _model_field(pooling=False),
    "dilation ignored": _model_field(dilation=False),
    "jump updated before size": _model_field(jump_first=True),
    "kernels assumed square": _model_field(square=True),
    "pooling strides ignored": _model_field(pool_stride=False),
    "(stride, size) instead of (size, stride)": _model_field(swap=True),
    "one number instead of (h, w) pairs": lambda model: tuple(v[0] for v in _reference_2_2(model)),
}


def test_2_2_passes_the_reference(capsys):
    checks.check_model_field(_reference_2_2)
    assert capsys.readouterr().out.strip().startswith("Exercise 2.2 passed: 7 random cases")


def test_2_2_passes_a_learner_style_answer():
    checks.check_model_field(_model_field())


def test_2_2_stub_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 2.2"):
        checks.check_model_field(stub_for("2.2"))


@pytest.mark.parametrize("mistake", WRONG_2_2)
def test_2_2_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 2\.2 failed on case \d of 7"):
        checks.check_model_field(WRONG_2_2[mistake])


def test_2_2_square_kernels_get_their_hint():
    with pytest.raises(AssertionError, match="Kernels need not be square"):
        checks.check_model_field(WRONG_2_2["kernels assumed square"])


# --- Exercise 2.3: a dilation schedule ------------------------------------------------------

def _greedy(target, num_layers):
    """A learner-style answer: grow as fast as holes allow, but no further than needed."""
    if target > 3 ** num_layers:
        raise ValueError("out of reach")
    dilations, field = [], 1
    for _ in range(num_layers):
        d = max(1, min(field, -(-(target - field) // 2)))
        dilations.append(d)
        field += 2 * d
    return dilations


def _max_growth(target, num_layers):
    if target > 3 ** num_layers:
        raise ValueError("out of reach")
    return [3 ** i for i in range(num_layers)]


WRONG_2_3 = {
    "all dilations 2 (gridding)": lambda target, n: [2] * n,
    "powers of 3 from 3 (holes)": lambda target, n: [3 ** (i + 1) for i in range(n)],
    "all ones (field too small)": lambda target, n: [1] * n,
    "doubling whatever the target": lambda target, n: [2 ** i for i in range(n)],
    "field sizes instead of dilations": lambda target, n: [3 ** (i + 1) for i in range(n)][:n],
    "no ValueError when out of reach": lambda target, n: [3 ** i for i in range(n)],
    "wrong length": lambda target, n: receptive.dilation_schedule(target, n) + [1],
    "floats": lambda target, n: [d + 0.5 for d in receptive.dilation_schedule(target, n)],
}


def test_2_3_passes_the_reference(capsys):
    checks.check_dilation_schedule(as_learner(receptive.dilation_schedule))
    assert capsys.readouterr().out.strip() == "Exercise 2.3 passed: 9 random cases reach their target with no holes."


@pytest.mark.parametrize("answer", [_greedy, _max_growth])
def test_2_3_passes_other_valid_schedules(answer):
    checks.check_dilation_schedule(answer)


def test_2_3_stub_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 2.3"):
        checks.check_dilation_schedule(stub_for("2.3"))


@pytest.mark.parametrize("mistake", WRONG_2_3)
def test_2_3_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 2\.3 failed on case \d of 9"):
        checks.check_dilation_schedule(WRONG_2_3[mistake])


def test_2_3_names_the_holes():
    with pytest.raises(AssertionError, match="holes, at offsets") as failure:
        checks.check_dilation_schedule(WRONG_2_3["all dilations 2 (gridding)"])
    assert "gridding" in str(failure.value)
