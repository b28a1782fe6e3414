"""What every exercise check shares: calling the learner's code, comparing, reporting.

A check runs the learner's function on several random cases, compares each result with
the reference implementation, prints one line on success, and on the first failure
raises ``AssertionError`` saying which case, what was expected, what came back, and a
hint. The shipped stub's ``NotImplementedError`` comes out as :class:`NotDone` (still a
``NotImplementedError``) with a one-line message.

Both exceptions define ``_render_traceback_``, which IPython shows instead of a traceback:
a learner sees the message, not 30 lines through the checks' internals.

Every check is wrapped with :func:`exercise_check`, which also refuses the course's own
reference functions (``fcn_lessons.upsampling.bilinear_kernel`` handed to exercise 3.2):
the point of an exercise is to write it.

Random cases come from :func:`case_rng`. A learner always sees the same cases; the grader
sets ``FCN_LESSONS_CHECK_SEED`` (:data:`GRADING_SEED_ENV`) so a graded run draws other
cases, and an answer fitted to the visible ones fails there.
"""

from __future__ import annotations

import functools
import os

import numpy as np

GRADING_SEED_ENV = "FCN_LESSONS_CHECK_SEED"
COURSE_PACKAGE = "fcn_lessons"


class CaseFailure(AssertionError):
    """An exercise check failed; the message is meant for the learner."""

    def _render_traceback_(self) -> list[str]:  # IPython: show the message, not the traceback
        return str(self).splitlines()


class NotDone(NotImplementedError):
    """The exercise still holds its stub: a one-line message, no traceback."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


def grading_seed() -> int | None:
    """The grader's seed (``FCN_LESSONS_CHECK_SEED``), or None when a learner runs the check."""
    value = os.environ.get(GRADING_SEED_ENV, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{GRADING_SEED_ENV} must be an integer seed, received {value!r}.") from None


def case_rng(seed: int) -> np.random.Generator:
    """The generator a check draws its random cases from.

    ``seed`` is the check's own (fixed, so a learner sees the same cases every run). In
    grading mode the grader's seed is mixed in, so the cases differ from the visible ones.
    """
    grading = grading_seed()
    return np.random.default_rng(seed if grading is None else [grading, seed])


def _unwrapped(fn):
    """The function behind partials, bound methods and ``functools.wraps`` wrappers."""
    for _ in range(10):
        inner = getattr(fn, "func", None) or getattr(fn, "__func__", None) or getattr(fn, "__wrapped__", None)
        if inner is None or inner is fn:
            return fn
        fn = inner
    return fn


def course_function_name(fn) -> str | None:
    """``module.name`` when ``fn`` is a function of the course package itself, else None."""
    if not callable(fn):
        return None
    inner = _unwrapped(fn)
    module = getattr(inner, "__module__", None) or ""
    if module == COURSE_PACKAGE or module.startswith(COURSE_PACKAGE + "."):
        return f"{module}.{getattr(inner, '__qualname__', getattr(inner, '__name__', '?'))}"
    return None


def exercise_check(exercise: str):
    """Decorator for the check of ``exercise`` ("3.2"): stub -> :class:`NotDone`, course answers refused.

    The wrapped check takes the learner's answer first. Its ``exercise`` attribute names
    the exercise (the grader and the tests read it).
    """
    def wrap(check):
        @functools.wraps(check)
        def run(answer, *args, **kwargs):
            borrowed = course_function_name(answer)
            if borrowed is not None:
                raise CaseFailure(
                    f"Exercise {exercise}: you passed {borrowed}, the course's own answer. "
                    "Write your own function in the exercise cell and pass that.")
            try:
                return check(answer, *args, **kwargs)
            except NotDone:
                raise
            except NotImplementedError as err:
                raise NotDone(
                    f"Exercise {exercise} is not done yet: replace the `raise NotImplementedError(...)` "
                    "line in its exercise cell with your code, run that cell, then this check again."
                ) from err
        run.exercise = exercise
        return run
    return wrap


def describe(value) -> str:
    """Short description of a value for failure messages: type, shape and dtype."""
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}" + (f", dtype {dtype}" if dtype is not None else "")
    return f"{type(value).__name__}: {value!r}"[:200]


class Case:
    """One test case of an exercise: ``exercise`` (e.g. "1.2"), index, total, description."""

    def __init__(self, exercise: str, index: int, total: int, description: str, hint: str):
        self.exercise, self.index, self.total = exercise, index, total
        self.description, self.hint = description, hint

    def fail(self, problem: str, *, hint: str | None = None) -> CaseFailure:
        header = (f"Exercise {self.exercise} failed on case {self.index} of {self.total} "
                  f"({self.description}):")
        lines = [header, *("  " + line for line in problem.splitlines()), f"Hint: {hint or self.hint}"]
        return CaseFailure("\n".join(lines))

    def call(self, fn, *args, who: str = "your function", **kwargs):
        """Call the learner's ``fn`` (or what it returned); exceptions fail this case."""
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:  # the stub: exercise_check turns it into NotDone
            raise
        except Exception as err:  # the learner's code raised: report it as this case's failure
            raise self.fail(f"{who} raised {type(err).__name__}: {err}") from err

    def assert_close(self, received, expected, *, what: str = "result",
                     atol: float = 1e-5, rtol: float = 1e-5, hint: str | None = None):
        """Compare arrays: type, shape, then values (reporting the worst position)."""
        expected = np.asarray(expected)
        try:
            got = np.asarray(received, dtype=np.float64 if expected.dtype.kind == "f" else None)
        except (TypeError, ValueError) as err:
            raise self.fail(f"{what}: expected an array, received {describe(received)} ({err})",
                            hint=hint) from err
        if got.shape != expected.shape:
            raise self.fail(f"{what}: expected shape {expected.shape}, received shape {got.shape}",
                            hint=hint)
        if got.dtype.kind in "OUS":
            raise self.fail(f"{what}: expected numbers, received dtype {got.dtype}", hint=hint)
        bad = ~np.isclose(got, expected, atol=atol, rtol=rtol)
        if bad.any():
            where = np.unravel_index(np.argmax(np.where(bad, np.abs(got - expected), -1)), got.shape)
            raise self.fail(
                f"{what}: {int(bad.sum())} of {bad.size} values differ "
                f"(max |difference| {np.nanmax(np.abs(got - expected)):.4g})\n"
                f"at index {tuple(int(i) for i in where)}: expected {expected[where]:.6g}, "
                f"received {got[where]:.6g}",
                hint=hint,
            )


def cases(exercise: str, descriptions: list[str], hint: str):
    """Yield a ``Case`` per description, numbered from 1."""
    for i, description in enumerate(descriptions, start=1):
        yield Case(exercise, i, len(descriptions), description, hint)


def passed(exercise: str, count: int, what: str) -> None:
    print(f"Exercise {exercise} passed: {count} random cases {what}.")


def check_prediction(exercise: str, predicted, measured, *, what: str, explanation: str,
                     tolerance: float | None = None, choices=None) -> None:
    """The check of a "predict, then run" question: the learner's prediction against the measurement.

    Args:
        predicted: the learner's answer (a number, or one of ``choices``).
        measured: what the lesson's cell measured (same kind).
        what: names the quantity in the messages ("the mean IU of ...").
        explanation: why the measurement comes out as it does; shown on failure and success.
        tolerance: for numbers, the largest accepted |predicted - measured|.
        choices: for a multiple-choice question, the allowed answers.
    """
    if predicted is Ellipsis or predicted is None:
        raise NotDone(f"Exercise {exercise} is not done yet: write your prediction first "
                      "(replace the ... in its exercise cell), run that cell, then this one.")
    if choices is not None:
        if predicted not in choices:
            options = ", ".join(repr(c) for c in choices)
            raise CaseFailure(f"Exercise {exercise}: your prediction must be one of {options}; "
                              f"received {predicted!r}.")
        right = predicted == measured
    else:
        if isinstance(predicted, bool) or not isinstance(predicted, (int, float, np.integer, np.floating)):
            raise CaseFailure(f"Exercise {exercise}: your prediction of {what} must be a number; "
                              f"received {describe(predicted)}.")
        if not np.isfinite(predicted):
            raise CaseFailure(f"Exercise {exercise}: your prediction of {what} must be finite; received {predicted}.")
        right = abs(float(predicted) - float(measured)) <= float(tolerance)
    count = isinstance(measured, (int, np.integer))  # counts print in full, not as 1.36e+03
    shown = repr(measured) if choices is not None else f"{measured:,}" if count else f"{measured:.3g}"
    if not right:
        margin = "" if choices is not None or not tolerance else f" (within {tolerance:g} counts as right)"
        raise CaseFailure(f"Exercise {exercise}: you predicted {predicted!r} for {what}; the lesson measured "
                          f"{shown}{margin}.\nWhy: {explanation}")
    print(f"Exercise {exercise} passed: you predicted {what} ({predicted!r}; measured {shown}). {explanation}")
