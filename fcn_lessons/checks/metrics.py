"""Checks for lesson 00's exercises: the confusion matrix and the paper's IU metrics."""

from __future__ import annotations

import numpy as np

from fcn_lessons import metrics
from fcn_lessons.checks._core import case_rng, cases, exercise_check, passed

__all__ = ["check_confusion_matrix", "check_mean_iou", "check_frequency_weighted_iou"]

_SEED = 1  # the checks draw their own random cases; the learner's seed is untouched
_RTOL = 1e-6  # float32 arithmetic is fine; every plausible mistake is off by far more


# --- Exercise 0.1: confusion matrix ---------------------------------------------------------

def _label_maps(rng, shape, num_classes, *, void_share=0.1, classes=None, void=metrics.VOID_LABEL, dtype=np.uint8):
    """Random labels with some void, and predictions that are right about half the time."""
    classes = np.arange(num_classes) if classes is None else np.asarray(classes)
    labels = rng.choice(classes, size=shape).astype(dtype)
    predictions = np.where(rng.uniform(size=shape) < 0.5, labels,
                           rng.choice(classes, size=shape)).astype(dtype)
    labels[rng.uniform(size=shape) < void_share] = void  # predictions there stay arbitrary
    return labels, predictions


def _confusion_cases(rng):
    """(description, labels, predictions, num_classes, ignore_label or 'default')."""
    out = []
    labels, preds = _label_maps(rng, (8, 10), 5)
    out.append(("one 8×10 label map, 5 classes, 10% void", labels, preds, 5, "default"))
    labels, preds = _label_maps(rng, (3, 16, 16), 21)
    out.append(("a batch of 3 label maps of 16×16, uint8, 21 classes (VOC)", labels, preds, 21, "default"))
    labels, preds = _label_maps(rng, (2, 12, 9), 6, classes=[0, 1, 2, 3], dtype=np.int64)
    out.append(("int64 maps where classes 4 and 5 never occur (6 classes)", labels, preds, 6, "default"))
    labels, preds = _label_maps(rng, (20, 20), 4, void_share=0.4)
    out.append(("40% void pixels, with random predictions on them", labels, preds, 4, metrics.VOID_LABEL))
    labels, preds = _label_maps(rng, (6, 7), 3, void_share=0.2, void=99)
    out.append(("void marked 99 (ignore_label=99), 3 classes", labels, preds, 3, 99))
    labels, preds = _label_maps(rng, (4, 15), 2, void_share=0.0)
    out.append(("no void at all, 2 classes", labels, preds, 2, "default"))
    return out


def _confusion_variants(labels, preds, num_classes, ignore):
    """Plausible wrong answers, to name the mistake in the failure message."""
    n, keep = num_classes, labels != ignore
    lab, pred = labels[keep].astype(np.int64), preds[keep].astype(np.int64)
    right = np.bincount(n * lab + pred, minlength=n * n).reshape(n, n)
    wrapped = (labels[keep] * np.uint8(n) + preds[keep]).astype(np.int64) if labels.dtype == np.uint8 else None
    as_background = np.where(keep, labels, 0).astype(np.int64).ravel()
    variants = {
        "transposed": right.T,
        "void as background": np.bincount(n * as_background + preds.astype(np.int64).ravel(),
                                          minlength=n * n).reshape(n, n),
    }
    if wrapped is not None and wrapped.max(initial=0) < n * n:
        variants["uint8 overflow"] = np.bincount(wrapped, minlength=n * n).reshape(n, n)
    return variants


_CONFUSION_HINTS = {
    "transposed": "rows are the true class (labels), columns the predicted class: yours is transposed.",
    "void as background": ("void pixels were counted (as background): drop every pixel whose label is "
                           "ignore_label, whatever the prediction there, before counting."),
    "uint8 overflow": ("with uint8 inputs, num_classes * label + prediction overflows above 255 and wraps "
                       "around: convert to np.int64 before combining labels and predictions."),
}


def _diagnose_confusion(received, labels, preds, num_classes, ignore) -> str | None:
    try:
        got = np.asarray(received, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if got.ndim == 2 and got.shape[0] == got.shape[1] and got.shape[0] < num_classes:
        return (f"the matrix must be num_classes × num_classes ({num_classes}×{num_classes}) even when "
                "the last classes never occur: use np.bincount(..., minlength=num_classes**2).")
    for name, variant in _confusion_variants(labels, preds, num_classes, ignore).items():
        if got.shape == variant.shape and np.array_equal(got, variant):
            return _CONFUSION_HINTS[name]
    if got.shape == (num_classes, num_classes) and got.sum() > np.count_nonzero(labels != ignore):
        return _CONFUSION_HINTS["void as background"].replace(" (as background)", "")
    return None


@exercise_check("0.1")
def check_confusion_matrix(fn) -> None:
    """Exercise 0.1: ``fn(labels, predictions, num_classes, ignore_label=255) -> (C, C)`` counts."""
    rng = case_rng(_SEED)
    configs = _confusion_cases(rng)
    hint = ("Keep the pixels whose label is not ignore_label; count pairs (label i, prediction j) "
            "into entry [i, j], e.g. np.bincount(num_classes * label + prediction, "
            "minlength=num_classes**2).reshape(num_classes, num_classes).")
    for case, (_, labels, preds, n, ignore) in zip(cases("0.1", [c[0] for c in configs], hint), configs):
        kwargs = {} if ignore == "default" else {"ignore_label": ignore}
        expected = metrics.confusion_matrix(labels, preds, n, **kwargs)
        received = case.call(fn, labels.copy(), preds.copy(), n, **kwargs)
        void = metrics.VOID_LABEL if ignore == "default" else ignore
        case.assert_close(received, expected, what=f"confusion matrix ({n}×{n})", atol=0, rtol=0,
                          hint=_diagnose_confusion(received, labels, preds, n, void))
    passed("0.1", len(configs), "match the reference counts")


# --- Exercises 0.2 and 0.3: mean IU and frequency weighted IU ---------------------------------

def _random_confusion(rng, num_classes, *, absent=(), predicted_only=(), perfect=False):
    """Counts with classes ``absent`` from labels and predictions, and ``predicted_only``
    classes that are predicted but never labelled."""
    matrix = rng.integers(0, 40, size=(num_classes, num_classes))
    matrix[np.diag_indices(num_classes)] += rng.integers(20, 400, size=num_classes)
    matrix[0, 0] += 2000  # a dominant background, as in real data
    for c in absent:
        matrix[c, :] = 0
        matrix[:, c] = 0
    for c in predicted_only:
        matrix[c, :] = 0
        matrix[rng.integers(0, num_classes), c] += 7
    if perfect:
        matrix = np.diag(np.diag(matrix))
    return matrix.astype(np.int64)


def _iou_cases(rng):
    return [
        ("5 classes, all present", _random_confusion(rng, 5)),
        ("21 classes, all present", _random_confusion(rng, 21)),
        ("6 classes; class 4 absent from labels and predictions", _random_confusion(rng, 6, absent=(4,))),
        ("5 classes; class 3 predicted but never labelled", _random_confusion(rng, 5, predicted_only=(3,))),
        ("4 classes; classes 1 and 2 absent, class 3 predicted only",
         _random_confusion(rng, 4, absent=(1, 2), predicted_only=(3,))),
        ("3 classes, a perfect prediction (diagonal)", _random_confusion(rng, 3, perfect=True)),
    ]


def _scalar(case, received, what):
    try:
        value = np.asarray(received, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise case.fail(f"{what}: expected a number, received {received!r:.80}") from err
    if value.shape != ():
        raise case.fail(f"{what}: expected one number, received an array of shape {value.shape} "
                        "(per-class values? average them)")
    return float(value)


def _iou_variants(confusion):
    """Plausible wrong answers, to name the mistake in the failure message."""
    c = confusion.astype(np.float64)
    hits, rows, cols = np.diag(c), c.sum(axis=1), c.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = hits / (rows + cols - hits)
        return iou, {
            "nan_as_zero": np.nan_to_num(iou).mean(),
            "plain_mean": iou.mean(),
            "labelled_only": iou[rows > 0].mean(),
            "accuracy": np.nanmean(hits / rows),
            "pixel_accuracy": hits.sum() / c.sum(),
            "no_minus_diag": np.nanmean(hits / (rows + cols)),
            "fw_by_predictions": np.nansum(cols / c.sum() * iou),
            "fw_nan": (rows / c.sum() * iou).sum(),
            "fw_unnormalised": np.nansum(rows * iou),
            "mean_iou": np.nanmean(iou),
        }


_IOU_HINTS = {
    "nan_as_zero": "a class absent from labels and predictions has IU 0/0 = NaN: leave it out of the "
                   "mean (np.nanmean), do not count it as 0.",
    "plain_mean": "a class absent from labels and predictions has IU 0/0 = NaN; np.mean then returns "
                  "NaN: use np.nanmean.",
    "labelled_only": "a class that is predicted but never labelled has IU 0 and must count in the mean: "
                     "leave out only classes whose union is empty.",
    "accuracy": "that is the mean (per-class) accuracy n_ii / t_i; IU divides by the union "
                "t_i + sum_j n_ji - n_ii.",
    "pixel_accuracy": "that is the pixel accuracy; IU is computed per class, then averaged.",
    "no_minus_diag": "the union counts the correct pixels once: t_i + sum_j n_ji - n_ii.",
    "fw_by_predictions": "weight each class by its share of the *labelled* pixels t_i (row sums), "
                         "not of the predicted pixels (column sums).",
    "fw_nan": "a class absent from labels and predictions has IU NaN and weight 0; 0 * NaN is NaN: "
              "sum only over classes with t_i > 0 (or use np.nansum).",
    "fw_unnormalised": "divide by the total number of labelled pixels, sum_k t_k.",
    "mean_iou": "that is the mean IU; frequency weighted IU weights each class by t_i / sum_k t_k.",
}


def _iou_hint(received, confusion, key: str) -> str | None:
    _, variants = _iou_variants(confusion)
    own_first = sorted(variants, key=lambda name: name.startswith("fw_") != (key == "frequency_weighted_iou"))
    for name in own_first:
        value = variants[name]
        if name == key:
            continue
        if (np.isnan(received) and np.isnan(value)) or np.isclose(received, value, rtol=_RTOL, atol=0):
            return _IOU_HINTS[name]
    return None


def _check_iou(fn, exercise: str, key: str, what: str, hint: str) -> None:
    rng = case_rng(_SEED + int(exercise.split(".")[1]))
    configs = _iou_cases(rng)
    for case, (_, confusion) in zip(cases(exercise, [c[0] for c in configs], hint), configs):
        expected = metrics.segmentation_scores(confusion)[key]
        received = _scalar(case, case.call(fn, confusion.copy()), what)
        if not np.isclose(received, expected, rtol=_RTOL, atol=0):
            specific = _iou_hint(received, confusion, key)
            raise case.fail(f"{what}: expected {expected:.6f}, received {received:.6f}\n"
                            f"confusion matrix (rows: true class, columns: predicted):\n{confusion}",
                            hint=specific)
    passed(exercise, len(configs), "match the paper's definition")


@exercise_check("0.2")
def check_mean_iou(fn) -> None:
    """Exercise 0.2: ``fn(confusion (C, C)) -> float`` mean IU as in the FCN paper."""
    _check_iou(fn, "0.2", "mean_iou", "mean IU",
               "IU_i = n_ii / (t_i + sum_j n_ji - n_ii) with t_i the row sums and sum_j n_ji the column "
               "sums; average over the classes whose IU is defined (np.nanmean).")


@exercise_check("0.3")
def check_frequency_weighted_iou(fn) -> None:
    """Exercise 0.3: ``fn(confusion (C, C)) -> float`` frequency weighted IU as in the FCN paper."""
    _check_iou(fn, "0.3", "frequency_weighted_iou", "frequency weighted IU",
               "(sum_k t_k)^-1 sum_i t_i IU_i: weight each class's IU by its share of the labelled "
               "pixels (row sums), over the classes with t_i > 0.")
