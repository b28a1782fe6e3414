"""Lesson 00's benchmark: the confusion matrix behind every score."""

from __future__ import annotations

import numpy as np


def confusion_speed(*, num_maps: int = 100, map_size: int = 512, num_classes: int = 21,
                    repeats: int = 5) -> dict:
    """Lesson 00: ``metrics.confusion_matrix`` of ``num_maps`` label maps (target < 0.5 s for 100 of 512×512).

    Random uint8 labels (10% void) and predictions, VOC's 21 classes; the result is
    checked against a plain bincount before timing.
    """
    from fcn_lessons import metrics
    from fcn_lessons.timing import median_seconds

    rng = np.random.default_rng(0)
    shape = (num_maps, map_size, map_size)
    labels = rng.integers(0, num_classes, size=shape, dtype=np.uint8)
    labels[rng.random(shape) < 0.1] = metrics.VOID_LABEL
    predictions = rng.integers(0, num_classes, size=shape, dtype=np.uint8)
    keep = labels != metrics.VOID_LABEL
    plain = np.bincount(num_classes * labels[keep].astype(np.int64) + predictions[keep],
                        minlength=num_classes**2).reshape(num_classes, num_classes)
    if not np.array_equal(metrics.confusion_matrix(labels, predictions, num_classes), plain):
        raise AssertionError("confusion_matrix differs from a plain bincount")
    seconds = median_seconds(lambda: metrics.confusion_matrix(labels, predictions, num_classes), repeats=repeats)
    pixels = labels.size
    result = {"num_maps": num_maps, "map_size": map_size, "num_classes": num_classes, "seconds": seconds,
              "ns_per_pixel": 1e9 * seconds / pixels}
    print(f"confusion-matrix: {num_maps} label maps of {map_size}×{map_size} ({pixels / 1e6:.1f} M pixels, 10% void), "
          f"{num_classes} classes, uint8 inputs, median of {repeats}")
    print("| label maps | pixels | median s | ns/pixel | target |")
    print(f"| {num_maps} × {map_size}×{map_size} | {pixels / 1e6:.1f} M | {seconds:.3f} | {result['ns_per_pixel']:.1f} "
          f"| < 0.5 s for 100 × 512×512 |")
    return result
