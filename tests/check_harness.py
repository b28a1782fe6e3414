"""A table-driven harness for the tests of the exercise checks.

Every check must pass the course's reference and an independent learner-style answer,
and fail on the shipped stub and on each plausible wrong answer. A test module lists its
checks as :class:`CheckSpec` rows and lets the harness write the tests::

    SPECS = [CheckSpec(checks.check_bilinear_kernel, reference=upsampling.bilinear_kernel,
                       learner=_my_kernel, mistakes={"centre f - 1 for even k": ...})]
    globals().update(check_tests(SPECS))

The tests it writes (each parametrized by exercise number, mistakes by name too):

- ``test_passes_the_reference`` and ``test_passes_a_learner_style_answer``;
- ``test_passes_under_the_graders_seed``: the reference still passes with other cases;
- ``test_stub_is_not_done``: the stub gives a one-line :class:`NotDone`, no traceback;
- ``test_refuses_the_course_function``: handing in the course's own function is refused;
- ``test_fails_on_plausible_mistakes``: a ``CaseFailure`` naming the exercise (and the
  mistake's own hint, where ``hints`` gives a pattern for it), shown without a traceback;
- ``test_hard_coded_answer_fails_when_graded``: where ``hard_coded`` is given, an answer
  fitted to the visible cases passes for the learner and fails under the grader's seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

import pytest

from fcn_lessons.checks._core import GRADING_SEED_ENV, CaseFailure, NotDone, course_function_name
from _stubs import as_learner, stub_for

GRADING_SEED = 12345  # any seed other than the learner's: the grader picks its own


@dataclass(frozen=True)
class CheckSpec:
    """One exercise check and the answers it must accept and refuse."""

    check: Callable
    reference: Callable
    learner: Callable
    mistakes: Mapping[str, Callable]
    hints: Mapping[str, str] = field(default_factory=dict)  # mistake -> regex its message must match
    passed: str | None = None  # regex the success line must match
    hard_coded: Callable | None = None  # fitted to the visible cases
    call: Callable | None = None  # how to run the check on an answer (default: check(answer))

    @property
    def exercise(self) -> str:
        return self.check.exercise

    def run(self, answer):
        return (self.call or self.check)(answer)


def _mistake_rows(specs):
    return [pytest.param(spec, name, id=f"{spec.exercise}: {name}") for spec in specs for name in spec.mistakes]


def check_tests(specs: list[CheckSpec]) -> dict[str, Callable]:
    """The test functions for ``specs``, to be added to a test module's globals."""
    missing = [spec.check.__name__ for spec in specs if not hasattr(spec.check, "exercise")]
    assert not missing, f"checks not wrapped with exercise_check: {missing}"
    assert all(spec.mistakes for spec in specs), "every check needs plausible wrong answers"
    unknown = {name for spec in specs for name in spec.hints} - {name for spec in specs for name in spec.mistakes}
    assert not unknown, f"hints for mistakes that are not listed: {sorted(unknown)}"
    by_id = pytest.mark.parametrize("spec", specs, ids=[spec.exercise for spec in specs])

    @by_id
    def test_passes_the_reference(spec, capsys):
        spec.run(as_learner(spec.reference))
        out = capsys.readouterr().out.strip()
        assert out.startswith(f"Exercise {spec.exercise} passed"), out
        if spec.passed:
            assert re.search(spec.passed, out), out

    @by_id
    def test_passes_a_learner_style_answer(spec):
        spec.run(spec.learner)

    @by_id
    def test_passes_under_the_graders_seed(spec, monkeypatch):
        monkeypatch.setenv(GRADING_SEED_ENV, str(GRADING_SEED))
        spec.run(as_learner(spec.reference))
        spec.run(spec.learner)

    @by_id
    def test_stub_is_not_done(spec):
        with pytest.raises(NotDone, match=rf"^Exercise {re.escape(spec.exercise)} is not done yet") as raised:
            spec.run(stub_for(spec.exercise))
        assert raised.value._render_traceback_() == [str(raised.value)]

    @by_id
    def test_refuses_the_course_function(spec):
        if course_function_name(spec.reference) is None:
            pytest.skip("the reference is not a course function")
        with pytest.raises(CaseFailure, match="the course's own answer"):
            spec.run(spec.reference)

    @pytest.mark.parametrize("spec, mistake", _mistake_rows(specs))
    def test_fails_on_plausible_mistakes(spec, mistake):
        with pytest.raises(CaseFailure, match=rf"Exercise {re.escape(spec.exercise)}\b") as raised:
            spec.run(spec.mistakes[mistake])
        message = str(raised.value)
        assert raised.value._render_traceback_() == message.splitlines()
        if mistake in spec.hints:
            assert re.search(spec.hints[mistake], message), message

    hard_coded = [spec for spec in specs if spec.hard_coded is not None]

    @pytest.mark.parametrize("spec", hard_coded, ids=[spec.exercise for spec in hard_coded])
    def test_hard_coded_answer_fails_when_graded(spec, monkeypatch):
        spec.run(spec.hard_coded)  # fitted to the cases a learner sees: passes there
        monkeypatch.setenv(GRADING_SEED_ENV, str(GRADING_SEED))
        with pytest.raises(CaseFailure):
            spec.run(spec.hard_coded)

    tests = {name: value for name, value in locals().items() if name.startswith("test_")}
    if not hard_coded:
        tests.pop("test_hard_coded_answer_fails_when_graded")
    return tests


def memorised(check: Callable, reference: Callable, key: Callable) -> Callable:
    """An answer fitted to the cases a learner sees (for ``CheckSpec.hard_coded``).

    It replays what ``reference`` returned on the visible cases; an unseen case gets None.
    ``key(*args)`` identifies a case by its inputs. The table is filled on first use by
    running ``check`` once, with the grader's seed unset, on a recorder of ``reference``.
    """
    import contextlib
    import io
    import os

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


def prediction_of(answer: Callable):
    """For "predict, then run" rows (``CheckSpec.call``): the value an answer function stands for.

    A row's answers are functions returning the prediction; the shipped stub raises
    NotImplementedError, which stands for the exercise cell's untouched ``PREDICTION = ...``.
    """
    try:
        return answer()
    except NotImplementedError:
        return ...
