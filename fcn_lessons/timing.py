"""Timing helper shared by the lessons and the benchmarks."""

from __future__ import annotations

import statistics
import time

from fcn_lessons import _validate


def median_seconds(fn, *, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` calls."""
    repeats = _validate.integer(repeats, "repeats", minimum=1)
    warmup = _validate.integer(warmup, "warmup", minimum=0)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
