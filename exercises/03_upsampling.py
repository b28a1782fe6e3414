# ---
# jupyter:
#   fcn_lessons:
#     exercises:
#     - '3.1'
#     - '3.2'
#     - '3.3'
#     - '3.4'
#     fingerprint: 46125358a5328d20
#     generated_from: solutions/03_upsampling.py
#     kind: exercises
#     lesson: '03'
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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/exercises/03_upsampling.ipynb)
#
# # Lesson 03 exercises: upsampling
#
# Four exercises to go with `notebooks/03_upsampling.ipynb`: you write the core of that
# lesson yourself, in numpy.
#
# **How to work.** Edit the cells marked *exercise*: replace the
# `raise NotImplementedError(...)` line with your code. Then run the *check* cell below
# it. A check tries your function on several cases against the course's reference; it
# prints one line when all pass, and otherwise stops at the first failing case with what
# was expected, what your code returned, and a hint. Checks are graded as shipped, so
# there is nothing to gain by editing them.
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
# into the output: for every kernel offset (a, b), `kernel[a, b] @ x[i, j]` (C_out
# numbers) is added to output pixel `(i·stride + a, j·stride + b)`. Where copies overlap,
# they add up. Return the full output, of shape
# `((H - 1)·stride + kh, (W - 1)·stride + kw, C_out)`: what
# `keras.layers.Conv2DTranspose(C_out, (kh, kw), strides=stride, padding='valid')`
# computes (when kh, kw ≥ stride).

# %% tags=["exercise"]
def transposed_conv2d(x, kernel, stride):
    """(H, W, C_in) image, (kh, kw, C_out, C_in) kernel, int stride -> ((H-1)s+kh, (W-1)s+kw, C_out)."""
    # Exercise 3.1: scatter-add a weighted kernel copy for every input pixel
    # Hint: start from np.zeros(((H - 1) * stride + kh, (W - 1) * stride + kw, C_out)).
    # Hint: kernel[a, b] is a (C_out, C_in) matrix; use +=, copies overlap.
    raise NotImplementedError("Exercise 3.1: scatter-add a weighted kernel copy for every input pixel")


# %% tags=["check"]
checks.check_transposed_conv2d(transposed_conv2d)

# %% [markdown]
# ## Exercise 3.2: the bilinear kernel
#
# Write `bilinear_kernel(factor, channels)` returning the FCN initialisation of a
# `Conv2DTranspose` that upsamples by `factor`, as a numpy array of shape
# `(k, k, channels, channels)`:
# - kernel size `k = 2·factor - factor % 2`;
# - centre `c = factor - 0.5` when k is even, `factor - 1` when k is odd;
# - the weight of tap (a, b) is `(1 - |a - c| / factor) · (1 - |b - c| / factor)`;
# - channel i feeds only output channel i: the filter goes at `[:, :, i, i]`, every
#   other entry is zero.

# %% tags=["exercise"]
def bilinear_kernel(factor, channels):
    """int factor, int channels -> (k, k, channels, channels) bilinear Conv2DTranspose kernel."""
    # Exercise 3.2: build the per-channel bilinear kernel
    # Hint: the 2-D filter is np.outer of a 1-D tent with itself.
    # Hint: kernel[:, :, i, i] = filter for each channel i; nothing between different channels.
    raise NotImplementedError("Exercise 3.2: build the per-channel bilinear kernel")


# %% tags=["check"]
checks.check_bilinear_kernel(bilinear_kernel)

# %% [markdown]
# ## Exercise 3.3: the output size of Conv2DTranspose
#
# Write `transposed_conv_output_size(input_size, kernel_size, stride, padding,
# output_padding=None)`: the length of `keras.layers.Conv2DTranspose`'s output along one
# axis, as an int, for `padding` 'valid' or 'same'. The lesson's table (section 4) has
# the rules; derive them from the scatter-add if you can: the full output is
# `(n - 1)·s + k` long.

# %% tags=["exercise"]
def transposed_conv_output_size(input_size, kernel_size, stride, padding, output_padding=None):
    """Output length of Conv2DTranspose along one axis (an int)."""
    # Exercise 3.3: return Keras' Conv2DTranspose output length
    # Hint: without output_padding, 'same' gives input_size * stride.
    # Hint: 'valid' pads the full scatter-add to input_size * stride when kernel_size < stride.
    # Hint: with output_padding: (n - 1) * s + k - 2 * pad + output_padding, pad = k // 2 for 'same'.
    raise NotImplementedError("Exercise 3.3: return Keras' Conv2DTranspose output length")


# %% tags=["check"]
checks.check_transposed_conv_output_size(transposed_conv_output_size)

# %% [markdown]
# ## Exercise 3.4: which (kernel, stride) pairs make checkerboards?
#
# Write `makes_checkerboard(kernel_size, stride)` returning True when the kernel copies
# of a transposed convolution overlap **unevenly**, i.e. when some output pixels in the
# interior receive more copies than others (Odena, Dumoulin and Olah, 2016). Reason it
# out before you code it: along one axis, output pixel o receives the kernel taps t
# (0 ≤ t < k) with t ≡ o (mod s). Careful with k = 2, s = 2.

# %% tags=["exercise"]
def makes_checkerboard(kernel_size, stride):
    """True when a transposed convolution with this kernel size and stride overlaps unevenly."""
    # Exercise 3.4: predict uneven overlap from the kernel size and stride
    # Hint: count the taps t in range(kernel_size) with t % stride == o for each o in range(stride).
    # Hint: the counts are all equal exactly when ... divides ...
    raise NotImplementedError("Exercise 3.4: predict uneven overlap from the kernel size and stride")


# %% tags=["check"]
checks.check_makes_checkerboard(makes_checkerboard)

# %% [markdown]
# ## What you built
#
# - 3.1: a transposed convolution is a scatter-add of kernel copies, s pixels apart;
#   Keras' kernel layout is (kh, kw, C_out, C_in), and nothing is flipped.
# - 3.2: FCN's bilinear kernel: size 2f (2f - 1 for odd f), centre f - 0.5, per channel
#   only; it sums to f², so a constant map stays constant.
# - 3.3: the output length `n·s + max(k - s, 0)`, `n·s`, or `(n - 1)·s + k - 2·pad + p`.
# - 3.4: uneven overlap, and so a checkerboard, exactly when the stride does not divide
#   the kernel size; k = s and k = 2s are safe.
#
# Next: lesson 04 builds FCN-32s, whose last layer is your bilinear kernel of size 64.
