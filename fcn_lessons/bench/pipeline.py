"""Lesson 06's benchmark: one training epoch of the course FCN fed by tf.data or by the naive loader."""

from __future__ import annotations

import tempfile
import time

TARGET_SPEEDUP = 10.0  # issue 11: the tf.data pipeline at least 10× the post's loader, on 2 CPU cores


def _epoch_seconds(model, inputs, **fit_options) -> float:
    start = time.perf_counter()
    model.fit(inputs, epochs=1, verbose=0, **{"shuffle": False, **fit_options})
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

    Every variant is traced once, on one step, before it is timed (the first step builds the graph).
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
            _epoch_seconds(model, make(), steps_per_epoch=1)  # trace this input's shapes once (one step)
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
        _epoch_seconds(model, cached, steps_per_epoch=1)  # trace once
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


PRECISION_SETTINGS = (("float32", False), ("mixed_float16", False), ("mixed_bfloat16", False),
                      ("float32", True), ("mixed_bfloat16", True))


def _train_images_per_second(policy: str, jit_compile: bool, images, masks, batch_size: int, repeats: int) -> float:
    import keras
    from tensorflow.python.framework import config as tf_config  # the only switch back, and private

    from fcn_lessons import models, training

    keras.mixed_precision.set_global_policy(policy)
    deterministic = tf_config.is_op_determinism_enabled()
    if jit_compile:  # Keras 3 refuses XLA while TensorFlow's op determinism is on (trainer.model_supports_jit)
        tf_config.disable_op_determinism()
    try:
        keras.utils.set_random_seed(0)
        model = training.compile_model(models.fcn(5, "8s", "mini_vgg"), 5)
        model.jit_compile = jit_compile
        model.fit(images[:batch_size], masks[:batch_size], batch_size=batch_size, epochs=1, verbose=0)  # trace once
        best = min(_epoch_seconds(model, images, y=masks, batch_size=batch_size) for _ in range(repeats))
        if jit_compile and not model.jit_compile:
            raise RuntimeError("Keras switched XLA off for this model; the figure would not be XLA's.")
    finally:
        keras.mixed_precision.set_global_policy("float32")
        if deterministic:
            tf_config.enable_op_determinism()
    return len(images) / best


def precision_speed(*, num_images: int = 64, image_size: int = 64, batch_size: int = 16, repeats: int = 1,
                    settings=PRECISION_SETTINGS) -> dict:
    """Training images per second of FCN-8s (mini_vgg) under each dtype policy, with and without XLA.

    ``settings``: (policy, jit_compile) pairs to measure, float32 without XLA first (the
    reference of the "× float32" column); every setting builds and traces its own model,
    so fewer settings (quick mode) cost less.

    Batches come from memory (no input pipeline), so only the model's step is timed. On a
    CPU, float16 has no fast arithmetic (TensorFlow's mixed-precision guide: the CPU "runs
    float16 operations slower than float32 operations"); bfloat16 is fast only on CPUs with
    bfloat16 instructions (AMX or AVX512_BF16), and then only where oneDNN uses them.
    """
    import fcn_lessons
    from fcn_lessons import data

    settings = tuple((str(policy), bool(jit)) for policy, jit in settings)
    if not settings or settings[0] != ("float32", False):
        raise ValueError(f"settings must start with ('float32', False), the reference; received {settings!r}.")
    unknown = sorted({policy for policy, _ in settings} - {policy for policy, _ in PRECISION_SETTINGS})
    if unknown:
        raise ValueError(f"settings: unknown policies {unknown}; known: float32, mixed_float16, mixed_bfloat16.")
    facts = fcn_lessons.setup(seed=0, verbose=False)
    images, masks = data.make_shapes(num_images, image_size, seed=0)
    images = images.astype("float32") / 255.0
    result = {"device": " + ".join(facts["devices"]), "num_images": num_images, "image_size": image_size,
              "batch_size": batch_size}
    for policy, jit in settings:
        key = f"{policy}{'_xla' if jit else ''}_images_per_second"
        result[key] = _train_images_per_second(policy, jit, images, masks, batch_size, repeats)
    base = result["float32_images_per_second"]
    print(f"precision: FCN-8s (mini_vgg) training, {num_images} scenes of {image_size}×{image_size} from memory, "
          f"batch {batch_size}, on {result['device']}")
    print("| policy | XLA | images/s | × float32 |")
    print("|---|---|---|---|")
    for policy, jit in settings:
        value = result[f"{policy}{'_xla' if jit else ''}_images_per_second"]
        print(f"| {policy} | {'yes' if jit else 'no'} | {value:.1f} | {value / base:.2f} |")
    return result


def batch_speed(*, num_images: int = 64, image_size: int = 64, repeats: int = 1, batch_sizes=(1, 4, 16, 64)) -> dict:
    """Training images per second of FCN-8s (mini_vgg) in float32 for several batch sizes."""
    import fcn_lessons
    from fcn_lessons import data

    fcn_lessons.setup(seed=0, verbose=False)
    images, masks = data.make_shapes(num_images, image_size, seed=0)
    images = images.astype("float32") / 255.0
    result = {f"batch_{b}_images_per_second": _train_images_per_second("float32", False, images, masks, b, repeats)
              for b in batch_sizes}
    print("| batch | images/s |")
    print("|---|---|")
    for b in batch_sizes:
        print(f"| {b} | {result[f'batch_{b}_images_per_second']:.1f} |")
    return result


def naive_breakdown(*, num_images: int = 32, image_size: int = 64) -> dict:
    """Seconds of one naive-loader epoch (batch 1, the blog post's way) spent on the input and on the model.

    ``input_seconds``: the loader alone (read, decode, augment, stack); ``model_seconds``:
    the same number of training steps on batches already in memory.
    """
    import fcn_lessons
    from fcn_lessons import data, models, pipeline, training

    fcn_lessons.setup(seed=0, verbose=False)
    images, masks = data.make_shapes(num_images, image_size, seed=0)
    with tempfile.TemporaryDirectory() as root:
        data.write_voc(root, "train", images, masks, class_names=data.CLASS_NAMES)
        loader = pipeline.NaiveLoader(root, "train", augment=True)
        input_seconds = _drain_seconds(loader.batches(batch_size=1), num_images)
        batches = [loader.load_data(1) for _ in range(num_images)]
    model = training.compile_model(models.fcn(len(data.CLASS_NAMES), "8s", "mini_vgg"), len(data.CLASS_NAMES))
    def replay():
        yield from batches

    model.fit(replay(), steps_per_epoch=2, verbose=0, shuffle=False)  # trace once
    model_seconds = _epoch_seconds(model, replay(), steps_per_epoch=num_images)
    return {"num_images": num_images, "input_seconds": input_seconds, "model_seconds": model_seconds}
