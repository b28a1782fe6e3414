"""Benchmarks behind docs/RESULTS.md: ``python -m fcn_lessons.bench <name> [options]``.

Speed and memory targets live here, never in timed unit tests. Each benchmark prints
the machine it ran on and a Markdown table to paste into docs/RESULTS.md.

A benchmark is a function ``name(*, repeats=..., <option>=<default>, ...) -> dict`` in a
module of this package named after what it measures; ``BENCHMARKS`` maps its command
line name to ``"module:function"``. Keyword options with int/float defaults become
command line options (``--canvas 256``).
"""

from __future__ import annotations

import importlib
import os
import platform

BENCHMARKS = {
    "make-shapes": "fcn_lessons.bench.data:make_shapes_speed",
    "confusion-matrix": "fcn_lessons.bench.metrics:confusion_speed",
    "dense-vs-sliding": "fcn_lessons.bench.conv1x1:dense_vs_sliding",
    "imagenet-offline": "fcn_lessons.bench.conv1x1:imagenet_offline",
    "receptive-vgg16": "fcn_lessons.bench.receptive:vgg16_table",
    "receptive-explorer": "fcn_lessons.bench.receptive:explorer_callbacks",
    "widgets": "fcn_lessons.bench.widgets:widgets",
    "fcn-forward": "fcn_lessons.bench.fcn:fcn_forward",
    "train-step": "fcn_lessons.bench.fcn:train_step",
    "mini-vgg-choice": "fcn_lessons.bench.fcn:mini_vgg_choice",
    "grade": "fcn_lessons.bench.grade:grade_throughput",
    "pipeline": "fcn_lessons.bench.pipeline:pipeline_speed",
    "precision": "fcn_lessons.bench.pipeline:precision_speed",
    "pyramid": "fcn_lessons.bench.pyramid:pyramid",
    "pyramid-explorer": "fcn_lessons.bench.pyramid:pyramid_explorer",
}


def load(name: str):
    """The benchmark function registered as ``name``."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}.")
    module, function = BENCHMARKS[name].split(":")
    return getattr(importlib.import_module(module), function)


def machine() -> str:
    """One line: CPU model, cores visible, accelerator, Python/TF versions."""
    import fcn_lessons

    facts = fcn_lessons.setup(seed=0, verbose=False)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cpu}, {cores} cores, {' + '.join(facts['devices'])}; Python {facts['python']}, "
            f"TensorFlow {facts['tensorflow']}, Keras {facts['keras']}")
