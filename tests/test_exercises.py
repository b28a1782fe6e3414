"""exercises/ is generated from solutions/, and every shipped exercise fails at its checks."""

from pathlib import Path

import nbformat
import pytest

from fcn_lessons import exercises, notebooks

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))


def test_exercises_are_up_to_date():
    problems = exercises.stale(ROOT / "solutions", ROOT / "exercises")
    assert not problems, "\n".join(problems)


def test_solution_block_becomes_a_stub_with_hints():
    source = "\n".join([
        "def f(x):",
        '    """Doc."""',
        "    # BEGIN SOLUTION 2.3: double x",
        "    # HINT: multiply by two",
        "    # HINT: or add x to itself",
        "    return 2 * x",
        "    # END SOLUTION",
        "",
        "y = 1",
    ])
    stripped, numbers = exercises.strip_solutions(source, where="nb, cell 1", lesson="02")
    assert numbers == ["2.3"]
    assert stripped.splitlines() == [
        "def f(x):",
        '    """Doc."""',
        "    # Exercise 2.3: double x",
        "    # Hint: multiply by two",
        "    # Hint: or add x to itself",
        '    raise NotImplementedError("Exercise 2.3: double x")',
        "",
        "y = 1",
    ]
    namespace = {}
    exec(stripped, namespace)
    with pytest.raises(NotImplementedError, match="Exercise 2.3: double x"):
        namespace["f"](1)


def test_quotes_in_titles_are_escaped():
    stripped, _ = exercises.strip_solutions('# BEGIN SOLUTION 1.1: say "hi"\npass\n# END SOLUTION',
                                            where="nb", lesson="01")
    namespace = {}
    with pytest.raises(NotImplementedError, match='Exercise 1.1: say "hi"'):
        exec(stripped, namespace)


@pytest.mark.parametrize("source, match", [
    ("# BEGIN SOLUTION 1.1: a\nx = 1\n", "has no '# END SOLUTION'"),
    ("x = 1\n# END SOLUTION\n", "without a BEGIN"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "expected '# BEGIN SOLUTION <lesson>.<n>: <what to do>'"),
    ("# BEGIN SOLUTION 1.1: a\n# BEGIN SOLUTION 1.2: b\n# END SOLUTION\n", "inside the block opened on line 1"),
    ("# BEGIN SOLUTION 2.1: a\nx = 1\n# END SOLUTION\n", "exercise 2.1 in the notebook of lesson 01"),
])
def test_malformed_markers_name_the_place(source, match):
    with pytest.raises(exercises.MarkerError, match=match) as failure:
        exercises.strip_solutions(source, where="solutions/01_x.py, cell 4", lesson="01")
    assert "solutions/01_x.py, cell 4, line" in str(failure.value)


def _notebook(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


def _code(source, tags=()):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    return cell


BLOCK = "# BEGIN SOLUTION 1.1: a\nx = 1\n# END SOLUTION"


@pytest.mark.parametrize("nb, match", [
    (_notebook(_code(BLOCK)), "holds a solution block but is not tagged 'exercise'"),
    (_notebook(_code("x = 1", ["exercise"])), "tagged 'exercise' but has no BEGIN/END SOLUTION block"),
    (_notebook(_code(BLOCK, ["exercise"]), _code(BLOCK, ["exercise"])), "exercise 1.1 appears twice"),
    (_notebook(_code("x = 1")), "no exercise found"),
    (_notebook(nbformat.v4.new_markdown_cell(BLOCK), _code(BLOCK, ["exercise"])), "a markdown cell holds a solution marker"),
])
def test_malformed_solution_notebooks_are_refused(nb, match):
    with pytest.raises(exercises.MarkerError, match=match):
        exercises.make_exercise(nb, Path("solutions/01_demo.py"))


def test_exercise_notebook_records_its_lesson_and_drops_outputs():
    cell = _code(BLOCK, ["exercise"])
    cell.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    cell.execution_count = 3
    nb = exercises.make_exercise(_notebook(cell), Path("solutions/01_demo.py"))
    assert nb.cells[0].outputs == [] and nb.cells[0].execution_count is None
    assert nb.metadata["fcn_lessons"] == {"lesson": "01", "kind": "exercises", "exercises": ["1.1"],
                                          "generated_from": "solutions/01_demo.py"}


def test_exercises_folder_with_an_orphan_is_stale(tmp_path):
    solutions, generated = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    (tmp_path / "jupytext.toml").write_text((ROOT / "jupytext.toml").read_text(encoding="utf-8"), encoding="utf-8")
    notebooks.write_pair(_notebook(_code(BLOCK, ["exercise"])), solutions / "01_demo.ipynb")
    assert len(exercises.stale(solutions, generated)) == 2  # both twins missing
    exercises.write(solutions, generated)
    assert exercises.stale(solutions, generated) == []
    (generated / "02_orphan.py").write_text("", encoding="utf-8")
    assert exercises.stale(solutions, generated) == [f"{generated / '02_orphan.py'} has no solution notebook in {solutions}/."]


@pytest.mark.parametrize("path", EXERCISES, ids=[p.name for p in EXERCISES])
def test_shipped_exercise_fails_at_each_check_and_nowhere_else(path):
    nb = notebooks.execute(nbformat.read(path, as_version=4), path.parent,
                           kernel_name=notebooks.CURRENT_ENV_KERNEL, allow_errors=True, quick=True)
    expected_numbers = iter(nb.metadata["fcn_lessons"]["exercises"])
    checked = 0
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "check" in cell.metadata.get("tags", []):
            assert errors, f"check cell {index} passed on the stub: a check that cannot fail"
            assert errors[0].ename == "NotImplementedError", (index, errors[0].ename, errors[0].evalue)
            assert errors[0].evalue.startswith("Exercise ")
            checked += 1
        else:
            assert not errors, f"cell {index} raised {errors[0].ename}: {errors[0].evalue}"
    assert checked >= len(nb.metadata["fcn_lessons"]["exercises"]) and next(expected_numbers, None)
