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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/notebooks/03_upsampling.ipynb)
#
# # Lesson 03: upsampling, from nearest neighbour to transposed convolutions
#
# A classification network shrinks its input: VGG16's five 2×2 max poolings leave one
# score vector per 32×32 block of pixels. *Fully Convolutional Networks for Semantic
# Segmentation* (Long, Shelhamer and Darrell, CVPR 2015) needs a class for every pixel,
# so it must bring those coarse score maps back to the input's resolution: it
# **upsamples**. This lesson takes apart every way of doing that, with a numpy version
# of each next to the Keras layer it explains, and checks that they agree.

# %% [markdown]
# **You will leave knowing**
# - nearest and bilinear interpolation, and bilinear's two corner conventions
#   (half-pixel centres vs `align_corners=True`): which library uses which;
# - what a transposed convolution computes, four ways: a scatter-add of kernel copies,
#   the transpose of a convolution's matrix, the gradient of a convolution, and a
#   convolution of a zero-stuffed input; why "deconvolution" is a misnomer;
# - the output size of `Conv2DTranspose`, and an error Keras does not warn about;
# - FCN's bilinear initialisation (per channel), what it does at the border of FCN-32s,
#   and what the paper and the reference code each learned or kept fixed;
# - max-unpooling with switches, depth-to-space, and a channel-order trap when porting;
# - checkerboard artifacts: what decides them (the *phase sums* of the kernel, not the
#   overlap alone), how they compound across layers, and how to avoid them; two explorers.

# %% [markdown]
# **Prerequisites:** lesson 01 (score maps at an output stride); strided convolutions and
# Keras layers; numpy indexing.
#
# **Run time:** 71 s on two CPU cores shared with other jobs, 24 s of it CPU time (measured:
# `docs/RESULTS.md`); most of it is section 6, which trains two small Keras models. A GPU run has not
# been measured.
#
# The exercises are in `exercises/03_upsampling.ipynb`.
#
# Sections marked **(first pass: skip)** deepen a point; nothing later depends on them.

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

# %%
import re
import time

import cv2
import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from fcn_lessons import data, photo, upsampling, widgets
from fcn_lessons import upsampling_demos as demos

rng = np.random.default_rng(0)
np.set_printoptions(precision=3, suppress=True)
# Float32 arithmetic: two computations of the same sum may round differently.
FLOAT32_TOLERANCE = 1e-5

# %% [markdown]
# ## 1. Why upsample, and what write-ups get wrong
#
# Lesson 01 turned a classifier into a network that outputs a coarse map of class scores:
# one score vector per output position, at an *output stride* S (4 there, 32 for VGG16).
# To label every pixel, FCN upsamples that map by S. Popular write-ups of FCN (including
# the blog post this course grew from, whose words are quoted in Chinese) get this part
# wrong in instructive ways:
#
# - *FCN does not use pooling* ("FCN并没有使用池化层"): it does. VGG16's five max poolings
#   are exactly why the score map is 32 times smaller than the image and has to be upsampled.
# - *A 1×1 convolution is also called an upsampling layer* ("1×1的卷积层（有时也称为上采样层，
#   upsample layer）"): no. A 1×1 convolution scores classes at each position (lesson 01);
#   it never changes the resolution.

# %% [markdown]
# - *Deconvolution restores elements to the space of the original image*
#   ("把一组特定的元素恢复到原始图像的空间上"): the layer FCN (and Caffe) calls
#   *Deconvolution* is a **transposed convolution**. It does not invert a convolution
#   (section 3 shows what it does compute). The paper itself describes upsampling by f
#   as backwards strided convolution: a convolution with a fractional input stride of 1/f.
# - A made-up taxonomy of deconvolution, inverse up-convolution and interpolation layers
#   ("逆卷积层、逆上卷积层和插值层"): the real menu is interpolation (nearest, bilinear),
#   transposed convolution (learned, or initialised to bilinear), unpooling with switches,
#   and depth-to-space. This lesson covers all of them.
#
# ## 2. Nearest and bilinear interpolation, and their corner conventions
#
# **Nearest neighbour** repeats every pixel f×f times; that is Keras'
# `UpSampling2D(f)`. **Bilinear** interpolation reads the input at a fractional *source
# coordinate* for each output pixel and mixes the two nearest input pixels along each axis.

# %% [markdown]
# Which source coordinate belongs to output pixel `o`? Two conventions are in use:
#
# - **half-pixel centres**: pixel `i` is the square `[i, i + 1)` with its centre at
#   `i + 0.5`; output pixel `o` (centre `o + 0.5` in output units) reads the input at
#   `(o + 0.5) / f - 0.5`, clamped to the image. The image keeps its extent; each input
#   pixel covers exactly f×f output pixels.
# - **`align_corners=True`**: the centres of the corner pixels of input and output
#   coincide; output pixel `o` reads `o · (n - 1) / (n·f - 1)`. The scale is then
#   `(n - 1) / (n·f - 1)` instead of `1 / f`.
#
# A 2×2 image (four pixels) is enough to see them differ:

# %%
four_pixels = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
print("input:\n", four_pixels)
print("nearest ×2:\n", upsampling.nearest_upsample(four_pixels, 2))
print("bilinear ×2, half-pixel centres:\n", upsampling.bilinear_upsample(four_pixels, 2))
print("bilinear ×2, align_corners=True:\n", upsampling.bilinear_upsample(four_pixels, 2, align_corners=True))

# %% [markdown]
# Half-pixel centres put the first output pixel a quarter of an input pixel from the
# first input centre (weights 0.75/0.25); align_corners puts it exactly on it and
# stretches the rest (thirds). Which convention does each library use? We resize the
# same row `[0, 1]` to 4 pixels with each of them:

# %%
ROW = np.array([[0.0, 1.0]], np.float32)  # one row of two pixels
batch = ROW[None, :, :, None]  # NHWC
LIBRARIES = {
    "numpy reference, half-pixel": upsampling.bilinear_upsample(ROW, (1, 2)),
    "numpy reference, align_corners": upsampling.bilinear_upsample(ROW, (1, 2), align_corners=True),
    "tf.image.resize (TF2)": tf.image.resize(batch, (1, 4), "bilinear"),
    "keras UpSampling2D(bilinear)": keras.layers.UpSampling2D((1, 2), interpolation="bilinear")(batch),
    "keras.ops.image.resize": keras.ops.image.resize(batch, (1, 4), interpolation="bilinear"),
    "cv2.resize INTER_LINEAR": cv2.resize(ROW, (4, 1), interpolation=cv2.INTER_LINEAR),
    "tf.compat.v1 resize_bilinear, default": tf.compat.v1.image.resize_bilinear(batch, (1, 4)),
    "tf.compat.v1 resize_bilinear, align_corners": tf.compat.v1.image.resize_bilinear(batch, (1, 4),
                                                                                      align_corners=True),
}
for name, result in LIBRARIES.items():
    print(f"{name:40s} {np.asarray(result).ravel()}")

# %% [markdown]
# So: TF2's `tf.image.resize`, Keras (`UpSampling2D`, `keras.ops.image.resize`) and
# OpenCV use **half-pixel centres**, as does PyTorch's `F.interpolate` by default
# (`align_corners=False`; its `nn.UpsamplingBilinear2d` uses `align_corners=True`). TF1's
# `resize_bilinear` had a third, *asymmetric* default (`o / f`, no half-pixel offset:
# `[0, 0.5, 1, 1]`) that shifts the image by `(1 - 1/f) / 2` input pixels (a quarter
# pixel at ×2, nearly half a pixel at ×32); it survives in `tf.compat.v1` and in models
# ported from TF1.
#
# On a photograph (matplotlib's sample picture of Grace Hopper, `fcn_lessons.photo`),
# averaged ×8 down as a score map at FCN-8s's stride would be, then brought back:

# %%
PHOTO_SIDE = 128  # pixels: the photograph's central square, resized
PHOTO_FACTOR = 8  # FCN-8s's output stride
portrait = photo.grace_hopper(PHOTO_SIDE)
fig, upsampled = demos.show_interpolations(portrait, PHOTO_FACTOR)
plt.show()
shift = np.abs(upsampled["bilinear, half-pixel centres"] - upsampled["bilinear, align_corners=True"])
print(f"half-pixel vs align_corners: mean |difference| {shift.mean():.3f}, largest {shift.max():.3f} "
      "(pixel values in [0, 1])")

# %% [markdown]
# Nearest shows the 8×8 blocks; the two bilinear versions look alike, yet they differ
# most along edges and towards the borders, where align_corners stretches the image.
# How far apart are they? The source coordinate of every output pixel, for ×8 upsampling
# of a 16-pixel row: the conventions disagree by up to 0.4 of an input pixel (over 3
# output pixels) near the borders. A network trained with one and run with the other
# sees its predictions shifted by that much: small for a photo, large for a one-pixel
# boundary.

# %%
SIDE, FACTOR = 16, 8  # a 16-pixel row upsampled ×8, like an FCN-8s score map
outputs = np.arange(SIDE * FACTOR)
half_pixel = np.clip((outputs + 0.5) / FACTOR - 0.5, 0, SIDE - 1)
corners = outputs * (SIDE - 1) / (SIDE * FACTOR - 1)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
axes[0].plot(outputs, half_pixel, label="half-pixel centres")
axes[0].plot(outputs, corners, label="align_corners=True")
axes[0].set(xlabel="output pixel", ylabel="source coordinate (input pixels)", title=f"×{FACTOR} of {SIDE} pixels")
axes[0].legend()
axes[1].plot(outputs, (half_pixel - corners) * FACTOR)
axes[1].set(xlabel="output pixel", ylabel="difference (output pixels)", title="half-pixel minus align_corners")
plt.tight_layout()
plt.show()
print(f"largest disagreement: {np.abs(half_pixel - corners).max():.3f} input pixels "
      f"= {FACTOR * np.abs(half_pixel - corners).max():.1f} output pixels")

# %% [markdown]
# **Label maps are never interpolated bilinearly.** Bilinear mixes neighbouring values;
# for class ids that produces ids that do not exist (halfway between "circle" = 1 and
# "triangle" = 3 lies "square" = 2), and it blurs the void label 255 into its
# neighbours. Resize masks with nearest neighbour, and upsample *scores* (one channel per
# class) bilinearly, then take the argmax. Four labels are enough to see it:

# %%
label_map = np.array([[0, 1], [3, data.VOID_LABEL]], np.uint8)  # background, circle, triangle, void
print("label map:\n", label_map)
print("nearest ×2 keeps the labels:\n", upsampling.nearest_upsample(label_map, 2))
print("bilinear ×2 invents new ones:\n", upsampling.bilinear_upsample(label_map, 2))

# %% [markdown]
# ## 3. Transposed convolution, four ways
#
# ### 3.1 A scatter-add of kernel copies
#
# A strided convolution *gathers*: each output is a weighted sum of a window of inputs,
# and the windows start s pixels apart. A transposed convolution *scatters*: every input
# pixel adds a copy of the kernel, scaled by its value, into the output, and the copies
# start s pixels apart; where copies overlap, they add up. In one dimension, with input
# `[1, 2, 3]`, kernel `[1, 10, 100]` and stride 2:

# %%
x_1d = np.array([1.0, 2.0, 3.0])
kernel_1d = np.array([1.0, 10.0, 100.0])
STRIDE_1D = 2
length = (len(x_1d) - 1) * STRIDE_1D + len(kernel_1d)  # where the last copy ends
copies = np.zeros((len(x_1d), length))
for i, value in enumerate(x_1d):
    copies[i, i * STRIDE_1D:i * STRIDE_1D + len(kernel_1d)] = value * kernel_1d
for i, row in enumerate(copies):
    print(f"copy of x[{i}] = {x_1d[i]:.0f}:", row.astype(int))
print("sum (the output):    ", copies.sum(axis=0).astype(int))
layer_1d = keras.layers.Conv2DTranspose(1, (1, 3), strides=(1, STRIDE_1D), use_bias=False)
layer_1d.build((None, 1, 3, 1))
layer_1d.set_weights([kernel_1d.reshape(1, 3, 1, 1)])
print("keras Conv2DTranspose:", np.asarray(layer_1d(x_1d.reshape(1, 1, 3, 1))).ravel().astype(int))

# %% [markdown]
# In 2-D the copies are squares. Below, a 2×2 input scatters four copies of a 3×3 kernel
# of ones, 2 pixels apart. The input values 1, 10, 100 and 1000 make the output's digits
# tell which copies reached each pixel: the centre, 1111, received all four; the
# corners, one each. The last copy starts at `(n - 1)·s` and is k wide, so the full
# output here is `(2 - 1)·2 + 3 = 5` pixels on a side.

# %%
DIGITS = np.array([[1, 10], [100, 1000]])  # one decimal digit per input pixel
fig = demos.draw_scatter_add_2d(DIGITS, np.ones((3, 3)), stride=2)
plt.show()

# %% [markdown]
# With channels the same holds: input pixel `x[i, j]` (a vector of C_in values) adds
# `kernel[a, b] @ x[i, j]` to output pixel `(i·s + a, j·s + b)` for every kernel offset
# `(a, b)`. Keras stores a `Conv2DTranspose` kernel as **(kh, kw, C_out, C_in)**: the
# last two axes are swapped relative to `Conv2D`'s (kh, kw, C_in, C_out), because the
# layer runs a convolution backwards. `upsampling.transposed_conv2d` is this scatter-add
# (looping over the kh·kw offsets rather than the pixels: the same sum), with Keras'
# cropping for 'same' padding:

# %% tags=["nbval-ignore-output"]
x = rng.standard_normal((2, 5, 6, 3)).astype("float32")
for padding in ("valid", "same"):
    layer = keras.layers.Conv2DTranspose(4, 3, strides=2, padding=padding, use_bias=False)
    keras_out = np.asarray(layer(x))
    ours = upsampling.transposed_conv2d(x, layer.get_weights()[0], 2, padding)
    difference = np.abs(keras_out - ours).max()
    print(f"padding={padding!r}: kernel {layer.kernel.shape}, output {ours.shape}, max |Keras - numpy| = {difference:.1e}")
    assert difference < FLOAT32_TOLERANCE

# %% [markdown]
# ### 3.2 The transpose of the convolution matrix
#
# A convolution is linear, so it is a matrix: flatten the input to a vector, and
# `conv(x) = M @ x`. Each row of M holds the kernel at the positions its window covers.
# For a 5×5 input, a 3×3 kernel and stride 2 ('valid'), there are 2×2 outputs, so M is
# 4×25. Its transpose M.T is 25×4: it maps 4 numbers back to a 5×5 image, and each
# *row* of M (a column of M.T: one kernel copy) is where one of them goes. That is the
# scatter-add, and the reason for the name **transposed** convolution (Dumoulin and
# Visin, *A guide to convolution arithmetic for deep learning*, 2016).

# %%
IMAGE_SIDE, KERNEL_SIDE, STRIDE = 5, 3, 2
kernel_2d = np.arange(1, KERNEL_SIDE ** 2 + 1, dtype=np.float32).reshape(KERNEL_SIDE, KERNEL_SIDE)
M = upsampling.conv_matrix((IMAGE_SIDE, IMAGE_SIDE), kernel_2d, STRIDE)
print("kernel:\n", kernel_2d)
print("convolution matrix M:", M.shape, "  its transpose:", M.T.shape)
fig = plt.figure(figsize=(11, 4.6))
top = fig.add_subplot(2, 1, 1)
top.imshow(M, cmap="viridis")
top.set(title="M: row r holds the kernel where output r looks", xlabel="input pixel (row-major)", ylabel="output r")
for r in range(M.shape[0]):
    ax = fig.add_subplot(2, M.shape[0], M.shape[0] + r + 1)
    ax.imshow(M.T[:, r].reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="viridis")
    ax.set_title(f"column {r} of M.T, as 5×5", fontsize=9)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
image = rng.standard_normal((IMAGE_SIDE, IMAGE_SIDE)).astype("float32")
conv = keras.layers.Conv2D(1, KERNEL_SIDE, strides=STRIDE, use_bias=False)
conv.build((None, IMAGE_SIDE, IMAGE_SIDE, 1))
conv.set_weights([kernel_2d[:, :, None, None]])
by_matrix = (M @ image.ravel()).reshape(2, 2)
by_keras = np.asarray(conv(image[None, :, :, None]))[0, :, :, 0]
print(f"conv: max |M @ x - Keras Conv2D| = {np.abs(by_matrix - by_keras).max():.1e}")
assert np.allclose(by_matrix, by_keras, atol=1e-4)

y = rng.standard_normal((2, 2)).astype("float32")
back_by_matrix = (M.T @ y.ravel()).reshape(IMAGE_SIDE, IMAGE_SIDE)
back_by_scatter = upsampling.transposed_conv2d(y[:, :, None], kernel_2d[:, :, None, None], STRIDE)[:, :, 0]
print(f"transposed: max |M.T @ y - scatter-add| = {np.abs(back_by_matrix - back_by_scatter).max():.1e}")
assert np.allclose(back_by_matrix, back_by_scatter, atol=1e-4)

# %% [markdown]
# ### 3.3 The gradient of a convolution (first pass: skip)
#
# If `z = M @ x`, the gradient of any loss with respect to x is `M.T @ (dloss/dz)`. So a
# transposed convolution is exactly what backpropagation through a convolution computes
# for its input, which is how TensorFlow implements `Conv2DTranspose`
# (`Conv2DBackpropInput`). Check it with `GradientTape`: the gradient of
# `sum(conv(x) * y)` is the transposed convolution of y with the *same* kernel array
# (read as Conv2D's (kh, kw, C_in, C_out) by the convolution and as Conv2DTranspose's
# (kh, kw, C_out, C_in) by the transposed one: the same numbers).

# %% tags=["nbval-ignore-output"]
conv_kernel = rng.standard_normal((4, 4, 3, 2)).astype("float32")  # Conv2D: 3 in, 2 out
x_in = tf.constant(rng.standard_normal((1, 10, 10, 3)).astype("float32"))
y_out = rng.standard_normal((1, 4, 4, 2)).astype("float32")  # the shape of conv(x_in)
with tf.GradientTape() as tape:
    tape.watch(x_in)
    total = tf.reduce_sum(tf.nn.conv2d(x_in, conv_kernel, strides=2, padding="VALID") * y_out)
gradient = np.asarray(tape.gradient(total, x_in))
transposed = upsampling.transposed_conv2d(y_out, conv_kernel, 2)
print(f"gradient {gradient.shape}, transposed conv {transposed.shape}: "
      f"max |difference| = {np.abs(gradient - transposed).max():.1e}")
assert np.allclose(gradient, transposed, atol=1e-4)

# %% [markdown]
# ### 3.4 A convolution of a zero-stuffed input (first pass: skip)
#
# Seen from the output side, the scatter-add is an ordinary convolution: insert s - 1
# zeros between the input pixels (the *fractional input stride* 1/s), pad k - 1 zeros on
# every side, and slide the kernel over it, **flipped** in both axes (output pixel o
# meets tap t of the copy of input (o - t)/s, so the taps arrive in reverse order) and
# read in Conv2D's layout. With stride 1 nothing is inserted: a transposed convolution
# *is* a convolution, with 'full' padding and the flipped kernel. Keras' own `Conv2D`
# on the stuffed input gives `Conv2DTranspose`'s output:

# %% tags=["nbval-ignore-output"]
x_small = rng.standard_normal((1, 3, 3, 2)).astype("float32")
for stride in (1, 2):
    layer = keras.layers.Conv2DTranspose(4, KERNEL_SIDE, strides=stride, use_bias=False)
    expected = np.asarray(layer(x_small))
    kernel = layer.get_weights()[0]  # (3, 3, 4 out, 2 in)
    stuffed = upsampling.insert_zeros(x_small, stride)  # s - 1 zeros between neighbours
    edge = KERNEL_SIDE - 1
    padded = np.pad(stuffed, ((0, 0), (edge, edge), (edge, edge), (0, 0)))
    conv = keras.layers.Conv2D(4, KERNEL_SIDE, use_bias=False)  # stride 1, 'valid'
    conv.build(padded.shape)
    conv.set_weights([kernel[::-1, ::-1].transpose(0, 1, 3, 2)])  # flipped; (kh, kw, in, out)
    by_conv = np.asarray(conv(padded))
    print(f"stride {stride}: stuffed input {stuffed.shape[1:3]}, Conv2D {by_conv.shape[1:3]} vs Conv2DTranspose "
          f"{expected.shape[1:3]}: max |difference| = {np.abs(by_conv - expected).max():.1e}")
    assert np.allclose(by_conv, expected, atol=FLOAT32_TOLERANCE)
    assert np.allclose(upsampling.transposed_conv2d_by_zero_insertion(x_small, kernel, stride), expected,
                       atol=FLOAT32_TOLERANCE)
print("the stuffed input (stride 2, channel 0):\n", upsampling.insert_zeros(x_small, 2)[0, :, :, 0])

# %% [markdown]
# The zero-stuffed view costs about s² times more multiplications (most of them by zero);
# TensorFlow computes the layer as the gradient of a convolution instead (section 3.3).
# It is the picture behind the name *fractionally strided convolution*.
#
# ### Why "deconvolution" is a misnomer
#
# *Deconvolution* means undoing a convolution: recovering x from `M @ x` (as in image
# deblurring). A transposed convolution applies M.T, not an inverse. M is not even
# square here (4×25), so no inverse exists; the closest thing, the least-squares
# pseudo-inverse, is a different matrix, and convolving then transposed-convolving does
# not give x back:

# %% tags=["nbval-ignore-output"]
round_trip = (M.T @ (M @ image.ravel())).reshape(IMAGE_SIDE, IMAGE_SIDE)
print(f"|| M.T M x - x || / || x || = {np.linalg.norm(round_trip - image) / np.linalg.norm(image):.2f}"
      "   (an inverse would give 0)")
print(f"max |M.T - pinv(M)| = {np.abs(M.T - np.linalg.pinv(M)).max():.2f}")
assert not np.allclose(round_trip, image, atol=0.1)

# %% [markdown]
# Better names exist and are used: *transposed convolution* (Keras, TF, PyTorch),
# *fractionally strided convolution* (stride 1/f), *backwards strided convolution* (the
# FCN paper). Zeiler and Fergus's "deconvnet" visualisations are yet another thing.
#
# ## 4. The output size of Conv2DTranspose
#
# The scatter-add picture gives the full length: the last copy starts at `(n - 1)·s`
# and is k wide, so the copies cover `(n - 1)·s + k` pixels. Keras then decides how much
# of that to return. With `padding='same'` it returns exactly `n·s`, s times the input,
# which is what an FCN decoder wants. The other cases, measured on the layer itself
# (exercise 3.3 asks you to derive, from the picture, the rule behind the last column of
# the rows without `output_padding`):

# %%
SIZE_EXAMPLES = [  # (n, k, s, padding, output_padding)
    (4, 4, 2, "valid", None), (4, 3, 2, "valid", None), (4, 1, 2, "valid", None),
    (4, 4, 2, "same", None), (4, 3, 2, "same", None), (4, 3, 2, "same", 1), (4, 4, 2, "same", 1),
    (7, 64, 32, "valid", None), (7, 64, 32, "same", None),
]
print(f"{'n':>3} {'k':>3} {'s':>3} {'padding':8s} {'out_pad':8s} {'n·s':>5s} {'copies cover':>13s} {'Keras':>6s}")
for n, k, s, padding, p in SIZE_EXAMPLES:
    layer = keras.layers.Conv2DTranspose(1, (k, 1), strides=(s, 1), padding=padding,
                                         output_padding=None if p is None else (p, 0))
    measured = layer(np.zeros((1, n, 1, 1), "float32")).shape[1]
    print(f"{n:3d} {k:3d} {s:3d} {padding:8s} {str(p):8s} {n * s:5d} {(n - 1) * s + k:13d} {measured:6d}")
    assert measured == upsampling.transposed_conv_output_size(n, k, s, padding, p)  # the course's rule agrees

# %% [markdown]
# Two traps. With 'valid' and k < s the output is n·s long and its last `s - k` pixels
# are zeros: no copy reaches them. And with 'same', an even k and `output_padding=0`,
# Keras asks for an output one stride *shorter* than n·s; TensorFlow's 'same' arithmetic
# maps that length back to fewer than n inputs, so the layer fails when called, with an
# error that does not say why:

# %% tags=["nbval-ignore-output"]
# 'same', even kernel, output_padding=0, on 4 pixels: Keras promises (4 - 1)·2 = 6 pixels
too_short = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", output_padding=0)
print("Keras' output shape:", too_short.compute_output_shape((1, 4, 4, 1)))
raised = None
try:
    too_short(np.zeros((1, 4, 4, 1), "float32"))
except tf.errors.OpError as err:  # which subclass depends on the CPU kernels TensorFlow uses
    raised = err
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # drop terminal colour codes
    detail = message.split("}}", 1)[-1].split("[Op:")[0].strip()
    print(f"{type(err).__name__}: {detail[:220]}")
assert raised is not None, "this call used to fail; if it works now, the trap is gone"

# %% [markdown]
# On this course's CPU TensorFlow uses oneDNN kernels, and the error is an `AbortedError`
# ("could not create a primitive descriptor"). With oneDNN switched off
# (`TF_ENABLE_ONEDNN_OPTS=0`) the same call raises an `InvalidArgumentError` that names
# the cause: "Size of out_backprop doesn't match computed: actual = 4, computed = 3". The
# 6-pixel output is, under 'same' with stride 2, the gradient of a map of 3 pixels, not 4
# (`docs/RESULTS.md` records both). Use `output_padding=None` with 'same'.

# %% [markdown]
# ## 5. Bilinear initialisation: a transposed convolution that interpolates
#
# Bilinear interpolation by an integer factor f is a transposed convolution: every input
# pixel spreads its value into the output with a tent-shaped weight, 1 at its own centre,
# falling linearly to 0 at the centres of its neighbours, f output pixels away. The
# kernel holds that tent, sampled once per output pixel and centred on the kernel's
# middle (exercise 3.2 asks you to work out its taps). The 2-D kernel is the outer
# product of two such tents, placed **only on the diagonal** (input channel i feeds
# output channel i), because each channel is the score of one class and classes must
# not mix.

# %% [markdown]
# Which size? Caffe's bilinear filler documents `k = 2f - f mod 2` (4 for ×2, 5 for ×3,
# 16 for ×8, 64 for ×32). The FCN reference code (shelhamer/fcn.berkeleyvision.org) sets
# its kernels with `surgery.upsample_filt(size)`, which takes the layer's kernel size and
# derives the factor from it, `(size + 1) // 2`; its VGG16 networks use `k = 2f` (4, 32,
# 16 and 64 for strides 2, 16, 8 and 32), and its FCN-AlexNet uses 63 for stride 32.
# `upsampling.bilinear_taps(f, k)` computes the tent (default size 2f - f mod 2), and
# `upsampling.bilinear_kernel(f, channels)` the Keras kernel:

# %%
print("×2 kernel, one channel (the FCN-16s/8s intermediate upsampling):\n", upsampling.bilinear_kernel(2, 1)[:, :, 0, 0])
print("×3 taps (odd factor: 5 taps):", upsampling.bilinear_taps(3))
for factor in (2, 3, 4, 8, 32):
    kernel = upsampling.bilinear_kernel(factor, 1)[:, :, 0, 0]
    print(f"×{factor}: size {kernel.shape[0]}, weights sum to {kernel.sum():.0f} = {factor}²")
kernel_x4 = upsampling.bilinear_kernel(4, 3)
print("×4 kernel for 3 channels:", kernel_x4.shape, " channel pairs with nonzero weights:",
      [(i, j) for i in range(3) for j in range(3) if kernel_x4[:, :, i, j].any()])

# %% [markdown]
# With `strides=f` and `padding='same'`, a `Conv2DTranspose` holding this kernel
# reproduces bilinear upsampling with half-pixel centres exactly, except at the border.
# There, `bilinear_upsample` clamps the source coordinate (it repeats the edge pixel),
# while the transposed convolution gets no copy from the missing pixel beyond the edge:
# the outermost f/2 rows and columns receive less than their full weight and come out
# darker.

# %%
BILINEAR_FACTOR = 4
COARSE_SIDE = 16  # the smallest course image: a coarse map with a couple of large shapes
coarse = data.make_shapes(1, image_size=COARSE_SIDE, seed=4, object_size=(0.4, 0.8))[0][0].astype("float32") / 255
bilinear_layer = keras.layers.Conv2DTranspose(3, 2 * BILINEAR_FACTOR, strides=BILINEAR_FACTOR, padding="same",
                                              use_bias=False)
bilinear_layer.build((None, *coarse.shape))
bilinear_layer.set_weights([upsampling.bilinear_kernel(BILINEAR_FACTOR, 3)])
by_layer = np.asarray(bilinear_layer(coarse[None]))[0]
by_resize = upsampling.bilinear_upsample(coarse, BILINEAR_FACTOR)
difference = np.abs(by_layer - by_resize).max(axis=2)
border = BILINEAR_FACTOR // 2
interior = (slice(border, -border), slice(border, -border))
print(f"interior (all but {border} pixels at each border) identical:", bool(np.all(difference[interior] <= FLOAT32_TOLERANCE)))
print("the border differs:", bool(np.any(difference > FLOAT32_TOLERANCE)))

# %%
fig, axes = plt.subplots(1, 4, figsize=(13, 3.3))
for ax, picture, title in zip(axes, [coarse, by_resize, np.clip(by_layer, 0, 1)],
                              ["coarse input 16×16", "bilinear_upsample ×4", "Conv2DTranspose, bilinear kernel"]):
    ax.imshow(picture, interpolation="nearest")
    ax.set_title(title)
axes[3].imshow(difference, cmap="magma", interpolation="nearest")
axes[3].set_title("|difference|: the border only")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### The classic mistake: mixing the classes
#
# A common mistake is to fill *every* channel pair with the tent (Caffe's bilinear
# filler does this unless the layer is grouped per channel). Output channel j then
# receives the sum of all input channels: every class gets the same score map.

# %%
mixing_kernel = np.repeat(np.repeat(upsampling.bilinear_kernel(BILINEAR_FACTOR, 1), 3, axis=2), 3, axis=3)
mixed = upsampling.transposed_conv2d(coarse, mixing_kernel, BILINEAR_FACTOR, "same")
print("output channels identical:", np.allclose(mixed[..., 0], mixed[..., 1]) and np.allclose(mixed[..., 1], mixed[..., 2]))
print(f"mean brightness, mixing kernel / per-channel kernel: {mixed.mean() / by_layer.mean():.2f}")
fig, axes = plt.subplots(1, 2, figsize=(6.5, 3.3))
axes[0].imshow(np.clip(by_layer, 0, 1))
axes[0].set_title("per channel (FCN)")
axes[1].imshow(np.clip(mixed / 3, 0, 1))
axes[1].set_title("every pair filled (÷3)")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### What FCN-32s's border receives
#
# The reference networks do not pad 'same'. FCN-32s upsamples its score map with a
# 'valid' transposed convolution, kernel 64 and stride 32, fixed to bilinear, and then
# crops 19 rows and columns at the top and left so the output lines up with the image (its
# 100-pixel input padding makes that possible; lesson 04 derives the offset). Does the
# image's border then get full interpolation? Measure what each output row receives,
# with the course's own functions:

# %%
border = demos.fcn32s_border()  # kernel 64, stride 32, crop 19: the reference's FCN-32s
single = np.flatnonzero(border["copies"] == 1)
inside = slice(single.max() + 1, None)
print(f"output rows {single.min()}-{single.max()}: one kernel copy, total weight "
      f"{border['weight'][single].min():.2f} to {border['weight'][single].max():.2f}")
print(f"rows {single.max() + 1} on: {sorted(int(c) for c in set(border['copies'][inside]))} copies, total weight "
      f"{border['weight'][inside].min():.2f} to {border['weight'][inside].max():.2f}")
BACKGROUND_SCORES = np.array([[3.0, 0.0, 0.0, 0.0, 0.0]])  # a coarse score vector: "background", clearly
cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
for row in (0, single.max(), single.max() + 1):
    logits = border["weight"][row] * BACKGROUND_SCORES  # what reaches the loss at this row
    print(f"row {row:2d}: weight {border['weight'][row]:.2f}, predicted class {int(np.argmax(logits))}, "
          f"cross-entropy {float(cross_entropy(np.array([0]), logits)[0]):.3f}")

# %% [markdown]
# So the border does reach the loss, changed: rows (and columns) 0 to 12 of every
# FCN-32s output receive a single kernel copy, whose weights run from 0.61 to 0.98, so
# their scores are damped by up to 39%. The prediction (the argmax) is unchanged, since
# every class's score is scaled alike, but the loss is not: for the same coarse scores
# the cross-entropy is 0.50 at row 0 and 0.19 at row 12, against 0.18 in the interior,
# and its gradient changes with it. The bottom and right edges depend on the input size.

# %% [markdown]
# ## 6. Learned or fixed? Bilinear versus random initialisation
#
# The CVPR paper initialised its upsampling layers to bilinear interpolation; it learned
# the intermediate ×2 layers of FCN-16s and FCN-8s and kept the last one fixed. The
# reference implementation fixes all of them: every `Deconvolution` in its `net.py`
# files has `lr_mult: 0`. Its README FAQ explains: "In our original experiments the
# interpolation layers were initialized to bilinear kernels and then learned. In
# follow-up experiments, and this reference implementation, the bilinear kernels are
# fixed. There is no significant difference in accuracy in our experiments, and fixing
# these parameters gives a slight speed-up."

# %% [markdown]
# What if we start from a random kernel instead? A tiny fitting task: upsample
# class-score maps ×8, as FCN-8s's last layer does. The input is each 8×8 block's class
# shares of its labelled pixels (`labels.class_shares_per_block`: a perfect but coarse
# score map, the one lesson 00's oracle upsamples); the target is the full-resolution
# label map; the loss is per-pixel softmax cross-entropy with the void label ignored. One
# `Conv2DTranspose(5, 16, strides=8, padding='same')` layer, no bias, trained with Adam
# from two initialisations (`upsampling_demos.fit_upsamplers`). The table's last column
# is each trained kernel's *artifact score* (defined in section 8.2): 0 when the kernel
# turns a map that says "background" everywhere into an output that does not vary with
# the position on the stride grid, larger the more it does.

# %%
SCORE_FACTOR = 8  # FCN-8s's last upsampling
MAP_SIZE = 64
NUM_TRAIN_MAPS = fcn_lessons.by_mode(full=512, quick=128)
NUM_VAL_MAPS = 64  # a fixed validation set, the same in both modes
EPOCHS = fcn_lessons.by_mode(full=10, quick=3)
LEARNING_RATE = 1e-2  # Adam; large because the layer is linear and tiny
BATCH = 32
_, train_maps = data.make_shapes(NUM_TRAIN_MAPS, image_size=MAP_SIZE, seed=1)
_, val_maps = data.make_shapes(NUM_VAL_MAPS, image_size=MAP_SIZE, seed=2)
train = (demos.block_class_shares(train_maps, SCORE_FACTOR, data.NUM_CLASSES), train_maps)
val = (demos.block_class_shares(val_maps, SCORE_FACTOR, data.NUM_CLASSES), val_maps)
print("one map: scores", train[0].shape[1:], "-> labels", train_maps.shape[1:])
INITIALISERS = {
    "bilinear": keras.initializers.Constant(upsampling.bilinear_kernel(SCORE_FACTOR, data.NUM_CLASSES)),
    "random (Glorot uniform, Keras' default)": "glorot_uniform",
}

# %% tags=["nbval-ignore-output"]
start = time.perf_counter()
curves, trained = demos.fit_upsamplers(INITIALISERS, train, val, factor=SCORE_FACTOR, num_classes=data.NUM_CLASSES,
                                       epochs=EPOCHS, batch_size=BATCH, learning_rate=LEARNING_RATE)
print(f"trained {len(curves)} models for {EPOCHS} epochs on {NUM_TRAIN_MAPS} maps in {time.perf_counter() - start:.1f} s")
print(f"{'initialisation':42s} {'val loss':>15s} {'val pixel acc.':>17s} {'artifact score':>15s}")
print(f"{'':42s} {'start':>7s} {'end':>7s} {'start':>8s} {'end':>8s} {'of the kernel':>15s}")
for name, curve in curves.items():
    score = demos.constant_map_artifact_score(trained[name].get_weights()[0], SCORE_FACTOR)
    print(f"{name:42s} {curve[0, 0]:7.3f} {curve[-1, 0]:7.3f} {curve[0, 1]:8.3f} {curve[-1, 1]:8.3f} {score:15.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.3))
for name, curve in curves.items():
    axes[0].plot(curve[:, 0], marker="o", label=name)
    axes[1].plot(curve[:, 1], marker="o", label=name)
axes[0].set(xlabel="epoch", ylabel="validation loss", title="cross-entropy (void ignored)")
axes[1].set(xlabel="epoch", ylabel="validation pixel accuracy", title="pixel accuracy")
axes[1].legend()
plt.tight_layout()
plt.show()
# What the measurement must show, in quick mode and in full: the bilinear start is better
# at every epoch, in loss and in accuracy.
bilinear_curve, random_curve = curves.values()
assert np.all(bilinear_curve[:, 0] < random_curve[:, 0]), "random init should have the higher loss throughout"
assert np.all(bilinear_curve[:, 1] > random_curve[:, 1]), "random init should be less accurate throughout"

# %% [markdown]
# The bilinear start is right from step 0 (the untrained layer *is* the fixed bilinear
# upsampler) and training mostly scales its logits up, lowering the cross-entropy. The
# random start mixes classes (its first accuracy is near chance) and must learn the
# interpolation from the data; after the same number of steps it is still behind in
# both loss and accuracy. The artifact scores show that training can leave periodic
# ripples in either kernel; how much depends on the run length (`docs/RESULTS.md`
# records a learner-sized run and a quick one), so the lesson claims no ordering for them.
# In this toy, the fixed bilinear upsampler's *accuracy* is the best of all, in line with
# the FAQ's finding.
#
# ## 7. Max-unpooling and depth-to-space
#
# Two upsamplers that have no kernel to overlap at all.

# %% [markdown]
# **Max-unpooling with switches** (SegNet: Badrinarayanan, Kendall and Cipolla, IEEE
# TPAMI 2017): the encoder's max pooling remembers *where* each maximum came from (the
# *switches*, `tf.nn.max_pool_with_argmax`); the decoder puts each value back at that
# position and zeros elsewhere, then convolutions fill in the gaps. It restores the exact
# location of strong responses at no parameter cost. A switch is the maximum's position
# `(y, x, c)` in its own image, flattened: `(y·W + x)·C + c`. With two channels:

# %%
pool_input = np.array([[1, 5, 2, 0],
                       [3, 4, 9, 1],
                       [0, 2, 6, 7],
                       [8, 1, 3, 2]], np.float32)
pool_input = np.stack([pool_input, pool_input.T], axis=-1)  # (4, 4, 2): channel 1 is channel 0 transposed
pooled, switches = upsampling.max_pool_with_argmax(pool_input, 2)
tf_pooled, tf_switches = tf.nn.max_pool_with_argmax(pool_input[None], 2, 2, "VALID")
for c in range(2):
    print(f"channel {c}: pooled\n", pooled[:, :, c], f"\nswitches (y·W + x)·C + c:\n", switches[:, :, c])
print("same as tf.nn.max_pool_with_argmax:", np.array_equal(pooled, tf_pooled[0]) and np.array_equal(switches, tf_switches[0]))
print("unpooled, channel 0:\n", upsampling.max_unpool(pooled, switches, pool_input.shape)[:, :, 0])

# %% [markdown]
# **Depth-to-space** (the *pixel shuffle* of sub-pixel convolution: Shi et al., CVPR
# 2016) moves channels into space: a map with r²·C channels becomes r times larger
# with C channels. A convolution first computes the r² sub-pixel values of every
# output block at low resolution.

# %%
depth = np.arange(8, dtype=np.float32).reshape(1, 1, 8)  # one pixel, 8 = 2²·2 channels
shuffled = upsampling.depth_to_space(depth, 2)
print("8 channels of one pixel -> 2×2 pixels of 2 channels:\n", shuffled[..., 0], "(channel 0)\n",
      shuffled[..., 1], "(channel 1)")
print("same as tf.nn.depth_to_space:", np.array_equal(shuffled, tf.nn.depth_to_space(depth[None], 2)[0]))

# %% [markdown]
# A 1×1 convolution followed by depth-to-space with block r *is* a transposed
# convolution with kernel size r and stride r: the (C_in, r²·C_out) weights, reshaped,
# are its (r, r, C_out, C_in) kernel. Kernel copies then never overlap (k = s), so they
# cannot overlap unevenly; but each of the r² positions in a block has its own weights,
# so with random weights the output still varies with the position in the block (a
# remedy, ICNR initialisation, starts all r² positions equal: Aitken et al., 2017).

# %% tags=["nbval-ignore-output"]
BLOCK, C_IN, C_OUT = 3, 4, 2
features = rng.standard_normal((1, 5, 6, C_IN)).astype("float32")
weights_1x1 = rng.standard_normal((C_IN, BLOCK * BLOCK * C_OUT)).astype("float32")
sub_pixel = upsampling.depth_to_space(features @ weights_1x1, BLOCK)
as_transposed = keras.layers.Conv2DTranspose(C_OUT, BLOCK, strides=BLOCK, use_bias=False)
as_transposed.build(features.shape)
as_transposed.set_weights([weights_1x1.reshape(C_IN, BLOCK, BLOCK, C_OUT).transpose(1, 2, 3, 0)])
difference = np.abs(sub_pixel - np.asarray(as_transposed(features))).max()
print(f"1×1 conv + depth_to_space vs Conv2DTranspose(k={BLOCK}, s={BLOCK}): max |difference| = {difference:.1e}")
assert difference < FLOAT32_TOLERANCE

# %% [markdown]
# ### A porting trap: TF's channel order is not PyTorch's (first pass: skip)
#
# TF's `depth_to_space` takes sub-pixel (i, j) of channel c from input channel
# `(i·r + j)·C + c`: the sub-pixel position varies slowest (ONNX names this order "DCR",
# depth-column-row). PyTorch documents `pixel_shuffle` as taking `(*, C × r², H, W)` to
# `(*, C, H × r, W × r)`: the r² sub-pixels of a channel are consecutive, channel
# `c·r² + i·r + j` (ONNX's "CRD"; PyTorch's ONNX exporter emits `DepthToSpace` with
# mode "CRD"). Weights ported from a PyTorch super-resolution or decoder model give a
# scrambled image unless the channels of the convolution before the shuffle are reordered:

# %%
SHUFFLE, CLASSES = 2, 2
scores = rng.integers(0, 9, (1, 2, 2, CLASSES * SHUFFLE ** 2)).astype("float32")  # NHWC, as a TF conv computes it
tf_image = np.asarray(tf.nn.depth_to_space(scores, SHUFFLE))
torch_image = upsampling.pixel_shuffle(scores.transpose(0, 3, 1, 2), SHUFFLE).transpose(0, 2, 3, 1)  # PyTorch's order
print("same 8 channels, TF's and PyTorch's order agree:", np.array_equal(tf_image, torch_image))
crd_to_dcr = np.arange(CLASSES * SHUFFLE ** 2).reshape(CLASSES, SHUFFLE, SHUFFLE).transpose(1, 2, 0).ravel()
print("TF channel k must hold PyTorch channel", crd_to_dcr)
print("after reordering:", np.array_equal(np.asarray(tf.nn.depth_to_space(scores[..., crd_to_dcr], SHUFFLE)), torch_image))

# %% [markdown]
# ## 8. Checkerboard artifacts
#
# Odena, Dumoulin and Olah (*Deconvolution and Checkerboard Artifacts*, Distill, 2016)
# explained the grid patterns that transposed convolutions leave in generated images. In
# their words, deconvolution "has uneven overlap when the kernel size (the output window
# size) is not divisible by the stride": some output pixels receive more kernel copies
# than others. Away from the borders, output pixel o receives the kernel taps t with
# `t ≡ o (mod s)`; the count repeats every s pixels, and it is the same for every o
# exactly when s divides k. `upsampling.overlap_counts` gives the count map:

# %%
PAIRS = [(3, 2), (4, 2), (2, 2), (5, 3)]
fig, axes = plt.subplots(1, len(PAIRS), figsize=(13, 3.4))
for ax, (k, s) in zip(axes, PAIRS):
    counts = upsampling.overlap_counts(k, s, (3 * s, 3 * s))
    ax.imshow(counts, cmap="viridis", vmin=0, vmax=counts.max() + 0.5)
    for (r, c), value in np.ndenumerate(counts):
        ax.text(c, r, value, ha="center", va="center", color="white" if value <= counts.max() / 2 else "black")
    ax.set_title(f"k={k}, s={s}: {'uneven' if upsampling.uneven_overlap(k, s) else 'even'}")
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# k = 3, s = 2 covers the pixels of a 2×2 block 4, 2, 2 and 1 times; in 2-D the
# unevenness multiplies across the axes (Odena et al.: "the unevenness gets squared").
# k = 4, s = 2 and **k = 2, s = 2** overlap evenly (k = s does not overlap at all: every
# output pixel receives exactly one copy).
#
# ### 8.1 What decides: the phase sums
#
# Counting copies is not the whole story: what an output pixel receives is their
# *weight*. Output pixel (y, x) gets, from every copy that reaches it, the taps (a, b)
# with `a ≡ y` and `b ≡ x (mod s)`: the kernel splits into s×s **phases**. For a
# constant input c, every interior pixel of phase (p, q) equals c times that phase's
# sum of taps. **A constant comes out flat exactly when all phase sums are equal**,
# whatever the overlap. The ×3 bilinear kernel (k = 5, s = 3) overlaps unevenly, yet:

# %%
BILINEAR_X3 = upsampling.bilinear_kernel(3, 1)[:, :, 0, 0]  # k = 5, s = 3
fig = demos.show_counts_and_phases(BILINEAR_X3, 3, name="bilinear ×3")
plt.show()
ones = np.ones((8, 8, 1), np.float32)
out = upsampling.transposed_conv2d(ones, BILINEAR_X3[:, :, None, None], 3)[..., 0]
edge = 2 * BILINEAR_X3.shape[0]  # output pixels near the border miss copies
print(f"uneven overlap: {upsampling.uneven_overlap(5, 3)}; phase sums "
      f"{upsampling.phase_sums(BILINEAR_X3, 3).min():.3f} to {upsampling.phase_sums(BILINEAR_X3, 3).max():.3f}; "
      f"a constant 1 comes out as {out[edge:-edge, edge:-edge].min():.3f} to {out[edge:-edge, edge:-edge].max():.3f}")
assert upsampling.balanced_phases(BILINEAR_X3, 3) and np.allclose(out[edge:-edge, edge:-edge], 1, atol=1e-6)
for weights in ("tent of size k", "bilinear of the stride"):  # the checkerboard explorer's choices
    sums = widgets.upsampling.checkerboard_output(5, 3, weights)["phase_sums"]
    print(f"k=5, s=3, {weights:24s} phase sums {sums.min():.2f} to {sums.max():.2f}")

# %% [markdown]
# Taps 1/3, 2/3, 1, 2/3, 1/3: each phase adds up to 1 (1/3 + 2/3, 2/3 + 1/3, 1). A tent
# shaped by the kernel size alone (the explorer's "tent of size k") is not the bilinear
# kernel of the stride at k = 5, s = 3, and its phases run from 0.85 to 1.33. So uneven
# overlap does not *decide* artifacts: it makes unequal phase sums likely (a uniform
# kernel always has them), and Odena et al. report that trained networks "struggle to
# avoid it completely"; even evenly overlapping deconvolutions "often learn kernels that
# cause similar artifacts". The reference's FCN-AlexNet kernel (63 taps, stride 32) is
# another balanced kernel with uneven overlap. Exercise 3.4 computes phase sums and asks
# you to design such a kernel.
#
# ### 8.2 A score for artifacts

# %% [markdown]
# To compare upsamplers with a number, measure how much an output depends on its position
# on the stride grid. Split the output pixels (away from the border, whole periods only)
# into the s×s phases `(y mod s, x mod s)`, average each phase, and report the spread
# relative to the mean magnitude:
#
# `artifact score = (largest phase mean - smallest phase mean) / mean |output|`
#
# It is 0 when every phase is equally bright. For a uniform kernel on a constant input the
# phase means are the overlap counts: (4 - 1) / 2.25 = 1.33 for k = 3, s = 2. (The phase
# means are the part of the image that repeats every s pixels, so the score is the size,
# peak to peak, of the output's periodic part at the stride, relative to its mean
# magnitude.) Scores for uniform kernels on a constant input, for every k and s up to 8
# and 4:

# %%
print("k \\ s " + "".join(f"{s:>7d}" for s in range(1, 5)))
for k in range(1, 9):
    scores = [upsampling.artifact_score(upsampling.overlap_counts(k, s, (4 * s, 4 * s)), s) for s in range(1, 5)]
    print(f"{k:5d} " + "".join(f"{score:7.2f}" for score in scores))
    # uniform kernel: phases hold ceil(k/s)² or floor(k/s)² copies, around a mean of (k/s)²
    rule = [(np.ceil(k / s) ** 2 - np.floor(k / s) ** 2) * (s / k) ** 2 for s in range(1, 5)]
    assert np.allclose(scores, rule)

# %% [markdown]
# Zero exactly where s divides k. Elsewhere a uniform kernel scores
# `(⌈k/s⌉² - ⌊k/s⌋²)·(s/k)²` (asserted above): largest for the smallest kernels (k < s
# leaves holes and scores s²/k²), then falling roughly like 2s/k as k grows. It is not
# simply largest when k < s: k = 5, s = 4 scores 1.92, more than k = 3, s = 4 (1.78).
#
# ### 8.3 Stacked layers compound
#
# FCN-8s upsamples three times: ×2 (k = 4), ×2 (k = 4), ×8 (k = 16). Odena et al.:
# "stacked deconvolutions" could cancel artifacts, but "they often compound, creating
# artifacts on a variety of scales". Bilinear layers cannot: each maps a constant to a
# constant, so their chain does too. A row of ones through the chain, with bilinear taps
# and with random positive taps (each layer's weights summing to its stride):

# %%
FCN8S_CHAIN = [(2, 4), (2, 4), (8, 16)]  # (stride, kernel size): upscore2, upscore_pool4, upscore8
CHAIN_LENGTH = 10  # coarse pixels fed to the chain
SHOWN = 96  # output pixels plotted
chain_rng = np.random.default_rng(8)
random_taps = [chain_rng.uniform(0.2, 1, k) for _, k in FCN8S_CHAIN]
bilinear_chain = [(upsampling.bilinear_taps(s, k), s) for s, k in FCN8S_CHAIN]
random_chain = [(taps * s / taps.sum(), s) for taps, (s, _) in zip(random_taps, FCN8S_CHAIN)]
profiles = {"bilinear, all three layers": demos.stack_on_constant(bilinear_chain, length=CHAIN_LENGTH),
            "random, the ×8 layer alone": demos.stack_on_constant(random_chain[2:], length=4 * CHAIN_LENGTH),
            "random, all three layers": demos.stack_on_constant(random_chain, length=CHAIN_LENGTH)}
for name, profile in profiles.items():
    period = next(p for p in range(1, profile.size) if np.allclose(profile[p:], profile[:-p]))
    print(f"{name:28s} interior from {profile.min():.2f} to {profile.max():.2f}, repeats every {period} pixels")
names = list(profiles)
fig = demos.plot_profiles([("the bilinear chain, and one random ×8 layer", {n: profiles[n] for n in names[:2]}, 8),
                           ("three random layers", {names[2]: profiles[names[2]]}, 32)], shown=SHOWN)
plt.show()

# %% [markdown]
# The ×8 layer alone repeats every 8 output pixels. With all three random layers the
# pattern repeats only every 32 (2·2·8): the first layer's period of 2 becomes 32 output
# pixels after the two later layers, the second layer's becomes 16, and they modulate the
# last layer's 8, swinging further (0.61 to 1.42, against 0.64 to 1.28). Exercise 3.5 asks
# you to predict a small case of this before you run it.
#
# ### 8.4 Checkerboards in gradients (first pass: skip)
#
# Odena et al. point at the other direction too: "Whenever we compute the gradients of a
# convolutional layer, we do deconvolution (transposed convolution) on the backward pass.
# This can cause checkerboard patterns in the gradient, just like when we use
# deconvolution to generate images." Section 3.3 showed that gradient to be a transposed
# convolution, so the rule of 8.1 applies to it. A 3×3 convolution with stride 2 (common
# in backbones; 3 is not divisible by 2), all weights 1, every output's gradient 1:

# %%
GRAD_SIDE = 16
strided = keras.layers.Conv2D(1, 3, strides=2, use_bias=False, kernel_initializer="ones")
pixels = tf.zeros((1, GRAD_SIDE, GRAD_SIDE, 1))
with tf.GradientTape() as tape:
    tape.watch(pixels)
    total = tf.reduce_sum(strided(pixels))  # d total / d output = 1 everywhere
input_gradient = np.asarray(tape.gradient(total, pixels))[0, :, :, 0]
print("gradient reaching the input pixels, rows and columns 2-7:\n", input_gradient[2:8, 2:8])
assert np.array_equal(input_gradient[2:8, 2:8], np.tile(upsampling.overlap_counts(3, 2, (2, 2)), (3, 3)))

# %% [markdown]
# The pattern is the overlap counts of k = 3, s = 2 (4, 2, 2, 1): the input pixels of one
# phase receive four times the gradient of those of another, for no reason in the data,
# so the layers below this one get four times the gradient at those positions (Odena et
# al.: "some neurons will get many times the gradient of their neighbors, basically
# arbitrarily"). This is the transposed convolution of a constant, so the phase sums
# decide here as well, and the cure is the same: balanced phase sums (for uniform
# weights, this means a kernel size divisible by the stride).
#
# ### 8.5 On a photograph
#
# The photograph, averaged ×4 down and upsampled by four methods (every kernel positive
# and scaled to keep the brightness): a transposed convolution with a uniform 6×6 kernel
# (uneven overlap, unequal phases), with the bilinear kernel (equal phases), with a random
# 8×8 kernel (even overlap, unequal phases), and **resize-convolution**, Odena et al.'s
# fix: nearest-neighbour upsampling, then an ordinary convolution (random 3×3 weights).

# %%
ARTIFACT_FACTOR = 4
ZOOM = np.s_[28:76, 40:88]  # a 48×48 crop around the face, to see single pixels
UPSAMPLED = demos.artifact_demo(portrait.astype("float32") / 255, ARTIFACT_FACTOR, seed=0)
fig, axes = plt.subplots(1, len(UPSAMPLED), figsize=(13, 3.6))
for ax, (name, picture) in zip(axes, UPSAMPLED.items()):
    score = upsampling.artifact_score(picture, ARTIFACT_FACTOR, margin=ARTIFACT_FACTOR)
    ax.imshow(np.clip(picture[ZOOM], 0, 1), interpolation="nearest")
    ax.set_title(f"{name}\nartifact score {score:.2f}", fontsize=10)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# The bilinear kernel and resize-convolution score 0.03 to 0.04: that is the photograph's
# own content at the stride period, not an artifact. The uniform and random kernels draw
# grids that score 1.38 and 0.57, more than ten times as much. The fixes, then:
# - make the **phase sums equal**: FCN's bilinear kernels (k = 2f or 2f - 1) start that
#   way; a kernel size divisible by the stride at least removes the uneven overlap;
# - or use **resize-convolution** (nearest or bilinear resize, then a convolution), which
#   has no stride and so no phases, whatever its weights (Odena et al.'s recommendation);
# - for depth-to-space, start all sub-pixel positions equal (ICNR).
#
# Training can still move a kernel away from balance, and stacked layers multiply what
# is left (8.3).

# %% [markdown]
# ## 9. Explore
#
# Two explorers put all of this under sliders. They are tested in JupyterLab (a browser
# test) and use only widgets that ipywidgets 7.7 (Colab's version) and 8 share; they have
# not been tried in Colab itself. A control change redraws the frame with numpy and
# OpenCV, no TensorFlow; `python -m fcn_lessons.bench widgets` measures how long that takes
# (`docs/RESULTS.md`). Where no widget front end runs (GitHub's viewer, nbconvert), the
# static picture above each explorer shows its default setting.
#
# **The upsampling explorer** averages an image down by the factor (what a network sees at
# that output stride) and upsamples it back with the chosen method. Try the photograph
# with each method, the zone plate and the flat grey image with the transposed
# convolutions, the label map with bilinear (colours between classes are labels that do
# not exist), and ×8 with align_corners.

# %%
upsampling_demo = widgets.upsampling_explorer()
widgets.show_frame(upsampling_demo.render(), title="upsampling explorer, default setting")
plt.show()

# %%
upsampling_demo

# %% [markdown]
# **The checkerboard explorer**: kernel size and stride sliders. Left, how many kernel
# copies land on each output pixel; right, the transposed convolution of a constant
# image (ideally constant too), with its colour scale; above, the range of the phase
# sums and the artifact score. Try k = 2s, then k = 2s + 1 with uniform weights, then
# k = 5, s = 3 with "tent of size k" and with "bilinear of the stride", then random weights.

# %%
checkerboard_demo = widgets.checkerboard_explorer()
widgets.show_frame(checkerboard_demo.render(), title="checkerboard explorer, default setting")
plt.show()

# %%
checkerboard_demo

# %% [markdown]
# ## Summary
#
# - Nearest repeats pixels (use it for label maps); bilinear mixes the two nearest
#   pixels per axis. Half-pixel centres (TF2, Keras, OpenCV, PyTorch's default) and
#   `align_corners=True` disagree by up to half an input pixel; TF1's default was a
#   third, shifted convention.
# - A transposed convolution scatters a kernel copy per input pixel, s pixels apart, and
#   sums the overlaps: the transpose of the convolution's matrix, the gradient of a
#   convolution, and a convolution of a zero-stuffed input with the flipped kernel. It
#   is not a "deconvolution" (an inverse). Keras stores its kernel as (kh, kw, C_out, C_in).
# - The copies cover `(n - 1)·s + k` pixels; 'same' returns `n·s`; 'same' with an even
#   kernel and `output_padding=0` fails when called.

# %% [markdown]
# - FCN's kernels are bilinear tents centred on the kernel's middle, per channel only;
#   the reference's VGG16 nets use k = 2f and keep them all fixed (`lr_mult: 0`); the CVPR
#   paper learned the ×2 ones. FCN-32s's first 13 output rows and columns get one copy.
# - Max-unpooling puts maxima back at their switches, `(y·W + x)·C + c`; depth-to-space
#   is a transposed convolution with k = s; TF and PyTorch order its channels differently.
# - A constant comes out flat exactly when the kernel's phase sums are equal; uneven
#   overlap (k not divisible by s) only makes unequal sums likely. Artifacts compound
#   across stacked layers and appear in the gradients of strided convolutions. Avoid them
#   with balanced (bilinear) kernels or resize-convolution.
#
# **Exercises** (`exercises/03_upsampling.ipynb`): 3.1 a numpy transposed convolution;
# 3.2 the bilinear kernel, its taps derived from the tent; 3.3 the Conv2DTranspose output
# size, derived; 3.4 phase sums and flatness, and a balanced kernel of your own design;
# 3.5 predict what two stacked layers do to a constant.
