"""Lesson 02's checks, table-driven (tests/check_harness.py): each passes the reference and a
learner-style answer, fails on the stub and on the plausible mistakes listed here."""

import keras
import pytest

from check_harness import CheckSpec, check_tests, memorised, prediction_of
from fcn_lessons import checks, receptive
from fcn_lessons.checks import receptive as receptive_checks


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


def _stack_key(layers):
    return tuple(tuple(layer) for layer in layers)


SPEC_2_1 = CheckSpec(
    checks.check_receptive_field_1d,
    reference=receptive.recurrence,
    learner=_recurrence(),
    mistakes={
        "jump updated before size": _recurrence(jump_first=True),
        "dilation ignored": _recurrence(use_dilation=False),
        "offset off by half a pixel (centre at k_eff / 2)": _recurrence(centre=lambda span: (span + 1) / 2),
        "offset of pixel edges (input starts at 0.5)": _recurrence(start=(1, 1, 0.5)),
        "padding sign flipped": _recurrence(pad_sign=+1),
        "offset not multiplied by the jump": _recurrence(scale_offset=False),
        "the input's field included": _recurrence(include_input=True),
        "sizes only": lambda layers: [f[0] for f in _recurrence()(layers)],
        "returns nothing": lambda layers: None,
    },
    hints={
        "jump updated before size": "update the size before the jump",
        "dilation ignored": "dilation spreads the taps",
        "offset off by half a pixel (centre at k_eff / 2)": "off by half a pixel",
        "offset of pixel edges (input starts at 0.5)": "off by half a pixel",
        "padding sign flipped": "subtract it",
        "offset not multiplied by the jump": "multiply by its jump",
        "the input's field included": "do not include the input's own field",
        "sizes only": "expected a list of \\(size, jump, offset\\) tuples",
    },
    passed=r"^Exercise 2\.1 passed: 10 random cases match the recurrence\.$",
    hard_coded=memorised(checks.check_receptive_field_1d, receptive.recurrence, _stack_key),
)


# --- Exercise 2.2: a Keras model's field, stride and offset ---------------------------------

def _same_tf(n, k_eff, s):
    return max((-(-n // s) - 1) * s + k_eff - n, 0) // 2


def _model_field(*, pooling=True, dilation=True, jump_first=False, square=False, pool_stride=True,
                 order=(0, 1, 2), same=_same_tf, scale_offset=True, model_length=False, offset=True):
    """A learner-style answer to 2.2 (walks model.layers), with one mistake switched on."""
    def answer(model):
        size, jump, centre = [1, 1], [1, 1], [0.0, 0.0]
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
                span = dilations[axis] * (k - 1)
                n = (model if model_length else layer).input.shape[1 + axis]
                pad = 0 if layer.padding == "valid" else same(n, span + 1, strides[axis])
                if jump_first:
                    jump[axis] *= strides[axis]
                size[axis] += span * jump[axis]
                centre[axis] += (span / 2 - pad) * (jump[axis] if scale_offset else 1)
                if not jump_first:
                    jump[axis] *= strides[axis]
        result = (tuple(size), tuple(jump), tuple(centre))
        return tuple(result[i] for i in order) if offset else result[:2]
    return answer


def _reference_2_2(model):
    field = receptive.receptive_fields(model)[model.layers[-1].name]
    return field.size, field.stride, field.offset


SPEC_2_2 = CheckSpec(
    checks.check_model_field,
    reference=_reference_2_2,
    learner=_model_field(),
    mistakes={
        "pooling layers ignored": _model_field(pooling=False),
        "dilation ignored": _model_field(dilation=False),
        "jump updated before size": _model_field(jump_first=True),
        "kernels assumed square": _model_field(square=True),
        "pooling strides ignored": _model_field(pool_stride=False),
        "(stride, size, offset) instead of (size, stride, offset)": _model_field(order=(1, 0, 2)),
        "one number instead of (h, w) pairs": lambda model: tuple(v[0] for v in _reference_2_2(model)),
        "(size, stride) only, no offset": _model_field(offset=False),
        "'same' padding (k_eff - 1) // 2 whatever the stride": _model_field(same=lambda n, k, s: (k - 1) // 2),
        "'same' padding: the larger half first":
            _model_field(same=lambda n, k, s: -(-max((-(-n // s) - 1) * s + k - n, 0) // 2)),
        "padding ignored": _model_field(same=lambda n, k, s: 0),
        "offset not multiplied by the jump": _model_field(scale_offset=False),
        "the model's input length for every layer": _model_field(model_length=True),
    },
    hints={
        "kernels assumed square": "Kernels need not be square",
        "'same' padding (k_eff - 1) // 2 whatever the stride": "with stride > 1 it depends on n",
        "'same' padding: the larger half first": "the smaller half",
        "padding ignored": "puts zeros before the first pixel",
        "(size, stride) only, no offset": "expected 3 items",
        "pooling strides ignored": "product of every layer's strides",
    },
    passed=r"^Exercise 2\.2 passed: 8 random cases",
)


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


VISIBLE_2_3 = {pair: (None if pair[0] > 3 ** pair[1] else receptive.dilation_schedule(*pair))
               for pair in receptive_checks.cases_2_3()}


def _hard_coded_2_3(target, num_layers):
    """The schedules of the visible cases, memorised (out-of-reach ones raise, as they should);
    [1] * n (too small) for anything else. (``memorised`` cannot record a case that raises.)"""
    if (target, num_layers) in VISIBLE_2_3:
        answer = VISIBLE_2_3[(target, num_layers)]
        if answer is None:
            raise ValueError("out of reach")
        return answer
    return [1] * num_layers


SPEC_2_3 = CheckSpec(
    checks.check_dilation_schedule,
    reference=receptive.dilation_schedule,
    learner=_greedy,
    mistakes={
        "all dilations 2 (gridding)": lambda target, n: [2] * n,
        "powers of 3 from 3 (holes)": lambda target, n: [3 ** (i + 1) for i in range(n)],
        "all ones (field too small)": lambda target, n: [1] * n,
        "doubling whatever the target": lambda target, n: [2 ** i for i in range(n)],
        "no ValueError when out of reach": lambda target, n: [3 ** i for i in range(n)],
        "wrong length": lambda target, n: _greedy(target, n) + [1],
        "floats": lambda target, n: [d + 0.5 for d in _greedy(target, n)],
        "reach checked against 2 ** n": lambda target, n: (_ for _ in ()).throw(ValueError("far"))
        if target > 2 ** n else _max_growth(target, n),
    },
    hints={"all dilations 2 (gridding)": "gridding", "no ValueError when out of reach": "should raise ValueError"},
    passed=r"^Exercise 2\.3 passed: 14 random cases reach their target with no holes\.$",
    hard_coded=_hard_coded_2_3,
)


# --- Exercise 2.4: predict, then run ----------------------------------------------------------

RIGHT_2_4 = 30  # 3 (conv1), 4 (pool1), 4 + 4·2 = 12 (conv2), 14 (pool2), 14 + 4·4 = 30 (conv3)

SPEC_2_4 = CheckSpec(
    checks.check_field_prediction,
    reference=lambda: RIGHT_2_4,
    learner=lambda: 30.0,
    mistakes={
        "jumps ignored (kernel sizes added)": lambda: 13,
        "dilation ignored": lambda: 26,
        "poolings ignored": lambda: 17,
        "jump after the stride": lambda: 54,
        "not a number": lambda: "30",
        "a pair": lambda: (30, 30),
    },
    hints={"jumps ignored (kernel sizes added)": r"(?s)measured 30\b.*conv3 30",
           "not a number": "must be a number", "a pair": "predict one number"},
    passed=r"^Exercise 2\.4 passed: you predicted the field width",
    call=lambda answer: checks.check_field_prediction(prediction_of(answer)),
)

globals().update(check_tests([SPEC_2_1, SPEC_2_2, SPEC_2_3, SPEC_2_4]))


# --- what the table does not cover --------------------------------------------------------------

def test_2_1_failure_shows_expected_and_received():
    with pytest.raises(AssertionError) as failure:
        checks.check_receptive_field_1d(SPEC_2_1.mistakes["padding sign flipped"])
    message = str(failure.value)
    assert "expected (" in message and "received (" in message and "after layer" in message


def test_2_2_strided_same_case_sees_the_input_length():
    """The fixed strided-'same' case has an odd and an even axis: their offsets differ."""
    model = [m for m in receptive_checks.models_2_2() if m.name == "check_2_2_strided_same"][0]
    _, _, offset = _reference_2_2(model)
    assert offset[0] != offset[1]


def test_2_2_cases_change_under_the_graders_seed(monkeypatch):
    visible = [m.name for m in receptive_checks.models_2_2()]
    summaries = [receptive_checks._model_summary(m) for m in receptive_checks.models_2_2()]
    monkeypatch.setenv("FCN_LESSONS_CHECK_SEED", "12345")
    graded = [receptive_checks._model_summary(m) for m in receptive_checks.models_2_2()]
    assert len(visible) == len(graded) and graded != summaries


def test_2_3_names_the_holes():
    with pytest.raises(AssertionError, match="holes, at offsets") as failure:
        checks.check_dilation_schedule(SPEC_2_3.mistakes["all dilations 2 (gridding)"])
    assert "gridding" in str(failure.value)


def test_2_4_question_is_measured_not_clipped():
    """The measured width is the unit's whole field: the recurrence's 30, away from the border."""
    model = receptive_checks.field_question_model()
    question = receptive_checks.FIELD_QUESTION
    field = receptive.receptive_fields(model)[question["layer"]]
    assert field.size == (RIGHT_2_4, RIGHT_2_4)
    for seed in (0, 1):
        assert receptive_checks.measured_field_width(model, question["layer"], question["position"],
                                                     seed=seed) == RIGHT_2_4
