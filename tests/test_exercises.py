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
    meta = dict(nb.metadata["fcn_lessons"])
    assert len(meta.pop("fingerprint")) == 16
    assert meta == {"lesson": "01", "kind": "exercises", "exercises": ["1.1"],
                    "generated_from": "solutions/01_demo.py"}


def test_stub_lines_replace_the_raise():
    source = "\n".join(["# BEGIN SOLUTION 3.5: predict the score", "# STUB: PREDICTION = ...",
                        "PREDICTION = 0.5", "# END SOLUTION"])
    stripped, numbers = exercises.strip_solutions(source, where="nb, cell 1", lesson="03")
    assert numbers == ["3.5"]
    assert stripped.splitlines() == ["# Exercise 3.5: predict the score", "PREDICTION = ..."]


def test_folded_hints_belong_to_the_next_exercise():
    hints = nbformat.v4.new_markdown_cell(
        "Try it.\n\n<details><summary>Hint 1: where</summary>\n\nhere\n\n</details>\n"
        "<details>\n<summary>Hint 2: how</summary>\nso\n</details>")
    nb = _notebook(hints, _code(BLOCK, ["exercise"]), _code("checks.x(f)", ["check"]),
                   _code(BLOCK.replace("1.1", "1.2"), ["exercise"]))
    assert exercises.folded_hints(nb) == {"1.1": ["Hint 1: where", "Hint 2: how"], "1.2": []}


def _generated(tmp_path):
    solutions, generated = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    (tmp_path / "jupytext.toml").write_text((ROOT / "jupytext.toml").read_text(encoding="utf-8"), encoding="utf-8")
    notebooks.write_pair(_notebook(_code(BLOCK, ["exercise"])), solutions / "01_demo.ipynb")
    exercises.write(solutions, generated)
    return solutions, generated


@pytest.mark.parametrize("suffix", [".py", ".ipynb"])
def test_a_learners_work_is_never_overwritten(tmp_path, suffix):
    solutions, generated = _generated(tmp_path)
    target = generated / f"01_demo{suffix}"
    nb = notebooks.read(target)
    nb.cells[0].source = nb.cells[0].source.replace("raise NotImplementedError", "return 3  #")
    if suffix == ".ipynb":
        nb.cells[0].outputs, nb.cells[0].execution_count = [nbformat.v4.new_output("stream", text="3\n")], 1
        target.write_text(notebooks.ipynb_text(nb), encoding="utf-8")
    else:
        target.write_text(notebooks.to_py(nb, target), encoding="utf-8")
    learner_text = target.read_text(encoding="utf-8")
    assert exercises.learner_edited(target)
    with pytest.raises(exercises.LearnerWorkError, match=f"01_demo{suffix}.*--force"):
        exercises.write(solutions, generated)
    assert target.read_text(encoding="utf-8") == learner_text
    assert exercises.main(["--solutions", str(solutions), "--exercises", str(generated)]) == 1
    assert target.read_text(encoding="utf-8") == learner_text
    assert exercises.write(solutions, generated, force=True) == [target]
    assert exercises.stale(solutions, generated) == []


def test_a_stale_generated_notebook_is_rewritten(tmp_path):
    solutions, generated = _generated(tmp_path)
    notebooks.write_pair(_notebook(_code(BLOCK.replace("1.1: a", "1.1: triple"), ["exercise"])), solutions / "01_demo.ipynb")
    assert not exercises.learner_edited(generated / "01_demo.py")
    assert len(exercises.write(solutions, generated)) == 2
    assert "triple" in (generated / "01_demo.py").read_text(encoding="utf-8")


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
            assert errors[0].ename == "NotDone", (index, errors[0].ename, errors[0].evalue)
            assert errors[0].evalue.startswith("Exercise ") and "is not done yet" in errors[0].evalue
            assert errors[0].traceback == [errors[0].evalue], "a stub shows one line, not a traceback"
            checked += 1
        else:
            assert not errors, f"cell {index} raised {errors[0].ename}: {errors[0].evalue}"
    assert checked >= len(nb.metadata["fcn_lessons"]["exercises"]) and next(expected_numbers, None)


def test_exercise_and_check_cells_are_labelled_by_number():
    nb = exercises.make_exercise(_notebook(_code(BLOCK, ["exercise"]), _code("checks.a(f)", ["check"]),
                                           _code("x = 2"), _code(BLOCK.replace("1.1", "1.2"), ["exercise"]),
                                           _code("checks.b(g)", ["check"])), Path("solutions/01_demo.py"))
    assert [cell.metadata.get("fcn_lessons") for cell in nb.cells] == [
        {"exercises": ["1.1"]}, {"checks": ["1.1"]}, None, {"exercises": ["1.2"]}, {"checks": ["1.2"]}]
