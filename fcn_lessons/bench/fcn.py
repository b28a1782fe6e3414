"""Lesson 04's benchmarks: the reference FCN's forward pass, and training steps of the mini FCN-32s."""

from __future__ import annotations

import gc

import numpy as np

# The paper's timings on an NVIDIA Tesla K40c, for a 500×500 input: FCN-VGG16 (= FCN-32s)
# 210 ms in Table 1 ("averaged over 20 trials"); FCN-8s about 175 ms in Table 3 (after the
# "improved implementation" of the arXiv version's changelog).
PAPER_K40C_MS = {"32s": 210.0, "8s": 175.0}
NUM_CLASSES_VOC = 21  # PASCAL VOC: 20 classes and background


def fcn_forward(*, size: int = 500, repeats: int = 5, warmup: int = 1) -> dict:
    """Milliseconds per ``size``×``size`` image of FCN-32s/16s/8s with the VGG16 backbone.

    Batch 1, random weights (the time does not depend on their values), 21 classes,
    ``predict_on_batch`` on the CPU; median of ``repeats`` after ``warmup`` calls. The
    models are built one at a time (134M weights each) and released before the next.
    """
    import keras

    from fcn_lessons import models
    from fcn_lessons.timing import median_seconds

    image = np.random.default_rng(0).uniform(-120, 140, (1, size, size, 3)).astype(np.float32)
    result = {"size": size, "repeats": repeats, "ms": {}, "weights": {}, "paper_k40c_ms": PAPER_K40C_MS}
    for variant in models.VARIANTS:
        model = models.fcn(NUM_CLASSES_VOC, variant, backbone="vgg16")
        out = model.predict_on_batch(image)
        if out.shape != (1, size, size, NUM_CLASSES_VOC):
            raise AssertionError(f"FCN-{variant} returned shape {out.shape}")
        seconds = median_seconds(lambda: model.predict_on_batch(image), repeats=repeats, warmup=warmup)
        result["ms"][variant] = 1e3 * seconds
        result["weights"][variant] = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        del model
        keras.backend.clear_session()
        gc.collect()
    print(f"fcn-forward: FCN-VGG16, one {size}×{size} image (batch 1, CPU), median of {repeats}")
    print("| variant | trainable weights | CPU ms per image | paper, K40c GPU |")
    print("|---|---|---|---|")
    for variant in models.VARIANTS:
        paper = f"{PAPER_K40C_MS[variant]:.0f} ms" if variant in PAPER_K40C_MS else "-"
        print(f"| FCN-{variant} | {result['weights'][variant] / 1e6:.1f}M | {result['ms'][variant]:.0f} | {paper} |")
    return result


def train_step(*, size: int = 128, batch_size: int = 16, steps: int = 10, warmup: int = 2) -> dict:
    """Images per second of mini_vgg FCN-32s training (``train_on_batch``, course loss and metrics).

    ``size``×``size`` course images (``data.make_shapes``), batches of ``batch_size``;
    ``warmup`` steps first (the first one compiles), then ``steps`` timed steps.
    """
    import time

    from fcn_lessons import data, models, training

    images, masks = data.make_shapes(batch_size, size, seed=0)
    x = models.preprocess_input(images)
    model = training.compile_model(models.fcn(data.NUM_CLASSES, "32s", "mini_vgg"), data.NUM_CLASSES)
    for _ in range(warmup):
        model.train_on_batch(x, masks)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, masks)
    seconds = time.perf_counter() - start
    result = {"size": size, "batch_size": batch_size, "steps": steps,
              "step_ms": 1e3 * seconds / steps, "images_per_s": batch_size * steps / seconds,
              "weights": int(model.count_params())}
    print(f"train-step: mini_vgg FCN-32s, {size}×{size} images, batch {batch_size}, {steps} steps after {warmup}")
    print("| images/s | ms per step | weights (upscore included) |")
    print("|---|---|---|")
    print(f"| {result['images_per_s']:.1f} | {result['step_ms']:.0f} | {result['weights']:,} |")
    return result
