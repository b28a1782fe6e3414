"""Lesson 05's checks, table-driven (tests/check_harness.py): each passes the reference and a
learner-style answer, and fails on the stub and on the plausible mistakes listed here."""

import numpy as np
import pytest

from fcn_lessons import checks, pyramid
from fcn_lessons.checks import pyramid as pyramid_checks
from fcn_lessons.checks._core import CaseFailure
from check_harness import CheckSpec, check_tests, memorised, prediction_of

# --- Exercise 5.1: one fusion step ------------------------------------------------------------

TAPS = np.array([0.25, 0.75, 0.75, 0.25])  # the ×2 bilinear kernel's taps, worked out by hand


def _up(x):
    """A learner's ×2 transposed convolution (kernel 4, stride 2, 'valid'), per class, by scatter-add."""
    h, w, c = x.shape
    out = np.zeros((2 * h + 2, 2 * w + 2, c))
    for i in range(h):
        for j in range(w):
            out[2 * i:2 * i + 4, 2 * j:2 * j + 4] += np.outer(TAPS, TAPS)[..., None] * x[i, j]
    return out


def _fuse(coarse, skip, offset, *, shift=(0, 0), swap=False):
    up = _up(coarse)
    oy, ox = (offset[1], offset[0]) if swap else offset
    oy, ox = oy + shift[0], ox + shift[1]
    return up + skip[oy:oy + up.shape[0], ox:ox + up.shape[1]]


def _upsample_finer(coarse, skip, offset):
    up = _up(skip)
    padded = np.zeros_like(up)
    padded[:coarse.shape[0], :coarse.shape[1]] = coarse
    return up + padded


def _nearest(coarse, skip, offset):
    up = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)
    oy, ox = offset
    return up + skip[oy:oy + up.shape[0], ox:ox + up.shape[1]]


MISTAKES_5_1 = {
    "concatenation instead of the sum": lambda c, s, o: np.concatenate(
        [_up(c), s[o[0]:o[0] + 2 * c.shape[0] + 2, o[1]:o[1] + 2 * c.shape[1] + 2]], axis=-1),
    "summed before cropping": lambda c, s, o: _up(c) + s,
    "offset ignored (cropped at 0)": lambda c, s, o: _fuse(c, s, (0, 0)),
    "offset off by one": lambda c, s, o: _fuse(c, s, o, shift=(1, 1)),
    "offset axes swapped": lambda c, s, o: _fuse(c, s, o, swap=True),
    "upsampled the finer map instead of the coarser": _upsample_finer,
    "nearest ×2 instead of the transposed convolution": _nearest,
    "skip scores left out": lambda c, s, o: _up(c),
}
HINTS_5_1 = {
    "concatenation instead of the sum": "concatenation",
    "summed before cropping": "crop the skip's scores",
    "offset ignored (cropped at 0)": "offset is ignored",
    "offset off by one": "off by one",
    "offset axes swapped": "swapped",
    "upsampled the finer map instead of the coarser": "belongs to the coarser scores",
    "nearest ×2 instead of the transposed convolution": "2h \\+ 2",
    "skip scores left out": "missing from the sum",
}


def _fuse_key(coarse, skip, offset):
    return coarse.tobytes(), skip.tobytes(), tuple(offset)


# --- Exercise 5.2: staged transfer by layer name -------------------------------------------------

def _learner_transfer(source, target):
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        mine = layer.get_weights()
        if not mine:
            continue
        if layer.name not in by_name:
            if layer.name.startswith("score_"):
                layer.set_weights([np.zeros_like(w) for w in mine])
            continue
        theirs = by_name[layer.name].get_weights()
        if len(theirs) == len(mine) and all(a.shape == b.shape for a, b in zip(theirs, mine)):
            layer.set_weights(theirs)


def _transfer(source, target, *, zero=lambda layer, new: new and layer.name.startswith("score_"),
              check_shapes=True, trainable_only=False, reshape=False):
    """A learner-style transfer with one mistake switched on."""
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        mine = layer.get_weights()
        if not mine:
            continue
        new = layer.name not in by_name
        if not new:
            theirs = by_name[layer.name].get_weights()
            fits = [a.shape for a in theirs] == [b.shape for b in mine]
            if reshape and not fits:
                layer.set_weights([np.resize(a, b.shape) for a, b in zip(theirs, mine)])
            elif fits or not check_shapes:
                if trainable_only:
                    for variable, value in zip(layer.trainable_weights, by_name[layer.name].trainable_weights):
                        variable.assign(value)
                else:
                    layer.set_weights(theirs)
        if zero(layer, new):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])


def _by_position(source, target):
    for a, b in zip(source.layers, target.layers):
        if a.get_weights() and [w.shape for w in a.get_weights()] == [w.shape for w in b.get_weights()]:
            b.set_weights(a.get_weights())
    for layer in target.layers:
        if layer.name.startswith("score_pool"):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])


MISTAKES_5_2 = {
    "new score layers left random": lambda s, t: _transfer(s, t, zero=lambda layer, new: False),
    "every new layer zeroed (upsampling kernels too)": lambda s, t: _transfer(s, t, zero=lambda layer, new: new),
    "every score layer zeroed (score_fr too)": lambda s, t: _transfer(
        s, t, zero=lambda layer, new: layer.name.startswith("score_")),
    "shapes not checked (crashes on wider fc layers)": lambda s, t: _transfer(s, t, check_shapes=False),
    "mismatched weights reshaped to fit": lambda s, t: _transfer(s, t, reshape=True),
    "trainable weights only (batch-norm statistics left behind)": lambda s, t: _transfer(s, t, trainable_only=True),
    "copied by position instead of by name": _by_position,
}
HINTS_5_2 = {
    "new score layers left random": "still holds its random weights",
    "every new layer zeroed (upsampling kernels too)": "only new \\*score\\* layers",
    "every score layer zeroed (score_fr too)": "do not zero it",
    "trainable weights only (batch-norm statistics left behind)": "batch-normalisation statistics",
}

# --- Exercise 5.3: predict, then run --------------------------------------------------------------

def _predict(answer):
    return checks.check_border_gain_prediction(prediction_of(answer))


SPECS = [
    CheckSpec(checks.check_fuse, reference=pyramid.fuse_skip, learner=_fuse, mistakes=MISTAKES_5_1, hints=HINTS_5_1,
              passed="5 random cases", hard_coded=memorised(checks.check_fuse, pyramid.fuse_skip, key=_fuse_key)),
    CheckSpec(checks.check_transfer, reference=pyramid.transfer_weights, learner=_learner_transfer,
              mistakes=MISTAKES_5_2, hints=HINTS_5_2, passed="new score layers zeroed"),
    CheckSpec(checks.check_border_gain_prediction, reference=lambda: "pool3", learner=lambda: "pool3",
              mistakes={"the step that gains more mean IU": lambda: "pool4",
                        "a variant instead of a skip": lambda: "8s", "a number": lambda: 0.3},
              hints={"the step that gains more mean IU": "the other way round",
                     "a variant instead of a skip": "must be one of"},
              call=_predict),
]
globals().update(check_tests(SPECS))


def test_5_1_first_case_is_the_reference_networks_own_step():
    coarse, skip, offset = pyramid_checks._fuse_cases(np.random.default_rng(0))[0]
    assert offset == (5, 5) and skip.shape[0] >= 5 + 2 * coarse.shape[0] + 2


def test_5_3_measures_the_oracles_on_the_lessons_test_scenes():
    gains = pyramid_checks.oracle_border_gains()
    assert gains["border"]["pool3"] > gains["border"]["pool4"] + 0.05  # a wide, deterministic margin
    assert gains["mean_iou"]["pool4"] > gains["mean_iou"]["pool3"]


def test_5_3_names_missing_results():
    with pytest.raises(ValueError, match="missing for 8s"):
        pyramid_checks.border_gains({"32s": {"trimap_iou_1px": 0.1}, "16s": {"trimap_iou_1px": 0.2}})
