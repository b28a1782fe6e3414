"""Generate ``exercises/`` from ``solutions/`` (``make exercises``).

In a solution notebook, the answer to an exercise sits in a code cell tagged
``exercise``, between marker lines::

    # BEGIN SOLUTION 1.2: turn Flatten + Dense into an H×W convolution
    # HINT: Keras flattens (H, W, C) row by row, channels fastest.
    ...answer code...
    # END SOLUTION

The exercise notebook gets, at the same indentation::

    # Exercise 1.2: turn Flatten + Dense into an H×W convolution
    # Hint: Keras flattens (H, W, C) row by row, channels fastest.
    raise NotImplementedError("Exercise 1.2: turn Flatten + Dense into an H×W convolution")

A block may give its own stub with ``# STUB:`` lines, which replace the ``raise``: a
"predict, then run" question ships ``# STUB: PREDICTION = ...`` so that its check can say
"not done yet" instead of failing on an undefined name.

Hints are progressive and folded: Markdown cells before an exercise hold
``<details><summary>Hint 1 ...</summary> ... </details>`` blocks, which a learner opens
one at a time (:func:`folded_hints` reads them). ``# HINT:`` lines are shown unfolded, in
the stub; prefer folded hints.

Outputs and execution counts are cleared, and the notebook's metadata records the lesson
and its exercises in order (``metadata.fcn_lessons.exercises``), with a fingerprint of
the cells as generated. In the ``.ipynb``, each exercise cell's metadata names its
exercises (``cell.metadata.fcn_lessons.exercises``) and each check cell the exercises it
checks (``...fcn_lessons.checks``: those of the exercise cell before it); JupyterLab keeps
cell metadata when a learner saves, so a grader can match cells by number. Cells tagged ``check`` call ``fcn_lessons.checks``; the grader
always uses the reference check cells, so editing them earns nothing.

Writing never destroys a learner's work: an exercise notebook whose cells no longer
match their fingerprint (edited, or run: it has outputs) is left alone with an error,
unless ``--force`` is given.

Command line::

    python -m fcn_lessons.exercises            # write exercises/ from solutions/
    python -m fcn_lessons.exercises --check    # exit 1 if exercises/ is stale
    python -m fcn_lessons.exercises --force    # overwrite edited exercise notebooks too
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from pathlib import Path

from fcn_lessons import notebooks

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?P<rest>.*)$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
HINT = re.compile(r"^\s*# HINT:\s?(?P<text>.*)$")
STUB = re.compile(r"^\s*# STUB:\s?(?P<code>.*)$")
FOLDED_HINT = re.compile(r"<details>\s*<summary>\s*(?P<summary>Hint\b.*?)</summary>(?P<body>.*?)</details>",
                         re.DOTALL)
TITLE = re.compile(r"^\s+(?P<number>\d+\.\d+):\s*(?P<title>\S.*?)\s*$")
EXERCISE_TAG, CHECK_TAG = "exercise", "check"


class MarkerError(notebooks.NotebookError):
    """A solution notebook's BEGIN/END SOLUTION markers are malformed."""


def _stub(indent: str, number: str, title: str, hints: list[str], stub: list[str]) -> list[str]:
    message = f"Exercise {number}: {title}".replace("\\", "\\\\").replace('"', '\\"')
    lines = [f"{indent}# Exercise {number}: {title}"]
    lines += [f"{indent}# Hint: {hint}" for hint in hints]
    if stub:
        lines += [f"{indent}{code}" for code in stub]
    else:
        lines.append(f'{indent}raise NotImplementedError("{message}")')
    return lines


def strip_solutions(source: str, *, where: str, lesson: str | None = None) -> tuple[str, list[str]]:
    """Replace every marked solution block in ``source`` by a stub.

    Args:
        where: names the notebook and cell in error messages.
        lesson: the lesson number ("01"); exercise numbers must start with it (1.x).

    Returns:
        (new source, exercise numbers found in order).
    """
    out, numbers = [], []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        begin = BEGIN.match(lines[i])
        if not begin:
            if END.match(lines[i]):
                raise MarkerError(f"{where}, line {i + 1}: '# END SOLUTION' without a BEGIN.")
            out.append(lines[i])
            i += 1
            continue
        title = TITLE.match(begin["rest"])
        if not title:
            raise MarkerError(
                f"{where}, line {i + 1}: expected '# BEGIN SOLUTION <lesson>.<n>: <what to do>', "
                f"received {lines[i].strip()!r}."
            )
        number = title["number"]
        if lesson is not None and int(number.split(".")[0]) != int(lesson):
            raise MarkerError(f"{where}, line {i + 1}: exercise {number} in the notebook of lesson {lesson}.")
        hints, stub, j = [], [], i + 1
        while j < len(lines) and not END.match(lines[j]):
            if BEGIN.match(lines[j]):
                raise MarkerError(f"{where}, line {j + 1}: BEGIN SOLUTION inside the block opened on line {i + 1}.")
            hint, code = HINT.match(lines[j]), STUB.match(lines[j])
            if hint:
                hints.append(hint["text"])
            if code:
                stub.append(code["code"])
            j += 1
        if j == len(lines):
            raise MarkerError(f"{where}, line {i + 1}: BEGIN SOLUTION {number} has no '# END SOLUTION'.")
        out += _stub(begin["indent"], number, title["title"], hints, stub)
        numbers.append(number)
        i = j + 1
    return "\n".join(out), numbers


def _lesson_of(path: Path) -> str:
    match = re.match(r"^(\d\d)_", path.name)
    if not match:
        raise MarkerError(f"{path}: solution notebooks are named NN_slug (e.g. 01_conv1x1_is_dense).")
    return match[1]


def make_exercise(solution, path) -> "notebooks.nbformat.NotebookNode":
    """The exercise notebook for the solution notebook ``solution`` read from ``path``."""
    path = Path(path)
    lesson = _lesson_of(path)
    nb = copy.deepcopy(solution)
    seen: list[str] = []
    last_numbers: list[str] = []
    for index, cell in enumerate(nb.cells, start=1):
        tags = cell.get("metadata", {}).get("tags", [])
        where = f"{path}, cell {index}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            source, numbers = strip_solutions(cell.source, where=where, lesson=lesson)
            if numbers and EXERCISE_TAG not in tags:
                raise MarkerError(f"{where}: holds a solution block but is not tagged '{EXERCISE_TAG}'.")
            if EXERCISE_TAG in tags and not numbers:
                raise MarkerError(f"{where}: tagged '{EXERCISE_TAG}' but has no BEGIN/END SOLUTION block.")
            duplicate = set(numbers) & set(seen)
            if duplicate:
                raise MarkerError(f"{where}: exercise {sorted(duplicate)[0]} appears twice in the notebook.")
            seen += numbers
            cell.source = source
            if numbers:  # by number, not position: the grader finds a learner's answer cell by this
                cell.metadata["fcn_lessons"] = {"exercises": numbers}
            elif CHECK_TAG in tags:
                cell.metadata["fcn_lessons"] = {"checks": list(last_numbers)}
            last_numbers = numbers or last_numbers
        elif "# BEGIN SOLUTION" in cell.source:
            raise MarkerError(f"{where}: a {cell.cell_type} cell holds a solution marker.")
        cell.get("metadata", {}).pop("execution", None)
    if not seen:
        raise MarkerError(f"{path}: no exercise found (no cell tagged '{EXERCISE_TAG}').")
    notebooks.apply_conventions(nb, Path("exercises") / path.with_suffix(".ipynb").name)
    nb.metadata["fcn_lessons"] = {"lesson": lesson, "kind": "exercises", "exercises": seen,
                                  "generated_from": f"solutions/{path.stem}.py",
                                  "fingerprint": fingerprint(nb)}
    nb.metadata.pop("widgets", None)
    return nb


def fingerprint(nb) -> str:
    """A hash of the cells' types, tags and sources, and whether any code cell has outputs.

    Recorded in a generated exercise notebook; when the file's cells no longer match it,
    a learner has worked in it.
    """
    cells = [[cell.cell_type, sorted(cell.get("metadata", {}).get("tags", [])), cell.source.strip(),
              bool(cell.get("outputs")) or cell.get("execution_count") is not None]
             for cell in nb.cells]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def learner_edited(path) -> bool:
    """True when the exercise notebook (``.ipynb`` or its ``.py`` twin) at ``path`` holds a learner's work.

    A notebook without a recorded fingerprint (written before fingerprints existed) counts as
    generated only if it has no outputs.
    """
    nb = notebooks.read(path)
    recorded = nb.metadata.get("fcn_lessons", {}).get("fingerprint")
    if recorded is None:
        return any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
    return fingerprint(nb) != recorded


def folded_hints(nb) -> dict[str, list[str]]:
    """{exercise number: the summaries of its folded hints, in order}.

    Hints belong to the next exercise cell after the Markdown cell that holds them.
    """
    found: dict[str, list[str]] = {}
    pending: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            pending += [m["summary"].strip() for m in FOLDED_HINT.finditer(cell.source)]
        elif EXERCISE_TAG in cell.get("metadata", {}).get("tags", []):
            numbers = [TITLE.match(m["rest"])["number"] for line in cell.source.splitlines()
                       if (m := BEGIN.match(line)) and TITLE.match(m["rest"])]
            for number in numbers:
                found[number] = pending
            if numbers:
                pending = []
    return found


def exercise_files(solutions_dir, exercises_dir) -> dict[Path, str]:
    """{exercise file path: its text} for every solution notebook, both twins."""
    files = {}
    for py in sorted(Path(solutions_dir).glob("[0-9][0-9]_*.py")):
        nb = make_exercise(notebooks.read(py), py)
        target = Path(exercises_dir) / py.name
        files[target.with_suffix(".ipynb")] = notebooks.ipynb_text(nb)
        files[target.with_suffix(".py")] = notebooks.to_py(nb, target.with_suffix(".py"))
    return files


def stale(solutions_dir="solutions", exercises_dir="exercises") -> list[str]:
    """Exercise files that differ from what ``solutions/`` generates, or should not exist."""
    expected = exercise_files(solutions_dir, exercises_dir)
    problems = [f"{path} is stale or missing: run `make exercises`." for path, text in expected.items()
                if not path.is_file() or path.read_text(encoding="utf-8") != text]
    extra = {p for p in Path(exercises_dir).glob("*") if p.suffix in (".py", ".ipynb")} - set(expected)
    problems += [f"{p} has no solution notebook in {solutions_dir}/." for p in sorted(extra)]
    return problems


class LearnerWorkError(notebooks.NotebookError):
    """Writing would overwrite an exercise notebook a learner has worked in."""


def write(solutions_dir="solutions", exercises_dir="exercises", *, force: bool = False) -> list[Path]:
    """Write ``exercises/`` from ``solutions/``; returns the files written.

    Refuses (before writing anything) when an existing exercise file holds a learner's work,
    unless ``force``.
    """
    files = exercise_files(solutions_dir, exercises_dir)
    changed = {path: text for path, text in files.items()
               if not path.is_file() or path.read_text(encoding="utf-8") != text}
    if not force:
        edited = sorted(str(path) for path in changed if path.is_file() and learner_edited(path))
        if edited:
            raise LearnerWorkError(
                "these exercise notebooks hold a learner's work (edited or run), so they were not overwritten: "
                + ", ".join(edited) + ". Copy them elsewhere (or commit them on a branch), then run "
                "`python -m fcn_lessons.exercises --force` (or `make exercises FORCE=1`).")
    for path, text in changed.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    return sorted(changed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fcn_lessons.exercises", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--solutions", default="solutions")
    parser.add_argument("--exercises", default="exercises")
    parser.add_argument("--check", action="store_true", help="exit 1 if exercises/ is stale")
    parser.add_argument("--force", action="store_true",
                        help="overwrite exercise notebooks even when a learner has edited or run them")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale(args.solutions, args.exercises)
        print("\n".join(problems) or "exercises/ is up to date")
        return 1 if problems else 0
    try:
        written = write(args.solutions, args.exercises, force=args.force)
    except LearnerWorkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("exercises/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
