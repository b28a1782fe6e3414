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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/notebooks/02_receptive_fields.ipynb)
#
# # Lesson 02: receptive fields, computed, measured and explored
#
# Table 1 of *Fully Convolutional Networks for Semantic Segmentation* (Long, Shelhamer
# and Darrell, CVPR 2015) describes each network by its **receptive field**: the input
# region one output unit can see. FCN-VGG16's is 404 pixels, at an output stride of 32.
# Both numbers explain the design of FCN: a unit must see enough of an object to name it,
# and the pooling that grows its field also makes its output coarse, which is why FCN
# needs upsampling and skip connections (lessons 03 to 05).

# %% [markdown]
# **You will leave knowing**
# - the receptive-field recurrence (size, jump, offset), with padding and dilation, on a
#   1-D picture, and the table it gives for a small network and for VGG16 (212 pixels at
#   pool5, 404 at fc6/fc7, as in the paper), including the crop FCN-32s needs;
# - how to *measure* a unit's field with gradients, and why its *effective* field
#   (Luo et al., NeurIPS 2016) is smaller than the theoretical one;
# - why segmentation needs a large field and a fine output stride, measured on the course
#   data, and why a short training run can hide the second;
# - how dilated ("à trous") convolutions trade resolution for computation.

# %% [markdown]
# **Prerequisites:** convolution, padding, strides and pooling; training a Keras model
# with `fit`; lesson 01 (a Dense layer is a convolution) helps for section 3.
#
# **Run time:** most of it is training three small networks in section 5;
# `docs/RESULTS.md` has our measured times on a 2-core CPU (GPU not measured).
# The kernel needs about 1.4 GB of memory (its peak is printed in the last cell).
# The exercises for this lesson are in `exercises/02_receptive_fields.ipynb`.

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

import gc
import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from fcn_lessons import data, field_experiments, labels, metrics, models, receptive, viz, widgets
from fcn_lessons.timing import median_seconds

# %% [markdown]
# ## 1. The recurrence, on a 1-D picture
#
# Take one axis (rows and columns are handled the same way, separately). Input pixel `i`
# has its centre at coordinate `i`. A unit of a layer reads a window of the layer below;
# that window's units read windows of the layer below them, and so on down to the image.
# Three numbers describe every layer's units, all in input pixels:
#
# - **size** `r`: how many input pixels one unit's field spans;
# - **jump** `j`: how far apart neighbouring units' fields are (the product of the
#   strides so far; at the last layer it is the network's *output stride*);
# - **offset** `o`: where the field of unit 0 is centred; unit `n` is centred at `o + n·j`.

# %% [markdown]
# A layer with kernel `k`, dilation `d` (its taps are `d` units apart, so its window
# spans `k_eff = d·(k − 1) + 1` units), stride `s` and `p` zeros of padding before the
# first unit maps the numbers of the layer below to
#
# ```
# r_out = r_in + (k_eff − 1) · j_in        the window adds k_eff − 1 units, each j_in pixels apart
# j_out = j_in · s                          ... and only then does the stride spread the units out
# o_out = o_in + ((k_eff − 1)/2 − p) · j_in  the window's middle tap, moved back by the padding
# ```
#
# The order matters: the window's taps are `j_in` apart, the jump of the layer *below*;
# the stride only spaces out the units of this layer. (The FCN paper writes the size and
# jump part as a composition rule in the introduction of its section 3:
# `f_ks ∘ g_k's' = (f ∘ g)_{k' + (k − 1)s', ss'}`; Araujo, Norris and Sim, *Computing
# Receptive Fields of Convolutional Neural Networks*, Distill 2019, derive all three.)

# %% [markdown]
# A 1-D stack with one of each ingredient: a 'same' convolution (Keras pads `(k_eff − 1) // 2`
# zeros before the first pixel when the stride is 1), a pooling, a dilated convolution and
# a strided one.

# %%
STACK = [
    receptive.Layer1D(kernel=3, stride=1, padding=1),              # 3-tap conv, 'same'
    receptive.Layer1D(kernel=2, stride=2, padding=0),              # 2-wide pooling
    receptive.Layer1D(kernel=3, stride=1, padding=2, dilation=2),  # dilated conv, 'same'
    receptive.Layer1D(kernel=3, stride=2, padding=1),              # strided conv
]
STACK_NAMES = ["conv", "pool", "dilated conv", "strided conv"]
print(f"{'layer':13s} (k, s, p, d)   -> field after it")
for name, layer, (size, jump, offset) in zip(STACK_NAMES, STACK, receptive.recurrence(STACK)):
    print(f"{name:13s} {str(tuple(layer)):14s} -> size {size:2d}, jump {jump}, offset {offset}")

# %% [markdown]
# By hand, for the dilated convolution: below it, size 4, jump 2, offset 0.5. Its window
# spans `k_eff = 2·(3 − 1) + 1 = 5` pooled units, so the size grows by `(5 − 1)·2 = 8`
# to 12; its middle tap is `(5 − 1)/2 = 2` units in, but 2 zeros of padding come first,
# so unit 0 stays centred at `0.5 + (2 − 2)·2 = 0.5`. The picture shows every unit at the
# centre of its field, and the units that feed the middle unit of the top layer (hollow
# circles are padding):

# %%
INPUT_LENGTH = 24  # pixels along the axis: enough for a few units at the top
ax = receptive.draw_stack_1d(STACK, input_length=INPUT_LENGTH, names=STACK_NAMES)
ax.set_title("Each unit drawn at the centre of its field; the top middle unit's field in orange")
plt.tight_layout()
plt.show()

# %% [markdown]
# Note the gaps: the dilated convolution reads every other pooled unit, and the strided
# one every other of those, yet the field has no hole, because each pooled unit already
# covers the pixels in between. The field is a *span*; whether every pixel in it is used
# is a separate question, which returns in section 9. `receptive.support_1d` lists the
# pixels one unit really reads:

# %%
support = receptive.support_1d(STACK)
print(f"field {len(support)} pixels, pixels actually read: {support.sum()}")
print("two dilation-2 layers in a row:", receptive.support_1d([(3, 1, 0, 2), (3, 1, 0, 2)]).astype(int))

# %% [markdown]
# ## 2. The table of a Keras network
#
# `receptive.receptive_fields(model)` applies the recurrence to every layer of a Keras
# model, reading each layer's kernel size, strides, dilation and padding (for 'same'
# padding it uses TensorFlow's rule, below). Pointwise layers (activations, batch
# normalisation, 1×1 convolutions) leave the field unchanged. Here is one of the networks
# we train in section 5: five 3×3 convolutions with three 2×2 poolings, a 1×1 score layer,
# and a bilinear upsampling back to the input size.

# %%
IMAGE_SIZE = 64  # the course images' side, in pixels
pooled_net = models.pooled_pixel_classifier()
pooled_fields = receptive.receptive_fields(pooled_net, input_size=IMAGE_SIZE)
print(receptive.field_table(pooled_fields, types={layer.name: type(layer).__name__ for layer in pooled_net.layers}))

# %% [markdown]
# The last column is the size of each layer's output map, computed with the same rules;
# Keras agrees:

# %%
every_layer = keras.Model(pooled_net.inputs, [layer.output for layer in pooled_net.layers])
keras_sizes = [tuple(out.shape[1:3]) for out in every_layer.predict_on_batch(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3)))]
assert keras_sizes == [pooled_fields[layer.name].map_size for layer in pooled_net.layers]
print("map sizes agree with Keras for all", len(keras_sizes), "layers")
del every_layer

# %% [markdown]
# Three things to read in the table:
#
# - **Poolings multiply the jump.** After three 2×2 poolings the units are 8 pixels apart,
#   and every 3×3 convolution after that adds `2 × 8 = 16` pixels to the field: layers
#   late in a network grow the field fastest.
# - **The upsampling has a fractional stride.** `UpSampling2D` by 8 divides the jump by 8:
#   the output is back at one unit per pixel. Each output pixel interpolates two score
#   units, so its field is a bit larger than theirs (69 against 54 pixels). After a
#   fractional stride, the field of unit `n` is no longer centred exactly at `o + n·j`;
#   `receptive_fields` then reports the smallest box centred there that holds every
#   unit's field.
# - **Offsets depend on padding**, and with TensorFlow's 'same' rule also on the input
#   size (next cell).

# %% [markdown]
# A 2×2 pooling's unit 0 reads pixels 0 and 1, so it is centred at 0.5. With 'same'
# padding and a stride above 1, TensorFlow pads `max((out − 1)·s + k_eff − n, 0)` zeros in
# total (`out = ceil(n / s)`), the smaller half first, which depends on the input size `n`:

# %%
STRIDED_SAME = keras.layers.Conv2D(1, 3, strides=2, padding="same", name="strided_same")
strided = keras.Sequential([keras.Input((None, None, 1)), STRIDED_SAME])
for side in (32, 33):
    field = receptive.receptive_fields(strided, input_size=side)["strided_same"]
    print(f"input {side}: unit 0 of a 3×3 stride-2 'same' convolution is centred at pixel {field.offset[0]}")

# %% [markdown]
# A half-pixel shift that depends on the image size is easy to miss when you port or
# align maps: exercise 2.2 asks you to compute it. When the input size is unknown,
# `receptive_fields` assumes it is a multiple of the stride, the usual design.

# %% [markdown]
# ## 3. VGG16 and FCN-VGG16: the paper's numbers
#
# VGG16's five blocks are 3×3 'same' convolutions, each block ending in a 2×2 max
# pooling. FCN turns its first fully connected layer, fc6, into a 7×7 convolution and fc7
# into a 1×1 convolution (lesson 01). We build VGG16's convolutional part with random
# weights (`weights=None`: nothing to download) and add fc6 and fc7. A field depends on
# kernel sizes, strides, dilations and padding, never on the number of channels, so fc6
# and fc7 get 64 channels here instead of the paper's 4096: with 4096, fc6 alone holds
# 103 million weights, and building it raised this kernel's memory by about 1.3 GB that
# it kept after the model was deleted (measured; `docs/RESULTS.md`).

# %%
FC6_KERNEL = 7  # VGG16's fc6 sees a 7×7×512 map
FC_CHANNELS = 64  # the paper's 4096 would change no field, only the memory (see above)
vgg_trunk = keras.applications.VGG16(weights=None, include_top=False)
fc6 = keras.layers.Conv2D(FC_CHANNELS, FC6_KERNEL, activation="relu", name="fc6")(vgg_trunk.output)
fc7 = keras.layers.Conv2D(FC_CHANNELS, 1, activation="relu", name="fc7")(fc6)
fcn_vgg16 = keras.Model(vgg_trunk.input, fc7, name="fcn_vgg16_trunk")
vgg_fields = receptive.receptive_fields(fcn_vgg16)
print(receptive.field_table(vgg_fields, layers=["block1_pool", "block2_pool", "block3_pool", "block4_pool",
                                                "block5_conv3", "block5_pool", "fc6", "fc7"]))

# %%
PAPER = {"block3_pool": (44, 8), "block4_pool": (100, 16), "block5_pool": (212, 32), "fc7": (404, 32)}
for name, (size, stride) in PAPER.items():
    assert vgg_fields[name].size == (size, size) and vgg_fields[name].stride == (stride, stride), name
print("pool3, pool4, pool5 and fc7: 44, 100, 212 and 404 pixels at strides 8, 16, 32 and 32, as in the paper")

# %% [markdown]
# Pool3, pool4 and pool5 see 44, 100 and 212 pixels at strides 8, 16 and 32. The 7×7
# fc6 adds `(7 − 1) × 32 = 192` pixels: **404**, the receptive field in the paper's
# Table 1; fc7 (1×1) keeps it. The offset 15.5 of pool5 says that its unit 0 is centred
# on the middle of the first 32×32 block of pixels.
#
# Its field reaches `(212 − 1)/2 − 15.5 = 90` pixels before the image's first row: the
# **effective padding** `P`. Summing the offset recurrence gives `o = (r − 1)/2 − P` with
# `P = Σ_l p_l · j_(l−1)`: every layer's padding, counted in input pixels (times the jump
# of the layer below it). Araujo, Norris and Sim's `receptive_field` library reports
# field 212, stride 32 and effective padding 90 for VGG16. By the sum: VGG16's 13
# convolutions each pad 1, at jumps 1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 16, 16, 16:

# %%
VGG16_CONVS_PER_BLOCK = (2, 2, 3, 3, 3)  # 3×3 'same' convolutions, each block then a 2×2 pooling
vgg16_1d = []
for convs in VGG16_CONVS_PER_BLOCK:
    vgg16_1d += [receptive.Layer1D(3, 1, 1)] * convs + [receptive.Layer1D(2, 2, 0)]
fields_1d = receptive.recurrence(vgg16_1d)
jumps_below = [1] + [jump for _, jump, _ in fields_1d[:-1]]  # j_(l-1) for every layer l
effective_padding = sum(layer.padding * jump for layer, jump in zip(vgg16_1d, jumps_below))
size, jump, offset = fields_1d[-1]
print(f"pool5 by the 1-D recurrence: size {size}, jump {jump}, offset {offset}")
print(f"effective padding: sum of p_l · j_(l-1) = {effective_padding}, (size - 1)/2 - offset = {(size - 1) / 2 - offset}")
assert effective_padding == (size - 1) / 2 - offset == 90 and (size, jump) == PAPER["block5_pool"]

# %% [markdown]
# ### The reference's padding, and the crop of FCN-32s
#
# The authors' reference implementation (`voc-fcn32s/net.py` in
# `shelhamer/fcn.berkeleyvision.org`) pads conv1_1 by 100 pixels instead of 1. Its README
# says the padding "guarantees that the network output can be aligned to the input for
# any input size" in its data sets: without it, the 7×7 'valid' fc6 gives nothing for
# images of 192 pixels or less, and the upsampled output is smaller than the image. The
# scores are upsampled by a 64×64 transposed convolution with stride 32 and no padding,
# which writes its full extent, `(n − 1)·32 + 64` pixels for `n` score units: longer than
# the image, and shifted. A `Crop` layer cuts it back; Caffe's `coord_map` computes the
# offset from each layer's kernel, stride and padding, the quantities of our recurrence.
# We rebuild that geometry: Keras' conv1_1 pads 1 ('same'), so 99 more zeros give 100.

# %%
REFERENCE_PAD = 100  # conv1_1's padding in voc-fcn32s/net.py
KERAS_CONV1_PAD = 1  # what padding='same' gives conv1_1's 3×3 window
VOC_CLASSES = 21  # 20 classes and background
UPSCORE_KERNEL, UPSCORE_STRIDE = 64, 32  # the reference's upscore layer
fcn32s_geometry = keras.Sequential([
    keras.Input((None, None, 3)),
    keras.layers.ZeroPadding2D(REFERENCE_PAD - KERAS_CONV1_PAD, name="pad99"),
    fcn_vgg16,
    keras.layers.Conv2D(VOC_CLASSES, 1, name="score_fr"),
    keras.layers.Conv2DTranspose(VOC_CLASSES, UPSCORE_KERNEL, strides=UPSCORE_STRIDE, padding="valid",
                                 use_bias=False, name="upscore"),
], name="fcn32s_geometry")
geometry = receptive.receptive_fields(fcn32s_geometry)
for name in ("fcn_vgg16_trunk/block5_pool", "fcn_vgg16_trunk/fc7", "upscore"):
    print(f"{name:28s} {geometry[name]}")
crop = -geometry["upscore"].offset[0]
print(f"upscore unit {crop:g} is centred on image pixel 0: crop {crop:g} rows and columns")
assert crop == 19

# %% [markdown]
# Unit 0 of `upscore` is centred 19 pixels before the image, so its unit 19 sits on
# pixel 0: FCN-32s crops its output at 19, as the reference does. FCN-16s and FCN-8s
# crop their skips and outputs at 5, 27 and 5, 9, 31 by the same rule (lessons 04-05).
# These offsets come from the 100 pixels of padding and the full extent of the 'valid'
# transposed convolutions, not from TensorFlow's 'same' rule of section 2: every layer
# of the reference pads explicitly, so the crop is 19 for any image size. The table
# itself takes milliseconds: it reads layer settings, not weights.

# %% tags=["nbval-ignore-output"]
table_s = median_seconds(lambda: receptive.receptive_fields(fcn_vgg16), repeats=5)
print(f"receptive_fields(FCN-VGG16): {1e3 * table_s:.1f} ms")
del fcn32s_geometry, fcn_vgg16, vgg_trunk, fc6, fc7  # not needed again: free their weights
gc.collect();

# %% [markdown]
# **A correction.** A widely copied blog post on FCN (in Chinese; its facts are wrong in
# many places) says that FCN does without pooling layers and that its multi-scale
# "feature pyramid" is what enlarges the receptive field. Both are wrong: FCN keeps all
# five of VGG16's poolings, and they are what give fc7 its 404-pixel field, at the price
# of a stride of 32. The skip layers of FCN-16s and FCN-8s add *smaller*-field, finer
# predictions from pool4 (100 pixels, stride 16) and pool3 (44 pixels, stride 8): they
# add resolution, not field. (The same post calls FCN an object detector by Kaiming He;
# it is a semantic segmentation network by Long, Shelhamer and Darrell.)

# %% [markdown]
# ## 4. Measured: which pixels does a unit use?
#
# The field can be measured: back-propagate from one unit to the image. Pixels outside
# the field get exactly zero gradient; pixels inside get a gradient that says how much
# the unit depends on them. `receptive.empirical_receptive_field` does this, for one unit
# of one layer, on one or several input images. Here is unit (3, 5) of `relu5` in the
# (untrained) pooled network, on a course image:

# %%
DATA_OPTIONS = field_experiments.DATA_OPTIONS  # more, bigger objects than the default (2-4, 30-80% of the side)
demo_images, demo_masks = data.make_shapes(16, IMAGE_SIZE, seed=3, **DATA_OPTIONS)
UNIT = (3, 5)
one = receptive.empirical_receptive_field(pooled_net, "relu5", UNIT, inputs=demo_images[:1])
many = receptive.empirical_receptive_field(pooled_net, "relu5", UNIT, inputs=demo_images)
analytic_box = pooled_fields["relu5"].box(UNIT, (IMAGE_SIZE, IMAGE_SIZE))
assert many.box == analytic_box
top, left, bottom, right = analytic_box
used_one, used_many = (m[top:bottom + 1, left:right + 1].mean() for m in (one.nonzero, many.nonzero))
print(f"analytic field of relu5 unit {UNIT}, clipped to the image (top, left, bottom, right): {analytic_box}")
print(f"bounding box of the non-zero gradients over {many.num_inputs} images: {many.box}")
print(f"pixels of the box with a non-zero gradient: {used_one:.0%} on one image, {used_many:.0%} on any of "
      f"{many.num_inputs}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
axes[0].imshow(demo_images[0])
axes[0].set_title(f"image; field of relu5 unit {UNIT}")
axes[1].imshow(np.sqrt(one.gradient), cmap="magma")
axes[1].set_title("|gradient|, this image (square root)")
axes[2].imshow(many.nonzero, cmap="gray")
axes[2].set_title(f"non-zero on any of {many.num_inputs} images")
for ax in axes:
    receptive.plot_box(ax, analytic_box, edgecolor="cyan", lw=2)
    ax.plot(*pooled_fields["relu5"].centre(UNIT)[::-1], "r+", ms=12, mew=2)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# The gradient stays inside the box, and over 16 images it fills the box: the measured
# field is the analytic one. Even one image reaches almost every pixel of the box (the
# shares printed above), but very unevenly (middle panel). Where a pixel gets no
# gradient on one image, a ReLU on the way was off, or a max pooling passed the gradient
# to another of its four inputs; other images open those paths. At the image border the
# box is clipped; the part outside the image reads the zero padding.
#
# ### The effective receptive field
#
# Inside the field, the gradient is far from uniform. A pixel near the centre reaches
# the unit through many paths (every overlapping window of every layer), a pixel near the
# edge through very few. Luo, Li, Urtasun and Zemel (*Understanding the Effective
# Receptive Field in Deep Convolutional Neural Networks*, NeurIPS 2016) average the
# gradient magnitude over many inputs and find a roughly Gaussian bump that fills only a
# fraction of the theoretical field: the **effective receptive field**.

# %% [markdown]
# We measure it on a plain stack of twenty 3×3 convolutions (field 41), at initialisation:

# %%
DEEP_LAYERS = 20
deep_plain = models.pixel_classifier((1,) * DEEP_LAYERS, width=8)
deep_field = receptive.receptive_fields(deep_plain)["scores"].size[0]
CENTRE_UNIT = (IMAGE_SIZE // 2, IMAGE_SIZE // 2)
effective = receptive.empirical_receptive_field(deep_plain, "scores", CENTRE_UNIT, inputs=demo_images)
theory_box = receptive.receptive_fields(deep_plain)["scores"].box(CENTRE_UNIT)
assert effective.box == theory_box  # every pixel of the field is used...
print(f"theoretical field {deep_field} px; the central bands holding 50% and 90% of the gradient are "
      f"{effective.effective_size(0.5)[0]} and {effective.effective_size(0.9)[0]} px wide")
del deep_plain

# %%
profile = effective.gradient.sum(axis=1)
rows = np.arange(IMAGE_SIZE)
spread = np.sqrt((profile * (rows - CENTRE_UNIT[0]) ** 2).sum() / profile.sum())
gaussian = profile.max() * np.exp(-0.5 * ((rows - CENTRE_UNIT[0]) / spread) ** 2)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
axes[0].imshow(effective.gradient, cmap="magma")
receptive.plot_box(axes[0], theory_box, edgecolor="cyan", lw=2)
axes[0].set_title(f"mean |gradient| over {effective.num_inputs} images")
axes[0].axis("off")
axes[1].plot(rows, profile / profile.max(), label="gradient profile (rows)")
axes[1].plot(rows, gaussian / profile.max(), "--", label="Gaussian of the same spread")
axes[1].axvspan(theory_box[0] - 0.5, theory_box[2] + 0.5, color="cyan", alpha=0.15, label="theoretical field")
axes[1].set_xlabel("row")
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ...but most of the unit's input comes from the middle: the theoretical field is an
# upper bound on what a unit *can* use, not a description of what it does use. Luo et
# al. show the effective field grows like the square root of the depth while the
# theoretical one grows linearly, and that training can widen it. We measure that on
# trained networks in section 8.

# %% [markdown]
# ## 5. Why segmentation needs a large field
#
# The course data set draws shapes whose class is their *shape*: every colour is drawn
# from the same distribution for every class and for the background. A pixel in the flat
# middle of a big square looks like a pixel in the middle of a big circle; only a unit
# that sees the outline can tell them apart. We use more and bigger objects than the
# default, so that there are many such centres, and measure each object pixel's distance
# to the nearest pixel of another label with the **chessboard distance**
# `max(|dy|, |dx|)` (`labels.distance_to_boundary(..., metric="chessboard")`). A field is
# a square, and a pixel at chessboard distance `r` or more has a `(2r − 1)`-pixel square
# around it that holds only its own object; the Euclidean distance would let a field
# whose corner touches a boundary pass.

# %%
NUM_TRAIN = fcn_lessons.by_mode(full=field_experiments.NUM_TRAIN, quick=600)  # 1500 images
NUM_TEST = field_experiments.NUM_TEST  # 300 images
train_images, train_masks = data.make_shapes(NUM_TRAIN, IMAGE_SIZE, seed=field_experiments.TRAIN_DATA_SEED,
                                             **DATA_OPTIONS)
test_images, test_masks = data.make_shapes(NUM_TEST, IMAGE_SIZE, seed=field_experiments.TEST_DATA_SEED,
                                           **DATA_OPTIONS)
distance = labels.distance_to_boundary(test_masks, metric=field_experiments.DISTANCE_METRIC)

fig, axes = plt.subplots(3, 6, figsize=(12, 6.4))
for column in range(6):
    axes[0, column].imshow(test_images[column])
    axes[1, column].imshow(viz.colorize(test_masks[column]))
    axes[2, column].imshow(np.where(test_masks[column] > 0, distance[column], np.nan), cmap="viridis", vmin=0, vmax=20)
for ax in axes.flat:
    ax.axis("off")
axes[0, 0].set_title("image", loc="left")
axes[1, 0].set_title("labels (void: cream)", loc="left")
axes[2, 0].set_title("chessboard distance to the nearest other label (0-20 px)", loc="left")
plt.tight_layout()
plt.show()

# %% [markdown]
# Three per-pixel classifiers, each ending in a 1×1 score layer with one logit per class:
#
# - **small field**: five 3×3 convolutions at full resolution, field 11;
# - **dilated**: the same five layers, the same number of weights, but dilations
#   1, 2, 4, 8 and 16, doubling as in Yu and Koltun's context module (*Multi-Scale
#   Context Aggregation by Dilated Convolutions*, ICLR 2016): field 63;
# - **pooled**: a fresh copy of the network of section 2, whose three poolings give it a
#   large field cheaply (most layers work on an 8× smaller map), but whose scores come at
#   one per 8×8 pixels and are upsampled bilinearly.
#
# `field_experiments.lesson_networks()` builds them, each right after seeding, and holds
# the experiment's settings, so that `docs/RESULTS.md`'s longer runs repeat this one.

# %%
networks = field_experiments.lesson_networks()  # small field, dilated, pooled
summary_fields = {name: receptive.receptive_fields(net, input_size=IMAGE_SIZE)[net.layers[-1].name]
                  for name, net in networks.items()}
output_strides = {name: receptive.receptive_fields(net)["scores"].stride[0] for name, net in networks.items()}
for name, net in networks.items():
    print(f"{name:12s} field {summary_fields[name].size[0]:3d} px, output stride {output_strides[name]}, "
          f"{net.count_params():,} weights")

# %% [markdown]
# A pixel counts as an object **centre** when the small network's whole 11-pixel field
# lies inside its object: chessboard distance at least `(11 − 1)/2 + 1 = 6`
# (`field_experiments.centre_distance`). Object pixels at most 2 pixels from another
# label count as **edges**. We score both with the FCN paper's *mean accuracy* (per-class
# accuracy averaged over the classes present): a network that answers the same class
# everywhere can reach a fair pixel accuracy when that class dominates, but not a fair
# mean accuracy. Which shapes do the centres belong to?

# %%
SMALL_FIELD = summary_fields["small field"].size[0]
CENTRE_DISTANCE = field_experiments.centre_distance(SMALL_FIELD)
EDGE_DISTANCE = field_experiments.EDGE_DISTANCE  # the first two pixels inside an object
objects = (test_masks > 0) & (test_masks < labels.VOID_LABEL)
centre_classes = np.bincount(test_masks[objects & (distance >= CENTRE_DISTANCE)], minlength=data.NUM_CLASSES)
print(f"object centres (chessboard distance >= {CENTRE_DISTANCE} px): {centre_classes.sum():,} test pixels: "
      + ", ".join(f"{data.CLASS_NAMES[c]} {centre_classes[c] / centre_classes.sum():.0%}"
                  for c in np.argsort(centre_classes)[::-1] if centre_classes[c]))

# %% [markdown]
# Before training, we record the dilated network's effective receptive field (for
# section 8). Then we train the three networks on the same images with softmax
# cross-entropy, ignoring the void label (Keras' `ignore_class`), with Adam. A
# `field_experiments.ScoreTracker` scores the test images after every epoch, so that we
# can see afterwards whether a network was still learning when its training stopped.

# %%
ERF_IMAGES = test_images[:16]  # images to average the gradient over
ERF_UNIT = CENTRE_UNIT  # the middle unit: its 63-pixel field fits in the image
erf_before = receptive.empirical_receptive_field(networks["dilated"], "scores", ERF_UNIT, inputs=ERF_IMAGES)

# %% tags=["nbval-ignore-output"]
EPOCHS = fcn_lessons.by_mode(full=field_experiments.EPOCHS, quick=5)  # 10 epochs
BATCH_SIZE = field_experiments.BATCH_SIZE  # 16
losses, trackers, train_seconds = {}, {}, {}
for name, net in networks.items():
    field_experiments.compile_for_pixels(net)  # Adam 3e-3, softmax cross-entropy from logits, ignore_class=255
    trackers[name] = field_experiments.ScoreTracker(test_images, test_masks, centre_distance=CENTRE_DISTANCE,
                                                    edge_distance=EDGE_DISTANCE)
    keras.utils.set_random_seed(field_experiments.TRAIN_SEED)  # the same batches for every network
    start = time.perf_counter()
    losses[name] = net.fit(train_images, train_masks, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0,
                           callbacks=[trackers[name]]).history["loss"]
    train_seconds[name] = time.perf_counter() - start
    print(f"{name:12s} {EPOCHS} epochs on {NUM_TRAIN} images in {train_seconds[name]:.0f} s (with scoring): "
          f"loss {losses[name][0]:.3f} -> {losses[name][-1]:.3f}")

# %%
for name, loss in losses.items():
    assert loss[-1] < loss[0], f"{name} did not learn"

# %% tags=["nbval-ignore-output"]
predictions = {name: tracker.predictions for name, tracker in trackers.items()}
scores = {name: metrics.accuracy_by_distance(test_masks, predicted, centre_distance=CENTRE_DISTANCE,
                                             edge_distance=EDGE_DISTANCE, metric=field_experiments.DISTANCE_METRIC)
          for name, predicted in predictions.items()}
print(f"{'':12s} {'field':>5s} | centres: pixel acc  mean acc | edges: pixel acc  mean acc")
for name, score in scores.items():
    print(f"{name:12s} {summary_fields[name].size[0]:5d} | {score['centre']['pixel_accuracy']:17.3f} "
          f"{score['centre']['mean_accuracy']:9.3f} | {score['edge']['pixel_accuracy']:15.3f} "
          f"{score['edge']['mean_accuracy']:9.3f}")
shares = scores["small field"]["centre"]["predicted"]
print("\nat object centres the small-field network answers: "
      + ", ".join(f"{data.CLASS_NAMES[c]} {shares[c]:.0%}" for c in np.argsort(shares)[::-1][:3]))

# %%
# The large field must name centres better than the small one (a wide margin after full training).
MARGIN = fcn_lessons.by_mode(full=0.2, quick=0.03)
for name in ("dilated", "pooled"):
    assert scores[name]["centre"]["mean_accuracy"] > scores["small field"]["centre"]["mean_accuracy"] + MARGIN, name

# %% [markdown]
# Accuracy against the distance to the nearest boundary shows the whole story. The
# dashed line is the small network's field radius: beyond it, its units see a flat patch
# of colour and nothing else.

# %%
DISTANCE_BINS = (1, 3, 6, 9, 12, 16, 64)  # chessboard distance bin edges, pixels
fig, ax = plt.subplots(figsize=(7, 3.6))
for name, predicted in predictions.items():
    profile = metrics.accuracy_profile(test_masks, predicted, DISTANCE_BINS, metric=field_experiments.DISTANCE_METRIC)
    if name == "small field":
        print("object pixels per bin:", ", ".join(f"{n:,}" for n in profile["pixels"]))
    ax.plot(range(len(DISTANCE_BINS) - 1), profile["mean_accuracy"], "o-",
            label=f"{name} (field {summary_fields[name].size[0]})")
ax.axvline(1.5, ls="--", color="gray")
ax.set_xticks(range(len(DISTANCE_BINS) - 1))
ax.set_xticklabels([f"{a}-{b - 1}" for a, b in zip(DISTANCE_BINS[:-1], DISTANCE_BINS[1:])])
ax.set_xlabel("chessboard distance to the nearest other label (px)")
ax.set_ylabel("mean accuracy (objects)")
ax.set_ylim(0, 1)
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# What the measurements say (our numbers are in `docs/RESULTS.md`; yours will be close):
#
# - The **small-field** network hardly names shapes at object centres. A flat patch of
#   colour is all its units see there; it could be background, and most centre pixels
#   belong to circles (the shares printed above), so it answers mostly those two. A unit
#   that sees 11 pixels can only play such odds; its pixel accuracy at centres is
#   therefore not zero, which is why the mean accuracy is the fairer score here.
# - The **dilated** and **pooled** networks, whose fields cover the objects, name the
#   centres far better, and do *better* at centres than near edges: in the middle of an
#   object their field holds the whole outline. (The deepest bin, 16 pixels or more from
#   another label, holds few pixels (printed above the plot), 99% of them in objects cut
#   by the image border, which the distance does not count as a boundary: measured in
#   `docs/RESULTS.md`.)

# %% [markdown]
# ## 6. The price of pooling: the output stride
#
# The pooled network grew its field cheaply, but it scores one position per 8×8 pixels.
# How much does that cost by itself? Imagine a perfect classifier at stride `s`: each
# cell of `s × s` pixels gets the *true* proportions of its classes, which are then
# upsampled bilinearly, as in FCN-32s (`labels.coarse_oracle`). Its errors are caused by
# the stride alone: they bound what any network with that stride can score.

# %%
ORACLE_STRIDES = (1, 2, 4, 8, 16, 32)  # 32 is FCN-32s; 16 and 8 are FCN-16s and FCN-8s
bounds = field_experiments.stride_bounds(test_masks, ORACLE_STRIDES, data.NUM_CLASSES,
                                         centre_distance=CENTRE_DISTANCE, edge_distance=EDGE_DISTANCE)
print(f"{'stride':>6s} | centres: pixel acc  mean acc | edges: pixel acc  mean acc")
for stride, bound in bounds.items():
    print(f"{stride:6d} | {bound['centre_pixel']:17.3f} {bound['centre']:9.3f} | {bound['edge_pixel']:15.3f} "
          f"{bound['edge']:9.3f}")
assert bounds[1]["edge"] == 1.0 and bounds[32]["edge"] < bounds[8]["edge"] < bounds[1]["edge"]

# %%
fig, axes = plt.subplots(1, 4, figsize=(10, 2.9))
axes[0].imshow(viz.colorize(test_masks[1]))
axes[0].set_title("labels")
for ax, stride in zip(axes[1:], (8, 16, 32)):
    ax.imshow(viz.colorize(labels.coarse_oracle(test_masks[1:2], stride, data.NUM_CLASSES)[0]))
    ax.set_title(f"perfect at stride {stride}")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# Up to stride 16, centres survive; edges, corners and thin arms do not: at stride 8 a
# perfect classifier already gets about one edge pixel in ten wrong, at stride 16 about
# four in ten. At stride 32 a 64-pixel image gives a 2×2 score map, and even centres are
# lost. Real images are larger than ours, but FCN-32s still scores one position per
# 32×32 pixels: blobby boundaries are built in. This is the problem of lessons 04 and
# 05: FCN-16s and FCN-8s add predictions from pool4 and pool3 (strides 16 and 8) to
# recover the boundaries, while fc7 keeps its large field.

# %% [markdown]
# ## 7. Two surprises, explained
#
# Two results of section 5 seem to contradict the argument. The dilated network has
# output stride 1, so its edges have no stride bound (1.000 above), yet at edges it
# scores *below* the pooled network, whose stride of 8 bounds it at the value printed
# for stride 8. And its label maps are speckled (so are the small network's): it splits
# each image into many more regions than the true labels hold. Here are the networks
# beside their bounds (a region is a connected patch of one label):

# %% tags=["nbval-ignore-output"]
true_regions = field_experiments.regions_per_image(test_masks)
print(f"{'':12s} {'stride':>6s} | edges: mean acc  bound at its stride | centres: mean acc | regions per image")
for name, tracker in trackers.items():
    last = tracker.history[-1]
    print(f"{name:12s} {output_strides[name]:6d} | {last['edge']:15.3f} {bounds[output_strides[name]]['edge']:20.3f} "
          f"| {last['centre']:17.3f} | {last['regions']:17.1f}")
print(f"{'true labels':12s} {'':6s} | {'':15s} {'':20s} | {'':17s} | {true_regions:17.1f}")

# %%
for name, tracker in trackers.items():  # every network far below what its stride allows
    assert tracker.history[-1]["edge"] < bounds[output_strides[name]]["edge"] - 0.2, name
assert trackers["dilated"].history[-1]["regions"] > 3 * trackers["pooled"].history[-1]["regions"]

# %% [markdown]
# **Edges: the training budget, not the stride.** The dilated and the pooled network
# both stay far below their bounds, so the stride is not what limits them yet. The
# scores after every epoch show what does: both are still climbing when training stops.

# %%
field_experiments.plot_score_curves(trackers, bounds, output_strides)
plt.tight_layout()
plt.show()

# %% [markdown]
# We trained the same networks three times longer: `python -m
# fcn_lessons.field_experiments --epochs 30` repeats the learner-sized run of section 5
# (its first 10 epochs give the same scores) and goes on to 30 (`docs/RESULTS.md`). At edges
# the dilated network catches up with the pooled one at epoch 20 (mean accuracy 0.565
# against 0.564) and leads at 30 (0.64 against 0.59). The pooled network levels off near
# 0.60 from epoch 23, still far below its stride-8 bound of 0.90. Its lead at edges after
# 10 epochs is a head start in training, not an advantage of coarse outputs. At centres
# the pooled network stays ahead (0.79 against 0.77 after 30 epochs).

# %% [markdown]
# **Speckle: at stride 1, nothing ties neighbouring pixels together.** Each output pixel
# is a decision of its own, and only what a network has learned makes neighbours agree.
# In the dilated network neighbours do not even share a hidden unit: every dilation above
# the first layer is even (2, 4, 8, 16), so output pixel `x` depends on hidden units at
# `x` plus even offsets only, its neighbour on units at `x + 1` plus even offsets; they
# share only input pixels. The pooled network cannot speckle finer than its stride:
# neighbouring output pixels interpolate mostly the same score units, one per 8×8
# pixels, a smoothness that also bounds it at edges. Training longer reduces the dilated
# network's speckle without removing it: 118 regions per image after 10 epochs, 95 after
# 30, against 5.2 in the true labels. DeepLab, built on dilated convolutions,
# post-processes its output with a fully connected CRF (section 9 names the paper). A few
# test images, with the three networks' labels:

# %%
fig = field_experiments.plot_label_maps(
    test_images, test_masks, predictions, class_names=data.CLASS_NAMES,
    titles={n: f"{n} ({summary_fields[n].size[0]} px)" for n in networks}, num_images=5)
plt.show()

# %% [markdown]
# ## 8. The effective field after training
#
# Back to Luo et al.'s measurement, on the dilated network before and after training,
# averaging over the same 16 test images:

# %% tags=["nbval-ignore-output"]
erf_after = receptive.empirical_receptive_field(networks["dilated"], "scores", ERF_UNIT, inputs=ERF_IMAGES)
dilated_box = summary_fields["dilated"].box(ERF_UNIT)
print(f"theoretical field {summary_fields['dilated'].size[0]} px")
for when, measured in (("before training", erf_before), ("after training", erf_after)):
    print(f"{when:15s}: 50% of the gradient within {measured.effective_size(0.5)[0]} px, "
          f"90% within {measured.effective_size(0.9)[0]} px")
fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
for ax, (when, measured) in zip(axes, (("before training", erf_before), ("after training", erf_after))):
    ax.imshow(measured.gradient / measured.gradient.max(), cmap="magma")
    receptive.plot_box(ax, dilated_box, edgecolor="cyan", lw=2)
    ax.set_title(f"dilated network, {when}")
    ax.axis("off")
plt.tight_layout()
plt.show()

# %%
for measured in (erf_before, erf_after):
    assert max(measured.effective_size(0.5)) < summary_fields["dilated"].size[0] / 2

# %% [markdown]
# In both, half of the gradient comes from a central band less than half the
# theoretical field wide. Before training the gradient is spread in patches that follow
# the images (untrained filters respond to whatever colours are there); after training
# it forms a centred bump, with the grid of the dilations showing through: the network
# has learned to weigh pixels by their distance from the unit. Luo et al. found that
# training *widens* the effective field of networks trained long on CIFAR-10 and CamVid.
# Our short training did not: the central band narrowed by a few pixels in our runs
# (`docs/RESULTS.md`). The effective field is learned; the theoretical field only bounds
# it: a network cannot learn to use pixels outside it, but nothing forces it to use all
# of them.

# %% [markdown]
# ## 9. Dilation: a large field at full resolution, at a price
#
# The dilated network reached a field of 63 with no pooling at all: its output stride is
# 1. That is the idea of "à trous" (with holes) convolution, which DeepLab (Chen et al.,
# *DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, Atrous Convolution,
# and Fully Connected CRFs*, TPAMI 2018) uses to remove VGG16's last poolings and keep an
# output stride of 8 instead of 32. (The FCN paper, section 3.2, discusses the same trick
# as "filter rarefaction" and chooses learned upsampling with skips instead.) Its costs
# are two.

# %% [markdown]
# **Computation and memory.** Every layer runs at full resolution. Same weights count,
# very different work:

# %% tags=["nbval-ignore-output"]
TIMING_BATCH = test_images[:32]
for name in ("dilated", "pooled"):
    net = networks[name]
    seconds = median_seconds(lambda: net.predict_on_batch(TIMING_BATCH), repeats=5)
    fields = receptive.receptive_fields(net, input_size=IMAGE_SIZE)
    activations = sum(np.prod(fields[layer.name].map_size) * layer.filters
                      for layer in net.layers if isinstance(layer, keras.layers.Conv2D))
    print(f"{name:8s} {1e3 * seconds / len(TIMING_BATCH):5.2f} ms per image, "
          f"{activations:,} convolution outputs per image")

# %% [markdown]
# **Holes.** A dilated layer reads every `d`-th unit below it. If the layers below have
# not covered the pixels in between, the field has holes: the unit never sees them
# (the "gridding" problem; Wang et al., *Understanding Convolution for Semantic
# Segmentation*, WACV 2018). Dilations 1, 2, 4, ... or 1, 3, 9, ... never skip a pixel:
# each dilation is at most the field below it. Two dilations of 2 in a row do:

# %%
SCHEDULES = {"dilations 2, 2, 2": (2, 2, 2), "dilations 1, 2, 3": (1, 2, 3)}
fig, axes = plt.subplots(1, len(SCHEDULES), figsize=(7, 3.4))
for ax, (title, dilations) in zip(axes, SCHEDULES.items()):
    support_1d = receptive.support_1d([receptive.Layer1D(3, 1, 0, d) for d in dilations])
    ax.imshow(np.outer(support_1d, support_1d), cmap="gray_r", vmin=0, vmax=1.5)
    ax.set_title(f"{title}: field {len(support_1d)}, {int((~support_1d).sum())} holes per axis", fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# Both fields span 13 pixels, but with dilations 2, 2, 2 the unit sees only every other
# row and column: a fine checkerboard of pixels it cannot use. Exercise 2.3 asks you for
# a schedule that reaches a target field without holes.
#
# ## 10. Explore
#
# `widgets.receptive_field_explorer(model, image)` lets you pick a layer and a unit: the
# analytic field is drawn as a box (with the unit's centre as a red cross), and the
# gradient of that unit on this image is shown beside it. Try the trained pooled
# network: move along a row at `pool3` and watch the box jump by 8 pixels; switch to
# `upsample8` and watch it move pixel by pixel, large as ever. (The picture appears in
# JupyterLab and Colab; below it is the same view as a static figure.)

# %% tags=["nbval-ignore-output"]
explorer = widgets.receptive_field_explorer(networks["pooled"], test_images[0], layer="conv5")
explorer

# %%
widgets.show_frame(explorer.render("conv5", 3, 4), title="pooled network, conv5 unit (3, 4): analytic field and gradient")
plt.show()

# %% [markdown]
# ## Summary
#
# - A unit's receptive field follows from three numbers per layer: size, jump and offset.
#   `size += (k_eff − 1)·jump_below`, `jump *= stride`, `offset += ((k_eff − 1)/2 − pad)·jump_below`;
#   summed, the offset is `(size − 1)/2` minus the effective padding `Σ pad·jump_below`.
# - VGG16's pool3, pool4 and pool5 see 44, 100 and 212 pixels at strides 8, 16 and 32;
#   FCN-VGG16's fc6 (7×7) and fc7 see 404 pixels, as in the paper's Table 1. The
#   reference's 100-pixel padding and 'valid' transposed convolution make FCN-32s crop 19.
# - Gradients measure the field: zero outside the analytic box, patchy inside (ReLU,
#   max pooling), and concentrated in the middle on average (the effective field).
# - A unit cannot name what it cannot see: with an 11-pixel field, the centres of large
#   shapes are guesses; with a field that covers them, they are the easiest pixels.
# - Pooling buys field cheaply but sets the output stride, which bounds edge accuracy even
#   for a perfect classifier (lessons 04-05 add skips); a short training run stays far
#   below that bound. Dilation keeps full resolution at the cost of computation, a
#   speckled output, and, with a careless schedule, holes.

# %% [markdown]
# **Exercises** (`exercises/02_receptive_fields.ipynb`): 2.1 the recurrence for a list of
# layers; 2.2 the field, output stride and offset of a Keras model; 2.3 a dilation
# schedule that reaches a target field without holes; 2.4 predict a unit's field, then
# measure it.
#
# This kernel's memory: the last cell prints its peak so far (see `docs/RESULTS.md` for
# ours). Shut the kernel down before you open the next lesson.

# %% tags=["nbval-ignore-output"]
del explorer, train_images, train_masks
gc.collect()
print(f"peak memory of this kernel: {fcn_lessons.environment.peak_memory_mib():,.0f} MiB")
