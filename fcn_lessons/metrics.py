"""The FCN paper's segmentation metrics, computed from one confusion matrix.

Long, Shelhamer and Darrell (CVPR 2015, section 5) score a segmentation with four numbers.
With ``n[i, j]`` the number of pixels of true class i predicted as class j,
``t[i] = sum_j n[i, j]`` the pixels of class i, and void pixels excluded everywhere:

- pixel accuracy          ``sum_i n[i, i] / sum_i t[i]``
- mean accuracy           ``(1/n_cl) sum_i n[i, i] / t[i]``
- mean IU                 ``(1/n_cl) sum_i n[i, i] / (t[i] + sum_j n[j, i] - n[i, i])``
- frequency weighted IU   ``(sum_k t[k])^-1 sum_i t[i] n[i, i] / (t[i] + sum_j n[j, i] - n[i, i])``

**Absent classes.** As in the authors' ``score.py`` (per-class values, then ``nanmean``):
a class absent from both the labels and the predictions has an undefined IU (0/0) and is
left out of the mean IU; a class absent from the labels has an undefined accuracy and is
left out of the mean accuracy. A class absent from the labels but *predicted* has IU 0 and
counts. So ``n_cl`` is the number of classes with a defined value, not ``num_classes``.

Everything here starts from ``confusion_matrix``; ``ConfusionAccumulator`` sums it over
many batches, ``MeanIU`` is the Keras metric for ``model.compile``; ``region_scores`` scores
only the pixels a mask keeps, and ``trimap_scores`` uses it near object borders (lesson 05).
"""

from __future__ import annotations

import numpy as np

from fcn_lessons import _validate
from fcn_lessons import labels as _labels
from fcn_lessons.labels import VOID_LABEL

SCORE_NAMES = ("pixel_accuracy", "mean_accuracy", "mean_iou", "frequency_weighted_iou")
SCORE_LABELS = {"pixel_accuracy": "pixel acc.", "mean_accuracy": "mean acc.", "mean_iou": "mean IU",
                "frequency_weighted_iou": "f.w. IU"}  # the column headers of the paper's Table 2
_CHUNK = 1 << 16  # pixels per step: the temporaries stay in the CPU cache


# --- inputs ----------------------------------------------------------------------------------

def _class_ids(x, name: str, hint: str) -> np.ndarray:
    """Integer class ids; integral floats are accepted, fractional ones refused with ``hint``."""
    arr = _validate.array(x, name, kinds="biuf")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} holds NaN or infinite values; expected integer class ids.")
        fractional = arr != np.round(arr)
        if fractional.any():
            examples = np.unique(arr[fractional])[:5].tolist()
            raise ValueError(f"{name} holds fractional values such as {examples}: class ids are "
                             f"integers. {hint}")
        arr = arr.astype(np.int64)
    return arr


def _predicted_ids(labels: np.ndarray, predictions, num_classes: int):
    """(labels, class ids of the predictions): argmax over a trailing class axis if present."""
    preds = _validate.array(predictions, "predictions", kinds="biuf")
    if preds.ndim == labels.ndim + 1 and preds.shape[:-1] == labels.shape:
        scores_axis = True
    elif (preds.ndim == labels.ndim and labels.ndim and labels.shape[-1] == 1
          and preds.shape[:-1] == labels.shape[:-1] and preds.shape[-1] == num_classes != 1):
        labels, scores_axis = labels[..., 0], True  # Keras style labels (N, H, W, 1)
    elif preds.shape == labels.shape:
        scores_axis = False
    else:
        raise ValueError(
            f"predictions of shape {preds.shape} do not match labels of shape {labels.shape}: "
            f"expected class ids of the labels' shape, or scores of shape {labels.shape + (num_classes,)}.")
    if scores_axis:
        if preds.shape[-1] != num_classes:
            raise ValueError(f"predictions have {preds.shape[-1]} scores per pixel (last axis) but "
                             f"num_classes is {num_classes}.")
        if preds.dtype.kind == "f" and np.isnan(preds).any():
            raise ValueError("predictions (scores) hold NaN: the model's output is broken.")
        return labels, np.argmax(preds, axis=-1)
    hint = ("If these are probabilities (e.g. a sigmoid or one softmax channel), threshold them or "
            "pass the scores of every class with a class axis: confusion_matrix takes the argmax.")
    return labels, _class_ids(preds, "predictions", hint)


def _check_ignore(ignore_label, num_classes: int):
    if ignore_label is None:
        return None
    ignore_label = _validate.integer(ignore_label, "ignore_label")
    if 0 <= ignore_label < num_classes:
        raise ValueError(f"ignore_label={ignore_label} is also a class id (0..{num_classes - 1}); "
                         f"pick a value outside the classes, such as {VOID_LABEL}.")
    return ignore_label


def _accumulate(labels: np.ndarray, preds: np.ndarray, num_classes: int, ignore_label,
                keep=None) -> np.ndarray:
    """(num_classes, num_classes) int64 counts; ``keep`` (bool, labels' shape) limits the pixels."""
    n = num_classes
    labels, preds = labels.reshape(-1), preds.reshape(-1)
    keep = None if keep is None else keep.reshape(-1)
    counts = np.zeros((n + 1) * n, np.int64)  # row n collects the ignored pixels
    for start in range(0, labels.size, _CHUNK):
        lab = labels[start:start + _CHUNK].astype(np.intp)
        pred = preds[start:start + _CHUNK].astype(np.intp)
        ignored = lab == ignore_label if ignore_label is not None else np.zeros(lab.shape, bool)
        if keep is not None:
            ignored |= ~keep[start:start + _CHUNK]
        outside = (lab < 0) | (lab >= n)
        if np.count_nonzero(outside & ~ignored):
            bad = np.unique(lab[outside & ~ignored])[:10].tolist()
            void = f" and {ignore_label} (ignored)" if ignore_label is not None else ""
            raise ValueError(f"labels hold values {bad} outside the classes 0..{n - 1}{void}.")
        if pred.size and (pred.min() < 0 or pred.max() >= n):
            bad = np.unique(pred[(pred < 0) | (pred >= n)])[:10].tolist()
            raise ValueError(f"predictions hold class ids {bad} outside 0..{n - 1}.")
        rows = np.where(ignored, n, lab)
        counts += np.bincount(rows * n + pred, minlength=(n + 1) * n)
    return counts[: n * n].reshape(n, n)


def confusion_matrix(labels, predictions, num_classes: int, ignore_label: int | None = VOID_LABEL,
                     ) -> np.ndarray:
    """Count pixels of true class i predicted as class j, with void pixels left out.

    Args:
        labels: integer class ids, any shape, e.g. (H, W) or (N, H, W); ``ignore_label``
            marks void pixels. Floats are accepted only with integral values (a mask
            resized with bilinear interpolation has fractional labels: an error).
        predictions: either class ids of the labels' shape, or scores (logits or
            probabilities) with a trailing class axis of length ``num_classes``, shape
            ``labels.shape + (num_classes,)``: then the argmax over that axis is taken.
            (Keras-style labels (N, H, W, 1) with scores (N, H, W, C) also work.)
        num_classes: number of classes; ids are 0..num_classes-1.
        ignore_label: the void label (255 in VOC), or None when there is none. Pixels with
            this label are not counted, whatever was predicted there. Any other label
            outside 0..num_classes-1, or a predicted id outside it, is an error.

    Returns:
        (num_classes, num_classes) int64: entry [i, j] counts pixels labelled i and
        predicted j (rows: truth, columns: prediction).
    """
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    ignore_label = _check_ignore(ignore_label, num_classes)
    hint = "Masks must be resized with nearest-neighbour interpolation (never bilinear)."
    labels = _class_ids(labels, "labels", hint)
    labels, preds = _predicted_ids(labels, predictions, num_classes)
    return _accumulate(labels, preds, num_classes, ignore_label)


# --- scores ---------------------------------------------------------------------------------

def _check_confusion(confusion) -> np.ndarray:
    matrix = _validate.array(confusion, "confusion", ndim=2, kinds="iuf", layout="(num_classes, num_classes)")
    if matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise ValueError(f"confusion must be a square matrix of at least 2 classes, received shape {matrix.shape}.")
    if not np.isfinite(matrix).all() or (matrix < 0).any():
        raise ValueError("confusion must hold finite, non-negative pixel counts.")
    return matrix.astype(np.float64)


def per_class_iou(confusion) -> np.ndarray:
    """(num_classes,) float64: n_ii / (t_i + sum_j n_ji - n_ii); NaN where the class is
    absent from both labels and predictions (0/0)."""
    matrix = _check_confusion(confusion)
    hits = np.diag(matrix)
    union = matrix.sum(axis=1) + matrix.sum(axis=0) - hits
    return np.divide(hits, union, out=np.full(hits.shape, np.nan), where=union > 0)


def per_class_accuracy(confusion) -> np.ndarray:
    """(num_classes,) float64: n_ii / t_i (recall); NaN where the class is absent from the labels."""
    matrix = _check_confusion(confusion)
    totals = matrix.sum(axis=1)
    return np.divide(np.diag(matrix), totals, out=np.full(totals.shape, np.nan), where=totals > 0)


def _mean_defined(values: np.ndarray) -> float:
    defined = ~np.isnan(values)
    return float(values[defined].mean()) if defined.any() else float("nan")


def segmentation_scores(confusion) -> dict:
    """The four metrics of the FCN paper (section 5) from a confusion matrix.

    Args:
        confusion: (C, C) counts, rows = true class, columns = predicted class, void
            pixels already excluded (as ``confusion_matrix`` returns).

    Returns:
        dict with floats ``pixel_accuracy``, ``mean_accuracy``, ``mean_iou``,
        ``frequency_weighted_iou`` (each in [0, 1]), and (C,) float64 arrays
        ``per_class_iou`` and ``per_class_accuracy``; plus ``num_pixels`` (int), the
        labelled pixels counted.

    Absent classes are left out of the means, as in the authors' ``score.py``: a class
    with no labelled and no predicted pixel has IU NaN (not 0); a class with no labelled
    pixel has accuracy NaN. A class predicted but never labelled has IU 0 and lowers the
    mean IU. With no labelled pixel at all, every score is NaN.
    """
    matrix = _check_confusion(confusion)
    total = matrix.sum()
    iou, accuracy = per_class_iou(matrix), per_class_accuracy(matrix)
    frequency = matrix.sum(axis=1) / total if total else np.zeros(len(matrix))
    labelled = frequency > 0  # these classes have a defined IU (their union is not empty)
    return {
        "pixel_accuracy": float(np.trace(matrix) / total) if total else float("nan"),
        "mean_accuracy": _mean_defined(accuracy),
        "mean_iou": _mean_defined(iou),
        "frequency_weighted_iou": float((frequency[labelled] * iou[labelled]).sum()) if total else float("nan"),
        "per_class_iou": iou,
        "per_class_accuracy": accuracy,
        "num_pixels": int(total),
    }


def format_scores(scores: dict, class_names=None) -> str:
    """The four metrics (in %) on one line, and per-class IU on a second when names are given."""
    line = "  ".join(f"{SCORE_LABELS[name]} {100 * scores[name]:.1f}" for name in SCORE_NAMES)
    if class_names is None:
        return line
    per_class = ", ".join(f"{name} {'n/a' if np.isnan(v) else f'{100 * v:.1f}'}"
                          for name, v in zip(class_names, scores["per_class_iou"]))
    return f"{line}\nIU per class: {per_class}"


# --- many batches ---------------------------------------------------------------------------

class ConfusionAccumulator:
    """Sum confusion matrices over many batches (a whole validation set), then score once.

    Averaging per-batch mean IUs is *not* the data set's mean IU (a class absent from a
    batch would count differently): accumulate counts, then compute the ratios.

    Example::

        acc = ConfusionAccumulator(num_classes=5)
        for images, masks in batches:
            acc.update(masks, model.predict_on_batch(images))   # scores: argmax is taken
        print(acc.scores()["mean_iou"])
    """

    def __init__(self, num_classes: int, ignore_label: int | None = VOID_LABEL):
        self.num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
        self.ignore_label = _check_ignore(ignore_label, self.num_classes)
        self.reset()

    def reset(self) -> None:
        self._confusion = np.zeros((self.num_classes, self.num_classes), np.int64)
        self.num_updates = 0

    def update(self, labels, predictions) -> "ConfusionAccumulator":
        """Add a batch (same arguments as ``confusion_matrix``); returns self."""
        self._confusion += confusion_matrix(labels, predictions, self.num_classes, self.ignore_label)
        self.num_updates += 1
        return self

    @property
    def confusion(self) -> np.ndarray:
        """(C, C) int64 counts so far (a copy)."""
        return self._confusion.copy()

    def scores(self) -> dict:
        """``segmentation_scores`` of the counts so far."""
        return segmentation_scores(self._confusion)


# --- Keras ----------------------------------------------------------------------------------

def _keras_metric_class():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="fcn_lessons")
    class MeanIU(keras.metrics.Metric):
        """Mean IU from logits or probabilities, void pixels ignored, for ``model.compile``.

        ``y_true``: (N, H, W) or (N, H, W, 1) integer class ids with ``ignore_label`` for
        void; ``y_pred``: (N, H, W, num_classes) scores (the argmax is taken, so logits and
        probabilities give the same result). Pixels are counted into a confusion matrix
        over all batches of an epoch; the result is mean IU over the classes present in
        labels or predictions, as ``segmentation_scores`` computes it (NaN before any pixel).

        Inside a compiled graph a metric cannot raise, so labels outside
        0..num_classes-1 other than ``ignore_label`` are not counted either: check new
        data once with ``confusion_matrix``, which refuses them. Counts are float32: exact
        up to 2**24 pixels per cell, then relative rounding below 1e-7. Each batch costs
        pixels × num_classes² multiply-adds (a matmul of one-hot codes), small next to the
        network itself.

        The class is registered with Keras (``fcn_lessons>MeanIU``) when first accessed, so
        before ``keras.models.load_model`` of a model compiled with it, touch
        ``fcn_lessons.metrics.MeanIU`` (or pass it in ``custom_objects``).
        """

        def __init__(self, num_classes: int, ignore_label: int | None = VOID_LABEL,
                     name: str = "mean_iu", dtype=None):
            super().__init__(name=name, dtype=dtype)
            self.num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
            self.ignore_label = _check_ignore(ignore_label, self.num_classes)
            self.confusion = self.add_variable(shape=(self.num_classes, self.num_classes),
                                               initializer="zeros", name="confusion", dtype="float32")

        def update_state(self, y_true, y_pred, sample_weight=None):
            n = self.num_classes
            y_pred = ops.convert_to_tensor(y_pred)
            y_true = ops.convert_to_tensor(y_true)
            if y_pred.shape[-1] is not None and y_pred.shape[-1] != n:
                raise ValueError(f"MeanIU: y_pred has {y_pred.shape[-1]} scores per pixel (last axis), "
                                 f"num_classes is {n}; pass scores (N, H, W, {n}), not class ids.")
            if len(y_true.shape) == len(y_pred.shape):
                y_true = ops.squeeze(y_true, axis=-1)
            truth = ops.cast(y_true, "int32")
            predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
            valid = ops.logical_and(truth >= 0, truth < n)
            weights = ops.cast(valid, "float32")
            if sample_weight is not None:
                weights = weights * ops.cast(ops.broadcast_to(sample_weight, ops.shape(truth)), "float32")
            # counts[i, j] = sum over pixels of [truth = i] * weight * [predicted = j]: a matmul of
            # one-hot codes. Unlike bincount / scatter-add it is deterministic on GPUs (TF refuses
            # non-deterministic ops once setup() enables op determinism) and compiles with XLA.
            truth_codes = ops.one_hot(ops.reshape(ops.where(valid, truth, 0), (-1,)), n, dtype="float32")
            truth_codes = truth_codes * ops.reshape(weights, (-1, 1))
            predicted_codes = ops.one_hot(ops.reshape(predicted, (-1,)), n, dtype="float32")
            self.confusion.assign_add(ops.matmul(ops.transpose(truth_codes), predicted_codes))

        def result(self):
            hits = ops.diagonal(self.confusion)
            union = ops.sum(self.confusion, axis=0) + ops.sum(self.confusion, axis=1) - hits
            present = ops.cast(union > 0, "float32")
            iou = ops.divide_no_nan(hits, union)
            return ops.sum(iou * present) / ops.sum(present)  # 0/0 = NaN before any pixel

        def reset_state(self):
            self.confusion.assign(ops.zeros((self.num_classes, self.num_classes), "float32"))

        def get_config(self):
            return {**super().get_config(), "num_classes": self.num_classes, "ignore_label": self.ignore_label}

    return MeanIU


def __getattr__(name):
    # MeanIU is built on first use, so ``import fcn_lessons.metrics`` does not import Keras.
    if name == "MeanIU":
        cls = _keras_metric_class()
        globals()["MeanIU"] = cls
        return cls
    raise AttributeError(f"module 'fcn_lessons.metrics' has no attribute {name!r}")


# --- scores over part of the pixels ----------------------------------------------------------

def region_scores(labels, predictions, num_classes: int, region,
                  ignore_label: int | None = VOID_LABEL) -> dict:
    """``segmentation_scores`` over the pixels that ``region`` keeps: the paper's scores, restricted.

    The primitive behind every "how good is it *there*" measurement: near borders
    (``trimap_scores``), at object centres or edges (``accuracy_by_distance``, and lesson
    02's ``field_experiments.region_scores``), by distance to a boundary
    (``accuracy_profile``, ``field_experiments.distance_profile``), for small objects.
    Void pixels are left out as everywhere; so is every pixel outside ``region``.

    Args:
        labels, predictions, num_classes, ignore_label: as ``confusion_matrix``.
        region: bool array of the labels' shape: True where a pixel counts.

    Returns:
        the dict of ``segmentation_scores``; ``num_pixels`` counts the labelled pixels kept.
    """
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    ignore_label = _check_ignore(ignore_label, num_classes)
    labels = _class_ids(labels, "labels", "")
    labels, preds = _predicted_ids(labels, predictions, num_classes)
    region = _validate.array(region, "region", kinds="b")
    if region.shape != labels.shape:
        raise ValueError(f"region must be a bool mask of the labels' shape {labels.shape}, "
                         f"received shape {region.shape}.")
    return segmentation_scores(_accumulate(labels, preds, num_classes, ignore_label, keep=region))


# --- near the borders (lesson 05) -----------------------------------------------------------

def boundary_band(labels, width: float, ignore_label: int | None = VOID_LABEL) -> np.ndarray:
    """``fcn_lessons.labels.boundary_band`` (its home): pixels within ``width`` of a label border."""
    return _labels.boundary_band(labels, width, ignore_label)


def trimap_scores(labels, predictions, num_classes: int, width: float,
                  ignore_label: int | None = VOID_LABEL) -> dict:
    """``segmentation_scores`` counting only pixels within ``width`` pixels of a label border.

    The "trimap" evaluation of Kohli et al. (2009), used by DeepLab (Chen et al., 2015)
    to compare how well networks place object borders: sweep ``width`` (1, 2, 4, 8, ...
    pixels) and plot mean IU against it. Coarse outputs (FCN-32s) lose most near the
    borders. Arguments as ``confusion_matrix``, labels (H, W) or (N, H, W); the band is
    ``labels.boundary_band`` (Euclidean), scored with ``region_scores``.
    """
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    ignore_label = _check_ignore(ignore_label, num_classes)
    labels, predicted = _predicted_ids(_class_ids(labels, "labels", ""), predictions, num_classes)
    band = _labels.boundary_band(labels, width, ignore_label)
    return region_scores(labels, predicted, num_classes, band, ignore_label)


# --- centres and edges of objects (lesson 02) -------------------------------------------------

def _object_pixels(masks: np.ndarray, classes, ignore_label) -> np.ndarray:
    """The pixels whose class counts: ``classes``, or every class but 0 (background); never void."""
    counted = masks != 0 if classes is None else np.isin(masks, list(classes))
    if ignore_label is not None:
        counted &= masks != ignore_label
    return counted


def _kept_scores(masks, predictions, num_classes: int, region) -> dict:
    """``region_scores`` of object pixels; ``region`` never holds void, so nothing more is ignored
    (a prediction of the void id at a void pixel is then no error)."""
    return region_scores(masks, predictions, max(num_classes, 2), region, ignore_label=None)


def _distance_inputs(masks, predictions, ignore_label, metric: str):
    """Validated (masks, predictions, distance to the boundary, classes to score with)."""
    masks = _validate.label_map(masks, "masks", ndim=3, ignore_label=ignore_label)
    predictions = _validate.label_map(predictions, "predictions", ndim=3, ignore_label=None)
    if masks.shape != predictions.shape:
        raise ValueError(f"predictions must have the shape of masks {masks.shape}, received {predictions.shape}.")
    distance = _labels.distance_to_boundary(masks, metric=metric, ignore_label=ignore_label)
    labelled = masks if ignore_label is None else masks[masks != ignore_label]
    num_classes = int(max(labelled.max() if labelled.size else 0, predictions.max() if predictions.size else 0)) + 1
    return masks, predictions, distance, num_classes


@_validate.renamed_keyword("void_label", "ignore_label")
def accuracy_by_distance(masks, predictions, *, centre_distance: float, edge_distance: float,
                         classes=None, ignore_label: int | None = VOID_LABEL, metric: str = "euclidean",
                         ) -> dict:
    """How well ``predictions`` label object centres and object edges (lesson 02).

    Centres and edges are regions of ``labels.distance_to_boundary``; each is scored with
    ``region_scores``.

    Args:
        masks: (N, H, W) true labels (``ignore_label`` ignored).
        predictions: (N, H, W) predicted class ids.
        centre_distance: pixels at least this far from another label count as "centre".
        edge_distance: pixels at most this far count as "edge".
        classes: the class ids to include (default: every class but 0, the background).
        metric: how distance is measured, "euclidean" or "chessboard" (see
            ``labels.distance_to_boundary``: with "chessboard", distance >= r means the
            (2r - 1)-pixel square around the pixel holds only its class).

    Returns:
        dict with ``centre`` and ``edge``, each a dict of ``pixel_accuracy`` (share of
        those pixels labelled right), ``mean_accuracy`` (the FCN paper's mean accuracy:
        per-class accuracy averaged over the classes present, so that always answering
        the most common class scores 1/number of classes), ``pixels`` (how many) and
        ``predicted`` ((num classes,) share of those pixels given each class).
        Accuracies are NaN where there is no such pixel.
    """
    if not 0 < edge_distance < centre_distance:
        raise ValueError(f"need 0 < edge_distance < centre_distance, received edge_distance={edge_distance}, "
                         f"centre_distance={centre_distance}.")
    masks, predictions, distance, num_classes = _distance_inputs(masks, predictions, ignore_label, metric)
    counted = _object_pixels(masks, classes, ignore_label)
    result = {}
    for name, region in (("centre", counted & (distance >= centre_distance)),
                         ("edge", counted & (distance <= edge_distance))):
        scores = _kept_scores(masks, predictions, num_classes, region)
        pixels = scores["num_pixels"]
        result[name] = {
            "pixel_accuracy": scores["pixel_accuracy"],
            "mean_accuracy": scores["mean_accuracy"],
            "pixels": pixels,
            "predicted": np.bincount(predictions[region], minlength=num_classes) / max(pixels, 1),
        }
    return result


@_validate.renamed_keyword("void_label", "ignore_label")
def accuracy_profile(masks, predictions, distances, *, classes=None, ignore_label: int | None = VOID_LABEL,
                     metric: str = "euclidean") -> dict:
    """Accuracy of object pixels as a function of their distance to the nearest boundary.

    Args:
        masks, predictions: (N, H, W) labels and predicted class ids.
        distances: increasing bin edges in pixels, e.g. (1, 3, 6, 10, 100): bin i holds
            the pixels with ``distances[i] <= distance < distances[i + 1]``.
        classes: class ids to include (default: every class but 0, the background).
        metric: "euclidean" or "chessboard", as ``labels.distance_to_boundary``.

    Returns:
        dict of arrays, one value per bin: ``pixel_accuracy``, ``mean_accuracy`` (per
        class, averaged over the classes present) and ``pixels`` (each bin scored with
        ``region_scores``).
    """
    edges = np.asarray(distances, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"distances must be at least two increasing bin edges, received {distances!r}.")
    masks, predictions, distance, num_classes = _distance_inputs(masks, predictions, ignore_label, metric)
    counted = _object_pixels(masks, classes, ignore_label)
    bins = [_kept_scores(masks, predictions, num_classes, counted & (distance >= lo) & (distance < hi))
            for lo, hi in zip(edges[:-1], edges[1:])]
    return {"pixel_accuracy": np.array([b["pixel_accuracy"] for b in bins]),
            "mean_accuracy": np.array([b["mean_accuracy"] for b in bins]),
            "pixels": np.array([b["num_pixels"] for b in bins])}


# --- lesson 07: scores over a region as counts, objects, errors by kind, precision/recall -----
#
# Everything below returns *counts* that add up over batches (like ``confusion_matrix``) and
# turns counts into ratios in a separate function (like ``segmentation_scores``), so that
# ``fcn_lessons.evaluate`` can stream a data set through them in bounded memory.

BACKGROUND = 0  # the class id of "no object": VOC's and the course data's background
ERROR_KINDS = ("boundary", "class confusion", "missed object", "false object", "extent")
ERROR_KIND_HELP = {
    "boundary": "within the band of a label border (where labels are least certain)",
    "class confusion": "an object pixel given another object class",
    "missed object": "a pixel of an object the prediction mostly leaves as background",
    "false object": "a background pixel inside a predicted object that is mostly over background",
    "extent": "a found object drawn too small or too large, away from its border",
}
DEFAULT_BOUNDARY_WIDTH = 2.0  # px: the course data's void outline is 1-2 px wide
DEFAULT_MIN_SHARE = 0.5  # an object is found when at least half of it is predicted as an object


def region_confusion(labels, predictions, num_classes: int, region,
                     ignore_label: int | None = VOID_LABEL) -> np.ndarray:
    """``confusion_matrix`` of the pixels that ``region`` keeps: counts that add up over batches.

    ``region_scores`` is ``segmentation_scores(region_confusion(...))``; this returns the
    counts themselves, so a data set can be scored region by region in batches.

    Args:
        labels, predictions, num_classes, ignore_label: as ``confusion_matrix``.
        region: bool array of the labels' shape: True where a pixel counts.

    Returns:
        (num_classes, num_classes) int64 counts.
    """
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    ignore_label = _check_ignore(ignore_label, num_classes)
    labels = _class_ids(labels, "labels", "")
    labels, preds = _predicted_ids(labels, predictions, num_classes)
    region = _validate.array(region, "region", kinds="b")
    if region.shape != labels.shape:
        raise ValueError(f"region must be a bool mask of the labels' shape {labels.shape}, "
                         f"received shape {region.shape}.")
    return _accumulate(labels, preds, num_classes, ignore_label, keep=region)


def _maps_and_ids(labels, predictions, num_classes: int, ignore_label):
    """(N, H, W) labels and predicted ids, validated (scores are arg-maxed)."""
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    ignore_label = _check_ignore(ignore_label, num_classes)
    labels = _class_ids(labels, "labels", "Masks must be resized with nearest-neighbour interpolation.")
    labels, preds = _predicted_ids(labels, predictions, num_classes)
    if labels.ndim not in (2, 3):
        raise ValueError(f"labels must be (H, W) or (N, H, W) label maps, received shape {labels.shape}.")
    _accumulate(labels, preds, num_classes, ignore_label)  # refuses ids outside the classes
    single = labels.ndim == 2
    if single:
        labels, preds = labels[None], preds[None]
    return labels, preds, num_classes, ignore_label, single


def object_regions(label_map, *, background: int = BACKGROUND, ignore_label: int | None = VOID_LABEL,
                   connectivity: int = 4):
    """The objects of one label map: connected regions of one class other than background.

    A label map names classes, not objects; connected regions are the closest thing to
    objects it holds. Void pixels belong to no region, so objects that VOC (and the course
    data) outline with void come apart; two touching objects of the same class are one
    region.

    Args:
        label_map: (H, W) integer class ids (also a prediction: then no pixel is void).
        background: the class that is no object (0).
        connectivity: 4 (up, down, left, right) or 8 (diagonals too) neighbours.

    Returns:
        (region_ids, classes, areas): region_ids (H, W) int32 with 0 outside every object
        and k = 1..R for object k; classes (R,) int64 the class of each object; areas (R,)
        int64 its pixels. Objects are numbered in raster order of their first pixel.
    """
    import cv2

    label_map = _validate.label_map(label_map, "label_map", ndim=2, ignore_label=ignore_label)
    background = _validate.integer(background, "background", minimum=0)
    _validate.choice(connectivity, "connectivity", (4, 8))
    ids = np.zeros(label_map.shape, np.int32)
    classes, count = [], 0
    for class_id in np.unique(label_map):
        if class_id == background or (ignore_label is not None and class_id == ignore_label):
            continue
        number, components = cv2.connectedComponents((label_map == class_id).astype(np.uint8),
                                                      connectivity=connectivity, ltype=cv2.CV_32S)
        inside = components > 0
        ids[inside] = components[inside] + count
        classes += [int(class_id)] * (number - 1)
        count += number - 1
    if not count:
        return ids, np.zeros(0, np.int64), np.zeros(0, np.int64)
    # renumber in raster order of each region's first pixel (independent of the class order)
    first = np.full(count + 1, ids.size, np.int64)
    flat = ids.ravel()
    np.minimum.at(first, flat, np.arange(flat.size))
    order = np.argsort(first[1:], kind="stable")
    renumber = np.zeros(count + 1, np.int32)
    renumber[order + 1] = np.arange(1, count + 1, dtype=np.int32)
    ids = renumber[ids]
    classes = np.asarray(classes, np.int64)[order]
    areas = np.bincount(ids.ravel(), minlength=count + 1)[1:].astype(np.int64)
    return ids, classes, areas


def _found_share(region_ids: np.ndarray, count: int, hits: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """(count,) share of each region's counted pixels where ``hits``; NaN for a region with none counted."""
    total = np.bincount(region_ids[counted], minlength=count + 1)[1:]
    good = np.bincount(region_ids[counted & hits], minlength=count + 1)[1:]
    return np.divide(good, total, out=np.full(count, np.nan), where=total > 0)


def error_kinds(labels, predictions, num_classes: int, *, boundary_width: float = DEFAULT_BOUNDARY_WIDTH,
                background: int = BACKGROUND, min_share: float = DEFAULT_MIN_SHARE,
                ignore_label: int | None = VOID_LABEL, connectivity: int = 4) -> dict:
    """The kind of every wrong pixel: boundary, class confusion, missed or false object, extent.

    Every labelled pixel whose prediction differs from its label gets exactly one kind, in
    this order:

    1. ``boundary``: it lies within ``boundary_width`` px of a label border
       (``labels.boundary_band``; void outlines are borders);
    2. ``class confusion``: labelled object class c, predicted another object class;
    3. ``missed object``: labelled object, predicted background, in a true object (a region of
       ``object_regions``) of which less than ``min_share`` is predicted as an object class;
    4. ``false object``: labelled background, predicted object, in a predicted object (a region
       of the prediction) of whose labelled pixels less than ``min_share`` are labelled object;
    5. ``extent``: the rest: an object that was found, but drawn too small or too large.

    Args:
        labels, predictions, num_classes, ignore_label: as ``confusion_matrix``; (H, W) or
            (N, H, W).
        boundary_width: half-width of the border band in px (> 0).
        background: the class that is no object.
        min_share: in (0, 1]: the share of an object that must be predicted as an object for it
            to be found (and the share of a predicted object that must lie on true objects).

    Returns:
        dict with ``kinds`` (labels' shape, int8: 0 for a right or void pixel, k for
        ``ERROR_KINDS[k - 1]``) and the object counts (each (N,) int64, or ints for one map):
        ``objects``, ``missed_objects``, ``predicted_objects``, ``false_objects``.
    """
    labels, preds, num_classes, ignore_label, single = _maps_and_ids(labels, predictions, num_classes,
                                                                       ignore_label)
    background = _validate.integer(background, "background", minimum=0, maximum=num_classes - 1)
    min_share = float(min_share)
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be in (0, 1], received {min_share}.")
    kinds = np.zeros(labels.shape, np.int8)
    counts = {name: np.zeros(len(labels), np.int64)
              for name in ("objects", "missed_objects", "predicted_objects", "false_objects")}
    code = {name: i + 1 for i, name in enumerate(ERROR_KINDS)}
    for n, (label_map, pred) in enumerate(zip(labels, preds)):
        labelled = label_map != ignore_label if ignore_label is not None else np.ones(label_map.shape, bool)
        wrong = labelled & (pred != label_map)
        band = (_labels.boundary_band(label_map, boundary_width, ignore_label) if wrong.any()
                else np.zeros(label_map.shape, bool))
        true_ids, true_classes, _ = object_regions(label_map, background=background, ignore_label=ignore_label,
                                                   connectivity=connectivity)
        pred_ids, pred_classes, _ = object_regions(pred, background=background, ignore_label=None,
                                                   connectivity=connectivity)
        label_object = labelled & (label_map != background)
        pred_object = pred != background
        found = _found_share(true_ids, len(true_classes), pred_object, true_ids > 0) >= min_share
        on_objects = _found_share(pred_ids, len(pred_classes), label_object, labelled & (pred_ids > 0))
        false_region = on_objects < min_share  # NaN (no labelled pixel) is not a false object
        missed_pixel = np.concatenate([[False], ~found])[true_ids]
        false_pixel = np.concatenate([[False], false_region])[pred_ids]
        kind = np.zeros(label_map.shape, np.int8)
        rest = wrong & ~band
        kind[wrong & band] = code["boundary"]
        confusion = rest & label_object & pred_object
        kind[confusion] = code["class confusion"]
        rest &= ~confusion
        kind[rest & label_object & ~pred_object & missed_pixel] = code["missed object"]
        kind[rest & ~label_object & pred_object & false_pixel] = code["false object"]
        kind[rest & (kind == 0)] = code["extent"]
        kinds[n] = kind
        counts["objects"][n], counts["missed_objects"][n] = len(true_classes), int((~found).sum())
        counts["predicted_objects"][n] = len(pred_classes)
        counts["false_objects"][n] = int(np.count_nonzero(false_region))
    if single:
        return {"kinds": kinds[0], **{name: int(value[0]) for name, value in counts.items()}}
    return {"kinds": kinds, **counts}


def error_breakdown(labels, predictions, num_classes: int, **options) -> dict:
    """How many wrong pixels of each kind (``error_kinds``), and the objects missed and invented.

    Args:
        labels, predictions, num_classes: as ``confusion_matrix``; (H, W) or (N, H, W).
        **options: ``boundary_width``, ``background``, ``min_share``, ``ignore_label``,
            ``connectivity``, as ``error_kinds``.

    Returns:
        dict of ints (they add up over batches): ``labelled`` and ``wrong`` pixels, one entry
        per name of ``ERROR_KINDS`` (the wrong pixels of that kind; they sum to ``wrong``),
        and ``objects``, ``missed_objects``, ``predicted_objects``, ``false_objects``.
        ``error_shares`` turns it into shares.
    """
    ignore_label = options.get("ignore_label", VOID_LABEL)
    result = error_kinds(labels, predictions, num_classes, **options)
    kinds = result["kinds"]
    labels = _class_ids(labels, "labels", "")
    labelled = int(np.count_nonzero(labels != ignore_label)) if ignore_label is not None else int(labels.size)
    per_kind = np.bincount(kinds.ravel().astype(np.int64), minlength=len(ERROR_KINDS) + 1)
    out = {"labelled": labelled, "wrong": int(per_kind[1:].sum())}
    out.update({name: int(per_kind[i + 1]) for i, name in enumerate(ERROR_KINDS)})
    out.update({name: int(np.sum(result[name]))
                for name in ("objects", "missed_objects", "predicted_objects", "false_objects")})
    return out


def error_shares(breakdown: dict) -> dict:
    """Shares of an ``error_breakdown`` (or a sum of them): each kind over the wrong pixels.

    Returns:
        dict: each name of ``ERROR_KINDS`` -> its share of the wrong pixels (NaN when none
        is wrong); ``error_rate`` (wrong / labelled pixels); ``missed_object_rate``
        (missed / true objects) and ``false_object_rate`` (false / predicted objects),
        NaN where there is none.
    """
    def ratio(a, b):
        return float(a) / float(b) if b else float("nan")

    missing = [name for name in (*ERROR_KINDS, "wrong", "labelled") if name not in breakdown]
    if missing:
        raise ValueError(f"breakdown must be what error_breakdown returns; it lacks {missing}.")
    out = {name: ratio(breakdown[name], breakdown["wrong"]) for name in ERROR_KINDS}
    out["error_rate"] = ratio(breakdown["wrong"], breakdown["labelled"])
    out["missed_object_rate"] = ratio(breakdown.get("missed_objects", 0), breakdown.get("objects", 0))
    out["false_object_rate"] = ratio(breakdown.get("false_objects", 0), breakdown.get("predicted_objects", 0))
    return out


def object_size_counts(labels, predictions, num_classes: int, size_edges, *, margin: int = 2,
                       background: int = BACKGROUND, min_share: float = DEFAULT_MIN_SHARE,
                       ignore_label: int | None = VOID_LABEL, connectivity: int = 4) -> dict:
    """Counts for scoring objects by size (``size_scores``): they add up over batches.

    Each true object (``object_regions``) falls in the size bin of its area:
    ``size_edges[b] <= area < size_edges[b + 1]`` (objects outside every bin are left out).
    Per bin it counts the objects, those *recognised* (at least ``min_share`` of their
    pixels predicted as their class), their pixels and the right ones among them, and a confusion
    matrix over the objects' pixels and a ring of ``margin`` px around them (labelled pixels
    only), so that a prediction that spills over the object counts against it.

    Args:
        labels, predictions, num_classes, ignore_label: as ``confusion_matrix``.
        size_edges: increasing object areas in pixels, e.g. (0, 64, 256, 1024, 4097).
        margin: ring width in px (>= 0) around each bin's objects for the confusion matrix.

    Returns:
        dict of arrays with one entry per bin: ``objects``, ``recognised``, ``pixels``, ``hits``
        ((B,) int64) and ``confusion`` ((B, C, C) int64); and ``size_edges``.
    """
    import cv2

    labels, preds, num_classes, ignore_label, _ = _maps_and_ids(labels, predictions, num_classes, ignore_label)
    edges = np.asarray(size_edges, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0) or edges[0] < 0:
        raise ValueError(f"size_edges must be at least two increasing, non-negative areas, received {size_edges!r}.")
    margin = _validate.integer(margin, "margin", minimum=0)
    bins = len(edges) - 1
    out = {name: np.zeros(bins, np.int64) for name in ("objects", "recognised", "pixels", "hits")}
    out["confusion"] = np.zeros((bins, num_classes, num_classes), np.int64)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    for label_map, pred in zip(labels, preds):
        ids, classes, areas = object_regions(label_map, background=background, ignore_label=ignore_label,
                                             connectivity=connectivity)
        if not len(classes):
            continue
        which = np.searchsorted(edges, areas, side="right") - 1  # bin of each object, -1 or bins: outside
        right = pred == np.concatenate([[0], classes])[ids]
        hits = np.bincount(ids[right & (ids > 0)], minlength=len(classes) + 1)[1:]
        for b in range(bins):
            members = np.flatnonzero(which == b)
            if not len(members):
                continue
            out["objects"][b] += len(members)
            out["recognised"][b] += int(np.count_nonzero(hits[members] >= min_share * areas[members]))
            out["pixels"][b] += int(areas[members].sum())
            out["hits"][b] += int(hits[members].sum())
            inside = np.isin(ids, members + 1)
            region = cv2.dilate(inside.astype(np.uint8), kernel).astype(bool) if margin else inside
            out["confusion"][b] += _accumulate(label_map, pred, num_classes, ignore_label, keep=region)
    out["size_edges"] = edges
    return out


def size_scores(counts: dict) -> dict:
    """Ratios of ``object_size_counts`` (or a sum of them), one per size bin.

    Returns:
        dict of (B,) arrays: ``objects``; ``recognised_rate`` (objects recognised / objects);
        ``recall`` (object pixels predicted as their class / object pixels); ``mean_iou`` (the
        mean IU of the bin's objects and their ring, ``segmentation_scores`` of its
        confusion); NaN for an empty bin. Also ``size_edges``.
    """
    objects, pixels = np.asarray(counts["objects"]), np.asarray(counts["pixels"])
    recognised = np.divide(counts["recognised"], objects, out=np.full(len(objects), np.nan), where=objects > 0)
    recall = np.divide(counts["hits"], pixels, out=np.full(len(objects), np.nan), where=pixels > 0)
    miou = np.array([segmentation_scores(c)["mean_iou"] if n else np.nan
                     for c, n in zip(counts["confusion"], objects)])
    return {"objects": objects, "recognised_rate": recognised, "recall": recall, "mean_iou": miou,
            "size_edges": np.asarray(counts["size_edges"])}


def precision_recall_f1(confusion) -> dict:
    """Per-class precision, recall and F1 from a confusion matrix, and their averages.

    Precision_i = n_ii / sum_j n_ji (column), recall_i = n_ii / t_i (row: the paper's
    per-class accuracy), F1_i = 2 n_ii / (t_i + sum_j n_ji) = 2 IU_i / (1 + IU_i): per class,
    F1 (the Dice coefficient) ranks exactly as IU does. "micro" averages pool all pixels:
    when every labelled pixel gets one predicted class, micro precision, recall and F1 all
    equal the pixel accuracy. "macro" averages the defined per-class values (NaN left out).

    Returns:
        dict with (C,) arrays ``precision``, ``recall``, ``f1`` (NaN where 0/0) and floats
        ``macro_precision``, ``macro_recall``, ``macro_f1``, ``micro_precision``,
        ``micro_recall``, ``micro_f1``.
    """
    matrix = _check_confusion(confusion)
    hits, rows, cols = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    nan = np.full(len(hits), np.nan)
    precision = np.divide(hits, cols, out=nan.copy(), where=cols > 0)
    recall = np.divide(hits, rows, out=nan.copy(), where=rows > 0)
    f1 = np.divide(2 * hits, rows + cols, out=nan.copy(), where=(rows + cols) > 0)
    total, predicted = matrix.sum(), cols.sum()
    micro_p = float(hits.sum() / predicted) if predicted else float("nan")
    micro_r = float(hits.sum() / total) if total else float("nan")
    micro_f1 = 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r > 0 else float("nan")
    return {"precision": precision, "recall": recall, "f1": f1,
            "macro_precision": _mean_defined(precision), "macro_recall": _mean_defined(recall),
            "macro_f1": _mean_defined(f1), "micro_precision": micro_p, "micro_recall": micro_r,
            "micro_f1": float(micro_f1)}


def per_image_scores(labels, predictions, num_classes: int, ignore_label: int | None = VOID_LABEL) -> dict:
    """Each image's own scores, to *rank* images (find the worst), never to average.

    The mean of per-image mean IUs is not the data set's mean IU: a class absent from an
    image drops out of that image's mean, and small images weigh as much as big ones.
    Score a data set with one confusion matrix (``ConfusionAccumulator``).

    Args:
        labels, predictions, num_classes, ignore_label: as ``confusion_matrix``, (N, H, W).

    Returns:
        dict of (N,) arrays: ``pixel_accuracy``, ``mean_iou`` (NaN for an all-void image),
        ``labelled`` (pixels).
    """
    labels, preds, num_classes, ignore_label, _ = _maps_and_ids(labels, predictions, num_classes, ignore_label)
    rows = [segmentation_scores(_accumulate(lab, pred, num_classes, ignore_label))
            for lab, pred in zip(labels, preds)]
    return {"pixel_accuracy": np.array([r["pixel_accuracy"] for r in rows]),
            "mean_iou": np.array([r["mean_iou"] for r in rows]),
            "labelled": np.array([r["num_pixels"] for r in rows], np.int64)}
