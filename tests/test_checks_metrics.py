"""Lesson 00's checks (exercises 0.1-0.4), as rows of the check-test harness.

Each check passes the reference and a learner-style answer (also under the grader's
seed), gives a one-line "not done yet" for the shipped stub, and fails on every plausible
mistake listed here, naming it where the check knows a specific hint.
"""

import numpy as np
import pytest

from check_harness import CheckSpec, check_tests
from fcn_lessons import checks, metrics
from fcn_lessons.checks import metrics as metric_checks
from fcn_lessons.checks._core import GRADING_SEED_ENV, CaseFailure, NotDone, case_rng


def _in_notebook(source: str, name: str, **namespace):
    """The function ``name`` defined by ``source`` as a notebook cell would define it (module ``__main__``)."""
    namespace.update(__name__="__main__", np=np, metrics=metrics)
    exec(source, namespace)  # noqa: S102 - test code, fixed strings
    return namespace[name]


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


def _loops(labels, predictions, num_classes, ignore_label=255):
    """A learner's slow but right answer."""
    out = np.zeros((num_classes, num_classes), int)
    for t, p in zip(np.ravel(labels), np.ravel(predictions)):
        if t != ignore_label:
            out[t, p] += 1
    return out


def _visible(make_cases, seed):
    """The cases a learner sees (no grading seed), keyed by their inputs' bytes."""
    return {key: value for key, value in make_cases(np.random.default_rng(seed))}


def _confusion_table():
    def entries(rng):
        for _, labels, preds, n, ignore in metric_checks._confusion_cases(rng):
            kwargs = {} if ignore == "default" else {"ignore_label": ignore}
            yield labels.tobytes() + preds.tobytes(), metrics.confusion_matrix(labels, preds, n, **kwargs)
    return _visible(entries, metric_checks._SEED)


_SEEN_CONFUSIONS = _confusion_table()


def _hard_coded_confusion(labels, predictions, num_classes, ignore_label=255):
    """Answers memorised from the visible cases; zeros for anything else."""
    key = np.asarray(labels).tobytes() + np.asarray(predictions).tobytes()
    return _SEEN_CONFUSIONS.get(key, np.zeros((num_classes, num_classes), np.int64))


MISTAKES_0_1 = {
    "void counted (bincount too long to reshape)": _answer(keep_void=True),
    "void clipped into the last class": _answer(void_to_last=True),
    "void turned into background": _answer(void_to_background=True),
    "rows and columns swapped": _answer(transpose=True),
    "uint8 overflow in num_classes * label": _answer(int64=False),
    "no minlength: matrix too small when classes are absent": _answer(minlength=False),
    "ignore_label hard-coded to 255": lambda labels, predictions, num_classes, ignore_label=255:
        _counts(labels, predictions, num_classes, ignore=255),
    "returns nothing": lambda labels, predictions, num_classes, ignore_label=255: None,
    "returns per-class counts only": lambda labels, predictions, num_classes, ignore_label=255:
        np.bincount(np.ravel(labels)[np.ravel(labels) != ignore_label], minlength=num_classes),
    "float ratios instead of counts": lambda labels, predictions, num_classes, ignore_label=255:
        (lambda c: c / c.sum())(_counts(labels, predictions, num_classes, ignore=ignore_label)),
    # the reviewer's: right whenever void is above the classes, wrong for ignore_label=-1
    "keeps labels below num_classes (ignore_label unused)": lambda labels, predictions, num_classes, ignore_label=255:
        (lambda l, p: np.bincount(num_classes * l[l < num_classes] + p[l < num_classes],
                                  minlength=num_classes ** 2).reshape(num_classes, num_classes))(
            np.asarray(labels).astype(np.int64), np.asarray(predictions).astype(np.int64)),
    "a notebook lambda around metrics.confusion_matrix": _in_notebook(
        "answer = lambda l, p, n, ignore_label=255: metrics.confusion_matrix(l, p, n, ignore_label)", "answer"),
    "a notebook function around the course's from-import": _in_notebook(
        "from fcn_lessons.metrics import confusion_matrix as course\n"
        "def confusion_matrix(labels, predictions, num_classes, ignore_label=255):\n"
        "    return course(labels, predictions, num_classes, ignore_label)\n", "confusion_matrix"),
}

HINTS_0_1 = {
    "void clipped into the last class": "void pixels were counted",
    "void turned into background": r"void pixels were counted \(as background\)",
    "rows and columns swapped": "yours is transposed",
    "uint8 overflow in num_classes * label": "overflows above 255",
    "no minlength: matrix too small when classes are absent": "how do you make the counts that long",
    "keeps labels below num_classes (ignore_label unused)": "raised ValueError",
    "a notebook lambda around metrics.confusion_matrix": "your lambda uses fcn_lessons.metrics.confusion_matrix",
    "a notebook function around the course's from-import": "your function confusion_matrix uses fcn_lessons.metrics",
}


# --- Exercises 0.2 and 0.3: mean IU, mean accuracy ---------------------------------------------

def _parts(confusion):
    c = np.asarray(confusion, dtype=np.float64)
    hits, rows, cols = np.diag(c), c.sum(axis=1), c.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return c, hits, rows, cols, hits / (rows + cols - hits), hits / rows


def _quiet(fn):
    def answer(confusion):
        with np.errstate(divide="ignore", invalid="ignore"):
            return fn(*_parts(confusion))
    return answer


def _score_table(key):
    def entries(rng):
        for _, confusion in metric_checks._score_cases(rng):
            yield confusion.tobytes(), metrics.segmentation_scores(confusion)[key]
    exercise = {"mean_iou": 2, "mean_accuracy": 3}[key]
    return _visible(entries, metric_checks._SEED + exercise)


def _hard_coded_score(key):
    seen = _score_table(key)
    return lambda confusion: seen.get(np.asarray(confusion).tobytes(), 0.5)


def _mean_iou_learner(confusion):
    """A learner's loop, independent of the reference."""
    values = []
    for i in range(len(confusion)):
        union = confusion[i, :].sum() + confusion[:, i].sum() - confusion[i, i]
        if union:
            values.append(confusion[i, i] / union)
    return sum(values) / len(values)


def _mean_accuracy_learner(confusion):
    values = [confusion[i, i] / confusion[i, :].sum() for i in range(len(confusion)) if confusion[i, :].sum()]
    return sum(values) / len(values)


MISTAKES_0_2 = {
    "nan classes averaged as zero": _quiet(lambda c, h, r, k, iou, acc: np.nan_to_num(iou).mean()),
    "np.mean over NaN": _quiet(lambda c, h, r, k, iou, acc: iou.mean()),
    "only labelled classes averaged": _quiet(lambda c, h, r, k, iou, acc: iou[r > 0].mean()),
    "mean accuracy instead of IU": _quiet(lambda c, h, r, k, iou, acc: np.nanmean(acc)),
    "pixel accuracy": _quiet(lambda c, h, r, k, iou, acc: h.sum() / c.sum()),
    "union without subtracting the overlap": _quiet(lambda c, h, r, k, iou, acc: np.nanmean(h / (r + k))),
    "divides by num_classes always": _quiet(lambda c, h, r, k, iou, acc: np.nansum(iou) / len(c)),
    "per-class IU returned": _quiet(lambda c, h, r, k, iou, acc: iou),
    "frequency weighted IU": _quiet(lambda c, h, r, k, iou, acc: np.nansum(r / c.sum() * iou)),
    "returns a string": lambda confusion: "0.5",
    "background left out of the mean": _quiet(lambda c, h, r, k, iou, acc: np.nanmean(iou[1:])),
    "epsilon in the union: absent classes count as 0": _quiet(lambda c, h, r, k, iou, acc: np.mean(h / (r + k - h + 1e-10))),
    "a notebook helper calling segmentation_scores": _in_notebook(
        "def scores(c):\n    return metrics.segmentation_scores(c)\n"
        "def mean_iou(c):\n    return scores(c)['mean_iou']\n", "mean_iou"),
}

HINTS_0_2 = {
    "nan classes averaged as zero": "do not count it as 0",
    "np.mean over NaN": "use np.nanmean",
    "only labelled classes averaged": "predicted but never labelled has IU 0",
    "mean accuracy instead of IU": r"mean \(per-class\) accuracy",
    "pixel accuracy": "that is the pixel accuracy",
    "union without subtracting the overlap": "counts the correct pixels once",
    "per-class IU returned": "average them",
    "frequency weighted IU": "frequency weighted IU",
    "epsilon in the union: absent classes count as 0": "do not count it as 0",
    "a notebook helper calling segmentation_scores": "uses fcn_lessons.metrics.segmentation_scores",
}


def _with_trap(fn, answer):
    """A mean_accuracy answer that also carries a TRAP_ANSWER (the harness passes it on)."""
    def mean_accuracy(confusion):
        return fn(confusion)
    mean_accuracy.trap_answer = answer
    return mean_accuracy


RIGHT_ACCURACY = _quiet(lambda c, h, r, k, iou, acc: np.nanmean(acc))

MISTAKES_0_3 = {
    "classes without labels averaged as zero": _quiet(lambda c, h, r, k, iou, acc: np.nan_to_num(acc).mean()),
    "np.mean over NaN": _quiet(lambda c, h, r, k, iou, acc: acc.mean()),
    "predicted-only class counted as 0 (IU's rule)":
        _quiet(lambda c, h, r, k, iou, acc: np.nan_to_num(acc)[(r + k) > 0].mean()),
    "divides by the column sums (precision)": _quiet(lambda c, h, r, k, iou, acc: np.nanmean(h / k)),
    "mean IU instead of accuracy": _quiet(lambda c, h, r, k, iou, acc: np.nanmean(iou)),
    "pixel accuracy": _quiet(lambda c, h, r, k, iou, acc: h.sum() / c.sum()),
    "divides by num_classes always": _quiet(lambda c, h, r, k, iou, acc: np.nansum(acc) / len(c)),
    "per-class accuracy returned": _quiet(lambda c, h, r, k, iou, acc: acc),
    "statement a (mean accuracy = pixel accuracy)": _with_trap(RIGHT_ACCURACY, "a"),
    "statement c (undefined: never predicted)": _with_trap(RIGHT_ACCURACY, "c"),
    "statement d (0: nothing found)": _with_trap(RIGHT_ACCURACY, "d"),
    "not a letter of the question": _with_trap(RIGHT_ACCURACY, "e"),
    "the number instead of the letter": _with_trap(RIGHT_ACCURACY, 0.2),
}

HINTS_0_3 = {
    "classes without labels averaged as zero": "leave it out of the mean, do not count it as 0",
    "np.mean over NaN": "use np.nanmean",
    "predicted-only class counted as 0 (IU's rule)": "unlike IU, accuracy is undefined",
    "divides by the column sums (precision)": r"not by the pixels predicted as i \(column sums\)",
    "mean IU instead of accuracy": "that is the mean IU",
    "pixel accuracy": "that is the pixel accuracy",
    "per-class accuracy returned": "average them",
    "statement a (mean accuracy = pixel accuracy)": "(?s)statement 'a' is not.*each counted once",
    "statement c (undefined: never predicted)": "(?s)statement 'c' is not.*accuracy 0, not 0/0",
    "statement d (0: nothing found)": "statement 'd' is not",
    "not a letter of the question": "must be one of 'a', 'b', 'c', 'd'",
    "the number instead of the letter": "must be one of 'a', 'b', 'c', 'd'",
}


def _run_0_3(answer):
    return checks.check_mean_accuracy(answer, getattr(answer, "trap_answer", "b"))


# --- Exercise 0.4: predict, then run -----------------------------------------------------------

def _prediction_of(answer):
    """The value a learner's prediction cell sets: the shipped stub sets ``...``."""
    try:
        return answer()
    except NotImplementedError:
        return Ellipsis


def _predicts(value):
    return lambda: value


SHARE_0_4 = 0.589  # the background share the exercise prints for its scenes (PREDICTION_SCENES)

MISTAKES_0_4 = {
    "the background share (its IU, unweighted)": _predicts(SHARE_0_4),
    "the mean IU (share / 5)": _predicts(SHARE_0_4 / 5),
    "the mean accuracy (1/5)": _predicts(0.2),
    "zero: it finds nothing": _predicts(0.0),
    "lesson 00's f.w. IU, not these scenes'": _predicts(0.694),
    "share / 4 (object classes only)": _predicts(SHARE_0_4 / 4),
    "share weighted by lesson 00's share": _predicts(SHARE_0_4 * 0.833),
    "a percentage": _predicts(34.7),
    "a string": _predicts("0.347"),
    "a bool": _predicts(True),
}

HINTS_0_4 = {
    "the background share (its IU, unweighted)": r"Why: Every pixel is predicted background",
    "a percentage": "as a fraction between 0 and 1",
    "a string": "must be a number",
    "a bool": "must be a number",
}


SPECS = [
    CheckSpec(checks.check_confusion_matrix, reference=metrics.confusion_matrix, learner=_loops,
              mistakes=MISTAKES_0_1, hints=HINTS_0_1, passed=r"7 random cases match the reference counts",
              hard_coded=_hard_coded_confusion),
    CheckSpec(checks.check_mean_iou, reference=lambda confusion: metrics.segmentation_scores(confusion)["mean_iou"],
              learner=_mean_iou_learner, mistakes=MISTAKES_0_2, hints=HINTS_0_2,
              passed=r"7 random cases match the paper's definition", hard_coded=_hard_coded_score("mean_iou")),
    CheckSpec(checks.check_mean_accuracy,
              reference=lambda confusion: metrics.segmentation_scores(confusion)["mean_accuracy"],
              learner=_mean_accuracy_learner, mistakes=MISTAKES_0_3, hints=HINTS_0_3, call=_run_0_3,
              passed=r"statement 'b' is right", hard_coded=_hard_coded_score("mean_accuracy")),
    CheckSpec(checks.check_all_background_prediction, reference=_predicts(SHARE_0_4 ** 2), learner=_predicts(0.35),
              mistakes=MISTAKES_0_4, hints=HINTS_0_4, passed=r"measured 0\.347",
              call=lambda answer: checks.check_all_background_prediction(_prediction_of(answer))),
]

globals().update(check_tests(SPECS))


# --- What the table does not cover -------------------------------------------------------------

def test_0_3_asks_for_the_statement_once_the_function_passes():
    with pytest.raises(NotDone, match=r"^Exercise 0\.3 is not done yet: your mean_accuracy passes") as raised:
        checks.check_mean_accuracy(RIGHT_ACCURACY, ...)
    assert raised.value._render_traceback_() == [str(raised.value)]


@pytest.mark.parametrize("letter", ["b", "B", " b "])
def test_0_3_accepts_the_letter_however_typed(letter, capsys):
    checks.check_mean_accuracy(_mean_accuracy_learner, letter)
    assert "Exercise 0.3 passed" in capsys.readouterr().out


def test_0_3_checks_the_function_before_the_statement():
    with pytest.raises(CaseFailure, match="failed on case"):
        checks.check_mean_accuracy(MISTAKES_0_3["pixel accuracy"], "b")


def test_trap_statement_b_is_what_the_course_data_gives():
    """The statement the check accepts is the measured truth: all-background mean accuracy is 1/5."""
    from fcn_lessons import data

    _, masks = data.make_shapes(**metric_checks.COURSE_SCENES)
    scores = metrics.segmentation_scores(metrics.confusion_matrix(masks, np.zeros_like(masks), data.NUM_CLASSES))
    assert scores["mean_accuracy"] == pytest.approx(1 / data.NUM_CLASSES)
    assert scores["pixel_accuracy"] == pytest.approx(0.833, abs=5e-4)
    assert scores["mean_iou"] == pytest.approx(scores["pixel_accuracy"] / data.NUM_CLASSES)


def test_0_4_measurement_is_the_background_share_squared():
    scores, share = metric_checks.all_background_scores()
    assert share == pytest.approx(SHARE_0_4, abs=5e-4)
    assert scores["frequency_weighted_iou"] == pytest.approx(share ** 2)
    # every named mistake is further from the measurement than the tolerance; the rounded share² is not
    wrong = [v() for v in MISTAKES_0_4.values() if isinstance(v(), float)]
    assert min(abs(w - scores["frequency_weighted_iou"]) for w in wrong) > 5 * metric_checks.PREDICTION_TOLERANCE
    assert abs(round(share, 3) ** 2 - scores["frequency_weighted_iou"]) < metric_checks.PREDICTION_TOLERANCE


def test_0_4_is_not_printed_by_lesson_00():
    """The lesson's own scenes give other numbers: the exercise's f.w. IU cannot be read off the lesson."""
    lesson, lesson_share = metric_checks.all_background_scores(metric_checks.COURSE_SCENES)
    exercise, _ = metric_checks.all_background_scores()
    assert lesson_share == pytest.approx(0.833, abs=5e-4)
    for key in ("pixel_accuracy", "mean_iou", "frequency_weighted_iou"):
        assert abs(lesson[key] - exercise["frequency_weighted_iou"]) > 0.1


def test_0_3_and_0_4_use_lesson_00s_numbers():
    measured, share = metric_checks.all_background_mean_iou()
    assert measured == pytest.approx(0.1666, abs=1e-3) and share == pytest.approx(0.833, abs=5e-4)


def test_0_1_to_0_3_forbid_the_metrics_module():
    for check in (checks.check_confusion_matrix, checks.check_mean_iou, checks.check_mean_accuracy):
        assert check.forbidden == ("fcn_lessons.metrics",)
    assert checks.check_all_background_prediction.forbidden == ()


def test_a_notebook_answer_using_numpy_only_is_not_refused(capsys):
    answer = _in_notebook("def mean_iou(c):\n    c = np.asarray(c, float)\n    d = np.diag(c)\n"
                          "    with np.errstate(all='ignore'):\n"
                          "        return float(np.nanmean(d / (c.sum(0) + c.sum(1) - d)))\n", "mean_iou")
    checks.check_mean_iou(answer)
    assert "Exercise 0.2 passed" in capsys.readouterr().out


def test_0_4_stub_is_not_done():
    with pytest.raises(NotDone, match=r"^Exercise 0\.4 is not done yet"):
        checks.check_all_background_prediction(...)


def test_failure_message_shows_expected_received_and_the_matrix():
    with pytest.raises(CaseFailure) as failure:
        checks.check_mean_iou(MISTAKES_0_2["nan classes averaged as zero"])
    message = str(failure.value)
    assert "expected 0." in message and "received 0." in message and "rows: true class" in message


def test_every_check_draws_its_cases_from_the_grading_seed(monkeypatch):
    visible = [c[1] for c in metric_checks._score_cases(case_rng(metric_checks._SEED + 2))]
    monkeypatch.setenv(GRADING_SEED_ENV, "7")
    graded = [c[1] for c in metric_checks._score_cases(case_rng(metric_checks._SEED + 2))]
    assert not any(np.array_equal(a, b) for a, b in zip(visible, graded))
