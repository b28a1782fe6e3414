"""Lesson 06's checks pass the reference and learner-style answers, and fail on the stub and on plausible mistakes."""

import numpy as np
import pytest

from check_harness import CheckSpec, check_tests, prediction_of
from fcn_lessons import checks
from fcn_lessons.checks import _core
from fcn_lessons.checks import pipeline as lesson_checks

SCALE_RANGE = (0.75, 1.25)


# --- Exercise 6.1: joint augmentation in tf.data --------------------------------------------------

def _augment(image, mask, seed, *, mask_seed_offset=0, bilinear_mask=False, mask_pad=255, flip_only=False,
             jitter=False, numpy_random=False):
    """A learner's tf answer (flip, scale, pad, crop), with one mistake switched on."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, num=5)
    mask_seeds = tf.random.experimental.stateless_split(seed + mask_seed_offset, num=5)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    mask = mask[..., None]

    def geometry(x, draws, is_mask):
        flip = tf.random.stateless_uniform([], draws[0]) < 0.5
        x = tf.cond(flip, lambda: x[:, ::-1], lambda: x)
        if flip_only:
            return x
        factor = tf.random.stateless_uniform([], draws[1], *SCALE_RANGE)
        if numpy_random:
            factor = float(np.random.uniform(*SCALE_RANGE))
        new = tf.cast(tf.round(tf.cast(tf.stack([height, width]), tf.float32) * factor), tf.int32)
        if is_mask and not bilinear_mask:
            x = tf.image.resize(x, new, method="nearest")
        else:
            x = tf.cast(tf.image.resize(tf.cast(x, tf.float32), new), x.dtype)
        pad_h, pad_w = tf.maximum(height - new[0], 0), tf.maximum(width - new[1], 0)
        top = tf.random.stateless_uniform([], draws[2], 0, pad_h + 1, tf.int32)
        left = tf.random.stateless_uniform([], draws[3], 0, pad_w + 1, tf.int32)
        value = tf.cast(mask_pad if is_mask else 0, x.dtype)
        x = tf.pad(x, [[top, pad_h - top], [left, pad_w - left], [0, 0]], constant_values=value)
        row = tf.random.stateless_uniform([], draws[4], 0, tf.shape(x)[0] - height + 1, tf.int32)
        column = tf.random.stateless_uniform([], tf.reverse(draws[4], [0]), 0, tf.shape(x)[1] - width + 1, tf.int32)
        return x[row:row + height, column:column + width]

    out_image = geometry(image, seeds, False)
    if jitter:
        out_image = tf.clip_by_value(out_image + 0.05, 0, 1)
    return out_image, geometry(mask, mask_seeds, True)[..., 0]


def _answer(**mistake):
    def joint_augment(image, mask, seed):
        return _augment(image, mask, seed, **mistake)
    return joint_augment


def _numpy_inside(image, mask, seed):
    return np.asarray(image)[:, ::-1], np.asarray(mask)[:, ::-1]


SPEC_6_1 = CheckSpec(
    checks.check_joint_augment,
    reference=lesson_checks.reference_joint_augment,
    learner=_answer(),
    mistakes={
        "the mask augmented with another seed": _answer(mask_seed_offset=1),
        "bilinear resize of the mask": _answer(bilinear_mask=True),
        "the mask padded with 0": _answer(mask_pad=0),
        "flip only, no scale": _answer(flip_only=True),
        "colour jitter": _answer(jitter=True),
        "numpy inside tf.data": _numpy_inside,
        "the same output for every seed": lambda image, mask, seed: (image, mask),
    },
    hints={"the mask augmented with another seed": "no longer aligned",
           "bilinear resize of the mask": "method='nearest'",
           "the mask padded with 0": "instead of 255",
           "flip only, no scale": "never scaled",
           "numpy inside tf.data": "TensorFlow ops"},
    passed=r"^Exercise 6\.1 passed: 12 random cases stay aligned",
)


# --- Exercise 6.2: global batch and learning rate -------------------------------------------------

def _scaling(per, replicas, rate, base, *, batch=None, rule="linear"):
    global_batch = per * replicas if batch is None else batch(per, replicas)
    if rule == "linear":
        return global_batch, rate * global_batch / base
    if rule == "replicas":
        return global_batch, rate * replicas
    if rule == "none":
        return global_batch, rate
    if rule == "inverse":
        return global_batch, rate * base / global_batch
    raise AssertionError(rule)


def _visible_answers():
    """An answer fitted to the cases a learner sees (looked up, not computed)."""
    table = {case: lesson_checks.reference_replica_scaling(*case)
             for case in lesson_checks.replica_cases(np.random.default_rng(lesson_checks._SEED + 2))}
    return lambda per, replicas, rate, base: table.get((per, replicas, rate, base), (per, rate))


SPEC_6_2 = CheckSpec(
    checks.check_replica_scaling,
    reference=lesson_checks.reference_replica_scaling,
    learner=lambda per_replica_batch, num_replicas, base_learning_rate, base_batch: (
        per_replica_batch * num_replicas, base_learning_rate * per_replica_batch * num_replicas / base_batch),
    mistakes={
        "global batch = per-replica batch": lambda p, r, lr, b: _scaling(p, r, lr, b, batch=lambda p, r: p),
        "learning rate not scaled": lambda p, r, lr, b: _scaling(p, r, lr, b, rule="none"),
        "learning rate times the replicas": lambda p, r, lr, b: _scaling(p, r, lr, b, rule="replicas"),
        "learning rate divided": lambda p, r, lr, b: _scaling(p, r, lr, b, rule="inverse"),
        "global batch as a float": lambda p, r, lr, b: (float(p * r), lr * p * r / b),
        "one number": lambda p, r, lr, b: p * r,
    },
    hints={"learning rate times the replicas": "not by the number of replicas",
           "global batch = per-replica batch": "global batch: expected"},
    passed=r"^Exercise 6\.2 passed: 5 random cases",
    hard_coded=_visible_answers(),
)


# --- Exercise 6.3: predict, then run ----------------------------------------------------------------

MEASURED = {"input_seconds": 0.03, "model_seconds": 0.26}  # bench pipeline, naive loader at batch 1 (loaded machine)

SPEC_6_3 = CheckSpec(
    checks.check_time_prediction,
    reference=lambda: "model",
    learner=lambda: "model",
    mistakes={"the input": lambda: "input", "not a choice": lambda: "both", "a number": lambda: 0.5},
    hints={"the input": r"(?s)measured 'model'.*network dominates", "not a choice": "must be one of"},
    passed=r"^Exercise 6\.3 passed: you predicted the larger part",
    call=lambda answer: checks.check_time_prediction(prediction_of(answer), **MEASURED),
)

globals().update(check_tests([SPEC_6_1, SPEC_6_2, SPEC_6_3]))


def test_6_3_follows_the_measurement():
    checks.check_time_prediction("input", input_seconds=2.0, model_seconds=0.5)
    with pytest.raises(_core.CaseFailure, match="measured 'input'"):
        checks.check_time_prediction("model", input_seconds=2.0, model_seconds=0.5)
    with pytest.raises(ValueError, match="input_seconds"):
        checks.check_time_prediction("model", input_seconds=float("nan"), model_seconds=0.5)
