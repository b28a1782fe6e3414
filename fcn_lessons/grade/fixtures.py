"""Learner-style submissions made from the course itself, for the tests, the benchmark and dry runs.

A correct submission is the lesson's exercise notebook (generated from ``solutions/``)
with each exercise cell holding the solution's code as a learner would leave it: the
``# BEGIN SOLUTION n: ...`` line turned back into the stub's ``# Exercise n: ...``
comment, and the ``# END SOLUTION``, ``# HINT:`` and ``# STUB:`` lines gone.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from fcn_lessons import exercises as exercise_tools
from fcn_lessons.grade.reference import Lesson, cell_numbers, cell_tags


def learner_answer(solution_source: str) -> str:
    """A solution cell's code as a learner's finished exercise cell."""
    lines = []
    for line in solution_source.splitlines():
        begin = exercise_tools.BEGIN.match(line)
        if begin:
            title = exercise_tools.TITLE.match(begin["rest"])
            lines.append(f"{begin['indent']}# Exercise {title['number']}: {title['title']}")
        elif not (exercise_tools.END.match(line) or exercise_tools.HINT.match(line)
                  or exercise_tools.STUB.match(line)):
            lines.append(line)
    return "\n".join(lines)


def answers(lesson: Lesson) -> dict[str, str]:
    """{exercise number: the learner-style answer cell's source} of ``lesson``."""
    found = {}
    for cell in lesson.solution.cells:
        if cell.cell_type == "code" and exercise_tools.EXERCISE_TAG in cell_tags(cell):
            _, numbers = exercise_tools.strip_solutions(cell.source, where=str(lesson.solution_path))
            for number in numbers:
                found[number] = learner_answer(cell.source)
    return found


def submission(lesson: Lesson, *, solved=None, sources=None):
    """The lesson's exercise notebook with the exercises in ``solved`` answered (default: all).

    Args:
        sources: {exercise number: source} put in instead (takes precedence over ``solved``).
    """
    nb = copy.deepcopy(lesson.reference)
    solved = set(lesson.exercises if solved is None else solved)
    right = answers(lesson)
    for cell in nb.cells:
        numbers = cell_numbers(cell, "exercises")
        if not numbers:
            continue
        if sources and numbers[0] in sources:
            cell.source = sources[numbers[0]]
        elif numbers[0] in solved:
            cell.source = right[numbers[0]]
    return nb


def write(nb, path) -> Path:
    """Save ``nb`` as a learner's JupyterLab would (nbformat 4 JSON)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return path


def write_class(lessons: dict[str, Lesson], folder, *, students: int = 2, slugs=None) -> list[Path]:
    """A class of ``students`` learners who each answered every exercise of ``slugs`` (default: all lessons)."""
    paths = []
    for i in range(students):
        for slug in slugs or lessons:
            paths.append(write(submission(lessons[slug]), Path(folder) / f"student{i + 1:03d}" / f"{slug}.ipynb"))
    return paths


__all__ = ["learner_answer", "answers", "submission", "write", "write_class"]
