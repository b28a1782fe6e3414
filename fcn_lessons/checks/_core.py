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
the point of an exercise is to write it. Given the exercise's ``forbidden`` course modules
or functions, it also refuses a learner's function whose code reaches one of them
(``lambda f, c: upsampling.bilinear_kernel(f, c)``): :func:`borrowed_course_function`.

Random cases come from :func:`case_rng`. A learner always sees the same cases; the grader
sets ``FCN_LESSONS_CHECK_SEED`` (:data:`GRADING_SEED_ENV`) so a graded run draws other
cases, and an answer fitted to the visible ones fails there.
"""

from __future__ import annotations

import functools
import os
import sys
import types

import numpy as np

GRADING_SEED_ENV = "FCN_LESSONS_CHECK_SEED"
COURSE_PACKAGE = "fcn_lessons"
LEARNER_MODULE = "__main__"  # notebook cells (JupyterLab's kernel, the grader's) define functions here
_SEARCH_DEPTH = 4  # learner helpers followed from the answer: answer -> helper -> helper ...


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


def _is_course_module(value) -> bool:
    name = getattr(value, "__name__", "") if isinstance(value, types.ModuleType) else ""
    return name == COURSE_PACKAGE or name.startswith(COURSE_PACKAGE + ".")


def _forbidden_objects(forbidden) -> dict[int, str]:
    """``id(object) -> "module.name"`` for every course callable named by ``forbidden``.

    Each entry is the dotted name of a course module (all the course functions and classes
    it holds) or of one function or class in one. Only modules already imported count: a
    learner's function can reach nothing from a module nobody imported.
    """
    found = {}
    for dotted in forbidden:
        module = sys.modules.get(dotted)
        if module is not None:
            members = vars(module).values()
        else:
            home, _, attribute = dotted.rpartition(".")
            module = sys.modules.get(home)
            members = [getattr(module, attribute)] if module is not None and hasattr(module, attribute) else []
        for member in members:
            name = course_function_name(member) if not isinstance(member, types.ModuleType) else None
            if name is not None:
                found[id(member)] = name
                found.setdefault(id(_unwrapped(member)), name)
    return found


def _code_names(code: types.CodeType) -> set[str]:
    """The global and attribute names a code object uses, nested functions and lambdas included."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _code_names(constant)
    return names


def _reached_through_module(module, names: set[str], forbidden: dict[int, str], levels: int = 3) -> str | None:
    """A forbidden function that ``module.<name>`` (or ``module.<sub>.<name>``) reaches."""
    for name in names:
        value = vars(module).get(name)
        if value is None:
            continue
        if id(value) in forbidden:
            return forbidden[id(value)]
        if levels > 1 and _is_course_module(value):
            found = _reached_through_module(value, names, forbidden, levels - 1)
            if found:
                return found
    return None


def borrowed_course_function(answer, forbidden) -> str | None:
    """The name of a ``forbidden`` course function that the learner's ``answer`` uses, else None.

    ``answer`` counts as the learner's when it was defined in a notebook cell (module
    ``__main__``, :data:`LEARNER_MODULE`); the course's own functions are caught by
    :func:`course_function_name`. Its code is read, not run: the names it uses
    (``__code__.co_names``, nested functions and lambdas included) are looked up in its
    globals, and so are its closure cells and default arguments. A name that holds a
    forbidden function is a hit (``from fcn_lessons.upsampling import bilinear_kernel``);
    so is an attribute of a course module held there (``upsampling.bilinear_kernel``,
    ``fcn_lessons.upsampling.bilinear_kernel``). Learner functions it calls are followed
    the same way, a few levels deep.

    Args:
        answer: what the learner handed to the check.
        forbidden: dotted names of course modules or functions (see :func:`exercise_check`).
    """
    targets = _forbidden_objects(forbidden)
    if not targets or not callable(answer):
        return None
    seen: set[int] = set()

    def visit(value, depth: int) -> str | None:
        inner = _unwrapped(value)
        for candidate in (value, inner):
            if id(candidate) in targets:
                return targets[id(candidate)]
        if _is_course_module(value):
            return None  # a module on its own uses nothing; its attributes are looked up by name below
        code = getattr(inner, "__code__", None)
        if code is None or depth > _SEARCH_DEPTH or id(inner) in seen:
            return None
        if getattr(inner, "__module__", None) != LEARNER_MODULE:
            return None  # not a notebook function: the course's own are refused by name
        seen.add(id(inner))
        names = _code_names(code)
        namespace = getattr(inner, "__globals__", {})
        held = [namespace[name] for name in names if name in namespace]
        held += [cell.cell_contents for cell in (getattr(inner, "__closure__", None) or ())
                 if _cell_is_full(cell)]
        held += list(getattr(inner, "__defaults__", None) or ())
        held += list((getattr(inner, "__kwdefaults__", None) or {}).values())
        for item in held:
            found = (_reached_through_module(item, names, targets) if _is_course_module(item)
                     else visit(item, depth + 1))
            if found:
                return found
        return None

    return visit(answer, 0)


def _cell_is_full(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # a closure variable not assigned yet
        return False
    return True


def exercise_check(exercise: str, *, forbidden=()):
    """Decorator for the check of ``exercise`` ("3.2"): stub -> :class:`NotDone`, course answers refused.

    The wrapped check takes the learner's answer first. Its ``exercise`` attribute names
    the exercise (the grader and the tests read it), and ``forbidden`` the course modules
    and functions the exercise may not use.

    Args:
        exercise: the exercise number, "n.m".
        forbidden: dotted names of course modules ("fcn_lessons.upsampling": every course
            function it holds) or functions ("fcn_lessons.models.BilinearUpsampling"). A
            learner's function whose code uses one of them is refused with a friendly
            message (:func:`borrowed_course_function`). Empty by default: then only the
            course's functions themselves, handed over directly, are refused.
    """
    if isinstance(forbidden, str):
        raise TypeError(f"forbidden must be a list of dotted names, received the string {forbidden!r}; "
                        f"write ({forbidden!r},).")
    forbidden = tuple(forbidden)
    outside = [name for name in forbidden if not str(name).startswith(COURSE_PACKAGE + ".")]
    if outside:
        raise ValueError(f"forbidden names course modules or functions ({COURSE_PACKAGE}.…); received {outside}.")

    def wrap(check):
        @functools.wraps(check)
        def run(answer, *args, **kwargs):
            borrowed = course_function_name(answer)
            if borrowed is not None:
                raise CaseFailure(
                    f"Exercise {exercise}: you passed {borrowed}, the course's own answer. "
                    "Write your own function in the exercise cell and pass that.")
            used = borrowed_course_function(answer, forbidden) if forbidden else None
            if used is not None:
                who = getattr(_unwrapped(answer), "__name__", "your function")
                who = "your lambda" if who == "<lambda>" else f"your function {who}"
                raise CaseFailure(
                    f"Exercise {exercise}: {who} uses {used}, the course's own answer, which this exercise "
                    "does not allow. Write that computation yourself in the exercise cell (numpy is fine), "
                    "then run this check again.")
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
        run.forbidden = forbidden
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
