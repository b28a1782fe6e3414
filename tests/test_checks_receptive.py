"""Lesson 02's checks, table-driven (tests/check_harness.py): each passes the reference and a
learner-style answer, fails on the stub and on the plausible mistakes listed here (the
reviewer's among them), and 2.1-2.3 refuse a notebook function that uses fcn_lessons.receptive."""

import keras
import numpy as np
import pytest

import fcn_lessons
from check_harness import CheckSpec, check_tests, memorised, prediction_of
from fcn_lessons import checks, receptive
from fcn_lessons.checks import receptive as receptive_checks


def _in_notebook(source: str, name: str = "answer"):
    """The function ``name`` defined by ``source`` as a notebook cell would define it (module ``__main__``)."""
    namespace = {"__name__": "__main__", "np": np, "keras": keras, "receptive": receptive,
                 "fcn_lessons": fcn_lessons}
    exec(source, namespace)  # noqa: S102 - test code, fixed strings
    return namespace[name]


# --- Exercise 2.1: the recurrence through a transposed convolution ---------------------------

def _enumerated_step(field, kernel, stride):
    """A learner-style answer, by enumeration: place each output unit, list who writes to it."""
    size, jump, offset = field
    centre = lambda m: offset + (m - (kernel - 1) / 2) / stride * jump  # noqa: E731
    widest = size
    for m in range(kernel + 2 * stride):  # every phase of the output, away from the borders
        writers = [i for i in range(-kernel, kernel + 2 * stride) if 0 <= m - i * stride <= kernel - 1]
        if writers:
            reach = max(abs(offset + i * jump - centre(m)) for i in writers)
            widest = max(widest, size + 2 * reach)
    return widest, centre(1) - centre(0), centre(0)


def _step(*, jump_times=False, size_units=lambda k, s: (k - 1) / s, centre=lambda k, s: (k - 1) / (2 * s),
          sign=-1, as_crop=False):
    """A closed-form answer to 2.1, with one mistake switched on."""
    def answer(field, kernel, stride):
        size, jump, offset = field
        new_offset = offset + sign * centre(kernel, stride) * jump
        return (size + size_units(kernel, stride) * jump, jump * stride if jump_times else jump / stride,
                -new_offset if as_crop else new_offset)
    return answer


def _case_key(field, kernel, stride):
    return tuple(field), kernel, stride


SPEC_2_1 = CheckSpec(
    checks.check_transposed_step,
    reference=receptive.transposed_step,
    learner=_enumerated_step,
    mistakes={
        "the convolution's rule (jump times the stride)":
            lambda f, k, s: (f[0] + (k - 1) * f[1], f[1] * s, f[2] + (k - 1) / 2 * f[1]),
        "jump multiplied by the stride": _step(jump_times=True),
        "size grows by k - 1 input units": _step(size_units=lambda k, s: k - 1),
        "size grows by k / s": _step(size_units=lambda k, s: k / s),
        "offset moved the wrong way": _step(sign=+1),
        "offset not divided by the stride": _step(centre=lambda k, s: (k - 1) / 2),
        "offset at the copy's k / 2": _step(centre=lambda k, s: k / (2 * s)),
        "the crop instead of the offset": _step(as_crop=True),
        "size from the number of inputs that write one output":
            lambda f, k, s: (f[0] + (-(-k // s) - 1) * f[1], f[1] / s, f[2] - (k - 1) / (2 * s) * f[1]),
        "sizes only": lambda f, k, s: f[0] + (k - 1) / s * f[1],
        "returns nothing": lambda f, k, s: None,
        "a wrapper of receptive.transposed_step": _in_notebook(
            "answer = lambda field, kernel, stride: receptive.transposed_step(field, kernel, stride)"),
        "the Keras walker on a Conv2DTranspose": _in_notebook(
            "def answer(field, kernel, stride):\n"
            "    model = keras.Sequential([keras.Input((None, None, 1)),\n"
            "                              keras.layers.Conv2DTranspose(1, kernel, strides=stride)])\n"
            "    f = receptive.receptive_fields(model)[model.layers[-1].name]\n"
            "    return f.size[0] * field[1] + field[0] - 1, f.stride[0] * field[1], field[2] + f.offset[0] * field[1]\n"),
    },
    hints={
        "the convolution's rule (jump times the stride)": "closer together, not farther apart",
        "jump multiplied by the stride": "closer together, not farther apart",
        "size grows by k - 1 input units": "count how many \\*input\\* units",
        "size grows by k / s": "k - 1 apart, not k",
        "offset moved the wrong way": "moved the wrong way",
        "offset not divided by the stride": r"\(k - 1\) / \(2 s\) input units",
        "offset at the copy's k / 2": "off by half an output unit",
        "the crop instead of the offset": "negative when it lies before the image",
        "sizes only": r"expected a \(size, jump, offset\) tuple",
        "a wrapper of receptive.transposed_step": r"uses fcn_lessons\.receptive\.\S+, the course's own answer",
        "the Keras walker on a Conv2DTranspose": r"uses fcn_lessons\.receptive\.\S+, the course's own answer",
    },
    passed=r"^Exercise 2\.1 passed: 12 random cases match; FCN-32s's upscore lands 19 pixels before the image: "
           r"crop 19\.$",
    hard_coded=memorised(checks.check_transposed_step, receptive.transposed_step, _case_key),
)


# --- Exercise 2.2: a Keras model's field, stride and offset ---------------------------------

def _same_tf(n, k_eff, s):
    return max((-(-n // s) - 1) * s + k_eff - n, 0) // 2


def _model_field(*, pooling=True, dilation=True, jump_first=False, square=False, pool_stride=True,
                 order=(0, 1, 2), same=_same_tf, scale_offset=True, model_length=False, output_length=False,
                 offset=True):
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
                n = (model.inputs[0] if model_length else layer.output if output_length
                     else layer.input).shape[1 + axis]
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
        "the layer's output length for 'same' padding": _model_field(output_length=True),
        "a wrapper of receptive.receptive_fields": _in_notebook(
            "def answer(model):\n"
            "    field = receptive.receptive_fields(model)[model.layers[-1].name]\n"
            "    return field.size, field.stride, field.offset\n"),
        "a loop over receptive.conv_step": _in_notebook(
            "from fcn_lessons.receptive import conv_step\n"
            "def answer(model):\n"
            "    rows = cols = (1, 1, 0)\n"
            "    for layer in model.layers:\n"
            "        k = getattr(layer, 'kernel_size', None) or getattr(layer, 'pool_size', None)\n"
            "        if k is not None:\n"
            "            rows, cols = conv_step(rows, k[0], layer.strides[0]), conv_step(cols, k[1], layer.strides[1])\n"
            "    return (rows[0], cols[0]), (rows[1], cols[1]), (rows[2], cols[2])\n"),
    },
    hints={
        "kernels assumed square": "Kernels need not be square",
        "'same' padding (k_eff - 1) // 2 whatever the stride": "with stride > 1 it depends on n",
        "'same' padding: the larger half first": "the smaller half",
        "padding ignored": "puts zeros before the first pixel",
        "(size, stride) only, no offset": "expected 3 items",
        "pooling strides ignored": "product of every layer's strides",
        "the model's input length for every layer": r"\*this layer's\* input",
        "a wrapper of receptive.receptive_fields": r"uses fcn_lessons\.receptive\.\S+, the course's own answer",
        "a loop over receptive.conv_step": r"uses fcn_lessons\.receptive\.\S+conv_step, the course's own answer",
    },
    passed=r"^Exercise 2\.2 passed: 9 random cases",
)


# --- Exercise 2.3: a dilation schedule ------------------------------------------------------

def _capped_greedy(target, num_layers, *, check_reach=True):
    """A learner-style answer: grow as fast as holes allow, leaving 1 for each later layer."""
    if check_reach and target > 3 ** num_layers:
        raise ValueError("out of reach")
    needed = max(-(-(target - 1) // 2), num_layers)  # the dilations must add up to this
    dilations, field = [], 1
    for i in range(num_layers):
        d = min(field, needed - sum(dilations) - (num_layers - 1 - i))
        dilations.append(d)
        field += 2 * d
    return dilations


def _uncapped_greedy(target, num_layers):
    """The old reference answer: the field overshoots (11 pixels for target 9 with 4 layers)."""
    if target > 3 ** num_layers:
        raise ValueError("out of reach")
    dilations, field = [], 1
    for _ in range(num_layers):
        d = max(1, min(field, -(-max(target - field, 0) // 2)))
        dilations.append(d)
        field += 2 * d
    return dilations


def _powers_of_3(target, num_layers):
    if target > 3 ** num_layers:
        raise ValueError("out of reach")
    return [3 ** i for i in range(num_layers)]


def _raise_if(condition):
    def answer(target, num_layers):
        if condition(target, num_layers):
            raise ValueError("out of reach")
        return _capped_greedy(target, num_layers)
    return answer


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
    learner=_capped_greedy,
    mistakes={
        "all dilations 2 (gridding)": lambda target, n: [2] * n,
        "powers of 3 from 3 (holes)": lambda target, n: [3 ** (i + 1) for i in range(n)],
        "all ones (field too small)": lambda target, n: [1] * n,
        "doubling whatever the target": lambda target, n: [2 ** i for i in range(n)],
        "powers of 3 whatever the target (overshoots)": _powers_of_3,
        "greedy without a cap (overshoots)": _uncapped_greedy,
        "no ValueError when out of reach": lambda target, n: _capped_greedy(target, n, check_reach=False),
        "reach checked against 2 ** n": _raise_if(lambda target, n: target > 2 ** n),
        "target 3 ** n refused (>= instead of >)": _raise_if(lambda target, n: target >= 3 ** n),
        "ValueError below the smallest field 2n + 1": _raise_if(lambda target, n: target < 2 * n + 1 or target > 3 ** n),
        "even target rounded down": lambda target, n: _capped_greedy(target - 1 + target % 2, n)
        if target > 2 * n + 1 else _capped_greedy(target, n),
        "wrong length": lambda target, n: _capped_greedy(target, n) + [1],
        "floats": lambda target, n: [d + 0.5 for d in _capped_greedy(target, n)],
        "a wrapper of receptive.dilation_schedule": _in_notebook(
            "def answer(target, num_layers):\n    return receptive.dilation_schedule(target, num_layers)\n"),
    },
    hints={"all dilations 2 (gridding)": "gridding", "no ValueError when out of reach": "should raise ValueError",
           "powers of 3 whatever the target (overshoots)": "the smallest at or above",
           "greedy without a cap (overshoots)": "the smallest at or above",
           "even target rounded down": "short of",
           "a wrapper of receptive.dilation_schedule": r"uses fcn_lessons\.receptive\.\S+, the course's own answer"},
    passed=r"^Exercise 2\.3 passed: 16 random cases give the smallest field at or above their target, with no "
           r"holes\.$",
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
    hints={"jumps ignored (kernel sizes added)": r"(?s)measured 30\b.*jump of the layer \*below\*",
           "not a number": "must be a number", "a pair": "predict one number"},
    passed=r"^Exercise 2\.4 passed: you predicted the field width",
    call=lambda answer: checks.check_field_prediction(prediction_of(answer)),
)

globals().update(check_tests([SPEC_2_1, SPEC_2_2, SPEC_2_3, SPEC_2_4]))


# --- what the table does not cover --------------------------------------------------------------

def test_the_exercises_refuse_the_course_package():
    for check in (checks.check_transposed_step, checks.check_model_field, checks.check_dilation_schedule):
        assert check.forbidden == ("fcn_lessons.receptive",)
    assert checks.check_field_prediction.forbidden == ()


def test_2_1_failure_shows_expected_and_received():
    with pytest.raises(AssertionError) as failure:
        checks.check_transposed_step(SPEC_2_1.mistakes["offset moved the wrong way"])
    message = str(failure.value)
    assert "expected (size, jump, offset) = (467, 1, -19)" in message and "received (467, 1, 44)" in message


def test_2_1_reference_agrees_with_the_keras_walker():
    """transposed_step is the walker's rule for a 'valid' Conv2DTranspose, on the check's cases."""
    for (size, jump, offset), kernel, stride in receptive_checks.cases_2_1():
        assert np.allclose(_enumerated_step((size, jump, offset), kernel, stride),
                           receptive.transposed_step((size, jump, offset), kernel, stride))
    model = keras.Sequential([keras.Input((None, None, 1)), keras.layers.Conv2DTranspose(1, 64, strides=32)])
    field = receptive.receptive_fields(model)[model.layers[-1].name]
    assert (field.size[0], field.stride[0], field.offset[0]) == receptive.transposed_step((1, 1, 0), 64, 32)


def test_2_2_model_length_mistake_fails_on_the_twice_strided_model_itself():
    """The reviewer's case: the mistake must fail on a model where the two lengths differ (not on an
    AttributeError, as it did with model.input on a Sequential model never called)."""
    model = [m for m in receptive_checks.models_2_2() if m.name == "check_2_2_same_twice"][0]
    mistake = SPEC_2_2.mistakes["the model's input length for every layer"]
    assert _reference_2_2(model)[2] == (1.0, 1.0)  # pads 0 before 34 pixels, then 1 before 17: (1 - 1)·2 more
    assert mistake(model)[2] == (3.0, 3.0)  # 0 again before "34": (1 - 0)·2 more


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


def test_2_3_failure_does_not_give_the_limit_away():
    with pytest.raises(AssertionError) as failure:
        checks.check_dilation_schedule(SPEC_2_3.mistakes["no ValueError when out of reach"])
    assert "3 **" not in str(failure.value) and "27" not in str(failure.value)


def test_2_3_reviewer_case_needs_the_exact_field():
    """(9, 4): [1, 1, 1, 1] gives exactly 9; the old greedy overshot."""
    assert receptive.dilation_schedule(9, 4) == [1, 1, 1, 1]
    assert len(receptive.support_1d([(3, 1, 0, d) for d in _uncapped_greedy(9, 4)])) > 9


def test_2_4_question_is_measured_not_clipped():
    """The measured width is the unit's whole field: the recurrence's 30, away from the border."""
    model = receptive_checks.field_question_model()
    question = receptive_checks.FIELD_QUESTION
    field = receptive.receptive_fields(model)[question["layer"]]
    assert field.size == (RIGHT_2_4, RIGHT_2_4)
    for seed in (0, 1):
        assert receptive_checks.measured_field_width(model, question["layer"], question["position"],
                                                     seed=seed) == RIGHT_2_4


def test_2_4_failure_gives_no_layer_by_layer_derivation():
    with pytest.raises(AssertionError) as failure:
        checks.check_field_prediction(13)
    message = str(failure.value)
    assert "measured 30" in message and "conv2" not in message and "pool1" not in message
