"""Lesson 05's benchmarks: the 32s / 16s / 8s comparison, and the skip explorer's callback.

``pyramid``: FCN-32s, then FCN-16s and FCN-8s, staged (mini_vgg, the lesson's learner budget,
``fcn_lessons.pyramid.LEARNER``) on the course data; the comparison table, and per variant
``mean_iou``, ``trimap_iou_<w>px``, ``train_s`` (seconds of training up to and including
that stage: a staged 8s counts the 32s and 16s stages it started from), ``cpu_s`` (the
process's CPU seconds for the same stages, every thread counted) and ``params`` (trainable
weights).

``pyramid-explorer``: median time of one skip-explorer callback (add the precomputed terms,
argmax, draw, PNG-encode, set the Image), target at most 50 ms.
"""

from __future__ import annotations

import statistics

TARGET_MS = 50.0


def pyramid(*, quick: int = 0, seed: int = 0) -> dict:
    """The lesson's staged comparison; ``--quick 1`` runs the quick-mode budget instead."""
    import fcn_lessons
    from fcn_lessons import data, pyramid as skip_pyramid

    fcn_lessons.setup(seed=seed, verbose=False)  # op determinism, as in the lesson: the same figures
    budget = skip_pyramid.QUICK if quick else skip_pyramid.LEARNER
    results = skip_pyramid.staged_scores(budget, seed=seed, log=print)
    keys = ("mean_iou", "pixel_accuracy", "per_class_iou", "train_s", "cpu_s", "pretrain_s",
            *(f"trimap_iou_{w}px" for w in skip_pyramid.TRIMAP_WIDTHS))
    figures = {variant: {**{key: row[key] for key in keys}, "params": row["weights"], "epochs": budget.epochs[variant]}
               for variant, row in results.items()}
    print(f"pyramid: staged FCN-32s -> 16s -> 8s, mini_vgg, {budget.num_train} training and {budget.num_test} test "
          f"images of {budget.image_size}×{budget.image_size}, epochs per stage {budget.epochs}, classifier "
          f"pretraining on {budget.num_crops} crops ({figures['32s']['pretrain_s']:.0f} s, not in train_s), "
          f"seed {seed}")
    print(skip_pyramid.comparison_table({f"FCN-{v}": row for v, row in results.items()}, class_names=data.CLASS_NAMES))
    return figures


def random_skip_fcns(*, seed: int = 0) -> dict:
    """{variant: untrained ``models.fcn`` (mini_vgg, course classes)} with normal random score layers.

    Random skip scores make every switch of the skip explorer change the picture (zero-
    initialised ones would not); the benchmark and the explorer's browser test use them.
    """
    import numpy as np

    from fcn_lessons import data, models

    rng = np.random.default_rng(seed)
    fcns = {}
    for variant in models.VARIANTS:
        model = models.fcn(data.NUM_CLASSES, variant)
        for layer in model.layers:
            if layer.name.startswith("score_"):
                layer.set_weights([rng.normal(0, 1, w.shape).astype(w.dtype) for w in layer.get_weights()])
        fcns[variant] = model
    return fcns


def pyramid_explorer(*, repeats: int = 15, size: int = 128, scenes: int = 4) -> dict:
    """Median milliseconds of one skip-explorer callback, over every variant and switch setting.

    The models are untrained (random skip scores): the time depends on the image size, not on
    the weights.
    """
    from fcn_lessons import data, models, widgets
    from fcn_lessons.timing import median_seconds

    fcns = random_skip_fcns()
    images, masks = data.make_shapes(scenes, size, seed=0)
    box = widgets.skip_explorer(fcns, images, masks)
    table = {}
    for variant in models.VARIANTS:
        for pool4, pool3 in ((True, True), (True, False), (False, False)):
            box.controls["variant"].value = variant
            box.controls["pool4"].value, box.controls["pool3"].value = pool4, pool3
            for scene in range(scenes):
                box.controls["scene"].value = scene
                table[variant, pool4, pool3, scene] = 1e3 * median_seconds(box.update, repeats=repeats)
    result = {"median_ms": statistics.median(table.values()), "max_ms": max(table.values()), "settings": len(table),
              "image_size": size}
    print(f"pyramid-explorer: one callback (sum of precomputed terms, argmax, three panels, PNG, Image.value), "
          f"{size}×{size} scenes, median of {repeats} calls per setting; target <= {TARGET_MS:.0f} ms")
    print("| settings | median ms | slowest ms |")
    print("|---|---|---|")
    print(f"| {result['settings']} | {result['median_ms']:.1f} | {result['max_ms']:.1f} |")
    return result
