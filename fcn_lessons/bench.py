"""Benchmarks behind docs/RESULTS.md: ``python -m fcn_lessons.bench <name> [options]``.

Speed targets live here, not in unit tests. Each benchmark prints the machine it ran
on and a Markdown table row to paste into docs/RESULTS.md.

    python -m fcn_lessons.bench dense-vs-sliding [--canvas 256] [--repeats 7]
    python -m fcn_lessons.bench all
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np


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


def dense_vs_sliding(canvas: int = 256, repeats: int = 7) -> dict:
    """Lesson 01: convolutionalized classifier vs the classifier on every window.

    Both produce the same score map (asserted). The sliding window is a strong
    baseline: all crops batched through ``predict_on_batch``, not a Python loop of calls.
    """
    from fcn_lessons import conv1x1, data, models
    from fcn_lessons.timing import median_seconds

    classifier = models.crop_classifier()
    stride = 4  # two 2×2 poolings in crop_classifier's trunk
    fcn = conv1x1.convolutionalize(classifier)
    image = data.make_shapes(1, image_size=canvas, seed=0)[0][0].astype(np.float32)
    dense_map = np.asarray(fcn.predict_on_batch(image[None]))[0]
    sliding_map = conv1x1.sliding_window_scores(classifier, image, stride)
    if dense_map.shape != sliding_map.shape or not np.allclose(dense_map, sliding_map, atol=1e-5):
        raise AssertionError("dense and sliding-window score maps differ")
    dense_s = median_seconds(lambda: fcn.predict_on_batch(image[None]), repeats=repeats)
    sliding_s = median_seconds(lambda: conv1x1.sliding_window_scores(classifier, image, stride),
                               repeats=repeats)
    outputs = dense_map.shape[0] * dense_map.shape[1]
    result = {"canvas": canvas, "outputs": outputs, "dense_ms": 1e3 * dense_s,
              "sliding_ms": 1e3 * sliding_s, "speedup": sliding_s / dense_s}
    print(f"dense-vs-sliding, {canvas}×{canvas} canvas, 32-px window, stride {stride}: "
          f"{outputs} outputs, median of {repeats}")
    print("| canvas | outputs | dense ms (µs/output) | sliding ms (µs/output) | speed-up per output |")
    print(f"| {canvas}×{canvas} | {outputs} | {result['dense_ms']:.1f} ({1e3 * result['dense_ms'] / outputs:.2f}) "
          f"| {result['sliding_ms']:.1f} ({1e3 * result['sliding_ms'] / outputs:.2f}) | {result['speedup']:.1f}× |")
    return result


BENCHMARKS = {"dense-vs-sliding": dense_vs_sliding}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fcn_lessons.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--canvas", type=int, default=256, help="dense-vs-sliding: canvas side")
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions (median)")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    for name in names:
        if name == "dense-vs-sliding":
            dense_vs_sliding(canvas=args.canvas, repeats=args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
