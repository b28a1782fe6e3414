"""The grader against a hostile class: one grading run, every row as specified (issue 13).

The class is generated here from the course itself (``solutions/`` and the exercise
notebooks generated from them), so it follows the lessons as they change: a correct
submission is the solution's code put into the exercise notebook as a learner would, and
every hostile case is built from that. Lesson 00 (the fastest) carries the hostile cases;
a second lesson checks a correct submission elsewhere.

Hostile code goes into the **last** exercise cell of lesson 00, before its correct
answer, so the exercises before it show that what was graded before a failure keeps its
points, and no later exercise depends on it.

The run needs bubblewrap (``bwrap``) for the sandbox rows (reading ``solutions/``, the
network): without it the module is skipped with the reason, except in CI
(``FCN_LESSONS_CI=1``, set by ``.ci/run``, which installs bubblewrap), where it fails.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import pickle
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

from fcn_lessons.checks._core import GRADING_SEED_ENV
from fcn_lessons.grade import fixtures
from fcn_lessons.grade.reference import cell_numbers, load_lessons, package_fingerprint
from fcn_lessons.grade.sandbox import UID_RANGE, Limits, Sandbox

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
HOSTILE_LESSON = "00_setup_and_task"
OTHER_LESSONS = ("03_upsampling", "01_conv1x1_is_dense", "02_receptive_fields")  # first one present is used
SEED = 20261201  # the grader's seed for this run: any seed but the learner's
CELL_TIMEOUT_S = 20  # the infinite loop costs this; quick-mode checks of lesson 00 take well under 1 s each
NOTEBOOK_TIMEOUT_S = 300  # a loaded 2-core machine: lesson 00 grades in 10-45 s
MEMORY_GB = 4  # per process: TensorFlow maps about 3 GiB of address space (measured 2.9 GiB)
PROCESSES = 128  # processes and threads of one submission
RUN_TIMEOUT_S = 900  # the whole hostile run, a bound on this test, never reached when all is well
CI_ENV_VAR = "FCN_LESSONS_CI"


def _in_ci() -> bool:
    return os.environ.get(CI_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def _require_bwrap():
    sandbox = Sandbox(Limits(), mode="auto", protected=[SOLUTIONS]).probe()
    if sandbox.kind == "bwrap":
        return
    reason = f"bubblewrap does not work here ({sandbox.warning})"
    if _in_ci():
        pytest.fail(f"{reason}; {CI_ENV_VAR} is set and .ci/run installs bubblewrap, so the sandbox must be tested.")
    pytest.skip(f"{reason}: the hostile class needs it (apt-get install bubblewrap).")


# -- building the class ------------------------------------------------------------------

def _prepend(code: str, answer: str) -> str:
    return code.rstrip("\n") + "\n" + answer


def _wrong(stub: str) -> str:
    """A wrong answer: the stub's `raise` replaced by `return None` inside a function, else the stub."""
    return re.sub(r"^(\s+)raise NotImplementedError\(.*\)$", r"\1return None", stub, flags=re.MULTILINE)


def _function_names(source: str) -> list[str]:
    import ast

    return [node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]


def _check_source(lesson, number: str) -> str:
    return next(cell.source for cell in lesson.reference.cells if number in cell_numbers(cell, "checks"))


def _run_cells_until(lesson, number: str, answer_source: str, namespace: dict, before_check=None) -> None:
    """Run the reference's code cells in ``namespace`` up to exercise ``number``'s check, with ``answer_source``.

    ``before_check(namespace)`` runs just before that check cell.
    """
    answers = fixtures.answers(lesson)
    for cell in lesson.reference.cells:
        if cell.cell_type != "code":
            continue
        numbers, checks_of = cell_numbers(cell, "exercises"), cell_numbers(cell, "checks")
        if numbers:
            exec(answer_source if number in numbers else answers[numbers[0]], namespace)
        elif checks_of:
            if number in checks_of:
                if before_check is not None:
                    before_check(namespace)
                exec(cell.source, namespace)
                return
        else:
            exec(cell.source, namespace)


def hard_coded_answer(lesson, monkeypatch) -> tuple[str, str] | None:
    """(exercise, source) of an answer that only replays what the reference returned on the visible cases.

    Found generically: the first function exercise whose check, run as a learner runs it,
    passes with the replayed answer and fails under the grader's seed.
    """
    answers = fixtures.answers(lesson)
    for number in lesson.exercises:
        names = _function_names(answers[number])
        if len(names) != 1:
            continue
        name = names[0]
        monkeypatch.delenv(GRADING_SEED_ENV, raising=False)
        seen = {}

        def record(namespace):
            reference = namespace[name]

            def recorder(*args, **kwargs):
                result = reference(*args, **kwargs)
                try:
                    seen[pickle.dumps((args, kwargs))] = copy.deepcopy(result)
                except Exception:  # unpicklable inputs (Keras layers): this exercise cannot be replayed
                    pass
                return result
            namespace[name] = recorder

        try:
            _run_cells_until(lesson, number, answers[number], {"__name__": "__main__"}, before_check=record)
        except Exception:
            continue
        if not seen:
            continue
        table = base64.b64encode(pickle.dumps(seen)).decode()
        source = (f"# Exercise {number}: replays the visible cases\nimport base64, copy, pickle\n"
                  f"_SEEN = pickle.loads(base64.b64decode({table!r}))\n\n"
                  f"def {name}(*args, **kwargs):\n"
                  f"    return copy.deepcopy(_SEEN.get(pickle.dumps((args, kwargs))))\n")
        visible = _passes(lesson, number, source)
        monkeypatch.setenv(GRADING_SEED_ENV, str(SEED))
        hidden = _passes(lesson, number, source)
        monkeypatch.delenv(GRADING_SEED_ENV, raising=False)
        if visible and not hidden:
            return number, source
    return None


def _passes(lesson, number: str, source: str) -> bool:
    try:
        _run_cells_until(lesson, number, source, {"__name__": "__main__"})
    except AssertionError:
        return False
    return True


class Listener:
    """A TCP server on the host's loopback that counts the connections it accepts."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.server.settimeout(0.5)
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.done.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self.done.set()
        self.thread.join(timeout=5)
        self.server.close()


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _grader_processes() -> list[str]:
    out = subprocess.run(["ps", "-eo", "uid=,pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.split() and UID_RANGE[0] <= int(line.split()[0]) < UID_RANGE[1]]


def build_class(folder: Path, lessons, monkeypatch, *, token: str, port: int):
    """Write the hostile class into ``folder``; returns {student: expected row} and the canary paths."""
    lesson = lessons[HOSTILE_LESSON]
    other = lessons[next(s for s in OTHER_LESSONS if s in lessons)]
    numbers, last, first = lesson.exercises, lesson.exercises[-1], lesson.exercises[0]
    right = fixtures.answers(lesson)
    full = {n: lesson.points[n] for n in numbers}
    zero = {n: 0 for n in numbers}
    but_last = {**full, last: 0}
    expected = {}

    def put(student, nb, *, status="graded", points=None, notes=(), slug=HOSTILE_LESSON, max_score=None,
            raw: bytes | None = None):
        path = folder / student / f"{slug}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        if raw is not None:
            path.write_bytes(raw)
        else:
            fixtures.write(nb, path)
        expected.setdefault(student, []).append(
            {"notebook": slug, "status": status, "points": points, "notes": list(notes),
             "max_score": lesson.max_score if max_score is None else max_score})

    def hostile(code: str):
        return fixtures.submission(lesson, sources={last: _prepend(code, right[last])})

    put("correct", fixtures.submission(lesson), points=full)
    put("correct", fixtures.submission(other), points={n: other.points[n] for n in other.exercises},
        slug=other.slug, max_score=other.max_score)
    put("stubs", fixtures.submission(lesson, solved=[]), points=zero)
    put("partly", fixtures.submission(lesson, solved=[first]), points={**zero, first: lesson.points[first]})

    edited = fixtures.submission(lesson, sources={n: _wrong(s.source) for s in lesson.reference.cells
                                                  for n in cell_numbers(s, "exercises")})
    for cell in edited.cells:
        if cell_numbers(cell, "checks"):
            cell.source = "pass"
    put("checks_edited", edited, points=zero, notes=["were edited; the reference checks ran"])

    deleted = fixtures.submission(lesson)
    deleted.cells = [c for c in deleted.cells if not cell_numbers(c, "checks")]
    put("checks_deleted", deleted, points=full, notes=["were missing; restored from the reference"])

    moved = fixtures.submission(lesson)
    answer_cells = [c for c in moved.cells if cell_numbers(c, "exercises")]
    moved.cells = [c for c in moved.cells if not cell_numbers(c, "exercises")] + answer_cells[::-1]
    answer_cells[0].metadata["tags"] = []
    answer_cells[-1].metadata["tags"] = ["check"]
    put("reordered_retagged", moved, points=full, notes=["reordered", "retagged"])

    found = hard_coded_answer(lesson, monkeypatch)
    assert found is not None, f"no exercise of {lesson.slug} could be answered by replaying its visible cases"
    hard_number, hard_source = found
    put("hard_coded", fixtures.submission(lesson, sources={hard_number: hard_source}),
        points={**full, hard_number: 0})

    put("malformed_json", None, status="invalid", points=zero, notes=["not valid JSON"],
        raw=nbformat.writes(fixtures.submission(lesson)).encode()[:-200])
    v3 = nbformat.writes(nbformat.convert(fixtures.submission(lesson), 3), version=3)
    put("nbformat3", None, points=full, notes=["format 3, converted"], raw=v3.encode())
    put("other_lesson", fixtures.submission(other), status="invalid", points=zero,
        notes=[f"this is the notebook of {other.slug}"])
    (folder / "not_a_lesson").mkdir()
    fixtures.write(fixtures.submission(lesson), folder / "not_a_lesson" / "my_notes.ipynb")
    expected["not_a_lesson"] = [{"notebook": "my_notes", "status": "not a lesson", "points": {}, "max_score": 0,
                                 "notes": ["not a lesson of the course"]}]
    (folder / "symlink").mkdir()
    (folder / "symlink" / f"{HOSTILE_LESSON}.ipynb").symlink_to(lesson.solution_path.with_suffix(".ipynb"))
    expected["symlink"] = [{"notebook": HOSTILE_LESSON, "status": "invalid", "points": zero,
                            "max_score": lesson.max_score, "notes": ["symbolic link"]}]

    put("infinite_loop", hostile("while True:\n    pass\n"), status="timeout", points=but_last,
        notes=[f"ran past its {CELL_TIMEOUT_S} s limit"])
    put("os_exit", hostile("import os\nos._exit(1)\n"), status="crashed", points=but_last,
        notes=["the kernel died in the cell of exercise", "FLAG"])
    put("sys_exit", hostile("import sys\nsys.exit()\n"), points=but_last, notes=["raised SystemExit", "FLAG"])
    put("memory_bomb", hostile("chunks = []\nwhile True:\n    chunks.append(b'x' * 2**28)\n"), points=but_last,
        notes=["ran out of memory"])
    put("fork_bomb", hostile("import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(3600)\n"
                             "        os._exit(0)\n"), points=but_last, notes=["BlockingIOError", "FLAG"])
    put("output_flood", hostile("import sys\nfor _ in range(100):\n    sys.stdout.write('x' * (2**20 - 1) + '\\n')\n"),
        points=full, notes=["MB of output kept"])
    targets = {"home": "os.path.expanduser('~')", "root": "'/root'", "root_home": "pwd.getpwuid(0).pw_dir",
               "course": "str(pathlib.Path(fcn_lessons.__file__).parent)",
               "repository": "str(pathlib.Path(fcn_lessons.__file__).resolve().parents[1])",
               "tmp": "'/tmp'", "var_tmp": "'/var/tmp'", "dev_shm": "'/dev/shm'",
               "submissions": repr(str(folder)), "cwd_parent": "'..'"}
    writes = "import os, pathlib, pwd\nimport fcn_lessons\n" + "".join(
        f"try:\n    pathlib.Path({where}, {token!r}).write_text('written by a submission')\nexcept OSError:\n    pass\n"
        for where in targets.values())
    put("writes_outside", hostile(writes), points=full)
    reads = ("import json, pathlib\nimport fcn_lessons\n"
             "_root = pathlib.Path(fcn_lessons.__file__).resolve().parents[1]\n"
             f"_nb = json.loads((_root / 'solutions' / '{HOSTILE_LESSON}.ipynb').read_text())\n"
             f"exec(next(''.join(c['source']) for c in _nb['cells'] if 'BEGIN SOLUTION {last}' in ''.join(c['source'])))\n")
    put("reads_solutions", fixtures.submission(lesson, sources={last: reads}), points=but_last,
        notes=["FileNotFoundError", "FLAG"])
    network = ("import socket\n_online = False\n"
               f"for _address in [('127.0.0.1', {port}), ('1.1.1.1', 53)]:\n"
               "    try:\n        socket.create_connection(_address, timeout=3).close()\n        _online = True\n"
               "    except OSError:\n        pass\n"
               f"if _online:\n    exec({right[last]!r})\n")
    put("network", fixtures.submission(lesson, sources={last: network}), points=but_last, notes=["FLAG"])
    check_name = re.search(r"checks\.(\w+)\(", _check_source(lesson, last))[1]
    stub = next(c.source for c in lesson.reference.cells if last in cell_numbers(c, "exercises"))
    patched = _prepend(f"checks.{check_name} = lambda *args, **kwargs: print('Exercise {last} passed')\n", stub)
    put("monkeypatch", fixtures.submission(lesson, sources={last: patched}), points=full,
        notes=["FLAG", f"assigns to checks.{check_name}"])
    host_paths = [Path(os.path.expanduser("~")), Path("/root"), ROOT / "fcn_lessons", ROOT, Path("/tmp"),
                  Path("/var/tmp"), Path("/dev/shm"), folder, folder.parent]
    return expected, [p / token for p in host_paths]


# -- the run -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    _require_bwrap()
    monkeypatch = pytest.MonkeyPatch()
    lessons = load_lessons(SOLUTIONS)
    work = tmp_path_factory.mktemp("hostile")
    submissions, out = work / "submissions", work / "out" / "grades.csv"
    token = f"fcn-grade-canary-{secrets.token_hex(6)}"
    listener = Listener()
    try:
        expected, canaries = build_class(submissions, lessons, monkeypatch, token=token, port=listener.port)
        before = _snapshot(submissions)
        scratch_before = set(Path(tempfile.gettempdir()).glob("fcn-grade-*"))
        command = [sys.executable, "-m", "fcn_lessons.grade", str(submissions), "--out", str(out), "--jobs", "2",
                   "--quick", "--seed", str(SEED), "--sandbox", "bwrap", "--cell-timeout", str(CELL_TIMEOUT_S),
                   "--timeout", str(NOTEBOOK_TIMEOUT_S), "--memory", str(MEMORY_GB), "--processes", str(PROCESSES)]
        package = package_fingerprint()
        start = time.monotonic()
        run = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=work)
        seconds = time.monotonic() - start
    finally:
        listener.close()
        monkeypatch.undo()
    rows = {}
    if out.exists():
        import csv
        for row in csv.DictReader(out.open(encoding="utf-8")):
            rows.setdefault(row["student"], {})[row["notebook"]] = row
    yield {"run": run, "rows": rows, "expected": expected, "canaries": canaries, "before": before,
           "after": _snapshot(submissions), "submissions": submissions, "out": out, "lessons": lessons,
           "listener": listener, "seconds": seconds, "scratch_before": scratch_before, "command": command,
           "work": work, "package": package}
    for path in canaries:  # never leave a canary behind, even when the test fails
        if path.exists():
            path.unlink()


STUDENTS = ["correct", "stubs", "partly", "checks_edited", "checks_deleted", "reordered_retagged", "hard_coded",
            "malformed_json", "nbformat3", "other_lesson", "not_a_lesson", "symlink", "infinite_loop", "os_exit",
            "sys_exit", "memory_bomb", "fork_bomb", "output_flood", "writes_outside", "reads_solutions", "network",
            "monkeypatch"]


def test_the_run_finishes_and_writes_a_gradebook(graded):
    run = graded["run"]
    assert run.returncode == 0, f"grader exit {run.returncode}\nstdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"
    assert "sandbox: bwrap" in run.stderr
    header = graded["out"].read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:2] == ["student", "notebook"] and header[-4:] == ["score", "max_score", "status", "notes"]
    numbers = header[2:-4]
    assert numbers == sorted(numbers, key=lambda n: tuple(map(int, n.split("."))))
    assert set(graded["expected"]) == set(STUDENTS)


@pytest.mark.parametrize("student", STUDENTS)
def test_row_is_as_specified(graded, student):
    rows = graded["rows"].get(student, {})
    for expected in graded["expected"][student]:
        row = rows.get(expected["notebook"])
        assert row is not None, f"no row for {student}/{expected['notebook']}; rows: {rows}"
        assert row["status"] == expected["status"], f"{student}: {row}"
        for number, points in expected["points"].items():
            assert float(row[number]) == points, \
                f"{student}: exercise {number} earned {row[number]!r}, expected {points}; {row}"
        assert float(row["score"]) == sum(expected["points"].values()), row
        assert float(row["max_score"]) == expected["max_score"], row
        for fragment in expected["notes"]:
            assert fragment in row["notes"], f"{student}: notes lack {fragment!r}: {row['notes']!r}"
    assert len(rows) == len(graded["expected"][student]), rows


def test_nothing_outside_the_scratch_folders_changed(graded):
    leftovers = [str(path) for path in graded["canaries"] if path.exists()]
    assert not leftovers, f"a submission wrote outside its scratch folder: {leftovers}"
    assert graded["after"] == graded["before"], "the submissions folder changed"
    scratch_after = set(Path(tempfile.gettempdir()).glob("fcn-grade-*"))
    assert not (scratch_after - graded["scratch_before"]), "scratch folders were left behind"
    assert not _grader_processes(), f"processes of a submission outlived it: {_grader_processes()}"


def test_the_network_was_unreachable(graded):
    assert graded["listener"].accepted == 0


def test_feedback_pages_give_the_checks_messages(graded):
    folder = graded["out"].with_name("grades-feedback")
    lesson = graded["lessons"][HOSTILE_LESSON]
    stubs = (folder / "stubs" / f"{HOSTILE_LESSON}.md").read_text(encoding="utf-8")
    assert "is not done yet" in stubs and "not passed" in stubs
    hard = (folder / "hard_coded" / f"{HOSTILE_LESSON}.md").read_text(encoding="utf-8")
    assert "failed on case" in hard and "Hint:" in hard
    correct = (folder / "correct" / f"{HOSTILE_LESSON}.md").read_text(encoding="utf-8")
    assert f"Score: {lesson.max_score:g} / {lesson.max_score:g}" in correct
    assert "BEGIN SOLUTION" not in correct + hard + stubs  # no reference code in feedback
    edited = (folder / "checks_edited" / f"{HOSTILE_LESSON}.md").read_text(encoding="utf-8")
    assert "were edited" in edited


def test_summary_lists_pass_rates_and_who_needs_a_look(graded):
    out = graded["out"]
    summary = out.with_name("grades-summary.md").read_text(encoding="utf-8")
    assert out.with_name("grades-scores.png").stat().st_size > 1000
    for student in ("os_exit", "infinite_loop", "monkeypatch", "malformed_json", "checks_edited"):
        assert f"- {student}/" in summary, f"{student} is not listed for a human look:\n{summary}"
    assert "- correct/" not in summary
    assert f"| {HOSTILE_LESSON} | {graded['lessons'][HOSTILE_LESSON].exercises[0]} |" in summary


def test_a_second_run_regrades_only_changed_submissions(graded):
    out, submissions, lessons = graded["out"], graded["submissions"], graded["lessons"]
    lesson = lessons[HOSTILE_LESSON]
    if package_fingerprint() != graded["package"]:
        pytest.skip("the course package changed since the first run (someone is editing it): a second run "
                    "would rightly re-grade every submission")
    before = out.read_text(encoding="utf-8").splitlines()
    fixtures.write(fixtures.submission(lesson), submissions / "partly" / f"{HOSTILE_LESSON}.ipynb")
    command = [c for c in graded["command"] if c != "--seed" and c != str(SEED)]  # the seed comes from the state
    run = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=graded["work"])
    assert run.returncode == 0, run.stderr[-3000:]
    total = len(before) - 1
    assert f"grading 1 of {total} submissions" in run.stderr, run.stderr[-2000:]
    after = out.read_text(encoding="utf-8").splitlines()
    changed = [line for line in after if line not in before]
    assert len(changed) == 1 and changed[0].startswith(f"partly,{HOSTILE_LESSON},"), changed
    assert f",{lesson.max_score:g},{lesson.max_score:g},graded," in changed[0]
    # a gradebook edited by hand is never overwritten
    out.write_text(out.read_text(encoding="utf-8").replace("partly", "partly (checked by hand)"), encoding="utf-8")
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=graded["work"])
    assert run.returncode == 2 and "was not overwritten" in run.stderr, run.stderr[-2000:]
    assert "partly (checked by hand)" in out.read_text(encoding="utf-8")


def test_the_hard_coded_answer_passes_the_visible_cases(graded, monkeypatch):
    lesson = graded["lessons"][HOSTILE_LESSON]
    found = hard_coded_answer(lesson, monkeypatch)
    assert found is not None
    number, source = found
    monkeypatch.delenv(GRADING_SEED_ENV, raising=False)
    assert _passes(lesson, number, source), "the replayed answer must pass for the learner"
    row = graded["rows"]["hard_coded"][HOSTILE_LESSON]
    assert float(row[number]) == 0


def test_the_run_took_bounded_time(graded):
    assert graded["seconds"] < RUN_TIMEOUT_S
    print(f"hostile class: {len(graded['expected'])} students graded in {graded['seconds']:.0f} s with --jobs 2")
