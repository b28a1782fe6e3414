"""Lesson 02's experiments: what a receptive field and an output stride do to a segmentation.

The lesson trains three per-pixel classifiers (``models.pixel_classifier`` and
``models.pooled_pixel_classifier``) and asks where each labels well: at object centres
(where only a large field sees the outline) or at object edges (where a coarse output
stride blurs the answer). This module holds the measurements that are not a concept of
their own elsewhere:

- ``centre_distance(field_size)``: how far from a boundary (chessboard distance) a pixel
  must be for a square field of that size to see only its own object.
- ``ScoreTracker``: a Keras callback scoring centres and edges (with
  ``metrics.accuracy_by_distance``) and counting regions after every epoch, so a lesson
  can show whether a network is still learning when its training stops.
- ``regions_per_image``: connected regions per label map, a measure of speckle.
- ``stride_bounds``: what a perfect classifier at an output stride scores at centres and
  edges (``labels.coarse_oracle``), the ceiling each network is compared with.
- ``plot_score_curves``: those scores epoch by epoch, beside the bound of each stride;
  ``plot_label_maps``: images, true labels and each network's labels, with a class legend.
- ``lesson_networks``, ``compile_for_pixels`` and the constants below: the lesson's
  experiment in one place; ``training_budget`` (``python -m fcn_lessons.field_experiments``)
  repeats it for longer, for docs/RESULTS.md (the lesson trains for a short budget).

Distances are chessboard distances (``max(|dy|, |dx|)``), because a receptive field is a
square: a pixel at chessboard distance ``r`` from the nearest other label has a
``(2r - 1)``-pixel square around it that holds only its own class.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.labels import VOID_LABEL

DISTANCE_METRIC = "chessboard"  # a field is a square: chessboard distance says when it holds a boundary
EDGE_DISTANCE = 2  # object pixels at most this far from another label are "edges"

# The lesson's experiment, in one place, so that ``training_budget`` repeats it exactly.
DATA_OPTIONS = dict(num_objects=(2, 4), object_size=(0.3, 0.8))  # more, bigger objects than the default
IMAGE_SIZE = 64
NUM_TRAIN, NUM_TEST = 1500, 300  # learner-sized; the lesson's quick mode trains on fewer
TRAIN_DATA_SEED, TEST_DATA_SEED = 1, 2
NETWORK_SEED = 20  # network i is built right after seeding with NETWORK_SEED + i
TRAIN_SEED = 21  # seeded again before each fit: the same batches for every network
EPOCHS = 10  # the lesson's budget (learner-sized)
BATCH_SIZE = 16
LEARNING_RATE = 3e-3  # Adam


def centre_distance(field_size: int) -> int:
    """The chessboard distance from which a ``field_size``-pixel square field holds no other label.

    A field of odd side ``f`` reaches ``(f - 1) / 2`` pixels from its centre; it holds no
    pixel of another label when the nearest one is at chessboard distance ``(f - 1) / 2 + 1``
    or more. For the lesson's small network (``f = 11``) that is 6.
    """
    field_size = _validate.integer(field_size, "field_size", minimum=1)
    return (field_size - 1) // 2 + 1


def regions_per_image(label_maps, *, ignore_label: int | None = VOID_LABEL) -> float:
    """Mean number of 4-connected regions of one label per map: a measure of speckle.

    Every connected patch of pixels sharing a label counts as one region, whatever its
    size, so a map sprinkled with isolated wrong pixels scores far more than its objects.

    Args:
        label_maps: (N, H, W) integer class ids.
        ignore_label: a label whose pixels are not counted (void), or None.

    Returns:
        regions per map, averaged over the N maps.
    """
    import cv2

    maps = _validate.array(label_maps, "label_maps", ndim=3, kinds="iu", layout="(N, H, W)")
    if not len(maps):
        raise ValueError("label_maps holds no map; expected at least one (H, W) label map.")
    count = 0
    for label_map in maps:
        for label in np.unique(label_map):
            if ignore_label is not None and label == ignore_label:
                continue
            count += cv2.connectedComponents((label_map == label).astype(np.uint8), connectivity=4)[0] - 1
    return count / len(maps)


def lesson_networks(*, seed: int = NETWORK_SEED) -> dict:
    """The three per-pixel classifiers of lesson 02's section 5, untrained, in the lesson's order.

    ``small field``: five 3×3 convolutions (field 11); ``dilated``: the same with
    dilations 1, 2, 4, 8, 16 (field 63); ``pooled``: ``models.pooled_pixel_classifier()``
    (three poolings, output stride 8). Each is built right after
    ``keras.utils.set_random_seed(seed + i)``, so its initial weights do not depend on
    whatever the notebook ran before.
    """
    import keras

    from fcn_lessons import models

    seed = _validate.integer(seed, "seed", minimum=0)
    builders = {"small field": lambda: models.pixel_classifier((1, 1, 1, 1, 1), name="small_field"),
                "dilated": lambda: models.pixel_classifier((1, 2, 4, 8, 16), name="dilated"),
                "pooled": lambda: models.pooled_pixel_classifier()}
    networks = {}
    for i, (name, build) in enumerate(builders.items()):
        keras.utils.set_random_seed(seed + i)
        networks[name] = build()
    return networks


def compile_for_pixels(model, learning_rate: float = LEARNING_RATE) -> None:
    """Adam and per-pixel softmax cross-entropy from logits, void (255) ignored, as the lesson trains."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=VOID_LABEL))


def _scores(masks, predictions, centre: int, edge: int) -> dict:
    from fcn_lessons import metrics

    scores = metrics.accuracy_by_distance(masks, predictions, centre_distance=centre, edge_distance=edge,
                                          metric=DISTANCE_METRIC)
    return {"centre": scores["centre"]["mean_accuracy"], "edge": scores["edge"]["mean_accuracy"],
            "regions": regions_per_image(predictions)}


def _keras_callback():
    import keras

    return keras.callbacks.Callback


class ScoreTracker(_keras_callback()):
    """A Keras callback: after every epoch, the model's centre and edge scores on held-out images.

    Args:
        images: (N, H, W, 3) held-out images.
        masks: (N, H, W) their labels (void 255).
        centre_distance, edge_distance: chessboard distances that make a pixel a centre
            (at least) or an edge (at most); see ``centre_distance``.
        batch_size: for ``model.predict``.

    After ``fit``, ``history`` is a list with one dict per epoch: ``epoch`` (1, 2, ...),
    ``centre`` and ``edge`` (mean accuracy there, as ``metrics.accuracy_by_distance``) and
    ``regions`` (``regions_per_image`` of the predicted labels); ``predictions`` holds the
    last epoch's (N, H, W) labels.
    """

    def __init__(self, images, masks, *, centre_distance: int, edge_distance: int = EDGE_DISTANCE,
                 batch_size: int = 50):
        super().__init__()
        self.images = _validate.array(images, "images", ndim=4, layout="(N, H, W, 3)")
        self.masks = _validate.array(masks, "masks", ndim=3, kinds="iu", layout="(N, H, W)")
        if self.images.shape[:3] != self.masks.shape:
            raise ValueError(f"masks must be (N, H, W) = {self.images.shape[:3]} to match images, "
                             f"received {self.masks.shape}.")
        self.centre_distance = _validate.integer(centre_distance, "centre_distance", minimum=2)
        self.edge_distance = _validate.integer(edge_distance, "edge_distance", minimum=1,
                                               maximum=self.centre_distance - 1)
        self.batch_size = _validate.integer(batch_size, "batch_size", minimum=1)
        self.history: list[dict] = []
        self.predictions = None

    def on_epoch_end(self, epoch, logs=None):
        self.predictions = self.model.predict(self.images, batch_size=self.batch_size, verbose=0).argmax(axis=-1)
        scores = _scores(self.masks, self.predictions, self.centre_distance, self.edge_distance)
        self.history.append({"epoch": epoch + 1, **scores})

    def series(self, key: str) -> np.ndarray:
        """(epochs,) values of ``key`` ("centre", "edge" or "regions"), one per epoch."""
        _validate.choice(key, "key", ("centre", "edge", "regions"))
        return np.array([row[key] for row in self.history])


def stride_bounds(masks, strides, num_classes: int, *, centre_distance: int,
                  edge_distance: int = EDGE_DISTANCE) -> dict:
    """What a perfect classifier at each output stride scores at centres and edges.

    For each stride, ``labels.coarse_oracle``: the true class shares of every
    stride×stride cell, upsampled bilinearly and arg-maxed. Its errors are the stride's
    alone: no network with that output stride and a bilinear upsampling can be expected to
    do better there.

    Returns:
        {stride: {"centre": mean accuracy, "edge": mean accuracy, "centre_pixel", "edge_pixel":
        pixel accuracies, "regions": regions per image}}.
    """
    from fcn_lessons import labels, metrics

    out = {}
    for stride in strides:
        stride = _validate.integer(stride, "stride", minimum=1)
        oracle = labels.coarse_oracle(masks, stride, num_classes)
        scores = metrics.accuracy_by_distance(masks, oracle, centre_distance=centre_distance,
                                              edge_distance=edge_distance, metric=DISTANCE_METRIC)
        out[stride] = {"centre": scores["centre"]["mean_accuracy"], "edge": scores["edge"]["mean_accuracy"],
                       "centre_pixel": scores["centre"]["pixel_accuracy"],
                       "edge_pixel": scores["edge"]["pixel_accuracy"], "regions": regions_per_image(oracle)}
    return out


def plot_label_maps(images, masks, predictions: dict, *, class_names, titles: dict | None = None,
                    num_images: int = 5, fig=None):
    """A grid: one column per image; rows: the image, its labels, then each network's labels.

    Args:
        images: (N, H, W, 3); masks: (N, H, W) labels.
        predictions: {name: (N, H, W) predicted labels}, one row each, in order.
        class_names: the names of the classes, for the legend (void included).
        titles: {name: row title}, default the names.
        num_images: columns (the first images).

    Returns:
        the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    from fcn_lessons import viz

    num_images = _validate.integer(num_images, "num_images", minimum=1, maximum=len(images))
    rows = [("image", images)] + [("labels", masks)] + [((titles or {}).get(n, n), p) for n, p in predictions.items()]
    fig = fig or plt.figure(figsize=(2.1 * num_images + 1.6, 2.1 * len(rows)))
    axes = fig.subplots(len(rows), num_images, squeeze=False)
    for row, (title, maps) in enumerate(rows):
        for column in range(num_images):
            ax = axes[row, column]
            ax.imshow(maps[column] if row == 0 else viz.colorize(maps[column]), interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
        axes[row, 0].set_ylabel(title, fontsize=9)
    fig.legend(handles=viz.legend_handles(class_names), loc="center right", fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 1.5 / fig.get_figwidth(), 1))
    return fig


def plot_score_curves(trackers: dict, bounds: dict, strides: dict, *, axes=None):
    """Mean accuracy at centres and at edges after every epoch, one line per network.

    Args:
        trackers: {name: ScoreTracker} after ``fit``.
        bounds: ``stride_bounds`` output, holding every stride in ``strides``.
        strides: {name: the network's output stride}: a dotted line of its colour marks the
            stride's bound (what a perfect classifier at that stride scores).
        axes: two matplotlib axes (centres, edges); new ones by default.

    Returns:
        the two axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, key in zip(axes, ("centre", "edge")):
        for name, tracker in trackers.items():
            epochs = [row["epoch"] for row in tracker.history]
            line, = ax.plot(epochs, tracker.series(key), "o-", ms=3, label=f"{name} (stride {strides[name]})")
            ax.axhline(bounds[strides[name]][key], ls=":", color=line.get_color())
        ax.set_title(f"object {key}s: mean accuracy (dotted: perfect at the same stride)", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
    axes[0].legend(fontsize=8, loc="lower right")
    return axes


# --- the longer runs behind docs/RESULTS.md ---------------------------------------------------

def training_budget(*, epochs: int = 30) -> dict:
    """Lesson 02's three networks, trained as the lesson trains them but for ``epochs`` epochs.

    Same data, seeds, networks, optimiser and scores as the learner-sized lesson, in the
    same order, so its first ``EPOCHS`` epochs repeat the lesson's run.

    Returns:
        {"bounds": ``stride_bounds`` for strides 1 and 8, "true_regions": regions per true
        label map, "networks": {name: {"history": ``ScoreTracker.history`` (one row per
        epoch), "loss": [per epoch], "seconds": training time}}}.
    """
    import keras

    import fcn_lessons
    from fcn_lessons import data, receptive

    epochs = _validate.integer(epochs, "epochs", minimum=1)
    fcn_lessons.setup(seed=0, verbose=False)
    train_images, train_masks = data.make_shapes(NUM_TRAIN, IMAGE_SIZE, seed=TRAIN_DATA_SEED, **DATA_OPTIONS)
    test_images, test_masks = data.make_shapes(NUM_TEST, IMAGE_SIZE, seed=TEST_DATA_SEED, **DATA_OPTIONS)
    networks = lesson_networks()
    small = receptive.receptive_fields(networks["small field"])["scores"].size[0]
    centre = centre_distance(small)
    result = {"bounds": stride_bounds(test_masks, (1, 8), data.NUM_CLASSES, centre_distance=centre),
              "true_regions": regions_per_image(test_masks), "networks": {}}
    for name, net in networks.items():
        compile_for_pixels(net)
        tracker = ScoreTracker(test_images, test_masks, centre_distance=centre)
        keras.utils.set_random_seed(TRAIN_SEED)
        start = time.perf_counter()
        loss = net.fit(train_images, train_masks, epochs=epochs, batch_size=BATCH_SIZE, verbose=0,
                       callbacks=[tracker]).history["loss"]
        result["networks"][name] = {"history": tracker.history, "loss": loss,
                                    "seconds": time.perf_counter() - start}
        for row in tracker.history[EPOCHS - 1::EPOCHS]:
            print(name, json.dumps(row), file=sys.stderr, flush=True)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fcn_lessons.field_experiments",
                                     description="Lesson 02's networks trained longer than the lesson does.")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)
    result = training_budget(epochs=args.epochs)
    print(json.dumps(result, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
