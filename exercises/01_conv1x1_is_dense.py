# ---
# jupyter:
#   fcn_lessons:
#     exercises:
#     - '1.1'
#     - '1.2'
#     - '1.3'
#     - '1.4'
#     fingerprint: 85421efc971f23b8
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
# ## Exercise 1.1: port a classifier head from PyTorch
#
# A PyTorch classifier ends with `nn.Flatten()` and `nn.Linear(C*H*W, K)`. PyTorch's
# feature maps are channels first, so the Linear layer reads a flattened (C, H, W) map;
# PyTorch stores its weight as (out_features, in_features) = (K, C·H·W). In Keras the
# same map is (H, W, C). Write `linear_weight_to_conv_kernel(weight, feature_shape)`:
# given that weight (a numpy array) and `feature_shape` = (C, H, W), return the
# (H, W, C, K) kernel of a Keras `Conv2D(K, (H, W), padding="valid")` that computes the
# same K scores on the (H, W, C) map. The bias needs no change, and
# `kernel.reshape(H * W * C, K)` would serve a Keras Dense after Flatten.
#
# *Not allowed:* `fcn_lessons.conv1x1` (it holds the course's answer). numpy is all you need.

# %% [markdown]
# <details><summary>Hint 1: follow one weight</summary>
#
# Input number n = (c·H + i)·W + j of the PyTorch layer is pixel (i, j) of channel c
# (lesson 01, section 3). Which entry of the Keras kernel must hold the weight that
# output k gives to it?
#
# </details>
# <details><summary>Hint 2: undo PyTorch's flatten</summary>
#
# Row k of the weight is a flat vector of C·H·W numbers in PyTorch's order. Reshaped to
# (C, H, W), it is output k's H×W filter for each channel.
#
# </details>
# <details><summary>Hint 3: put the axes in Keras' order</summary>
#
# After `weight.reshape(K, C, H, W)` the axes are (k, c, i, j); the Keras kernel wants
# (i, j, c, k). One `transpose` with the right permutation of the axes does it.
#
# </details>

# %% tags=["exercise"]
def linear_weight_to_conv_kernel(weight, feature_shape):
    """PyTorch Linear weight (K, C*H*W) after a (C, H, W) flatten -> Keras Conv2D kernel (H, W, C, K)."""
    # Exercise 1.1: convert a PyTorch Linear weight into a Keras Conv2D kernel
    raise NotImplementedError("Exercise 1.1: convert a PyTorch Linear weight into a Keras Conv2D kernel")


# %% tags=["check"]
checks.check_channels_first_linear_to_conv(linear_weight_to_conv_kernel)

# %% [markdown]
# ## Exercise 1.2: Flatten + Dense as an H×W convolution
#
# A classifier flattens an (H, W, C) feature map and applies `Dense(K)`. Write
# `flatten_dense_to_conv(dense_layer, feature_shape)` that returns a **built**
# `keras.layers.Conv2D` computing the same thing on the (H, W, C) map, with output
# shape (N, 1, 1, K), and that slides over larger maps like a convolution.
#
# You need `layer.build((None, H, W, C))`, the Dense layer's weights
# (`dense_layer.get_weights()` gives `[kernel, bias]`), its `units` and `activation`,
# and `layer.set_weights([...])`.
#
# *Not allowed:* `fcn_lessons.conv1x1` (its `dense_to_conv` is the course's answer).

# %% [markdown]
# <details><summary>Hint 1: which convolution?</summary>
#
# It needs K filters and exactly one output position on an H×W map: which kernel size
# and which padding give that?
#
# </details>
# <details><summary>Hint 2: which order?</summary>
#
# The Dense kernel is (H·W·C, K), in the order in which Keras' Flatten read the map:
# row by row, channels fastest (lesson 01, section 3). Which numpy reshape undoes that?
#
# </details>
# <details><summary>Hint 3: keep everything the Dense layer had</summary>
#
# A Dense layer adds a bias and applies an activation; the convolution must do both.
# Build the layer before `set_weights`, or it has no weights to set.
#
# </details>

# %% tags=["exercise"]
def flatten_dense_to_conv(dense_layer, feature_shape):
    """Dense layer after Flatten of an (H, W, C) map -> equivalent built Conv2D layer."""
    # Exercise 1.2: build the Conv2D that computes Flatten + dense_layer
    raise NotImplementedError("Exercise 1.2: build the Conv2D that computes Flatten + dense_layer")


# %% tags=["check"]
checks.check_flatten_dense_to_conv(flatten_dense_to_conv)

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
# Use your own `flatten_dense_to_conv` from Exercise 1.2.

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
# The first Dense sees that whole map: it becomes your Exercise 1.2 layer. Every later
# Dense sees a 1×1 map of the previous layer's units.
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
# ## Exercise 1.4 (predict, then run): how big is the score map?
#
# Take the lesson's classifier (`models.crop_classifier()`: 32×32 crops, three 'valid'
# 3×3 convolutions, two 2×2 poolings), convolutionalized, and feed it a canvas of
# 150 × 203 pixels (rows × columns). How many score vectors does it produce, that is,
# rows × columns of its score map? Work it out on paper, write the number in
# `PREDICTION`, then run the check cell: it runs the model and compares.
#
# *Not allowed:* running a model before you predict: the point is the prediction.

# %% [markdown]
# <details><summary>Hint 1: one step</summary>
#
# Between neighbouring scores, the classifier's window moves by the output stride. How
# many pixels is that?
#
# </details>
# <details><summary>Hint 2: what must fit</summary>
#
# A score exists where every pixel it depends on lies inside the canvas. Lesson 01,
# section 6, measured how many pixels that is along each side: is it the crop's size?
#
# </details>
# <details><summary>Hint 3: count</summary>
#
# Count the positions 0, S, 2S, ... at which that many pixels still fit, along each side,
# then multiply the two counts.
#
# </details>

# %% tags=["exercise"]
# Exercise 1.4: predict the number of score vectors on a 150 × 203 canvas
PREDICTION = ...

# %% tags=["check"]
checks.check_score_map_prediction(PREDICTION)

# %% [markdown]
# ## What you built
#
# - 1.1: a PyTorch Linear weight becomes a Keras kernel by undoing PyTorch's
#   channels-first flatten and its (out, in) layout: reshape, then transpose.
# - 1.2: Flatten + Dense is an H×W 'valid' convolution; the reshape follows the flatten order.
# - 1.3: with those, a classifier becomes a fully convolutional network whose output on a
#   large image equals the classifier applied to every window at its output stride.
# - 1.4: the score map's size is set by the receptive field (30 pixels here), not by the
#   crop (32): with 'valid' layers a score exists exactly where its field fits.
#
# Next: lesson 02 computes receptive fields for any network, and measures them.
