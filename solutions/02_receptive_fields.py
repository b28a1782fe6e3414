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
# Four exercises to go with `notebooks/02_receptive_fields.ipynb`: you derive the
# recurrence for a layer the lesson does not (2.1), write the core of the lesson yourself
# (2.2, 2.3), and predict a field before a cell measures it (2.4).
#
# **How to work.** Edit the cells marked *exercise*: replace the
# `raise NotImplementedError(...)` line (or the `...`) with your code. Then run the
# *check* cell below it. A check tries your function on several random cases against the
# course's reference; it prints one line when all pass, and otherwise stops at the first
# failing case with what was expected, what your code returned, and a hint. Checks are
# graded as shipped (with other random cases), so there is nothing to gain by editing them
# or by fitting your code to the cases you see. Hints are folded: open one at a time.
#
# **Not allowed:** `fcn_lessons.receptive` holds the course's answers; the checks of 2.1-2.3
# refuse a function that calls it (directly or through a helper of yours).
#
# **Run time:** about 10 s on a 2-core CPU (7.6 s of CPU time, measured on a loaded machine:
# `docs/RESULTS.md`).

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
# ## Exercise 2.1: the recurrence through a transposed convolution
#
# Section 3 of the lesson found FCN-32s's crop of 19 with `receptive_fields`, which also
# walks the 64×64, stride-32 transposed convolution `upscore`. The lesson's recurrence
# box covers convolutions and poolings only: derive the step for a transposed
# convolution yourself. Write `transposed_step(field, kernel, stride)`: `field` is
# `(size, jump, offset)` of the layer's input, in input pixels, as in the lesson; return
# the same three numbers for the layer's output, for `padding='valid'` (nothing cropped)
# and no dilation. Two conventions, the lesson's carried over:
#
# - input unit `i` writes a copy of the kernel to output units `i·s, …, i·s + k − 1`
#   (lesson 03's scatter-add), and it sits at the middle of that copy, as a
#   convolution's unit sits at the middle of the window it reads;
# - `size` is the side of the smallest window, centred on an output unit, that holds the
#   fields of all the input units that write to it; take the widest over all output units.
#
# By hand first: FCN-32s's fc7 has `(404, 32, 12.5)`, and `upscore` has kernel 64 and
# stride 32. Your function should put its unit 0 at −19, 19 pixels before the image.

# %% [markdown]
# <details><summary>Hint 1: where the units sit</summary>
#
# Where is the middle of input unit `i`'s copy, counted in output units? Turn that around:
# which (possibly fractional) input unit does output unit `m` sit at?
#
# </details>
#
# <details><summary>Hint 2: jump and offset</summary>
#
# How many output units are there per input unit? For the offset, take `m = 0` and
# convert input units to pixels with the input's offset and jump.
#
# </details>
#
# <details><summary>Hint 3: the size</summary>
#
# List the input units that write to output `m`. How far, in input units, can the
# farthest of them be from where `m` sits? Work out `k = 4`, `s = 2` on paper, then
# `k = 3`, `s = 2`.
#
# </details>

# %% tags=["exercise"]
# May not use: fcn_lessons.receptive (the course's answer; its Keras walker included).
def transposed_step(field, kernel, stride):
    """(size, jump, offset) of a 'valid' transposed convolution's output, from its input's."""
    # BEGIN SOLUTION 2.1: derive the step through a transposed convolution
    size, jump, offset = field
    spread = (kernel - 1) / stride  # input units between the first and the last that write one output
    return size + spread * jump, jump / stride, offset - spread / 2 * jump
    # END SOLUTION


# %% tags=["check"]
checks.check_transposed_step(transposed_step)

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

# %% [markdown]
# <details><summary>Hint 1: one axis at a time</summary>
#
# Rows and columns do not interact: apply the lesson's recurrence (section 1) twice, once
# with each layer's row settings and once with its column settings. Layers that are
# neither a convolution nor a pooling act on each pixel separately: skip them.
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
# May not use: fcn_lessons.receptive (the course's answer).
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
# ## Exercise 2.3: the smallest field without holes
#
# A stack of `num_layers` 3×3 convolutions with stride 1 and dilations `d1, d2, ...` has
# a field of `1 + 2·(d1 + d2 + ...)` pixels. But a layer can skip pixels: the field gets
# holes (the lesson's section 9 draws dilations 2, 2, 2; draw 2, 2 on the lesson's 1-D
# picture, on paper). Write `dilation_schedule(target, num_layers)` returning a list of
# `num_layers` positive ints whose field has **no holes** and is the **smallest** field
# of at least `target` pixels that `num_layers` such layers can have. If no schedule of
# `num_layers` layers reaches `target` without holes, raise `ValueError`: part of the
# exercise is to find that limit.

# %% [markdown]
# <details><summary>Hint 1: when does a layer skip pixels?</summary>
#
# A dilated layer reads units `d` apart. Below it, each unit already covers a field of
# `r` pixels. Compare `d` with `r`: when are the pixels between two taps covered?
#
# </details>
#
# <details><summary>Hint 2: how far and how small</summary>
#
# What is the field after each layer if every layer uses the largest dilation it may?
# And what is it if every layer uses the smallest? Which sizes in between can a stack of
# 3×3 convolutions have at all?
#
# </details>
#
# <details><summary>Hint 3: not overshooting</summary>
#
# Decide first how much the dilations must add up to. Growing early is what makes large
# fields reachable; each later layer adds at least 1 to the sum, whatever you do.
#
# </details>

# %% tags=["exercise"]
# May not use: fcn_lessons.receptive (the course's answer, dilation_schedule and support_1d among it).
def dilation_schedule(target, num_layers):
    """Dilations of num_layers 3×3 stride-1 convolutions: the smallest field >= target pixels, no holes."""
    # BEGIN SOLUTION 2.3: the smallest field at or above the target, without holes
    if target > 3 ** num_layers:  # every layer at most triples the field: dilation <= field below
        raise ValueError(f"{num_layers} layers reach at most {3 ** num_layers} pixels without holes, "
                         f"not {target}")
    total = max(-(-(target - 1) // 2), num_layers)  # the sum of the dilations: field 1 + 2·total, odd
    dilations, field = [], 1
    for i in range(num_layers):
        later = num_layers - 1 - i  # each later layer adds at least 1
        dilation = min(field, total - sum(dilations) - later)  # as large as holes allow, never overshooting
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
# - Use your `model_field` on `keras.applications.VGG16(weights=None, include_top=False,
#   input_shape=(224, 224, 3))`: does it give 212 pixels at stride 32 for pool5, with unit 0
#   centred at 15.5? (Its layers are all Conv2D and MaxPooling2D, plus an InputLayer.)
# - Give your `model_field` a `Conv2DTranspose` branch built on your `transposed_step`,
#   and check that the FCN-32s geometry of the lesson's section 3 gives a crop of 19.
# - Your `transposed_step` for FCN-16s: fc7's `(404, 32, 12.5)` through `upscore2`
#   (kernel 4, stride 2); the cropped pool4 scores are added on `upscore2`'s grid, so the
#   sum keeps its offset; then `upscore16` (kernel 32, stride 16). Do you get a crop of 27?
