"""Unit tests of the grader's parts (no kernel runs): reading and assembling submissions,
the flags, points, the gradebook and merge, shards, the command line, the limits and the
sandbox's isolation. The whole pipeline against a hostile class is tests/test_grade_class.py.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from fcn_lessons.grade import assemble, fixtures, gradebook, scan
from fcn_lessons.grade import feedback as feedback_pages
from fcn_lessons.grade.__main__ import main
from fcn_lessons.grade.core import GradingError, Submission, discover, grade_class, parse_shard, shard_of
from fcn_lessons.grade.reference import ReferenceProblem, _points, cell_numbers, load_lesson, load_lessons
from fcn_lessons.grade.sandbox import BWRAP_ENV, GIB, Limits, Sandbox

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
LESSON = "00_setup_and_task"


@pytest.fixture(scope="module")
def lessons():
    return load_lessons(SOLUTIONS)


@pytest.fixture(scope="module")
def lesson(lessons):
    return lessons[LESSON]


def _exercise_sources(nb) -> dict[str, str]:
    return {cell_numbers(c, "exercises")[0]: c.source for c in nb.cells if cell_numbers(c, "exercises")}


def _check_sources(nb) -> dict[str, str]:
    return {cell_numbers(c, "checks")[0]: c.source for c in nb.cells if cell_numbers(c, "checks")}


# -- reading -----------------------------------------------------------------------------

@pytest.mark.parametrize("data, why", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "not a Jupyter notebook"),
    (b'{"cells": [], "nbformat": 2, "nbformat_minor": 0, "metadata": {}}', "format 2"),
    (b'{"cells": [], "nbformat": 5, "nbformat_minor": 0, "metadata": {}}', "format 5"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"cells": [{"cell_type": "code", "source": 3}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
     "not a readable notebook"),
    (b'{"cells": [{"cell_type": "code", "source": 3, "metadata": {}, "outputs": [], "execution_count": null}], '
     b'"nbformat": 4, "nbformat_minor": 4, "metadata": {}}', "malformed"),
])
def test_unreadable_files_are_invalid_with_the_reason(data, why):
    nb, notes = assemble.read_notebook(data)
    assert nb is None and why in notes[0]


def test_oversized_files_are_refused():
    nb, notes = assemble.read_notebook(b" " * (assemble.MAX_NOTEBOOK_BYTES + 1))
    assert nb is None and "limit" in notes[0]


def test_format_3_is_converted_and_noted(lesson):
    text = nbformat.writes(nbformat.convert(fixtures.submission(lesson), 3), version=3)
    nb, notes = assemble.read_notebook(("\ufeff" + text).encode())  # a byte-order mark is accepted too
    assert nb is not None and nb.nbformat == 4 and "format 3" in notes[0]
    assert _exercise_sources(nb) == _exercise_sources(fixtures.submission(lesson))


# -- assembling ----------------------------------------------------------------------------

def test_a_correct_submission_keeps_its_answers_and_the_reference_checks(lessons, lesson):
    sub = fixtures.submission(lesson)
    built = assemble.assemble(sub, LESSON, lessons)
    assert built.status is None and built.notes == [] and built.flags == {}
    assert _exercise_sources(built.notebook) == fixtures.answers(lesson)
    assert _check_sources(built.notebook) == _check_sources(lesson.reference)
    roles = [r for r, _ in built.roles]
    assert roles.count("exercise") == len(lesson.exercises) and roles.count("check") >= len(lesson.exercises)
    assert all(not c.get("outputs") for c in built.notebook.cells if c.cell_type == "code")


def test_every_lesson_assembles_its_correct_submission_without_notes_or_flags(lessons):
    for slug, one in lessons.items():
        built = assemble.assemble(fixtures.submission(one), slug, lessons)
        assert built.status is None and built.notes == [] and built.flags == {}, (slug, built.notes)


def test_edited_checks_and_other_cells_never_reach_the_graded_notebook(lessons, lesson):
    sub = fixtures.submission(lesson)
    for cell in sub.cells:
        if cell_numbers(cell, "checks"):
            cell.source = "print('passed')"
    sub.cells.insert(2, nbformat.v4.new_code_cell("import fcn_lessons.checks as c; c.check = None"))
    built = assemble.assemble(sub, LESSON, lessons)
    assert _check_sources(built.notebook) == _check_sources(lesson.reference)
    assert all("print('passed')" not in c.source and "c.check = None" not in c.source for c in built.notebook.cells)
    assert any("were edited" in n for n in built.notes)
    assert any("not run (only exercise cells are graded)" in n for n in built.notes)


def test_a_duplicated_cell_grades_the_last_edited_copy(lessons, lesson):
    sub = fixtures.submission(lesson, solved=[])
    first = lesson.exercises[0]
    index = next(i for i, c in enumerate(sub.cells) if cell_numbers(c, "exercises") == [first])
    answer = copy.deepcopy(sub.cells[index])
    answer.source = fixtures.answers(lesson)[first]
    sub.cells.insert(index + 1, answer)
    built = assemble.assemble(sub, LESSON, lessons)
    assert _exercise_sources(built.notebook)[first] == fixtures.answers(lesson)[first]
    assert any("duplicated" in n for n in built.notes)


def test_a_cell_without_metadata_is_found_by_its_stub_comment(lessons, lesson):
    sub = fixtures.submission(lesson)
    first = lesson.exercises[0]
    cell = next(c for c in sub.cells if cell_numbers(c, "exercises") == [first])
    cell.metadata = {}
    assert f"# Exercise {first}:" in cell.source
    built = assemble.assemble(sub, LESSON, lessons)
    assert _exercise_sources(built.notebook)[first] == fixtures.answers(lesson)[first]
    assert any("lost its metadata" in n for n in built.notes)


def test_a_deleted_or_retyped_exercise_cell_leaves_the_stub(lessons, lesson):
    sub = fixtures.submission(lesson)
    first, second = lesson.exercises[:2]
    sub.cells = [c for c in sub.cells if cell_numbers(c, "exercises") != [first]]
    retyped = next(c for c in sub.cells if cell_numbers(c, "exercises") == [second])
    retyped.cell_type = "markdown"
    retyped.pop("outputs", None)
    retyped.pop("execution_count", None)
    built = assemble.assemble(sub, LESSON, lessons)
    stubs = _exercise_sources(lesson.reference)
    assert _exercise_sources(built.notebook)[first] == stubs[first]
    assert _exercise_sources(built.notebook)[second] == stubs[second]
    assert any(f"exercise {first}: no answer cell found" in n for n in built.notes)
    assert any(f"exercise {second}: cell" in n and "markdown" in n for n in built.notes)


def test_another_lessons_notebook_is_invalid_and_a_stray_name_is_not_a_lesson(lessons):
    slugs = list(lessons)
    other = fixtures.submission(lessons[slugs[1]])
    built = assemble.assemble(other, slugs[0], lessons)
    assert built.status == assemble.INVALID and slugs[1] in built.notes[0]
    del other.metadata["fcn_lessons"]  # no recorded lesson: its cells' numbers still tell
    built = assemble.assemble(other, slugs[0], lessons)
    assert built.status == assemble.INVALID and "exercise cells are those of lesson" in built.notes[0]
    built = assemble.assemble(other, "my_homework", lessons)
    assert built.status == assemble.NOT_A_LESSON


def test_no_recorded_lesson_is_noted_and_graded(lessons, lesson):
    sub = fixtures.submission(lesson)
    del sub.metadata["fcn_lessons"]
    built = assemble.assemble(sub, LESSON, lessons)
    assert built.status is None and any("records no lesson" in n for n in built.notes)


# -- flags ---------------------------------------------------------------------------------

def test_no_reference_answer_is_flagged(lessons):
    for slug, one in lessons.items():
        module_names = assemble._module_names(one.reference)
        for number, source in fixtures.answers(one).items():
            assert scan.flags(source, allowed_modules=one.allowed_modules.get(number, set()),
                              module_names=module_names) == [], (slug, number)


@pytest.mark.parametrize("source, fragment", [
    ("checks.check_mean_iou = lambda f: None", "assigns to checks.check_mean_iou"),
    ("import fcn_lessons.checks as c\nc.check_x = print", "uses fcn_lessons.checks"),
    ("np.isclose = lambda *a, **k: True", "assigns to np.isclose"),
    ("import sys\nsys.modules['fcn_lessons.checks'] = None", "sys.modules"),
    ("import builtins\nbuiltins.print = None", "builtins"),
    ("get_ipython().set_custom_exc((Exception,), lambda *a: None)", "IPython kernel"),
    ("setattr(checks, 'check_x', None)", "setattr"),
    ("from fcn_lessons.metrics import confusion_matrix", "uses fcn_lessons.metrics, which the reference"),
    ("import os\nprint(os.environ['FCN_LESSONS_CHECK_SEED'])", "seed"),
    ("open('../solutions/00_setup_and_task.py').read()", "solutions folder"),
    ("import socket", "network"),
    ("import os\nos.fork()", "forks"),
    ("def f(:\n    checks.check_x = 1", "checks.*"),  # does not parse: the text is searched
])
def test_reaching_into_the_grading_is_flagged(source, fragment):
    found = scan.flags(source, module_names={"np", "checks", "fcn_lessons"})
    assert any(fragment in f for f in found), found


# -- points --------------------------------------------------------------------------------

class _FakeSolution:
    def __init__(self, points):
        self.metadata = {"fcn_lessons": {"points": points}}


def test_points_default_to_one_and_follow_the_metadata():
    assert _points(_FakeSolution({}), ["0.1", "0.2"], Path("s.py")) == {"0.1": 1, "0.2": 1}
    assert _points(_FakeSolution({"0.2": 2.5}), ["0.1", "0.2"], Path("s.py")) == {"0.1": 1, "0.2": 2.5}


@pytest.mark.parametrize("points, fragment", [
    ({"9.9": 1}, "not exercises of this notebook"), ({"0.1": 0}, "positive number"),
    ({"0.1": True}, "positive number"), ({"0.1": "2"}, "positive number"), ([1], "must map"),
])
def test_bad_points_metadata_is_refused_naming_the_file(points, fragment):
    with pytest.raises(ReferenceProblem, match=fragment) as err:
        _points(_FakeSolution(points), ["0.1"], Path("solutions/00_x.py"))
    assert "solutions/00_x.py" in str(err.value)


def test_points_set_in_a_solutions_jupytext_header_reach_the_lesson(tmp_path):
    (tmp_path / "jupytext.toml").write_text((ROOT / "jupytext.toml").read_text())
    (tmp_path / "solutions").mkdir()
    text = (SOLUTIONS / f"{LESSON}.py").read_text(encoding="utf-8")
    first = load_lesson(SOLUTIONS / f"{LESSON}.py").exercises[0]
    header = f"# jupyter:\n#   fcn_lessons:\n#     points:\n#       '{first}': 3\n"
    assert text.startswith("# ---\n# jupyter:\n")
    (tmp_path / "solutions" / f"{LESSON}.py").write_text(text.replace("# jupyter:\n", header, 1), encoding="utf-8")
    one = load_lesson(tmp_path / "solutions" / f"{LESSON}.py")
    assert one.points[first] == 3 and one.max_score == 3 + len(one.exercises) - 1


# -- the gradebook -------------------------------------------------------------------------

def _row(student, notebook, points, status="graded", notes=()):
    return {"student": student, "notebook": notebook, "points": points, "score": sum(points.values()),
            "max_score": len(points), "status": status, "notes": list(notes)}


def test_columns_are_exactly_as_specified_and_blank_elsewhere():
    text = gradebook.csv_text([_row("bo", "01_x", {"1.1": 1, "1.10": 0}), _row("al", "00_y", {"0.1": 0.5})],
                              {"1.10", "1.1", "0.1"})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["student", "notebook", "0.1", "1.1", "1.10", "score", "max_score", "status", "notes"]
    assert rows[1] == ["al", "00_y", "0.5", "", "", "0.5", "1", "graded", ""]
    assert rows[2] == ["bo", "01_x", "", "1", "0", "1", "2", "graded", ""]


def test_spreadsheet_formulas_are_defused():
    text = gradebook.csv_text([_row("=HYPERLINK(1)", "00_y", {}, notes=["+cmd"])], set())
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[0] == "'=HYPERLINK(1)" and row[-1] == "'+cmd"


def test_an_existing_gradebook_is_never_silently_overwritten(tmp_path):
    out = tmp_path / "grades.csv"
    out.write_text("student,notebook\n")
    with pytest.raises(gradebook.GradebookError, match="no state file"):
        gradebook.check_writable(out, None, force=False)
    state = {"csv_sha256": gradebook.sha256_text("something else")}
    with pytest.raises(gradebook.GradebookError, match="edited after"):
        gradebook.check_writable(out, state, force=False)
    backup = gradebook.check_writable(out, None, force=True)
    assert Path(backup).read_text() == "student,notebook\n" and not out.exists()
    out.write_text("x")
    assert gradebook.check_writable(out, {"csv_sha256": gradebook.sha256_text("x")}, force=False) is None


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    gradebook.atomic_write(tmp_path / "a" / "g.csv", "text")
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["g.csv"]


def test_merge_joins_shards_and_refuses_conflicts(tmp_path):
    a, b, c, out = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv", "all.csv"))
    a.write_text(gradebook.csv_text([_row("al", "00_y", {"0.1": 1})], {"0.1"}))
    b.write_text(gradebook.csv_text([_row("bo", "01_x", {"1.1": 0}, status="timeout"), _row("al", "00_y", {"0.1": 1})],
                                    {"0.1", "1.1"}))
    rows, numbers = gradebook.merge([a, b], out)
    assert numbers == ["0.1", "1.1"] and len(rows) == 2
    assert out.read_text().splitlines()[0] == "student,notebook,0.1,1.1,score,max_score,status,notes"
    with pytest.raises(gradebook.GradebookError, match="exists"):
        gradebook.merge([a, b], out)
    c.write_text(gradebook.csv_text([_row("al", "00_y", {"0.1": 0})], {"0.1"}))
    with pytest.raises(gradebook.GradebookError, match="shards must not overlap"):
        gradebook.merge([a, c], out, force=True)
    (tmp_path / "bad.csv").write_text("name,grade\n")
    with pytest.raises(gradebook.GradebookError, match="not a gradebook"):
        gradebook.merge([tmp_path / "bad.csv"], tmp_path / "x.csv")


def test_merge_on_the_command_line(tmp_path, capsys):
    a = tmp_path / "a.csv"
    a.write_text(gradebook.csv_text([_row("al", "00_y", {"0.1": 1})], {"0.1"}))
    assert main(["merge", str(a), "--out", str(tmp_path / "all.csv")]) == 0
    assert main(["merge", str(a), "--out", str(tmp_path / "all.csv")]) == 2
    assert "exists" in capsys.readouterr().err


# -- shards and discovery ------------------------------------------------------------------

def test_shards_cover_every_submission_once():
    subs = [Submission(f"s{i:02d}", Path(f"{i % 3:02d}_x.ipynb"), b"") for i in range(11)]
    slices = [shard_of(subs, (k, 4)) for k in range(1, 5)]
    keys = [s.key for part in slices for s in part]
    assert sorted(keys) == sorted(s.key for s in subs) and len(set(keys)) == len(keys)
    assert max(map(len, slices)) - min(map(len, slices)) <= 1


@pytest.mark.parametrize("text", ["3", "0/2", "3/2", "a/b", "1/0"])
def test_bad_shards_are_refused(text):
    with pytest.raises(GradingError, match="--shard"):
        parse_shard(text)


def test_discovery_reports_what_it_skips(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "00_a.ipynb").write_text("{}")
    (tmp_path / "alice" / "notes.txt").write_text("")
    (tmp_path / "alice" / "nested").mkdir()
    (tmp_path / "alice" / "nested" / "01_b.ipynb").write_text("{}")
    (tmp_path / "alice" / "link.ipynb").symlink_to(tmp_path / "alice" / "00_a.ipynb")
    (tmp_path / "stray.ipynb").write_text("{}")
    (tmp_path / "bob").symlink_to(tmp_path / "alice")
    (tmp_path / ".hidden").mkdir()
    subs, warnings = discover(tmp_path)
    assert [(s.student, s.path.name, s.data is None) for s in subs] == [("alice", "00_a.ipynb", False),
                                                                       ("alice", "link.ipynb", True)]
    text = " | ".join(warnings)
    assert "nested" in text and "stray.ipynb" in text and "bob is a symbolic link" in text


# -- the command line ------------------------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["{tmp}/none", "--out", "{tmp}/g.csv"], "not a folder"),
    (["{tmp}", "--out", "{tmp}/g.txt"], ".csv"),
    (["{tmp}", "--out", "{tmp}/g.csv", "--shard", "1/2"], "--shard needs --seed"),
    (["{tmp}", "--out", "{tmp}/g.csv", "--solutions", "{tmp}/nowhere"], "not a folder"),
    (["{tmp}", "--out", "{tmp}/g.csv", "--memory", "0.5"], "at least 1 GiB"),
])
def test_command_line_errors_name_the_problem(tmp_path, capsys, args, fragment):
    code = main([a.format(tmp=tmp_path) for a in args])
    assert code == 2 and fragment in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--jobs=0", "--timeout=-1", "--processes=x", "--sandbox=docker"])
def test_bad_option_values_are_refused_by_argparse(tmp_path, option):
    with pytest.raises(SystemExit) as err:
        main([str(tmp_path), "--out", str(tmp_path / "g.csv"), option])
    assert err.value.code == 2


def test_without_bubblewrap_the_grader_warns_once_and_grades(tmp_path, monkeypatch, lessons):
    """A class of notebooks that need no kernel: the warning comes once, the rows are written."""
    monkeypatch.setenv(BWRAP_ENV, "")
    sub = tmp_path / "subs"
    for student in ("a", "b"):
        (sub / student).mkdir(parents=True)
        (sub / student / f"{LESSON}.ipynb").write_text("{broken")
    messages = []
    report = grade_class(sub, tmp_path / "g.csv", jobs=2, log=messages.append, seed=1)
    warnings = [m for m in messages if "bubblewrap" in m]
    assert len(warnings) == 1 and "limits only" in warnings[0]
    assert report["sandbox"] == "limits"
    rows = list(csv.DictReader((tmp_path / "g.csv").open()))
    assert [r["status"] for r in rows] == ["invalid", "invalid"]
    assert (tmp_path / "g-feedback" / "a" / f"{LESSON}.md").is_file()
    assert (tmp_path / "g-summary.md").is_file() and (tmp_path / "g-scores.png").is_file()


# -- limits and the sandbox ------------------------------------------------------------------

def test_requiring_bubblewrap_without_it_is_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(BWRAP_ENV, "")
    (tmp_path / "subs").mkdir()
    assert main([str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"), "--sandbox", "bwrap"]) == 2
    assert "requires it" in capsys.readouterr().err and not (tmp_path / "g.csv").exists()


def test_limits_are_validated():
    with pytest.raises(ValueError, match="processes"):
        Limits(processes=0)
    with pytest.raises(ValueError, match="cell_timeout_s"):
        Limits(cell_timeout_s=1.5)


def _others_can_run(path) -> bool:
    real = Path(os.path.realpath(path))
    if not real.is_file() or not os.stat(real).st_mode & 0o001:
        return False
    return all(os.stat(parent).st_mode & 0o001 for parent in real.parents)


def test_confine_sets_every_limit_and_drops_root(tmp_path):
    code = ("import os, resource; print(json.dumps([resource.getrlimit(getattr(resource, n)) for n in "
            "('RLIMIT_AS', 'RLIMIT_NPROC', 'RLIMIT_FSIZE', 'RLIMIT_CORE')] + [os.getuid(), os.getgroups()]))")
    argv = [sys.executable, "-m", "fcn_lessons.grade._confine", "--memory", str(2 * GIB), "--processes", "50",
            "--file-size", "1000", "--cpu", "60"]
    if os.geteuid() == 0:
        argv += ["--uid", "3999999999"]
    python = sys.executable
    if os.geteuid() == 0 and not _others_can_run(python):  # e.g. a pyenv Python in root's private home
        python = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if _others_can_run(p)), None)
        if python is None:
            pytest.skip("no Python that an unprivileged user can run")
    run = subprocess.run(argv + ["--", python, "-c", "import json; " + code], capture_output=True, text=True,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    limits = json.loads(run.stdout)
    assert limits[:4] == [[2 * GIB] * 2, [50, 50], [1000, 1000], [0, 0]]
    if os.geteuid() == 0:
        assert limits[4] == 3999999999 and limits[5] == []


def test_confine_refuses_a_missing_command():
    run = subprocess.run([sys.executable, "-m", "fcn_lessons.grade._confine", "--memory", str(2 * GIB),
                          "--processes", "50", "--file-size", "1000", "--cpu", "60", "--"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "command" in run.stderr


ISOLATION_PROBE = textwrap.dedent("""
    import json, os, pathlib, socket
    result = {"home": os.environ["HOME"], "uid": os.getuid()}
    for name, path in {"solutions": SOLUTIONS, "root": "/root/.bashrc"}.items():
        try:
            open(path).read(1)
            result[name] = "read"
        except OSError as err:
            result[name] = type(err).__name__
    for name, path in {"write_usr": "/usr/fcn-probe", "write_tmp": "/tmp/fcn-probe"}.items():
        try:
            pathlib.Path(path).write_text("x")
            result[name] = "written"
        except OSError as err:
            result[name] = type(err).__name__
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2)
        result["network"] = "connected"
    except OSError as err:
        result["network"] = type(err).__name__
    print(json.dumps(result))
""")


def test_the_sandbox_hides_the_solutions_and_the_network(tmp_path):
    sandbox = Sandbox(Limits(), mode="auto", protected=[SOLUTIONS]).probe()
    if sandbox.kind != "bwrap":
        pytest.skip(f"bubblewrap does not work here: {sandbox.warning}")
    probe = ISOLATION_PROBE.replace("SOLUTIONS", repr(str(SOLUTIONS / f"{LESSON}.py")))
    result = sandbox.run(tmp_path, [sys.executable, "-c", probe], {}, slot=0, timeout_s=60)
    assert result.returncode == 0, result.stderr_tail
    seen = json.loads(result.stdout_tail.strip().splitlines()[-1])
    assert seen["solutions"] == "FileNotFoundError" and seen["root"] in ("FileNotFoundError", "PermissionError")
    assert seen["write_usr"] in ("OSError", "PermissionError") and seen["write_tmp"] == "written"
    assert seen["network"] == "OSError" and seen["home"] == "/grading/home"
    assert not Path("/tmp/fcn-probe").exists() and not Path("/usr/fcn-probe").exists()
    if os.geteuid() == 0:
        assert seen["uid"] != 0


def test_a_sandbox_may_not_expose_the_solutions(tmp_path):
    sandbox = Sandbox(Limits(), mode="none", protected=[SOLUTIONS], readonly=[ROOT])
    sandbox.bwrap = "/usr/bin/bwrap"
    with pytest.raises(RuntimeError, match="would expose"):
        sandbox._bwrap_argv(tmp_path)


# -- feedback --------------------------------------------------------------------------------

def test_feedback_pages_show_messages_safely():
    row = {**_row("al", "00_y", {"0.1": 0, "0.2": 1}, notes=["a note"]),
           "results": {"0.1": {"passed": False, "message": "Exercise 0.1 failed\n```\nfence\x1b[31m"},
                       "0.2": {"passed": True, "message": None}}}
    text = feedback_pages.page(row)
    assert "| 0.1 | not passed | 0 |" in text and "| 0.2 | passed | 1 |" in text
    assert "````text" in text and "\x1b" not in text and "- a note" in text


def test_the_summary_lists_rows_that_need_a_look(tmp_path):
    rows = [_row("al", "00_y", {"0.1": 1}), _row("bo", "00_y", {"0.1": 0}, status="timeout"),
            _row("cy", "00_y", {"0.1": 1}, notes=["FLAG exercise 0.1: uses checks.*"])]
    text = feedback_pages.summary(rows, {"0.1"}, plot_path=tmp_path / "p.png")
    assert "| 00_y | 0.1 | 2 | 3 | 67% |" in text
    assert "- bo/00_y: timeout" in text and "- cy/00_y: flagged code" in text and "- al/" not in text
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_a_second_run_regrades_only_what_changed(tmp_path, monkeypatch):
    """Notebooks that need no kernel, so the cache is tested in seconds (the hostile class repeats it for real)."""
    monkeypatch.setenv(BWRAP_ENV, "")
    monkeypatch.setattr("fcn_lessons.grade.core.package_fingerprint", lambda: "fixed")  # teammates edit the package
    sub, out = tmp_path / "subs", tmp_path / "g.csv"
    for student in ("a", "b"):
        (sub / student).mkdir(parents=True)
        (sub / student / f"{LESSON}.ipynb").write_text("{broken")
    messages = []
    grade_class(sub, out, jobs=1, log=messages.append, sandbox_mode="none")
    seed = json.loads(gradebook.state_path(out).read_text())["seed"]
    grade_class(sub, out, jobs=1, log=messages.append, sandbox_mode="none")
    assert any("grading 0 of 2 submissions (2 unchanged" in m for m in messages)
    (sub / "b" / f"{LESSON}.ipynb").write_text("{still broken")
    grade_class(sub, out, jobs=1, log=messages.append, sandbox_mode="none")
    assert any("grading 1 of 2 submissions (1 unchanged" in m for m in messages)
    assert json.loads(gradebook.state_path(out).read_text())["seed"] == seed  # kept from the first run
    grade_class(sub, out, jobs=1, log=messages.append, sandbox_mode="none", force=True)
    assert any("grading 2 of 2 submissions (0 unchanged" in m for m in messages[-3:])
    out.write_text(out.read_text().replace("invalid", "excused"))
    with pytest.raises(gradebook.GradebookError, match="edited after"):
        grade_class(sub, out, jobs=1, log=messages.append, sandbox_mode="none")
    assert "excused" in out.read_text()


def test_a_lessons_fingerprint_is_the_same_on_every_reading():
    first, second = load_lesson(SOLUTIONS / f"{LESSON}.py"), load_lesson(SOLUTIONS / f"{LESSON}.py")
    assert first.fingerprint == second.fingerprint


def test_a_broken_solution_blocks_only_the_lesson_it_is_for(tmp_path, monkeypatch):
    monkeypatch.setenv(BWRAP_ENV, "")
    (tmp_path / "jupytext.toml").write_text((ROOT / "jupytext.toml").read_text())
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    (solutions / f"{LESSON}.py").write_text((SOLUTIONS / f"{LESSON}.py").read_text(encoding="utf-8"), encoding="utf-8")
    (solutions / "09_broken.py").write_text("# %% tags=[\"exercise\"]\n# BEGIN SOLUTION 9.1: no end\n")
    sub = tmp_path / "subs" / "a"
    sub.mkdir(parents=True)
    (sub / f"{LESSON}.ipynb").write_text("{broken")
    messages = []
    grade_class(tmp_path / "subs", tmp_path / "g.csv", solutions_dir=solutions, log=messages.append,
                sandbox_mode="none", seed=1)
    assert any("09_broken skipped" in m for m in messages)
    (sub / "09_broken.ipynb").write_text("{}")
    with pytest.raises(GradingError, match="09_broken.py"):
        grade_class(tmp_path / "subs", tmp_path / "g2.csv", solutions_dir=solutions, log=messages.append,
                    sandbox_mode="none", seed=1)
