# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,fcn_lessons,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/notebooks/04_fcn32s.ipynb)
#
# # Lesson 04: FCN-32s, the first fully convolutional network
#
# Lessons 01-03 built the parts: a classifier that runs on any image size, receptive
# fields and their offsets, and upsampling by a transposed convolution. Here we assemble
# them the way *Fully Convolutional Networks for Semantic Segmentation* (Long, Shelhamer
# and Darrell, CVPR 2015) does, in miniature: a classifier is trained on crops (our
# ImageNet), convolutionalized, given a zero-initialised score layer and a bilinear ×32
# upsampling, cropped into alignment, and fine-tuned for segmentation end to end.
#
# **You will leave knowing**
# - the paper's recipe, step by step, and how `fcn_lessons.models.fcn` builds it;
# - the loss: per-pixel softmax cross-entropy with the void label ignored, and what the
#   blog post's sigmoid + mean squared error, or counting void as background, cost;
# - the paper's Table 2 in miniature: only the score layer trained, everything
#   fine-tuned, everything from scratch;
# - why FCN-32s's output is blobby, measured against lesson 02's stride-32 oracle;
# - the real network: FCN-VGG16's 134M weights, its crop of 19, its speed on a CPU.
#
# **Prerequisites:** lessons 01 (convolutionalizing), 02 (receptive-field offsets) and 03
# (bilinear transposed convolutions); training a Keras model.
#
# **Run time:** about 6 minutes on two CPU cores (334 s measured, 390 s of CPU time; the
# kernel's memory peaks at 3.7 GB: `docs/RESULTS.md`; not timed on a GPU). Most of it is
# six short trainings.
# The exercises are in `exercises/04_fcn32s.ipynb`.

# %% tags=["nbval-ignore-output"]
# Set-up: in Colab, install the course package (TensorFlow, Keras, OpenCV and
# ipywidgets are preinstalled there). With `make lab` it is installed already.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "git+https://github.com/fcn-course/fcn-lessons"], check=True)

import fcn_lessons

ENV = fcn_lessons.setup(seed=0)

import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from fcn_lessons import blog_post, data, labels, losses, metrics, models, training, viz

np.set_printoptions(precision=3, suppress=True)
NUM_CLASSES = data.NUM_CLASSES  # background and four shapes

# %% [markdown]
# ## 1. The recipe, and what the blog post gets wrong
#
# The paper's section 4.1 and the authors' reference code (`voc-fcn32s/net.py` in
# shelhamer/fcn.berkeleyvision.org) make FCN-32s from VGG16 in five steps:
#
# 1. take a classifier trained on ImageNet (VGG16);
# 2. **convolutionalize** it: fc6 becomes a 7×7 convolution, fc7 a 1×1 one (lesson 01),
#    and the last classifier layer is discarded;
# 3. add `score_fr`, a 1×1 convolution to 21 class scores, **zero-initialised**;
# 4. upsample the scores ×32 with a transposed convolution initialised to **bilinear**
#    interpolation, per class, and kept fixed; **crop** the result to the image (offset
#    19, derived from receptive fields in lesson 02);
# 5. **fine-tune every layer** with a per-pixel softmax loss that ignores void pixels.

# %% [markdown]
# The blog post this course grew from says instead that FCN updates only two weight
# matrices in training (the convolution's and the upsampling's), that it outputs only a
# background probability, with SVM- or RANSAC-based classifiers as alternatives to the
# 1×1 score layer, and it trains with a sigmoid per class, mean squared error and
# accuracy. Sections 6-8 measure what each of these costs.

# %% [markdown]
# ## 2. The data: larger images, because the stride is 32
#
# FCN-32s scores one position per 32×32 block. On lesson 02's 64×64 images that is a 2×2
# score map; we use 128×128 images (4×4). Lesson 02's stride oracle (the true class
# shares of every 32×32 cell, upsampled bilinearly) says how much a stride of 32 allows on
# these images: the reference every FCN-32s below is measured against (section 10 says
# in what sense it bounds them).

# %% tags=["nbval-ignore-output"]
IMAGE_SIZE = 128  # 4×4 score positions at stride 32
STRIDE = models.OUTPUT_STRIDE
NUM_TRAIN = fcn_lessons.by_mode(full=600, quick=64)
NUM_VAL = fcn_lessons.by_mode(full=150, quick=32)
train_images, train_masks = data.make_shapes(NUM_TRAIN, IMAGE_SIZE, seed=1)
val_images, val_masks = data.make_shapes(NUM_VAL, IMAGE_SIZE, seed=2)
x_train, x_val = models.preprocess_input(train_images), models.preprocess_input(val_images)
oracle = labels.coarse_oracle(val_masks, STRIDE, NUM_CLASSES)
oracle_scores = metrics.segmentation_scores(metrics.confusion_matrix(val_masks, oracle, NUM_CLASSES))
print(f"{NUM_TRAIN} training and {NUM_VAL} validation images of {IMAGE_SIZE}×{IMAGE_SIZE}")
print(f"stride-{STRIDE} oracle: mean IU {oracle_scores['mean_iou']:.3f}, "
      f"pixel accuracy {oracle_scores['pixel_accuracy']:.3f}")

# %% [markdown]
# ## 3. Step 1: a classifier, our ImageNet
#
# VGG16 learned its features classifying 224×224 crops of ImageNet. Our stand-in,
# `models.mini_vgg_classifier`, has the same shape (five blocks of 3×3 convolutions and
# 2×2 poolings, then fc6, fc7 and a class layer) at a laptop's scale, and learns on
# 32×32 crops of the course data labelled by their centre pixel (`data.make_shape_crops`,
# as in lesson 01). Five poolings leave a 1×1 map from a 32×32 crop, so fc6 reads 1×1
# (VGG16's reads 7×7 from 224×224). Why these widths: docs/RESULTS.md, lesson 04.

# %% tags=["nbval-ignore-output"]
NUM_CROPS = fcn_lessons.by_mode(full=8000, quick=1500)
CLASSIFIER_EPOCHS = fcn_lessons.by_mode(full=6, quick=2)
CROP_BATCH = 32  # crops per step of the classifier
BATCH_SIZE = 8  # images per step of every FCN training below (8 beat 16: docs/RESULTS.md)
crops, crop_labels = data.make_shape_crops(NUM_CROPS, models.MINI_VGG_CROP, seed=1)
test_crops, test_crop_labels = data.make_shape_crops(1000, models.MINI_VGG_CROP, seed=2)
keras.utils.set_random_seed(0)
classifier = models.mini_vgg_classifier()
classifier.compile(keras.optimizers.Adam(), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
start = time.perf_counter()
classifier.fit(models.preprocess_input(crops), crop_labels, epochs=CLASSIFIER_EPOCHS, batch_size=CROP_BATCH,
               verbose=0)
_, crop_accuracy = classifier.evaluate(models.preprocess_input(test_crops), test_crop_labels, verbose=0)
print(f"{classifier.count_params():,} weights, {time.perf_counter() - start:.0f} s: "
      f"test accuracy {crop_accuracy:.3f} on 1000 new crops (always 'background': 0.40)")

# %%
assert crop_accuracy > fcn_lessons.by_mode(full=0.85, quick=0.42), crop_accuracy  # quick: 1500 crops, 2 epochs

# %% [markdown]
# ## 4. Steps 2-4: convolutionalize, score, upsample, crop
#
# `models.fcn(5, "32s", weights=classifier)` builds FCN-32s and transplants the
# classifier's weights by layer name, as the reference's `surgery.transplant` does: the
# trunk is copied, fc6 and fc7 are reshaped from Dense kernels into convolution kernels
# (`conv1x1.flatten_dense_kernel_to_conv`, lesson 01), and `predictions` is dropped. The
# head is new: `score_fr` (zeros), `upscore` (bilinear ×32, frozen) and `score` (the crop).

# %%
fcn32s = models.fcn(NUM_CLASSES, "32s", weights=classifier, name="fcn32s")
report = models.transplant(classifier, fcn32s)
print("reshaped Dense -> convolution:", report["reshaped"], "  dropped:", report["dropped"])
print("new layers (initialised, not copied):", report["kept"])
print("head:", [(layer.name, type(layer).__name__) for layer in fcn32s.layers[-3:]])
print("crop offsets:", models.crop_offsets(fcn32s))
trainable = sum(int(np.prod(w.shape)) for w in fcn32s.trainable_weights)
print(f"{fcn32s.count_params():,} weights, {trainable:,} trainable (upscore's "
      f"{np.prod(fcn32s.get_layer('upscore').kernel.shape):,} are fixed)")

# %% [markdown]
# Why is the crop 0 here and 19 in the reference? `models.fcn` derives every offset from
# receptive fields (`models.crop_offset`, the rule of lesson 02): the image's pixel 0 lies
# `−offset / stride` units into the upsampled map. The mini trunk pads 'same' everywhere
# and its transposed convolution pads 'same' too, which trims `(64 − 32) / 2 = 16` pixels
# per side: exactly the offset. The reference pads the image by 100 and keeps the full
# 'valid' output, so it crops 19. `models.fcn32s_head` builds the reference's 'valid'
# head on any trunk, with its crop derived: on our trunk it gives 16, and the same output.

# %%
trunk = keras.Model(fcn32s.input, fcn32s.get_layer("drop7").output, name="mini_vgg_trunk")
valid_head = models.fcn32s_head(trunk, NUM_CLASSES)
print("'valid' head on the same trunk, crop:", models.crop_offsets(valid_head)["score"])
probe = np.random.default_rng(0).normal(size=fcn32s.get_layer("score_fr").kernel.shape).astype(np.float32)
for model in (fcn32s, valid_head):  # give both the same non-zero scores to compare
    model.get_layer("score_fr").set_weights([probe, np.zeros(NUM_CLASSES, np.float32)])
same = np.abs(fcn32s.predict_on_batch(x_val[:4]) - valid_head.predict_on_batch(x_val[:4])).max()
print(f"largest difference between the two heads: {same:.1e}")
for model in (fcn32s, valid_head):
    model.get_layer("score_fr").set_weights([np.zeros_like(probe), np.zeros(NUM_CLASSES, np.float32)])
assert same < 1e-4

# %% [markdown]
# ## 5. The loss: per-pixel softmax cross-entropy, void ignored
#
# The paper trains "with a per-pixel multinomial logistic loss" and ignores the pixels
# masked out in the ground truth; the reference is Caffe's `SoftmaxWithLoss` with
# `ignore_label: 255`. `losses.pixel_cross_entropy` is the numpy reference (you write it
# in Exercise 4.1); `losses.PixelCrossEntropy` is the Keras loss: the same value. Both
# average over the labelled pixels of the whole batch. (The reference sums instead,
# `normalize: false`, which is why its learning rate is 1e-10; with a mean, Adam's
# default rate works.)

# %%
rng = np.random.default_rng(0)
some_logits = rng.normal(size=(2, 16, 16, NUM_CLASSES)).astype(np.float32) * 3
some_masks = train_masks[:2, :16, :16]
print("numpy reference:", round(losses.pixel_cross_entropy(some_masks, some_logits), 5))
print("Keras loss:     ", round(float(losses.PixelCrossEntropy()(some_masks, some_logits)), 5))
all_void = np.full_like(some_masks, data.VOID_LABEL)
print("a batch with no labelled pixel:", float(losses.PixelCrossEntropy()(all_void, some_logits)))

# %% [markdown]
# ## 6. Fine-tuning, and the paper's Table 2 in miniature
#
# `training.compile_model` uses this loss with Adam and the paper's metrics (mean IU and
# pixel accuracy, void ignored); `training.fit` prints one line per epoch. We fine-tune
# FCN-32s for a first budget of epochs, then train two rivals for the same budget:
# **FCN-32s-fixed** (the pretrained trunk frozen, only `score_fr` learns, as in the
# paper's Table 2) and the same network **from scratch** (no pretraining).

# %% tags=["nbval-ignore-output"]
BUDGET = fcn_lessons.by_mode(full=4, quick=1)  # epochs of every comparison below
keras.utils.set_random_seed(0)
training.compile_model(fcn32s, NUM_CLASSES)
start = time.perf_counter()
history = training.fit(fcn32s, x_train, train_masks, epochs=BUDGET, batch_size=BATCH_SIZE,
                       validation=(x_val, val_masks))
print(f"{time.perf_counter() - start:.0f} s")
table = {"FCN-32s (fine-tuned)": training.evaluate(fcn32s, x_val, val_masks, NUM_CLASSES)}


# %% tags=["nbval-ignore-output"]
def train_rival(weights, *, trainable=lambda layer: True, seed=0):
    """A fresh FCN-32s, trained for the same budget as the fine-tuned one; its four scores."""
    keras.utils.set_random_seed(seed)
    model = models.fcn(NUM_CLASSES, "32s", weights=weights)
    for layer in model.layers:
        layer.trainable = layer.trainable and trainable(layer)
    training.compile_model(model, NUM_CLASSES)
    training.fit(model, x_train, train_masks, epochs=BUDGET, batch_size=BATCH_SIZE, verbose="silent")
    return training.evaluate(model, x_val, val_masks, NUM_CLASSES)


table["FCN-32s-fixed (score_fr only)"] = train_rival(classifier, trainable=lambda layer: layer.name == "score_fr")
table["from scratch (no pretraining)"] = train_rival(None)
for name, scores in table.items():
    print(f"{name:32s}", "  ".join(f"{metrics.SCORE_LABELS[k]} {scores[k]:.3f}" for k in metrics.SCORE_NAMES))

# %%
fine, fixed, scratch = (table[k]["mean_iou"] for k in table)
MARGIN = fcn_lessons.by_mode(full=0.02, quick=0.0)  # quick mode: too few steps to leave "all background"
assert fine >= fixed + MARGIN and fine >= scratch + MARGIN, table

# %% [markdown]
# The paper's Table 2 (VOC 2011 val, mean IU): FCN-32s-fixed 45.4, FCN-32s 59.4;
# fine-tuning the classifier alone "yields only 70% of the full finetuning performance",
# and training from scratch was "not feasible". The miniature agrees, more starkly: in the
# same budget only the fine-tuned network gets far from the all-background answer (mean IU
# 0.164 here: background's IU, about 0.82, over five classes). The frozen trunk's
# features were learned to name the centre of a 32×32 crop; a 1×1 score layer on them
# cannot turn them into a label for every pixel of a scene, training through them can.
# From scratch, the budget goes into learning features at all. So the post's two trained
# weight matrices are wrong twice: every layer is trained, and the start from a trained
# classifier is what makes the short training work; one softmax over all classes, trained
# end to end, replaces any background-only output and later classifier.

# %% [markdown]
# ## 7. The post's loss: sigmoid + mean squared error
#
# The post ends its network with a sigmoid per class and trains with mean squared error
# and accuracy. To compare only the loss, we keep everything else: the same pretrained
# FCN-32s, the same budget, void ignored in both (`blog_post.mse_targets` gives one-hot
# targets and weight 0 at void). The prediction is the class with the largest sigmoid.

# %% tags=["nbval-ignore-output"]
keras.utils.set_random_seed(0)
base = models.fcn(NUM_CLASSES, "32s", weights=classifier)
sigmoid_model = keras.Model(base.input, keras.layers.Activation("sigmoid")(base.output), name="fcn32s_mse")
sigmoid_model.compile(keras.optimizers.Adam(), loss="mean_squared_error")
targets, target_weights = blog_post.mse_targets(train_masks, NUM_CLASSES)
sigmoid_model.fit(x_train, targets, sample_weight=target_weights, epochs=BUDGET, batch_size=BATCH_SIZE, verbose=0)
mse_scores = training.evaluate(sigmoid_model, x_val, val_masks, NUM_CLASSES)
for name, scores in (("softmax cross-entropy", table["FCN-32s (fine-tuned)"]), ("sigmoid + MSE", mse_scores)):
    print(f"{name:22s} mean IU {scores['mean_iou']:.3f}   pixel accuracy {scores['pixel_accuracy']:.3f}")

# %%
assert mse_scores["mean_iou"] <= table["FCN-32s (fine-tuned)"]["mean_iou"] - MARGIN, mse_scores

# %% [markdown]
# Why the gap. Softmax makes the classes compete: raising one score lowers every other
# probability, and the loss gradient at a pixel, `softmax − one_hot`, stays large while
# the true class is unlikely. A sigmoid scores each class on its own, and the squared
# error's gradient, `2 (σ − t) σ (1 − σ)`, vanishes as a sigmoid saturates, right or
# wrong; with four of five targets 0 at every pixel, "no object anywhere" is a cheap
# answer. Accuracy, the post's metric, would not show the gap: with about 82% of pixels
# background, predicting background everywhere already scores about 0.82.

# %% [markdown]
# ## 8. Void counted as background
#
# VOC marks object outlines void (255) because they are ambiguous. A common mistake is to
# turn 255 into 0 before training. We train the same network for the same budget on
# masks where void became background, and compare where it matters: what each model
# predicts on the true outlines (the void pixels, left out of every score), mean IU within
# 3 pixels of a label border (`metrics.trimap_scores`), and the predicted object area over
# the true one.

# %% tags=["nbval-ignore-output"]
BORDER_WIDTH = 3  # pixels from a label border: the "near the edge" band of the trimap
keras.utils.set_random_seed(0)
void_as_background = models.fcn(NUM_CLASSES, "32s", weights=classifier)
training.compile_model(void_as_background, NUM_CLASSES)
background_masks = np.where(train_masks == data.VOID_LABEL, 0, train_masks).astype(np.uint8)
training.fit(void_as_background, x_train, background_masks, epochs=BUDGET, batch_size=BATCH_SIZE, verbose="silent")
void, labelled = val_masks == data.VOID_LABEL, val_masks != data.VOID_LABEL
border_effects = {}
for name, model in (("void ignored", fcn32s), ("void as background", void_as_background)):
    predicted = training.predict_labels(model, x_val)
    border_effects[name] = {
        "outline pixels predicted background": (predicted[void] == 0).mean(),
        f"mean IU within {BORDER_WIDTH} px of a border": metrics.trimap_scores(
            val_masks, predicted, NUM_CLASSES, BORDER_WIDTH)["mean_iou"],
        "predicted / true object area": (predicted[labelled] > 0).mean() / (val_masks[labelled] > 0).mean()}
    print(f"{name:19s}", "   ".join(f"{k} {v:.3f}" for k, v in border_effects[name].items()))

# %%
assert (border_effects["void as background"]["outline pixels predicted background"]
        >= border_effects["void ignored"]["outline pixels predicted background"] + MARGIN), border_effects

# %% [markdown]
# Trained to call every outline background, the second network does: about three in four
# outline pixels, against a little over half for the first. It does not stop at the
# outline: every object is surrounded by a 1-2 pixel band of "background" in its
# training masks, so background also wins more often inside objects near their borders,
# objects come out smaller (two thirds of their true area here, against 0.96) and mean
# IU near borders drops. How large this is depends on how far training got (in a build
# whose classifier trained 8 epochs, the border scores were 0.234 and 0.224); the
# direction, more outline called background, is what the labels teach. Ignored, an
# outline costs nothing either way, and the network puts the border where the image says.

# %% [markdown]
# ## 9. FCN-32s, learner-sized
#
# Back to the fine-tuned FCN-32s: we continue its training (the optimizer keeps its
# state) and score it with the paper's four metrics, next to the stride-32 oracle.

# %% tags=["nbval-ignore-output"]
MORE_EPOCHS = fcn_lessons.by_mode(full=3, quick=1)
more = training.fit(fcn32s, x_train, train_masks, epochs=MORE_EPOCHS, batch_size=BATCH_SIZE,
                    validation=(x_val, val_masks))
final = training.evaluate(fcn32s, x_val, val_masks, NUM_CLASSES)
for name, scores in (("FCN-32s", final), (f"stride-{STRIDE} oracle", oracle_scores)):
    print(f"{name:18s}", "  ".join(f"{metrics.SCORE_LABELS[k]} {scores[k]:.3f}" for k in metrics.SCORE_NAMES))
both = {key: history.history[key] + more.history[key] for key in history.history}
training.plot_history(both, title=f"FCN-32s, {BUDGET + MORE_EPOCHS} epochs")
plt.show()

# %%
assert final["mean_iou"] > fcn_lessons.by_mode(full=0.35, quick=0.15), final
assert final["mean_iou"] < oracle_scores["mean_iou"], (final, oracle_scores)

# %% [markdown]
# The two scenes of lesson 00, labelled by FCN-32s:

# %% tags=["nbval-ignore-output"]
LESSON00_SCENES = (32, 3)  # make_shapes seeds of lesson 00's two scenes (4 objects, 128×128)
scenes = [data.make_shapes(1, IMAGE_SIZE, seed=seed, num_objects=(4, 4)) for seed in LESSON00_SCENES]
scene_images = np.concatenate([s[0] for s in scenes])
scene_masks = np.concatenate([s[1] for s in scenes])
scene_predictions = training.predict_labels(fcn32s, models.preprocess_input(scene_images))
viz.show_samples(scene_images, scene_masks, scene_predictions, class_names=data.CLASS_NAMES)
plt.show()

# %% [markdown]
# ## 10. Why the output is blobby
#
# Every output pixel is a bilinear mix of the 2×2 nearest score positions, 32 pixels
# apart: FCN-32s cannot draw a corner, a thin bar of the cross, or a border between two
# positions' worth of image. The trimap measure makes this visible: mean IU over the
# pixels within w pixels of a label border, as w grows. The oracle, which knows the true
# class shares of every 32×32 cell, shows what a stride of 32 draws when its scores are right.

# %% tags=["nbval-ignore-output"]
TRIMAP_WIDTHS = (1, 2, 4, 8, 16, 32)  # band half-widths in pixels
val_predictions = training.predict_labels(fcn32s, x_val)
curves = {"FCN-32s": val_predictions, f"stride-{STRIDE} oracle": oracle}
fig, ax = plt.subplots(figsize=(5, 3.2))
for name, predicted in curves.items():
    values = [metrics.trimap_scores(val_masks, predicted, NUM_CLASSES, w)["mean_iou"] for w in TRIMAP_WIDTHS]
    ax.plot(TRIMAP_WIDTHS, values, marker="o", label=name)
    print(f"{name:18s}", " ".join(f"{v:.3f}" for v in values))
ax.set_xscale("log", base=2)
ax.set_xlabel("band half-width w (pixels)")
ax.set_ylabel("mean IU within w of a border")
ax.legend(frameon=False)
plt.show()

# %% [markdown]
# FCN-32s loses most where the labels change: within a pixel or two of a border its
# mean IU is about half of what it reaches over the whole image. The oracle drops as
# steeply: at stride 32 a border falls inside a cell that mixes two classes, and
# interpolating cells 32 pixels apart draws a smooth blob, not the shape's outline. It is
# a reference, not a strict bound: it is one stride-32 predictor (interpolated true
# shares), and a learned one may place its interpolated boundary better near some
# borders (an earlier build of this lesson had FCN-32s at 0.280 against the oracle's
# 0.276 at w = 1). What bounds both is the stride. The paper's remedy is lesson 05: score
# the finer pool4 and pool3 maps too (FCN-16s and FCN-8s).

# %% [markdown]
# ## 11. A crop a few pixels off
#
# The crop aligns output pixel `(i, j)` with image pixel `(i, j)`. What does a crop a few
# pixels off cost? `models.fcn32s_head` builds the 'valid' head (crop 16, section 4) on
# the trained trunk; we copy the trained `score_fr` into it and crop at 16 + d instead.

# %% tags=["nbval-ignore-output"]
SHIFTS = (-8, -4, -2, 0, 2, 4, 8)  # pixels added to the aligned crop, along both axes
aligned = models.crop_offsets(valid_head)["score"][0]
shift_scores = {}
for shift in SHIFTS:
    shifted = models.fcn32s_head(trunk, NUM_CLASSES, crop=aligned + shift, name=f"fcn32s_crop{aligned + shift}")
    shifted.get_layer("score_fr").set_weights(fcn32s.get_layer("score_fr").get_weights())
    shift_scores[shift] = training.evaluate(shifted, x_val, val_masks, NUM_CLASSES)["mean_iou"]
print("crop offset:", " ".join(f"{aligned + s:>6d}" for s in SHIFTS))
print("mean IU:    ", " ".join(f"{shift_scores[s]:6.3f}" for s in SHIFTS))

# %%
assert shift_scores[0] == max(shift_scores.values()), shift_scores

# %% [markdown]
# The derived crop is the best one, and the loss grows with the shift: a shift of d
# pixels moves every border by d, and objects in these images are 19 to 96 pixels across.
# A misalignment is invisible in the code (every shape is right) and only shows in the
# scores: derive crops, never guess them.

# %% [markdown]
# ## 12. The paper's network: FCN-VGG16
#
# `models.fcn(21, "32s", backbone="vgg16")` is the reference layer for layer: conv1_1
# padded by 100, Caffe's ceil-mode pooling ('same' pooling in Keras), fc6 a 7×7
# convolution with 4096 channels, fc7 1×1, dropout 0.5, `score_fr` to 21 VOC classes, a
# 64×64 bilinear `upscore` with stride 32, and the crop. `weights="imagenet"` would
# transplant keras.applications' VGG16 ImageNet weights (a 528 MB download); here the
# weights are random, which changes neither the sizes nor the speed.

# %% tags=["nbval-ignore-output"]
VOC_CLASSES = 21  # PASCAL VOC: 20 classes and background
PAPER_WEIGHTS = 134e6  # Table 1, FCN-VGG16
PAPER_K40C_MS = {"FCN-VGG16, 500×500 (Table 1)": 210, "FCN-8s, per VOC image (Table 3)": 175}  # Tesla K40c
TIMING_SIZE = fcn_lessons.by_mode(full=500, quick=224)  # the paper times 500×500 (quick mode: smaller)
vgg_fcn = models.fcn(VOC_CLASSES, "32s", backbone="vgg16")
vgg_trainable = sum(int(np.prod(w.shape)) for w in vgg_fcn.trainable_weights)
print(f"trainable weights: {vgg_trainable:,} (the paper: about {PAPER_WEIGHTS / 1e6:.0f}M)")
print("crop derived from the receptive fields:", models.crop_offsets(vgg_fcn))
image = np.zeros((1, TIMING_SIZE, TIMING_SIZE, 3), np.float32)
start = time.perf_counter()
output = vgg_fcn(image, training=False)  # one forward pass, called directly (no graph to build first)
print(f"output {tuple(output.shape)}: one {TIMING_SIZE}×{TIMING_SIZE} image on this CPU in "
      f"{1e3 * (time.perf_counter() - start):.0f} ms")
print("the paper, on a K40c GPU:", ", ".join(f"{name} {ms} ms" for name, ms in PAPER_K40C_MS.items()))

# %%
assert models.crop_offsets(vgg_fcn) == {"score": (19, 19)}
assert abs(vgg_trainable - PAPER_WEIGHTS) < 0.01 * PAPER_WEIGHTS
assert tuple(output.shape) == (1, TIMING_SIZE, TIMING_SIZE, VOC_CLASSES)
del vgg_fcn, output  # 540 MB of weights

# %% [markdown]
# ## Summary
#
# - FCN-32s is a convolutionalized classifier (fc6, fc7 as convolutions, the class layer
#   dropped), a zero-initialised 1×1 score layer, a fixed bilinear ×32 transposed
#   convolution, and a crop whose offset comes from the receptive fields: 19 for the
#   reference's pad-100 VGG16, 0 for our 'same'-padded mini trunk. Every layer is trained.
# - The loss is a softmax over classes at every pixel, averaged over the labelled pixels;
#   void pixels contribute nothing. Sigmoid + MSE scored lower in the same budget; void
#   counted as background taught the network to paint outlines, and then more, as
#   background (sections 7-8). Accuracy alone would hide both.
# - Pretraining then fine-tuning everything beats training only the score layer and beats
#   training from scratch, as in the paper's Table 2.
# - The output is blobby because it interpolates scores 32 pixels apart; even a perfect
#   stride-32 scorer loses near borders. Lesson 05 adds the skips.

# %% [markdown]
# **Exercises** (`exercises/04_fcn32s.ipynb`): 4.1 the per-pixel cross-entropy with void
# ignored, in numpy; 4.2 a crop offset and the upsampled size, derived; 4.3 the FCN-32s
# head on a given trunk; 4.4 predict the loss of an untrained FCN-32s, then run it.
