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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/solutions/04_fcn32s.ipynb)
#
# # Lesson 04 exercises: FCN-32s
#
# Four exercises to go with `notebooks/04_fcn32s.ipynb`: you write FCN's loss, derive a
# crop, build the FCN-32s head, and predict what an untrained FCN-32s does.
#
# **How to work.** Edit the cells marked *exercise*: replace the
# `raise NotImplementedError(...)` line with your code. Then run the *check* cell below
# it. A check tries your code on several random cases against the course's reference; it
# prints one line when all pass, and otherwise stops at the first failing case with what
# was expected, what came back, and a hint. Hints of your own are folded under each
# exercise: open them one at a time. Checks are graded as shipped.
#
# **Run time:** under a minute on a CPU.

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

import math

import keras
import numpy as np

from fcn_lessons import checks, models, receptive, upsampling

VOID = 255  # PASCAL VOC's void label

# %% [markdown]
# ## Exercise 4.1: the per-pixel cross-entropy, void ignored
#
# Write `pixel_cross_entropy(labels, logits)`: `labels` is (N, H, W) class ids with 255
# for void, `logits` is (N, H, W, C) raw scores. Return one float: the softmax
# cross-entropy `−log softmax(z)[y]` of every labelled pixel, averaged over the labelled
# pixels of the whole batch. Void pixels count nowhere. Logits may be as large as 1e4.
# Use numpy only (not `fcn_lessons.losses`, not a Keras or TensorFlow loss).

# %% [markdown]
# <details><summary>Hint 1: which pixels, and one pixel's loss</summary>
#
# `logits[labels != 255]` is a (P, C) array of the labelled pixels. For logits z and label
# y: `−log(exp(z[y]) / Σ exp(z)) = log Σ exp(z) − z[y]`.
#
# </details>
#
# <details><summary>Hint 2: large logits</summary>
#
# `np.exp(1e4)` is `inf`. With m the largest logit of the pixel,
# `log Σ exp(z) = m + log Σ exp(z − m)`, and every `exp(z − m)` is at most 1.
#
# </details>
#
# <details><summary>Hint 3: the average</summary>
#
# Divide by the number of labelled pixels in the batch, not by N·H·W, and not image by
# image (an image with few labelled pixels must weigh less).
#
# </details>

# %% tags=["exercise"]
def pixel_cross_entropy(labels, logits):
    """(N, H, W) int labels (255 = void), (N, H, W, C) logits -> mean loss over labelled pixels (float)."""
    # Not allowed: fcn_lessons.losses, Keras or TensorFlow losses (numpy only).
    # BEGIN SOLUTION 4.1: average -log softmax over the labelled pixels of the batch
    labelled = labels != VOID
    z = logits[labelled].astype(np.float64)  # (P, C)
    top = z.max(axis=1, keepdims=True)
    log_sum = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
    picked = z[np.arange(len(z)), labels[labelled].astype(np.int64)]
    return float((log_sum - picked).mean())
    # END SOLUTION


# %% tags=["check"]
checks.check_pixel_cross_entropy(pixel_cross_entropy)

# %% [markdown]
# ## Exercise 4.2: a crop offset and the upsampled size, derived
#
# A 1-D stack is a list of `(kind, kernel, stride, padding)` layers, `kind` "conv" or
# "pool", with Caffe's sizes: a convolution gives `⌊(n + 2p − k)/s⌋ + 1` outputs, a
# pooling `⌈(n + 2p − k)/s⌉ + 1`. On top sits a 'valid' transposed convolution
# (`upsample_kernel`, `upsample_stride`). Write `fcn32s_crop(layers, upsample_kernel,
# upsample_stride, input_size)` returning `(offset, upsampled_length)`: the crop that puts
# the upsampled map's pixels over the image's, and the map's length for an input of
# `input_size` pixels. You may use lesson 02's `fcn_lessons.receptive.recurrence` (or your
# own from Exercise 2.1), not `fcn_lessons.models`.

# %% [markdown]
# <details><summary>Hint 1: two questions</summary>
#
# Where (the offset: receptive fields, which do not depend on the input's size) and how
# long (the sizes, which do). Answer them separately.
#
# </details>
#
# <details><summary>Hint 2: the transposed convolution</summary>
#
# Its output unit 0 is centred `(kernel − 1)/2` output units before its input unit 0, and
# one output unit is `jump / upsample_stride` input pixels (jump: the stack's).
#
# </details>
#
# <details><summary>Hint 3: the crop</summary>
#
# The crop is how many upsampled units lie before the image's pixel 0: minus the input
# coordinate of upsampled unit 0. For FCN-VGG16 (pad 100, 500 pixels) it is 19.
#
# </details>

# %% tags=["exercise"]
def fcn32s_crop(layers, upsample_kernel, upsample_stride, input_size):
    """[(kind, k, s, p), ...], int, int, int -> (crop offset, length of the upsampled map)."""
    # Not allowed: fcn_lessons.models, fcn_lessons.checks (receptive.recurrence is fine).
    # BEGIN SOLUTION 4.2: offset from the receptive fields, length from Caffe's sizes
    _, jump, offset = receptive.recurrence([(k, s, p) for _, k, s, p in layers])[-1]
    first = offset - (upsample_kernel - 1) / 2 * jump / upsample_stride
    n = input_size
    for kind, k, s, p in layers:
        rounding = math.ceil if kind == "pool" else math.floor
        n = rounding((n + 2 * p - k) / s) + 1
    return int(-first), (n - 1) * upsample_stride + upsample_kernel
    # END SOLUTION


# %% tags=["check"]
checks.check_fcn32s_crop(fcn32s_crop)

# %% [markdown]
# ## Exercise 4.3: the FCN-32s head on a trunk
#
# `trunk` is a Keras model from images (a fixed size) to its last feature map, at output
# stride s. Write `fcn32s_head(trunk, num_classes)` returning the reference's FCN-32s
# head on it, with the reference's layer names:
#
# - `score_fr`: a 1×1 convolution to `num_classes` scores, with bias, all zeros at first;
# - `upscore`: a 'valid' Conv2DTranspose of kernel 2s and stride s, no bias, initialised
#   to bilinear upsampling per class (your kernel of Exercise 3.2, or
#   `upsampling.bilinear_kernel`), and frozen;
# - `score`: the upsampled map cropped to the image, at the derived offset
#   (`models.Crop(offset)([up, trunk.input])`, or `keras.layers.Cropping2D`).
#
# Not allowed: `models.fcn`, `models.fcn32s_head`, `models.crop_offset`.

# %% [markdown]
# <details><summary>Hint 1: the stride</summary>
#
# `receptive.receptive_fields(trunk)` lists every layer in order; the last one's
# `stride` is the trunk's output stride.
#
# </details>
#
# <details><summary>Hint 2: a fixed bilinear kernel</summary>
#
# `kernel_initializer=keras.initializers.Constant(kernel)` sets the weights; after calling
# the layer, `layer.trainable = False` freezes it.
#
# </details>
#
# <details><summary>Hint 3: the offset</summary>
#
# `receptive.receptive_fields(keras.Model(trunk.input, up))["upscore"].offset` is the
# input coordinate of upsampled unit 0, (o, o); the image's pixel 0 is unit −o.
#
# </details>

# %% tags=["exercise"]
def fcn32s_head(trunk, num_classes):
    """A keras.Model from trunk.input to (N, H, W, num_classes) logits: score_fr, upscore, score."""
    # Not allowed: models.fcn, models.fcn32s_head, models.crop_offset (models.Crop is fine).
    # BEGIN SOLUTION 4.3: score_fr (zeros), upscore (bilinear, frozen, 'valid'), score (the derived crop)
    stride = int(list(receptive.receptive_fields(trunk).values())[-1].stride[0])
    scores = keras.layers.Conv2D(num_classes, 1, kernel_initializer="zeros", name="score_fr")(trunk.output)
    bilinear = keras.initializers.Constant(upsampling.bilinear_kernel(stride, num_classes))
    upscore = keras.layers.Conv2DTranspose(num_classes, 2 * stride, strides=stride, padding="valid",
                                           use_bias=False, kernel_initializer=bilinear, name="upscore")
    up = upscore(scores)
    upscore.trainable = False
    offset = receptive.receptive_fields(keras.Model(trunk.input, up))["upscore"].offset
    crop = (int(-offset[0]), int(-offset[1]))
    return keras.Model(trunk.input, models.Crop(crop, name="score")([up, trunk.input]))
    # END SOLUTION


# %% tags=["check"]
checks.check_fcn32s_head(fcn32s_head)

# %% [markdown]
# ## Exercise 4.4: predict, then run
#
# Before its first training step, what is the mean loss (Exercise 4.1's) of
# `models.fcn(5, "32s")`, an FCN-32s for the course's five classes, on course images?
# Write your prediction as a number, then run the check cell: it builds the network,
# measures the loss on images you have not seen, and compares.

# %% [markdown]
# <details><summary>Hint 1: where to look</summary>
#
# How does `score_fr` start (lesson, section 4)? What does the upsampling do to its output?
#
# </details>
#
# <details><summary>Hint 2: the softmax</summary>
#
# What probability does a softmax give each class when all its inputs are equal?
#
# </details>

# %% tags=["exercise"]
# Not allowed: running the network before you predict (that is the check's job).
# BEGIN SOLUTION 4.4: your prediction of the untrained FCN-32s's loss (a number)
# STUB: PREDICTION = ...
PREDICTION = math.log(5)
# END SOLUTION

# %% tags=["check"]
checks.check_initial_loss_prediction(PREDICTION)

# %% [markdown]
# ## What you built
#
# - 4.1: FCN's loss, a softmax cross-entropy averaged over the labelled pixels of the
#   batch, with the max-shift that keeps large logits finite.
# - 4.2: a crop derived from receptive-field offsets: unit 0 of a 'valid' transposed
#   convolution is centred `(k − 1)/2` output units before its input's unit 0. The sizes
#   follow separately, with Caffe's pooling rounding up.
# - 4.3: the FCN-32s head, as the reference builds it on VGG16.
# - 4.4: an untrained FCN scores every class alike, so its first loss is ln C.
#
# Next: lesson 05 adds the skips (FCN-16s and FCN-8s), cropped by the same rule.
