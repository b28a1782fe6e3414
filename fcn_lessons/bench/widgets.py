"""Lesson 03's benchmark: how long one explorer callback takes.

A callback is what runs in the kernel when a control moves: render the frame (numpy /
OpenCV), encode it to PNG, and set the ``Image`` widget's value. Target: median at most
50 ms on a 128×128 image, so dragging a slider feels immediate.
"""

from __future__ import annotations

import statistics

TARGET_MS = 50.0


def widgets(*, repeats: int = 15) -> dict:
    """Median callback time of ``upsampling_explorer`` (every method × factor, on its default
    128×128 image, the photograph) and of ``checkerboard_explorer`` (kernel sizes 1-16 ×
    strides 1-8, sampled, cycling through its kernel weights)."""
    from fcn_lessons import widgets as explorers
    from fcn_lessons.timing import median_seconds
    from fcn_lessons.widgets import upsampling

    box = explorers.upsampling_explorer()
    table = {}
    for method in upsampling.METHODS:
        for factor in upsampling.FACTORS:
            box.controls["method"].value = method
            box.controls["factor"].value = factor
            table[method, factor] = 1e3 * median_seconds(box.update, repeats=repeats)
    board = explorers.checkerboard_explorer()
    board_ms = {}
    for kernel_size in (1, 3, 4, 7, 12, 16):
        for stride in (1, 2, 3, 5, 8):
            board.controls["kernel_size"].value = kernel_size
            board.controls["stride"].value = stride
            board.controls["weights"].value = upsampling.KERNEL_WEIGHTS[len(board_ms) % len(upsampling.KERNEL_WEIGHTS)]
            board_ms[kernel_size, stride] = 1e3 * median_seconds(board.update, repeats=repeats)

    print(f"widgets: one callback (render + PNG encode + Image.value), {upsampling.IMAGE_SIZE}×"
          f"{upsampling.IMAGE_SIZE} image, median of {repeats} calls; target <= {TARGET_MS:.0f} ms")
    print("| upsampling_explorer method | " + " | ".join(f"×{f} ms" for f in upsampling.FACTORS) + " |")
    print("|---|" + "---|" * len(upsampling.FACTORS))
    for method in upsampling.METHODS:
        print(f"| {method} | " + " | ".join(f"{table[method, f]:.1f}" for f in upsampling.FACTORS) + " |")
    result = {
        "explorer_median_ms": statistics.median(table.values()),
        "explorer_max_ms": max(table.values()),
        "checkerboard_median_ms": statistics.median(board_ms.values()),
        "checkerboard_max_ms": max(board_ms.values()),
    }
    print(f"| checkerboard_explorer, {len(board_ms)} (kernel, stride) settings | median "
          f"{result['checkerboard_median_ms']:.1f}, max {result['checkerboard_max_ms']:.1f} | | |")
    worst = max(result["explorer_max_ms"], result["checkerboard_max_ms"])
    print(f"upsampling_explorer: median {result['explorer_median_ms']:.1f} ms, slowest setting "
          f"{result['explorer_max_ms']:.1f} ms; slowest of all {worst:.1f} ms "
          f"({'within' if worst <= TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target)")
    return result
