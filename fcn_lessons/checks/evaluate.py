"""Checks for lesson 07's exercises: a bug hunt, the error breakdown, and one prediction.

Exercises 7.1-7.5 hand the learner a broken function (the exercise cell ships it as the
stub); the check fails on it with a hint and passes once the bug is fixed:

- 7.1 ``check_resize_mask(fn)``: a label map resized bilinearly invents labels;
- 7.2 ``check_class_iou(fn)``: IoU computed on probabilities instead of predicted classes;
- 7.3 ``check_mse_targets(fn)``: void turned into background in the targets of a loss;
- 7.4 ``check_fuse_skip(fn)``: a skip fused before cropping (misaligned);
- 7.5 ``check_augment_pair(fn)``: augmentation applied to the image only.

- 7.6 ``check_error_kinds(fn)``: the kind of every wrong pixel of a prediction.
- 7.7 ``check_micro_f1_prediction(prediction)``: "predict, then run": the micro-averaged F1
  of a prediction whose pixel accuracy the lesson prints.
"""

from __future__ import annotations

import numpy as np

from fcn_lessons import labels as label_maps
from fcn_lessons import metrics
from fcn_lessons.checks._core import (CaseFailure, NotDone, case_rng, cases, check_prediction, describe, exercise_check,
                                      passed)

__all__ = ["check_resize_mask", "check_class_iou", "check_mse_targets", "check_fuse_skip", "check_augment_pair",
           "check_error_kinds", "check_micro_f1_prediction", "shifted_scenes"]

_SEED = 7  # the checks draw their own random cases; the learner's seed is untouched
VOID = metrics.VOID_LABEL


def _same(a, b) -> bool:
    """Do two answers agree exactly (arrays, numbers, tuples of them; NaN equals NaN)?"""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    try:
        x, y = np.asarray(a), np.asarray(b)
        return x.shape == y.shape and bool(np.array_equal(x, y, equal_nan=x.dtype.kind == "f" and y.dtype.kind == "f"))
    except (TypeError, ValueError):
        return False


def _not_done_if_shipped(exercise: str, received, shipped, verify) -> None:
    """A bug-hunt exercise still holding the function handed out: "not done yet", with the bug's symptom.

    ``shipped`` is what the handed-out function returns on the same case; when the learner's
    answer returns exactly that and it fails ``verify``, the learner has not started.
    """
    if not _same(received, shipped):
        return
    try:
        verify(shipped)
    except CaseFailure as failure:
        symptom = "\n".join("  " + line for line in str(failure).splitlines()[1:])
        raise NotDone(f"Exercise {exercise} is not done yet: this is still the function handed out, and its bug "
                      f"shows:\n{symptom}\nFind the bug, fix it in the exercise cell, run that cell, then this "
                      "check again.") from None


# The functions the exercise cells hand out (their "# STUB:" lines), to recognise an untouched one.

def shipped_resize_mask(mask, size):
    import cv2

    height, width = size
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)


def shipped_class_iou(labels, scores, class_id, ignore_label=VOID):
    probability = scores[..., class_id]
    truth = labels == class_id
    intersection = (probability * truth).sum()
    return intersection / (probability.sum() + truth.sum() - intersection)


def shipped_mse_targets(masks, num_classes, ignore_label=VOID):
    safe = np.where(masks == ignore_label, 0, masks)
    return np.eye(num_classes, dtype=np.float32)[safe], np.ones(masks.shape, np.float32)


def shipped_fuse_skip(upsampled, skip, offset):
    oy, ox = offset
    h, w = upsampled.shape[1:3]
    padded = np.zeros_like(skip)
    padded[:, :h, :w] = upsampled
    return (padded + skip)[:, oy:oy + h, ox:ox + w]


def shipped_augment_pair(image, mask, rng, crop_size):
    if rng.random() < 0.5:
        image = image[:, ::-1]
    h, w = crop_size
    top = int(rng.integers(0, image.shape[0] - h + 1))
    left = int(rng.integers(0, image.shape[1] - w + 1))
    return image[top:top + h, left:left + w], mask[:h, :w]


def _scene_masks(rng, count: int, size: int, *, classes: int = 5):
    """Label maps of blocks and discs with void outlines, like the course data (no images needed)."""
    import cv2

    out = np.zeros((count, size, size), np.uint8)
    for n in range(count):
        for _ in range(int(rng.integers(2, 5))):
            class_id = int(rng.integers(1, classes))
            centre = tuple(int(v) for v in rng.integers(size // 6, size - size // 6, size=2))
            radius = int(rng.integers(max(2, size // 10), max(3, size // 3)))
            layer = np.zeros((size, size), np.uint8)
            if rng.random() < 0.5:
                cv2.circle(layer, centre, radius, 1, -1)
            else:
                cv2.rectangle(layer, (centre[0] - radius, centre[1] - radius), (centre[0] + radius, centre[1] + radius),
                              1, -1)
            out[n][layer > 0] = class_id
        edge = label_maps.borders(out[n], ignore_label=None) & (out[n] > 0)
        out[n][edge] = VOID
    return out


# --- Exercise 7.1: resize a mask -----------------------------------------------------------------

def _resize_cases(rng):
    masks = _scene_masks(rng, 4, 48)
    big = np.full((20, 30), VOID, np.uint8)
    big[4:16, 6:24] = 3  # a block inside a void region
    return [
        ("a 48×48 label map with void outlines, down to 24×24", masks[0], (24, 24)),
        ("a 48×48 label map, up to 96×96", masks[1], (96, 96)),
        ("a 48×48 label map to a non-square 30×70 (height 30, width 70)", masks[2], (30, 70)),
        ("an int32 label map, to 17×41 (odd sizes)", masks[3].astype(np.int32), (17, 41)),
        ("a 20×30 map that is mostly void, to 10×15", big, (10, 15)),
        ("a random 12×12 map of 4 classes and void, to 36×36",
         rng.choice(np.array([0, 1, 2, 3, VOID], np.uint8), size=(12, 12)), (36, 36)),
    ]


def _window_values_ok(mask: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Per output pixel: does its value occur among the input pixels it can come from?

    The input window of output pixel i spans rows floor(i·H/h) .. ceil((i+1)·H/h), widened by one
    pixel: every nearest-neighbour convention (OpenCV's INTER_NEAREST and _EXACT, TensorFlow's,
    index arithmetic) picks a pixel inside it; interpolation makes values that are not there.
    """
    H, W = mask.shape
    h, w = out.shape
    ok = np.zeros(out.shape, bool)
    rows = [(max(0, int(np.floor(i * H / h)) - 1), min(H, int(np.ceil((i + 1) * H / h)) + 1)) for i in range(h)]
    cols = [(max(0, int(np.floor(j * W / w)) - 1), min(W, int(np.ceil((j + 1) * W / w)) + 1)) for j in range(w)]
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            ok[i, j] = np.any(mask[r0:r1, c0:c1] == out[i, j])
    return ok


@exercise_check("7.1", forbidden=("fcn_lessons.voc.resize_pair", "fcn_lessons.augment"))
def check_resize_mask(fn) -> None:
    """Exercise 7.1: ``fn(mask (H, W), size (height, width)) -> (height, width)`` label map, nearest neighbour."""
    rng = case_rng(_SEED + 1)
    configs = _resize_cases(rng)
    hint = ("A label map holds class ids, not intensities: an interpolated value between class 1 and void "
            "255 is no class at all. Resize it with nearest neighbour (cv2.INTER_NEAREST_EXACT or "
            "INTER_NEAREST), keep integers, and remember that cv2.resize takes (width, height).")
    for case, (_, mask, size) in zip(cases("7.1", [c[0] for c in configs], hint), configs):
        def verify(out, case=case, mask=mask, size=size):
            if not isinstance(out, np.ndarray):
                raise case.fail(f"expected a numpy array, received {describe(out)}")
            if out.shape != size:
                swapped = (" (height and width swapped: cv2.resize takes (width, height))"
                           if out.shape == size[::-1] else "")
                raise case.fail(f"expected shape {size}, received {out.shape}{swapped}")
            if out.dtype.kind not in "iu":
                raise case.fail(f"expected integer class ids (the mask is {mask.dtype}), received dtype {out.dtype}: "
                                "a label map stays integers")
            invented = sorted(set(np.unique(out).tolist()) - set(np.unique(mask).tolist()))
            if invented:
                raise case.fail(f"the resized map holds values {invented[:6]} that the mask never had: they were "
                                "interpolated between labels", hint=hint)
            bad = ~_window_values_ok(mask, out)
            if bad.any():
                i, j = np.argwhere(bad)[0]
                raise case.fail(f"{int(bad.sum())} pixels take a label from far away, e.g. pixel ({i}, {j}) = "
                                f"{out[i, j]}, a label that is nowhere near that place in the mask")

        out = case.call(fn, mask.copy(), size)
        if case.index == 1:
            _not_done_if_shipped("7.1", out, shipped_resize_mask(mask.copy(), size), verify)
        verify(out)
    passed("7.1", len(configs), "keep every label a label, in place")


# --- Exercise 7.2: IoU from scores -----------------------------------------------------------------

def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _iou_cases(rng):
    out = []
    for description, shape, classes, void, kind in [
        ("probabilities (softmax), 4 classes, 10% void", (2, 12, 12), 4, 0.1, "probabilities"),
        ("logits (not probabilities), 5 classes, 10% void", (3, 10, 9), 5, 0.1, "logits"),
        ("probabilities, 3 classes, 40% void", (2, 16, 16), 3, 0.4, "probabilities"),
        ("probabilities where no class reaches 0.5, 6 classes", (2, 14, 14), 6, 0.05, "flat"),
    ]:
        labels = rng.integers(0, classes, size=shape).astype(np.uint8)
        noise = rng.normal(size=shape + (classes,))
        right = rng.random(shape)[..., None] < 0.6  # where the scores favour the true class
        logits = noise + 2.0 * np.eye(classes)[labels] * right
        labels[rng.random(shape) < void] = VOID
        scores = {"probabilities": _softmax(logits), "logits": logits, "flat": _softmax(0.3 * logits)}[kind]
        for class_id in rng.choice(classes, size=2, replace=False):
            out.append((f"{description}, class {int(class_id)}", labels, scores.astype(np.float32), int(class_id)))
    labels = rng.integers(0, 3, size=(2, 8, 8)).astype(np.uint8)
    scores = _softmax(rng.normal(size=(2, 8, 8, 4)))
    scores[..., 3] = 0.0  # class 3: never labelled, never predicted
    out.append(("class 3 absent from labels and predictions (IU undefined: NaN)", labels, scores.astype(np.float32), 3))
    return out


def _reference_iou(labels, scores, class_id, ignore_label=VOID):
    confusion = metrics.confusion_matrix(labels, scores, scores.shape[-1], ignore_label=ignore_label)
    return float(metrics.per_class_iou(confusion)[class_id])


def _iou_hint(received, labels, scores, class_id) -> str | None:
    keep = labels != VOID
    prob, truth = scores[..., class_id], labels == class_id
    soft = (prob[keep] * truth[keep]).sum() / (prob[keep].sum() + truth[keep].sum() - (prob[keep] * truth[keep]).sum())
    soft_all = (prob * truth).sum() / (prob.sum() + truth.sum() - (prob * truth).sum())
    predicted = scores.argmax(axis=-1) == class_id
    with_void = (predicted & truth).sum() / max((predicted | truth).sum(), 1)
    thresholded = prob > 0.5
    by_threshold = (thresholded & truth)[keep].sum() / max((thresholded | truth)[keep].sum(), 1)
    for value, hint in [(soft, "that is a 'soft' IoU of the probabilities: take each pixel's predicted class "
                         "(argmax over the last axis) and count pixels instead."),
                        (soft_all, "that is a 'soft' IoU of the probabilities (void counted too): take the argmax "
                         "class per pixel, drop void pixels, and count."),
                        (with_void, "void pixels were counted: drop every pixel labelled ignore_label first."),
                        (by_threshold, "thresholding one class's probability at 0.5 is not the prediction: a pixel's "
                         "class is the argmax over all classes (no class may reach 0.5).")]:
        if np.isclose(received, value, rtol=1e-6, atol=1e-9):
            return hint
    return None


@exercise_check("7.2", forbidden=("fcn_lessons.metrics",))
def check_class_iou(fn) -> None:
    """Exercise 7.2: ``fn(labels (N, H, W), scores (N, H, W, C), class_id, ignore_label=255) -> float``."""
    rng = case_rng(_SEED + 2)
    configs = _iou_cases(rng)
    hint = ("IU counts pixels: predicted class = argmax of the scores over the last axis; leave out void; "
            "IU = |predicted c and labelled c| / |predicted c or labelled c|, NaN when both are empty.")
    for case, (_, labels, scores, class_id) in zip(cases("7.2", [c[0] for c in configs], hint), configs):
        expected = _reference_iou(labels, scores, class_id)

        def verify(received, case=case, labels=labels, scores=scores, class_id=class_id, expected=expected):
            try:
                value = float(received)
            except (TypeError, ValueError) as err:
                raise case.fail(f"expected one number, received {describe(received)}") from err
            if np.isnan(expected):
                if not np.isnan(value):
                    raise case.fail(f"expected NaN (the class is in neither the labels nor the prediction: 0/0), "
                                    f"received {value:.6g}", hint="return float('nan') when the union is empty.")
                return
            if not np.isclose(value, expected, rtol=1e-6, atol=1e-9):
                raise case.fail(f"expected IU {expected:.6f}, received {value:.6f}",
                                hint=_iou_hint(value, labels, scores, class_id))

        received = case.call(fn, labels.copy(), scores.copy(), class_id)
        if case.index == 1:
            _not_done_if_shipped("7.2", received, shipped_class_iou(labels.copy(), scores.copy(), class_id), verify)
        verify(received)
    passed("7.2", len(configs), "count predicted classes, not probabilities")


# --- Exercise 7.3: targets for a mean squared error, void ignored ---------------------------------

def _target_cases(rng):
    out = []
    for description, shape, classes, void in [("5 classes, 10% void", (2, 8, 8), 5, 0.1),
                                             ("21 classes (VOC), 30% void", (1, 12, 10), 21, 0.3),
                                             ("3 classes, no void", (3, 6, 6), 3, 0.0),
                                             ("4 classes, all void but a few pixels", (1, 9, 9), 4, 0.9)]:
        masks = rng.integers(0, classes, size=shape).astype(np.uint8)
        masks[rng.random(shape) < void] = VOID
        out.append((description, masks, classes))
    return out


@exercise_check("7.3", forbidden=("fcn_lessons.blog_post.mse_targets",))
def check_mse_targets(fn) -> None:
    """Exercise 7.3: ``fn(masks (N, H, W), num_classes, ignore_label=255)`` -> targets (N, H, W, C) and
    weights (N, H, W)."""
    from fcn_lessons import blog_post

    rng = case_rng(_SEED + 3)
    configs = _target_cases(rng)
    hint = ("targets: one-hot of each labelled pixel's class, all zeros at void; weights: 1 for a labelled "
            "pixel, 0 for void, so the loss skips void instead of learning it as background.")
    for case, (_, masks, classes) in zip(cases("7.3", [c[0] for c in configs], hint), configs):
        targets, weights = blog_post.mse_targets(masks, classes)

        def verify(received, case=case, masks=masks, targets=targets, weights=weights):
            if not isinstance(received, (tuple, list)) or len(received) != 2:
                raise case.fail(f"expected a pair (targets, weights), received {describe(received)}")
            got_targets, got_weights = (np.asarray(r) for r in received)
            if got_targets.shape != targets.shape:
                raise case.fail(f"targets: expected shape {targets.shape} (N, H, W, num_classes), received "
                                f"{got_targets.shape}")
            if got_weights.shape != weights.shape:
                raise case.fail(f"weights: expected shape {weights.shape} (N, H, W), received {got_weights.shape}")
            void = masks == VOID
            if void.any() and np.any(got_weights[void] != 0):
                raise case.fail(f"{int(np.count_nonzero(got_weights[void]))} void pixels have a non-zero weight: the "
                                "loss would train them as the class their target names (background, if void was "
                                "replaced by 0)")
            case.assert_close(got_weights, weights, what="weights", atol=0, rtol=0)
            case.assert_close(got_targets, targets, what="targets", atol=0, rtol=0,
                              hint="one-hot at labelled pixels; at void pixels every target is 0.")

        received = case.call(fn, masks.copy(), classes)
        if case.index == 1:
            _not_done_if_shipped("7.3", received, shipped_mse_targets(masks.copy(), classes), verify)
        verify(received)
    passed("7.3", len(configs), "give void no weight and no class")


# --- Exercise 7.4: fuse a skip ---------------------------------------------------------------------

def _fuse_cases(rng):
    out = []
    for description, (h, w), (oy, ox), classes in [
        ("FCN-16s's fusion: a 6×6 upsampled map, the skip cropped at offset (5, 5)", (6, 6), (5, 5), 3),
        ("FCN-8s's pool3 fusion: 10×12, offset (9, 9)", (10, 12), (9, 9), 4),
        ("different offsets per axis: 7×5, offset (2, 6)", (7, 5), (2, 6), 2),
        ("offset (0, 0): the maps are already aligned", (4, 9), (0, 0), 5),
    ]:
        up = rng.normal(size=(2, h, w, classes)).astype(np.float32)
        skip = rng.normal(size=(2, h + oy + int(rng.integers(0, 4)), w + ox + int(rng.integers(1, 4)), classes))
        out.append((description, up, skip.astype(np.float32), (oy, ox)))
    return out


def _fuse_reference(upsampled, skip, offset):
    oy, ox = offset
    h, w = upsampled.shape[1:3]
    return upsampled + skip[:, oy:oy + h, ox:ox + w]


def _fuse_hint(received, upsampled, skip, offset):
    oy, ox = offset
    h, w = upsampled.shape[1:3]
    def window(top, left):
        fits = top + h <= skip.shape[1] and left + w <= skip.shape[2]
        return upsampled + skip[:, top:top + h, left:left + w] if fits else None

    variants = {
        "the skip was cropped at (0, 0): fused before aligning. Crop the skip at the offset first, then add.":
            window(0, 0),
        "the offsets are swapped: offset is (rows, columns) = (oy, ox).": window(ox, oy),
        "the crop is one pixel off: the window starts at the offset itself.": window(oy + 1, ox + 1),
    }
    for hint, value in variants.items():
        if value is not None and np.shape(received) == value.shape and np.allclose(received, value):
            return hint
    if np.shape(received)[-1:] == (2 * upsampled.shape[-1],):
        return "FCN fuses by summation: add the two score maps (concatenation doubles the channels)."
    return None


@exercise_check("7.4", forbidden=("fcn_lessons.models", "fcn_lessons.pyramid.fuse_skip"))
def check_fuse_skip(fn) -> None:
    """Exercise 7.4: ``fn(upsampled (N, h, w, C), skip (N, H, W, C), offset (oy, ox)) -> (N, h, w, C)``."""
    rng = case_rng(_SEED + 4)
    configs = _fuse_cases(rng)
    hint = ("Crop first, then fuse: cut the skip's scores to the upsampled map's size at the offset, "
            "skip[:, oy:oy + h, ox:ox + w], and add the two (FCN fuses by summation).")
    for case, (_, up, skip, offset) in zip(cases("7.4", [c[0] for c in configs], hint), configs):
        def verify(received, case=case, up=up, skip=skip, offset=offset):
            case.assert_close(received, _fuse_reference(up, skip, offset), what="fused scores",
                              hint=_fuse_hint(received, up, skip, offset))

        received = case.call(fn, up.copy(), skip.copy(), offset)
        if case.index == 1:
            _not_done_if_shipped("7.4", received, shipped_fuse_skip(up.copy(), skip.copy(), offset), verify)
        verify(received)
    passed("7.4", len(configs), "crop the skip into alignment, then add")


# --- Exercise 7.5: augment an image and its mask together --------------------------------------------

def _coded_pair(rng, height, width):
    """An image whose channels encode each pixel's row and column, and a mask whose labels a
    third channel repeats: after any flip or crop, every pixel says where it came from."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    mask = _scene_masks(rng, 1, max(height, width))[0][:height, :width].copy()
    image = np.stack([rows, cols, mask], axis=-1).astype(np.uint8)
    return image, mask


@exercise_check("7.5", forbidden=("fcn_lessons.augment", "fcn_lessons.pipeline"))
def check_augment_pair(fn) -> None:
    """Exercise 7.5: ``fn(image (H, W, 3), mask (H, W), rng, crop_size (h, w)) -> (image, mask)``, both
    flipped (left-right, with probability 1/2) and cropped at the same random window."""
    rng = case_rng(_SEED + 5)
    hint = ("Draw the random choices once (flip or not, the crop's top-left corner) and apply the same ones "
            "to the image and to the mask.")
    count, flips, corners = 12, 0, set()
    descriptions = [f"pair {i + 1}: a {h}×{w} coded image and its mask, crop {c}"
                    for i, (h, w, c) in enumerate([(40, 50, (24, 32)), (32, 32, (20, 20)), (48, 36, (48, 20))] * 4)]
    sizes = [(40, 50, (24, 32)), (32, 32, (20, 20)), (48, 36, (48, 20))] * 4
    for case, (height, width, crop) in zip(cases("7.5", descriptions[:count], hint), sizes[:count]):
        image, mask = _coded_pair(rng, height, width)
        draw_seed = int(rng.integers(1 << 30))

        def verify(received, case=case, image=image, mask=mask, crop=crop, height=height, width=width):
            if not isinstance(received, (tuple, list)) or len(received) != 2:
                raise case.fail(f"expected a pair (image, mask), received {describe(received)}")
            out_image, out_mask = (np.asarray(r) for r in received)
            if out_image.shape != crop + (3,) or out_mask.shape != crop:
                raise case.fail(f"expected an image {crop + (3,)} and a mask {crop}, received {out_image.shape} and "
                                f"{out_mask.shape}")
            rows, cols = out_image[..., 0].astype(int), out_image[..., 1].astype(int)
            if rows.max() >= height or cols.max() >= width or not np.array_equal(out_image[..., 2], mask[rows, cols]):
                raise case.fail("the image's pixels were changed, not only moved: flip and crop move pixels, they "
                                "do not alter them (no interpolation, no colour jitter here)")
            mismatch = out_mask != mask[rows, cols]
            if mismatch.any():
                raise case.fail(f"{int(mismatch.sum())} of {mismatch.size} mask pixels do not belong to the image "
                                "pixel at their place: the mask was not moved like the image", hint=hint)
            return rows, cols

        received = case.call(fn, image.copy(), mask.copy(), np.random.default_rng(draw_seed), crop)
        if case.index == 1:
            shipped = shipped_augment_pair(image.copy(), mask.copy(), np.random.default_rng(draw_seed), crop)
            _not_done_if_shipped("7.5", received, shipped, verify)
        rows, cols = verify(received)
        flipped = cols[0, 0] > cols[0, -1]
        flips += int(flipped)
        left = width - 1 - int(cols.max()) if flipped else int(cols.min())  # in the orientation cropped
        corners.add((int(rows.min()), left))
    if flips == 0 or flips == count:
        raise CaseFailure(f"Exercise 7.5: in {count} pairs, {flips} were flipped: flip each pair with probability "
                          "1/2, drawn from rng.\nHint: " + hint)
    if len(corners) < 3:
        raise CaseFailure(f"Exercise 7.5: in {count} pairs the crop started at only {len(corners)} place(s): draw "
                          "the window's corner at random from rng.\nHint: " + hint)
    passed("7.5", count, "move the mask exactly as the image")


# --- Exercise 7.6: the kind of every wrong pixel -------------------------------------------------------

BOUNDARY_WIDTH = metrics.DEFAULT_BOUNDARY_WIDTH


def _perturbed(rng, label_map):
    """A prediction with one or two errors of each kind: shifted, dropped, confused, invented, grown."""
    import cv2

    pred = np.where(label_map == VOID, 0, label_map).astype(np.uint8)
    shift = int(rng.integers(1, 3))
    pred = np.roll(pred, shift, axis=int(rng.integers(0, 2)))
    ids, classes, _ = metrics.object_regions(label_map)
    if len(classes):
        dropped = int(rng.integers(1, len(classes) + 1))
        pred[ids == dropped] = 0
        if len(classes) > 1:  # another object: given another class, with a stripe across it left as background
            confused = 1 + (dropped % len(classes))
            region = ids == confused
            pred[region] = 1 + (int(classes[confused - 1]) % 4)
            rows = np.flatnonzero(region.any(axis=1))
            middle = rows[len(rows) // 3: len(rows) // 3 + max(1, len(rows) // 4)]
            stripe = np.zeros_like(region)
            stripe[middle] = True
            pred[region & stripe] = 0
    size = label_map.shape[0]
    y, x = (int(v) for v in rng.integers(4, size - 10, size=2))
    pred[y:y + 6, x:x + 6] = int(rng.integers(1, 5))
    grown = cv2.dilate((pred == 2).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    pred[grown & (pred == 0)] = 2
    return pred


def _kind_cases(rng):
    masks = _scene_masks(rng, 5, 48)
    out = [(f"scene {i + 1}: a 48×48 label map, a prediction with every kind of error", m, _perturbed(rng, m), None)
           for i, m in enumerate(masks)]
    perfect = masks[0].copy()
    out.append(("a perfect prediction (void pixels predicted as background)", perfect,
                np.where(perfect == VOID, 0, perfect).astype(np.uint8), None))
    empty = np.zeros_like(masks[1])
    out.append(("a label map of background only, with an invented object", empty, _perturbed(rng, empty), None))
    square = np.zeros((40, 40), np.uint8)
    top = int(rng.integers(4, 10))
    square[top:top + 24, 8:32] = int(rng.integers(1, 5))
    half = square.copy()
    half[top:top + 24, 8:8 + int(rng.integers(9, 11))] = 0  # 55-62% of the object still predicted
    out.append(("a square 40% lost, with min_share=0.75 (so it counts as missed)", square, half, 0.75))
    return out


def _kind_hint(received, labels, pred, band, share):
    reference = metrics.error_kinds(labels, pred, 5, boundary_width=BOUNDARY_WIDTH, **share)["kinds"]
    wrong = (pred != labels) & (labels != VOID)
    if np.any(received[labels == VOID] != 0):
        return "void pixels are never wrong: give them kind 0, whatever was predicted there."
    if np.any((received > 0) != wrong):
        return "exactly the labelled pixels whose prediction differs from the label get a kind > 0."
    if np.any(received[wrong & band] != 1):
        return "the boundary band comes first: every wrong pixel inside it is kind 1, whatever else it is."
    code = {name: i + 1 for i, name in enumerate(metrics.ERROR_KINDS)}
    if np.any((reference == code["missed object"]) & (received == code["extent"])):
        return ("an object counts as missed when less than half of its pixels are predicted as *any* object "
                "class (a shape given the wrong class was still found).")
    if np.any((reference == code["extent"]) & (received == code["missed object"])):
        return ("an object counts as missed only when less than min_share of it is predicted as *any* object "
                "class; the lost pixels of an object that was found (even as another class) are 'extent'.")
    if np.any((reference == code["false object"]) != (received == code["false object"])):
        return ("a predicted object is false when less than min_share of its *labelled* pixels are labelled as "
                "an object; find predicted objects as connected regions of the prediction (4-connectivity).")
    return None


@exercise_check("7.6", forbidden=("fcn_lessons.metrics",))
def check_error_kinds(fn) -> None:
    """Exercise 7.6: ``fn(labels (H, W), prediction (H, W), band (H, W) bool, min_share=0.5) -> (H, W) ints``."""
    rng = case_rng(_SEED + 6)
    configs = _kind_cases(rng)
    hint = ("Codes: 0 right or void; 1 boundary (in the band); 2 class confusion (object given another object "
            "class); 3 missed object; 4 false object; 5 extent (the rest). Objects are 4-connected regions "
            "of one class (cv2.connectedComponents).")
    for case, (_, labels, pred, min_share) in zip(cases("7.6", [c[0] for c in configs], hint), configs):
        band = label_maps.boundary_band(labels, BOUNDARY_WIDTH)
        share = {} if min_share is None else {"min_share": min_share}
        expected = metrics.error_kinds(labels, pred, 5, boundary_width=BOUNDARY_WIDTH, **share)["kinds"]
        extra = () if min_share is None else (min_share,)
        received = case.call(fn, labels.copy(), pred.copy(), band.copy(), *extra)
        try:
            got = np.asarray(received)
        except Exception as err:  # pragma: no cover - numpy raises many types
            raise case.fail(f"expected an (H, W) array of kind codes, received {describe(received)}") from err
        if got.shape != labels.shape or got.dtype.kind not in "iu":
            raise case.fail(f"expected an integer array of shape {labels.shape}, received {describe(received)}")
        if not np.array_equal(got, expected):
            counts = {name: (int(np.sum(expected == i + 1)), int(np.sum(got == i + 1)))
                      for i, name in enumerate(metrics.ERROR_KINDS)}
            table = ", ".join(f"{name} {e} (yours {g})" for name, (e, g) in counts.items())
            raise case.fail(f"{int(np.sum(got != expected))} pixels got another kind. Expected pixels per kind: "
                            f"{table}", hint=_kind_hint(got, labels, pred, band, share))
    passed("7.6", len(configs), "sort every wrong pixel into its kind")


# --- Exercise 7.7: predict, then run ---------------------------------------------------------------------

SHIFT_SCENES = {"num_images": 40, "image_size": 64, "seed": 3}  # the lesson's exercise notebook prints its accuracy
SHIFT_PIXELS = 3  # a perfect prediction moved right by this many pixels (a crop that is off)
F1_TOLERANCE = 0.005


def shifted_scenes() -> tuple[np.ndarray, np.ndarray]:
    """(labels, prediction) of exercise 7.7: course scenes and their own labels shifted by ``SHIFT_PIXELS``."""
    from fcn_lessons import data

    _, masks = data.make_shapes(**SHIFT_SCENES)
    prediction = np.roll(np.where(masks == VOID, 0, masks), SHIFT_PIXELS, axis=2).astype(np.uint8)
    return masks, prediction


@exercise_check("7.7")
def check_micro_f1_prediction(prediction) -> None:
    """Exercise 7.7: the learner's prediction of the micro-averaged F1 of the shifted prediction."""
    from fcn_lessons import data

    masks, predicted = shifted_scenes()
    confusion = metrics.confusion_matrix(masks, predicted, data.NUM_CLASSES)
    result = metrics.precision_recall_f1(confusion)
    accuracy = metrics.segmentation_scores(confusion)["pixel_accuracy"]
    explanation = (f"Pooled over pixels, every labelled pixel is predicted exactly once, so the false positives "
                   f"of one class are the false negatives of another: micro precision = micro recall = right "
                   f"pixels / labelled pixels = the pixel accuracy, {accuracy:.3f}, and so is their harmonic mean.")
    check_prediction("7.7", prediction, result["micro_f1"], what="the micro-averaged F1 of the shifted prediction",
                     explanation=explanation, tolerance=F1_TOLERANCE)
