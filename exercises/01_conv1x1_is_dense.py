# ---
# jupyter:
#   fcn_lessons:
#     exercises:
#     - '1.1'
#     - '1.2'
#     - '1.3'
#     - '1.4'
#     fingerprint: 9eda5adf7bfdc79d
#     generated_from: solutions/01_conv1x1_is_dense.py
#     kind: exercises
#     lesson: '01'
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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/exercises/01_conv1x1_is_dense.ipynb)
#
# # Lesson 01 exercises: dense layers as convolutions
#
# Four exercises to go with `notebooks/01_conv1x1_is_dense.ipynb`: three in which you
# write the core of that lesson yourself, and one in which you predict a result before
# the check cell measures it.
#
# **Run time:** about 5 s on a 2-core CPU (measured: docs/RESULTS.md).

# %% [markdown]
# **How to work.** Edit the cells marked *exercise*: replace the
# `raise NotImplementedError(...)` line (or the `...`) with your code. Then run the
# *check* cell below it. A check tries your function on several random cases against
# the course's reference; it prints one line when all pass, and otherwise stops at the
# first failing case with what was expected, what your code returned, and a hint.
# Checks are graded as shipped, so there is nothing to gain by editing them, and a
# graded run draws other random cases than the ones you see. Stuck? Open the hints
# above an exercise one at a time. Each exercise says which course modules it may not
# use: passing the course's own function to a check is refused.

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

import keras
import numpy as np

from fcn_lessons import checks

# %% [markdown]
# ## Exercise 1.1: export a classifier head to PyTorch
#
# You trained a Keras classifier that ends with `Flatten()` and `Dense(K)` on an (H, W, C)
# feature map, and a colleague wants the same classifier in PyTorch, where the map is
# (C, H, W) and the head is `nn.Flatten()` + `nn.Linear(C*H*W, K)`. Write
# `dense_kernel_to_torch_linear(kernel, feature_shape)`: given the Dense kernel (a numpy
# array of shape (H·W·C, K)) and `feature_shape` = (H, W, C), return the PyTorch `Linear`
# weight, of shape (K, C·H·W), that gives the same K scores. The bias needs no change.
# The facts you need are in lesson 01, section 3: the two flatten orders, and how each
# library lays out the weight matrix.
#
# *Not allowed:* `fcn_lessons.conv1x1` (it holds the course's answer). numpy is all you need.

# %% [markdown]
# <details><summary>Hint 1: follow one weight</summary>
#
# Pick one input, say pixel (i, j) of channel c. Which row of the Keras kernel holds the
# weight that output k gives it? In PyTorch, which entry of the weight must hold the same
# number?
#
# </details>
# <details><summary>Hint 2: go through a 4-D view</summary>
#
# numpy can undo Keras' flatten for you: with the right reshape the kernel's axes become
# (i, j, c, k). Which order of those four axes, flattened the C way, gives PyTorch's
# layout?
#
# </details>
# <details><summary>Hint 3: test on a tiny case</summary>
#
# Try H = 1, W = 2, C = 2, K = 1 and write the four flat indices of each library by hand
# (the section-3 figure helps). Does your function move the weights where you wrote them?
#
# </details>

# %% tags=["exercise"]
def dense_kernel_to_torch_linear(kernel, feature_shape):
    """Keras Dense kernel (H*W*C, K) after Flatten of (H, W, C) -> PyTorch Linear weight (K, C*H*W)."""
    # Exercise 1.1: turn a Keras Dense kernel into a PyTorch Linear weight
    raise NotImplementedError("Exercise 1.1: turn a Keras Dense kernel into a PyTorch Linear weight")


# %% tags=["check"]
checks.check_dense_kernel_to_channels_first_linear(dense_kernel_to_torch_linear)

# %% [markdown]
# ## Exercise 1.2: global average pooling + Dense as one convolution
#
# Many classifiers (Keras' ResNet50 among them) end with `GlobalAveragePooling2D()`, which
# averages each channel of the (H, W, C) map over its H×W positions, then `Dense(K)`.
# Write `pooled_dense_to_conv(dense_layer, feature_shape)` that returns a **built**
# `keras.layers.Conv2D` with an H×W kernel computing the same thing on the (H, W, C)
# map, with output shape (N, 1, 1, K), and that slides over larger maps like a
# convolution. Work out its kernel first: lesson 01 does not show it.
#
# *Not allowed:* `fcn_lessons.conv1x1` (it holds the course's answer).

# %% [markdown]
# <details><summary>Hint 1: one sum</summary>
#
# Write output k as a single sum over i, j and c. What number multiplies x[i, j, c]?
# Does it depend on i and j?
#
# </details>
# <details><summary>Hint 2: what else the Dense layer does</summary>
#
# Apart from its weighted sum, a Dense layer has a bias and an activation. Where do they
# go in your convolution, and does the pooling change them?
#
# </details>
# <details><summary>Hint 3: building it</summary>
#
# A Conv2D has no weights until it is built: `layer.build((None, H, W, C))`, then
# `layer.set_weights([kernel, bias])` with a kernel of shape (H, W, C, K).
#
# </details>

# %% tags=["exercise"]
def pooled_dense_to_conv(dense_layer, feature_shape):
    """GlobalAveragePooling2D + dense_layer on an (H, W, C) map -> one equivalent built Conv2D."""
    # Exercise 1.2: build the Conv2D that computes global average pooling + dense_layer
    raise NotImplementedError("Exercise 1.2: build the Conv2D that computes global average pooling + dense_layer")


# %% tags=["check"]
checks.check_global_average_dense_to_conv(pooled_dense_to_conv)

# %% [markdown]
# ## Exercise 1.3: convolutionalize a classifier
#
# Write `convolutionalize_classifier(classifier)` for classifiers shaped like the
# lesson's (`fcn_lessons.models.crop_classifier`): an input of fixed size, a trunk of
# Rescaling/Conv2D/MaxPooling2D layers, then `Flatten`, `Dense` (ReLU), `Dropout`,
# `Dense` (softmax). Return a `keras.Model` that accepts images of any size,
# `keras.Input((None, None, 3))`, and returns a map of class probabilities: at the
# classifier's input size a (N, 1, 1, K) map equal to its output, and on larger images
# one score vector per window at the trunk's output stride.
#
# *Not allowed:* `fcn_lessons.conv1x1` (its `convolutionalize` is the course's answer).
# The Flatten + Dense conversion of lesson 01, section 3, is yours to write here.

# %% [markdown]
# <details><summary>Hint 1: start from a new input</summary>
#
# Layers such as Conv2D, MaxPooling2D or Dropout can be called on a new input of another
# size, `keras.Input((None, None, 3))`: they keep their weights. `classifier.layers`
# lists the layers in order.
#
# </details>
# <details><summary>Hint 2: where the trunk ends</summary>
#
# Every layer before `Flatten` is reused as it is; Flatten itself has no place in a
# model of any size. What shape did it receive? (`layer.input.shape`)
#
# </details>
# <details><summary>Hint 3: the head</summary>
#
# The first Dense sees that whole map, flattened (which order?). Every later Dense sees
# a 1×1 map of the previous layer's units. A small helper for one Dense layer keeps it short.
#
# </details>

# %% tags=["exercise"]
def convolutionalize_classifier(classifier):
    """Classifier (trunk, Flatten, Dense, Dropout, Dense) -> fully convolutional keras.Model."""
    # Exercise 1.3: rebuild the classifier as a model that runs on any image size
    raise NotImplementedError("Exercise 1.3: rebuild the classifier as a model that runs on any image size")


# %% tags=["check"]
checks.check_convolutionalize_classifier(convolutionalize_classifier)

# %% [markdown]
# ## Exercise 1.4 (predict, then run): the score map of a deeper classifier
#
# Lesson 01's classifier had three 'valid' 3×3 convolutions and two 2×2 poolings on
# 32×32 crops. Take a deeper one, `models.crop_classifier(48, widths=(32, 64, 64, 64))`:
# 48×48 crops, four 'valid' 3×3 convolutions with a 2×2 max pooling after each but the
# last, then the same head. Convolutionalize it and feed it a canvas of 150 × 207 pixels
# (rows × columns). How many score vectors does it produce, that is, rows × columns of
# its score map? Work it out on paper, write the number in `PREDICTION`, then run the
# check cell: it builds the model, runs it and compares.
#
# *Not allowed:* running a model or `fcn_lessons.receptive` before you predict: the
# point is the prediction.

# %% [markdown]
# <details><summary>Hint 1: the step</summary>
#
# Between neighbouring scores, the window moves by the output stride. How many poolings
# does this classifier have, and what stride do they make?
#
# </details>
# <details><summary>Hint 2: the sizes on one crop</summary>
#
# Write the map's side after each layer on a 48-pixel crop: a 3×3 'valid' convolution
# removes 2, a 2×2 pooling halves, rounding down. Does any pooling drop a row?
#
# </details>
# <details><summary>Hint 3: what fits</summary>
#
# Walk back from the rows that are still read, as lesson 01, section 7, does for its
# classifier: how many of the crop's 48 rows does a score depend on? A score exists where
# that many fit; count the positions along each side, then multiply.
#
# </details>

# %% tags=["exercise"]
# Exercise 1.4: predict the number of score vectors on a 150 × 207 canvas
PREDICTION = ...

# %% tags=["check"]
checks.check_score_map_prediction(PREDICTION)

# %% [markdown]
# ## What you built
#
# - 1.1: a Keras Dense kernel becomes a PyTorch Linear weight by moving every weight from
#   Keras' flatten order to PyTorch's, in PyTorch's (out, in) layout.
# - 1.2: global average pooling + Dense is one H×W 'valid' convolution whose kernel is the
#   Dense kernel divided by H·W at every position.
# - 1.3: with Flatten + Dense as an H×W convolution, a classifier becomes a fully
#   convolutional network whose output on a large image equals the classifier applied to
#   every window at its output stride.
# - 1.4: the score map's size is set by the receptive field (46 of 48 pixels here) and the
#   output stride (8), not by the crop: with 'valid' layers a score exists exactly where
#   its field fits.
#
# Next: lesson 02 computes receptive fields for any network, and measures them.
