"""What every exercise check shares (fcn_lessons/checks/_core.py): the stub, the course's own
answers handed over directly, and (where an exercise names its forbidden course modules)
learner functions that only wrap those answers."""

import numpy as np
import pytest

import fcn_lessons
from fcn_lessons import metrics, upsampling
from fcn_lessons.checks._core import (LEARNER_MODULE, CaseFailure, NotDone, borrowed_course_function,
                                      course_function_name, exercise_check)

UPSAMPLING = ("fcn_lessons.upsampling",)


def in_notebook(source: str, name: str):
    """The function ``name`` as a notebook cell defines it: module ``__main__``, the cell's globals."""
    namespace = {"__name__": LEARNER_MODULE, "np": np, "fcn_lessons": fcn_lessons, "upsampling": upsampling,
                 "metrics": metrics}
    exec(source, namespace)  # noqa: S102 - fixed test strings
    return namespace[name]


@exercise_check("9.1", forbidden=UPSAMPLING)
def _check_kernel(fn):
    """A toy check: the learner returns a ×2 bilinear kernel."""
    np.testing.assert_allclose(fn(2, 1), upsampling.bilinear_kernel(2, 1))
    print("Exercise 9.1 passed.")


@exercise_check("9.2")
def _check_plain(fn):
    """A check without a forbidden list, as most lessons' checks are."""
    fn(2, 1)
    print("Exercise 9.2 passed.")


WRAPPERS = {  # a notebook's ways of handing the course's answer back, each caught
    "lambda through the module": "answer = lambda f, c: upsampling.bilinear_kernel(f, c)",
    "lambda through the package": "answer = lambda f, c: fcn_lessons.upsampling.bilinear_kernel(f, c)",
    "from-import under another name": ("from fcn_lessons.upsampling import bilinear_kernel as bk\n"
                                       "def answer(f, c):\n    return bk(f, c)\n"),
    "module under another name": "import fcn_lessons.upsampling as up\nanswer = lambda f, c: up.bilinear_kernel(f, c)",
    "a helper of the learner's": ("def taps(f):\n    return upsampling.bilinear_taps(f)\n"
                                  "def answer(f, c):\n    t = taps(f)\n    return np.outer(t, t)[:, :, None, None]\n"),
    "a closure": "def make():\n    g = upsampling.bilinear_kernel\n    return lambda f, c: g(f, c)\nanswer = make()",
    "a default argument": "def answer(f, c, k=upsampling.bilinear_kernel):\n    return k(f, c)\n",
    "inside a comprehension": "def answer(f, c):\n    return [upsampling.bilinear_kernel(f, c) for _ in range(1)][0]\n",
    "inside a nested function": ("def answer(f, c):\n    def inner():\n        return upsampling.bilinear_kernel(f, c)\n"
                                 "    return inner()\n"),
}


@pytest.mark.parametrize("how", WRAPPERS)
def test_a_notebook_wrapper_around_a_forbidden_function_is_refused(how):
    answer = in_notebook(WRAPPERS[how], "answer")
    assert borrowed_course_function(answer, UPSAMPLING) in {"fcn_lessons.upsampling.bilinear_kernel",
                                                            "fcn_lessons.upsampling.bilinear_taps"}
    with pytest.raises(CaseFailure, match=r"^Exercise 9\.1: your (lambda|function \w+) uses "
                                          r"fcn_lessons\.upsampling\.bilinear_\w+, the course's own answer") as raised:
        _check_kernel(answer)
    message = str(raised.value)
    assert "Write that computation yourself" in message and "Traceback" not in message
    assert raised.value._render_traceback_() == message.splitlines()


def test_an_honest_notebook_answer_passes(capsys):
    answer = in_notebook("def answer(f, c):\n"
                         "    k = 2 * f - f % 2\n"
                         "    t = 1 - np.abs(np.arange(k) - (k - 1) / 2) / f\n"
                         "    out = np.zeros((k, k, c, c), np.float32)\n"
                         "    for i in range(c):\n        out[:, :, i, i] = np.outer(t, t)\n"
                         "    return out\n", "answer")
    assert borrowed_course_function(answer, UPSAMPLING) is None
    _check_kernel(answer)
    assert capsys.readouterr().out.strip() == "Exercise 9.1 passed."


def test_other_course_functions_stay_allowed():
    """Only the forbidden modules count: fcn_lessons.by_mode or metrics are fine in exercise 9.1."""
    answer = in_notebook("def answer(f, c):\n    fcn_lessons.by_mode(full=1, quick=1)\n"
                         "    metrics.VOID_LABEL\n    return np.zeros((1,))\n", "answer")
    assert borrowed_course_function(answer, UPSAMPLING) is None


def test_one_function_can_be_forbidden_alone():
    uses_taps = in_notebook("answer = lambda f, c: upsampling.bilinear_taps(f)", "answer")
    uses_kernel = in_notebook("answer = lambda f, c: upsampling.bilinear_kernel(f, c)", "answer")
    only_kernel = ("fcn_lessons.upsampling.bilinear_kernel",)
    assert borrowed_course_function(uses_taps, only_kernel) is None
    assert borrowed_course_function(uses_kernel, only_kernel) == "fcn_lessons.upsampling.bilinear_kernel"


def test_a_course_function_handed_over_directly_is_refused_with_or_without_a_list():
    for check in (_check_kernel, _check_plain):
        with pytest.raises(CaseFailure, match="you passed fcn_lessons.upsampling.bilinear_kernel, the course's own"):
            check(upsampling.bilinear_kernel)


def test_without_a_forbidden_list_wrappers_pass_as_before(capsys):
    """``exercise_check("n.m")`` keeps its old behaviour for the lessons that name no modules."""
    answer = in_notebook("answer = lambda f, c: upsampling.bilinear_kernel(f, c)", "answer")
    _check_plain(answer)
    assert "Exercise 9.2 passed" in capsys.readouterr().out
    assert _check_plain.forbidden == () and _check_plain.exercise == "9.2"


def test_functions_outside_a_notebook_are_not_read():
    """Test modules and helper packages wrap the reference on purpose (tests/_stubs.as_learner)."""
    def wrapper(f, c):
        return upsampling.bilinear_kernel(f, c)
    assert wrapper.__module__ != LEARNER_MODULE
    assert borrowed_course_function(wrapper, UPSAMPLING) is None


def test_recursion_and_odd_objects_end_the_search():
    recursive = in_notebook("def answer(f, c):\n    return answer(f - 1, c) if f > 9 else np.zeros(1)\n", "answer")
    assert borrowed_course_function(recursive, UPSAMPLING) is None
    assert borrowed_course_function(3.5, UPSAMPLING) is None
    assert borrowed_course_function(np.zeros, UPSAMPLING) is None
    unassigned = in_notebook("def outer():\n    def answer(f, c):\n        return later(f, c)\n"
                             "    return answer\n    later = None\nanswer = outer()", "answer")
    assert borrowed_course_function(unassigned, UPSAMPLING) is None  # an empty closure cell


def test_a_module_nobody_imported_forbids_nothing():
    answer = in_notebook("answer = lambda f, c: upsampling.bilinear_kernel(f, c)", "answer")
    assert borrowed_course_function(answer, ("fcn_lessons.not_a_module",)) is None


def test_the_stub_is_still_not_done():
    def stub(f, c):
        raise NotImplementedError("Exercise 9.1: write your code here")
    with pytest.raises(NotDone, match=r"^Exercise 9\.1 is not done yet"):
        _check_kernel(stub)


@pytest.mark.parametrize("bad, error, pattern", [
    ("fcn_lessons.upsampling", TypeError, "a list of dotted names"),
    (("numpy.zeros",), ValueError, "course modules or functions"),
])
def test_a_bad_forbidden_list_is_an_error_at_definition(bad, error, pattern):
    with pytest.raises(error, match=pattern):
        exercise_check("9.3", forbidden=bad)


def test_course_function_name_sees_through_partials():
    import functools

    assert course_function_name(functools.partial(upsampling.bilinear_kernel, 2)) == \
        "fcn_lessons.upsampling.bilinear_kernel"
    assert course_function_name(lambda: None) is None
