"""Lesson 01's benchmark: dense evaluation versus a sliding window."""

from __future__ import annotations

import numpy as np


def dense_vs_sliding(*, canvas: int = 256, repeats: int = 7) -> dict:
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
