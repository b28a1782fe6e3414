"""Lesson 01's benchmark: dense evaluation versus a sliding window."""

from __future__ import annotations

import numpy as np


def dense_vs_sliding(*, canvas: int = 256, canvases: int = 4, repeats: int = 7) -> dict:
    """Lesson 01: convolutionalized classifier vs the classifier on every window.

    Both produce the same score maps (asserted). Both sides are batched, so per-call
    overhead does not decide the result: the dense model scores ``canvases`` images in
    one call, the sliding window sends all their crops through ``predict_on_batch`` in
    batches of 1024 (a strong baseline, not a Python loop of single calls). Times come
    from ``conv1x1.time_dense_and_sliding`` (the lesson's own measurement), as wall-clock
    and as CPU time; the second table explains the ratio (arithmetic per output, the
    head, per-layer arithmetic rates, crop cutting, calls).
    """
    from fcn_lessons import conv1x1, data, models

    classifier = models.crop_classifier()
    stride = 4  # two 2×2 poolings in crop_classifier's trunk
    fcn = conv1x1.convolutionalize(classifier)
    images = data.make_shapes(canvases, image_size=canvas, seed=0)[0].astype(np.float32)
    dense_maps = np.asarray(fcn.predict_on_batch(images))
    sliding_maps = np.stack([conv1x1.sliding_window_scores(classifier, image, stride) for image in images])
    if not np.allclose(dense_maps, sliding_maps, atol=1e-5):
        raise AssertionError("dense and sliding-window score maps differ")
    timing = conv1x1.time_dense_and_sliding(classifier, fcn, images, stride, repeats=repeats)
    outputs = timing["outputs"]
    result = {"canvas": canvas, "canvases": canvases, "outputs": outputs,
              "dense_ms": 1e3 * timing["dense_s"], "sliding_ms": 1e3 * timing["sliding_s"],
              "speedup": timing["sliding_s"] / timing["dense_s"],
              "dense_cpu_ms": 1e3 * timing["dense_cpu_s"], "sliding_cpu_ms": 1e3 * timing["sliding_cpu_s"],
              "cpu_speedup": timing["sliding_cpu_s"] / timing["dense_cpu_s"],
              "crops_cpu_ms": 1e3 * timing["crops_cpu_s"], "call_cpu_ms": 1e3 * timing["call_cpu_s"],
              "calls": timing["calls"]}
    result.update(_what_bounds_it(classifier, fcn, images, repeats, timing))
    result["layer_rates"] = _layer_rates(classifier, fcn, images, stride, repeats)
    print(f"dense-vs-sliding: {canvases} canvases of {canvas}×{canvas}, 32-px window, stride {stride}: "
          f"{outputs} outputs, median of {repeats}")
    print("| canvases | outputs | dense ms (µs/output) | sliding window ms (µs/output) | speed-up, wall-clock "
          "| speed-up, CPU time |")
    print("|---|---|---|---|---|---|")
    print(f"| {canvases} × {canvas}×{canvas} | {outputs} | {result['dense_ms']:.1f} "
          f"({1e3 * result['dense_ms'] / outputs:.2f}) | {result['sliding_ms']:.1f} "
          f"({1e3 * result['sliding_ms'] / outputs:.2f}) | {result['speedup']:.1f}× | {result['cpu_speedup']:.1f}× |")
    print()
    print("What bounds it (multiply-adds from conv1x1.work_per_output; times are medians):")
    print("| | sliding window | dense |")
    print("|---|---|---|")
    print(f"| multiply-adds per output | {result['window_madds']:,.0f} | {result['dense_madds']:,.0f} "
          f"(ratio {result['work_ratio']:.1f}×) |")
    print(f"| of which the head (fc1 + scores) | {result['head_madds']:,.0f} | {result['head_madds']:,.0f} "
          f"({100 * result['head_madds'] / result['dense_madds']:.0f}% of dense) |")
    print(f"| CPU time, {canvases} canvases | {result['sliding_cpu_ms']:.1f} ms | {result['dense_cpu_ms']:.1f} ms |")
    print(f"| arithmetic rate (CPU time, all threads) | {result['sliding_gmadds_per_cpu_s']:.0f} G/CPU-s | "
          f"{result['dense_gmadds_per_cpu_s']:.0f} G/CPU-s |")
    print(f"| time in the head (its layers alone, on the trunk's features) | - | "
          f"{result['dense_head_ms']:.1f} ms of {result['dense_ms']:.1f} |")
    print(f"| cutting the crops (CPU time) | {result['crops_cpu_ms']:.1f} ms | - |")
    print(f"| predict_on_batch calls (one call on 1 crop: {result['call_cpu_ms']:.2f} ms CPU) | "
          f"{result['calls']} | 1 |")
    print()
    print("Each layer alone (CPU time less call overhead; the sliding window's crops in batches of 1024, the "
          "dense model's canvases in one call):")
    print("| layer | sliding window ms (G/CPU-s) | dense ms (G/CPU-s) | time ratio | work ratio |")
    print("|---|---|---|---|---|")
    sharing = {row["layer"]: row["sharing"] for row in conv1x1.work_per_output(classifier, fcn, images.shape[1:])}
    for row in result["layer_rates"]:
        print(f"| {row['layer']} | {row['sliding_cpu_ms']:.1f} ({row['sliding_gmadds_per_cpu_s']:.0f}) | "
              f"{row['dense_cpu_ms']:.1f} ({row['dense_gmadds_per_cpu_s']:.0f}) | "
              f"{row['sliding_cpu_ms'] / row['dense_cpu_ms']:.1f}× | {sharing[row['layer']]:.1f}× |")
    return result


def _what_bounds_it(classifier, fcn, images, repeats, timing) -> dict:
    """The figures that explain the speed-up: arithmetic per output, CPU-time rates, the head."""
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
    total = rows["total"]
    madds = {side: total[key] * timing["outputs"] for side, key in (("dense", "dense"), ("sliding", "window"))}
    return {"window_madds": total["window"], "dense_madds": total["dense"], "work_ratio": total["sharing"],
            "head_madds": sum(rows[name]["window"] for name in head),
            "sliding_gmadds_per_cpu_s": madds["sliding"] / timing["sliding_cpu_s"] / 1e9,
            "dense_gmadds_per_cpu_s": madds["dense"] / timing["dense_cpu_s"] / 1e9,
            "dense_head_ms": 1e3 * head_s}


def _total_layer():
    import keras

    class Total(keras.layers.Layer):
        """Sum over everything but the batch axis: a small output for the timed models."""

        def call(self, x):
            return keras.ops.sum(keras.ops.reshape(x, (keras.ops.shape(x)[0], -1)), axis=1)

    return Total


def _Total():  # noqa: N802 - a layer instance, named like the class it makes
    return _total_layer()()


def _layer_rates(classifier, fcn, images, stride, repeats) -> list[dict]:
    """CPU time of each Conv2D/Dense layer run alone, on each side's own inputs, less call overhead.

    Sliding window: the layer of the classifier on the inputs it receives from all crops of
    ``images`` (batches of 1024, as ``sliding_window_scores`` sends them). Dense: the same
    layer of the convolutionalized model on its input from the canvases, in one call. Each
    layer's output is reduced to one number per example inside the timed model (copying a
    large output back to numpy, which the real models never do between layers, is not
    timed), and the CPU time of as many calls of a model that does nothing is subtracted.
    """
    import keras

    from fcn_lessons import conv1x1

    window = classifier.input_shape[1]
    crops = np.concatenate([conv1x1.window_crops(image, window, stride).reshape(-1, window, window, images.shape[-1])
                            for image in images])
    per_window = conv1x1.multiply_adds(classifier, tuple(classifier.input_shape[1:]))
    dense_counts = {name: count * len(images) for name, count in conv1x1.multiply_adds(fcn, images.shape[1:]).items()}
    nothing = keras.Sequential([keras.Input((4,)), _Total()])
    call_s = conv1x1._median_cpu_seconds(lambda: nothing.predict_on_batch(np.zeros((1, 4), np.float32)),
                                         max(repeats, 11))
    rows = []
    for name in per_window:
        crop_layer, dense_layer = classifier.get_layer(name), fcn.get_layer(name)
        crop_inputs = keras.Model(classifier.inputs, crop_layer.input).predict(crops, batch_size=1024, verbose=0)
        dense_inputs = keras.Model(fcn.inputs, dense_layer.input).predict_on_batch(images)
        crop_alone = keras.Sequential([keras.Input(crop_inputs.shape[1:]), crop_layer, _Total()])
        dense_alone = keras.Sequential([keras.Input(dense_inputs.shape[1:]), dense_layer, _Total()])
        batches = range(0, len(crop_inputs), 1024)
        crop_s = conv1x1._median_cpu_seconds(
            lambda: [crop_alone.predict_on_batch(crop_inputs[i:i + 1024]) for i in batches], repeats)
        dense_s = conv1x1._median_cpu_seconds(lambda: dense_alone.predict_on_batch(dense_inputs), repeats)
        crop_s, dense_s = max(crop_s - len(batches) * call_s, 1e-9), max(dense_s - call_s, 1e-9)
        rows.append({"layer": name, "sliding_cpu_ms": 1e3 * crop_s, "dense_cpu_ms": 1e3 * dense_s,
                     "sliding_gmadds_per_cpu_s": per_window[name] * len(crops) / crop_s / 1e9,
                     "dense_gmadds_per_cpu_s": dense_counts[name] / dense_s / 1e9})
    return rows


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
