"""The skip pyramid (lesson 05): FCN-16s and FCN-8s, trained so that the skips help.

The networks themselves are ``models.fcn(num_classes, "16s" | "8s", ...)`` (lesson 04's
builder, layer names as in the authors' reference code). This module holds what lesson 05
adds around them:

- **staged training**: :func:`transfer_weights` copies every layer whose name and weight
  shapes match (the reference's ``solver.net.copy_from``) and leaves the new skip scores
  at zero, so a 16s net starts where the 32s net stopped;
- **the pyramid as a sum**: because the upsampling layers are linear and have no bias,
  the output of FCN-8s is the sum of three maps, the coarse scores' and each skip's,
  each upsampled to the image (:func:`skip_contributions`); the skip explorer switches
  the terms on and off;
- **fusion variants**: :func:`fcn_with_fusion` swaps the summation for an element-wise
  maximum or for a concatenation followed by a 1×1 convolution (a U-Net-style decoder);
- **the careless recipe** and its fixes (:data:`CARELESS`, :func:`careless_fcn`): the kind
  of training that makes FCN-8s worse than FCN-32s;
- **the experiments**: :class:`Budget` (data and epochs, :data:`LEARNER` and :data:`QUICK`),
  :func:`course_data`, :func:`train`, :func:`staged` (32s, then 16s, then 8s), :func:`at_once`,
  :func:`scores` (mean IU, trimap mean IU at 1, 4 and 16 px, per-class IU, weights) and
  :func:`comparison_table`. ``python -m fcn_lessons.bench pyramid`` runs the same comparison.

Shapes are NHWC; masks hold class ids with 255 for void.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.labels import VOID_LABEL

SKIPS = ("pool4", "pool3")  # coarse to fine: FCN-16s adds pool4, FCN-8s also pool3
FUSIONS = ("sum", "max", "concat")
# The reference's layer names along the head, coarse to fine (voc-fcn16s/net.py, voc-fcn8s/net.py).
SKIP_UPSAMPLING = {"pool4": "upscore2", "pool3": "upscore_pool4"}  # the ×2 layer whose output a skip joins
FINAL_UPSAMPLING = {"32s": "upscore", "16s": "upscore16", "8s": "upscore8"}
VARIANT_SKIPS = {"32s": (), "16s": ("pool4",), "8s": ("pool4", "pool3")}
TRIMAP_WIDTHS = (1, 4, 16)  # pixels from a label border (lesson 00's trimap measure)
NEW_SCORE_PREFIX = "score_"  # new skip score layers (score_pool4, score_pool3) start at zero


def variant_of(model) -> str:
    """"32s", "16s" or "8s": which final upsampling layer ``model`` has (the reference's names)."""
    model = _validate.keras_model(model)
    names = {layer.name for layer in model.layers}
    found = [variant for variant, layer in FINAL_UPSAMPLING.items() if layer in names]
    if len(found) != 1:
        raise ValueError(f"model '{model.name}' is not an FCN built with the reference's layer names: expected "
                         f"exactly one of the layers {', '.join(FINAL_UPSAMPLING.values())}; it has "
                         f"{', '.join(found) or 'none'}.")
    return found[0]


def trainable_weights(model) -> int:
    """The number of trainable weights (the frozen bilinear upsampling kernels are not counted)."""
    model = _validate.keras_model(model)
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# --- staged training: copy by layer name ------------------------------------------------------

def transfer_weights(source, target, *, zero_new: str | None = NEW_SCORE_PREFIX) -> dict:
    """Initialise ``target`` from ``source`` layer by layer, by name: the paper's staged training.

    Every layer of ``target`` that has a layer of the same name in ``source`` with weights of
    the same shapes receives those weights (kernels, biases, batch-normalisation statistics).
    A layer whose shapes differ keeps its own weights and is reported, never reshaped or
    silently dropped. Layers of ``target`` that ``source`` lacks are *new*: those whose
    name starts with ``zero_new`` (the skip scores ``score_pool4``, ``score_pool3``) are set
    to zero, so the new net starts with its skips contributing nothing (the paper: "The new
    parameters acting on pool4 are zero-initialized"); other new layers (the bilinear
    upsampling kernels) keep their initialisation.

    Args:
        source: the trained coarser net (e.g. FCN-32s).
        target: the finer net to initialise (e.g. a fresh FCN-16s); changed in place.
        zero_new: name prefix of the new layers to zero; None to leave every new layer as built.

    Returns:
        dict of layer names: ``copied``, ``shape_mismatch`` (kept their own weights),
        ``zeroed`` and ``new`` (target layers with weights that received nothing; ``zeroed``
        is part of it), ``dropped`` (source layers with weights that ``target`` lacks).
    """
    source, target = _validate.keras_model(source, "source"), _validate.keras_model(target, "target")
    if zero_new is not None and not isinstance(zero_new, str):
        raise TypeError(f"zero_new must be a layer-name prefix (str) or None, received {zero_new!r}.")
    sources = {layer.name: layer for layer in source.layers if layer.weights}
    report = {"copied": [], "shape_mismatch": [], "zeroed": [], "new": [], "dropped": []}
    for layer in target.layers:
        if not layer.weights:
            continue
        if layer.name not in sources:
            report["new"].append(layer.name)
            if zero_new and layer.name.startswith(zero_new):
                layer.set_weights([np.zeros(w.shape, w.dtype) for w in layer.get_weights()])
                report["zeroed"].append(layer.name)
            continue
        weights = sources[layer.name].get_weights()
        if [w.shape for w in weights] != [w.shape for w in layer.get_weights()]:
            report["shape_mismatch"].append(layer.name)
            continue
        layer.set_weights(weights)
        report["copied"].append(layer.name)
    names = {layer.name for layer in target.layers}
    report["dropped"] = [name for name in sources if name not in names]
    if not report["copied"]:
        raise ValueError(f"transfer_weights: no layer of '{source.name}' matches a layer of '{target.name}' by "
                         "name and shapes; staged training copies the trunk and score_fr of the coarser net.")
    return report


# --- one fusion step, in numpy ----------------------------------------------------------------

FUSION_FACTOR = 2  # every skip joins a ×2 upsampling of the coarser scores (upscore2, upscore_pool4)


def fuse_skip(coarse_scores, skip_scores, offset) -> np.ndarray:
    """One step of the pyramid, in numpy: upsample the coarser scores ×2, crop the skip's into alignment, add.

    What the reference's ``upscore2``, ``score_pool4c`` and ``fuse_pool4`` compute:

    1. ``up``: the coarser scores through a ×2 transposed convolution, kernel 4, stride 2,
       'valid', bilinear per class (``upsampling.bilinear_kernel(2, C)``):
       (h, w, C) -> (2h + 2, 2w + 2, C);
    2. the skip's scores (already the 1×1 ``score_pool4`` of pool4) cropped to ``up``'s
       size at ``offset``, where unit (0, 0) of ``up`` lies in them (5 for FCN-VGG16's pool4);
    3. the element-wise sum, one score per class: (2h + 2, 2w + 2, C).

    Args:
        coarse_scores: (h, w, C) or (N, h, w, C) scores at stride 2s.
        skip_scores: (H, W, C) or (N, H, W, C) scores at stride s, H >= oy + 2h + 2 (likewise W).
        offset: (oy, ox) or one int, >= 0.

    Returns:
        (2h + 2, 2w + 2, C) float32 (with a batch axis when the inputs have one).
    """
    from fcn_lessons import upsampling

    coarse = _validate.array(coarse_scores, "coarse_scores", ndim=(3, 4), kinds="biuf", layout="(h, w, C)")
    skip = _validate.array(skip_scores, "skip_scores", ndim=(3, 4), kinds="biuf", layout="(H, W, C)")
    if coarse.ndim != skip.ndim:
        raise ValueError(f"coarse_scores and skip_scores must both have a batch axis or neither; received shapes "
                         f"{coarse.shape} and {skip.shape}.")
    if coarse.shape[-1] != skip.shape[-1]:
        raise ValueError(f"coarse_scores and skip_scores must hold one score per class each: {coarse.shape[-1]} and "
                         f"{skip.shape[-1]} channels received.")
    oy, ox = _validate.int_pair(offset, "offset", minimum=0)
    kernel = upsampling.bilinear_kernel(FUSION_FACTOR, coarse.shape[-1])
    up = upsampling.transposed_conv2d(coarse.astype(np.float32), kernel, FUSION_FACTOR, "valid")
    h, w = up.shape[-3:-1]
    if skip.shape[-3] < oy + h or skip.shape[-2] < ox + w:
        raise ValueError(f"skip_scores of {skip.shape[-3]}×{skip.shape[-2]} cannot be cropped to the upsampled "
                         f"{h}×{w} at offset {(oy, ox)}: the skip's map must cover the upsampled one.")
    return (up + skip[..., oy:oy + h, ox:ox + w, :]).astype(np.float32)


# --- the pyramid as a sum of upsampled terms ------------------------------------------------

def _crop(x: np.ndarray, offset, size) -> np.ndarray:
    (oy, ox), (h, w) = offset, size
    if x.shape[1] < oy + h or x.shape[2] < ox + w:
        raise ValueError(f"cannot crop {h}×{w} at offset {(oy, ox)} from a map of {x.shape[1]}×{x.shape[2]}.")
    return x[:, oy:oy + h, ox:ox + w]


def _linear_layer(model, name: str):
    layer = model.get_layer(name)
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    if getattr(layer, "use_bias", False) or activation != "linear":
        raise ValueError(f"layer '{name}' of '{model.name}' has a bias or a non-linear activation: the terms of "
                         "the pyramid only add up through linear upsampling (the reference's: no bias).")
    return layer


def skip_contributions(model, images) -> dict:
    """The output of an FCN as a sum of terms, one per stride: the coarse scores and each skip's.

    The head of FCN-8s computes ``U8(U2(U2(score_fr) + score_pool4c) + score_pool3c)``
    (then crops it to the image). The upsampling layers are transposed convolutions
    without bias, hence linear, so that equals ``U8(U2(U2(score_fr))) + U8(U2(score_pool4c))
    + U8(score_pool3c)``: three full-resolution maps whose sum is the model's output. A
    term set to zero is the pyramid with that skip switched off.

    Args:
        model: an FCN from ``models.fcn`` (any variant, either backbone), or one with the
            same layer names and linear upsampling.
        images: (N, H, W, C) model inputs (already ``models.preprocess_input``-ed).

    Returns:
        dict (coarse to fine) ``{"score_fr": ..., "pool4": ..., "pool3": ...}`` with the
        terms the variant has, each (N, H, W, num_classes) float32; they sum to
        ``model.predict(images)`` up to float rounding.
    """
    import keras

    from fcn_lessons import models

    variant = variant_of(model)
    images = _validate.array(images, "images", ndim=4, kinds="uif", layout="(N, H, W, C)").astype(np.float32)
    skips = VARIANT_SKIPS[variant]
    names = ["score_fr"] + [f"score_{skip}" for skip in skips] + [SKIP_UPSAMPLING[skip] for skip in skips]
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in names])
    predicted = probe.predict_on_batch(images)
    predicted = predicted if isinstance(predicted, (list, tuple)) else [predicted]  # one output: not a list
    outputs = dict(zip(names, (np.asarray(o) for o in predicted)))
    offsets = models.crop_offsets(model)
    terms = {"score_fr": outputs["score_fr"]}
    for skip in skips:  # each ×2 step upsamples every term so far, then the skip joins at its size
        up = _linear_layer(model, SKIP_UPSAMPLING[skip])
        terms = {name: np.asarray(up(term)) for name, term in terms.items()}
        size = outputs[SKIP_UPSAMPLING[skip]].shape[1:3]
        terms[skip] = _crop(outputs[f"score_{skip}"], offsets[f"score_{skip}c"], size)
    final = _linear_layer(model, FINAL_UPSAMPLING[variant])
    return {name: _crop(np.asarray(final(term)), offsets["score"], images.shape[1:3]).astype(np.float32)
            for name, term in terms.items()}


def fuse_terms(terms: dict, *, switches: dict | None = None) -> np.ndarray:
    """The sum of ``skip_contributions`` terms, with the skips named in ``switches`` on (True) or off (False).

    ``switches`` maps "pool4" / "pool3" to a bool; a skip not named is on. The coarse term
    (``score_fr``) is always on. Returns (N, H, W, num_classes) scores.
    """
    switches = dict(switches or {})
    unknown = set(switches) - set(SKIPS)
    if unknown:
        raise ValueError(f"switches names skips {', '.join(SKIPS)}; received {', '.join(sorted(unknown))}.")
    if "score_fr" not in terms:
        raise ValueError("terms must hold 'score_fr' (what skip_contributions returns).")
    total = np.array(terms["score_fr"], dtype=np.float32, copy=True)
    for skip in SKIPS:
        if skip in terms and switches.get(skip, True):
            total += terms[skip]
    return total


# --- fusion by summation, maximum or concatenation --------------------------------------------

def _identity_then_zeros(num_classes: int):
    """Kernel initializer of the 1×1 convolution after a concatenation [coarse scores, skip features]:
    identity on the coarse scores, zero on the features, so the net starts as the coarser one."""
    import keras

    class IdentityThenZeros(keras.initializers.Initializer):
        def __call__(self, shape, dtype=None):
            kernel = np.zeros(shape, np.float32)
            kernel[0, 0, :num_classes, :num_classes] = np.eye(num_classes, dtype=np.float32)
            return keras.ops.convert_to_tensor(kernel, dtype=dtype or "float32")

    return IdentityThenZeros()


def fcn_with_fusion(num_classes: int, fusion: str, variant: str = "16s", *, backbone: str = "mini_vgg",
                    concat_init: str = "identity", input_shape=(None, None, 3), name: str | None = None):
    """``models.fcn`` with another way of joining each skip to the upsampled coarser scores.

    - ``"sum"``: the paper's ``upscore + score_pool`` (this is ``models.fcn`` itself);
    - ``"max"``: ``maximum(upscore, score_pool)``, element-wise. Its gradient reaches only
      the larger input at each position and class, and with zero-initialised skip scores it
      does not even start as the coarser net: ``max(upscore, 0)`` clips every negative score;
    - ``"concat"``: a U-Net-style decoder step: the upsampled scores concatenated with the
      skip's *features* (pool4 or pool3, cropped the same way), then a 1×1 convolution to
      ``num_classes`` scores (named ``fuse_<skip>``). With ``concat_init="identity"`` it
      starts as the coarser net (identity on the scores, zero on the features): summation
      is the special case whose weights on the scores stay the identity. ``"random"``
      initialises it like any new Keras layer (Glorot uniform), as a U-Net decoder would.

    Layer names are the reference's where a layer plays the same role, so
    :func:`transfer_weights` from a coarser net works for every fusion.

    Returns:
        keras.Model from images to (N, H, W, num_classes) logits.
    """
    import keras

    from fcn_lessons import models

    _validate.choice(fusion, "fusion", FUSIONS)
    _validate.choice(variant, "variant", ("16s", "8s"))
    _validate.choice(concat_init, "concat_init", ("identity", "random"))
    base = models.fcn(num_classes, variant, backbone=backbone, input_shape=input_shape)
    if fusion == "sum":
        return base
    x = base.get_layer("score_fr").output
    for skip in VARIANT_SKIPS[variant]:
        up = base.get_layer(SKIP_UPSAMPLING[skip])(x)
        crop = base.get_layer(f"score_{skip}c")
        if fusion == "max":
            skip_scores = crop([base.get_layer(f"score_{skip}").output, up])
            x = keras.layers.Maximum(name=f"fuse_{skip}")([up, skip_scores])
        else:
            features = models.Crop(crop.offset, name=f"{skip}c")([base.get_layer(skip).output, up])
            joined = keras.layers.Concatenate(name=f"concat_{skip}")([up, features])
            init = _identity_then_zeros(num_classes) if concat_init == "identity" else "glorot_uniform"
            x = keras.layers.Conv2D(num_classes, 1, kernel_initializer=init, name=f"fuse_{skip}")(joined)
    final = base.get_layer(FINAL_UPSAMPLING[variant])(x)
    output = base.get_layer("score")([final, base.inputs[0]])
    label = fusion if fusion == "max" else f"concat_{concat_init}"
    return keras.Model(base.inputs, output, name=name or f"fcn{variant}_{label}_{backbone}")


# --- the careless recipe --------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Recipe:
    """How an FCN-8s is initialised and trained; the careless recipe turns the switches the wrong way.

    Attributes:
        pretrained: the trunk, fc6 and fc7 transplanted from the pretrained classifier (else random).
        staged: train 32s, then 16s, then 8s, each from the previous (else 8s at once).
        bilinear_upsampling: transposed convolutions start bilinear and stay frozen (else
            Glorot-random and trained, as a freshly built Conv2DTranspose is).
        zero_skips: new skip score layers start at zero (else Glorot-random, Keras' default).
        scaled_skips: pool4 and pool3 scaled by 0.01 and 0.0001 before scoring (the
            reference's at-once net; only when not staged).
        learning_rate: Adam's peak learning rate; None: the budget's.
    """

    pretrained: bool = True
    staged: bool = True
    bilinear_upsampling: bool = True
    zero_skips: bool = True
    scaled_skips: bool = False
    learning_rate: float | None = None

    def changed(self, **changes) -> "Recipe":
        return dataclasses.replace(self, **changes)


PAPER = Recipe()  # the reference's staged recipe
AT_ONCE = Recipe(staged=False, scaled_skips=True)  # the reference's voc-fcn8s-atonce
# The careless recipe turns every switch the wrong way, as the keras-io example and the
# reimplementations' issues do in some combination: no transplant from the classifier, FCN-8s
# at once without scaling, random transposed convolutions that train, random skip scores, and
# the learning rate that suited FCN-32s. CARELESS_RATE: on the ABLATION budget FCN-32s
# trained as well at 1e-2 as at 3e-3, and failed at 3e-2 (docs/RESULTS.md, lesson 05).
CARELESS_RATE = 1e-2
CARELESS = Recipe(pretrained=False, staged=False, bilinear_upsampling=False, zero_skips=False,
                  learning_rate=CARELESS_RATE)
FIXES = {  # one change to CARELESS each, for the ablation
    "transplant the classifier": {"pretrained": True},
    "train staged": {"staged": True},
    "bilinear, frozen upsampling": {"bilinear_upsampling": True},
    "zero-initialised skip scores": {"zero_skips": True},
    "the pyramid's own learning rate": {"learning_rate": None},  # None: the budget's, 3e-3
}


def careless_fcn(num_classes: int, recipe: "Recipe", *, variant: str = "8s", backbone: str = "mini_vgg",
                 seed: int = 0, input_shape=(None, None, 3)):
    """``models.fcn`` initialised as ``recipe`` says: bilinear or random upsampling, zero or random skips.

    Random layers are drawn with Keras' default Glorot-uniform initializer from ``seed``.
    """
    import keras

    from fcn_lessons import models

    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a pyramid.Recipe, received {type(recipe).__name__}.")
    model = models.fcn(num_classes, variant, backbone=backbone,
                       at_once=recipe.scaled_skips and not recipe.staged and variant == "8s", input_shape=input_shape)
    rng_seed = _validate.integer(seed, "seed", minimum=0)
    glorot = keras.initializers.GlorotUniform(seed=rng_seed)
    for layer in model.layers:
        if not recipe.bilinear_upsampling and isinstance(layer, keras.layers.Conv2DTranspose):
            layer.trainable = True
            layer.set_weights([np.asarray(glorot(w.shape)) for w in layer.get_weights()])
        if not recipe.zero_skips and layer.name in {f"score_{skip}" for skip in SKIPS}:
            kernel, bias = layer.get_weights()
            layer.set_weights([np.asarray(glorot(kernel.shape)), bias])
    return model


# --- the experiments ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Budget:
    """The data and the training of one comparison: the same for every variant and stage.

    Attributes:
        num_train, num_test: course images (``data.make_shapes``) to train on and to score.
        image_size: their side in pixels (a multiple of 32 for the mini_vgg backbone).
        epochs: {"32s": e32, "16s": e16, "8s": e8}: epochs of each stage; a staged 8s has
            trained e32 + e16 + e8 epochs in all, the at-once 8s trains that many at once.
        learning_rate: Adam's peak learning rate of every stage, unless ``learning_rates``
            ({variant: rate}) gives a stage its own (the paper lowered it at each stage).
        cosine: decay the learning rate to zero over each stage (``keras.optimizers.schedules.
            CosineDecay``); each stage restarts from the peak. Default False (a constant
            rate, what lesson 07's ``evaluate.trained_fcns`` trains with); this lesson's
            budgets set it.
        batch_size: images per step.
        num_crops, classifier_epochs: the classifier pretraining (``pretrain_classifier``) that
            stands in for ImageNet: crops of ``models.MINI_VGG_CROP`` pixels; 0 crops: none.
    """

    num_train: int
    num_test: int
    image_size: int
    epochs: dict
    learning_rate: float = 3e-3
    learning_rates: dict | None = None
    cosine: bool = False
    batch_size: int = 16
    num_crops: int = 0
    classifier_epochs: int = 0
    train_seed: int = 1
    test_seed: int = 2

    @property
    def total_epochs(self) -> int:
        return sum(self.epochs.values())

    def rate(self, variant: str) -> float:
        """The peak learning rate of ``variant``'s stage."""
        return float((self.learning_rates or {}).get(variant, self.learning_rate))


# The learner's budget: the same 4 epochs for every stage, 12 in all for a staged FCN-8s, about
# 4 minutes of training on 2 quiet CPU cores (issue 10 allows 5; docs/RESULTS.md, lesson 05).
LEARNER_EPOCHS_PER_STAGE = 4
LEARNER = Budget(num_train=2000, num_test=200, image_size=128,
                 epochs={variant: LEARNER_EPOCHS_PER_STAGE for variant in ("32s", "16s", "8s")},
                 cosine=True, num_crops=20000, classifier_epochs=3)
# Quick mode (the tests): 64-pixel scenes, a quarter of the cost per image, so that a minute of
# training still separates the strides (a stride-32 map of a 64-pixel scene is 2×2).
QUICK = Budget(num_train=400, num_test=60, image_size=64, epochs={"32s": 3, "16s": 2, "8s": 3},
               cosine=True, num_crops=3000, classifier_epochs=2)
# Sections 6-8 of the lesson compare many recipes: a smaller budget, the same test scenes.
ABLATION = Budget(num_train=1000, num_test=200, image_size=128, epochs={"32s": 1, "16s": 1, "8s": 1}, cosine=True,
                  num_crops=LEARNER.num_crops, classifier_epochs=LEARNER.classifier_epochs)
QUICK_ABLATION = Budget(num_train=96, num_test=60, image_size=64, epochs={"32s": 1, "16s": 1, "8s": 1},
                        cosine=True, num_crops=QUICK.num_crops, classifier_epochs=QUICK.classifier_epochs)
CROP_BATCH = 32  # crops per step of the classifier pretraining


def pretrain_classifier(budget: Budget, *, seed: int = 0, log=print):
    """``models.mini_vgg_classifier`` trained on ``budget.num_crops`` course crops: the stand-in for ImageNet.

    Crops (``data.make_shape_crops``, seed ``budget.train_seed``) are labelled by the class of
    their centre pixel; Adam at its default rate, ``budget.classifier_epochs`` epochs.

    Returns:
        (classifier, {"seconds", "cpu_seconds", "accuracy"}): the last epoch's training accuracy.
    """
    import keras

    from fcn_lessons import data, models

    if budget.num_crops < 1 or budget.classifier_epochs < 1:
        raise ValueError("budget has no classifier pretraining (num_crops and classifier_epochs must be >= 1).")
    crops, labels = data.make_shape_crops(budget.num_crops, models.MINI_VGG_CROP, seed=budget.train_seed)
    keras.utils.set_random_seed(_validate.integer(seed, "seed", minimum=0))
    classifier = models.mini_vgg_classifier()
    classifier.compile(keras.optimizers.Adam(), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=["accuracy"])
    start, cpu = time.perf_counter(), time.process_time()
    history = classifier.fit(models.preprocess_input(crops), labels, epochs=budget.classifier_epochs,
                             batch_size=CROP_BATCH, verbose=0)
    cost = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "accuracy": float(history.history["accuracy"][-1])}
    if log:
        log(f"classifier: {budget.num_crops} crops, {budget.classifier_epochs} epochs in {cost['seconds']:.0f} s "
            f"(training accuracy {cost['accuracy']:.3f})")
    return classifier, cost


def course_data(budget: Budget):
    """``(train_images, train_masks, test_images, test_masks)`` of ``budget``: model inputs and labels."""
    from fcn_lessons import data, models

    train_images, train_masks = data.make_shapes(budget.num_train, budget.image_size, seed=budget.train_seed)
    test_images, test_masks = data.make_shapes(budget.num_test, budget.image_size, seed=budget.test_seed)
    return (models.preprocess_input(train_images), train_masks, models.preprocess_input(test_images), test_masks)


def train(model, images, masks, *, epochs: int, learning_rate: float, batch_size: int = 16, seed: int = 0,
          cosine: bool = True, num_classes: int | None = None) -> dict:
    """Compile ``model`` with the course loss and metrics and fit it, quietly; returns what it cost.

    Adam at ``learning_rate``, decayed to zero along a cosine over the ``epochs`` when
    ``cosine``. Keras is seeded with ``seed`` first, so the same call gives the same batches.

    Returns:
        dict: ``seconds`` (wall clock of fitting), ``cpu_seconds`` (this process's CPU time,
        every thread counted) and ``loss`` (per epoch).
    """
    import keras

    from fcn_lessons import training

    num_classes = num_classes or int(model.output_shape[-1])
    epochs = _validate.integer(epochs, "epochs", minimum=1)
    batch_size = _validate.integer(batch_size, "batch_size", minimum=1)
    steps = epochs * -(-len(images) // batch_size)
    rate = keras.optimizers.schedules.CosineDecay(float(learning_rate), steps) if cosine else float(learning_rate)
    keras.utils.set_random_seed(_validate.integer(seed, "seed", minimum=0))
    training.compile_model(model, num_classes, optimizer=keras.optimizers.Adam(rate))
    start, cpu = time.perf_counter(), time.process_time()
    history = training.fit(model, images, masks, epochs=epochs, batch_size=batch_size, verbose="silent")
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "loss": [float(v) for v in history.history["loss"]]}


def scores(model, images, masks, num_classes: int | None = None, *, widths=TRIMAP_WIDTHS) -> dict:
    """The comparison's figures for one model on a test set.

    Returns:
        dict: ``mean_iou``, ``pixel_accuracy``, ``per_class_iou`` (list), ``trimap_iou_<w>px``
        for each width (trimap mean IU within w px of a label border), ``weights``
        (trainable) and ``predictions`` ((N, H, W) class ids).
    """
    from fcn_lessons import metrics, training

    num_classes = num_classes or int(model.output_shape[-1])
    predicted = training.predict_labels(model, images)
    overall = metrics.segmentation_scores(metrics.confusion_matrix(masks, predicted, num_classes))
    result = {"mean_iou": float(overall["mean_iou"]), "pixel_accuracy": float(overall["pixel_accuracy"]),
              "per_class_iou": [float(v) for v in overall["per_class_iou"]], "weights": trainable_weights(model),
              "predictions": predicted}
    for width in widths:
        result[f"trimap_iou_{width}px"] = float(metrics.trimap_scores(masks, predicted, num_classes, width)["mean_iou"])
    return result


def staged(budget: Budget, train_data, *, classifier=None, num_classes: int | None = None, seed: int = 0,
           backbone: str = "mini_vgg", log=print) -> dict:
    """The paper's schedule: FCN-32s (from ``classifier``), then FCN-16s from it, then FCN-8s from that.

    Each stage is built fresh with ``models.fcn``, initialised with :func:`transfer_weights`
    (its new skip scores at zero) and trained for ``budget.epochs[variant]`` epochs.

    Args:
        train_data: (images, masks) to train on.
        classifier: the pretrained classifier FCN-32s starts from (``pretrain_classifier``),
            or None for a random trunk.
        log: called with one line per stage (None: silent).

    Returns:
        ``{variant: {"model", "seconds", "cpu_seconds", "train_s", "loss", "transfer"}}``;
        ``train_s`` counts the stages a variant started from (a staged 8s: all three).
    """
    import keras

    from fcn_lessons import data, models

    num_classes = num_classes or data.NUM_CLASSES
    images, masks = train_data
    result, previous, elapsed = {}, None, 0.0
    for variant in models.VARIANTS:
        keras.utils.set_random_seed(seed)  # the same initial weights for every run of this schedule
        model = models.fcn(num_classes, variant, backbone=backbone,
                           weights=classifier if previous is None else None)
        report = transfer_weights(previous, model) if previous is not None else None
        cost = train(model, images, masks, epochs=budget.epochs[variant], learning_rate=budget.rate(variant),
                     batch_size=budget.batch_size, seed=seed, cosine=budget.cosine, num_classes=num_classes)
        elapsed += cost["seconds"]
        result[variant] = {"model": model, "train_s": elapsed, "transfer": report, **cost}
        if log:
            log(f"FCN-{variant}: {budget.epochs[variant]} epochs in {cost['seconds']:.0f} s "
                f"(loss {cost['loss'][0]:.3f} -> {cost['loss'][-1]:.3f})")
        previous = model
    return result


def at_once(budget: Budget, train_data, *, classifier=None, num_classes: int | None = None, seed: int = 0,
            backbone: str = "mini_vgg", scaled: bool = True, epochs: int | None = None) -> dict:
    """FCN-8s trained in one go (the reference's voc-fcn8s-atonce), for as many epochs as the staged schedule.

    Args:
        classifier: the pretrained classifier it starts from, or None.
        scaled: pool4 and pool3 scaled by 0.01 and 0.0001 before scoring, as the reference
            does; False trains the plain FCN-8s at once.
        epochs: default ``budget.total_epochs`` (the reference's at-once solver runs 300,000
            iterations, as many as its three staged solvers' 100,000 each).

    Returns:
        {"model", "seconds", "cpu_seconds", "train_s", "loss"}.
    """
    import keras

    from fcn_lessons import data, models

    num_classes = num_classes or data.NUM_CLASSES
    keras.utils.set_random_seed(seed)
    model = models.fcn(num_classes, "8s", backbone=backbone, at_once=bool(scaled), weights=classifier)
    cost = train(model, *train_data, epochs=epochs or budget.total_epochs, learning_rate=budget.rate("32s"),
                 batch_size=budget.batch_size, seed=seed, cosine=budget.cosine, num_classes=num_classes)
    return {"model": model, "train_s": cost["seconds"], **cost}


def comparison_table(rows: dict, *, widths=TRIMAP_WIDTHS, class_names=None) -> str:
    """A Markdown table of :func:`scores` results (plus ``train_s``), one row per name."""
    widths = tuple(widths)
    header = ["model", "mean IU"] + [f"trimap IU {w} px" for w in widths]
    if class_names:
        header += [f"IU {name}" for name in class_names]
    header += ["trainable weights", "training s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in rows.items():
        cells = [name, f"{row['mean_iou']:.3f}"] + [f"{row[f'trimap_iou_{w}px']:.3f}" for w in widths]
        if class_names:
            cells += [f"{v:.3f}" for v in row["per_class_iou"]]
        cells += [f"{row['weights']:,}", f"{row['train_s']:.0f}" if "train_s" in row else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- figures ---------------------------------------------------------------------------------

def plot_predictions(images, masks, predictions: dict, *, scenes=(0, 1, 2, 3), fig=None):
    """A grid: one row per scene with the image, its labels and each model's prediction.

    Args:
        images: (N, H, W, 3) uint8 or float in [0, 1]; masks: (N, H, W) labels.
        predictions: {name: (N, H, W) class ids}, one column each, in order.
        scenes: the indices of the scenes to show.

    Returns:
        the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from fcn_lessons import viz

    scenes = [_validate.integer(i, "scenes[...]", minimum=0, maximum=len(images) - 1) for i in scenes]
    columns = ["image", "labels", *predictions]
    fig = fig or plt.figure(figsize=(1.9 * len(columns), 1.9 * len(scenes) + 0.3))
    axes = np.asarray(fig.subplots(len(scenes), len(columns), squeeze=False))
    for row, scene in enumerate(scenes):
        pictures = [images[scene], viz.colorize(masks[scene])] + [viz.colorize(p[scene]) for p in predictions.values()]
        for ax, picture in zip(axes[row], pictures):
            ax.imshow(picture, interpolation="nearest")
            ax.set_axis_off()
    for ax, title in zip(axes[0], columns):
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_trimap_curves(rows: dict, widths, *, reference: dict | None = None, ax=None):
    """Trimap mean IU against the band width, one line per model (``rows[name]["trimap_iou_<w>px"]``).

    ``reference`` (same form) is drawn dashed: e.g. the stride oracles of the same variants.
    Returns the Axes.
    """
    import matplotlib.pyplot as plt

    widths = list(widths)
    ax = ax or plt.subplots(figsize=(6.5, 3.4))[1]
    for index, (name, row) in enumerate(rows.items()):
        colour = f"C{index}"
        ax.plot(widths, [row[f"trimap_iou_{w}px"] for w in widths], "o-", color=colour, label=name)
        if reference and name in reference:
            ax.plot(widths, [reference[name][f"trimap_iou_{w}px"] for w in widths], "--", color=colour,
                    label=f"{name}: stride oracle")
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.set(xlabel="band around label borders (px)", ylabel="trimap mean IU", ylim=(0, 1))
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_terms(terms: dict, image, mask, *, class_id: int, scene: int = 0, fig=None):
    """The image, its labels, then each term of :func:`skip_contributions` for one class, on one colour scale.

    Terms are scores (logits) of class ``class_id``: red pushes towards the class, blue away.
    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from fcn_lessons import viz

    maps = {name: term[scene, ..., class_id] for name, term in terms.items()}
    limit = max(float(np.abs(m).max()) for m in maps.values()) or 1.0
    fig = fig or plt.figure(figsize=(2.2 * (len(maps) + 2), 2.6))
    axes = fig.subplots(1, len(maps) + 2)
    axes[0].imshow(image)
    axes[1].imshow(viz.colorize(mask))
    axes[0].set_title("image", fontsize=9)
    axes[1].set_title("labels", fontsize=9)
    for ax, (name, values) in zip(axes[2:], maps.items()):
        shown = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"{name} term (max |{np.abs(values).max():.2f}|)", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    fig.colorbar(shown, ax=list(axes), shrink=0.8, label="score")
    return fig


def staged_scores(budget: Budget, *, seed: int = 0, log=print) -> dict:
    """Everything at once: the course data of ``budget``, the classifier, the staged 32s -> 16s -> 8s, scored.

    Returns:
        {variant: :func:`scores` of that model on the budget's test scenes, plus ``train_s``
        and ``cpu_s`` (its stages, counted as in :func:`staged`) and ``pretrain_s``}.
    """
    train_x, train_masks, test_x, test_masks = course_data(budget)
    classifier, pretraining = pretrain_classifier(budget, seed=seed, log=log) if budget.num_crops else (None, None)
    runs = staged(budget, (train_x, train_masks), classifier=classifier, seed=seed, log=log)
    results, cpu = {}, 0.0
    for variant, run in runs.items():
        cpu += run["cpu_seconds"]
        results[variant] = {**scores(run["model"], test_x, test_masks), "train_s": run["train_s"], "cpu_s": cpu,
                            "pretrain_s": pretraining["seconds"] if pretraining else 0.0}
    return results


def train_recipe(recipe: Recipe, budget: Budget, train_data, *, classifier=None, num_classes: int | None = None,
                 seed: int = 0) -> dict:
    """FCN-8s trained as ``recipe`` says, for ``budget.total_epochs`` epochs in all.

    Staged: 32s, 16s and 8s for ``budget.epochs`` each, every stage built by
    :func:`careless_fcn` and started with :func:`transfer_weights` (new skip scores zeroed
    only when ``recipe.zero_skips``). At once: one 8s for all the epochs.

    Returns:
        {"model": the FCN-8s, "train_s": seconds of every stage, "cpu_s", "loss": per epoch}.
    """
    import keras

    from fcn_lessons import data, models

    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a pyramid.Recipe, received {type(recipe).__name__}.")
    if recipe.pretrained and classifier is None:
        raise ValueError("recipe.pretrained needs the pretrained classifier (pretrain_classifier); pass classifier=.")
    num_classes = num_classes or data.NUM_CLASSES
    rate = recipe.learning_rate or budget.rate("32s")
    stages = models.VARIANTS if recipe.staged else ("8s",)
    previous, seconds, cpu, losses = None, 0.0, 0.0, []
    for variant in stages:
        keras.utils.set_random_seed(seed)
        model = careless_fcn(num_classes, recipe, variant=variant, seed=seed)
        if previous is None and recipe.pretrained:
            models.transplant(classifier, model)
        elif previous is not None:
            transfer_weights(previous, model, zero_new=NEW_SCORE_PREFIX if recipe.zero_skips else None)
        epochs = budget.epochs[variant] if recipe.staged else budget.total_epochs
        cost = train(model, *train_data, epochs=epochs, learning_rate=rate, batch_size=budget.batch_size, seed=seed,
                     cosine=budget.cosine, num_classes=num_classes)
        seconds, cpu, losses = seconds + cost["seconds"], cpu + cost["cpu_seconds"], losses + cost["loss"]
        previous = model
    return {"model": previous, "train_s": seconds, "cpu_s": cpu, "loss": losses}


OUTPUT_STRIDES = {"32s": 32, "16s": 16, "8s": 8}


def stride_oracle_scores(masks, *, num_classes: int | None = None, widths=TRIMAP_WIDTHS) -> dict:
    """What each variant's output stride allows: lesson 02's oracle, scored like :func:`scores`.

    ``labels.coarse_oracle`` gives every s×s cell its true class proportions and upsamples
    them bilinearly: a perfect classifier of cells at that stride.

    Returns:
        {variant: {"mean_iou", "trimap_iou_<w>px" for each width}} for 32s, 16s and 8s.
    """
    from fcn_lessons import data, labels, metrics

    num_classes = num_classes or data.NUM_CLASSES
    masks = _validate.label_map(masks, "masks", ndim=3, ignore_label=VOID_LABEL)
    result = {}
    for variant, stride in OUTPUT_STRIDES.items():
        predicted = labels.coarse_oracle(masks, stride, num_classes)
        confusion = metrics.confusion_matrix(masks, predicted, num_classes)
        row = {"mean_iou": float(metrics.segmentation_scores(confusion)["mean_iou"])}
        for width in widths:
            trimap = metrics.trimap_scores(masks, predicted, num_classes, width)
            row[f"trimap_iou_{width}px"] = float(trimap["mean_iou"])
        result[variant] = row
    return result
