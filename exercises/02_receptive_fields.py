# ---
# jupyter:
#   fcn_lessons:
#     exercises:
#     - '2.1'
#     - '2.2'
#     - '2.3'
#     fingerprint: b825174cb34f9759
#     generated_from: solutions/02_receptive_fields.py
#     kind: exercises
#     lesson: '02'
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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/exercises/02_receptive_fields.ipynb)
#
# # Lesson 02 exercises: receptive fields
#
# Three exercises to go with `notebooks/02_receptive_fields.ipynb`: you write the core of
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

from fcn_lessons import checks

# %% [markdown]
# ## Exercise 2.1: the receptive-field recurrence
#
# Along one axis, input pixel `i` is centred at coordinate `i`. Write
# `receptive_field_1d(layers)`: `layers` is a list of `(kernel, stride, padding, dilation)`
# tuples (`padding` is the number of zeros added *before* the first pixel); return a
# list with one `(size, jump, offset)` tuple per layer, in input pixels:
#
# - `size`: the number of input pixels one unit of that layer spans;
# - `jump`: the distance between neighbouring units' fields;
# - `offset`: the input coordinate of the centre of unit 0's field.
#
# The input itself is `(1, 1, 0)` (not part of the answer). With
# `k_eff = dilation * (kernel - 1) + 1`, each layer adds `k_eff - 1` units of the layer
# below to the size, multiplies the jump by its stride, and moves the centre of unit 0 to
# the middle of its window, minus the padding. For example
# `[(3, 1, 0, 1), (3, 1, 0, 1), (2, 2, 0, 1)]` gives `[(3, 1, 1.0), (5, 1, 2.0), (6, 2, 2.5)]`.

# %% tags=["exercise"]
def receptive_field_1d(layers):
    """[(kernel, stride, padding, dilation), ...] -> [(size, jump, offset), ...], one per layer."""
    # Exercise 2.1: apply the recurrence layer by layer
    # Hint: start from size 1, jump 1, offset 0.0 (one input pixel, centred on pixel 0).
    # Hint: the window's taps are one jump *of the layer below* apart: grow size and offset first.
    raise NotImplementedError("Exercise 2.1: apply the recurrence layer by layer")


# %% tags=["check"]
checks.check_receptive_field_1d(receptive_field_1d)

# %% [markdown]
# ## Exercise 2.2: the field and output stride of a Keras model
#
# Write `model_field(model)` for a `keras.Sequential` model made of `Conv2D`,
# `MaxPooling2D`/`AveragePooling2D` and pointwise layers (activations, batch
# normalisation, dropout). Return `(size, stride)` of the model's last layer, each an
# `(h, w)` pair: the receptive field and the output stride, in input pixels. Kernels and
# strides may differ between rows and columns: a `Conv2D` has `kernel_size`, `strides`
# and `dilation_rate`, each an `(h, w)` tuple; a pooling layer has `pool_size` and
# `strides`. Padding moves the offset, but not the size or the stride.

# %% tags=["exercise"]
def model_field(model):
    """keras.Sequential -> ((size_h, size_w), (stride_h, stride_w)) of its last layer."""
    # Exercise 2.2: walk model.layers and apply the recurrence to rows and to columns
    # Hint: isinstance(layer, keras.layers.Conv2D) / (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    # Hint: any other layer acts on each pixel separately and leaves the field alone.
    raise NotImplementedError("Exercise 2.2: walk model.layers and apply the recurrence to rows and to columns")


# %% tags=["check"]
checks.check_model_field(model_field)

# %% [markdown]
# ## Exercise 2.3: a dilation schedule that reaches a target field
#
# A stack of `num_layers` 3×3 convolutions with stride 1 and dilations `d1, d2, ...` has
# a field of `1 + 2·(d1 + d2 + ...)` pixels. But a layer whose dilation is larger than the
# field of the layers below it skips pixels: the field gets holes (try dilations 2, 2 in
# `receptive.support_1d`). Write `dilation_schedule(target, num_layers)` returning a list
# of `num_layers` positive ints whose field is at least `target` pixels **with no holes**.
# Without holes, `num_layers` layers reach at most `3 ** num_layers` pixels; for a larger
# target raise `ValueError`.

# %% tags=["exercise"]
def dilation_schedule(target, num_layers):
    """Dilations of num_layers 3×3 stride-1 convolutions: field >= target pixels, no holes."""
    # Exercise 2.3: grow the field as fast as holes allow, until it reaches the target
    # Hint: a dilation d adds 2·d pixels, and leaves no hole while d <= the field so far.
    # Hint: the largest reachable field is 3 ** num_layers (dilations 1, 3, 9, ...).
    raise NotImplementedError("Exercise 2.3: grow the field as fast as holes allow, until it reaches the target")


# %% tags=["check"]
checks.check_dilation_schedule(dilation_schedule)

# %% [markdown]
# ## Going further
#
# - Use your `model_field` on `keras.applications.VGG16(weights=None, include_top=False)`:
#   does it give the paper's 212 pixels at stride 32? (Its layers are all Conv2D and
#   MaxPooling2D, plus an InputLayer.)
# - Add the offset to `model_field` for 'valid' padding, then for 'same' padding with
#   stride 1, and compare with `fcn_lessons.receptive.receptive_fields`.
