"""Checks for lesson 05's exercises: one fusion step, the staged weight transfer, a prediction.

=========  =============================================  ==========================================
exercise   the learner writes                             check
=========  =============================================  ==========================================
5.1        ``fuse(coarse_scores, skip_scores, offset)``   :func:`check_fuse`
5.2        ``transfer(source, target)``                   :func:`check_transfer`
5.3        ``PREDICTION`` (predict, then run)             :func:`check_border_gain_prediction`
=========  =============================================  ==========================================

5.1 and 5.2 draw their cases from :func:`~fcn_lessons.checks._core.case_rng`, so a graded
run (``FCN_LESSONS_CHECK_SEED``) sees cases the learner has not seen. 5.3 compares the
learner's prediction with a measurement of the stride oracles (deterministic, a second or two).
"""

from __future__ import annotations

import numpy as np

from fcn_lessons import pyramid
from fcn_lessons.checks._core import case_rng, cases, check_prediction, describe, exercise_check, passed

__all__ = ["check_fuse", "check_transfer", "check_border_gain_prediction"]

_SEED = 505  # the checks draw their own random cases; the learner's seed is untouched


def _close(a, b, atol: float = 1e-4) -> bool:
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol))


# --- Exercise 5.1 ---------------------------------------------------------------------------

def _fuse_cases(rng) -> list:
    """(coarse (h, w, C), skip (H, W, C), offset (oy, ox)): FCN-VGG16's own step first, then random ones."""
    configs = [((3, 4), 3, (5, 5), (2, 1))]  # VGG16's pool4 offset 5 (voc-fcn16s), a skip map a little larger
    for _ in range(4):
        size = tuple(int(v) for v in rng.integers(2, 6, size=2))
        offset = tuple(int(v) for v in rng.integers(0, 7, size=2))
        extra = tuple(int(v) for v in rng.integers(1, 4, size=2))
        configs.append((size, int(rng.integers(2, 5)), offset, extra))
    out = []
    for (h, w), channels, (oy, ox), (ey, ex) in configs:
        coarse = rng.standard_normal((h, w, channels)).astype(np.float32)
        side = max(oy, ox) + 2 * max(h, w) + 2  # room for a crop at a wrong offset too (shifted, swapped)
        skip = rng.standard_normal((side + ey, side + ex, channels)).astype(np.float32)
        out.append((coarse, skip, (oy, ox)))
    return out


def _fuse_diagnosis(received, coarse, skip, offset) -> str | None:
    """A targeted hint when ``received`` is a recognisable wrong fusion."""
    got = np.asarray(received) if isinstance(received, np.ndarray) else None
    h, w, channels = coarse.shape
    expected_shape = (2 * h + 2, 2 * w + 2, channels)
    if got is None:
        return None
    if got.shape == (*expected_shape[:2], 2 * channels):
        return ("Your result has twice the channels: that is a concatenation (U-Net's decoder), not FCN's fusion. "
                "FCN adds the two score maps class by class, so the result keeps one score per class.")
    finer_upsampled = (2 * skip.shape[0] + 2, 2 * skip.shape[1] + 2, channels)
    if got.shape in (finer_upsampled, skip.shape[:2] + (channels,)):
        return ("The result has the size of the finer map (or of its upsampling): the ×2 upsampling belongs to the "
                "coarser scores (stride 2s, fewer positions), and the finer skip scores are cropped to match them.")
    if got.shape[:2] == (2 * h, 2 * w):
        return ("Your upsampled map is 2h×2w: the reference's ×2 layer is a transposed convolution with kernel 4, "
                "stride 2 and 'valid' padding, whose output is (h - 1)·2 + 4 = 2h + 2 long.")
    if got.shape != expected_shape:
        return None
    oy, ox = offset

    def fits(ty, tx):
        return min(ty, tx) >= 0 and skip.shape[0] >= ty + expected_shape[0] and skip.shape[1] >= tx + expected_shape[1]

    for name, (dy, dx) in {"ignored (cropped at 0)": (-oy, -ox), "off by one": (1, 1), "off by minus one": (-1, -1),
                           "off by one in y": (1, 0), "off by one in x": (0, 1)}.items():
        ty, tx = oy + dy, ox + dx
        if (ty, tx) != (oy, ox) and fits(ty, tx) and _close(received, pyramid.fuse_skip(coarse, skip, (ty, tx))):
            return (f"The crop offset is {name}: unit (0, 0) of the upsampled map lies at (oy, ox) = {offset} of the "
                    "skip's map, so the crop is skip[oy:oy + 2h + 2, ox:ox + 2w + 2].")
    if oy != ox and fits(ox, oy) and _close(received, pyramid.fuse_skip(coarse, skip, (ox, oy))):
        return "The offset's two numbers are swapped: offset is (oy, ox), rows first."
    from fcn_lessons import upsampling

    up = upsampling.transposed_conv2d(coarse, upsampling.bilinear_kernel(2, channels), 2, "valid")
    if _close(received, up):
        return "The skip's scores are missing from the sum: fusion adds the cropped skip scores to the upsampled map."
    return None


@exercise_check("5.1")
def check_fuse(fn) -> None:
    """Exercise 5.1: ``fn(coarse (h, w, C), skip (H, W, C), offset (oy, ox)) -> (2h + 2, 2w + 2, C)``.

    The reference is :func:`fcn_lessons.pyramid.fuse_skip`: ×2 bilinear transposed
    convolution (kernel 4, stride 2, 'valid') of the coarse scores, plus the skip's scores
    cropped at ``offset`` to the same size.
    """
    rng = case_rng(_SEED)
    all_cases = _fuse_cases(rng)
    hint = ("Upsample the coarse scores ×2 with the bilinear transposed convolution (kernel 4, stride 2, 'valid': "
            "2h + 2 rows), crop the skip's scores at (oy, ox) to that size, then add the two maps.")
    descriptions = [f"coarse {c.shape[0]}×{c.shape[1]}×{c.shape[2]}, skip {s.shape[0]}×{s.shape[1]}, offset {o}"
                    for c, s, o in all_cases]
    for case, (coarse, skip, offset) in zip(cases("5.1", descriptions, hint), all_cases):
        try:
            received = fn(coarse.copy(), skip.copy(), offset)
        except NotImplementedError:
            raise
        except ValueError as err:
            if "broadcast" in str(err):
                raise case.fail(f"your function raised ValueError: {err}",
                                hint="The two maps have different sizes: crop the skip's scores to the upsampled "
                                     "map's size (at the offset) before adding them.") from err
            raise case.fail(f"your function raised ValueError: {err}") from err
        except Exception as err:
            raise case.fail(f"your function raised {type(err).__name__}: {err}") from err
        expected = pyramid.fuse_skip(coarse, skip, offset)
        if not _close(received, expected):  # the targeted hint is worked out only for a wrong answer
            case.assert_close(received, expected, what="fused scores", atol=1e-4,
                              hint=_fuse_diagnosis(received, coarse, skip, offset))
    passed("5.1", len(all_cases), "give the reference's fused scores (upsample the coarse map, crop the skip, add)")


# --- Exercise 5.2 ---------------------------------------------------------------------------

def _tiny_fcn(variant: str, *, num_classes: int, fc_width: int, name: str):
    """A toy FCN with the reference's layer names: conv3_1/bn3_1/pool3 .. conv5_1/bn5_1/pool5, fc6, fc7,
    score_fr, then the variant's head (strides 2, 4, 8 for pool3, pool4, pool5: small and fast to build)."""
    import keras

    inputs = keras.Input((None, None, 3), name="image")
    x, pools = inputs, {}
    for block, width in ((3, 4), (4, 6), (5, 6)):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{block}_1")(x)
        x = keras.layers.BatchNormalization(name=f"bn{block}_1")(x)
        x = keras.layers.ReLU(name=f"relu{block}_1")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)
        pools[block] = x
    x = keras.layers.Conv2D(fc_width, 1, activation="relu", name="fc6")(x)
    x = keras.layers.Conv2D(fc_width, 1, activation="relu", name="fc7")(x)
    x = keras.layers.Conv2D(num_classes, 1, name="score_fr")(x)

    def up(t, factor, layer):
        return keras.layers.Conv2DTranspose(num_classes, 2 * factor, strides=factor, padding="same", use_bias=False,
                                            name=layer)(t)

    if variant == "32s":
        x = up(x, 8, "upscore")
    else:
        x = keras.layers.Add(name="fuse_pool4")([up(x, 2, "upscore2"),
                                                 keras.layers.Conv2D(num_classes, 1, name="score_pool4")(pools[4])])
        if variant == "16s":
            x = up(x, 4, "upscore16")
        else:
            x = keras.layers.Add(name="fuse_pool3")([up(x, 2, "upscore_pool4"),
                                                     keras.layers.Conv2D(num_classes, 1, name="score_pool3")(pools[3])])
            x = up(x, 2, "upscore8")
    return keras.Model(inputs, x, name=name)


def _randomise(model, rng) -> None:
    """Every weight of ``model`` random (BN variances positive): a careless builder's new layers, and
    source weights no answer can guess."""
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) if "variance" in v.name
                               else rng.standard_normal(w.shape).astype(w.dtype)
                               for w, v in zip(weights, layer.weights)])


_TRANSFER_CASES = [  # (source variant, target variant, source fc width, target fc width, what the case tries)
    ("32s", "16s", 8, 8, "32s -> 16s"),
    ("16s", "8s", 8, 8, "16s -> 8s"),
    ("32s", "16s", 8, 12, "32s -> 16s whose fc6/fc7 are wider (their shapes differ)"),
    ("32s", "8s", 8, 8, "32s -> 8s (two new skips)"),
]


def _expected(source, target, before: dict) -> dict:
    sources = {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
    out = {}
    for layer in target.layers:
        if not layer.weights:
            continue
        own = before[layer.name]
        theirs = sources.get(layer.name)
        if theirs is not None and [w.shape for w in theirs] == [w.shape for w in own]:
            out[layer.name] = ("copied", theirs)
        elif theirs is None and layer.name.startswith(pyramid.NEW_SCORE_PREFIX):
            out[layer.name] = ("zeroed", [np.zeros_like(w) for w in own])
        else:
            out[layer.name] = ("kept", own)
    return out


def _transfer_diagnosis(name: str, kind: str, got: list, want: list, before: list, source_weights) -> str:
    if kind == "zeroed":
        if all(_close(g, b, 0) for g, b in zip(got, before)):
            return (f"'{name}' is new (the source has no such layer) and still holds its random weights: the new "
                    "skip scores must start at zero, so the new net starts as the old one.")
        return f"'{name}' is a new score layer: set all its weights (kernel and bias) to zero."
    if kind == "kept":
        if all(not np.any(g) for g in got):
            return (f"'{name}' received nothing from the source but you zeroed it: only new *score* layers "
                    "(names starting with 'score_') start at zero; new upsampling kernels keep their "
                    "initialisation (bilinear in models.fcn), and a layer whose shapes differ keeps its own weights.")
        return (f"'{name}' exists in both models but its weights have different shapes: leave the target's own "
                "weights there (no reshaping, no partial copy).")
    # copied
    if source_weights is not None and len(got) == len(want) > 2 and all(
            _close(g, w, 0) for g, w in zip(got[:2], want[:2])) and not all(_close(g, w, 0) for g, w in zip(got, want)):
        return (f"'{name}' got its trainable weights but not its batch-normalisation statistics (moving mean and "
                "variance): copy layer.get_weights(), which holds all of them.")
    if all(not np.any(g) for g in got):
        return f"'{name}' comes from the source (same name, same shapes): copy it, do not zero it."
    if all(_close(g, b, 0) for g, b in zip(got, before)):
        return (f"'{name}' was not copied: match layers by name (target.get_layer / a dict of names), not by "
                "position, and copy every layer whose weight shapes agree.")
    return f"'{name}' holds weights that are neither the source's nor the target's: match layers by name."


@exercise_check("5.2")
def check_transfer(fn) -> None:
    """Exercise 5.2: ``fn(source, target)`` initialises ``target`` from ``source`` by layer name, in place.

    Expected, layer by layer (the reference is :func:`fcn_lessons.pyramid.transfer_weights`):
    same name and same weight shapes -> the source's weights (all of them, batch-norm
    statistics included); same name, other shapes -> the target's own weights; a new layer
    whose name starts with ``score_`` -> zeros; any other new layer -> unchanged.
    """
    import keras

    rng = case_rng(_SEED + 2)
    hint = ("Loop over the target's layers with weights; look each up by name in the source; copy get_weights() when "
            "every shape agrees, keep the target's weights when they do not, and zero new 'score_' layers.")
    descriptions = [description for *_, description in _TRANSFER_CASES]
    for case, (src_variant, dst_variant, src_width, dst_width, _) in zip(cases("5.2", descriptions, hint),
                                                                          _TRANSFER_CASES):
        num_classes = int(rng.integers(2, 5))
        keras.utils.set_random_seed(int(rng.integers(0, 2 ** 31)))
        source = _tiny_fcn(src_variant, num_classes=num_classes, fc_width=src_width, name=f"source_{src_variant}")
        target = _tiny_fcn(dst_variant, num_classes=num_classes, fc_width=dst_width, name=f"target_{dst_variant}")
        _randomise(source, rng)
        _randomise(target, rng)
        before = {layer.name: layer.get_weights() for layer in target.layers if layer.weights}
        expected = _expected(source, target, before)
        case.call(fn, source, target)
        sources = {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
        for layer in target.layers:
            if layer.name not in expected:
                continue
            kind, want = expected[layer.name]
            got = layer.get_weights()
            if not all(_close(g, w, 1e-6) for g, w in zip(got, want)):
                raise case.fail(f"layer '{layer.name}' ({kind} expected) holds other weights "
                                f"({', '.join(describe(g) for g in got)})",
                                hint=_transfer_diagnosis(layer.name, kind, got, want, before[layer.name],
                                                         sources.get(layer.name)))
        source_after = {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
        if any(not all(_close(a, b, 0) for a, b in zip(sources[n], source_after[n])) for n in sources):
            raise case.fail("the source's weights changed", hint="Read the source's weights; never write to them.")
    passed("5.2", len(_TRANSFER_CASES), "copied by name, mismatched shapes kept, new score layers zeroed")


# --- Exercise 5.3 (predict, then run) --------------------------------------------------------

BORDER_WIDTH = 1  # exercise 5.3: the trimap band 1 px around label borders
BORDER_CHOICES = ("pool4", "pool3")  # the step that could gain more there: 32 -> 16, or 16 -> 8
ORACLE_SCENES = 200  # the lesson's test scenes (pyramid.LEARNER's): 128×128, seed 2


def border_gains(results: dict, width: int = BORDER_WIDTH) -> dict:
    """{"pool4": 16s - 32s, "pool3": 8s - 16s}: what each step adds to trimap mean IU within ``width`` px."""
    key = f"trimap_iou_{width}px"
    missing = [v for v in ("32s", "16s", "8s") if v not in results or key not in results[v]]
    if missing:
        raise ValueError(f"results must hold {key!r} for 32s, 16s and 8s; missing for {', '.join(missing)}.")
    return {"pool4": results["16s"][key] - results["32s"][key], "pool3": results["8s"][key] - results["16s"][key]}


def oracle_border_gains() -> dict:
    """Exercise 5.3's measurement: :func:`border_gains` of the stride oracles on the lesson's test scenes."""
    from fcn_lessons import data

    budget = pyramid.LEARNER
    _, masks = data.make_shapes(ORACLE_SCENES, budget.image_size, seed=budget.test_seed)
    oracle = pyramid.stride_oracle_scores(masks, widths=(BORDER_WIDTH,))
    return {"border": border_gains(oracle), "mean_iou": {"pool4": oracle["16s"]["mean_iou"] - oracle["32s"]["mean_iou"],
                                                         "pool3": oracle["8s"]["mean_iou"] - oracle["16s"]["mean_iou"]}}


@exercise_check("5.3")
def check_border_gain_prediction(prediction) -> None:
    """Exercise 5.3 ("predict, then run"): which step could gain more trimap mean IU 1 px from a border?

    Measured with the stride oracles (``pyramid.stride_oracle_scores``: perfect cell
    classifiers at strides 32, 16 and 8, upsampled bilinearly) on the lesson's 200 test
    scenes: the pool4 step is 32 -> 16, the pool3 step 16 -> 8.
    """
    gains = oracle_border_gains()
    border, overall = gains["border"], gains["mean_iou"]
    measured = max(border, key=border.get)
    explanation = (f"Within {BORDER_WIDTH} px of a border, the pool4 step (stride 32 -> 16) could gain "
                   f"{border['pool4']:+.3f} trimap mean IU and the pool3 step (16 -> 8) {border['pool3']:+.3f}, while "
                   f"in mean IU over whole images the order is the other way round ({overall['pool4']:+.3f} and "
                   f"{overall['pool3']:+.3f}). Mean IU is mostly object interiors, which stride 16 already gets "
                   "right (the paper's diminishing return: 59.4 -> 62.4 -> 62.7); the pixels next to a border are "
                   "the ones only a finer stride can place. Section 5 of the lesson shows how much of that the "
                   "trained FCN-8s actually collects.")
    check_prediction("5.3", prediction, measured, what=f"the step that could gain more {BORDER_WIDTH} px from a border",
                     explanation=explanation, choices=BORDER_CHOICES)
