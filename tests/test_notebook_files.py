"""The notebooks as files: paired, executed where they must be, built to the course's rules."""

import re
from pathlib import Path

import nbformat
import pytest

from fcn_lessons import notebooks

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
ALL = LESSONS + SOLUTIONS + EXERCISES


def _ids(paths):
    return [f"{p.parent.name}/{p.name}" for p in paths]


def test_there_are_notebooks():
    assert LESSONS and SOLUTIONS and EXERCISES


@pytest.mark.parametrize("folder", notebooks.NOTEBOOK_DIRS)
def test_every_pair_is_in_sync(folder):
    problems = notebooks.pair_problems(ROOT / folder)
    assert not problems, "\n".join(problems)


def test_every_lesson_has_exercises_and_solutions_of_the_same_name():
    names = {folder: {p.name for p in (ROOT / folder).glob("[0-9][0-9]_*.ipynb")}
             for folder in notebooks.NOTEBOOK_DIRS}
    assert names["notebooks"] == names["solutions"] == names["exercises"]


@pytest.mark.parametrize("path", ALL, ids=_ids(ALL))
def test_first_code_cell_sets_up_the_course(path):
    nb = nbformat.read(path, as_version=4)
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert "google.colab" in first.source, "the first code cell installs the package on Colab"
    assert re.search(r"fcn_lessons\.setup\(seed=\d+\)", first.source), "and calls fcn_lessons.setup(seed=...)"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=_ids(LESSONS + SOLUTIONS))
def test_lessons_and_solutions_are_stored_executed(path):
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    unrun = [i for i, cell in enumerate(code, 1) if cell.execution_count is None]
    assert not unrun, f"code cells {unrun} have no execution count: nbval would not compare them; run `make notebooks`"
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), "cells were not run top to bottom in one kernel"
    errors = [i for i, cell in enumerate(code, 1) if any(o.output_type == "error" for o in cell.outputs)]
    assert not errors, f"code cells {errors} stored an error"


@pytest.mark.parametrize("path", EXERCISES, ids=_ids(EXERCISES))
def test_exercises_are_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert nb.metadata["fcn_lessons"]["lesson"] == path.name[:2]


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.py")) + sorted((ROOT / "solutions").glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_quick_mode_is_read_through_the_helper_only(path):
    text = path.read_text(encoding="utf-8")
    assert "FCN_LESSONS_QUICK" not in text, "use fcn_lessons.by_mode(full=..., quick=...) or quick_mode()"


@pytest.mark.parametrize("path", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_every_exercise_cell_is_followed_by_a_check(path):
    nb = nbformat.read(path, as_version=4)
    tags = [cell.metadata.get("tags", []) for cell in nb.cells if cell.cell_type == "code"]
    for i, cell_tags in enumerate(tags):
        if "exercise" in cell_tags:
            assert i + 1 < len(tags) and "check" in tags[i + 1], f"exercise cell {i + 1} has no check cell after it"


def test_a_malformed_notebook_is_named_in_the_error(tmp_path):
    broken = tmp_path / "99_broken.ipynb"
    broken.write_text('{"cells": [ {"cell_type": "code"', encoding="utf-8")
    (tmp_path / "jupytext.toml").write_text('formats = "ipynb,py:percent"\n', encoding="utf-8")
    with pytest.raises(notebooks.NotebookError, match="99_broken.ipynb is not a valid notebook"):
        notebooks.read(broken)
    with pytest.raises(notebooks.NotebookError, match="no such notebook file"):
        notebooks.read(tmp_path / "missing.ipynb")


def test_an_out_of_sync_pair_is_reported(tmp_path):
    (tmp_path / "jupytext.toml").write_text((ROOT / "jupytext.toml").read_text(encoding="utf-8"), encoding="utf-8")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    notebooks.write_pair(nb, tmp_path / "01_demo.ipynb")
    assert notebooks.pair_problems(tmp_path) == []
    py = tmp_path / "01_demo.py"
    py.write_text(py.read_text(encoding="utf-8").replace("x = 1", "x = 2"), encoding="utf-8")
    problems = notebooks.pair_problems(tmp_path)
    assert len(problems) == 1 and "01_demo.py differs from" in problems[0] and "+x = 2" in problems[0]
    (tmp_path / "01_demo.ipynb").unlink()
    assert "01_demo.ipynb is missing" in notebooks.pair_problems(tmp_path)[0]


@pytest.mark.parametrize("path", ALL, ids=_ids(ALL))
def test_every_notebook_follows_the_course_conventions(path):
    nb = nbformat.read(path, as_version=4)
    relative = path.relative_to(ROOT)
    first_markdown = next(cell for cell in nb.cells if cell.cell_type == "markdown")
    assert first_markdown.source.startswith(notebooks.colab_badge(relative) + "\n"), "run `make notebooks`"
    first_code = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert notebooks.install_url() in first_code.source
    markers = [i for i, cell in enumerate(nb.cells, 1) if cell.cell_type == "code" and "# NBVAL_" in cell.source]
    assert not markers, f"cells {markers}: use the cell tag {notebooks.IGNORE_OUTPUT_TAG!r}, not a comment learners read"


def test_conventions_are_applied_once_and_follow_the_repository(monkeypatch):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell('# NBVAL_IGNORE_OUTPUT\npip("git+https://github.com/old/name")'),
    ])
    notebooks.apply_conventions(nb, "notebooks/05_x.py")
    once = nbformat.writes(nb)
    notebooks.apply_conventions(nb, "notebooks/05_x.py")
    assert nbformat.writes(nb) == once
    assert nb.cells[0].source.startswith("[![Open In Colab]") and "blob/main/notebooks/05_x.ipynb" in nb.cells[0].source
    assert nb.cells[0].source.endswith("\n\n# Title")
    assert nb.cells[1].source == f'pip("{notebooks.install_url()}")'
    assert nb.cells[1].metadata["tags"] == [notebooks.IGNORE_OUTPUT_TAG]
    monkeypatch.setattr(notebooks, "REPOSITORY", "someone/fork")
    notebooks.apply_conventions(nb, "notebooks/05_x.py")
    assert "github/someone/fork/blob/main/notebooks/05_x.ipynb" in nb.cells[0].source
    assert nb.cells[0].source.count("Open In Colab") == 1
    assert "git+https://github.com/someone/fork" in nb.cells[1].source


SOLUTION_SOURCES = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("path", SOLUTION_SOURCES, ids=lambda p: p.name)
def test_every_exercise_has_progressive_folded_hints(path):
    from fcn_lessons import exercises

    nb = notebooks.read(path)
    numbers = [n for cell in nb.cells if cell.cell_type == "code"
               for n in exercises.strip_solutions(cell.source, where=str(path))[1]]
    hints = exercises.folded_hints(nb)
    thin = [n for n in numbers if len(hints.get(n, [])) < 2]
    assert not thin, f"exercises {thin} need at least two folded hints (<details><summary>Hint 1 ...)"
    unfolded = [i for i, cell in enumerate(nb.cells, 1) if re.search(r"^\s*# HINT:", cell.source, re.MULTILINE)]
    assert not unfolded, f"cells {unfolded} hold '# HINT:' lines, shown unfolded in the stub: fold them"
