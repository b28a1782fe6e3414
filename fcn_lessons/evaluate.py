"""Evaluate a segmentation network on a whole data set, into one report (lesson 07).

``evaluate(model, data, num_classes)`` runs a model (or any predict function) over a data
set batch by batch and returns a :class:`Report`:

- the paper's four metrics and per-class IU, from **one** confusion matrix accumulated over
  every image (never a mean of per-image scores: ``metrics.per_image_scores`` says why);
- the confusion matrix, plotted (``Report.plot_confusion``);
- the trimap curve: mean IU of the pixels within w px of a label border, for several w
  (``Report.plot_trimap``);
- a per-image table (pixel accuracy, mean IU, objects, their sizes, missed and invented
  objects) and the worst images, shown (``Report.image_table``, ``Report.show_worst``);
- scores by object size (``metrics.object_size_counts``);
- the wrong pixels by kind: boundary, class confusion, missed object, false object, extent
  (``metrics.error_kinds``).

``compare(reports)`` puts several models scored on the same data in one table. The
arithmetic lives in ``fcn_lessons.metrics`` (arrays in, numbers out); this module only runs
models over data and adds up counts, so memory stays bounded: a batch at a time, plus the
few worst images kept for display.

Data (``batches``): a pair (images, masks) of arrays or of lists (images of different
sizes), a VOC-layout folder (with ``split``; read file by file), or a ``tf.data.Dataset``
of (images, masks) (``fcn_lessons.pipeline``).

``trained_fcns`` gives FCN-32s, 16s and 8s, loaded from a cache of saved models or trained
with lesson 05's staged schedule (``pyramid.staged``) on a small budget when none is saved.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fcn_lessons import _validate, metrics
from fcn_lessons.labels import VOID_LABEL

DEFAULT_BATCH_SIZE = 16
DEFAULT_TRIMAP_WIDTHS = (1, 2, 4, 8, 16)  # px from a label border; DeepLab's trimap plots sweep such widths
# Object sizes as shares of the image's area: bins < 1%, 1-4%, 4-16%, >= 16%. On the course's
# 64×64 images that is < 41, 41-163, 164-655 and >= 656 pixels.
DEFAULT_SIZE_FRACTIONS = (0.0, 0.01, 0.04, 0.16, 1.0)
DEFAULT_SIZE_MARGIN = 2  # px of ring around the objects of a size bin (metrics.object_size_counts)
DEFAULT_WORST = 4  # worst images kept for display
_TABLE_SCORES = metrics.SCORE_NAMES


# --- data: batches from arrays, a VOC folder or a tf.data pipeline ------------------------------

def _is_dataset(data) -> bool:
    return type(data).__module__.startswith("tensorflow") and hasattr(data, "as_numpy_iterator")


def _array_batches(images, masks, batch_size):
    if isinstance(images, np.ndarray) and isinstance(masks, np.ndarray):
        images = _validate.array(images, "images", ndim=4, kinds="uif", layout="(N, H, W, 3)")
        masks = _validate.array(masks, "masks", ndim=3, kinds="iu", layout="(N, H, W)")
        if images.shape[:3] != masks.shape:
            raise ValueError(f"masks must be (N, H, W) = {images.shape[:3]} to match images {images.shape}; "
                             f"received {masks.shape}.")
        for start in range(0, len(images), batch_size):
            stop = min(start + batch_size, len(images))
            yield images[start:stop], masks[start:stop], list(range(start, stop))
        return
    if not isinstance(images, (list, tuple)) or not isinstance(masks, (list, tuple)):
        raise TypeError("data must be a pair (images, masks) of arrays (N, H, W, 3) and (N, H, W), or of lists "
                        f"of (H, W, 3) and (H, W) arrays; received {type(images).__name__} and "
                        f"{type(masks).__name__}.")
    if len(images) != len(masks):
        raise ValueError(f"images and masks must have the same length, received {len(images)} and {len(masks)}.")
    yield from _grouped(((np.asarray(i), np.asarray(m), n) for n, (i, m) in enumerate(zip(images, masks))),
                        batch_size)


def _grouped(pairs, batch_size):
    """Batches of consecutive pairs of one size (images of different sizes cannot be stacked)."""
    group = []
    for image, mask, image_id in pairs:
        if image.ndim != 3 or mask.shape != image.shape[:2]:
            raise ValueError(f"image {image_id!r}: expected an (H, W, 3) image and its (H, W) mask, received "
                             f"shapes {image.shape} and {mask.shape}.")
        if group and (image.shape != group[0][0].shape or len(group) == batch_size):
            yield np.stack([g[0] for g in group]), np.stack([g[1] for g in group]), [g[2] for g in group]
            group = []
        group.append((image, mask, image_id))
    if group:
        yield np.stack([g[0] for g in group]), np.stack([g[1] for g in group]), [g[2] for g in group]


def _voc_batches(root, split, batch_size, num_classes):
    from fcn_lessons import pipeline, voc

    if split is None:
        raise ValueError(f"data={str(root)!r} is a VOC folder: pass split= (e.g. split='val').")
    image_paths, mask_paths, ids = pipeline.voc_files(root, split)
    classes = len(voc.read_class_names(root)) if num_classes is None else num_classes

    def pairs():  # one file at a time: memory holds one batch
        for image_path, mask_path, image_id in zip(image_paths, mask_paths, ids):
            yield voc.read_image(image_path), voc.read_mask(mask_path, classes), image_id

    yield from _grouped(pairs(), batch_size)


def _dataset_batches(dataset):
    count = 0
    for element in dataset.as_numpy_iterator():
        if not isinstance(element, tuple) or len(element) < 2:
            raise ValueError("a tf.data.Dataset to evaluate must yield (images, masks) pairs; received "
                             f"{type(element).__name__}.")
        images, masks = np.asarray(element[0]), np.asarray(element[1])
        if images.ndim == 3:  # an unbatched dataset: one image per element
            images, masks = images[None], masks[None]
        if masks.ndim == 4 and masks.shape[-1] == 1:
            masks = masks[..., 0]
        if images.ndim != 4 or masks.shape != images.shape[:3]:
            raise ValueError(f"the dataset yields images {images.shape} and masks {masks.shape}; expected "
                             "(B, H, W, 3) and (B, H, W).")
        yield images, masks, list(range(count, count + len(images)))
        count += len(images)


def batches(data, *, batch_size: int = DEFAULT_BATCH_SIZE, split: str | None = None,
            num_classes: int | None = None):
    """Yield (images, masks, ids) batches from any of the course's kinds of data.

    Args:
        data: (images, masks) arrays (N, H, W, 3) and (N, H, W), or lists of (H, W, 3) and
            (H, W) arrays of different sizes; or the path of a VOC-layout folder (then
            ``split``); or a ``tf.data.Dataset`` of (images, masks), batched or not.
        batch_size: images per batch for arrays and folders (a dataset keeps its own
            batches). Images of different sizes come in batches of one size.
        split: the split of a VOC folder ("val").
        num_classes: for a VOC folder, class ids must be below it (default: its class list).

    Yields:
        images (B, H, W, 3) as stored (uint8, or float for a dataset), masks (B, H, W), and a
        list of B ids (indices, or the VOC ids).
    """
    batch_size = _validate.integer(batch_size, "batch_size", minimum=1)
    if isinstance(data, (str, os.PathLike)):
        yield from _voc_batches(data, split, batch_size, num_classes)
    elif _is_dataset(data):
        yield from _dataset_batches(data)
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        yield from _array_batches(data[0], data[1], batch_size)
    else:
        raise TypeError("data must be (images, masks), the path of a VOC-layout folder, or a tf.data.Dataset of "
                        f"(images, masks); received {type(data).__name__}.")


# --- predictions --------------------------------------------------------------------------------

def _default_preprocess(images):
    from fcn_lessons import models

    return models.preprocess_input(images)


def predictor(model, *, preprocess=_default_preprocess, pad_to: int | None = None):
    """A function from a batch of images to predicted class ids (B, H, W).

    Args:
        model: a ``keras.Model`` returning (B, H, W, C) scores, or a function of a batch of
            images returning scores (B, H, W, C) or class ids (B, H, W).
        preprocess: applied to each batch first; default ``models.preprocess_input`` (course
            images, uint8 or float in [0, 1], as the mini_vgg backbone expects). None feeds
            the images as they come (already preprocessed).
        pad_to: pad each batch at the bottom and right to a multiple of this many pixels
            (zeros) and cut the prediction back: for a model whose sides must be multiples of
            its output stride (mini_vgg: 32), on images of any size.
    """
    import keras

    if preprocess is not None and not callable(preprocess):
        raise TypeError(f"preprocess must be a function of a batch of images, or None; received {preprocess!r}.")
    if pad_to is not None:
        pad_to = _validate.integer(pad_to, "pad_to", minimum=1)
    if isinstance(model, keras.Model):
        run = model.predict_on_batch
    elif callable(model):
        run = model
    else:
        raise TypeError(f"model must be a keras.Model or a function of a batch of images; received "
                        f"{type(model).__name__}.")

    def predict(images):
        x = images if preprocess is None else preprocess(images)
        x = np.asarray(x)
        height, width = x.shape[1:3]
        if pad_to:
            pads = ((0, 0), (0, -height % pad_to), (0, -width % pad_to), (0, 0))
            x = np.pad(x, pads)
        out = np.asarray(run(x))
        if out.ndim == 4:
            out = out.argmax(axis=-1)
        if out.ndim != 3:
            raise ValueError(f"the model returned an array of shape {out.shape}; expected scores (B, H, W, C) or "
                             "class ids (B, H, W).")
        out = out[:, :height, :width] if pad_to else out
        if out.shape[1:] != (height, width):
            raise ValueError(
                f"the model's predictions are {out.shape[1]}×{out.shape[2]} for {height}×{width} images: its "
                "output is not at the input's resolution (as in the blog post's model, lesson 07). Upsample "
                "the scores to the input's size inside the model.")
        return out
    return predict


# --- the report ---------------------------------------------------------------------------------

@dataclass
class Report:
    """What ``evaluate`` found: counts over the whole data set, and the ratios made from them.

    Attributes:
        name: the model's name, for tables.
        class_names: one name per class.
        confusion: (C, C) pixel counts over every image (void left out).
        trimap: {width: (C, C) counts of the pixels within ``width`` px of a label border}.
        sizes: ``metrics.object_size_counts`` summed over the data set.
        errors: ``metrics.error_breakdown`` summed over the data set.
        images: one dict per image (``id``, ``pixel_accuracy``, ``mean_iou``, ``objects``,
            ``mean_object_area``, ``smallest_object``, ``missed_objects``, ``false_objects``,
            ``wrong``).
        worst: the lowest-mean-IU images as (mean IU, id, image, mask, prediction), worst first.
        seconds: time spent predicting (the model's share of the evaluation).
        settings: the evaluation's parameters.
    """

    name: str
    class_names: tuple
    confusion: np.ndarray
    trimap: dict
    sizes: dict
    errors: dict
    images: list
    worst: list
    seconds: float
    settings: dict = field(default_factory=dict)

    @property
    def scores(self) -> dict:
        """``metrics.segmentation_scores`` of the data set's confusion matrix."""
        return metrics.segmentation_scores(self.confusion)

    def trimap_iou(self) -> dict:
        """{width: mean IU within ``width`` px of a label border}."""
        return {width: metrics.segmentation_scores(c)["mean_iou"] for width, c in self.trimap.items()}

    def size_scores(self) -> dict:
        """``metrics.size_scores`` of the data set's objects, with ``labels`` naming the bins."""
        return {**metrics.size_scores(self.sizes), "labels": _size_labels(self.settings["size_fractions"])}

    def error_shares(self) -> dict:
        """``metrics.error_shares``: each kind of error as a share of the wrong pixels."""
        return metrics.error_shares(self.errors)

    def summary(self) -> str:
        """The report in a few lines of text."""
        s = self.scores
        lines = [f"{self.name}: {len(self.images)} images, {s['num_pixels']:,} labelled pixels",
                 "  " + metrics.format_scores(s, self.class_names).replace("\n", "\n  ")]
        lines.append("  trimap mean IU: " + ", ".join(f"{w:g} px {100 * v:.1f}" for w, v in self.trimap_iou().items()))
        sizes = self.size_scores()
        lines.append("  objects by size (share of the image): " + ", ".join(
            f"{label}: {n} objects, recall {_percent(r)}" for label, n, r in
            zip(sizes["labels"], sizes["objects"], sizes["recall"])))
        shares, e = self.error_shares(), self.errors
        lines.append(f"  wrong pixels {e['wrong']:,} ({_percent(shares['error_rate'])} of the labelled): " + ", ".join(
            f"{kind} {_percent(shares[kind])}" for kind in metrics.ERROR_KINDS))
        lines.append(f"  objects missed {e['missed_objects']} of {e['objects']}, false objects {e['false_objects']} "
                     f"of {e['predicted_objects']} predicted")
        return "\n".join(lines)

    def image_table(self, rows: int = 8, *, sort_by: str = "mean_iou") -> str:
        """The ``rows`` images lowest in ``sort_by`` (a key of ``images``), as a Markdown table."""
        keys = ("id", "mean_iou", "pixel_accuracy", "objects", "smallest_object", "missed_objects",
                "false_objects", "wrong")
        if sort_by not in keys:
            raise ValueError(f"sort_by must be one of {keys}; received {sort_by!r}.")
        ordered = sorted(self.images, key=lambda r: (np.nan_to_num(r[sort_by], nan=np.inf), str(r["id"])))
        head = ("| image | mean IU | pixel acc. | objects | smallest (px) | missed | false | wrong px |\n"
                "|---|---|---|---|---|---|---|---|")
        body = [f"| {r['id']} | {_percent(r['mean_iou'])} | {_percent(r['pixel_accuracy'])} | {r['objects']} | "
                f"{r['smallest_object']} | {r['missed_objects']} | {r['false_objects']} | {r['wrong']} |"
                for r in ordered[:rows]]
        return "\n".join([head, *body])

    def plot_confusion(self, ax=None, *, normalize: bool = True):
        """The confusion matrix (``viz.plot_confusion``), rows normalised by default."""
        from fcn_lessons import viz

        ax = viz.plot_confusion(self.confusion, self.class_names, normalize=normalize, ax=ax)
        ax.set_title(self.name)
        return ax

    def plot_trimap(self, ax=None, **style):
        """Mean IU against the band's width (the trimap curve); returns the Axes."""
        return plot_trimap_curves({self.name: self}, ax=ax, **style)

    def show_worst(self, count: int | None = None):
        """The worst images (image, label map, prediction), titled with their mean IU."""
        from fcn_lessons import viz

        worst = self.worst[:count] if count else self.worst
        if not worst:
            raise ValueError("the report holds no images to show (evaluate(..., keep_worst=0)).")
        images = np.stack([_as_display(w[2]) for w in worst])
        titles = [f"{self.name}, image {w[1]}: mean IU {_percent(w[0])}" for w in worst]
        return viz.show_samples(images, np.stack([w[3] for w in worst]), np.stack([w[4] for w in worst]),
                                class_names=self.class_names, max_samples=len(worst), titles=titles)


def _percent(value) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{100 * value:.1f}%"


def _size_labels(fractions) -> list[str]:
    out = []
    for lo, hi in zip(fractions[:-1], fractions[1:]):
        out.append(f"< {100 * hi:g}%" if lo == 0 else f">= {100 * lo:g}%" if hi >= 1 else f"{100 * lo:g}-{100 * hi:g}%")
    return out


def _as_display(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def _check_fractions(fractions) -> tuple:
    values = tuple(float(f) for f in fractions)
    if len(values) < 2 or values[0] < 0 or values[-1] > 1 or any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"size_fractions must be increasing shares of the image area in [0, 1], received "
                         f"{fractions!r}.")
    return values


def evaluate(model, data, num_classes: int, *, class_names=None, name: str | None = None,
             batch_size: int = DEFAULT_BATCH_SIZE, split: str | None = None, preprocess=_default_preprocess,
             pad_to: int | None = None, trimap_widths=DEFAULT_TRIMAP_WIDTHS,
             size_fractions=DEFAULT_SIZE_FRACTIONS, size_margin: int = DEFAULT_SIZE_MARGIN,
             boundary_width: float = metrics.DEFAULT_BOUNDARY_WIDTH, keep_worst: int = DEFAULT_WORST,
             ignore_label: int | None = VOID_LABEL) -> Report:
    """Run ``model`` over ``data`` batch by batch and return the :class:`Report`.

    Args:
        model: a ``keras.Model`` (images to (B, H, W, C) scores) or a predict function
            (``predictor``'s rules).
        data: what ``batches`` takes: (images, masks), a VOC folder (with ``split``), or a
            ``tf.data.Dataset`` of (images, masks).
        num_classes: classes of the labels and predictions.
        class_names: one name per class (default "class 0", ...).
        name: the model's name in tables (default: the Keras model's name).
        preprocess, pad_to: as ``predictor``.
        trimap_widths: band widths in px for the trimap curve.
        size_fractions: bin edges for object sizes, as shares of the image's area.
        size_margin: ring in px around objects for the by-size mean IU.
        boundary_width: band width in px for "boundary" errors (``metrics.error_kinds``).
        keep_worst: how many of the worst images (by mean IU) the report keeps to show.

    Returns:
        a :class:`Report`; every score in it comes from counts summed over all images.
    """
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    class_names = tuple(class_names) if class_names is not None else tuple(f"class {i}" for i in range(num_classes))
    if len(class_names) != num_classes:
        raise ValueError(f"class_names has {len(class_names)} names for num_classes={num_classes}.")
    widths = tuple(float(w) for w in trimap_widths)
    if not widths or any(w <= 0 for w in widths):
        raise ValueError(f"trimap_widths must be positive widths in px, received {trimap_widths!r}.")
    fractions = _check_fractions(size_fractions)
    keep_worst = _validate.integer(keep_worst, "keep_worst", minimum=0)
    predict = predictor(model, preprocess=preprocess, pad_to=pad_to)
    options = {"boundary_width": boundary_width, "ignore_label": ignore_label}
    accumulator = metrics.ConfusionAccumulator(num_classes, ignore_label=ignore_label)
    trimap = {w: np.zeros((num_classes, num_classes), np.int64) for w in widths}
    sizes, errors, rows, worst, seconds = None, None, [], [], 0.0
    from fcn_lessons import labels as label_maps

    for number, (images, masks, ids) in enumerate(batches(data, batch_size=batch_size, split=split,
                                                          num_classes=num_classes)):
        start = time.perf_counter()
        predicted = predict(images)
        seconds += time.perf_counter() - start
        accumulator.update(masks, predicted)
        for w in widths:
            band = label_maps.boundary_band(masks, w, ignore_label)
            trimap[w] += metrics.region_confusion(masks, predicted, num_classes, band, ignore_label)
        area = masks.shape[1] * masks.shape[2]
        edges = [f * area for f in fractions[:-1]] + [fractions[-1] * area + 1]
        counts = metrics.object_size_counts(masks, predicted, num_classes, edges, margin=size_margin,
                                            ignore_label=ignore_label)
        sizes = counts if sizes is None else {k: sizes[k] + counts[k] for k in counts if k != "size_edges"}
        kinds = metrics.error_kinds(masks, predicted, num_classes, **options)
        breakdown = metrics.error_breakdown(masks, predicted, num_classes, **options)
        errors = breakdown if errors is None else {k: errors[k] + breakdown[k] for k in breakdown}
        per_image = metrics.per_image_scores(masks, predicted, num_classes, ignore_label)
        for i, image_id in enumerate(ids):
            _, _, areas = metrics.object_regions(masks[i], ignore_label=ignore_label)
            row = {"id": image_id, "pixel_accuracy": float(per_image["pixel_accuracy"][i]),
                   "mean_iou": float(per_image["mean_iou"][i]), "objects": int(len(areas)),
                   "mean_object_area": float(areas.mean()) if len(areas) else float("nan"),
                   "smallest_object": int(areas.min()) if len(areas) else 0,
                   "missed_objects": int(kinds["missed_objects"][i]), "false_objects": int(kinds["false_objects"][i]),
                   "wrong": int(np.count_nonzero(kinds["kinds"][i]))}
            rows.append(row)
            if keep_worst:
                key = (-np.nan_to_num(row["mean_iou"], nan=1.0), -len(rows))  # heap of the worst, ties: first seen
                item = (key, (row["mean_iou"], image_id, images[i].copy(), masks[i].copy(), predicted[i].copy()))
                if len(worst) < keep_worst:
                    heapq.heappush(worst, item)
                else:
                    heapq.heappushpop(worst, item)
    if not rows:
        raise ValueError("data holds no images to evaluate.")
    sizes["size_edges"] = np.asarray(fractions)
    worst = [item for _, item in sorted(worst, key=lambda entry: entry[0], reverse=True)]
    settings = {"trimap_widths": widths, "size_fractions": fractions, "size_margin": size_margin,
                "boundary_width": boundary_width, "batch_size": batch_size}
    return Report(name=name or getattr(model, "name", "model"), class_names=class_names,
                  confusion=accumulator.confusion, trimap=trimap, sizes=sizes, errors=errors, images=rows,
                  worst=worst, seconds=seconds, settings=settings)


def evaluate_many(models: dict, data, num_classes: int, **options) -> dict:
    """``evaluate`` each of ``models`` ({name: model}) on the same ``data``: {name: Report}."""
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a non-empty dict {name: model}.")
    return {name: evaluate(model, data, num_classes, name=name, **options) for name, model in models.items()}


# --- several models in one table ---------------------------------------------------------------

def compare(reports, *, trimap_widths=(1, 4, 16)) -> str:
    """One Markdown table: a row per report (same data), the four metrics, trimap IU, errors.

    Args:
        reports: {name: Report} or a list of reports.
        trimap_widths: which of the reports' trimap widths to show (each must have been evaluated).

    Returns:
        the table as text (scores in %).
    """
    reports = list(reports.values()) if isinstance(reports, dict) else list(reports)
    if not reports or not all(isinstance(r, Report) for r in reports):
        raise TypeError("reports must be Reports (what evaluate returns), as a dict or a list.")
    counts = {len(r.images) for r in reports}
    if len(counts) > 1:
        raise ValueError(f"the reports cover different numbers of images {sorted(counts)}: compare models on the "
                         "same data.")
    widths = tuple(float(w) for w in trimap_widths)
    for report in reports:
        missing = [w for w in widths if w not in report.trimap]
        if missing:
            raise ValueError(f"report {report.name!r} has no trimap at {missing} px; evaluate with those widths.")
    head = (["model"] + [metrics.SCORE_LABELS[s] for s in _TABLE_SCORES] + [f"trimap {w:g} px" for w in widths]
            + ["boundary errors", "missed objects", "false objects", "ms / image"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in reports:
        s, t, shares, e = r.scores, r.trimap_iou(), r.error_shares(), r.errors
        cells = ([r.name] + [f"{100 * s[k]:.1f}" for k in _TABLE_SCORES] + [f"{100 * t[w]:.1f}" for w in widths]
                 + [_percent(shares["boundary"]), f"{e['missed_objects']} / {e['objects']}",
                    f"{e['false_objects']} / {e['predicted_objects']}", f"{1e3 * r.seconds / len(r.images):.1f}"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_trimap_curves(reports, ax=None, **style):
    """Mean IU against the trimap band's width, one curve per report; returns the Axes."""
    import matplotlib.pyplot as plt

    reports = reports if isinstance(reports, dict) else {r.name: r for r in reports}
    if ax is None:
        _, ax = plt.subplots(figsize=(4.6, 3.2))
    for name, report in reports.items():
        curve = report.trimap_iou()
        ax.plot(list(curve), [100 * v for v in curve.values()], marker="o", label=name, **style)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("band width around label borders (px)")
    ax.set_ylabel("mean IU in the band (%)")
    ax.set_title("trimap: how well borders are placed")
    ax.legend(frameon=False)
    return ax


# --- lesson 05's networks, loaded or trained quickly ----------------------------------------------

CACHE_ENV = "FCN_LESSONS_CACHE"  # a folder for saved models; default ~/.cache/fcn_lessons
# The classifier pretraining (10,000 crops, 3 epochs) is what lifts FCN-32s off the background
# prior here: without it, mean IU 17.0 / 41.6 / 46.8 for 32s / 16s / 8s; with 3,000 crops and
# 2 epochs 17.2 / 38.3 / 46.4; with these 29.4 / 53.2 / 61.6 (docs/RESULTS.md, lesson 07).
TRAINING_DEFAULTS = {"num_images": 600, "image_size": 64, "seed": 0, "epochs": (12, 6, 6), "learning_rate": 2e-3,
                     "batch_size": 16, "num_crops": 10000, "classifier_epochs": 3}
# The modules whose code decides what ``trained_fcns`` trains: their source is part of the cache
# key, so a changed schedule, network, loss or data generator never loads an old saved model.
TRAINING_MODULES = ("pyramid", "models", "training", "losses", "data", "labels")


def cache_dir() -> Path:
    """Where ``trained_fcns`` keeps its saved models: ``$FCN_LESSONS_CACHE``, else the user's cache folder."""
    root = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "fcn_lessons")
    return Path(root)


def _cache_key(settings: dict) -> str:
    import keras

    from fcn_lessons import __version__

    import importlib
    import inspect

    code = hashlib.sha256()
    for name in TRAINING_MODULES:
        code.update(inspect.getsource(importlib.import_module(f"fcn_lessons.{name}")).encode())
    text = json.dumps({**settings, "keras": keras.__version__, "fcn_lessons": __version__,
                       "code": code.hexdigest()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trained_fcns(*, cache: bool = True, verbose: bool = True, **settings) -> dict:
    """FCN-32s, 16s and 8s (mini_vgg) on the course data: loaded from the cache, or trained now.

    Trained with lesson 05's schedule, ``pyramid.staged``: FCN-32s first (from a classifier
    pretrained on course crops, ``pyramid.pretrain_classifier``, when ``num_crops`` and
    ``classifier_epochs`` are set; else from a random trunk), then FCN-16s with every layer
    of the 32s net copied by name and the new pool4 score at zero (so 16s starts where 32s
    ended), then FCN-8s from 16s; the course loss and Adam. Only the budget is lesson 07's
    own (``TRAINING_DEFAULTS``): small enough to train in a few minutes on a CPU.

    Saved models go to ``cache_dir()/lesson07-<key>/`` as ``.keras`` files, the key a hash of
    the settings, the versions and the source of ``TRAINING_MODULES`` (so a changed
    ``pyramid`` trains anew); a cached model predicts exactly as the one trained. Nothing is
    required of the cache: if it cannot be written, the models are only returned.

    Args:
        cache: read and write the cache.
        verbose: print one line per trained stage.
        **settings: override ``TRAINING_DEFAULTS``: ``num_images``, ``image_size``, ``seed``
            (of the training scenes, ``data.make_shapes``, and of the initial weights),
            ``epochs`` (per stage: 32s, 16s, 8s), ``learning_rate``, ``batch_size``,
            ``num_crops`` and ``classifier_epochs`` (the classifier pretraining; 0: none).

    Returns:
        {"FCN-32s": model, "FCN-16s": model, "FCN-8s": model}, with ``trained_fcns.last_source``
        set to "cache" or "trained".
    """
    import keras

    from fcn_lessons import data, models, pyramid

    unknown = sorted(set(settings) - set(TRAINING_DEFAULTS))
    if unknown:
        raise TypeError(f"trained_fcns got unknown settings {unknown}; known: {sorted(TRAINING_DEFAULTS)}.")
    config = {**TRAINING_DEFAULTS, **settings}
    config["epochs"] = tuple(_validate.integer(e, "epochs", minimum=1) for e in config["epochs"])
    if len(config["epochs"]) != 3:
        raise ValueError(f"epochs must give the epochs of the three stages (32s, 16s, 8s), received "
                         f"{config['epochs']}.")
    folder = cache_dir() / f"lesson07-{_cache_key(config)}"
    names = {variant: f"FCN-{variant}" for variant in models.VARIANTS}
    paths = {v: folder / f"fcn{v}.keras" for v in names}
    if cache and all(p.is_file() for p in paths.values()):
        try:
            out = {names[v]: keras.models.load_model(p, compile=False) for v, p in paths.items()}
            trained_fcns.last_source = "cache"
            return out
        except Exception:  # a stale or damaged cache: train again
            pass
    budget = pyramid.Budget(num_train=config["num_images"], num_test=0, image_size=config["image_size"],
                            epochs=dict(zip(models.VARIANTS, config["epochs"])),
                            learning_rates=dict.fromkeys(models.VARIANTS, config["learning_rate"]),
                            batch_size=config["batch_size"], train_seed=config["seed"],
                            num_crops=_validate.integer(config["num_crops"], "num_crops", minimum=0),
                            classifier_epochs=_validate.integer(config["classifier_epochs"], "classifier_epochs",
                                                                minimum=0))
    if (budget.num_crops > 0) != (budget.classifier_epochs > 0):
        raise ValueError(f"num_crops and classifier_epochs must both be 0 (no pretraining) or both >= 1, received "
                         f"{budget.num_crops} and {budget.classifier_epochs}.")
    log = print if verbose else None
    classifier = (pyramid.pretrain_classifier(budget, seed=config["seed"], log=log)[0] if budget.num_crops
                  else None)
    images, masks = data.make_shapes(budget.num_train, budget.image_size, seed=budget.train_seed)
    stages = pyramid.staged(budget, (models.preprocess_input(images), masks), classifier=classifier,
                            seed=config["seed"], log=log)
    out = {names[variant]: stage["model"] for variant, stage in stages.items()}
    if cache:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for variant, path in paths.items():  # write, then rename: a reader never sees half a file
                partial = path.with_name(f".{path.stem}-{os.getpid()}.keras")
                try:
                    out[names[variant]].save(partial)
                    os.replace(partial, path)
                finally:
                    partial.unlink(missing_ok=True)  # gone after the rename; a failed write leaves nothing
        except OSError:
            pass
    trained_fcns.last_source = "trained"
    return out


trained_fcns.last_source = None
