"""Lesson 06's checks: joint augmentation in tf.data (6.1), batch and learning rate under a strategy (6.2),
where the time goes (6.3, predict then run)."""

from __future__ import annotations

import numpy as np

from fcn_lessons.checks._core import CaseFailure, NotDone, case_rng, cases, check_prediction, describe, exercise_check, passed
from fcn_lessons.labels import VOID_LABEL

__all__ = ["check_joint_augment", "check_replica_scaling", "check_time_prediction"]

_SEED = 6000
_NUM_AUGMENT_CASES = 12  # with flips and scales drawn at random, 12 seeds see both directions of each
# Colour code of the alignment test: each label a colour far from the others and from black (padding).
_CODE = {0: (0.2, 0.9, 0.9), 1: (0.9, 0.2, 0.2), 2: (0.2, 0.9, 0.2), 3: (0.2, 0.2, 0.9), 4: (0.9, 0.9, 0.2),
         VOID_LABEL: (0.6, 0.6, 0.6)}
_PURE = 1e-4  # a pixel whose colour is this close to a code colour was not blended at an edge
_MIN_PURE_SHARE = 0.4  # at least this share of pixels keeps a pure colour under flip, scale and crop


def _coded(mask: np.ndarray) -> np.ndarray:
    image = np.zeros((*mask.shape, 3), np.float32)
    for label, colour in _CODE.items():
        image[mask == label] = colour
    return image


def _decode(image: np.ndarray):
    labels = np.array([*_CODE, -1])
    colours = np.array([*_CODE.values(), (0.0, 0.0, 0.0)], np.float32)
    distance = ((image[..., None, :] - colours) ** 2).sum(-1)
    return labels[distance.argmin(-1)], distance.min(-1) < _PURE


def reference_joint_augment(image, mask, seed):
    """Exercise 6.1's answer: ``augment.augment`` without colour jitter, output at the input size."""
    from fcn_lessons import augment

    return augment.augment(image, mask, seed, brightness=0.0, contrast=0.0, saturation=0.0)


def _run_in_tf_data(fn, case, image, mask, seed):
    import tensorflow as tf

    try:  # the map traces fn (errors of graph mode come here), iterating runs it
        dataset = tf.data.Dataset.from_tensors((image, mask)).map(
            lambda i, m: fn(i, m, tf.constant(seed, tf.int32)))
        out = next(iter(dataset))
    except NotImplementedError as err:
        if "Exercise 6.1" in str(err):  # the shipped stub (autograph may wrap its message)
            raise
        raise case.fail(f"inside a tf.data map your function raised NotImplementedError: {str(err)[:300]}",
                        hint="In a tf.data map the arguments are symbolic tensors: use TensorFlow ops "
                             "(tf.image, tf.random.stateless_*), not numpy.") from err
    except Exception as err:
        raise case.fail(f"inside a tf.data map your function raised {type(err).__name__}: {str(err)[:300]}",
                        hint="In a tf.data map the arguments are symbolic tensors: use TensorFlow ops "
                             "(tf.image, tf.random.stateless_*), not numpy or Python random.") from err
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise case.fail(f"expected a pair (image, mask), received {describe(out)}")
    return out[0].numpy(), out[1].numpy()


@exercise_check("6.1")
def check_joint_augment(fn) -> None:
    """Exercise 6.1: ``fn(image, mask, seed)`` augments image and mask together, inside tf.data.

    Cases: course scenes drawn from ``case_rng`` whose image colours encode the labels,
    and random stateless seeds. Each output must keep the input size, be the same for the
    same seed, keep every pure-coloured pixel on its own label, hold only the input's
    labels and 255, and meet the black image padding with 255 in the mask. Over all cases
    the output must change with the seed, and be scaled (not only flipped) somewhere.
    """
    from fcn_lessons import data

    rng = case_rng(_SEED + 1)
    size = int(rng.choice([48, 64]))
    _, scene_masks = data.make_shapes(_NUM_AUGMENT_CASES, size, seed=int(rng.integers(2**20)))
    seeds = rng.integers(0, 2**30, (_NUM_AUGMENT_CASES, 2))
    descriptions = [f"{size}×{size} scene, seed ({a}, {b})" for a, b in seeds]
    hint = ("Draw every random choice once from the seed (tf.random.experimental.stateless_split) and apply "
            "it to both; resize the mask with method='nearest'; pad the mask with 255.")
    outputs, padded_cases, scaled_cases = [], 0, 0
    for case, mask, seed in zip(cases("6.1", descriptions, hint), scene_masks, seeds):
        image = _coded(mask)
        out_image, out_mask = _run_in_tf_data(fn, case, image, mask, seed.tolist())
        again = _run_in_tf_data(fn, case, image, mask, seed.tolist())
        if out_image.shape != image.shape or out_mask.shape[:2] != mask.shape:
            raise case.fail(f"expected image {image.shape} and mask {mask.shape} (the input's size), received "
                            f"{out_image.shape} and {out_mask.shape}",
                            hint="Crop (or pad) the scaled pair back to the input's height and width.")
        out_mask = out_mask.reshape(mask.shape)
        if out_mask.dtype.kind not in "iu":
            raise case.fail(f"the mask came back as {out_mask.dtype}; class ids are integers",
                            hint="Resize the mask with method='nearest', which keeps its dtype and its values.")
        if not (np.array_equal(out_image, again[0]) and np.array_equal(out_mask, again[1].reshape(mask.shape))):
            raise case.fail("the same seed gave two different results",
                            hint="Use stateless ops (tf.random.stateless_uniform, tf.image.stateless_*) with the "
                                 "seed you are given, never tf.random.uniform.")
        extra = sorted(set(np.unique(out_mask).tolist()) - set(np.unique(mask).tolist()) - {VOID_LABEL})
        if extra:
            raise case.fail(f"the mask holds labels {extra[:8]} that the input mask does not have",
                            hint="A bilinear resize blends labels (between 1 and 255 lies 128): resize masks "
                                 "with method='nearest' only.")
        decoded, pure = _decode(out_image)
        if pure.mean() < _MIN_PURE_SHARE:
            raise case.fail(f"only {pure.mean():.0%} of the image keeps a colour of the input",
                            hint="Geometry only in this exercise: no colour jitter, and resize the image bilinearly.")
        labelled = pure & (decoded >= 0)
        wrong = labelled & (decoded != out_mask)
        if wrong.mean() > 0.0:
            raise case.fail(f"{int(wrong.sum())} pixels of the image show one label and the mask says another: "
                            "image and mask are no longer aligned", hint=hint)
        padding = pure & (decoded == -1)
        if padding.any():
            padded_cases += 1
            if (out_mask[padding] != VOID_LABEL).any():
                found = np.unique(out_mask[padding & (out_mask != VOID_LABEL)]).tolist()
                raise case.fail(f"where the image is padded (black), the mask holds {found[:5]} instead of 255",
                                hint="Pad the mask with 255 (void) so the padding is ignored; 0 would teach "
                                     "'background' there.")
        mirrored = np.array_equal(out_mask, mask[:, ::-1]) or np.array_equal(out_mask, mask)
        scaled_cases += not mirrored
        outputs.append(out_mask)
    if all(np.array_equal(outputs[0], o) for o in outputs[1:]):
        raise CaseFailure("Exercise 6.1: every seed gave the same mask: the augmentation does not depend on "
                          "the seed.\nHint: derive each random choice from the seed argument.")
    if scaled_cases == 0 or padded_cases == 0:
        raise CaseFailure(f"Exercise 6.1: over {_NUM_AUGMENT_CASES} seeds the pair was never scaled down and "
                          "padded (or never scaled at all).\nHint: draw a scale factor in [0.75, 1.25], resize, "
                          "then pad or crop back to the input size.")
    passed("6.1", _NUM_AUGMENT_CASES, "stay aligned inside tf.data, with masks of class ids and void padding")


# --- 6.2: global batch and learning rate -------------------------------------------------------------

def reference_replica_scaling(per_replica_batch, num_replicas, base_learning_rate, base_batch):
    """Exercise 6.2's answer: (global batch, linearly scaled learning rate)."""
    from fcn_lessons import distribute

    batch = distribute.global_batch_size(per_replica_batch, num_replicas)
    return batch, distribute.scaled_learning_rate(base_learning_rate, base_batch, batch)


def replica_cases(rng) -> list[tuple[int, int, float, int]]:
    """(per_replica_batch, num_replicas, base_learning_rate, base_batch) cases of exercise 6.2."""
    out = []
    for replicas in (1, 2, 4, 8, int(rng.choice([2, 4, 8]))):
        per = int(rng.choice([2, 4, 8, 16, 32]))
        base_batch = int(rng.choice([b for b in (8, 16, 20, 32, 256) if b != per]))
        out.append((per, replicas, float(np.round(10 ** rng.uniform(-4, -1), 6)), base_batch))
    return out


@exercise_check("6.2")
def check_replica_scaling(fn) -> None:
    """Exercise 6.2: ``fn(per_replica_batch, num_replicas, base_learning_rate, base_batch)`` ->
    ``(global_batch, learning_rate)``, on cases drawn from ``case_rng``."""
    chosen = replica_cases(case_rng(_SEED + 2))
    descriptions = [f"{r} replicas × {p} images, {lr:g} tuned for batch {b}" for p, r, lr, b in chosen]
    hint = ("The global batch is what one step sees over all replicas; scale the learning rate by how much "
            "larger that is than the batch it was tuned for (the linear scaling rule).")
    for case, (per, replicas, rate, base) in zip(cases("6.2", descriptions, hint), chosen):
        result = case.call(fn, per, replicas, rate, base)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise case.fail(f"expected a pair (global_batch, learning_rate), received {describe(result)}")
        batch, expected_rate = reference_replica_scaling(per, replicas, rate, base)
        if isinstance(result[0], bool) or not isinstance(result[0], (int, np.integer)) or int(result[0]) != batch:
            raise case.fail(f"global batch: expected {batch}, received {result[0]!r}",
                            hint="Every replica takes per_replica_batch images of each step's batch.")
        if isinstance(result[1], bool) or not isinstance(result[1], (int, float, np.floating)) or \
                not np.isclose(float(result[1]), expected_rate, rtol=1e-9):
            raise case.fail(f"learning rate: expected {expected_rate:.6g}, received {result[1]!r}",
                            hint="Multiply by global_batch / base_batch (not by the number of replicas: the "
                                 "rate was tuned for base_batch images, not for one replica's batch).")
    passed("6.2", len(chosen), "give the global batch and the scaled learning rate")


# --- 6.3: where the time goes (predict, then run) ------------------------------------------------------

TIME_CHOICES = ("input", "model")


@exercise_check("6.3")
def check_time_prediction(prediction, *, input_seconds: float, model_seconds: float) -> None:
    """Exercise 6.3: did the learner predict which part of a naive-loader epoch takes longer?

    ``input_seconds`` and ``model_seconds`` are the lesson's own measurement on the
    learner's machine (the point is to predict before measuring, so no hidden cases: the
    answer is the machine's, and the explanation says why it comes out so).
    """
    if prediction is Ellipsis or prediction is None:
        raise NotDone("Exercise 6.3 is not done yet: write your prediction first (replace the ... in its "
                      "exercise cell), run that cell, then this one.")
    for name, value in (("input_seconds", input_seconds), ("model_seconds", model_seconds)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a measured time in seconds, received {value!r}.")
    measured = "input" if input_seconds > model_seconds else "model"
    explanation = (f"reading, decoding and augmenting the images took {input_seconds:.2f} s of the epoch, "
                   f"the model's steps {model_seconds:.2f} s. The course's scenes are small JPEGs (a fraction of "
                   "a millisecond to decode), so on a CPU the network dominates and a faster pipeline can win "
                   "little; on a GPU, or with large photos, the same loader becomes the bottleneck.")
    check_prediction("6.3", prediction, measured, what="the larger part of a naive-loader epoch",
                     explanation=explanation, choices=TIME_CHOICES)
