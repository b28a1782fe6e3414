"""Lesson 00's checks: they pass the reference and fail on the stub and on plausible mistakes."""

import numpy as np
import pytest

from fcn_lessons import checks, metrics
from _stubs import as_learner, stub_for


# --- Exercise 0.1: confusion matrix -----------------------------------------------------------

def _counts(labels, predictions, n, *, keep_void=False, transpose=False, int64=True, minlength=True,
            void_to_background=False, void_to_last=False, ignore=None):
    """A learner-style bincount answer, with one mistake switched on."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if void_to_background:
        labels = np.where(labels == ignore, 0, labels)
    if void_to_last:
        labels = np.clip(labels, 0, n - 1)
    keep = np.ones(labels.shape, bool) if keep_void or void_to_background or void_to_last else labels != ignore
    a, b = labels[keep], predictions[keep]
    if transpose:
        a, b = b, a
    if int64:
        a, b = a.astype(np.int64), b.astype(np.int64)
    pairs = (n * a + b).astype(np.int64)
    counts = np.bincount(pairs, minlength=n * n if minlength else 0)
    if not minlength:
        side = int(np.ceil(np.sqrt(counts.size)))
        counts = np.pad(counts, (0, side * side - counts.size))
        return counts.reshape(side, side)
    return counts.reshape(n, n)  # fails when void (or an unexpected label) made the counts longer


def _answer(**mistake):
    def confusion_matrix(labels, predictions, num_classes, ignore_label=255):
        return _counts(labels, predictions, num_classes, ignore=ignore_label, **mistake)
    return confusion_matrix


def _hard_coded_255(labels, predictions, num_classes, ignore_label=255):
    return _counts(labels, predictions, num_classes, ignore=255)


def _loops(labels, predictions, num_classes, ignore_label=255):
    """A learner's slow but right answer."""
    out = np.zeros((num_classes, num_classes), int)
    for t, p in zip(np.ravel(labels), np.ravel(predictions)):
        if t != ignore_label:
            out[t, p] += 1
    return out


WRONG_0_1 = {
    "void counted (bincount too long to reshape)": _answer(keep_void=True),
    "void clipped into the last class": _answer(void_to_last=True),
    "void turned into background": _answer(void_to_background=True),
    "rows and columns swapped": _answer(transpose=True),
    "uint8 overflow in num_classes * label": _answer(int64=False),
    "no minlength: matrix too small when classes are absent": _answer(minlength=False),
    "ignore_label hard-coded to 255": _hard_coded_255,
    "returns nothing": lambda labels, predictions, num_classes, ignore_label=255: None,
    "returns per-class counts only": lambda labels, predictions, num_classes, ignore_label=255:
        np.bincount(np.ravel(labels)[np.ravel(labels) != ignore_label], minlength=num_classes),
    "float ratios instead of counts": lambda labels, predictions, num_classes, ignore_label=255:
        (lambda c: c / c.sum())(metrics.confusion_matrix(labels, predictions, num_classes, ignore_label)),
}


def test_0_1_passes_the_reference(capsys):
    checks.check_confusion_matrix(as_learner(metrics.confusion_matrix))
    assert capsys.readouterr().out.strip() == "Exercise 0.1 passed: 6 random cases match the reference counts."


def test_0_1_passes_learner_style_answers():
    checks.check_confusion_matrix(_answer())
    checks.check_confusion_matrix(_loops)


def test_0_1_stub_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 0.1"):
        checks.check_confusion_matrix(stub_for("0.1"))


@pytest.mark.parametrize("mistake", WRONG_0_1)
def test_0_1_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 0\.1 failed on case \d of 6") as failure:
        checks.check_confusion_matrix(WRONG_0_1[mistake])
    assert "Hint:" in str(failure.value)


@pytest.mark.parametrize("mistake, hint", [
    ("void clipped into the last class", "void pixels were counted"),
    ("void turned into background", "void pixels were counted (as background)"),
    ("rows and columns swapped", "yours is transposed"),
    ("uint8 overflow in num_classes * label", "overflows above 255"),
    ("no minlength: matrix too small when classes are absent", "minlength=num_classes**2"),
])
def test_0_1_names_the_mistake(mistake, hint):
    with pytest.raises(AssertionError) as failure:
        checks.check_confusion_matrix(WRONG_0_1[mistake])
    assert hint in str(failure.value)


# --- Exercises 0.2 and 0.3: mean IU, frequency weighted IU -------------------------------------

def _parts(confusion):
    c = np.asarray(confusion, dtype=np.float64)
    hits, rows, cols = np.diag(c), c.sum(axis=1), c.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return c, hits, rows, cols, hits / (rows + cols - hits)


def _quiet(fn):
    def wrapped(confusion):
        with np.errstate(divide="ignore", invalid="ignore"):
            return fn(*_parts(confusion))
    return wrapped


WRONG_0_2 = {
    "nan classes averaged as zero": _quiet(lambda c, h, r, k, iou: np.nan_to_num(iou).mean()),
    "np.mean over NaN": _quiet(lambda c, h, r, k, iou: iou.mean()),
    "only labelled classes averaged": _quiet(lambda c, h, r, k, iou: iou[r > 0].mean()),
    "mean accuracy instead of IU": _quiet(lambda c, h, r, k, iou: np.nanmean(h / r)),
    "pixel accuracy": _quiet(lambda c, h, r, k, iou: h.sum() / c.sum()),
    "union without subtracting the overlap": _quiet(lambda c, h, r, k, iou: np.nanmean(h / (r + k))),
    "divides by num_classes always": _quiet(lambda c, h, r, k, iou: np.nansum(iou) / len(c)),
    "per-class IU returned": _quiet(lambda c, h, r, k, iou: iou),
    "frequency weighted IU": _quiet(lambda c, h, r, k, iou: np.nansum(r / c.sum() * iou)),
}

WRONG_0_3 = {
    "rows and columns swapped (weights from predictions)": _quiet(lambda c, h, r, k, iou: np.nansum(k / c.sum() * iou)),
    "0 * NaN left in the sum": _quiet(lambda c, h, r, k, iou: (r / c.sum() * iou).sum()),
    "weights not normalised": _quiet(lambda c, h, r, k, iou: np.nansum(r * iou)),
    "mean IU": _quiet(lambda c, h, r, k, iou: np.nanmean(iou)),
    "nan classes as zero, then averaged": _quiet(lambda c, h, r, k, iou: np.mean(np.nan_to_num(r / c.sum() * iou))),
    "pixel accuracy": _quiet(lambda c, h, r, k, iou: h.sum() / c.sum()),
    "weighted accuracy instead of IU": _quiet(lambda c, h, r, k, iou: np.nansum(r / c.sum() * h / r)),
}


def _reference(key):
    return lambda confusion: metrics.segmentation_scores(confusion)[key]


def test_0_2_and_0_3_pass_the_reference(capsys):
    checks.check_mean_iou(_reference("mean_iou"))
    checks.check_frequency_weighted_iou(_reference("frequency_weighted_iou"))
    assert capsys.readouterr().out.splitlines() == [
        "Exercise 0.2 passed: 6 random cases match the paper's definition.",
        "Exercise 0.3 passed: 6 random cases match the paper's definition.",
    ]


def test_0_2_and_0_3_pass_learner_style_answers():
    checks.check_mean_iou(_quiet(lambda c, h, r, k, iou: np.nanmean(iou)))
    checks.check_frequency_weighted_iou(_quiet(lambda c, h, r, k, iou: np.nansum(r / r.sum() * iou)))
    checks.check_mean_iou(lambda confusion: np.float32(metrics.segmentation_scores(confusion)["mean_iou"]))


def test_0_2_and_0_3_stubs_raise_not_implemented():
    with pytest.raises(NotImplementedError, match="Exercise 0.2"):
        checks.check_mean_iou(stub_for("0.2"))
    with pytest.raises(NotImplementedError, match="Exercise 0.3"):
        checks.check_frequency_weighted_iou(stub_for("0.3"))


@pytest.mark.parametrize("mistake", WRONG_0_2)
def test_0_2_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 0\.2 failed on case \d of 6") as failure:
        checks.check_mean_iou(WRONG_0_2[mistake])
    assert "Hint:" in str(failure.value)


@pytest.mark.parametrize("mistake", WRONG_0_3)
def test_0_3_fails_on_plausible_mistakes(mistake):
    with pytest.raises(AssertionError, match=r"Exercise 0\.3 failed on case \d of 6") as failure:
        checks.check_frequency_weighted_iou(WRONG_0_3[mistake])
    assert "Hint:" in str(failure.value)


@pytest.mark.parametrize("check, mistake, hint", [
    (checks.check_mean_iou, WRONG_0_2["nan classes averaged as zero"], "do not count it as 0"),
    (checks.check_mean_iou, WRONG_0_2["np.mean over NaN"], "use np.nanmean"),
    (checks.check_mean_iou, WRONG_0_2["only labelled classes averaged"], "predicted but never labelled has IU 0"),
    (checks.check_mean_iou, WRONG_0_2["mean accuracy instead of IU"], "mean (per-class) accuracy"),
    (checks.check_mean_iou, WRONG_0_2["per-class IU returned"], "average them"),
    (checks.check_frequency_weighted_iou, WRONG_0_3["rows and columns swapped (weights from predictions)"],
     "not of the predicted pixels"),
    (checks.check_frequency_weighted_iou, WRONG_0_3["0 * NaN left in the sum"], "0 * NaN is NaN"),
])
def test_iou_checks_name_the_mistake(check, mistake, hint):
    with pytest.raises(AssertionError) as failure:
        check(mistake)
    assert hint in str(failure.value)


def test_failure_message_shows_expected_received_and_the_matrix():
    with pytest.raises(AssertionError) as failure:
        checks.check_mean_iou(WRONG_0_2["nan classes averaged as zero"])
    message = str(failure.value)
    assert "expected 0." in message and "received 0." in message and "rows: true class" in message
