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
# Write `bilinear_kernel(factor, channels)`: FCN's initialisation of a `Conv2DTranspose`
# that upsamples by `factor` (lesson 03, section 5), as a numpy array of shape
# `(k, k, channels, channels)` with `k = 2·factor - factor % 2` (Caffe's bilinear-filler
# rule: 4 taps for ×2, 5 for ×3).
#
# Derive the taps from the lesson's picture: the copy of one input pixel is a tent, 1 at
# that pixel's own position, falling linearly with the distance in output pixels, and 0
# at its neighbours' positions, `factor` output pixels away; the tent is centred on the
# kernel's middle. Work out the taps for k = 4 and for k = 5 first, then the rule for any
# factor. The 2-D filter is the product of a row tent and a column tent; classes must not mix.
#
# *Not allowed:* `fcn_lessons.upsampling` (its `bilinear_taps` and `bilinear_kernel` are
# the answer), the course's `fcn_lessons.models.BilinearUpsampling`, and Keras initialisers.

# %% [markdown]
# <details><summary>Hint 1: one dimension first</summary>
#
# Build the 1-D tent as an array of k numbers, then the 2-D filter from two of them.
#
# </details>
#
# <details><summary>Hint 2: where is the middle?</summary>
#
# Number the taps 0 .. k - 1. For k = 5 the middle is a tap; for k = 4 it falls between
# two taps. Either way the tent is symmetric about it: your taps must read the same backwards.
#
# </details>

# %% [markdown]
# <details><summary>Hint 3: how fast does it fall?</summary>
#
# From the middle to a neighbour's position is `factor` output pixels, and neighbouring
# taps are one output pixel apart. Compare your ×2 taps with the kernel section 5 prints.
#
# </details>
#
# <details><summary>Hint 4: keeping classes apart</summary>
#
# Start from zeros and fill only `kernel[:, :, i, i]` for each channel i.
#
# </details>

# %% tags=["exercise"]
# Not allowed here: fcn_lessons.upsampling, fcn_lessons.models.BilinearUpsampling, Keras initialisers.
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
# Write `transposed_conv_output_size(input_size, kernel_size, stride, padding)`: the
# length of `keras.layers.Conv2DTranspose`'s output along one axis, as an int, for
# `padding` 'valid' or 'same' (and `output_padding` left at its default, None).
#
# Derive it, do not look it up: draw the copies of a short row (the lesson's sections 3.1
# and 4), and use the lesson's table of lengths measured on the layer, its rows without an
# `out_pad`, as your data. Your rule must reproduce those rows; the check tries more cases
# than it shows. (`output_padding` is left out: it is a Keras convention that sets the
# length by decree, which no picture of the copies can derive.)
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
# Look at the table's 'same' rows: which of its columns does Keras' length match, whatever
# k is? Why is that the length an FCN decoder wants?
#
# </details>

# %% [markdown]
# <details><summary>Hint 3: 'valid' with a short kernel</summary>
#
# Compare the table's "copies cover" and "Keras" columns for k = 1: which is larger? Keras
# keeps a slot of s output pixels for every input pixel, even where the copy is shorter
# than its slot.
#
# </details>

# %% tags=["exercise"]
# Not allowed here: Keras / TensorFlow, fcn_lessons.upsampling.
def transposed_conv_output_size(input_size, kernel_size, stride, padding):
    """Output length of Conv2DTranspose along one axis (an int), output_padding=None."""
    # BEGIN SOLUTION 3.3: derive Keras' Conv2DTranspose output length
    n, k, s = input_size, kernel_size, stride
    covered = (n - 1) * s + k  # the last copy starts at (n - 1)·s and is k long
    return n * s if padding == "same" else max(covered, n * s)
    # END SOLUTION


# %% tags=["check"]
checks.check_transposed_conv_output_size(transposed_conv_output_size)

# %% [markdown]
# ## Exercise 3.4: phase sums, flatness, and a balanced kernel of your own
#
# **Part 1.** Write `analyse_phases(kernel, stride)` for a single-channel kernel (a
# (kh, kw) numpy array) and an int stride s. Return a pair `(sums, flat)`:
# - `sums`: an (s, s) array; `sums[p, q]` is the value of an interior output pixel (y, x)
#   with `y % s == p` and `x % s == q` when the transposed convolution receives a constant
#   input of 1. Work out which taps of which copies reach such a pixel;
# - `flat`: True when that output is the same at every interior pixel, else False.
#
# The check tries bilinear kernels, uniform and random ones, and kernels balanced by hand.

# %% [markdown]
# **Part 2.** Set `BALANCED_KERNEL` to a 5×5 kernel of your own design that stride 3 turns
# a constant into a constant, every tap positive, and not the ×3 bilinear kernel (nor a
# multiple of it). At k = 5, s = 3 the copies overlap unevenly: your kernel shows what
# really decides.
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
# <details><summary>Hint 2: what one interior pixel receives</summary>
#
# Take one interior output pixel and list the copies that reach it: which tap of each?
# Could it receive the same tap twice, or miss one of its phase?
#
# </details>
#
# <details><summary>Hint 3: comparing floats</summary>
#
# Two sums that should be equal may differ in their last bits: decide "all equal" with
# a tolerance (`np.allclose`).
#
# </details>

# %% [markdown]
# <details><summary>Hint 4: design one row first</summary>
#
# At stride 3, which of the 5 taps of a row land in the same phase? What must hold
# between the three phases' totals?
#
# </details>
#
# <details><summary>Hint 5: from a row to a kernel</summary>
#
# The taps of one phase of `np.outer(row, column)` are the products of a row phase's taps
# with a column phase's taps. What does such a phase add up to when both are balanced?
#
# </details>

# %% tags=["exercise"]
# Not allowed here: fcn_lessons.upsampling, Keras / TensorFlow.
# BEGIN SOLUTION 3.4: compute the phase sums, decide flatness, and design a balanced 5×5 kernel
# STUB: def analyse_phases(kernel, stride):
# STUB:     """(kh, kw) kernel, int stride -> ((stride, stride) phase sums, bool: a constant comes out flat)."""
# STUB:     raise NotImplementedError("Exercise 3.4: compute the phase sums and decide flatness")
# STUB:
# STUB:
# STUB: BALANCED_KERNEL = ...  # a 5×5 numpy array, every tap positive
def analyse_phases(kernel, stride):
    """(kh, kw) kernel, int stride -> ((stride, stride) phase sums, bool: a constant comes out flat)."""
    sums = np.zeros((stride, stride))
    for a in range(kernel.shape[0]):
        for b in range(kernel.shape[1]):
            sums[a % stride, b % stride] += kernel[a, b]  # tap (a, b) always lands on phase (a % s, b % s)
    return sums, bool(np.allclose(sums, sums[0, 0]))


BALANCED_ROW = np.array([1.0, 1.0, 2.0, 1.0, 1.0])  # phases {0, 3}, {1, 4}, {2}: 1 + 1 = 1 + 1 = 2
BALANCED_KERNEL = np.outer(BALANCED_ROW, BALANCED_ROW)  # every 2-D phase sums to 2 · 2 = 4
# END SOLUTION

# %% tags=["check"]
checks.check_analyse_phases(analyse_phases, BALANCED_KERNEL)

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
#   (f - 0.5 for even sizes, f - 1 for odd ones), falling by 1/f per tap, per channel
#   only; it sums to f².
# - 3.3: the output length, from the picture: the copies cover `(n - 1)·s + k` pixels;
#   'same' returns `n·s`; 'valid' never fewer than `n·s`.
# - 3.4: a constant comes out flat exactly when the phase sums are equal, whatever the
#   overlap: the ×3 bilinear kernel (k = 5, s = 3) is flat, and so is a kernel of your own
#   such as the outer product of `1, 1, 2, 1, 1`; a random k = 2s kernel is not.
# - 3.5: stacked layers compound: two k = 3, s = 2 layers give a ratio of 3, period 4.
#
# Next: lesson 04 builds FCN-32s, whose last layer is your bilinear kernel of size 64.
