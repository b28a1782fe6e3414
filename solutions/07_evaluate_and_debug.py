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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/solutions/07_evaluate_and_debug.ipynb)
#
# # Lesson 07 exercises: a bug hunt, the error breakdown, and one prediction
#
# Seven exercises to go with `notebooks/07_evaluate_and_debug.ipynb`. In 7.1-7.5 you are
# handed a function with a bug that learners (and the blog post of the lesson) really
# write; run its check to see the symptom, find the bug, fix it. In 7.6 you sort the wrong
# pixels of a prediction by kind. 7.7 asks you to predict a number before you measure it.

# %% [markdown]
# **How to work.** Edit the cells marked *exercise*, then run the *check* cell below each.
# In 7.1-7.5 the exercise cell already holds code: it runs, and it is wrong; its check says
# "not done yet" and shows the bug's symptom until you change it, then tests your fix. Checks try your function on several random
# cases against the course's reference and stop at the first failing case, saying what
# was expected and what came back. They are graded as shipped: editing them earns nothing.
# Hints are folded above each exercise: open one only when you are stuck.
#
# Each exercise cell says which course modules it may not use (they hold the answer).
# **Run time:** well under a minute on a CPU; nothing here trains a network.

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

import cv2
import numpy as np

from fcn_lessons import checks, data, labels

# %% [markdown]
# ## Exercise 7.1: a mask resized bilinearly
#
# `resize_mask(mask, size)` resizes a label map (class ids, 255 for void) to
# `size = (height, width)`, for instance to train at another resolution. The version
# below is what many tutorials write. Run its cell to see what it makes of one of the
# course's masks, then fix it. It must keep every pixel a label the mask really has there.

# %% [markdown]
# <details><summary>Hint 1: look at the values</summary>
#
# Print the classes the resized mask holds. Which of them are no class of the course at
# all, and where in the image are they?
# </details>
# <details><summary>Hint 2: interpolation</summary>
#
# Bilinear interpolation averages neighbours: halfway between a circle (1) and void (255)
# it writes 128. What should a label map do instead at such a place?
# </details>
# <details><summary>Hint 3: OpenCV's flags</summary>
#
# `cv2.resize` has several `interpolation` flags; one copies the nearest pixel (and
# `INTER_NEAREST_EXACT` rounds its position like the others do). Note that `cv2.resize`
# takes `(width, height)`.
# </details>

# %% tags=["exercise"]
# Not allowed: fcn_lessons.voc.resize_pair and fcn_lessons.augment (they resize masks correctly).
def resize_mask(mask, size):
    """(H, W) label map -> (height, width) label map, size = (height, width)."""
    height, width = size
    # BEGIN SOLUTION 7.1: find and fix the bug: this resize makes labels that do not exist
    # STUB: return cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    # END SOLUTION


_, example_masks = data.make_shapes(1, 64, seed=2)  # what your function makes of a course mask:
print("labels before:", np.unique(example_masks[0]).tolist(),
      "| after resizing to 40×40:", np.unique(resize_mask(example_masks[0], (40, 40))).tolist())

# %% tags=["check"]
checks.check_resize_mask(resize_mask)

# %% [markdown]
# ## Exercise 7.2: IoU computed on probabilities
#
# `class_iou(labels, scores, class_id, ignore_label=255)` should give the IU of one class
# for a batch: `labels` (N, H, W) class ids, `scores` (N, H, W, C) the network's
# probabilities *or* logits. The version below multiplies probabilities with the labels,
# a "soft" IoU that some libraries use as a loss. As a score it is wrong. Fix it: IU
# counts pixels, void left out; return NaN when the class is neither labelled nor
# predicted anywhere.

# %% [markdown]
# <details><summary>Hint 1: what the network predicts</summary>
#
# A pixel's prediction is one class. Which class does a vector of C scores name? Does the
# answer change between logits and probabilities?
# </details>
# <details><summary>Hint 2: void</summary>
#
# Pixels labelled `ignore_label` are in no class: they belong to neither the
# intersection nor the union, whatever was predicted there.
# </details>
# <details><summary>Hint 3: counting</summary>
#
# With two boolean maps (predicted c, labelled c) on the labelled pixels, IU is the count
# of their AND over the count of their OR.
# </details>

# %% tags=["exercise"]
# Not allowed: fcn_lessons.metrics, sklearn.metrics, keras.metrics.
def class_iou(labels, scores, class_id, ignore_label=255):
    """labels (N, H, W), scores (N, H, W, C) -> IU of class_id (NaN if it is nowhere)."""
    # BEGIN SOLUTION 7.2: find and fix the bug: this IoU is computed on probabilities
    # STUB: probability = scores[..., class_id]
    # STUB: truth = labels == class_id
    # STUB: intersection = (probability * truth).sum()
    # STUB: return intersection / (probability.sum() + truth.sum() - intersection)
    keep = labels != ignore_label
    predicted = np.argmax(scores, axis=-1)[keep] == class_id
    truth = labels[keep] == class_id
    union = np.count_nonzero(predicted | truth)
    return np.count_nonzero(predicted & truth) / union if union else float("nan")
    # END SOLUTION


# %% tags=["check"]
checks.check_class_iou(class_iou)

# %% [markdown]
# ## Exercise 7.3: void counted as background
#
# The blog post trains with mean squared error, which needs targets of the output's shape:
# one-hot vectors. `mse_targets(masks, num_classes, ignore_label=255)` returns
# `(targets, weights)`: targets (N, H, W, C), weights (N, H, W) for
# `fit(..., sample_weight=weights)`. The version below turns void into background, so the
# network is taught to paint object outlines as background. Fix it: at a void pixel the
# target is all zeros and the weight 0; elsewhere the target is one-hot and the weight 1.

# %% [markdown]
# <details><summary>Hint 1: what the loss sees</summary>
#
# With `sample_weight`, a pixel of weight 0 adds nothing to the loss. Which pixels should
# add nothing?
# </details>
# <details><summary>Hint 2: one-hot without an index error</summary>
#
# `np.eye(num_classes)[masks]` fails on 255. Index with a safe copy of the mask, then zero
# the rows of the void pixels.
# </details>

# %% tags=["exercise"]
# Not allowed: fcn_lessons.blog_post.mse_targets.
def mse_targets(masks, num_classes, ignore_label=255):
    """(N, H, W) masks -> targets (N, H, W, num_classes) float32, weights (N, H, W) float32."""
    # BEGIN SOLUTION 7.3: find and fix the bug: void pixels become background
    # STUB: safe = np.where(masks == ignore_label, 0, masks)
    # STUB: return np.eye(num_classes, dtype=np.float32)[safe], np.ones(masks.shape, np.float32)
    weights = (masks != ignore_label).astype(np.float32)
    safe = np.where(masks == ignore_label, 0, masks)
    targets = np.eye(num_classes, dtype=np.float32)[safe] * weights[..., None]
    return targets, weights
    # END SOLUTION


# %% tags=["check"]
checks.check_mse_targets(mse_targets)

# %% [markdown]
# ## Exercise 7.4: a skip fused before cropping
#
# In FCN-16s the ×2-upsampled coarse scores (`upsampled`, N × h × w × C) are added to the
# scores of pool4 (`skip`, larger: N × H × W × C), after cutting the skip to h × w at
# `offset = (oy, ox)`, the crop offset lesson 04 derives (5 in the reference FCN-16s). The
# version below adds first and crops after, so the two maps are added out of alignment.
# Fix it: crop, then sum.

# %% [markdown]
# <details><summary>Hint 1: which map is cropped</summary>
#
# The result has the upsampled map's size. Which of the two maps is bigger, and where in
# it does the upsampled map's pixel (0, 0) lie?
# </details>
# <details><summary>Hint 2: the window</summary>
#
# Rows `oy .. oy + h - 1` and columns `ox .. ox + w - 1` of the skip line up with the
# upsampled map.
# </details>

# %% tags=["exercise"]
# Not allowed: fcn_lessons.models (its Crop layer does this).
def fuse_skip(upsampled, skip, offset):
    """upsampled (N, h, w, C), skip (N, H, W, C), offset (oy, ox) -> fused scores (N, h, w, C)."""
    # BEGIN SOLUTION 7.4: find and fix the bug: the skip is added before it is cropped into alignment
    # STUB: oy, ox = offset
    # STUB: h, w = upsampled.shape[1:3]
    # STUB: padded = np.zeros_like(skip)
    # STUB: padded[:, :h, :w] = upsampled
    # STUB: return (padded + skip)[:, oy:oy + h, ox:ox + w]
    oy, ox = offset
    h, w = upsampled.shape[1:3]
    return upsampled + skip[:, oy:oy + h, ox:ox + w]
    # END SOLUTION


# %% tags=["check"]
checks.check_fuse_skip(fuse_skip)

# %% [markdown]
# ## Exercise 7.5: a loader that augments only the image
#
# `augment_pair(image, mask, rng, crop_size)` flips a training pair left-right with
# probability 1/2 and crops a random `crop_size = (h, w)` window, drawing from `rng`
# (a `numpy.random.Generator`). The version below, like the blog post's loader, moves the
# image and leaves the mask where it was. Fix it so the mask moves exactly like the image.
# (The check feeds images whose pixels encode where they came from.)

# %% [markdown]
# <details><summary>Hint 1: one draw, two arrays</summary>
#
# Every random choice (flip or not, the window's corner) must be drawn once and applied
# to both arrays.
# </details>
# <details><summary>Hint 2: the order</summary>
#
# Flip first, then crop (or the other way round, consistently): what matters is that the
# mask goes through the same steps.
# </details>

# %% tags=["exercise"]
# Not allowed: fcn_lessons.augment and fcn_lessons.pipeline (they augment pairs correctly).
def augment_pair(image, mask, rng, crop_size):
    """image (H, W, 3), mask (H, W), rng, crop_size (h, w) -> (image (h, w, 3), mask (h, w))."""
    # BEGIN SOLUTION 7.5: find and fix the bug: only the image is flipped and cropped
    # STUB: if rng.random() < 0.5:
    # STUB:     image = image[:, ::-1]
    # STUB: h, w = crop_size
    # STUB: top = int(rng.integers(0, image.shape[0] - h + 1))
    # STUB: left = int(rng.integers(0, image.shape[1] - w + 1))
    # STUB: return image[top:top + h, left:left + w], mask[:h, :w]
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    h, w = crop_size
    top = int(rng.integers(0, image.shape[0] - h + 1))
    left = int(rng.integers(0, image.shape[1] - w + 1))
    return image[top:top + h, left:left + w], mask[top:top + h, left:left + w]
    # END SOLUTION


# %% tags=["check"]
checks.check_augment_pair(augment_pair)

# %% [markdown]
# ## Exercise 7.6: the kind of every wrong pixel
#
# Write `error_kinds(labels, prediction, band, min_share=0.5)` for one (H, W) label map
# and prediction; `band` (H, W, bool) marks the pixels within 2 px of a label border
# (`labels.boundary_band`, given). Return (H, W) integer codes: **0** for a right or void
# pixel; for a wrong labelled pixel the first that applies of **1** boundary (in the band),
# **2** class confusion (labelled object, predicted another object class), **3** missed
# object (labelled object, predicted background, in a true object of which less than
# `min_share` is predicted as any object class), **4** false object (labelled background,
# predicted object, in a predicted object of whose *labelled* pixels less than `min_share`
# are labelled object), **5** extent (the rest). Class 0 is background; objects are the
# 4-connected regions of one class (`cv2.connectedComponents(..., connectivity=4)`).

# %% [markdown]
# <details><summary>Hint 1: pixel masks first</summary>
#
# Build boolean maps: labelled, wrong, labelled-object, predicted-object. Codes 1, 2 and 5
# need nothing else; 3 and 4 need objects.
# </details>
# <details><summary>Hint 2: objects</summary>
#
# For each class c > 0, `cv2.connectedComponents((labels == c).astype(np.uint8),
# connectivity=4)` numbers its regions. For each true region, the share of its pixels
# predicted as an object decides whether it is missed; do the same on the prediction.
# </details>
# <details><summary>Hint 3: the order</summary>
#
# Assign in the order given, each kind only to wrong pixels that have no kind yet.
# </details>

# %% tags=["exercise"]
# Not allowed: fcn_lessons.metrics (error_kinds is the answer).
def _regions(label_map, skip=(0, 255)):
    """A list of bool maps, one per 4-connected region of each class not in skip."""
    out = []
    for c in np.unique(label_map):
        if c not in skip:
            count, ids = cv2.connectedComponents((label_map == c).astype(np.uint8), connectivity=4)
            out += [ids == k for k in range(1, count)]
    return out


def error_kinds(labels, prediction, band, min_share=0.5):
    """labels, prediction (H, W), band (H, W) bool -> (H, W) codes 0..5."""
    # BEGIN SOLUTION 7.6: give every wrong pixel its kind: boundary, confusion, missed, false, extent
    labelled = labels != 255
    wrong = labelled & (prediction != labels)
    label_object, predicted_object = labelled & (labels != 0), prediction != 0
    missed = np.zeros(labels.shape, bool)
    for region in _regions(labels):
        if predicted_object[region].mean() < min_share:
            missed |= region
    false = np.zeros(labels.shape, bool)
    for region in _regions(prediction, skip=(0,)):
        counted = region & labelled
        if counted.any() and label_object[counted].mean() < min_share:
            false |= region
    kinds = np.zeros(labels.shape, np.int8)
    kinds[wrong & band] = 1
    rest = wrong & ~band
    kinds[rest & label_object & predicted_object] = 2
    rest &= kinds == 0
    kinds[rest & label_object & ~predicted_object & missed] = 3
    kinds[rest & ~label_object & predicted_object & false] = 4
    kinds[rest & (kinds == 0)] = 5
    return kinds
    # END SOLUTION


# %% tags=["check"]
checks.check_error_kinds(error_kinds)

# %% [markdown]
# ## Exercise 7.7: predict, then run: precision, recall and F1
#
# The blog post suggests reporting precision, recall and F1. Take 40 course scenes and a
# "prediction" that is their own label map moved 3 pixels to the right (a crop that is
# off). The next cell prints its pixel accuracy. **Before** you compute anything else:
# what is its F1 pooled over all pixels ("micro-averaged": one precision and one recall
# over every pixel of every class)? Write it as a fraction; the check measures it.

# %% [markdown]
# <details><summary>Hint 1: what is a false positive here</summary>
#
# A pixel of class a predicted as b is a false positive of b *and* a false negative of a.
# Pooled over all classes, how do the two counts compare?
# </details>
# <details><summary>Hint 2: putting it together</summary>
#
# If precision equals recall, what is their harmonic mean? And what are both equal to?
# </details>

# %%
shift_masks, shifted = checks.shifted_scenes()
labelled = shift_masks != data.VOID_LABEL
print(f"pixel accuracy of the shifted prediction: {np.mean(shifted[labelled] == shift_masks[labelled]):.3f}")

# %% tags=["exercise"]
# Your prediction, a number; no code needed (and no fcn_lessons.metrics).
# BEGIN SOLUTION 7.7: predict the micro-averaged F1 of the shifted prediction
# STUB: PREDICTION = ...  # a fraction, e.g. 0.5
PIXEL_ACCURACY = 0.954  # printed above
PREDICTION = PIXEL_ACCURACY  # pooled, every wrong pixel is one false positive and one false negative: P = R
# END SOLUTION

# %% tags=["check"]
checks.check_micro_f1_prediction(PREDICTION)  # measures the micro F1, then compares

# %% [markdown]
# ## What you built
#
# - 7.1-7.5: five bugs found and fixed, each one that silently spoils a segmentation
#   network: invented labels, a score of probabilities, void learned as background, skips
#   added out of alignment, masks that no longer match their images.
# - 7.6: the error breakdown of lesson 07, which tells *why* a prediction is wrong.
# - 7.7: why "precision, recall, F1" pooled over pixels add nothing to pixel accuracy; per
#   class, F1 = 2·IU / (1 + IU) ranks classes as IU does. The paper's four metrics say more.
