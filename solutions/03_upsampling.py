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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/solutions/03_upsampling.ipynb)
#
# # Lesson 03 exercises: upsampling
#
# Five exercises to go with `notebooks/03_upsampling.ipynb`: you write the core of that
# lesson yourself, in numpy, and predict one result before you measure it.
#
# **How to work.** Edit the cells marked *exercise*: replace the
# `raise NotImplementedError(...)` line (or the `...`) with your code. Then run the
# *check* cell below it. A check tries your function on several cases against the
# course's reference; it prints one line when all pass, and otherwise stops at the first
# failing case with what was expected, what your code returned, and a hint. Hints are
# also folded above each exercise: open them one at a time, only when you are stuck.

# %% [markdown]
# Each exercise says which modules it may not use: mostly `fcn_lessons.upsampling`, which
# holds the course's own answers (a check refuses them when handed over directly), and
# Keras layers, which would compute the answer for you. Checks are graded as shipped,
# with cases you have not seen, so there is nothing to gain by editing them or by fitting
# an answer to the cases they show.
#
# **Run time:** a few seconds on a CPU.

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

import numpy as np

from fcn_lessons import checks

# %% [markdown]
# ## Exercise 3.1: a transposed convolution in numpy
#
# Write `transposed_conv2d(x, kernel, stride)` for one image `x` of shape (H, W, C_in)
# and a kernel in Keras' `Conv2DTranspose` layout, **(kh, kw, C_out, C_in)**. Every input
# pixel `x[i, j]` (a vector of C_in numbers) adds a copy of the kernel, weighted by it,
# into the output; where copies overlap, they add up. Return the full output (every
# pixel a copy reaches): what
# `keras.layers.Conv2DTranspose(C_out, (kh, kw), strides=stride, padding='valid')`
# computes when kh, kw ≥ stride.
#
# *Not allowed:* `fcn_lessons.upsampling` (its `transposed_conv2d` is the answer) and
# Keras or TensorFlow layers. Plain numpy loops are fine.

# %% [markdown]
# <details><summary>Hint 1: start from the picture</summary>
#
# Draw the lesson's 1-D example (section 3.1) for a 2-pixel input and a 3-tap kernel:
# where does each copy start, and where does the output end?
#
# </details>
#
# <details><summary>Hint 2: the most common mistake</summary>
#
# The copy of `x[i, j]` does not start at `(i, j)`: copies start `stride` pixels apart,
# at `(i·stride, j·stride)`. Forget the stride and the output is barely larger than the input.
#
# </details>

# %% [markdown]
# <details><summary>Hint 3: the size of the output</summary>
#
# The last copy starts at `(H - 1)·stride` and is `kh` rows tall (likewise for the columns).
#
# </details>
#
# <details><summary>Hint 4: what one tap adds</summary>
#
# `kernel[a, b]` is a (C_out, C_in) matrix, so `kernel[a, b] @ x[i, j]` is the C_out
# values tap (a, b) adds at output pixel `(i·stride + a, j·stride + b)`. Add with `+=`.
#
# </details>

# %% tags=["exercise"]
# Not allowed here: fcn_lessons.upsampling, Keras / TensorFlow layers.
def transposed_conv2d(x, kernel, stride):
    """(H, W, C_in) image, (kh, kw, C_out, C_in) kernel, int stride -> ((H-1)s+kh, (W-1)s+kw, C_out)."""
    # BEGIN SOLUTION 3.1: scatter-add a weighted kernel copy for every input pixel
    height, width, _ = x.shape
    kh, kw, c_out, _ = kernel.shape
    out = np.zeros(((height - 1) * stride + kh, (width - 1) * stride + kw, c_out))
    for i in range(height):
        for j in range(width):
            for a in range(kh):
                for b in range(kw):
                    out[i * stride + a, j * stride + b] += kernel[a, b] @ x[i, j]
    return out
    # END SOLUTION


# %% tags=["check"]
checks.check_transposed_conv2d(transposed_conv2d)

# %% [markdown]
# ## Exercise 3.2: the bilinear kernel
#
# Write `bilinear_kernel(factor, channels)` returning the FCN initialisation of a
# `Conv2DTranspose` that upsamples by `factor`, as a numpy array of shape
# `(k, k, channels, channels)`:
# - kernel size `k = 2·factor - factor % 2` (Caffe's bilinear-filler rule);
# - tap `t` of the 1-D tent weighs `1 - |t - c| / factor`, where `c` is the kernel's
#   middle; the 2-D filter is the product of the row and the column tents;
# - channel i feeds only output channel i: every entry `[:, :, i, j]` with i ≠ j is zero.
#
# *Not allowed:* `fcn_lessons.upsampling` (its `bilinear_taps` and `bilinear_kernel` are
# the answer) and Keras initialisers.

# %% [markdown]
# <details><summary>Hint 1: one dimension first</summary>
#
# Build the 1-D tent as an array of k numbers; `np.outer(tent, tent)` is the 2-D filter.
#
# </details>
#
# <details><summary>Hint 2: where is the middle?</summary>
#
# The middle of k taps numbered 0 .. k-1 is `(k - 1) / 2`: between two taps when k is
# even (factor - 0.5), on a tap when k is odd (factor - 1). Check: the tent is symmetric.
#
# </details>

# %% [markdown]
# <details><summary>Hint 3: keeping classes apart</summary>
#
# Start from zeros and fill only `kernel[:, :, i, i]` for each channel i.
#
# </details>

# %% tags=["exercise"]
# Not allowed here: fcn_lessons.upsampling, Keras initialisers.
def bilinear_kernel(factor, channels):
    """int factor, int channels -> (k, k, channels, channels) bilinear Conv2DTranspose kernel."""
    # BEGIN SOLUTION 3.2: build the per-channel bilinear kernel
    size = 2 * factor - factor % 2
    centre = (size - 1) / 2
    tent = 1 - np.abs(np.arange(size) - centre) / factor
    kernel = np.zeros((size, size, channels, channels), np.float32)
    for channel in range(channels):
        kernel[:, :, channel, channel] = np.outer(tent, tent)
    return kernel
    # END SOLUTION


# %% tags=["check"]
checks.check_bilinear_kernel(bilinear_kernel)

# %% [markdown]
# ## Exercise 3.3: the output size of Conv2DTranspose, derived
#
# Write `transposed_conv_output_size(input_size, kernel_size, stride, padding,
# output_padding=None)`: the length of `keras.layers.Conv2DTranspose`'s output along one
# axis, as an int, for `padding` 'valid' or 'same' and `output_padding` None or an int
# smaller than the stride.
#
# Derive it, do not look it up: draw the copies of a short row (the lesson's sections 3.1
# and 4), and use the lesson's table of sizes measured on the layer as your data. Your rule
# must reproduce every row of that table; the check tries more cases than it shows.
#
# *Not allowed:* Keras and TensorFlow (building a layer and reading its shape measures the
# answer instead of deriving it) and `fcn_lessons.upsampling`.

# %% [markdown]
# <details><summary>Hint 1: draw it</summary>
#
# `fcn_lessons.upsampling_demos.draw_scatter_add_2d(np.ones((1, 3)), np.ones((1, 3)), 2)`
# draws three copies of a 3-tap kernel at stride 2. How many pixels do they cover? Where
# does the last copy start?
#
# </details>
#
# <details><summary>Hint 2: 'same'</summary>
#
# 'same' promises an output s times the input, whatever k: Keras crops the copies to that
# length (or extends them, when they are shorter).
#
# </details>

# %% [markdown]
# <details><summary>Hint 3: 'valid' with a short kernel</summary>
#
# Compare the table's "copies cover" and "Keras" columns for k = 1: Keras keeps a slot of
# s output pixels for every input pixel, even where the copy is shorter than the slot.
#
# </details>
#
# <details><summary>Hint 4: output_padding</summary>
#
# With `output_padding`, Keras starts from the length the copies cover, takes off the
# padding it assumes on each side (k // 2 pixels for 'same', none for 'valid'), and adds
# `output_padding`. Check it against the table's two rows with an out_pad.
#
# </details>

# %% tags=["exercise"]
# Not allowed here: Keras / TensorFlow, fcn_lessons.upsampling.
def transposed_conv_output_size(input_size, kernel_size, stride, padding, output_padding=None):
    """Output length of Conv2DTranspose along one axis (an int)."""
    # BEGIN SOLUTION 3.3: derive Keras' Conv2DTranspose output length
    n, k, s = input_size, kernel_size, stride
    covered = (n - 1) * s + k  # the last copy starts at (n - 1)·s and is k long
    if output_padding is None:
        return n * s if padding == "same" else max(covered, n * s)
    pad = k // 2 if padding == "same" else 0
    return covered - 2 * pad + output_padding
    # END SOLUTION


# %% tags=["check"]
checks.check_transposed_conv_output_size(transposed_conv_output_size)

# %% [markdown]
# ## Exercise 3.4: phase sums, and whether a constant comes out flat
#
# Write `analyse_phases(kernel, stride)` for a single-channel kernel (a (kh, kw) numpy
# array) and an int stride s. Return a pair `(sums, flat)`:
# - `sums`: an (s, s) array; `sums[p, q]` is the total weight of phase (p, q), the taps
#   `kernel[a, b]` with `a % s == p` and `b % s == q`;
# - `flat`: True when a transposed convolution with this kernel and stride turns a
#   constant input into a constant output (away from the borders), else False.
#
# Reason before you code: which output pixels does tap (a, b) of each copy reach? The
# check tries bilinear kernels, uniform and random ones, and kernels balanced by hand whose
# copies overlap unevenly.
#
# *Not allowed:* `fcn_lessons.upsampling` (`phase_sums`, `balanced_phases` and
# `overlap_counts` are the course's answers) and Keras or TensorFlow.

# %% [markdown]
# <details><summary>Hint 1: where a tap lands</summary>
#
# The copy of input (i, j) puts tap (a, b) at output pixel (i·s + a, j·s + b). What is
# that position modulo s, and does it depend on i and j?
#
# </details>
#
# <details><summary>Hint 2: what a constant input gives</summary>
#
# If every input pixel is c, an interior output pixel of phase (p, q) receives each tap of
# that phase exactly once, from some copy: its value is c times the phase's sum.
#
# </details>

# %% [markdown]
# <details><summary>Hint 3: when that is flat</summary>
#
# When all s·s sums are equal. They are floats: compare with a tolerance (`np.allclose`),
# and note that equal sums need not be 1, nor need the copies overlap evenly.
#
# </details>

# %% tags=["exercise"]
# Not allowed here: fcn_lessons.upsampling, Keras / TensorFlow.
def analyse_phases(kernel, stride):
    """(kh, kw) kernel, int stride -> ((stride, stride) phase sums, bool: a constant comes out flat)."""
    # BEGIN SOLUTION 3.4: compute the phase sums and decide flatness
    sums = np.zeros((stride, stride))
    for a in range(kernel.shape[0]):
        for b in range(kernel.shape[1]):
            sums[a % stride, b % stride] += kernel[a, b]
    return sums, bool(np.allclose(sums, sums[0, 0]))
    # END SOLUTION


# %% tags=["check"]
checks.check_analyse_phases(analyse_phases)

# %% [markdown]
# ## Exercise 3.5: predict, then run: two stacked layers
#
# A transposed convolution with three uniform taps `[1, 1, 1]` and stride 2 turns a row
# of ones into `2, 1, 2, 1, ...`: away from the ends, the largest value is twice the
# smallest. Feed that row into a second, identical layer (as FCN-8s stacks its
# upsampling layers). **Before running anything**, predict the ratio of the largest to the
# smallest value in the interior of the result, and write it as a number in `PREDICTION`.
# The check cell then measures it (`upsampling_demos.stack_on_constant`) and compares.
#
# *Not allowed:* running code to find the number; reason with the scatter-add picture.

# %% [markdown]
# <details><summary>Hint 1: even and odd outputs</summary>
#
# Which taps of the second layer reach an even output pixel, and which an odd one?
#
# </details>
#
# <details><summary>Hint 2: what they receive</summary>
#
# An even output pixel receives taps 0 and 2 from two neighbouring pixels of the
# `2, 1, 2, 1` row; an odd one receives tap 1 from a single pixel.
#
# </details>

# %% tags=["exercise"]
# Not allowed here: running code to find the number.
# BEGIN SOLUTION 3.5: predict the largest / smallest ratio after two stacked layers
# STUB: PREDICTION = ...
PREDICTION = 3  # even outputs: always 2 + 1 = 3; odd outputs: 2 or 1 in turn, so 3 / 1
# END SOLUTION

# %% tags=["check"]
checks.check_stacked_checkerboard_prediction(PREDICTION)

# %% [markdown]
# ## What you built
#
# - 3.1: a transposed convolution is a scatter-add of kernel copies, s pixels apart;
#   Keras' kernel layout is (kh, kw, C_out, C_in), and nothing is flipped.
# - 3.2: FCN's bilinear kernel: size 2f - f mod 2, a tent centred on the kernel's middle
#   (f - 0.5 for even sizes, f - 1 for odd ones), per channel only; it sums to f².
# - 3.3: the output length, from the picture: the copies cover `(n - 1)·s + k` pixels;
#   'same' returns `n·s`; 'valid' never fewer than `n·s`; `output_padding` adjusts the
#   length Keras computes from the padding it assumes.
# - 3.4: a constant comes out flat exactly when the phase sums are equal, whatever the
#   overlap: the ×3 bilinear kernel (k = 5, s = 3) is flat, a random k = 2s kernel is not.
# - 3.5: stacked layers compound: two k = 3, s = 2 layers give a ratio of 3, period 4.
#
# Next: lesson 04 builds FCN-32s, whose last layer is your bilinear kernel of size 64.
