"""The gradebook CSV, its state file (cache, seed), and ``merge``.

Columns, exactly: ``student``, ``notebook`` (the lesson slug), one per exercise number
(the points earned; blank where that notebook has no such exercise), ``score``,
``max_score``, ``status``, ``notes``. Text that a spreadsheet would read as a formula
(starting with ``=``, ``+``, ``-``, ``@``) is prefixed with ``'``.

Beside ``GRADEBOOK.csv`` the grader keeps ``GRADEBOOK.csv.state.json``: the grading seed,
each row with the hash it was graded under (so a second run re-grades only changed
submissions), the feedback behind each row, and the hash of the CSV as written, so a
gradebook edited by hand is never silently overwritten. Keep it private: it holds the seed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

from fcn_lessons.grade.reference import exercise_key

FIRST, LAST = ["student", "notebook"], ["score", "max_score", "status", "notes"]
STATUSES = ("graded", "timeout", "crashed", "invalid", "not a lesson")
STATE_VERSION = 1


class GradebookError(ValueError):
    """A gradebook cannot be read, merged or written as asked."""


def state_path(gradebook) -> Path:
    gradebook = Path(gradebook)
    return gradebook.with_name(gradebook.name + ".state.json")


def _safe(text: str) -> str:
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def format_points(value) -> str:
    if value is None or value == "":
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def columns(exercise_numbers) -> list[str]:
    return FIRST + sorted(set(exercise_numbers), key=exercise_key) + LAST


def csv_text(rows: list[dict], exercise_numbers) -> str:
    """The gradebook as text; ``rows`` hold student, notebook, points (dict), score, max_score, status, notes."""
    header = columns(exercise_numbers)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in sorted(rows, key=lambda r: (r["student"], r["notebook"])):
        points = row.get("points", {})
        writer.writerow([_safe(row["student"]), _safe(row["notebook"]),
                         *(format_points(points.get(n)) for n in header[2:-4]),
                         format_points(row["score"]), format_points(row["max_score"]), row["status"],
                         _safe("; ".join(row.get("notes", [])))])
    return out.getvalue()


def atomic_write(path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_state(gradebook) -> dict | None:
    path = state_path(gradebook)
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise GradebookError(f"{path} is not valid JSON ({err}): move it away to re-grade from scratch.") from err
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise GradebookError(f"{path} was written by another version of the grader: move it away to re-grade.")
    return state


def check_writable(gradebook, state: dict | None, *, force: bool) -> str | None:
    """Refuse to overwrite a gradebook this grader did not write as it is now; returns a backup path under --force."""
    gradebook = Path(gradebook)
    if not gradebook.exists():
        return None
    current = gradebook.read_bytes().decode("utf-8", errors="replace")
    ours = state is not None and state.get("csv_sha256") == sha256_text(current)
    if ours:
        return None
    why = ("it has no state file beside it, so this grader did not write it" if state is None
           else "it was edited after this grader wrote it")
    if not force:
        raise GradebookError(
            f"{gradebook} exists and {why}: it was not overwritten. Choose another --out, or pass --force to "
            f"re-grade everything and replace it (the old file is kept as {gradebook.name}.bak).")
    backup = gradebook.with_name(gradebook.name + ".bak")
    n = 1
    while backup.exists():
        backup = gradebook.with_name(f"{gradebook.name}.bak{n}")
        n += 1
    gradebook.replace(backup)
    return str(backup)


def read_csv(path) -> tuple[list[dict], list[str]]:
    """Rows (dicts of strings, with ``points`` and ``notes`` parsed) and the exercise columns of a gradebook."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise GradebookError(f"cannot read gradebook {path}: {err}") from err
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise GradebookError(f"{path} is empty: expected a gradebook written by the grader.") from None
    if header[:2] != FIRST or header[-4:] != LAST:
        raise GradebookError(f"{path} is not a gradebook of this grader: expected columns "
                             f"{', '.join(FIRST)}, <exercises>, {', '.join(LAST)}; received {', '.join(header)}.")
    numbers = header[2:-4]
    rows = []
    for line, values in enumerate(reader, start=2):
        if len(values) != len(header):
            raise GradebookError(f"{path}, line {line}: {len(values)} fields, expected {len(header)}.")
        record = dict(zip(header, values))
        rows.append({"student": record["student"], "notebook": record["notebook"],
                     "points": {n: float(record[n]) for n in numbers if record[n] != ""},
                     "score": float(record["score"] or 0), "max_score": float(record["max_score"] or 0),
                     "status": record["status"], "notes": [record["notes"]] if record["notes"] else []})
    return rows, numbers


def merge(inputs, out, *, force: bool = False) -> tuple[list[dict], list[str]]:
    """Join the gradebooks ``inputs`` (e.g. one per shard) into ``out``; returns its rows and exercise columns.

    A (student, notebook) in two inputs must have identical rows; ``out`` is never overwritten unless ``force``.
    """
    if not inputs:
        raise GradebookError("merge needs at least one gradebook.")
    out = Path(out)
    if out.exists() and not force:
        raise GradebookError(f"{out} exists: it was not overwritten. Pass --force to replace it.")
    merged: dict[tuple[str, str], tuple[dict, str]] = {}
    numbers: set[str] = set()
    for path in inputs:
        if Path(path).resolve() == out.resolve():
            raise GradebookError(f"{out} is both an input and the output of merge.")
        rows, cols = read_csv(path)
        numbers |= set(cols)
        for row in rows:
            key = (row["student"], row["notebook"])
            if key in merged and merged[key][0] != row:
                raise GradebookError(f"{key[0]}/{key[1]} is in both {merged[key][1]} and {path} with different "
                                     "grades: shards must not overlap.")
            merged[key] = (row, str(path))
    rows = [row for row, _ in merged.values()]
    for row in rows:  # notes were read back as one string: keep them so
        row["notes"] = row["notes"]
    atomic_write(out, csv_text(rows, numbers))
    return rows, sorted(numbers, key=exercise_key)
