"""From a learner's notebook to the notebook the grader runs.

The graded notebook is the lesson's reference notebook (the exercise notebook generated
from ``solutions/``) with the learner's exercise cells put in **by exercise number**
(``cell.metadata.fcn_lessons.exercises``), never by position. Every other cell, the check
cells above all, comes from the reference. What was restored, ignored, or looks like
tampering is written down as notes, in words.

Matching an exercise cell, in order of preference:

1. the learner's code cells whose metadata names the exercise (tags do not matter:
   a retagged cell is still found, and noted);
2. failing that, a code cell whose text carries the stub's ``# Exercise N.M:`` comment
   (metadata lost, e.g. a copy pasted into a new cell), noted;
3. otherwise the stub stays: the exercise counts as not done, noted.

When several cells claim one exercise (a duplicated cell), the last one whose code
differs from the stub is graded, and the others are noted.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field

import nbformat

from fcn_lessons import exercises as exercise_tools
from fcn_lessons.grade import scan
from fcn_lessons.grade.reference import Lesson, cell_numbers, cell_tags, exercise_key

MAX_NOTEBOOK_BYTES = 64 * 2**20
MAX_CELL_CHARS = 2 * 2**20
NOT_A_LESSON, INVALID = "not a lesson", "invalid"


@dataclass
class Assembly:
    """A submission made ready to run, or the reason it cannot be (``status``)."""

    status: str | None = None  # None: ready to run; else INVALID or NOT_A_LESSON
    lesson: Lesson | None = None
    notebook: object | None = None  # the graded notebook
    roles: list[tuple[str, list[str]]] = field(default_factory=list)  # per code cell: (role, exercise numbers)
    notes: list[str] = field(default_factory=list)
    flags: dict[str, list[str]] = field(default_factory=dict)  # exercise -> what a human should look at


def _stub_comment(number: str) -> re.Pattern:
    return re.compile(rf"^\s*#\s*Exercise\s+{re.escape(number)}\s*:", re.MULTILINE)


def read_notebook(data: bytes):
    """Parse a submitted file: (notebook, notes) or (None, [why it is invalid])."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        return None, [f"the file is {len(data) / 2**20:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 2**20} MB limit"]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return None, [f"not UTF-8 text ({err.reason} at byte {err.start})"]
    try:
        raw = json.loads(text)
    except ValueError as err:
        return None, [f"not valid JSON ({err})"]
    if not isinstance(raw, dict) or not ("cells" in raw or "worksheets" in raw):
        return None, ["not a Jupyter notebook (no cells)"]
    major = raw.get("nbformat")
    if major not in (3, 4):
        return None, [f"notebook format {major!r}: the grader reads formats 3 and 4"]
    notes = []
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as err:  # nbformat raises many kinds on broken structure
        return None, [f"not a readable notebook ({type(err).__name__}: {str(err)[:200]})"]
    if major == 3:
        notes.append("notebook format 3, converted to format 4")
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as err:
        notes.append(f"does not follow the notebook schema ({str(err).splitlines()[0][:150]}); graded anyway")
    for index, cell in enumerate(nb.get("cells", []), start=1):
        if not isinstance(cell, dict) or not isinstance(cell.get("source", ""), (str, list)):
            return None, [f"cell {index} is malformed"]
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(map(str, cell["source"]))
        cell.setdefault("metadata", {})
        cell.setdefault("cell_type", "code")
    return nb, notes


def _module_names(reference) -> set[str]:
    """Names the reference's own code cells (set-up, checks) bind to imported modules."""
    names = set()
    for cell in reference.cells:
        if cell.cell_type == "code" and exercise_tools.EXERCISE_TAG not in cell_tags(cell):
            try:
                import ast
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            names |= set(scan._imported_names(tree))
    return names


def _lesson_of_number(number: str) -> str:
    return f"{int(number.split('.')[0]):02d}"


def assemble(nb, slug: str, lessons: dict[str, Lesson]) -> Assembly:
    """The graded notebook for learner notebook ``nb`` submitted as ``slug``.ipynb."""
    if slug not in lessons:
        known = ", ".join(lessons)
        return Assembly(status=NOT_A_LESSON, notes=[f"{slug}.ipynb is not a lesson of the course ({known})"])
    lesson = lessons[slug]
    meta = nb.metadata.get("fcn_lessons", {}) if isinstance(nb.metadata.get("fcn_lessons"), dict) else {}
    recorded = meta.get("lesson")
    claimed = [n for cell in nb.cells for n in cell_numbers(cell, "exercises")]
    if recorded is not None and str(recorded) != lesson.lesson:
        other = next((s for s, l in lessons.items() if l.lesson == str(recorded)), f"lesson {recorded}")
        return Assembly(status=INVALID, lesson=lesson,
                        notes=[f"this is the notebook of {other} (its metadata says lesson {recorded}), "
                               f"submitted as {slug}.ipynb"])
    foreign = sorted({_lesson_of_number(n) for n in claimed} - {lesson.lesson})
    if claimed and foreign and not set(claimed) & set(lesson.exercises):
        return Assembly(status=INVALID, lesson=lesson,
                        notes=[f"its exercise cells are those of lesson {', '.join(foreign)}, "
                               f"submitted as {slug}.ipynb"])
    notes: list[str] = []
    if recorded is None:
        notes.append("the notebook records no lesson in its metadata (saved by a tool that drops it?)")
    graded = copy.deepcopy(lesson.reference)
    stub_of = {}
    for cell in graded.cells:
        for number in cell_numbers(cell, "exercises"):
            stub_of[number] = cell.source
    learner = [(i, c) for i, c in enumerate(nb.cells, start=1)]
    used: set[int] = set()
    chosen_positions: list[int] = []
    flags: dict[str, list[str]] = {}
    module_names = _module_names(lesson.reference)
    for cell in graded.cells:
        numbers = cell_numbers(cell, "exercises")
        if not numbers:
            continue
        label = ", ".join(numbers)
        by_meta = [(i, c) for i, c in learner if set(cell_numbers(c, "exercises")) & set(numbers)]
        non_code = [(i, c) for i, c in by_meta if c.get("cell_type") != "code"]
        candidates = [(i, c) for i, c in by_meta if c.get("cell_type") == "code"]
        for i, c in non_code:
            notes.append(f"exercise {label}: cell {i} was turned into a {c.get('cell_type')} cell; not graded")
        how = "metadata"
        if not candidates:
            candidates = [(i, c) for i, c in learner
                          if c.get("cell_type") == "code" and i not in used and not cell_numbers(c, "exercises")
                          and any(_stub_comment(n).search(c.get("source", "")) for n in numbers)]
            how = "comment"
        if not candidates:
            notes.append(f"exercise {label}: no answer cell found (deleted?); graded as not done")
            continue
        edited = [(i, c) for i, c in candidates if c.source.strip() != stub_of[numbers[0]].strip()]
        index, pick = (edited or candidates)[-1]
        if len(candidates) > 1:
            others = ", ".join(str(i) for i, _ in candidates if i != index)
            notes.append(f"exercise {label}: {len(candidates)} cells claim it (duplicated); graded cell {index}, "
                         f"ignored cell(s) {others}")
        if how == "comment":
            notes.append(f"exercise {label}: found by its '# Exercise {numbers[0]}:' comment in cell {index} "
                         "(the cell lost its metadata)")
        tags = cell_tags(pick)
        if how == "metadata" and exercise_tools.EXERCISE_TAG not in tags:
            notes.append(f"exercise {label}: cell {index} was retagged ({', '.join(tags) or 'no tags'}); "
                         "found by its number")
        if set(cell_numbers(pick, "exercises")) - set(numbers):
            notes.append(f"exercise {label}: cell {index} also claims "
                         f"{', '.join(sorted(set(cell_numbers(pick, 'exercises')) - set(numbers)))}")
        source = pick.source
        if len(source) > MAX_CELL_CHARS:
            notes.append(f"exercise {label}: cell {index} holds {len(source):,} characters, over the "
                         f"{MAX_CELL_CHARS:,} limit; graded as not done")
            continue
        used.add(index)
        chosen_positions.append(index)
        cell.source = source
        found = scan.flags(source, allowed_modules=set().union(*(lesson.allowed_modules.get(n, set()) for n in numbers)),
                           module_names=module_names)
        if found:
            for number in numbers:
                flags[number] = found
            notes.append(f"FLAG exercise {label}: " + "; ".join(found) + " (a human should look)")
    if chosen_positions != sorted(chosen_positions):
        notes.append("exercise cells were reordered; each was graded in its place in the reference")
    _note_checks(nb, graded, notes)
    _note_other_cells(nb, graded, used, notes)
    roles = []
    for cell in graded.cells:
        if cell.cell_type != "code":
            continue
        if cell_numbers(cell, "exercises"):
            roles.append(("exercise", cell_numbers(cell, "exercises")))
        elif cell_numbers(cell, "checks"):
            roles.append(("check", cell_numbers(cell, "checks")))
        else:
            roles.append(("other", []))
        cell.outputs, cell.execution_count = [], None
    graded.metadata.setdefault("fcn_lessons", {})["graded"] = True
    return Assembly(lesson=lesson, notebook=graded, roles=roles, notes=notes, flags=flags)


def _note_checks(nb, graded, notes: list[str]) -> None:
    """Say which check cells the learner edited or deleted (the reference ones run anyway)."""
    learner_checks: dict[str, list[str]] = {}
    for cell in nb.cells:
        for number in cell_numbers(cell, "checks"):
            learner_checks.setdefault(number, []).append(cell.get("source", ""))
    sources = {cell.source.strip() for cell in nb.cells if cell.get("cell_type") == "code"}
    edited, deleted = [], []
    for cell in graded.cells:
        numbers = cell_numbers(cell, "checks")
        if not numbers:
            continue
        label = ", ".join(numbers)
        mine = learner_checks.get(numbers[0])
        if mine is None:
            (deleted if cell.source.strip() not in sources else []).append(label)
        elif all(s.strip() != cell.source.strip() for s in mine):
            edited.append(label)
    if edited:
        notes.append(f"check cell(s) of exercise(s) {', '.join(edited)} were edited; the reference checks ran")
    if deleted:
        notes.append(f"check cell(s) of exercise(s) {', '.join(deleted)} were missing; restored from the reference")


def _note_other_cells(nb, graded, used: set[int], notes: list[str]) -> None:
    reference = {cell.source.strip() for cell in graded.cells if cell.cell_type == "code"}
    ignored = [i for i, cell in enumerate(nb.cells, start=1)
               if cell.get("cell_type") == "code" and i not in used and not cell_numbers(cell, "exercises")
               and not cell_numbers(cell, "checks") and cell.get("source", "").strip()
               and cell.get("source", "").strip() not in reference]
    if ignored:
        notes.append(f"{len(ignored)} code cell(s) that are not exercise cells differ from the reference "
                     f"(cells {', '.join(map(str, ignored[:10]))}{'...' if len(ignored) > 10 else ''}); "
                     "they were not run (only exercise cells are graded)")


def sorted_numbers(numbers) -> list[str]:
    return sorted(set(numbers), key=exercise_key)
