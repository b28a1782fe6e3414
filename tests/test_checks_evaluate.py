"""Lesson 07's checks (exercises 7.1-7.7), as rows of the check-test harness.

Each check passes the reference and a learner-style answer (also under the grader's seed),
gives a one-line "not done yet" for a stub, fails on the broken function the exercise ships
and on other plausible mistakes (naming them where the check knows a hint), and, where an
answer could be fitted to the visible cases, fails that answer under the grader's seed.
"""

import cv2
import numpy as np
import pytest

from check_harness import CheckSpec, check_tests, memorised, prediction_of
from fcn_lessons import blog_post, checks, metrics
from fcn_lessons.checks import evaluate as evaluate_checks
from fcn_lessons.checks._core import CaseFailure, NotDone

VOID = 255


def _notebook_function(source: str, **names):
    """A function defined as in a notebook cell (module ``__main__``), with ``names`` imported."""
    namespace = {"__name__": "__main__", **names}
    exec(source, namespace)  # noqa: S102 - test fixture
    return next(value for key, value in namespace.items() if callable(value) and key not in names and key != "__builtins__")


# --- 7.1: resize a mask ------------------------------------------------------------------------

def _cv2(interpolation):
    def resize_mask(mask, size):
        return cv2.resize(mask, (size[1], size[0]), interpolation=interpolation)
    return resize_mask


def _index_nearest(mask, size):
    """A learner's numpy answer: the source row and column of each output pixel's centre."""
    rows = np.minimum(((np.arange(size[0]) + 0.5) * mask.shape[0] / size[0]).astype(int), mask.shape[0] - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * mask.shape[1] / size[1]).astype(int), mask.shape[1] - 1)
    return mask[rows[:, None], cols[None, :]]


def _reference_7_1(mask, size):
    return cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_NEAREST_EXACT)


def _rounded_linear(mask, size):
    return np.rint(cv2.resize(mask.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)).astype(mask.dtype)


def _void_dropped(mask, size):
    return _reference_7_1(np.where(mask == VOID, 0, mask).astype(mask.dtype), size)


MISTAKES_7_1 = {
    "nearest-exact first, then a bilinear smoothing": lambda mask, size: cv2.GaussianBlur(_reference_7_1(mask, size), (3, 3), 0),
    "cubic interpolation": _cv2(cv2.INTER_CUBIC),
    "bilinear, then rounded to integers": _rounded_linear,
    "(height, width) passed to cv2.resize": lambda mask, size: cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST),
    "nearest, but returned as float32": lambda mask, size: _reference_7_1(mask, size).astype(np.float32),
    "void replaced by background first": _void_dropped,
    "the mask returned unchanged": lambda mask, size: mask,
    "a shifted nearest (neighbour of the neighbour)": lambda mask, size: np.roll(_reference_7_1(mask, size), 3, axis=1),
}

HINTS_7_1 = {
    "cubic interpolation": "interpolated between labels",
    "(height, width) passed to cv2.resize": r"height and width swapped",
    "nearest, but returned as float32": "dtype",
}


# --- 7.2: IoU from scores ----------------------------------------------------------------------

def _iou_learner(labels, scores, class_id, ignore_label=255):
    keep = labels != ignore_label
    predicted = np.argmax(scores, axis=-1)[keep] == class_id
    truth = labels[keep] == class_id
    union = np.count_nonzero(predicted | truth)
    return np.count_nonzero(predicted & truth) / union if union else float("nan")


def _soft_iou(labels, scores, class_id, ignore_label=255):
    prob, truth = scores[..., class_id], labels == class_id
    inter = (prob * truth).sum()
    return inter / (prob.sum() + truth.sum() - inter)


MISTAKES_7_2 = {
    "soft IoU, void left out": lambda labels, scores, class_id, ignore_label=255:
        _soft_iou(labels[labels != ignore_label], scores[labels != ignore_label], class_id),
    "void counted": lambda labels, scores, class_id, ignore_label=255: _iou_learner(labels, scores, class_id, -1),
    "a class's probability thresholded at 0.5": lambda labels, scores, class_id, ignore_label=255: (
        lambda keep, p, t: np.count_nonzero(p & t & keep) / max(np.count_nonzero((p | t) & keep), 1))(
        labels != ignore_label, scores[..., class_id] > 0.5, labels == class_id),
    "union without subtracting the intersection": lambda labels, scores, class_id, ignore_label=255: (
        lambda keep, p, t: np.count_nonzero(p & t & keep) / max(np.count_nonzero(p & keep) + np.count_nonzero(t & keep), 1))(
        labels != ignore_label, np.argmax(scores, -1) == class_id, labels == class_id),
    "the course's confusion matrix": _notebook_function(
        "def class_iou(labels, scores, class_id, ignore_label=255):\n"
        "    return metrics.per_class_iou(metrics.confusion_matrix(labels, scores, scores.shape[-1]))[class_id]\n",
        metrics=metrics),
    "0 instead of NaN for an absent class": lambda labels, scores, class_id, ignore_label=255:
        np.nan_to_num(_iou_learner(labels, scores, class_id, ignore_label)),
}

HINTS_7_2 = {
    "the course's confusion matrix": "does not allow",
    "soft IoU, void left out": "soft",
    "void counted": "void pixels were counted",
    "a class's probability thresholded at 0.5": "argmax",
    "0 instead of NaN for an absent class": "NaN",
}


# --- 7.3: targets for MSE -------------------------------------------------------------------

def _targets_learner(masks, num_classes, ignore_label=255):
    weights = (masks != ignore_label).astype(np.float32)
    safe = np.where(masks == ignore_label, 0, masks)
    targets = np.eye(num_classes, dtype=np.float32)[safe] * weights[..., None]
    return targets, weights


def _void_as_background(masks, num_classes, ignore_label=255):
    safe = np.where(masks == ignore_label, 0, masks)
    return np.eye(num_classes, dtype=np.float32)[safe], np.ones(masks.shape, np.float32)


MISTAKES_7_3 = {
    "void clipped into the last class": lambda masks, n, ignore_label=255: (
        np.eye(n, dtype=np.float32)[np.minimum(masks, n - 1)], (masks != ignore_label).astype(np.float32)),
    "void weighted 0 but its target is background": lambda masks, n, ignore_label=255: (
        _void_as_background(masks, n)[0], (masks != ignore_label).astype(np.float32)),
    "weights of shape (N, H, W, 1)": lambda masks, n, ignore_label=255: (
        _targets_learner(masks, n)[0], _targets_learner(masks, n)[1][..., None]),
    "channels first": lambda masks, n, ignore_label=255: (
        np.moveaxis(_targets_learner(masks, n)[0], -1, 1), _targets_learner(masks, n)[1]),
    "targets only": lambda masks, n, ignore_label=255: _targets_learner(masks, n)[0],
    "the course's mse_targets": _notebook_function(
        "def mse_targets(masks, num_classes, ignore_label=255):\n"
        "    return blog_post.mse_targets(masks, num_classes, ignore_label)\n", blog_post=blog_post),
}

HINTS_7_3 = {"void weighted 0 but its target is background": "targets",
             "the course's mse_targets": "does not allow"}


# --- 7.4: fuse a skip -----------------------------------------------------------------------

def _fuse_learner(upsampled, skip, offset):
    top, left = offset
    height, width = upsampled.shape[1], upsampled.shape[2]
    return upsampled + skip[:, top:top + height, left:left + width, :]


def _fused_before_cropping(upsampled, skip, offset):
    oy, ox = offset
    h, w = upsampled.shape[1:3]
    padded = np.zeros_like(skip)
    padded[:, :h, :w] = upsampled
    return (padded + skip)[:, oy:oy + h, ox:ox + w]


MISTAKES_7_4 = {
    "fused before cropping, the skip padded instead": lambda up, skip, offset: (
        lambda padded: (padded + skip)[:, offset[0]:offset[0] + up.shape[1], offset[1]:offset[1] + up.shape[2]])(
        np.pad(up, ((0, 0), (0, skip.shape[1] - up.shape[1]), (0, skip.shape[2] - up.shape[2]), (0, 0)), mode="edge")),
    "skip cropped at (0, 0)": lambda up, skip, offset: up + skip[:, :up.shape[1], :up.shape[2]],
    "offsets swapped": lambda up, skip, offset: up + skip[:, offset[1]:offset[1] + up.shape[1], offset[0]:offset[0] + up.shape[2]],
    "off by one": lambda up, skip, offset: up + skip[:, offset[0] + 1:offset[0] + 1 + up.shape[1],
                                                     offset[1] + 1:offset[1] + 1 + up.shape[2]],
    "concatenation instead of sum": lambda up, skip, offset: np.concatenate(
        [up, skip[:, offset[0]:offset[0] + up.shape[1], offset[1]:offset[1] + up.shape[2]]], axis=-1),
    "max instead of sum": lambda up, skip, offset: np.maximum(
        up, skip[:, offset[0]:offset[0] + up.shape[1], offset[1]:offset[1] + up.shape[2]]),
    "the skip alone": lambda up, skip, offset: skip[:, offset[0]:offset[0] + up.shape[1], offset[1]:offset[1] + up.shape[2]],
}

HINTS_7_4 = {"skip cropped at (0, 0)": r"cropped at \(0, 0\)", "concatenation instead of sum": "summation"}


# --- 7.5: joint augmentation ----------------------------------------------------------------

def _augment_learner(image, mask, rng, crop_size):
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    h, w = crop_size
    top = int(rng.integers(0, image.shape[0] - h + 1))
    left = int(rng.integers(0, image.shape[1] - w + 1))
    return image[top:top + h, left:left + w], mask[top:top + h, left:left + w]


def _image_only(image, mask, rng, crop_size):
    out, _ = _augment_learner(image, mask, rng, crop_size)
    return out, mask[:crop_size[0], :crop_size[1]]


def _two_windows(image, mask, rng, crop_size):
    out, _ = _augment_learner(image, mask, rng, crop_size)
    _, out_mask = _augment_learner(image, mask, rng, crop_size)
    return out, out_mask


def _mask_flipped_vertically(image, mask, rng, crop_size):
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[::-1, :]
    return _never_flips(image, mask, rng, crop_size)


def _never_flips(image, mask, rng, crop_size):
    h, w = crop_size
    top, left = int(rng.integers(0, image.shape[0] - h + 1)), int(rng.integers(0, image.shape[1] - w + 1))
    return image[top:top + h, left:left + w], mask[top:top + h, left:left + w]


def _always_corner(image, mask, rng, crop_size):
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    return image[:crop_size[0], :crop_size[1]], mask[:crop_size[0], :crop_size[1]]


def _resized(image, mask, rng, crop_size):
    out_image, out_mask = _augment_learner(image, mask, rng, crop_size)
    size = (crop_size[1], crop_size[0])
    return (cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_LINEAR),
            cv2.resize(np.ascontiguousarray(mask), size, interpolation=cv2.INTER_NEAREST))


MISTAKES_7_5 = {
    "image only, the mask cropped at random": lambda image, mask, rng, crop_size: (
        _augment_learner(image, mask, rng, crop_size)[0], _never_flips(mask[..., None], mask, rng, crop_size)[1]),
    "a second window drawn for the mask": _two_windows,
    "the mask flipped up-down, the image left-right": _mask_flipped_vertically,
    "never flips": _never_flips,
    "always the top-left window": _always_corner,
    "resized instead of cropped": _resized,
}

HINTS_7_5 = {"image only, the mask cropped at random": "the mask was not moved like the image",
             "never flips": "flip each pair with probability 1/2"}


# --- 7.6: error kinds --------------------------------------------------------------------------

def _kinds_reference(labels, prediction, band, min_share=0.5):
    return metrics.error_kinds(labels, prediction, 5, min_share=min_share)["kinds"]


def _regions(mask, background=0, ignore=VOID):
    ids = np.zeros(mask.shape, np.int32)
    count = 0
    for c in np.unique(mask):
        if c in (background, ignore):
            continue
        n, comp = cv2.connectedComponents((mask == c).astype(np.uint8), connectivity=4)
        ids[comp > 0] = comp[comp > 0] + count
        count += n - 1
    return ids, count


def _kinds_learner(labels, prediction, band, min_share=0.5, *, no_band=False, band_last=False, own_class=False,
                   void_wrong=False, all_extent=False, false_by_all_pixels=False):
    labelled = labels != VOID
    wrong = (prediction != labels) & (labelled | void_wrong)
    label_obj = labelled & (labels != 0)
    pred_obj = prediction != 0
    true_ids, n_true = _regions(labels)
    pred_ids, n_pred = _regions(prediction, ignore=-1)
    missed = np.zeros(labels.shape, bool)
    for k in range(1, n_true + 1):
        region = true_ids == k
        hits = (prediction[region] == labels[region]) if own_class else pred_obj[region]
        if hits.mean() < min_share:
            missed |= region
    false = np.zeros(labels.shape, bool)
    for k in range(1, n_pred + 1):
        region = pred_ids == k
        counted = region if false_by_all_pixels else region & labelled
        if counted.any() and label_obj[counted].mean() < min_share:
            false |= region
    kinds = np.zeros(labels.shape, np.int8)
    if all_extent:
        kinds[wrong] = 5
        return kinds
    rest = wrong.copy()
    if not no_band and not band_last:
        kinds[wrong & band] = 1
        rest &= ~band
    confusion = rest & label_obj & pred_obj
    kinds[confusion] = 2
    rest &= ~confusion
    kinds[rest & label_obj & ~pred_obj & missed] = 3
    kinds[rest & ~label_obj & pred_obj & false] = 4
    kinds[rest & (kinds == 0)] = 5
    if band_last:
        kinds[wrong & band] = 1
    return kinds


MISTAKES_7_6 = {
    "no boundary kind": lambda l, p, b, min_share=0.5: _kinds_learner(l, p, b, no_band=True),
    "missed judged by the object's own class": lambda l, p, b, min_share=0.5: _kinds_learner(l, p, b, own_class=True),
    "void pixels counted as errors": lambda l, p, b, min_share=0.5: _kinds_learner(l, p, b, void_wrong=True),
    "every wrong pixel called extent": lambda l, p, b, min_share=0.5: _kinds_learner(l, p, b, all_extent=True),
    "min_share ignored (always 0.5)": lambda l, p, b, min_share=0.5: _kinds_learner(l, p, b, 0.5),
}

HINTS_7_6 = {"void pixels counted as errors": "void pixels are never wrong",
             "missed judged by the object's own class": r"\*any\* object class"}


# --- 7.7: prediction ----------------------------------------------------------------------------

def _measured_f1():
    masks, predicted = evaluate_checks.shifted_scenes()
    return metrics.precision_recall_f1(metrics.confusion_matrix(masks, predicted, 5))["micro_f1"]


MEASURED_F1 = _measured_f1()


SPECS = [
    CheckSpec(checks.check_resize_mask, reference=_reference_7_1, learner=_index_nearest, mistakes=MISTAKES_7_1,
              hints=HINTS_7_1, passed="keep every label a label",
              hard_coded=memorised(checks.check_resize_mask, _reference_7_1, key=lambda m, s: (m.tobytes(), s))),
    CheckSpec(checks.check_class_iou, reference=evaluate_checks._reference_iou, learner=_iou_learner,
              mistakes=MISTAKES_7_2, hints=HINTS_7_2,
              hard_coded=memorised(checks.check_class_iou, evaluate_checks._reference_iou,
                                   key=lambda l, s, c, *rest: (l.tobytes(), s.tobytes(), c))),
    CheckSpec(checks.check_mse_targets, reference=blog_post.mse_targets, learner=_targets_learner,
              mistakes=MISTAKES_7_3, hints=HINTS_7_3,
              hard_coded=memorised(checks.check_mse_targets, blog_post.mse_targets,
                                   key=lambda m, n, *rest: (m.tobytes(), n))),
    CheckSpec(checks.check_fuse_skip, reference=evaluate_checks._fuse_reference, learner=_fuse_learner,
              mistakes=MISTAKES_7_4, hints=HINTS_7_4,
              hard_coded=memorised(checks.check_fuse_skip, evaluate_checks._fuse_reference,
                                   key=lambda u, s, o: (u.tobytes(), s.tobytes(), tuple(o)))),
    CheckSpec(checks.check_augment_pair, reference=_augment_learner, learner=_augment_learner,
              mistakes=MISTAKES_7_5, hints=HINTS_7_5),
    CheckSpec(checks.check_error_kinds, reference=_kinds_reference, learner=_kinds_learner, mistakes=MISTAKES_7_6,
              hints=HINTS_7_6,
              hard_coded=memorised(checks.check_error_kinds, _kinds_reference,
                                   key=lambda l, p, b, *rest: (l.tobytes(), p.tobytes()))),
    CheckSpec(checks.check_micro_f1_prediction, reference=lambda: MEASURED_F1, learner=lambda: round(MEASURED_F1, 3),
              mistakes={"the mean IU instead": lambda: 0.5, "a percentage": lambda: 100 * MEASURED_F1,
                        "one minus the accuracy": lambda: 1 - MEASURED_F1},
              call=lambda answer: checks.check_micro_f1_prediction(prediction_of(answer))),
]

globals().update(check_tests(SPECS))


# --- beyond the harness ---------------------------------------------------------------------------

SHIPPED = [(checks.check_resize_mask, evaluate_checks.shipped_resize_mask, "interpolated between labels"),
           (checks.check_class_iou, evaluate_checks.shipped_class_iou, "expected IU"),
           (checks.check_mse_targets, evaluate_checks.shipped_mse_targets, "void pixels have a non-zero weight"),
           (checks.check_fuse_skip, evaluate_checks.shipped_fuse_skip, "fused scores"),
           (checks.check_augment_pair, evaluate_checks.shipped_augment_pair, "not moved like the image")]


@pytest.mark.parametrize("check, shipped, symptom", SHIPPED, ids=[c.exercise for c, _, _ in SHIPPED])
def test_the_function_handed_out_is_not_done_and_shows_its_bug(check, shipped, symptom, monkeypatch):
    for seed in (None, "12345"):
        if seed:
            monkeypatch.setenv("FCN_LESSONS_CHECK_SEED", seed)
        with pytest.raises(NotDone, match=rf"^Exercise {check.exercise} is not done yet: this is still the function "
                                          "handed out") as raised:
            check(_notebook_copy(shipped))
        assert symptom in str(raised.value)
        assert raised.value._render_traceback_() == [str(raised.value)]


def _notebook_copy(function):
    """``function`` seen as the learner's (the checks refuse the course's own functions)."""
    def answer(*args, **kwargs):
        return function(*args, **kwargs)
    return answer


def test_the_shipped_functions_are_the_exercise_stubs():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "solutions" / "07_evaluate_and_debug.py").read_text(encoding="utf-8")
    stubs = "\n".join(line.split("# STUB: ", 1)[1] for line in text.splitlines() if "# STUB: " in line)
    for line in ("return cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)",
                 "intersection = (probability * truth).sum()",
                 "return np.eye(num_classes, dtype=np.float32)[safe], np.ones(masks.shape, np.float32)",
                 "return (padded + skip)[:, oy:oy + h, ox:ox + w]",
                 "return image[top:top + h, left:left + w], mask[:h, :w]"):
        assert line in stubs, line

def test_the_prediction_is_the_pixel_accuracy():
    masks, predicted = evaluate_checks.shifted_scenes()
    accuracy = metrics.segmentation_scores(metrics.confusion_matrix(masks, predicted, 5))["pixel_accuracy"]
    assert MEASURED_F1 == pytest.approx(accuracy)
    assert 0.5 < accuracy < 0.99  # a shift of 3 px is a visible error, not a trivial one


def test_an_untouched_prediction_is_not_done():
    with pytest.raises(NotDone, match="Exercise 7.7 is not done yet"):
        checks.check_micro_f1_prediction(...)


def test_the_augmentation_check_needs_random_crops():
    with pytest.raises(CaseFailure, match="only 1 place"):
        checks.check_augment_pair(_always_corner)


def test_the_resize_check_accepts_every_nearest_convention():
    for interpolation in (cv2.INTER_NEAREST, cv2.INTER_NEAREST_EXACT):
        checks.check_resize_mask(_cv2(interpolation))
