"""Checks for lesson 00's exercises: the confusion matrix and the paper's metrics.

- 0.1 ``check_confusion_matrix(fn)``: counts (label, prediction) pairs, void left out.
- 0.2 ``check_mean_iou(fn)``: mean IU from a confusion matrix, absent classes left out.
- 0.3 ``check_mean_accuracy(fn, trap_answer)``: mean accuracy, and the explanation (one of
  ``TRAP_CHOICES``) of what the all-background model scores.
- 0.4 ``check_all_background_prediction(prediction)``: "predict, then run": the learner's
  prediction of the all-background model's frequency weighted IU on scenes with bigger
  objects (``PREDICTION_SCENES``), whose class shares the exercise prints and lesson 00 does
  not: the number must be derived (f.w. IU = the background share squared), not read off.

Exercises 0.1-0.3 may not use ``fcn_lessons.metrics`` (``FORBIDDEN``): a learner's
function that calls it is refused, like the course's function handed over directly.
"""

from __future__ import annotations

import numpy as np

from fcn_lessons import metrics
from fcn_lessons.checks._core import (CaseFailure, NotDone, case_rng, cases, check_prediction, exercise_check,
                                      passed)

__all__ = ["check_confusion_matrix", "check_mean_iou", "check_mean_accuracy",
           "check_all_background_prediction", "TRAP_CHOICES", "PREDICTION_SCENES"]

_SEED = 1  # the checks draw their own random cases; the learner's seed is untouched
_RTOL = 1e-6  # float32 arithmetic is fine; every plausible mistake is off by far more
FORBIDDEN = ("fcn_lessons.metrics",)  # exercises 0.1-0.3 compute what this module computes


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
    labels, preds = _label_maps(rng, (5, 9), 4, void_share=0.2, void=-1, dtype=np.int64)
    out.append(("void marked -1 (ignore_label=-1, as Keras allows), int64, 4 classes", labels, preds, 4, -1))
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
                "the last classes never occur in the maps: how do you make the counts that long?")
    for name, variant in _confusion_variants(labels, preds, num_classes, ignore).items():
        if got.shape == variant.shape and np.array_equal(got, variant):
            return _CONFUSION_HINTS[name]
    if got.shape == (num_classes, num_classes) and got.sum() > np.count_nonzero(labels != ignore):
        return _CONFUSION_HINTS["void as background"].replace(" (as background)", "")
    return None


@exercise_check("0.1", forbidden=FORBIDDEN)
def check_confusion_matrix(fn) -> None:
    """Exercise 0.1: ``fn(labels, predictions, num_classes, ignore_label=255) -> (C, C)`` counts."""
    rng = case_rng(_SEED)
    configs = _confusion_cases(rng)
    hint = ("Entry [i, j] counts the pixels labelled i and predicted j, among the pixels whose label is not "
            "ignore_label. Compare your matrix with the expected one: which entries differ, and by how much?")
    for case, (_, labels, preds, n, ignore) in zip(cases("0.1", [c[0] for c in configs], hint), configs):
        kwargs = {} if ignore == "default" else {"ignore_label": ignore}
        expected = metrics.confusion_matrix(labels, preds, n, **kwargs)
        received = case.call(fn, labels.copy(), preds.copy(), n, **kwargs)
        void = metrics.VOID_LABEL if ignore == "default" else ignore
        case.assert_close(received, expected, what=f"confusion matrix ({n}×{n})", atol=0, rtol=0,
                          hint=_diagnose_confusion(received, labels, preds, n, void))
    passed("0.1", len(configs), "match the reference counts")


# --- Exercises 0.2 and 0.3: mean IU and mean accuracy ----------------------------------------

def _random_confusion(rng, num_classes, *, absent=(), predicted_only=(), perfect=False, all_background=False):
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
    if all_background:  # every pixel predicted as class 0
        matrix = np.column_stack([matrix.sum(axis=1), np.zeros((num_classes, num_classes - 1), matrix.dtype)])
    return matrix.astype(np.int64)


def _score_cases(rng):
    return [
        ("5 classes, all present", _random_confusion(rng, 5)),
        ("21 classes, all present", _random_confusion(rng, 21)),
        ("6 classes; class 4 absent from labels and predictions", _random_confusion(rng, 6, absent=(4,))),
        ("5 classes; class 3 predicted but never labelled", _random_confusion(rng, 5, predicted_only=(3,))),
        ("4 classes; classes 1 and 2 absent, class 3 predicted only",
         _random_confusion(rng, 4, absent=(1, 2), predicted_only=(3,))),
        ("3 classes, a perfect prediction (diagonal)", _random_confusion(rng, 3, perfect=True)),
        ("5 classes, every pixel predicted as background", _random_confusion(rng, 5, all_background=True)),
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


def _score_variants(confusion):
    """Plausible wrong answers (and right ones of the other exercise), to name a mistake."""
    c = confusion.astype(np.float64)
    hits, rows, cols = np.diag(c), c.sum(axis=1), c.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou, accuracy, precision = hits / (rows + cols - hits), hits / rows, hits / cols
        return {
            "mean_iou": np.nanmean(iou),
            "mean_accuracy": np.nanmean(accuracy),
            "pixel_accuracy": hits.sum() / c.sum(),
            "frequency_weighted_iou": np.nansum(rows / c.sum() * iou),
            "iou_nan_as_zero": np.nan_to_num(iou).mean(),
            "iou_plain_mean": iou.mean(),
            "iou_labelled_only": iou[rows > 0].mean(),
            "iou_no_minus_diag": np.nanmean(hits / (rows + cols)),
            # before accuracy_nan_as_zero: where both match, this hint is the more specific
            "accuracy_union_rule": np.nan_to_num(accuracy)[(rows + cols) > 0].mean(),
            "accuracy_nan_as_zero": np.nan_to_num(accuracy).mean(),
            "accuracy_plain_mean": accuracy.mean(),
            "accuracy_by_columns": np.nanmean(precision),
        }


_SCORE_HINTS = {
    "mean_iou": "that is the mean IU; mean accuracy divides by t_i (the row sum) only.",
    "mean_accuracy": "that is the mean (per-class) accuracy n_ii / t_i; IU divides by the union "
                     "t_i + sum_j n_ji - n_ii.",
    "pixel_accuracy": "that is the pixel accuracy: it weighs classes by their pixels. Compute a score per "
                      "class first, then average the classes.",
    "frequency_weighted_iou": "that is the frequency weighted IU (classes weighted by their pixels); "
                              "average the classes with equal weight.",
    "iou_nan_as_zero": "a class absent from labels and predictions has IU 0/0 = NaN: leave it out of the "
                       "mean (np.nanmean), do not count it as 0.",
    "iou_plain_mean": "a class absent from labels and predictions has IU 0/0 = NaN; np.mean then returns "
                      "NaN: use np.nanmean.",
    "iou_labelled_only": "a class that is predicted but never labelled has IU 0 and must count in the mean: "
                         "leave out only classes whose union is empty.",
    "iou_no_minus_diag": "the union counts the correct pixels once: t_i + sum_j n_ji - n_ii.",
    "accuracy_nan_as_zero": "a class with no labelled pixel (t_i = 0) has no accuracy (0/0): leave it out "
                            "of the mean, do not count it as 0.",
    "accuracy_plain_mean": "a class with no labelled pixel has accuracy 0/0 = NaN; np.mean then returns "
                           "NaN: use np.nanmean.",
    "accuracy_union_rule": "unlike IU, accuracy is undefined for a class that is predicted but never "
                           "labelled (t_i = 0): leave every class with t_i = 0 out of the mean.",
    "accuracy_by_columns": "accuracy divides by t_i, the pixels *labelled* i (row sums), not by the pixels "
                           "predicted as i (column sums).",
}


def _score_hint(received, confusion, key: str) -> str | None:
    for name, value in _score_variants(confusion).items():
        if name == key:
            continue
        if (np.isnan(received) and np.isnan(value)) or np.isclose(received, value, rtol=_RTOL, atol=0):
            return _SCORE_HINTS[name]
    return None


def _check_score(fn, exercise: str, key: str, what: str, hint: str) -> int:
    rng = case_rng(_SEED + int(exercise.split(".")[1]))
    configs = _score_cases(rng)
    for case, (_, confusion) in zip(cases(exercise, [c[0] for c in configs], hint), configs):
        expected = metrics.segmentation_scores(confusion)[key]
        received = _scalar(case, case.call(fn, confusion.copy()), what)
        if not np.isclose(received, expected, rtol=_RTOL, atol=0):
            raise case.fail(f"{what}: expected {expected:.6f}, received {received:.6f}\n"
                            f"confusion matrix (rows: true class, columns: predicted):\n{confusion}",
                            hint=_score_hint(received, confusion, key))
    return len(configs)


@exercise_check("0.2", forbidden=FORBIDDEN)
def check_mean_iou(fn) -> None:
    """Exercise 0.2: ``fn(confusion (C, C)) -> float`` mean IU as in the FCN paper."""
    count = _check_score(fn, "0.2", "mean_iou", "mean IU",
                         "IU_i = n_ii / (t_i + sum_j n_ji - n_ii) with t_i the row sums and sum_j n_ji the "
                         "column sums; average over the classes whose IU is defined (np.nanmean).")
    passed("0.2", count, "match the paper's definition")


# --- Exercise 0.3: mean accuracy, and the all-background trap --------------------------------

TRAP_CHOICES = ("a", "b", "c", "d")  # the statements of exercise 0.3's question, in the notebook
_TRAP_ANSWER = "b"
_TRAP_WHY = {
    "a": "pixel accuracy counts pixels, so the background's 83% dominates it; mean accuracy averages the "
         "classes, each counted once, so the four missed classes pull it down to 1/5.",
    "b": "background's accuracy is 1 (every background pixel is right), each object class's is 0, and mean "
         "accuracy weighs the five classes equally: 1/5 = 20%, whatever the background share. Pixel "
         "accuracy weighs them by their pixels, so it reports the background share, 83%.",
    "c": "accuracy divides by t_i, the pixels *labelled* i, which every class has here; it is undefined "
         "only for a class with no labelled pixel. A class never predicted has accuracy 0, not 0/0.",
    "d": "background is found perfectly (accuracy 1) and counts as one of the five classes: the mean is "
         "1/5, not 0.",
}


def _check_trap_answer(trap_answer) -> None:
    if trap_answer is Ellipsis or trap_answer is None:
        raise NotDone("Exercise 0.3 is not done yet: your mean_accuracy passes; now set TRAP_ANSWER to the "
                      "letter of the statement you choose, run that cell, then this one.")
    choice = str(trap_answer).strip().lower() if isinstance(trap_answer, str) else trap_answer
    if choice not in TRAP_CHOICES:
        options = ", ".join(repr(c) for c in TRAP_CHOICES)
        raise CaseFailure(f"Exercise 0.3: TRAP_ANSWER must be one of {options}; received {trap_answer!r}.")
    if choice != _TRAP_ANSWER:
        raise CaseFailure(f"Exercise 0.3: your mean_accuracy is right, but statement {choice!r} is not.\n"
                          f"Why not: {_TRAP_WHY[choice]}\nRead the statements again and pick another.")


@exercise_check("0.3", forbidden=FORBIDDEN)
def check_mean_accuracy(fn, trap_answer) -> None:
    """Exercise 0.3: ``fn(confusion (C, C)) -> float`` mean accuracy as in the FCN paper, and
    ``trap_answer``, the letter (one of ``TRAP_CHOICES``) of the statement that explains
    the all-background model's scores."""
    count = _check_score(fn, "0.3", "mean_accuracy", "mean accuracy",
                         "accuracy_i = n_ii / t_i with t_i the row sums; average over the classes with "
                         "t_i > 0 (np.nanmean after 0/0 = NaN).")
    _check_trap_answer(trap_answer)
    print(f"Exercise 0.3 passed: {count} random cases match the paper's definition, and statement "
          f"{_TRAP_ANSWER!r} is right: {_TRAP_WHY[_TRAP_ANSWER]}")


# --- Exercise 0.4: predict, then run ---------------------------------------------------------

COURSE_SCENES = {"num_images": 300, "image_size": 64, "seed": 1}  # lesson 00, section 4
# Exercise 0.4's scenes: bigger objects than lesson 00's, so their background share (printed by
# the exercise, never by the lesson) is far from the lesson's 0.833.
PREDICTION_SCENES = {"num_images": 200, "image_size": 64, "seed": 5, "object_size": (0.4, 0.9),
                     "num_objects": (2, 4)}
# In f.w. IU: share² read off the printed shares (3 decimals) passes; the share itself, share / 5
# (mean IU), 1/5, share / 4 and the lesson's 0.833² are all at least 0.1 away.
PREDICTION_TOLERANCE = 0.01


def all_background_scores(scenes: dict | None = None) -> tuple[dict, float]:
    """(the four scores, background share of the labelled pixels) of the model that predicts
    background everywhere, on ``make_shapes(**scenes)`` (default ``PREDICTION_SCENES``)."""
    from fcn_lessons import data

    _, masks = data.make_shapes(**(PREDICTION_SCENES if scenes is None else scenes))
    scores = metrics.segmentation_scores(metrics.confusion_matrix(masks, np.zeros_like(masks), data.NUM_CLASSES))
    return scores, scores["pixel_accuracy"]


def all_background_mean_iou() -> tuple[float, float]:
    """(mean IU, background share) of the all-background model on lesson 00's scenes (``COURSE_SCENES``)."""
    scores, share = all_background_scores(COURSE_SCENES)
    return scores["mean_iou"], share


@exercise_check("0.4")
def check_all_background_prediction(prediction) -> None:
    """Exercise 0.4: the learner's prediction (a fraction) of the frequency weighted IU of the
    model that predicts background everywhere, against the measurement on ``PREDICTION_SCENES``."""
    if prediction is Ellipsis or prediction is None:
        raise NotDone("Exercise 0.4 is not done yet: write your prediction first (replace the ... in its "
                      "exercise cell), run that cell, then this one.")
    if isinstance(prediction, (int, float, np.integer, np.floating)) and not isinstance(prediction, bool) \
            and 1 < prediction <= 100:
        raise CaseFailure(f"Exercise 0.4: write the frequency weighted IU as a fraction between 0 and 1 "
                          f"(e.g. 0.25 for 25%); received {prediction!r}.")
    scores, share = all_background_scores()
    measured = scores["frequency_weighted_iou"]
    explanation = (f"Every pixel is predicted background, so background's union is every labelled pixel and its "
                   f"IU is its share, {share:.3f}; each object class's IU is 0 (nothing right). Frequency "
                   f"weighted IU weighs each class's IU by the class's share of the labelled pixels, so only "
                   f"background's term is left: {share:.3f} × {share:.3f} = {measured:.3f}. (Mean IU, which "
                   f"weighs the five classes alike, is {scores['mean_iou']:.3f}.)")
    check_prediction("0.4", prediction, measured, what="the frequency weighted IU of the all-background model",
                     explanation=explanation, tolerance=PREDICTION_TOLERANCE)
