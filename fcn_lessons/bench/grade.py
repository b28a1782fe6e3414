"""The grader's benchmark: submissions graded per minute, against plain nbval.

A class of ``students`` learners who each handed in a correct lesson-00 notebook (the
fastest lesson; made from ``solutions/`` by :mod:`fcn_lessons.grade.fixtures`) is graded
three ways, each from the command line as an instructor would run it:

- plain nbval: ``pytest --nbval-lax --nbval-current-env`` on the same notebooks, one after
  the other in one pytest run (no restored checks, no hidden cases, no sandbox);
- ``python -m fcn_lessons.grade --jobs 1``, sandbox included;
- ``python -m fcn_lessons.grade --jobs 2``.

Targets (issue 13): ``--jobs 1`` costs at most 1.3x plain nbval per notebook, and
``--jobs 2`` is at least 1.6x faster than ``--jobs 1`` on 2 CPU cores.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAX_COST_RATIO = 1.3
MIN_SPEEDUP = 1.6


def _timed(command, cwd, env) -> float:
    start = time.perf_counter()
    run = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command[:6]))} ... failed ({run.returncode}):\n"
                           f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return seconds


def grade_throughput(*, students: int = 4, repeats: int = 1) -> dict:
    """Seconds per notebook and notebooks per minute: plain nbval, the grader with 1 and 2 jobs."""
    from fcn_lessons.grade import fixtures
    from fcn_lessons.grade.core import default_solutions
    from fcn_lessons.grade.reference import load_lessons
    from fcn_lessons.grade.sandbox import Limits, Sandbox

    if students < 1 or repeats < 1:
        raise ValueError(f"students and repeats must be >= 1, received {students} and {repeats}.")
    solutions = default_solutions()
    lessons = load_lessons(solutions)
    slug = sorted(lessons)[0]
    sandbox = Sandbox(Limits(), protected=[solutions]).probe().kind
    env = {k: v for k, v in os.environ.items() if k not in ("FCN_LESSONS_QUICK", "FCN_LESSONS_CHECK_SEED")}
    times: dict[str, list[float]] = {"plain": [], "jobs1": [], "jobs2": []}
    with tempfile.TemporaryDirectory(prefix="fcn-bench-grade-") as tmp:
        tmp = Path(tmp)
        paths = fixtures.write_class(lessons, tmp / "class", students=students, slugs=[slug])
        for repeat in range(repeats):
            plain = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
                     "-q", "-o", "addopts=", *map(str, paths)]
            times["plain"].append(_timed(plain, tmp, env))
            for jobs in (1, 2):
                out = tmp / f"grades-{jobs}-{repeat}.csv"
                command = [sys.executable, "-m", "fcn_lessons.grade", str(tmp / "class"), "--out", str(out),
                           "--jobs", str(jobs), "--seed", "1", "--solutions", str(solutions)]
                times[f"jobs{jobs}"].append(_timed(command, tmp, env))
    seconds = {k: statistics.median(v) for k, v in times.items()}
    per = {k: v / students for k, v in seconds.items()}
    ratio = seconds["jobs1"] / seconds["plain"]
    speedup = seconds["jobs1"] / seconds["jobs2"]
    result = {"lesson": slug, "students": students, "repeats": repeats, "sandbox": sandbox,
              "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
              "seconds": seconds, "seconds_per_notebook": per,
              "notebooks_per_minute": {k: 60 / v for k, v in per.items()},
              "jobs1_over_plain": ratio, "jobs1_over_jobs2": speedup,
              "targets": {"jobs1_over_plain_max": MAX_COST_RATIO, "jobs1_over_jobs2_min": MIN_SPEEDUP},
              "meets_targets": ratio <= MAX_COST_RATIO and speedup >= MIN_SPEEDUP}
    print(f"grade: {students} correct {slug} notebooks, full mode, sandbox {sandbox}, median of {repeats}")
    print("| run | s total | s per notebook | notebooks/min |")
    print("|---|---|---|---|")
    for name, label in (("plain", "plain pytest --nbval-lax"), ("jobs1", "grader --jobs 1"),
                        ("jobs2", "grader --jobs 2")):
        print(f"| {label} | {seconds[name]:.1f} | {per[name]:.1f} | {60 / per[name]:.1f} |")
    print(f"--jobs 1 / plain: {ratio:.2f} (target <= {MAX_COST_RATIO}); "
          f"--jobs 1 / --jobs 2: {speedup:.2f} (target >= {MIN_SPEEDUP})")
    return result
