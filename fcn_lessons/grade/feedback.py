"""Feedback pages (one Markdown page per student and notebook) and the run's summary.

A page lists each exercise, passed or not, with the check's own message (the case that
failed, what was expected, what came back, a hint) and the grader's notes. It shows
messages, never the checks' code; a message describes one failing case drawn with the
grader's seed, so re-grade resubmissions with a new ``--seed``.

The summary gives per-exercise pass rates, the score distribution (a small plot saved
beside the gradebook) and the submissions that need a human look.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from pathlib import Path

from fcn_lessons.grade.gradebook import atomic_write, format_points
from fcn_lessons.grade.reference import exercise_key

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _fenced(text: str) -> str:
    text = _ANSI.sub("", text).rstrip()
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def page(row: dict) -> str:
    """The Markdown feedback of one gradebook row (with its ``results``: exercise -> {passed, message})."""
    lines = [f"# {row['notebook']}: feedback for {row['student']}", "",
             f"**Score: {format_points(row['score'])} / {format_points(row['max_score'])}** "
             f"(status: {row['status']})", ""]
    results = row.get("results", {})
    if results:
        lines += ["| exercise | result | points |", "|---|---|---|"]
        for number in sorted(results, key=exercise_key):
            result = results[number]
            mark = "passed" if result.get("passed") else "not passed"
            lines.append(f"| {number} | {mark} | {format_points(row['points'].get(number, 0))} |")
        lines.append("")
        for number in sorted(results, key=exercise_key):
            message = results[number].get("message")
            if not results[number].get("passed") and message:
                lines += [f"## Exercise {number}", "", _fenced(message), ""]
    notes = row.get("notes", [])
    if notes:
        lines += ["## Notes from the grader", ""] + [f"- {note}" for note in notes] + [""]
    lines += ["Only your exercise cells were graded; every other cell, the checks included, came from the "
              "course's reference notebook, and the checks drew new random cases.", ""]
    return "\n".join(lines)


def write_pages(folder, rows: list[dict]) -> list[Path]:
    written = []
    for row in rows:
        path = Path(folder) / row["student"] / f"{row['notebook']}.md"
        atomic_write(path, page(row))
        written.append(path)
    return written


def needs_a_look(row: dict) -> str | None:
    """Why a human should look at this row, or None."""
    reasons = []
    if row["status"] != "graded":
        reasons.append(row["status"])
    notes = row.get("notes", [])
    if any("FLAG" in n for n in notes):
        reasons.append("flagged code")
    if any(word in n for n in notes for word in ("were edited", "were missing", "duplicated", "reordered",
                                                 "retagged", "no answer cell", "lost its metadata")):
        reasons.append("changed cells")
    return ", ".join(reasons) or None


def summary(rows: list[dict], exercise_numbers, *, plot_path=None) -> str:
    """A Markdown summary of a graded class; saves the score histogram at ``plot_path`` when given."""
    by_lesson: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["status"] != "not a lesson":  # listed under "needs a human look" only
            by_lesson[row["notebook"]].append(row)
    statuses = defaultdict(int)
    for row in rows:
        statuses[row["status"]] += 1
    lines = [f"# Grading summary: {len(rows)} notebooks from {len({r['student'] for r in rows})} students", "",
             "Statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())), ""]
    lines += ["| notebook | exercise | passed | of | rate |", "|---|---|---|---|---|"]
    for notebook in sorted(by_lesson):
        lesson_rows = by_lesson[notebook]
        numbers = sorted({n for r in lesson_rows for n in r.get("points", {})}, key=exercise_key)
        for number in numbers:
            passed = sum(1 for r in lesson_rows if (r["points"].get(number) or 0) > 0)
            lines.append(f"| {notebook} | {number} | {passed} | {len(lesson_rows)} | "
                         f"{passed / len(lesson_rows):.0%} |")
    lines += ["", "| notebook | mean score | median | max_score |", "|---|---|---|---|"]
    for notebook in sorted(by_lesson):
        scores = sorted(float(r["score"]) for r in by_lesson[notebook])
        top = max(float(r["max_score"]) for r in by_lesson[notebook])
        median = statistics.median(scores)
        lines.append(f"| {notebook} | {sum(scores) / len(scores):.2f} | {median:g} | {format_points(top)} |")
    look = [(r, needs_a_look(r)) for r in sorted(rows, key=lambda r: (r["student"], r["notebook"]))]
    look = [(r, why) for r, why in look if why]
    lines += ["", f"## Needs a human look ({len(look)})", ""]
    lines += [f"- {r['student']}/{r['notebook']}: {why}" for r, why in look] or ["- none"]
    if plot_path is not None and rows:
        score_plot(rows, plot_path)
        lines += ["", f"Score distribution: {Path(plot_path).name}"]
    return "\n".join(lines) + "\n"


def score_plot(rows: list[dict], path) -> None:
    """A histogram of score / max_score per notebook, saved as PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    by_lesson: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if float(row["max_score"]) > 0:
            by_lesson[row["notebook"]].append(float(row["score"]) / float(row["max_score"]))
    fig = Figure(figsize=(6, 3.2), dpi=100)
    ax = fig.subplots()
    bins = [i / 10 for i in range(11)]
    if by_lesson:
        ax.hist(list(by_lesson.values()), bins=bins, label=list(by_lesson), stacked=True)
        ax.legend(fontsize=7)
    ax.set_xlabel("score / max_score")
    ax.set_ylabel("notebooks")
    ax.set_title("Score distribution")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
