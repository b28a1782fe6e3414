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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/solutions/02_receptive_fields.ipynb)
#
# # Lesson 02 exercises: receptive fields
#
# Four exercises to go with `notebooks/02_receptive_fields.ipynb`: you write the core of
# that lesson yourself (2.1-2.3), and you predict a field before a cell measures it (2.4).
#
# **How to work.** Edit the cells marked *exercise*: replace the
# `raise NotImplementedError(...)` line (or the `...`) with your code. Then run the
# *check* cell below it. A check tries your function on several random cases against the
# course's reference; it prints one line when all pass, and otherwise stops at the first
# failing case with what was expected, what your code returned, and a hint. Checks are
# graded as shipped (with other random cases), so there is nothing to gain by editing them
# or by fitting your code to the cases you see. Hints are folded: open one at a time.
#
# **Not allowed:** `fcn_lessons.receptive` holds the course's answers; the checks refuse
# its functions, and none of the exercises may call it.
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
import matplotlib.pyplot as plt
import numpy as np

from fcn_lessons import checks, receptive

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
# The input itself is `(1, 1, 0)` (not part of the answer). For example
# `[(3, 1, 0, 1), (3, 1, 0, 1), (2, 2, 0, 1)]` gives `[(3, 1, 1.0), (5, 1, 2.0), (6, 2, 2.5)]`:
# check that you can get these by hand on the lesson's 1-D picture before you code.
#
# <details><summary>Hint 1: what one layer does</summary>
#
# A unit reads `k_eff = dilation · (kernel − 1) + 1` consecutive units of the layer below
# (counting the skipped ones). Start from one input pixel, and ask: how far apart, in
# input pixels, are the units it reads?
#
# </details>
#
# <details><summary>Hint 2: the order of the updates</summary>
#
# The window's taps are one jump *of the layer below* apart, so grow the size (and move
# the offset) with the old jump; only then multiply the jump by this layer's stride.
#
# </details>
#
# <details><summary>Hint 3: the offset</summary>
#
# Unit 0's window starts `padding` units *before* unit 0 of the layer below, and its
# middle tap is `(k_eff − 1)/2` units after its start. Convert units to pixels with the
# jump of the layer below.
#
# </details>

# %% tags=["exercise"]
# May not use: fcn_lessons.receptive (the course's answer).
def receptive_field_1d(layers):
    """[(kernel, stride, padding, dilation), ...] -> [(size, jump, offset), ...], one per layer."""
    # BEGIN SOLUTION 2.1: apply the recurrence layer by layer
    size, jump, offset = 1, 1, 0.0
    fields = []
    for kernel, stride, padding, dilation in layers:
        span = dilation * (kernel - 1)  # k_eff - 1
        size = size + span * jump
        offset = offset + (span / 2 - padding) * jump
        jump = jump * stride
        fields.append((size, jump, offset))
    return fields
    # END SOLUTION


# %% tags=["check"]
checks.check_receptive_field_1d(receptive_field_1d)

# %% [markdown]
# ## Exercise 2.2: the field, output stride and offset of a Keras model
#
# Write `model_field(model)` for a `keras.Sequential` model made of `Conv2D`,
# `MaxPooling2D`/`AveragePooling2D` (padding `'valid'` or `'same'`, any strides) and
# pointwise layers (activations, batch normalisation, dropout). Return
# `(size, stride, offset)` of the model's last layer, each an `(h, w)` pair in input
# pixels: the receptive field, the output stride, and the input coordinate of the centre
# of unit (0, 0)'s field. Kernels and strides may differ between rows and columns: a
# `Conv2D` has `kernel_size`, `strides`, `dilation_rate` and `padding`; a pooling layer has
# `pool_size`, `strides` and `padding`. `layer.input.shape` is `(None, rows, columns,
# channels)` of what the layer reads.
#
# The catch is `'same'` padding. TensorFlow makes the output `ceil(n / s)` long for an
# input of length `n`, pads `max((ceil(n / s) − 1)·s + k_eff − n, 0)` zeros in total and
# puts the smaller half before the first pixel. Work out what that gives for `n = 32`
# and `n = 33` with a 3-wide window and stride 2 before you code.
#
# <details><summary>Hint 1: reuse exercise 2.1</summary>
#
# Rows and columns do not interact: run the recurrence of 2.1 twice, once with each
# layer's row settings and once with its column settings. Layers that are neither a
# convolution nor a pooling act on each pixel separately: skip them.
#
# </details>
#
# <details><summary>Hint 2: the padding before the first pixel</summary>
#
# `'valid'` puts none. For `'same'` you need `n`, the length of *this layer's* input
# along the axis (not the model's input): read it from `layer.input.shape`.
#
# </details>
#
# <details><summary>Hint 3: stride 1 against stride 2</summary>
#
# With stride 1 the total is `k_eff − 1` for every `n`. With stride 2 and a 3-wide window
# it is 1 zero for an even `n` (none of it before the first pixel) and 2 for an odd `n`
# (one before): the offset of unit 0 depends on the input's length.
#
# </details>

# %% tags=["exercise"]
# May not use: fcn_lessons.receptive (the course's answer). Your receptive_field_1d from 2.1 is fine.
def model_field(model):
    """keras.Sequential -> ((size_h, size_w), (stride_h, stride_w), (offset_h, offset_w)) of its last layer."""
    # BEGIN SOLUTION 2.2: walk model.layers and apply the recurrence to rows and to columns
    size, jump, offset = [1, 1], [1, 1], [0.0, 0.0]
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, strides, dilation = layer.kernel_size, layer.strides, layer.dilation_rate
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            kernel, strides, dilation = layer.pool_size, layer.strides, (1, 1)
        else:
            continue
        for axis in (0, 1):
            n, s, span = layer.input.shape[1 + axis], strides[axis], dilation[axis] * (kernel[axis] - 1)
            total = max((-(-n // s) - 1) * s + span + 1 - n, 0)  # 'same': (ceil(n/s) - 1)·s + k_eff - n
            pad = 0 if layer.padding == "valid" else total // 2
            size[axis] += span * jump[axis]
            offset[axis] += (span / 2 - pad) * jump[axis]
            jump[axis] *= s
    return tuple(size), tuple(jump), tuple(offset)
    # END SOLUTION


# %% tags=["check"]
checks.check_model_field(model_field)

# %% [markdown]
# ## Exercise 2.3: a dilation schedule that reaches a target field
#
# A stack of `num_layers` 3×3 convolutions with stride 1 and dilations `d1, d2, ...` has
# a field of `1 + 2·(d1 + d2 + ...)` pixels. But a layer can skip pixels: the field gets
# holes (the lesson's section 9 draws dilations 2, 2, 2: draw 2, 2 on paper, on the
# lesson's 1-D picture). Write `dilation_schedule(target, num_layers)` returning a list of
# `num_layers` positive ints whose field is at least `target` pixels **with no holes**.
# If no schedule of `num_layers` layers can reach `target` without holes, raise
# `ValueError`: part of the exercise is to find that limit.
#
# <details><summary>Hint 1: when does a layer skip pixels?</summary>
#
# A dilated layer reads units `d` apart. Below it, each unit already covers a field of
# `r` pixels. Compare `d` with `r`: when are the pixels between two taps covered?
#
# </details>
#
# <details><summary>Hint 2: the largest field without holes</summary>
#
# A layer may use a dilation up to the field below it. What is the field after each layer
# if every layer uses the largest dilation it may? That is the most `num_layers` layers
# can reach.
#
# </details>
#
# <details><summary>Hint 3: reaching the target</summary>
#
# Go layer by layer: take the dilation that brings the field to the target, but never
# more than the field so far, and at least 1.
#
# </details>

# %% tags=["exercise"]
# May not use: fcn_lessons.receptive (the course's answer, dilation_schedule and support_1d among it).
def dilation_schedule(target, num_layers):
    """Dilations of num_layers 3×3 stride-1 convolutions: field >= target pixels, no holes."""
    # BEGIN SOLUTION 2.3: grow the field as fast as holes allow, until it reaches the target
    if target > 3 ** num_layers:
        raise ValueError(f"{num_layers} layers reach at most {3 ** num_layers} pixels without holes, "
                         f"not {target}")
    dilations, field = [], 1
    for _ in range(num_layers):
        needed = max(target - field, 0)
        dilation = max(1, min(field, -(-needed // 2)))  # ceil(needed / 2), at most the field
        dilations.append(dilation)
        field += 2 * dilation
    return dilations
    # END SOLUTION


# %% tags=["check"]
checks.check_dilation_schedule(dilation_schedule)

# %% [markdown]
# ## Exercise 2.4 (predict, then run): the field of one unit
#
# Here is a small untrained network, the kind of trunk you met in the lesson: a 3×3
# convolution, a 2×2 max pooling, a 3×3 convolution with dilation 2, another pooling,
# and a 5×5 convolution, all `'same'`:

# %%
question = checks.field_question_model()
layer_name, unit = checks.FIELD_QUESTION["layer"], checks.FIELD_QUESTION["position"]
for layer in question.layers:
    config = layer.get_config()
    window = config.get("kernel_size") or config.get("pool_size")
    print(f"{layer.name:6s} {type(layer).__name__:13s} window {tuple(window)}, strides {tuple(config['strides'])}, "
          f"dilation {tuple(config.get('dilation_rate', (1, 1)))}")

# %% [markdown]
# **Predict** how many pixels wide the receptive field of unit `(8, 8)` of `conv3` is
# (it is square, and it lies well inside the 64×64 image). Work it out by hand, layer by
# layer; do not run your `model_field` on it (that would be measuring, not predicting).
# Write your answer as `PREDICTION = <a number>` in the exercise cell, run it, and only
# then run the check below it: it measures the field and compares.
#
# <details><summary>Hint 1: where to start</summary>
#
# Write down size and jump after each of the five layers. The first convolution sees 3
# pixels, one apart.
#
# </details>
#
# <details><summary>Hint 2: the dilated layer</summary>
#
# The dilated 3×3 convolution's window spans 5 units of `pool1`'s map. How many input
# pixels apart are those units?
#
# </details>

# %% tags=["exercise"]
# May not use: fcn_lessons.receptive, your model_field, or any code: this is a prediction.
# BEGIN SOLUTION 2.4: predict the field width of conv3's unit (8, 8) before measuring it
# STUB: PREDICTION = ...
PREDICTION = 30  # conv1 3, pool1 4 (jump 2), conv2 4 + 4·2 = 12, pool2 14 (jump 4), conv3 14 + 4·4 = 30
# END SOLUTION

# %% tags=["check"]
checks.check_field_prediction(PREDICTION)

# %% [markdown]
# What the check measured: it back-propagates from the unit to 32 random images (lesson
# section 4) and takes the box of the pixels whose gradient is non-zero on any of them.
# The same measurement, on images of our own:

# %%
MEASURE_IMAGES = 32  # enough images that ReLU and max-pooling gaps fill the box
side = checks.FIELD_QUESTION["image_size"]
probe_images = np.random.default_rng(0).uniform(0, 1, (MEASURE_IMAGES, side, side, 3)).astype("float32")
measured = receptive.empirical_receptive_field(question, layer_name, unit, inputs=probe_images)
top, left, bottom, right = measured.box
print(f"non-zero gradient in rows {top}..{bottom} and columns {left}..{right}: {right - left + 1} pixels wide")
plt.figure(figsize=(3.2, 3.2))
plt.imshow(measured.nonzero, cmap="gray")
plt.title(f"{layer_name} unit {unit}: pixels it reads", fontsize=9)
plt.axis("off")
plt.show()

# %% [markdown]
# ## Going further
#
# - Use your `model_field` on `keras.applications.VGG16(weights=None, include_top=False)`:
#   does it give the paper's 212 pixels at stride 32, with unit 0 centred at 15.5? (Its
#   layers are all Conv2D and MaxPooling2D, plus an InputLayer; with `input_shape=(224,
#   224, 3)` every layer's input length is known.)
# - Extend it to `Conv2DTranspose` with `padding='valid'`, and check that the FCN-32s
#   geometry of the lesson's section 3 gives a crop of 19.
