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
    result.update(_what_bounds_it(classifier, fcn, images, stride, repeats, dense_s, sliding_s))
    print(f"dense-vs-sliding: {canvases} canvases of {canvas}×{canvas}, 32-px window, stride {stride}: "
          f"{outputs} outputs, median of {repeats}")
    print("| canvases | outputs | dense ms (µs/output) | sliding window ms (µs/output) | speed-up per output |")
    print("|---|---|---|---|---|")
    print(f"| {canvases} × {canvas}×{canvas} | {outputs} | {result['dense_ms']:.1f} "
          f"({1e3 * result['dense_ms'] / outputs:.2f}) | {result['sliding_ms']:.1f} "
          f"({1e3 * result['sliding_ms'] / outputs:.2f}) | {result['speedup']:.1f}× |")
    print()
    print("What bounds it (multiply-adds from conv1x1.work_per_output; times are medians):")
    print("| | sliding window | dense |")
    print("|---|---|---|")
    print(f"| multiply-adds per output | {result['window_madds']:,.0f} | {result['dense_madds']:,.0f} "
          f"(ratio {result['work_ratio']:.1f}×) |")
    print(f"| of which the head (fc1 + scores) | {result['head_madds']:,.0f} | {result['head_madds']:,.0f} "
          f"({100 * result['head_madds'] / result['dense_madds']:.0f}% of dense) |")
    print(f"| arithmetic rate (wall time) | {result['sliding_gmadds_per_s']:.0f} G multiply-adds/s | "
          f"{result['dense_gmadds_per_s']:.0f} G multiply-adds/s |")
    print(f"| arithmetic rate (CPU time, all threads) | {result['sliding_gmadds_per_cpu_s']:.0f} G/CPU-s | "
          f"{result['dense_gmadds_per_cpu_s']:.0f} G/CPU-s (CPU-time speed-up {result['cpu_speedup']:.1f}×) |")
    print(f"| time in the head (its layers alone, on the trunk's features) | - | "
          f"{result['dense_head_ms']:.1f} ms of {result['dense_ms']:.1f} |")
    print(f"| cutting the crops | {result['crops_ms']:.1f} ms | - |")
    print(f"| predict_on_batch calls (one call on 1 crop: {result['call_ms']:.2f} ms) | {result['calls']} | 1 |")
    return result


def _what_bounds_it(classifier, fcn, images, stride, repeats, dense_s, sliding_s) -> dict:
    """The figures that explain the speed-up: arithmetic per output, rates, head, crops, calls."""
    import keras

    from fcn_lessons import conv1x1
    from fcn_lessons.timing import median_seconds

    rows = {row["layer"]: row for row in conv1x1.work_per_output(classifier, fcn, images.shape[1:])}
    names = [layer.name for layer in classifier.layers]
    flatten = next(i for i, layer in enumerate(classifier.layers) if isinstance(layer, keras.layers.Flatten))
    head = [name for name in names[flatten:] if name in rows]
    features = keras.Model(fcn.inputs, fcn.get_layer(names[flatten - 1]).output).predict_on_batch(images)
    head_input = keras.Input(features.shape[1:])
    head_output = head_input
    for layer in fcn.layers[[layer.name for layer in fcn.layers].index(names[flatten - 1]) + 1:]:
        head_output = layer(head_output)
    head_model = keras.Model(head_input, head_output)  # fc1 and the rest, on the trunk's features
    head_s = median_seconds(lambda: head_model.predict_on_batch(features), repeats=repeats)
    window = classifier.input_shape[1]
    crops_s = median_seconds(lambda: [conv1x1.window_crops(image, window, stride) for image in images],
                             repeats=repeats)
    one_crop = images[:1, :window, :window]
    call_s = median_seconds(lambda: classifier.predict_on_batch(one_crop), repeats=max(repeats, 11))
    outputs = int(np.prod(fcn.compute_output_shape((1, *images.shape[1:]))[1:3]))
    calls = len(images) * -(-outputs // 1024)  # sliding_window_scores' default batch of 1024 crops
    total = rows["total"]
    madds = {"dense": total["dense"] * outputs * len(images), "sliding": total["window"] * outputs * len(images)}
    cpu = {"dense": _median_cpu_seconds(lambda: fcn.predict_on_batch(images), repeats),
           "sliding": _median_cpu_seconds(
               lambda: [conv1x1.sliding_window_scores(classifier, image, stride) for image in images], repeats)}
    return {"window_madds": total["window"], "dense_madds": total["dense"], "work_ratio": total["sharing"],
            "head_madds": sum(rows[name]["window"] for name in head),
            "sliding_gmadds_per_s": madds["sliding"] / sliding_s / 1e9,
            "dense_gmadds_per_s": madds["dense"] / dense_s / 1e9,
            "sliding_gmadds_per_cpu_s": madds["sliding"] / cpu["sliding"] / 1e9,
            "dense_gmadds_per_cpu_s": madds["dense"] / cpu["dense"] / 1e9,
            "cpu_speedup": cpu["sliding"] / cpu["dense"],
            "dense_head_ms": 1e3 * head_s, "crops_ms": 1e3 * crops_s,
            "call_ms": 1e3 * call_s, "calls": calls}


def _median_cpu_seconds(fn, repeats: int) -> float:
    """Median CPU time of ``fn()`` (all threads of this process), after one warm-up call.

    Unlike wall time it leaves out the time spent waiting for a core, so it stays
    meaningful on a machine that other jobs share.
    """
    import statistics
    import time

    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def imagenet_offline(*, repeats: int = 3, timeout_s: float = 2.0) -> dict:
    """Lesson 01: how long ``conv1x1.imagenet_vgg16`` takes to give up when offline.

    Points the download host at 127.0.0.1 (nothing listens on port 443 there), so the
    lesson's optional ImageNet cell says "skipped" at once instead of hanging. Target:
    under 5 s.
    """
    from fcn_lessons import conv1x1
    from fcn_lessons.timing import median_seconds

    host = conv1x1.IMAGENET_WEIGHTS_HOST
    conv1x1.IMAGENET_WEIGHTS_HOST = "127.0.0.1"
    try:
        if conv1x1.imagenet_vgg16(timeout_s=timeout_s) is not None:
            raise AssertionError("imagenet_vgg16 returned a model with no host to download from")
        seconds = median_seconds(lambda: conv1x1.imagenet_vgg16(timeout_s=timeout_s), repeats=repeats, warmup=0)
    finally:
        conv1x1.IMAGENET_WEIGHTS_HOST = host
    print(f"imagenet-offline: imagenet_vgg16(timeout_s={timeout_s:g}) with no host, median of {repeats}")
    print("| gives up after | target |")
    print("|---|---|")
    print(f"| {seconds:.3f} s | < 5 s |")
    return {"seconds": seconds, "timeout_s": timeout_s}
