"""Grading a class: discover submissions, grade each in its sandbox, keep the gradebook.

:func:`grade_class` is what ``python -m fcn_lessons.grade`` runs; :func:`grade_notebook`
grades one submission and returns its gradebook row (with the feedback behind it).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import stat
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from queue import Queue

from fcn_lessons import notebooks
from fcn_lessons.grade import assemble as assembly
from fcn_lessons.grade import feedback, gradebook
from fcn_lessons.grade.reference import Lesson, load_lessons, package_fingerprint
from fcn_lessons.grade.sandbox import GIB, MIB, Limits, Sandbox

GRADER_VERSION = "1"
SEED_RANGE = 2**31


@dataclass(frozen=True)
class Options:
    """How a class is graded (everything that changes a grade is in :meth:`key`)."""

    limits: Limits = field(default_factory=Limits)
    seed: int = 0
    quick: bool = False  # FCN_LESSONS_QUICK=1 in the kernel (tests); learners' runs are full size

    def key(self) -> str:
        return json.dumps({"limits": asdict(self.limits), "seed": self.seed, "quick": self.quick,
                           "version": GRADER_VERSION}, sort_keys=True)


@dataclass
class Submission:
    student: str
    path: Path
    data: bytes | None  # None when unreadable (a link, a folder): see ``problem``
    problem: str | None = None

    @property
    def slug(self) -> str:
        return self.path.stem

    @property
    def key(self) -> str:
        return f"{self.student}/{self.path.name}"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data or b"").hexdigest()


class GradingError(ValueError):
    """The class cannot be graded as asked (bad folder, options or gradebook)."""


def discover(folder) -> tuple[list[Submission], list[str]]:
    """Every ``<student>/<name>.ipynb`` in ``folder``, and warnings about what was skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GradingError(f"SUBMISSIONS must be a folder with one folder per student; {folder} is not a folder.")
    found, warnings = [], []
    for student_dir in sorted(folder.iterdir()):
        name = student_dir.name
        if name.startswith("."):
            continue
        if student_dir.is_symlink():
            warnings.append(f"{student_dir} is a symbolic link: skipped (never followed)")
            continue
        if not student_dir.is_dir():
            warnings.append(f"{student_dir} is a file directly in SUBMISSIONS: skipped "
                            "(expected SUBMISSIONS/<student>/<NN_slug>.ipynb)")
            continue
        for entry in sorted(student_dir.iterdir()):
            if entry.name.startswith(".") or entry.name == "__MACOSX":
                continue
            if entry.is_dir() and not entry.is_symlink():
                if any(entry.rglob("*.ipynb")):
                    warnings.append(f"{entry}/ holds notebooks in a subfolder: skipped (flatten to "
                                    f"{student_dir}/<NN_slug>.ipynb)")
                continue
            if entry.suffix != ".ipynb":
                continue
            if entry.is_symlink() or not stat.S_ISREG(entry.lstat().st_mode):
                found.append(Submission(name, entry, None, "is a symbolic link or not a regular file; not read"))
                continue
            fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as f:
                data = f.read(assembly.MAX_NOTEBOOK_BYTES + 1)
            found.append(Submission(name, entry, data))
    return found, warnings


def shard_of(submissions: list[Submission], shard: tuple[int, int] | None) -> list[Submission]:
    """The K-th of N round-robin slices (K from 1), in (student, file) order."""
    ordered = sorted(submissions, key=lambda s: (s.student, s.path.name))
    if shard is None:
        return ordered
    k, n = shard
    return [s for i, s in enumerate(ordered) if i % n == k - 1]


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise GradingError(f"--shard must be K/N with integers (e.g. 2/8), received {text!r}.") from None
    if not (n >= 1 and 1 <= k <= n):
        raise GradingError(f"--shard K/N needs 1 <= K <= N, received {text!r}.")
    return k, n


# -- one submission --------------------------------------------------------------------

def _row(sub: Submission, lesson: Lesson | None, status: str, notes: list[str]) -> dict:
    points = {n: 0 for n in lesson.exercises} if lesson else {}
    results = {n: {"passed": False, "message": None} for n in lesson.exercises} if lesson else {}
    return {"student": sub.student, "notebook": lesson.slug if lesson else sub.slug, "points": points,
            "score": 0, "max_score": lesson.max_score if lesson else 0, "status": status, "notes": notes,
            "results": results, "seconds": 0.0, "file": sub.path.name}


def _describe(role: str, numbers: list[str], index: int) -> str:
    if role == "exercise":
        return f"the cell of exercise {', '.join(numbers)}"
    if role == "check":
        return f"the check of exercise {', '.join(numbers)}"
    return f"code cell {index + 1} (from the reference)"


def _first_line(text: str, limit: int = 160) -> str:
    line = next((l for l in str(text).splitlines() if l.strip()), "")
    return line if len(line) <= limit else line[:limit - 1] + "…"


def grade_notebook(sub: Submission, lessons: dict[str, Lesson], sandbox: Sandbox, options: Options, *,
                   slot: int = 0, stop: threading.Event | None = None) -> dict:
    """The gradebook row of one submission, with ``results`` (exercise -> passed, message) for its feedback."""
    lesson = lessons.get(sub.slug)
    if lesson is None:
        known = ", ".join(lessons)
        return _row(sub, None, assembly.NOT_A_LESSON, [f"{sub.path.name} is not a lesson of the course ({known})"])
    if sub.data is None:
        return _row(sub, lesson, assembly.INVALID, [sub.problem or "unreadable"])
    nb, notes = assembly.read_notebook(sub.data)
    if nb is None:
        return _row(sub, lesson, assembly.INVALID, notes)
    built = assembly.assemble(nb, sub.slug, lessons)
    if built.status is not None:
        return _row(sub, lesson, built.status, notes + built.notes)
    notes = notes + built.notes
    scratch = Path(tempfile.mkdtemp(prefix="fcn-grade-"))
    try:
        path = scratch / f"{lesson.slug}.ipynb"
        path.write_text(notebooks.ipynb_text(built.notebook), encoding="utf-8")
        lim = options.limits
        argv = [sys.executable, "-m", "pytest", "-p", "nbval.plugin", "-p", "fcn_lessons.grade._plugin",
                "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={lim.cell_timeout_s}",
                "--nbval-kernel-startup-timeout=120", "-p", "no:cacheprovider", "-q", "--color=no",
                "-o", "addopts=", "-o", "console_output_style=classic", path.name]
        env = {"FCN_LESSONS_CHECK_SEED": str(options.seed),
               "FCN_LESSONS_GRADE_OUTPUT_BYTES": str(lim.output_bytes),
               "FCN_LESSONS_GRADE_REFERENCE_CELL_TIMEOUT": str(lim.notebook_timeout_s)}
        if options.quick:
            env["FCN_LESSONS_QUICK"] = "1"
        result = sandbox.run(scratch, argv, env, slot=slot, stop=stop)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _interpret(sub, lesson, built, result, notes, options)


def _interpret(sub, lesson, built, result, notes, options) -> dict:
    cells = {}
    for event in result.events:
        if event.get("event") == "cell" and isinstance(event.get("cell"), int):
            cells.setdefault(event["cell"], event)
    finished = any(e.get("event") == "finish" for e in result.events)
    row = _row(sub, lesson, "graded", notes)
    status, run_notes = "graded", []
    for index, (role, numbers) in enumerate(built.roles):
        event = cells.get(index)
        if event is None or event.get("outcome") == "passed":
            continue
        error = event.get("error", {})
        ename, evalue = error.get("ename", ""), error.get("evalue", "")
        where = _describe(role, numbers, index)
        if ename == "CellTimeout":
            status = "timeout"
            limit = options.limits.cell_timeout_s if role != "other" else options.limits.notebook_timeout_s
            run_notes.append(f"{where} ran past its {limit} s limit and was stopped")
        elif ename == "KernelDied":
            status = "crashed"
            run_notes.append(f"the kernel died in {where}")
        elif "Kernel dead" in evalue or "Kernel info" in evalue or event.get("when") == "setup":
            if status == "graded":
                status = "crashed"
            if event.get("when") == "setup":
                run_notes.append(f"the kernel did not start: {_first_line(evalue)}")
        elif role != "check" and ename not in ("NotDone",):
            detail = _first_line(evalue)
            what = (f"ran out of memory (limit {options.limits.memory_bytes / GIB:g} GB per process)"
                    if ename == "MemoryError" else f"raised {ename}" + (f": {detail}" if detail else ""))
            run_notes.append(f"{where} {what}")
    dropped = sum(e.get("dropped_output_bytes", 0) for e in result.events if e.get("event") == "finish")
    if dropped:
        run_notes.append(f"printed more than the {options.limits.output_bytes // MIB} MB of output kept; "
                         f"{dropped / MIB:.0f} MB dropped")
    if result.killed == "timeout":
        status = "timeout"
        run_notes.append(f"the notebook ran past its {options.limits.notebook_timeout_s} s limit and was stopped")
    elif result.killed == "memory":
        status = "crashed"
        run_notes.append(f"its processes used more than {options.limits.memory_bytes / GIB:g} GB in total "
                         "and were stopped")
    elif result.killed == "processes":
        status = "crashed"
        run_notes.append(f"it started more than {options.limits.processes} processes and was stopped")
    elif result.killed == "interrupted":
        status = "crashed"
        run_notes.append("grading was interrupted")
    elif not finished and status == "graded":
        status = "crashed"
        tail = _first_line((result.stderr_tail or "").strip().splitlines()[-1] if result.stderr_tail.strip() else "")
        run_notes.append(f"the grading run ended early (exit status {result.returncode}){': ' + tail if tail else ''}")
    score = 0
    for number in lesson.exercises:
        checks = [i for i, (role, numbers) in enumerate(built.roles) if role == "check" and number in numbers]
        outcomes = [cells.get(i) for i in checks]
        passed = bool(checks) and all(e is not None and e.get("outcome") == "passed" for e in outcomes)
        message = None
        if not passed:
            failed = next((e for e in outcomes if e is not None and e.get("outcome") != "passed"), None)
            if not checks:
                message = "this exercise has no check cell in the reference notebook"
            elif failed is None:
                message = "not checked: the notebook stopped before this exercise's check ran"
            else:
                err = failed.get("error", {})
                ename, evalue = err.get("ename", ""), err.get("evalue", "")
                if ename in ("CaseFailure", "NotDone", "AssertionError") and evalue:
                    message = evalue
                elif "Kernel dead" in evalue:
                    message = "not checked: the kernel had died before this check ran (see the notes)"
                elif ename == "CellTimeout":
                    message = f"the check ran past the {options.limits.cell_timeout_s} s limit per cell"
                else:
                    message = f"{ename}: {evalue}".strip(": ")
        row["results"][number] = {"passed": passed, "message": message}
        row["points"][number] = lesson.points[number] if passed else 0
        score += row["points"][number]
    run_notes = list(dict.fromkeys(run_notes))  # e.g. a kernel that never started fails every cell alike
    row.update(score=score, status=status, notes=notes + run_notes, seconds=round(result.seconds, 2))
    return row


# -- the class ---------------------------------------------------------------------------

class Progress:
    """One line per finished submission (count, rate, time left); redrawn in place on a terminal."""

    def __init__(self, total: int, stream=None):
        self.total, self.done, self.start = total, 0, time.monotonic()
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.lock = threading.Lock()

    def update(self, label: str) -> None:
        with self.lock:
            self.done += 1
            elapsed = time.monotonic() - self.start
            rate = self.done / elapsed * 60 if elapsed > 0 else 0.0
            left = (self.total - self.done) / (self.done / elapsed) if self.done and elapsed > 0 else 0.0
            bar = "#" * int(20 * self.done / max(self.total, 1))
            line = (f"[{bar:<20}] {self.done}/{self.total}  {rate:.1f}/min  ~{left / 60:.1f} min left  "
                    f"{label}")
            if self.tty:
                self.stream.write("\r\033[K" + line)
                if self.done == self.total:
                    self.stream.write("\n")
            else:
                self.stream.write(line + "\n")
            self.stream.flush()


def default_solutions() -> Path:
    import fcn_lessons

    return Path(fcn_lessons.__file__).resolve().parent.parent / "solutions"


def grade_class(submissions_dir, out, *, feedback_dir=None, jobs: int | None = None, limits: Limits | None = None,
                force: bool = False, shard: tuple[int, int] | None = None, seed: int | None = None,
                sandbox_mode: str = "auto", solutions_dir=None, quick: bool = False, log=None) -> dict:
    """Grade every submission in ``submissions_dir`` into the gradebook ``out``; returns a report dict.

    See ``python -m fcn_lessons.grade --help`` for the meaning of each argument.
    """
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise GradingError(f"--out must name a .csv file, received {out}.")
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not isinstance(jobs, int) or jobs < 1:
        raise GradingError(f"--jobs must be a positive integer, received {jobs!r}.")
    if shard is not None and seed is None:
        raise GradingError("--shard needs --seed: every shard must draw the same hidden cases.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise GradingError(f"--seed must be an integer in [0, 2**63), received {seed!r}.")
    solutions_dir = Path(solutions_dir or default_solutions())
    limits = limits or Limits()
    sandbox = Sandbox(limits, mode=sandbox_mode, protected=[solutions_dir])
    probe_error: list[BaseException] = []

    def probe():  # about a second: overlap it with reading the lessons and the submissions
        try:
            sandbox.probe()
        except BaseException as err:  # re-raised below, in the caller's thread
            probe_error.append(err)
    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    broken: dict[str, str] = {}
    lessons = load_lessons(solutions_dir, problems=broken)
    state = gradebook.load_state(out)
    backup = gradebook.check_writable(out, state, force=force)
    if backup:
        log(f"kept the previous {out.name} as {backup}")
        state = None
    if seed is None:
        seed = state["seed"] if state else secrets.randbelow(SEED_RANGE)
    options = Options(limits=limits, seed=seed, quick=quick)
    cached = {} if (force or state is None) else state.get("rows", {})
    subs, warnings = discover(submissions_dir)
    for warning in warnings:
        log(f"warning: {warning}")
    subs = shard_of(subs, shard)
    needed = sorted({s.slug for s in subs} & set(broken))
    if needed:
        raise GradingError("the reference of a submitted lesson cannot be read, so it cannot be graded: "
                           + "; ".join(broken[slug] for slug in needed))
    for slug, why in broken.items():
        log(f"warning: lesson {slug} skipped (no submission needs it): {why}")
    fingerprint = package_fingerprint()
    keys = {s.key: hashlib.sha256(f"{s.digest}|{lessons[s.slug].fingerprint if s.slug in lessons else '-'}|"
                                  f"{fingerprint}|{options.key()}".encode()).hexdigest() for s in subs}
    todo = [s for s in subs if cached.get(s.key, {}).get("key") != keys[s.key]]
    rows = {k: v["row"] for k, v in cached.items()}
    prober.join()
    if probe_error:
        raise probe_error[0]
    if sandbox.warning:
        log(f"warning: {sandbox.warning}")
    log(f"grading {len(todo)} of {len(subs)} submissions ({len(subs) - len(todo)} unchanged since the last run) "
        f"with {jobs} job(s); sandbox: {sandbox.kind}")
    slots: Queue[int] = Queue()
    for slot in range(jobs):
        slots.put(slot)
    stop = threading.Event()
    progress = Progress(len(todo))

    def work(sub: Submission) -> dict:
        slot = slots.get()
        try:
            return grade_notebook(sub, lessons, sandbox, options, slot=slot, stop=stop)
        finally:
            slots.put(slot)

    new_state_rows = {k: v for k, v in cached.items()}
    interrupted = False
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(work, sub): sub for sub in todo}
        for future in as_completed(futures):
            sub = futures[future]
            row = future.result()
            rows[sub.key] = row
            new_state_rows[sub.key] = {"key": keys[sub.key], "row": row}
            progress.update(f"{sub.key}: {row['status']} {gradebook.format_points(row['score'])}/"
                            f"{gradebook.format_points(row['max_score'])}")
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        log("interrupted: stopping the running submissions and writing what was graded")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    all_rows = list(rows.values())
    numbers = {n for lesson in lessons.values() for n in lesson.exercises} | \
              {n for row in all_rows for n in row.get("points", {})}
    text = gradebook.csv_text(all_rows, numbers)
    gradebook.atomic_write(gradebook.state_path(out), json.dumps(
        {"version": gradebook.STATE_VERSION, "seed": seed, "csv_sha256": gradebook.sha256_text(text),
         "rows": new_state_rows}, indent=1))
    gradebook.atomic_write(out, text)
    feedback_dir = Path(feedback_dir) if feedback_dir else out.with_name(out.stem + "-feedback")
    feedback.write_pages(feedback_dir, [rows[s.key] for s in subs])
    plot = out.with_name(out.stem + "-scores.png")
    summary_text = feedback.summary(all_rows, numbers, plot_path=plot)
    gradebook.atomic_write(out.with_name(out.stem + "-summary.md"), summary_text)
    return {"rows": all_rows, "graded": len(todo), "cached": len(subs) - len(todo), "sandbox": sandbox.kind,
            "warning": sandbox.warning, "seed": seed, "summary": summary_text, "interrupted": interrupted,
            "feedback": str(feedback_dir), "plot": str(plot)}
