"""Lesson 04's benchmarks: the reference FCN's forward pass, and training steps of the mini FCN-32s."""

from __future__ import annotations

import gc

import numpy as np

# The paper's timings on an NVIDIA Tesla K40c: FCN-VGG16 (= FCN-32s) 210 ms for a 500×500
# input in Table 1 ("averaged over 20 trials"); FCN-8s about 175 ms of inference per PASCAL
# VOC image in Table 3 (VOC images are at most 500×500).
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


# The trunks compared when choosing mini_vgg (blocks of (channels, convolutions), batch norm).
MINI_VGG_CANDIDATES = {
    "chosen: 16-32-64-64-64, 1-1-2-2-2 convs, BN": (((16, 1), (32, 1), (64, 2), (64, 2), (64, 2)), True),
    "narrower: 8-16-32-64-64, BN": (((8, 1), (16, 1), (32, 2), (64, 2), (64, 2)), True),
    "shallower: 16-32-32-64-64, one conv each, BN": (((16, 1), (32, 1), (32, 1), (64, 1), (64, 1)), True),
    "chosen widths, no batch norm": (((16, 1), (32, 1), (64, 2), (64, 2), (64, 2)), False),
}


def mini_vgg_choice(*, crops: int = 8000, crop_epochs: int = 8, images: int = 600, epochs: int = 6,
                    size: int = 128) -> dict:
    """Why mini_vgg is what it is: each candidate trunk pretrained on crops, then fine-tuned as FCN-32s.

    For each of ``MINI_VGG_CANDIDATES``: ``mini_vgg_classifier`` trained on ``crops``
    32×32 crops for ``crop_epochs`` (Adam, batch 32), its accuracy on 500 new crops; then
    ``fcn(5, "32s", weights=classifier)`` fine-tuned on ``images`` course images of
    ``size`` for ``epochs`` (Adam 1e-3, batch 16), its mean IU on 200 new images; with
    the seconds each took. Slow (minutes per candidate): run it when changing mini_vgg.
    """
    import time

    import keras

    from fcn_lessons import data, models, training

    saved = models.MINI_VGG_BLOCKS, models.MINI_VGG_BATCH_NORM
    train_crops, crop_labels = data.make_shape_crops(crops, models.MINI_VGG_CROP, seed=1)
    test_crops, test_labels = data.make_shape_crops(500, models.MINI_VGG_CROP, seed=2)
    train_images, train_masks = data.make_shapes(images, size, seed=1)
    test_images, test_masks = data.make_shapes(200, size, seed=2)
    x, x_test = models.preprocess_input(train_images), models.preprocess_input(test_images)
    rows = {}
    try:
        for name, (blocks, batch_norm) in MINI_VGG_CANDIDATES.items():
            models.MINI_VGG_BLOCKS, models.MINI_VGG_BATCH_NORM = blocks, batch_norm
            keras.utils.set_random_seed(0)
            classifier = models.mini_vgg_classifier()
            classifier.compile(keras.optimizers.Adam(), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                               metrics=["accuracy"])
            start = time.perf_counter()
            classifier.fit(models.preprocess_input(train_crops), crop_labels, epochs=crop_epochs, batch_size=32,
                           verbose=0)
            crop_s = time.perf_counter() - start
            accuracy = classifier.evaluate(models.preprocess_input(test_crops), test_labels, verbose=0)[1]
            fcn = training.compile_model(models.fcn(data.NUM_CLASSES, "32s", weights=classifier), data.NUM_CLASSES)
            start = time.perf_counter()
            training.fit(fcn, x, train_masks, epochs=epochs, batch_size=16, verbose="silent")
            rows[name] = {"weights": int(classifier.count_params()), "crop_accuracy": float(accuracy),
                          "crop_s": crop_s, "fcn_s": time.perf_counter() - start,
                          "mean_iou": training.evaluate(fcn, x_test, test_masks, data.NUM_CLASSES)["mean_iou"]}
    finally:
        models.MINI_VGG_BLOCKS, models.MINI_VGG_BATCH_NORM = saved
    print(f"mini-vgg-choice: {crops} crops × {crop_epochs} epochs, then FCN-32s on {images} images of {size}² × "
          f"{epochs} epochs")
    print("| trunk | classifier weights | crop accuracy | FCN-32s mean IU | pretraining s | fine-tuning s |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['weights']:,} | {r['crop_accuracy']:.3f} | {r['mean_iou']:.3f} | {r['crop_s']:.0f} | "
              f"{r['fcn_s']:.0f} |")
    return {"crops": crops, "crop_epochs": crop_epochs, "images": images, "epochs": epochs, "candidates": rows}
