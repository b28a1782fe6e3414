# ---
# jupyter:
#   fcn_lessons:
#     exercises:
#     - '1.1'
#     - '1.2'
#     - '1.3'
#     fingerprint: 794f13718eaffbde
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
# Three exercises to go with `notebooks/01_conv1x1_is_dense.ipynb`: you write the core of
# that lesson yourself.
#
# **How to work.** Edit the cells marked *exercise*: replace the
# `raise NotImplementedError(...)` line with your code. Then run the *check* cell below
# it. A check tries your function on several random cases against the course's reference;
# it prints one line when all pass, and otherwise stops at the first failing case with
# what was expected, what your code returned, and a hint. Checks are graded as shipped,
# so there is nothing to gain by editing them.
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

import keras
import numpy as np

from fcn_lessons import checks

# %% [markdown]
# ## Exercise 1.1: a Dense kernel as a 1×1 convolution kernel
#
# A `keras.layers.Dense(K)` on C inputs has a kernel of shape (C, K). Write
# `dense_kernel_to_conv1x1(kernel)` returning the kernel of the equivalent
# `keras.layers.Conv2D(K, kernel_size=1)`, as a numpy array. Keras stores Conv2D kernels
# as `(kernel_height, kernel_width, in_channels, out_channels)`.

# %% tags=["exercise"]
def dense_kernel_to_conv1x1(kernel):
    """(C, K) Dense kernel -> (1, 1, C, K) Conv2D kernel."""
    # Exercise 1.1: return the (1, 1, C, K) Conv2D kernel of a (C, K) Dense kernel
    # Hint: which axes does a 1×1 kernel add, and where? Is a transpose needed?
    raise NotImplementedError("Exercise 1.1: return the (1, 1, C, K) Conv2D kernel of a (C, K) Dense kernel")


# %% tags=["check"]
checks.check_dense_kernel_to_conv1x1(dense_kernel_to_conv1x1)

# %% [markdown]
# ## Exercise 1.2: Flatten + Dense as an H×W convolution
#
# A classifier flattens an (H, W, C) feature map and applies `Dense(K)`. Write
# `flatten_dense_to_conv(dense_layer, feature_shape)` that returns a **built**
# `keras.layers.Conv2D` computing the same thing on the (H, W, C) map, with output
# shape (N, 1, 1, K), and that slides over larger maps like a convolution.
#
# You need: the number of filters and the kernel size; the padding; the activation of
# the Dense layer; `layer.build((None, H, W, C))`; the Dense layer's weights
# (`dense_layer.get_weights()` gives `[kernel, bias]`) reshaped in the order in which
# Keras' `Flatten` reads the map; `layer.set_weights([...])`.

# %% tags=["exercise"]
def flatten_dense_to_conv(dense_layer, feature_shape):
    """Dense layer after Flatten of an (H, W, C) map -> equivalent built Conv2D layer."""
    # Exercise 1.2: build the Conv2D that computes Flatten + dense_layer
    # Hint: Flatten reads (H, W, C) row by row, channels fastest (numpy's default order).
    # Hint: keep the bias and the activation; which padding gives one output on an H×W map?
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
# Layers such as Conv2D, MaxPooling2D or Dropout can be called on a new input of
# another size: they keep their weights. `classifier.layers` lists the layers in order,
# and `layer.input.shape` gives the shape a layer receives.

# %% tags=["exercise"]
def convolutionalize_classifier(classifier):
    """Classifier (trunk, Flatten, Dense, Dropout, Dense) -> fully convolutional keras.Model."""
    # Exercise 1.3: rebuild the classifier as a model that runs on any image size
    # Hint: reuse every layer before Flatten on keras.Input((None, None, 3)).
    # Hint: the first Dense becomes your Exercise 1.2 layer, the last one a 1×1 convolution.
    raise NotImplementedError("Exercise 1.3: rebuild the classifier as a model that runs on any image size")


# %% tags=["check"]
checks.check_convolutionalize_classifier(convolutionalize_classifier)

# %% [markdown]
# ## What you built
#
# - 1.1: a Dense kernel is a 1×1 convolution kernel, reshaped, never transposed.
# - 1.2: Flatten + Dense is an H×W 'valid' convolution; the reshape follows the flatten order.
# - 1.3: with those, a classifier becomes a fully convolutional network whose output on a
#   large image equals the classifier applied to every window at its output stride.
#
# Next: lesson 02 asks how large a window each output really sees (its receptive field).
