"""What every exercise check shares: calling the learner's code, comparing, reporting.

A check runs the learner's function on several random cases, compares each result with
the reference implementation, prints one line on success, and on the first failure
raises ``AssertionError`` saying which case, what was expected, what came back, and a
hint. ``NotImplementedError`` (the shipped stub) is never disguised: it propagates.
"""

from __future__ import annotations

import numpy as np


class CaseFailure(AssertionError):
    """An exercise check failed; the message is meant for the learner."""


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
        except NotImplementedError:
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
