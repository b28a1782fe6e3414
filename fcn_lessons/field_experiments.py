"""Lesson 02's experiments: what a receptive field and an output stride do to a segmentation.

The lesson trains three per-pixel classifiers (``models.pixel_classifier`` and
``models.pooled_pixel_classifier``) and asks where each labels well: at object centres
(where only a large field sees the outline) or at object edges (where a coarse output
stride blurs the answer). This module holds the measurements that are not a concept of
their own elsewhere:

- ``centre_distance(field_size)``: how far from a boundary (chessboard distance) a pixel
  must be for a square field of that size to see only its own object;
  ``distance_to_boundary_or_border``: that distance with the image border counted as a
  boundary too (beyond it a field reads zero padding, not the object).
- ``pixel_regions`` and ``region_scores``: object centres, object edges and the trimap
  band around every label border, and the scores there (built on ``metrics.region_scores``).
  ``distance_profile``: object pixels' mean accuracy by distance.
- ``ScoreTracker``: a Keras callback that scores those regions and counts regions of one
  label every few epochs, so a lesson can show whether a network was still learning when
  its training stopped.
- ``regions_per_image``: connected regions per label map; ``label_change_rate``: how often
  two pixels a given distance apart inside one true region get different labels (speckle).
- ``oracle_scores``: what a perfect-proportions oracle at an output stride scores (true
  class shares per cell, optionally sharpened, upsampled bilinearly, arg-maxed). A
  reference point, not a ceiling: other cell scores can do better.
- ``plot_score_curves``, ``plot_label_maps``: the scores epoch by epoch; images, true labels
  and each network's labels with a class legend.
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
BAND_WIDTH = 2  # the trimap band (labels.boundary_band): pixels within 2 px of a label border, both sides

# The lesson's experiment, in one place, so that ``training_budget`` repeats it exactly.
DATA_OPTIONS = dict(num_objects=(2, 4), object_size=(0.3, 0.8))  # more, bigger objects than the default
IMAGE_SIZE = 64
NUM_TRAIN, NUM_TEST = 1000, 300  # learner-sized (quick mode trains on QUICK_TRAIN)
QUICK_TRAIN, QUICK_EPOCHS = 600, 4  # quick mode (the tests)
TRAIN_DATA_SEED, TEST_DATA_SEED = 1, 2
NETWORK_SEED = 20  # network i is built right after seeding with NETWORK_SEED + i
TRAIN_SEED = 21  # seeded again before each fit: the same batches for every network
EPOCHS = 10  # the lesson's budget (learner-sized)
BATCH_SIZE = 16
LEARNING_RATE = 3e-3  # Adam
TRACK_IMAGES = 100  # the per-epoch curves score the first 100 test images ...
SCORE_EVERY = 2  # ... every 2 epochs (and after the last): scoring costs a prediction pass


def centre_distance(field_size: int) -> int:
    """The chessboard distance from which a ``field_size``-pixel square field holds no other label.

    A field of odd side ``f`` reaches ``(f - 1) / 2`` pixels from its centre; it holds no
    pixel of another label when the nearest one is at chessboard distance ``(f - 1) / 2 + 1``
    or more. For the lesson's small network (``f = 11``) that is 6.
    """
    field_size = _validate.integer(field_size, "field_size", minimum=1)
    return (field_size - 1) // 2 + 1


def distance_to_boundary_or_border(masks) -> np.ndarray:
    """(N, H, W) label maps -> chessboard distance to another label *or to outside the image*.

    ``labels.distance_to_boundary`` does not count the image border as a boundary. Here
    the map is framed with one pixel of void first, so a pixel in row 0 is at distance 1:
    a pixel at distance ``r`` or more has a ``(2r - 1)``-pixel square around it that holds
    only its own class *and* lies inside the image (a field that crosses the border reads
    zero padding, not its object). Void pixels get 0.

    Returns:
        (N, H, W) float32.
    """
    from fcn_lessons import labels

    maps = _validate.label_map(masks, "masks", ndim=3, ignore_label=VOID_LABEL)
    framed = np.pad(maps, ((0, 0), (1, 1), (1, 1)), constant_values=VOID_LABEL)
    return labels.distance_to_boundary(framed, metric=DISTANCE_METRIC)[:, 1:-1, 1:-1]


def pixel_regions(masks, *, centre_distance: int, edge_distance: int = EDGE_DISTANCE,
                  band_width: float = BAND_WIDTH) -> dict:
    """The pixels each score of the lesson counts, as bool (N, H, W) arrays.

    - ``centre``: object pixels (not background, not void) whose ``centre_distance``
      neighbourhood holds only their object and lies inside the image
      (``distance_to_boundary_or_border >= centre_distance``);
    - ``edge``: object pixels at most ``edge_distance`` from another label (chessboard,
      ``labels.distance_to_boundary``): recall on the objects' side of a boundary;
    - ``band``: every labelled pixel, object or background, within ``band_width`` of a
      label border (``labels.boundary_band``, the trimap band of ``metrics.trimap_scores``).
    """
    from fcn_lessons import labels

    maps = _validate.label_map(masks, "masks", ndim=3, ignore_label=VOID_LABEL)
    centre_distance = _validate.integer(centre_distance, "centre_distance", minimum=2)
    edge_distance = _validate.integer(edge_distance, "edge_distance", minimum=1, maximum=centre_distance - 1)
    objects = (maps != 0) & (maps != VOID_LABEL)
    to_label = labels.distance_to_boundary(maps, metric=DISTANCE_METRIC)
    return {"centre": objects & (distance_to_boundary_or_border(maps) >= centre_distance),
            "edge": objects & (to_label <= edge_distance),
            "band": labels.boundary_band(maps, band_width) & (maps != VOID_LABEL)}


def _regions_for(masks: np.ndarray, regions: dict) -> dict:
    missing = {"centre", "edge", "band"} - set(regions)
    if missing:
        raise ValueError(f"regions must be pixel_regions(...) output with 'centre', 'edge' and 'band'; "
                         f"missing {sorted(missing)}.")
    for name in ("centre", "edge", "band"):
        if np.shape(regions[name]) != masks.shape:
            raise ValueError(f"regions['{name}'] has shape {np.shape(regions[name])}, expected the masks' "
                             f"{masks.shape}.")
    return regions


def region_scores(masks, predictions, regions: dict, num_classes: int) -> dict:
    """The lesson's scores of ``predictions`` in ``pixel_regions``.

    Returns:
        ``centre`` and ``edge``: dicts of ``pixel_accuracy``, ``mean_accuracy`` (the FCN
        paper's mean accuracy over the classes present there), ``pixels`` and
        ``predicted`` ((num_classes,) share of those pixels given each class);
        ``band_iou``: mean IU in the band (both sides of every border, so a prediction that
        grows its objects into the background pays for it, which object-side recall does not).
    """
    from fcn_lessons import metrics

    masks = _validate.label_map(masks, "masks", ndim=3, ignore_label=VOID_LABEL)
    predictions = _validate.label_map(predictions, "predictions", ndim=3, ignore_label=None)
    if predictions.shape != masks.shape:
        raise ValueError(f"predictions must have the masks' shape {masks.shape}, received {predictions.shape}.")
    regions = _regions_for(masks, regions)
    out = {}
    for name in ("centre", "edge"):
        scores = metrics.region_scores(masks, predictions, num_classes, regions[name])
        pixels = scores["num_pixels"]
        out[name] = {"pixel_accuracy": scores["pixel_accuracy"], "mean_accuracy": scores["mean_accuracy"],
                     "pixels": pixels,
                     "predicted": np.bincount(predictions[regions[name]], minlength=num_classes)[:num_classes]
                     / max(pixels, 1)}
    out["band_iou"] = metrics.region_scores(masks, predictions, num_classes, regions["band"])["mean_iou"]
    return out


def distance_profile(masks, predictions, bins, num_classes: int) -> dict:
    """Mean accuracy of object pixels by ``distance_to_boundary_or_border``.

    Args:
        bins: increasing bin edges in pixels: bin i holds ``bins[i] <= distance < bins[i + 1]``.

    Returns:
        dict of (len(bins) - 1,) arrays: ``mean_accuracy`` and ``pixels``.
    """
    from fcn_lessons import metrics

    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"bins must be at least two increasing bin edges, received {bins!r}.")
    masks = _validate.label_map(masks, "masks", ndim=3, ignore_label=VOID_LABEL)
    distance = distance_to_boundary_or_border(masks)
    objects = (masks != 0) & (masks != VOID_LABEL)
    scores = [metrics.region_scores(masks, predictions, num_classes, objects & (distance >= lo) & (distance < hi))
              for lo, hi in zip(edges[:-1], edges[1:])]
    return {"mean_accuracy": np.array([s["mean_accuracy"] for s in scores]),
            "pixels": np.array([s["num_pixels"] for s in scores])}


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


def label_change_rate(predictions, masks, spacing: int) -> float:
    """Share of pixel pairs ``spacing`` apart (in a row or a column) given different labels,
    counting only pairs that the true labels put in one region (same label, not void).

    A smooth prediction changes label mostly where the truth does; a speckled one changes it
    inside regions too. Comparing spacings tells *how* it speckles: independent noise
    changes more often the farther apart two pixels are, while a pattern with a period of
    two pixels (gridding) changes more often between neighbours than between pixels two apart.

    Args:
        predictions, masks: (N, H, W) predicted and true labels (void 255 in the masks).
        spacing: distance between the two pixels of a pair, >= 1.
    """
    masks = _validate.label_map(masks, "masks", ndim=3, ignore_label=VOID_LABEL)
    predictions = _validate.label_map(predictions, "predictions", ndim=3, ignore_label=None)
    if predictions.shape != masks.shape:
        raise ValueError(f"predictions must have the masks' shape {masks.shape}, received {predictions.shape}.")
    spacing = _validate.integer(spacing, "spacing", minimum=1, maximum=min(masks.shape[1:]) - 1)
    changed = pairs = 0
    for axis in (1, 2):
        first = [slice(None)] * 3
        second = [slice(None)] * 3
        first[axis], second[axis] = slice(None, -spacing), slice(spacing, None)
        t0, t1 = masks[tuple(first)], masks[tuple(second)]
        same = (t0 == t1) & (t0 != VOID_LABEL)
        changed += int((predictions[tuple(first)] != predictions[tuple(second)])[same].sum())
        pairs += int(same.sum())
    return changed / max(pairs, 1)


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


def _summary(masks, predictions, regions, num_classes: int) -> dict:
    scores = region_scores(masks, predictions, regions, num_classes)
    return {"centre": scores["centre"]["mean_accuracy"], "edge": scores["edge"]["mean_accuracy"],
            "band_iou": scores["band_iou"], "regions": regions_per_image(predictions)}


def _keras_callback():
    import keras

    return keras.callbacks.Callback


class ScoreTracker(_keras_callback()):
    """A Keras callback: every few epochs, the model's scores on held-out images.

    Args:
        images: (N, H, W, 3) held-out images.
        masks: (N, H, W) their labels (void 255).
        num_classes: classes the model scores.
        centre_distance, edge_distance: as ``pixel_regions``.
        every: score after every ``every``-th epoch, and after the last one.
        batch_size: for ``model.predict``.

    After ``fit``, ``history`` is a list with one dict per scored epoch: ``epoch`` (1, 2,
    ...), ``centre`` and ``edge`` (mean accuracy there), ``band_iou`` (mean IU in the
    trimap band) and ``regions`` (``regions_per_image`` of the predicted labels);
    ``predictions`` holds the last scored (N, H, W) labels.
    """

    KEYS = ("centre", "edge", "band_iou", "regions")

    def __init__(self, images, masks, *, num_classes: int, centre_distance: int,
                 edge_distance: int = EDGE_DISTANCE, every: int = 1, batch_size: int = 50):
        super().__init__()
        self.images = _validate.array(images, "images", ndim=4, layout="(N, H, W, 3)")
        self.masks = _validate.array(masks, "masks", ndim=3, kinds="iu", layout="(N, H, W)")
        if self.images.shape[:3] != self.masks.shape:
            raise ValueError(f"masks must be (N, H, W) = {self.images.shape[:3]} to match images, "
                             f"received {self.masks.shape}.")
        self.num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
        self.regions = pixel_regions(self.masks, centre_distance=centre_distance, edge_distance=edge_distance)
        self.every = _validate.integer(every, "every", minimum=1)
        self.batch_size = _validate.integer(batch_size, "batch_size", minimum=1)
        self.history: list[dict] = []
        self.predictions = None

    def on_epoch_end(self, epoch, logs=None):
        last = epoch + 1 == (self.params or {}).get("epochs")
        if (epoch + 1) % self.every and not last:
            return
        self.predictions = self.model.predict(self.images, batch_size=self.batch_size, verbose=0).argmax(axis=-1)
        self.history.append({"epoch": epoch + 1,
                             **_summary(self.masks, self.predictions, self.regions, self.num_classes)})

    def series(self, key: str) -> np.ndarray:
        """(scored epochs,) values of ``key`` ("centre", "edge", "band_iou" or "regions")."""
        _validate.choice(key, "key", self.KEYS)
        return np.array([row[key] for row in self.history])


def oracle_predictions(masks, stride: int, num_classes: int, *, power: float = 1.0) -> np.ndarray:
    """A perfect-proportions oracle at output stride ``stride``: (N, H, W) predicted labels.

    Each ``stride``×``stride`` cell scores each class by its true share of the cell's
    labelled pixels (``labels.class_shares_per_block``), raised to ``power``; the scores
    are upsampled bilinearly (``UpSampling2D(interpolation='bilinear')``'s rule) and
    arg-maxed. ``power=1`` is ``labels.coarse_oracle``; a power below 1 sharpens small
    shares, so a thin part of an object that holds a small share of its cells wins more
    of the interpolated pixels. Both know every cell's content exactly: what they get
    wrong is lost to the stride and to *their* choice of cell scores, not to the stride
    alone, and a network at the same stride may choose scores that do better.
    """
    import keras

    from fcn_lessons import labels

    stride = _validate.integer(stride, "stride", minimum=1)
    if isinstance(power, bool) or not isinstance(power, (int, float)) or not power > 0:
        raise ValueError(f"power must be a positive number, received {power!r}.")
    if power == 1:
        return labels.coarse_oracle(masks, stride, num_classes)
    cells = labels.class_shares_per_block(masks, stride, num_classes) ** float(power)
    if stride == 1:
        return cells.argmax(axis=-1)
    h, w = np.shape(masks)[1:]
    return np.asarray(keras.ops.image.resize(cells, (h, w), interpolation="bilinear")).argmax(axis=-1)


def oracle_scores(masks, strides, num_classes: int, *, centre_distance: int, edge_distance: int = EDGE_DISTANCE,
                  power: float = 1.0) -> dict:
    """What the perfect-proportions oracle (``oracle_predictions``) scores at each output stride.

    A reference point for a network at the same stride, not a ceiling.

    Returns:
        {stride: {"centre", "edge": mean accuracy, "centre_pixel", "edge_pixel": pixel
        accuracies, "band_iou": mean IU in the trimap band, "regions": regions per image}}.
    """
    regions = pixel_regions(masks, centre_distance=centre_distance, edge_distance=edge_distance)
    out = {}
    for stride in strides:
        stride = _validate.integer(stride, "stride", minimum=1)
        oracle = oracle_predictions(masks, stride, num_classes, power=power)
        scores = region_scores(masks, oracle, regions, num_classes)
        out[stride] = {"centre": scores["centre"]["mean_accuracy"], "edge": scores["edge"]["mean_accuracy"],
                       "centre_pixel": scores["centre"]["pixel_accuracy"],
                       "edge_pixel": scores["edge"]["pixel_accuracy"], "band_iou": scores["band_iou"],
                       "regions": regions_per_image(oracle)}
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


_CURVE_TITLES = {"centre": "object centres: mean accuracy", "edge": "object edges: mean accuracy (recall)",
                 "band_iou": "trimap band (both sides): mean IU"}


def plot_score_curves(trackers: dict, references: dict, strides: dict, *, keys=("centre", "edge", "band_iou"),
                      axes=None):
    """Scores after the tracked epochs, one line per network, one panel per score.

    Args:
        trackers: {name: ScoreTracker} after ``fit``.
        references: ``oracle_scores`` output, holding every stride in ``strides``.
        strides: {name: the network's output stride}: a dotted line of its colour marks
            what the perfect-proportions oracle at that stride scores (a reference, not a
            ceiling).
        keys: the scores to plot, from ``ScoreTracker.KEYS`` (not "regions").
        axes: one matplotlib axis per key; new ones by default.

    Returns:
        the axes.
    """
    import matplotlib.pyplot as plt

    for key in keys:
        _validate.choice(key, "keys", tuple(_CURVE_TITLES))
    if axes is None:
        _, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, key in zip(axes, keys):
        for name, tracker in trackers.items():
            epochs = [row["epoch"] for row in tracker.history]
            line, = ax.plot(epochs, tracker.series(key), "o-", ms=3, label=f"{name} (stride {strides[name]})")
            ax.axhline(references[strides[name]][key], ls=":", color=line.get_color())
        ax.set_title(_CURVE_TITLES[key], fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("score (dotted: oracle at the same stride)", fontsize=8)
    axes[0].legend(fontsize=8, loc="lower right")
    return axes


# --- the longer runs behind docs/RESULTS.md ---------------------------------------------------

def training_budget(*, epochs: int = 30) -> dict:
    """Lesson 02's three networks, trained as the learner-sized lesson trains them but for ``epochs`` epochs.

    Same data, seeds, networks, optimiser and scores as the learner-sized lesson, in the
    same order, so its first ``EPOCHS`` epochs repeat the lesson's run. The curves are
    scored on the ``TRACK_IMAGES`` images every ``SCORE_EVERY`` epochs, as in the lesson;
    at epochs ``EPOCHS``, ``2 * EPOCHS``, ... (and the last) the whole test set is scored too.

    Returns:
        {"oracle": ``oracle_scores`` for strides 1 and 8, "true_regions": regions per true
        label map, "networks": {name: {"history": ``ScoreTracker.history``, "test": {epoch:
        scores on all test images}, "loss": [per epoch], "seconds": training time}}}.
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
    regions = pixel_regions(test_masks, centre_distance=centre)
    result = {"oracle": oracle_scores(test_masks, (1, 8), data.NUM_CLASSES, centre_distance=centre),
              "true_regions": regions_per_image(test_masks), "networks": {}}
    checkpoints = sorted({*range(EPOCHS, epochs + 1, EPOCHS), epochs})

    class _TestScores(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.scores = {}

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 in checkpoints:
                predicted = self.model.predict(test_images, batch_size=50, verbose=0).argmax(axis=-1)
                self.scores[epoch + 1] = {**_summary(test_masks, predicted, regions, data.NUM_CLASSES),
                                          "change_1": label_change_rate(predicted, test_masks, 1),
                                          "change_2": label_change_rate(predicted, test_masks, 2)}

    for name, net in networks.items():
        compile_for_pixels(net)
        tracker = ScoreTracker(test_images[:TRACK_IMAGES], test_masks[:TRACK_IMAGES], num_classes=data.NUM_CLASSES,
                               centre_distance=centre, every=SCORE_EVERY)
        test = _TestScores()
        keras.utils.set_random_seed(TRAIN_SEED)
        start = time.perf_counter()
        loss = net.fit(train_images, train_masks, epochs=epochs, batch_size=BATCH_SIZE, verbose=0,
                       callbacks=[tracker, test]).history["loss"]
        result["networks"][name] = {"history": tracker.history, "test": test.scores, "loss": loss,
                                    "seconds": time.perf_counter() - start}
        for epoch, row in test.scores.items():
            print(name, epoch, json.dumps(row, default=float), file=sys.stderr, flush=True)
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
