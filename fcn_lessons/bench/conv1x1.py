"""Lesson 01's benchmark: dense evaluation versus a sliding window."""

from __future__ import annotations

import numpy as np


def dense_vs_sliding(*, canvas: int = 256, canvases: int = 4, repeats: int = 7) -> dict:
    """Lesson 01: convolutionalized classifier vs the classifier on every window.

    Both produce the same score maps (asserted). Both sides are batched, so per-call
    overhead does not decide the result: the dense model scores ``canvases`` images in
    one call, the sliding window sends all their crops through ``predict_on_batch`` in
    batches of 1024 (a strong baseline, not a Python loop of single calls).
    """
    from fcn_lessons import conv1x1, data, models
    from fcn_lessons.timing import median_seconds

    classifier = models.crop_classifier()
    stride = 4  # two 2×2 poolings in crop_classifier's trunk
    fcn = conv1x1.convolutionalize(classifier)
    images = data.make_shapes(canvases, image_size=canvas, seed=0)[0].astype(np.float32)

    def sliding():
        return [conv1x1.sliding_window_scores(classifier, image, stride) for image in images]

    dense_maps = np.asarray(fcn.predict_on_batch(images))
    if not np.allclose(dense_maps, np.stack(sliding()), atol=1e-5):
        raise AssertionError("dense and sliding-window score maps differ")
    dense_s = median_seconds(lambda: fcn.predict_on_batch(images), repeats=repeats)
    sliding_s = median_seconds(sliding, repeats=repeats)
    outputs = int(np.prod(dense_maps.shape[:3]))
    result = {"canvas": canvas, "outputs": outputs, "dense_ms": 1e3 * dense_s,
              "sliding_ms": 1e3 * sliding_s, "speedup": sliding_s / dense_s}
    print(f"dense-vs-sliding: {canvases} canvases of {canvas}×{canvas}, 32-px window, stride {stride}: "
          f"{outputs} outputs, median of {repeats}")
    print("| canvases | outputs | dense ms (µs/output) | sliding window ms (µs/output) | speed-up per output |")
    print("|---|---|---|---|---|")
    print(f"| {canvases} × {canvas}×{canvas} | {outputs} | {result['dense_ms']:.1f} "
          f"({1e3 * result['dense_ms'] / outputs:.2f}) | {result['sliding_ms']:.1f} "
          f"({1e3 * result['sliding_ms'] / outputs:.2f}) | {result['speedup']:.1f}× |")
    return result
