"""Lesson 06's benchmark: one training epoch of the course FCN fed by tf.data or by the naive loader."""

from __future__ import annotations

import tempfile
import time

TARGET_SPEEDUP = 10.0  # issue 11: the tf.data pipeline at least 10× the post's loader, on 2 CPU cores


def _epoch_seconds(model, inputs, **fit_options) -> float:
    start = time.perf_counter()
    model.fit(inputs, epochs=1, verbose=0, shuffle=False, **fit_options)
    return time.perf_counter() - start


def _drain_seconds(iterable, steps=None) -> float:
    start = time.perf_counter()
    for i, _ in enumerate(iterable):
        if steps is not None and i + 1 >= steps:
            break
    return time.perf_counter() - start


def pipeline_speed(*, num_images: int = 64, image_size: int = 64, batch_size: int = 16, repeats: int = 1) -> dict:
    """Images per second of one ``fit`` epoch of FCN-8s (mini_vgg), fed three ways, and where the time goes.

    - ``naive``: ``pipeline.NaiveLoader`` as the blog post uses it: one random file per
      step (batch 1), read, decoded and augmented in Python, nothing ahead;
    - ``naive_batched``: the same loader with the pipeline's batch size (isolates batching);
    - ``tf_data``: ``pipeline.from_voc`` (decoded once in parallel, joint augmentation in a
      parallel map, batches prefetched).

    Every variant is traced once before it is timed (its first epoch builds the graph).
    The breakdown times each input alone (no model) and the model alone (batches already
    in memory): a feed is input-bound when its input time approaches its epoch time.
    """
    import numpy as np

    import fcn_lessons
    from fcn_lessons import data, models, pipeline, training

    fcn_lessons.setup(seed=0, verbose=False)
    images, masks = data.make_shapes(num_images, image_size, seed=0)
    steps = num_images // batch_size
    with tempfile.TemporaryDirectory() as root:
        data.write_voc(root, "train", images, masks, class_names=data.CLASS_NAMES)
        model = training.compile_model(models.fcn(len(data.CLASS_NAMES), "8s", "mini_vgg"), len(data.CLASS_NAMES))
        start = time.perf_counter()
        fast = pipeline.from_voc(root, "train", batch_size=batch_size, augment=True, drop_remainder=True)
        decode_once = time.perf_counter() - start
        naive = pipeline.NaiveLoader(root, "train", augment=True)
        feeds = {
            "naive": (lambda: naive.batches(batch_size=1), {"steps_per_epoch": steps * batch_size}),
            "naive_batched": (lambda: naive.batches(batch_size=batch_size), {"steps_per_epoch": steps}),
            "tf_data": (lambda: fast, {}),
        }
        seconds = {}
        for name, (make, options) in feeds.items():
            _epoch_seconds(model, make(), **options)  # trace this input's shapes once
            seconds[name] = min(_epoch_seconds(model, make(), **options) for _ in range(repeats))
        inputs_only = {
            "naive": _drain_seconds(naive.batches(batch_size=1), steps * batch_size),
            "naive_batched": _drain_seconds(naive.batches(batch_size=batch_size), steps),
            "tf_data": _drain_seconds(fast),
        }
        in_memory = [(x.numpy(), y.numpy()) for x, y in fast]
        import tensorflow as tf

        cached = tf.data.Dataset.from_tensor_slices((np.concatenate([x for x, _ in in_memory]),
                                                     np.concatenate([y for _, y in in_memory]))).batch(batch_size)
        _epoch_seconds(model, cached)
        model_only = min(_epoch_seconds(model, cached) for _ in range(repeats))
    count = steps * batch_size
    result = {"num_images": count, "image_size": image_size, "batch_size": batch_size,
              "decode_once_seconds": decode_once,
              **{f"{k}_images_per_second": count / v for k, v in seconds.items()},
              **{f"{k}_input_seconds": v for k, v in inputs_only.items()},
              **{f"{k}_epoch_seconds": v for k, v in seconds.items()},
              "model_only_epoch_seconds": model_only,
              "speedup_vs_naive": seconds["naive"] / seconds["tf_data"],
              "speedup_vs_naive_batched": seconds["naive_batched"] / seconds["tf_data"],
              "target_speedup": TARGET_SPEEDUP}
    print(f"pipeline: one epoch of FCN-8s (mini_vgg) training on {count} scenes of {image_size}×{image_size} "
          f"(a VOC-layout folder), best of {repeats}; the model alone takes {model_only:.2f} s per epoch")
    print("| feed | batch | images/s | epoch s | input alone s |")
    print("|---|---|---|---|---|")
    for name, batch in (("naive", 1), ("naive_batched", batch_size), ("tf_data", batch_size)):
        print(f"| {name} | {batch} | {count / seconds[name]:.1f} | {seconds[name]:.2f} | {inputs_only[name]:.2f} |")
    print(f"tf.data / naive: {result['speedup_vs_naive']:.1f}× (target ≥ {TARGET_SPEEDUP:g}×); "
          f"tf.data / naive at the same batch: {result['speedup_vs_naive_batched']:.1f}×; "
          f"decoding the folder once: {decode_once:.2f} s")
    return result
