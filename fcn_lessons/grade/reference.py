"""The reference side of grading: the course's lessons, their exercises and points.

Every solution notebook ``solutions/NN_slug.py`` is a lesson the grader knows. Its
reference notebook is the exercise notebook generated from it
(:func:`fcn_lessons.exercises.make_exercise`: answers replaced by stubs, exactly what was
handed out), so the check cells always come from the solutions, never from a submission.

Points: one per exercise unless the solution notebook's metadata sets them, in the
jupytext header of ``solutions/NN_slug.py``::

    # ---
    # jupyter:
    #   fcn_lessons:
    #     points:
    #       '0.1': 2
    #       '0.3': 0.5
    # ...

Exercises not listed keep 1 point.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from fcn_lessons import exercises as exercise_tools
from fcn_lessons import notebooks

LESSON_SLUG = re.compile(r"^(?P<lesson>\d\d)_[A-Za-z0-9_]+$")
COURSE_PACKAGE = "fcn_lessons"
DEFAULT_POINTS = 1


class ReferenceProblem(ValueError):
    """The course's solutions cannot serve as a grading reference (bad points metadata, no lessons)."""


def exercise_key(number: str) -> tuple[int, ...]:
    """Sort key of an exercise number: "0.10" after "0.9"."""
    return tuple(int(part) for part in number.split("."))


def cell_numbers(cell, key: str) -> list[str]:
    """The exercise numbers in ``cell.metadata.fcn_lessons[key]`` ("exercises" or "checks"), [] if none or malformed."""
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    value = meta.get("fcn_lessons", {}) if isinstance(meta, dict) else {}
    value = value.get(key, []) if isinstance(value, dict) else []
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str) and re.fullmatch(r"\d+\.\d+", v)]


def cell_tags(cell) -> list[str]:
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    tags = meta.get("tags", []) if isinstance(meta, dict) else []
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def course_modules(source: str) -> set[str]:
    """The ``fcn_lessons`` modules a piece of code imports or names (``fcn_lessons.metrics``...)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(re.findall(r"\bfcn_lessons(?:\.\w+)*", source))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == COURSE_PACKAGE}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == COURSE_PACKAGE:
            found |= {f"{node.module}.{a.name}" if node.module == COURSE_PACKAGE else node.module for a in node.names}
        elif isinstance(node, ast.Attribute):
            parts, base = [], node
            while isinstance(base, ast.Attribute):
                parts.append(base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id == COURSE_PACKAGE and parts and not parts[-1].startswith("_"):
                found.add(f"{COURSE_PACKAGE}.{parts[-1]}")
    return found


@dataclass
class Lesson:
    """One lesson as the grader sees it."""

    slug: str  # "00_setup_and_task"
    lesson: str  # "00"
    solution_path: Path
    solution: object  # the solution notebook (NotebookNode)
    reference: object  # the exercise notebook generated from it
    exercises: list[str]
    points: dict[str, float]
    allowed_modules: dict[str, set[str]] = field(default_factory=dict)  # course modules each answer may use

    @property
    def max_score(self) -> float:
        return sum(self.points[n] for n in self.exercises)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the reference notebook or the points change."""
        cells = [[c.cell_type, c.source, c.get("metadata", {})] for c in self.reference.cells]  # not the ids:
        # jupytext draws new random cell ids each time it reads the .py
        text = json.dumps({"cells": cells, "meta": self.reference.metadata.get("fcn_lessons", {}),
                           "points": self.points}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _points(solution, exercises: list[str], path: Path) -> dict[str, float]:
    meta = solution.metadata.get("fcn_lessons", {}) or {}
    given = meta.get("points", {}) if isinstance(meta, dict) else {}
    if not isinstance(given, dict):
        raise ReferenceProblem(f"{path}: metadata fcn_lessons.points must map exercise numbers to points, "
                              f"received {given!r}.")
    unknown = sorted(set(given) - set(exercises))
    if unknown:
        raise ReferenceProblem(f"{path}: fcn_lessons.points names {', '.join(map(str, unknown))}, which are not "
                              f"exercises of this notebook ({', '.join(exercises)}).")
    points = {}
    for number in exercises:
        value = given.get(number, DEFAULT_POINTS)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ReferenceProblem(f"{path}: the points of exercise {number} must be a positive number, "
                                  f"received {value!r}.")
        points[number] = value
    return points


def load_lesson(solution_py) -> Lesson:
    """The lesson of ``solutions/NN_slug.py``."""
    path = Path(solution_py)
    solution = notebooks.read(path)
    reference = exercise_tools.make_exercise(solution, path)
    numbers = list(reference.metadata["fcn_lessons"]["exercises"])
    allowed = {}
    for cell in solution.cells:
        if cell.cell_type == "code" and exercise_tools.EXERCISE_TAG in cell_tags(cell):
            _, found = exercise_tools.strip_solutions(cell.source, where=str(path))
            for number in found:
                allowed[number] = course_modules(cell.source)
    return Lesson(slug=path.stem, lesson=reference.metadata["fcn_lessons"]["lesson"], solution_path=path,
                  solution=solution, reference=reference, exercises=numbers,
                  points=_points(solution, numbers, path), allowed_modules=allowed)


def load_lessons(solutions_dir, *, problems: dict[str, str] | None = None) -> dict[str, Lesson]:
    """{slug: Lesson} for every solution notebook in ``solutions_dir``.

    Args:
        problems: when given, a solution notebook that cannot be read does not stop the
            others: {slug: why} is filled in instead of raising.
    """
    folder = Path(solutions_dir)
    if not folder.is_dir():
        raise ReferenceProblem(f"{folder} is not a folder: pass --solutions with the course's solutions/ folder.")
    lessons = {}
    for py in sorted(folder.glob("[0-9][0-9]_*.py")):
        try:
            lesson = load_lesson(py)
        except (ValueError, KeyError) as err:  # NotebookError, MarkerError and ReferenceProblem are ValueErrors
            if problems is None:
                raise
            problems[py.stem] = f"{py}: {err}"
            continue
        lessons[lesson.slug] = lesson
    if not lessons and not problems:
        raise ReferenceProblem(f"{folder} holds no solution notebook (NN_slug.py): nothing to grade against.")
    return lessons


def package_fingerprint(package_dir=None) -> str:
    """A hash of the course package's sources (the checks above all): cached grades expire when it changes."""
    import fcn_lessons

    root = Path(package_dir or Path(fcn_lessons.__file__).parent)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
