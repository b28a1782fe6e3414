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
#   1-D picture, and the table it gives for a small network and for VGG16 (44, 100 and
#   212 pixels at pool3, pool4 and pool5; 404 at fc6/fc7, the paper's Table 1), including
#   the crop FCN-32s needs;
# - how to *measure* a unit's field with gradients, and why its *effective* field
#   (Luo et al., NeurIPS 2016) is smaller than the theoretical one;
# - why segmentation needs a large field and a fine output stride, measured on the course
#   data, and why a short training run can hide the second;
# - how dilated ("à trous") convolutions trade resolution for computation.

# %% [markdown]
# **Prerequisites:** convolution, padding, strides and pooling; training a Keras model
# with `fit`; lesson 01 (a Dense layer is a convolution) helps for section 3.
#
# **Run time:** about 2 minutes on a quiet 2-core CPU, estimated from 185 s of CPU time
# (measured on a loaded machine, where it took 5 min 48 s; `docs/RESULTS.md`; not yet
# timed on a quiet machine, nor on a GPU), most of it training three small networks in
# section 5. The kernel needs about 1.4 GB of memory
# (its peak is printed in the last cell).
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
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from fcn_lessons import conv1x1, data, field_experiments, labels, models, receptive, viz, widgets
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
# centre of its field and, in orange, the units that feed the middle unit of the top layer:

# %%
INPUT_LENGTH = 24  # pixels along the axis: enough for a few units at the top
ax = receptive.draw_stack_1d(STACK, input_length=INPUT_LENGTH, names=STACK_NAMES)
ax.set_title("Each unit drawn at the centre of its field; the top middle unit's field in orange")
plt.tight_layout()
plt.show()

# %% [markdown]
# Note the gaps: the dilated convolution reads every other pooled unit (its taps are 2
# units apart), yet the field has no hole, because each pooled unit already covers the
# pixels in between. The strided convolution reads three *neighbouring* dilated units (at
# 10.5, 12.5 and 14.5): its stride spaces out its own units (4 pixels apart), not its
# taps. The field is a *span*; whether every pixel in it is used is a separate question,
# which returns in section 9. `receptive.support_1d` marks the pixels one unit really
# reads (1) and those it skips (0): a dilation of 2 straight on the image skips every
# other pixel; on top of a 3-pixel field it skips none.

# %%
support = receptive.support_1d(STACK)
print(f"field {len(support)} pixels, pixels actually read: {support.sum()}")
print("dilation 2 on the image:", receptive.support_1d([(3, 1, 0, 2)]).astype(int))
print("dilations 1, 2, 2:      ", receptive.support_1d([(3, 1, 0, 1), (3, 1, 0, 2), (3, 1, 0, 2)]).astype(int))

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
#   the output is back at one unit per pixel. Each output pixel interpolates the two score
#   units around it, whose fields together span `54 + 8 = 62` pixels, but that span is
#   centred on the pixel only when it lies halfway between them. `receptive_fields`
#   reports the smallest box centred on the output pixel that holds what it reads, for
#   every pixel: the farthest score unit a pixel reads is 0.9375 units (7.5 pixels) from
#   it, so the box is `54 + 2 × 7.5 = 69` pixels.
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
# A one-pixel shift (half of this layer's stride of 2) that depends on the image size is
# easy to miss when you port or align maps: exercise 2.2 asks you to compute it. When the
# input size is unknown, `receptive_fields` assumes it is a multiple of the stride, the
# usual design.

# %% [markdown]
# ## 3. VGG16 and FCN-VGG16: the published numbers
#
# VGG16's five blocks are 3×3 'same' convolutions, each block ending in a 2×2 max
# pooling. FCN turns its first fully connected layer, fc6, into a 7×7 convolution and fc7
# into a 1×1 convolution (lesson 01). We build VGG16's convolutional part with random
# weights (`weights=None`: nothing to download) and add fc6 and fc7. A field depends on
# kernel sizes, strides, dilations and padding, never on the number of channels, so fc6
# and fc7 get 64 channels here instead of the paper's 4096: with 4096, fc6 alone holds
# 103 million weights, and in a fresh Python process building fc6 and fc7 raised the
# resident memory by 1.27 GB, which deleting the model did not return (measured;
# `docs/RESULTS.md`).

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
PAPER_TABLE_1 = {"fc7": (404, 32)}  # FCN-VGG16's "rf size" and "max stride" (Long et al., Table 1)
RF_LIBRARY_TABLE = {"block3_pool": (44, 8), "block4_pool": (100, 16),  # vgg_16 in google-research/
                    "block5_pool": (212, 32)}                          # receptive_field's table
for name, (size, stride) in {**RF_LIBRARY_TABLE, **PAPER_TABLE_1}.items():
    assert vgg_fields[name].size == (size, size) and vgg_fields[name].stride == (stride, stride), name
print("pool3, pool4, pool5: 44, 100 and 212 pixels at strides 8, 16 and 32 (the receptive_field library's table)")
print("fc7: 404 pixels at stride 32 (the FCN paper's Table 1)")

# %% [markdown]
# Pool3, pool4 and pool5 see 44, 100 and 212 pixels at strides 8, 16 and 32, the figures
# that Araujo, Norris and Sim's `receptive_field` library tabulates for VGG16. The 7×7
# fc6 adds `(7 − 1) × 32 = 192` pixels: **404**, the "rf size" of FCN-VGG16 in the FCN
# paper's Table 1 (which gives no per-layer fields); fc7 (1×1) keeps it. The offset 15.5
# of pool5 says that its unit 0 is centred on the middle of the first 32×32 block of
# pixels.
#
# Its field reaches `(212 − 1)/2 − 15.5 = 90` pixels before the image's first row: the
# **effective padding** `P`. Summing the offset recurrence gives `o = (r − 1)/2 − P` with
# `P = Σ_l p_l · j_(l−1)`: every layer's padding, counted in input pixels (times the jump
# of the layer below it). The `receptive_field` library reports field 212, stride 32 and
# effective padding 90 for VGG16's pool5. By the sum: VGG16's 13 convolutions each pad 1,
# at jumps 1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 16, 16, 16:

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
assert effective_padding == (size - 1) / 2 - offset == 90 and (size, jump) == RF_LIBRARY_TABLE["block5_pool"]

# %% [markdown]
# ### The reference's padding, and the crop of FCN-32s
#
# The authors' reference implementation (`voc-fcn32s/net.py` in
# `shelhamer/fcn.berkeleyvision.org`) pads conv1_1 by 100 pixels instead of 1. Its README
# says the padding "guarantees that the network output can be aligned to the input for
# any input size" in its data sets: without it (conv1_1 padded by 1), the 7×7 'valid' fc6
# gives nothing for images of 192 pixels or less with Caffe's pooling, which rounds up
# (223 or less with Keras' VGG16, whose pooling rounds down), and the upsampled output is
# smaller than the image. The scores are upsampled by a 64×64 transposed convolution with
# stride 32 and no padding, which writes its full extent, `(n − 1)·32 + 64` pixels for `n`
# score units: longer than the image, and shifted. A `Crop` layer cuts it back; Caffe's
# `coord_map` computes the offset from each layer's kernel, stride and padding, the
# quantities of our recurrence. We rebuild that geometry: Keras' `block1_conv1` (the
# reference's conv1_1) pads 1 ('same'), so 99 more zeros give 100.

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
# of the reference pads explicitly, so the crop is 19 for any image size. (The
# transposed convolution's own step of the recurrence is exercise 2.1.) The table itself
# takes milliseconds: it reads layer settings, not weights.

# %% tags=["nbval-ignore-output"]
table_s = median_seconds(lambda: receptive.receptive_fields(fcn_vgg16), repeats=5)
print(f"receptive_fields(FCN-VGG16): {1e3 * table_s:.1f} ms")
del fcn32s_geometry, fcn_vgg16, vgg_trunk, fc6, fc7  # not needed again: free their weights
gc.collect();

# %% [markdown]
# How large is 404 pixels? The fields of pool3, pool4, pool5 and fc7, drawn around the
# middle of a 600×512 photograph (`fcn_lessons.photo`, matplotlib's sample image):

# %%
photo = fcn_lessons.photo.grace_hopper()
fig, ax = plt.subplots(figsize=(4.6, 5.2))
ax.imshow(photo)
middle = (photo.shape[0] // 2, photo.shape[1] // 2)
for name, color in zip(("block3_pool", "block4_pool", "block5_pool", "fc7"), ("yellow", "orange", "red", "cyan")):
    half = (vgg_fields[name].size[0] - 1) / 2
    receptive.plot_box(ax, (middle[0] - half, middle[1] - half, middle[0] + half, middle[1] + half),
                       edgecolor=color, lw=2, label=f"{name}: {vgg_fields[name].size[0]} px")
ax.legend(loc="lower left", fontsize=8)
ax.set_title("fields of one unit of FCN-VGG16", fontsize=9)
ax.axis("off")
plt.show()

# %% [markdown]
# **A correction.** The blog post this course grew from (in Chinese, by the account
# 禅与计算机程序设计艺术; lesson 01 corrects another of its claims) writes in its section 2.3
# of FCN that "它没有使用池化层" (it uses no pooling layers), and in its section 3.3 that
# its multi-scale feature pyramid "可以有效地增大感受野范围" (can effectively enlarge the
# receptive field). Both are wrong: FCN keeps all five of
# VGG16's poolings, and they are what give fc7 its 404-pixel field, at the price of a
# stride of 32. The skip layers of FCN-16s and FCN-8s add *smaller*-field, finer
# predictions from pool4 (100 pixels, stride 16) and pool3 (44 pixels, stride 8): they
# add resolution, not field. (Its first sentence also has FCN proposed by Kaiming He
# and others, "何凯明等人", for object detection, "目标检测"; it is a semantic
# segmentation network by Long, Shelhamer and Darrell.)

# %% [markdown]
# ## 4. Measured: which pixels does a unit use?
#
# The field can be measured: back-propagate from one unit to the image. Pixels outside
# the field get exactly zero gradient; pixels inside get a gradient that says how much
# the unit depends on them. `receptive.empirical_receptive_field` does this, for one unit
# of one layer, on one or several input images. Here is a unit of `relu5` (an 8×8 map) in
# the (untrained) pooled network, on a course image; we pick one whose 54-pixel field
# runs past the image's right edge, to see the clipping too:

# %%
DATA_OPTIONS = field_experiments.DATA_OPTIONS  # more, bigger objects than the default (2-4, 30-80% of the side)
NUM_DEMO_IMAGES = 16  # images to pool gradients over: enough for ReLU and max-pooling gaps to fill
demo_images, demo_masks = data.make_shapes(NUM_DEMO_IMAGES, IMAGE_SIZE, seed=3, **DATA_OPTIONS)
UNIT = (3, 5)  # row 3, column 5 of relu5's 8×8 map: centred at pixel (27.5, 43.5), its field reaches column 70
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
DEEP_LAYERS = 20  # field 1 + 2·20 = 41: deep, yet the whole field fits in a 64-pixel image
DEEP_WIDTH = 8  # channels per layer: a field does not depend on them, and 8 keeps 20 layers cheap
deep_plain = models.pixel_classifier((1,) * DEEP_LAYERS, width=DEEP_WIDTH)
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
# default, so that there are many such centres, and measure how far each object pixel is
# from anything but its own object with the **chessboard distance** `max(|dy|, |dx|)`. A
# field is a square, and a pixel at chessboard distance `r` or more has a `(2r − 1)`-pixel
# square around it that holds only its own object; the Euclidean distance would let a
# field whose corner touches a boundary pass. The image border counts as a boundary too
# (`field_experiments.distance_to_boundary_or_border`): beyond it, a field reads zero
# padding, not its object.

# %%
NUM_TRAIN = fcn_lessons.by_mode(full=field_experiments.NUM_TRAIN, quick=field_experiments.QUICK_TRAIN)  # 1000 / 600
NUM_TEST = field_experiments.NUM_TEST  # 300 images
train_images, train_masks = data.make_shapes(NUM_TRAIN, IMAGE_SIZE, seed=field_experiments.TRAIN_DATA_SEED,
                                             **DATA_OPTIONS)
test_images, test_masks = data.make_shapes(NUM_TEST, IMAGE_SIZE, seed=field_experiments.TEST_DATA_SEED,
                                           **DATA_OPTIONS)
room = field_experiments.distance_to_boundary_or_border(test_masks)

# %%
SHOWN = 6  # test images in the figure
ROOM_SCALE = 20  # px: the colour scale's top; few object pixels are farther from a boundary
fig, axes = plt.subplots(3, SHOWN, figsize=(11, 5.6), gridspec_kw=dict(hspace=0.25, wspace=0.05))
for column in range(SHOWN):
    axes[0, column].imshow(test_images[column])
    axes[1, column].imshow(viz.colorize(test_masks[column]))
    shown = axes[2, column].imshow(np.where(test_masks[column] > 0, room[column], np.nan), cmap="viridis",
                                   vmin=0, vmax=ROOM_SCALE)
for ax in axes.flat:
    ax.axis("off")
axes[0, 0].set_title("image", loc="left", fontsize=9)
axes[1, 0].set_title("labels (void: cream)", loc="left", fontsize=9)
axes[2, 0].set_title("object pixels: chessboard distance to another label or the image border", loc="left",
                     fontsize=9)
fig.colorbar(shown, ax=axes[2, :], shrink=0.9, pad=0.01, label="px")
plt.show()

# %% [markdown]
# Three per-pixel classifiers, each ending in a 1×1 score layer with one logit per class:
#
# - **small field**: five 3×3 convolutions at full resolution, field 11;
# - **dilated**: the same five layers, the same number of weights, but dilations
#   1, 2, 4, 8 and 16, doubling as in the context module of Yu and Koltun (*Multi-Scale
#   Context Aggregation by Dilated Convolutions*, ICLR 2016; theirs has dilations 1, 1, 2,
#   4, 8, 16, 1, a field of 67): field 63;
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
# Where to score them (`field_experiments.pixel_regions`):
#
# - **centres**: object pixels whose neighbourhood of the small network's field size, 11
#   pixels, holds only their object and lies inside the image: distance at least
#   `(11 − 1)/2 + 1 = 6` (`field_experiments.centre_distance`);
# - **edges**: object pixels at most 2 pixels from another label. Their score is a
#   *recall*: did the object's own pixels get its class? A network that paints its
#   objects too large is not punished there;
# - the **trimap band** of lesson 00: every labelled pixel, object or background, within 2
#   pixels of a label border, scored with mean IU, which counts false alarms too.
#
# Centres and edges are scored with the FCN paper's *mean accuracy* (per-class accuracy
# averaged over the classes present): answering the most common class everywhere earns
# a fair pixel accuracy when that class dominates, but not a fair mean accuracy. Which
# shapes do the centres belong to?

# %%
SMALL_FIELD = summary_fields["small field"].size[0]
CENTRE_DISTANCE = field_experiments.centre_distance(SMALL_FIELD)
EDGE_DISTANCE = field_experiments.EDGE_DISTANCE  # the first two pixels inside an object
regions = field_experiments.pixel_regions(test_masks, centre_distance=CENTRE_DISTANCE, edge_distance=EDGE_DISTANCE)
centre_classes = np.bincount(test_masks[regions["centre"]], minlength=data.NUM_CLASSES)
print(f"object centres: {centre_classes.sum():,} test pixels: "
      + ", ".join(f"{data.CLASS_NAMES[c]} {centre_classes[c] / centre_classes.sum():.0%}"
                  for c in np.argsort(centre_classes)[::-1] if centre_classes[c]))
ignoring_border = (test_masks > 0) & (test_masks < labels.VOID_LABEL) & (
    labels.distance_to_boundary(test_masks, metric=field_experiments.DISTANCE_METRIC) >= CENTRE_DISTANCE)
print(f"not counting the image border as a boundary would add {ignoring_border.sum() - centre_classes.sum():,} "
      f"pixels whose field crosses it")

# %% [markdown]
# Before training, we record the dilated network's effective receptive field (for
# section 8). Then we train the three networks on the same images with softmax
# cross-entropy, ignoring the void label (Keras' `ignore_class`), with Adam. A
# `field_experiments.ScoreTracker` scores the first 100 test images every second epoch,
# so that we can see afterwards whether a network was still learning when its training
# stopped (scoring all 300 after every epoch would cost a tenth of the training time).

# %%
ERF_IMAGES = test_images[:NUM_DEMO_IMAGES]  # images to average the gradient over
ERF_UNIT = CENTRE_UNIT  # the middle unit: its 63-pixel field fits in the image
erf_before = receptive.empirical_receptive_field(networks["dilated"], "scores", ERF_UNIT, inputs=ERF_IMAGES)

# %% tags=["nbval-ignore-output"]
EPOCHS = fcn_lessons.by_mode(full=field_experiments.EPOCHS, quick=field_experiments.QUICK_EPOCHS)  # 10 / 4
BATCH_SIZE = field_experiments.BATCH_SIZE  # 16
TRACKED = field_experiments.TRACK_IMAGES  # the first 100 test images, every SCORE_EVERY = 2 epochs
losses, trackers, train_seconds = {}, {}, {}
for name, net in networks.items():
    field_experiments.compile_for_pixels(net)  # Adam 3e-3, softmax cross-entropy from logits, ignore_class=255
    trackers[name] = field_experiments.ScoreTracker(
        test_images[:TRACKED], test_masks[:TRACKED], num_classes=data.NUM_CLASSES, centre_distance=CENTRE_DISTANCE,
        edge_distance=EDGE_DISTANCE, every=field_experiments.SCORE_EVERY)
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
predictions = {name: net.predict(test_images, batch_size=50, verbose=0).argmax(axis=-1)
               for name, net in networks.items()}
scores = {name: field_experiments.region_scores(test_masks, predicted, regions, data.NUM_CLASSES)
          for name, predicted in predictions.items()}
print(f"{'':12s} {'field':>5s} | centres: pixel acc  mean acc | edges: mean acc | band: mean IU")
for name, score in scores.items():
    print(f"{name:12s} {summary_fields[name].size[0]:5d} | {score['centre']['pixel_accuracy']:17.3f} "
          f"{score['centre']['mean_accuracy']:9.3f} | {score['edge']['mean_accuracy']:14.3f} | "
          f"{score['band_iou']:13.3f}")
shares = scores["small field"]["centre"]["predicted"]
print("\nat object centres the small-field network answers: "
      + ", ".join(f"{data.CLASS_NAMES[c]} {shares[c]:.0%}" for c in np.argsort(shares)[::-1][:3]))

# %%
# The large fields must name centres better than the small one. Our runs' margins (mean accuracy):
# +0.19 (dilated) and +0.47 (pooled) after 10 epochs; +0.06 and +0.18 in quick mode (docs/RESULTS.md).
CENTRE_MARGIN = fcn_lessons.by_mode(full=0.1, quick=0.03)  # about half the smaller margin
for name in ("dilated", "pooled"):
    gain = scores[name]["centre"]["mean_accuracy"] - scores["small field"]["centre"]["mean_accuracy"]
    assert gain > CENTRE_MARGIN, (name, gain)

# %% [markdown]
# Accuracy against the distance from anything but the object itself shows the whole
# story. The dashed line is the small network's field radius: from there on, its units
# see a flat patch of colour and nothing else.

# %% tags=["nbval-ignore-output"]
DISTANCE_BINS = (1, 3, 6, 9, 12, 64)  # bin edges in px (12 and more: few pixels, see the counts)
fig, ax = plt.subplots(figsize=(7, 3.6))
for name, predicted in predictions.items():
    profile = field_experiments.distance_profile(test_masks, predicted, DISTANCE_BINS, data.NUM_CLASSES)
    ax.plot(range(len(DISTANCE_BINS) - 1), profile["mean_accuracy"], "o-",
            label=f"{name} (field {summary_fields[name].size[0]})")
    print(f"{name:12s} mean accuracy by bin:", " ".join(f"{a:.2f}" for a in profile["mean_accuracy"]))
print("object pixels per bin:", ", ".join(f"{n:,}" for n in profile["pixels"]))
ax.axvline(1.5, ls="--", color="gray")
ax.set_xticks(range(len(DISTANCE_BINS) - 1))
ax.set_xticklabels([f"{a}-{b - 1}" for a, b in zip(DISTANCE_BINS[:-2], DISTANCE_BINS[1:-1])]
                   + [f"{DISTANCE_BINS[-2]}+"])
ax.set_xlabel("chessboard distance to another label or the image border (px)")
ax.set_ylabel("mean accuracy (object pixels)")
ax.set_ylim(0, 1)
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# What the measurements say (our numbers are in `docs/RESULTS.md`; yours will be close):
#
# - The **small-field** network hardly names shapes at object centres, and its curve
#   stays low everywhere (0.13 next to an edge, 0.20 at 9-11 pixels): an 11-pixel
#   window is too small to name a shape *anywhere*, even next to an edge, where it sees
#   a piece of outline but rarely enough of it. A unit that sees a
#   flat patch of colour can only play the odds: most centre pixels belong to circles
#   (printed above), so it answers mostly circle or background, which is why its pixel
#   accuracy at centres is well above its mean accuracy.
# - The **dilated** and **pooled** networks, whose fields cover the objects, name the
#   centres far better, and their accuracy *rises* with the distance from the edge: in
#   the middle of an object their field holds the whole outline. The pooled network
#   rises all the way; the dilated one falls back in the last bin (the middle of the
#   largest objects, 5,381 pixels), which we have not explained.

# %% [markdown]
# Mind the deep bins: they hold few shapes. From 12 pixels on, 83% of the pixels are
# circles and 16% squares, no triangle or cross (`docs/RESULTS.md`), so a mean over
# fewer classes rises for a network that answers "circle" to a flat patch: that, not a
# view of the outline, is the small network's rise in the last bin.

# %% [markdown]
# ## 6. The price of pooling: the output stride
#
# The pooled network grew its field cheaply, but it scores one position per 8×8 pixels.
# How much does that cost? Take an **oracle** that knows the labels: each cell of `s × s`
# pixels scores every class by its *true* share of the cell, the scores are upsampled
# bilinearly, as in FCN-32s, and arg-maxed (`labels.coarse_oracle`;
# `field_experiments.oracle_scores` scores it). Its errors come from the stride *and*
# from that choice of cell scores: it is a reference point, not a ceiling.

# %%
ORACLE_STRIDES = (1, 2, 4, 8, 16, 32)  # 32 is FCN-32s; 16 and 8 are FCN-16s and FCN-8s
oracle = field_experiments.oracle_scores(test_masks, ORACLE_STRIDES, data.NUM_CLASSES,
                                         centre_distance=CENTRE_DISTANCE, edge_distance=EDGE_DISTANCE)
print(f"{'stride':>6s} | centres: mean acc | edges: pixel acc  mean acc | band: mean IU")
for stride, row in oracle.items():
    print(f"{stride:6d} | {row['centre']:17.3f} | {row['edge_pixel']:15.3f} {row['edge']:9.3f} | "
          f"{row['band_iou']:13.3f}")
assert oracle[1]["edge"] == 1.0 and oracle[32]["edge"] < oracle[8]["edge"] < oracle[1]["edge"]

# %%
fig, axes = plt.subplots(1, 4, figsize=(10, 2.9))
axes[0].imshow(viz.colorize(test_masks[1]))
axes[0].set_title("labels")
for ax, stride in zip(axes[1:], (8, 16, 32)):
    ax.imshow(viz.colorize(labels.coarse_oracle(test_masks[1:2], stride, data.NUM_CLASSES)[0]))
    ax.set_title(f"oracle at stride {stride}")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# Up to stride 16, centres survive; edges, corners and thin arms do not: at stride 8 the
# oracle gets about one edge pixel in ten wrong, at stride 16 about four in ten. At
# stride 32 a 64-pixel image gives a 2×2 score map, and even centres are lost. Real
# images are larger than ours, but FCN-32s still scores one position per 32×32 pixels:
# blobby boundaries come with it. This is the problem of lessons 04 and 05: FCN-16s and
# FCN-8s add predictions from pool4 and pool3 (strides 16 and 8) to recover the
# boundaries, while fc7 keeps its large field.
#
# **Not a ceiling.** A network at stride 8 need not output true shares. Raising them to
# a power below 1 before upsampling (a sharper score for a class that holds a small part
# of a cell) already does better, at edges *and* in the band:

# %%
SHARPENING = 0.25  # shares ** 0.25: 0.01 becomes 0.32, 0.5 becomes 0.84
sharper = field_experiments.oracle_scores(test_masks, (8, 16), data.NUM_CLASSES, centre_distance=CENTRE_DISTANCE,
                                          edge_distance=EDGE_DISTANCE, power=SHARPENING)
for stride, row in sharper.items():
    print(f"stride {stride:2d}: edges {oracle[stride]['edge']:.3f} -> {row['edge']:.3f}, "
          f"band mean IU {oracle[stride]['band_iou']:.3f} -> {row['band_iou']:.3f}")
assert all(sharper[s]["edge"] > oracle[s]["edge"] and sharper[s]["band_iou"] > oracle[s]["band_iou"] for s in sharper)

# %% [markdown]
# ## 7. Two surprises, explained
#
# Two results of section 5 seem to contradict the argument. The dilated network has
# output stride 1, so its edges lose nothing to a stride, yet there it scores *below* the
# pooled network. And its label maps are speckled (so are the small network's): it splits
# each image into many more regions than the true labels hold. Here are the networks
# beside the oracle at their stride (a region is a connected patch of one label):

# %% tags=["nbval-ignore-output"]
true_regions = field_experiments.regions_per_image(test_masks)
print(f"{'':12s} {'stride':>6s} | edges: net  oracle | band IU: net  oracle | centres | regions per image")
for name, score in scores.items():
    stride = output_strides[name]
    print(f"{name:12s} {stride:6d} | {score['edge']['mean_accuracy']:10.3f} {oracle[stride]['edge']:7.3f} | "
          f"{score['band_iou']:12.3f} {oracle[stride]['band_iou']:7.3f} | {score['centre']['mean_accuracy']:7.3f} | "
          f"{field_experiments.regions_per_image(predictions[name]):17.1f}")
print(f"{'true labels':12s} {'':6s} | {'':18s} | {'':20s} | {'':7s} | {true_regions:17.1f}")

# %%
# Our runs: every network at least 0.45 below the oracle at its stride at edges (docs/RESULTS.md),
# and the dilated network's maps hold about 10 times as many regions as the pooled network's.
FAR_BELOW = 0.2  # "far below": less than half the smallest gap we measured
SPECKLE_RATIO = 3  # "many more regions": a third of the ratio we measured
for name, score in scores.items():
    assert score["edge"]["mean_accuracy"] < oracle[output_strides[name]]["edge"] - FAR_BELOW, name
speckle = {name: field_experiments.regions_per_image(predicted) for name, predicted in predictions.items()}
assert speckle["dilated"] > SPECKLE_RATIO * speckle["pooled"]

# %% [markdown]
# **Edges: the training budget, not the stride.** The dilated and the pooled network
# both stay far below the oracle at their stride, so the stride is not what limits them
# yet. The scores during training (the first 100 test images) show what does: both are
# still climbing when training stops.

# %%
field_experiments.plot_score_curves(trackers, oracle, output_strides)
plt.tight_layout()
plt.show()

# %% [markdown]
# We trained the same networks three times longer: `python -m
# fcn_lessons.field_experiments --epochs 30` repeats the learner-sized run of section 5
# (its first 10 epochs give the same scores) and goes on to 30 (`docs/RESULTS.md`, all
# 300 test images). After 20 epochs the dilated network nearly matches the pooled one at
# edges (mean accuracy 0.51 against 0.53, band mean IU 0.454 against 0.457); after 30 it
# leads (0.58 against 0.55, and 0.51 against 0.47), and at centres too (0.80 against
# 0.78). One seed, one data set: neither the crossing point nor the size of the lead is
# a precise figure. The pooled network levels off from about epoch 20 (edges 0.53 then,
# 0.55 at epoch 30), far below the stride-8 oracle's 0.90. In this run, its lead at edges
# after 10 epochs was a head start in training, not an advantage of coarse outputs.

# %% [markdown]
# **Speckle: at stride 1, nothing ties neighbouring pixels together.** Each output pixel
# is a decision of its own, and only what a network has learned makes neighbours agree;
# the small network speckles even more than the dilated one. The pooled network's neighbours
# interpolate mostly the same score units, one per 8×8 pixels, so it rarely makes islands
# smaller than its stride (the interpolation and the argmax can still make a few). Does
# the dilated network's gridding add to it? Its neighbouring output pixels share no
# hidden unit (every dilation above the first is even, so pixel `x` reads hidden units at
# `x` plus even offsets only), while pixels two apart share many. If that mattered, the
# labels of neighbours would disagree *more* often than those of pixels two apart:

# %% tags=["nbval-ignore-output"]
print(f"{'':12s} label changes inside true regions: 1 px apart  2 px apart")
for name, predicted in predictions.items():
    print(f"{name:12s} {field_experiments.label_change_rate(predicted, test_masks, 1):37.3f} "
          f"{field_experiments.label_change_rate(predicted, test_masks, 2):11.3f}")

# %%
# In every run we made (quick, learner-sized, 30 epochs; docs/RESULTS.md) neighbours disagreed less
# often than pixels two apart: no sign of a 2-pixel pattern.
for name, predicted in predictions.items():
    assert (field_experiments.label_change_rate(predicted, test_masks, 1)
            < field_experiments.label_change_rate(predicted, test_masks, 2)), name

# %% [markdown]
# They do not: every network changes labels less often between neighbours than between
# pixels two apart, as smooth maps with random islands do. In our runs gridding is at most
# a second effect; the first is that a stride-1 output has no smoothing at all. Longer
# training does not cure it: after 30 epochs the dilated network still splits an image
# into 96 regions (the small one into 102, the pooled one into 8; the true labels hold
# 5.2).
# DeepLab, built on dilated convolutions, post-processes its output with a fully connected
# CRF (section 9 names the paper). A few test images, with the three networks' labels:

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
fig, axes = plt.subplots(1, 2, figsize=(8.6, 3.8))
for ax, (when, measured) in zip(axes, (("before training", erf_before), ("after training", erf_after))):
    shown = ax.imshow(measured.gradient / measured.gradient.max(), cmap="magma", vmin=0, vmax=1)
    receptive.plot_box(ax, dilated_box, edgecolor="cyan", lw=2)
    ax.set_title(f"dilated network, {when}", fontsize=9)
    ax.axis("off")
fig.colorbar(shown, ax=axes, shrink=0.85, label="mean |gradient| / its maximum")
plt.show()

# %%
for measured in (erf_before, erf_after):
    assert max(measured.effective_size(0.5)) < summary_fields["dilated"].size[0] / 2

# %% [markdown]
# In both, half of the gradient comes from a central band less than half the
# theoretical field wide. Before training the gradient is spread over most of the field
# in a blotchy pattern; after training it forms a centred bump, with the grid of the
# dilations showing through: the network has learned to weigh pixels by their distance
# from the unit. Luo et al. found that training *widens* the effective field of networks
# trained long on CIFAR-10 and CamVid. Our short training did not: the central band
# narrowed by a few pixels in our runs (`docs/RESULTS.md`). The effective field is
# learned; the theoretical field only bounds it: a network cannot learn to use pixels
# outside it, but nothing forces it to use all of them.

# %% [markdown]
# ## 9. Dilation: a large field at full resolution, at a price
#
# The dilated network reached a field of 63 with no pooling at all: its output stride is
# 1. That is the idea of "à trous" (with holes) convolution, which DeepLab (Chen et al.,
# *Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs*,
# ICLR 2015) uses to "skip subsampling after the last two max-pooling layers" of VGG16
# and to dilate the layers after them (by 2 and 4), for an output stride of 8 instead of
# 32. (The FCN paper, section 3.2, discusses the same trick as "filter rarefaction" and
# chooses learned upsampling with skips instead.) Its costs are two.

# %% [markdown]
# **Computation and memory.** Every layer runs at full resolution. Same number of
# weights, very different work (`conv1x1.multiply_adds`, lesson 01's count: output
# positions × kernel size × input channels × output channels, per convolution):

# %%
work = {name: sum(conv1x1.multiply_adds(networks[name], (IMAGE_SIZE, IMAGE_SIZE, 3)).values())
        for name in ("dilated", "pooled")}
for name, count in work.items():
    print(f"{name:8s} {count / 1e6:5.1f} million multiply-adds per {IMAGE_SIZE}×{IMAGE_SIZE} image")
print(f"ratio: {work['dilated'] / work['pooled']:.1f}×")

# %% tags=["nbval-ignore-output"]
TIMING_BATCH = test_images[:32]  # one batch, timed as the median of 5 runs
for name in ("dilated", "pooled"):
    net = networks[name]
    seconds = median_seconds(lambda: net.predict_on_batch(TIMING_BATCH), repeats=5)
    print(f"{name:8s} {1e3 * seconds / len(TIMING_BATCH):5.2f} ms per image on this machine")

# %% [markdown]
# The measured times depend on the machine and on what else it runs; ours, on a quiet
# 2-core CPU, are in `docs/RESULTS.md`. **Holes.** A dilated layer reads every `d`-th
# unit below it. If the layers below have not covered the pixels in between, the field
# has holes: the unit never sees them (the "gridding" problem; Wang et al.,
# *Understanding Convolution for Semantic Segmentation*, WACV 2018). Dilations 1, 2, 4,
# ... or 1, 3, 9, ... never skip a pixel: each dilation is at most the field below it. A
# dilation larger than the field below does, and nothing above can fill those holes:

# %%
SCHEDULES = {"dilations 2, 2, 2": (2, 2, 2), "dilations 1, 2, 3": (1, 2, 3)}
READ_COLOR, HOLE_COLOR = "0.3", "white"
fig, axes = plt.subplots(1, len(SCHEDULES), figsize=(7.4, 3.6))
for ax, (title, dilations) in zip(axes, SCHEDULES.items()):
    support_1d = receptive.support_1d([receptive.Layer1D(3, 1, 0, d) for d in dilations])
    read = np.outer(support_1d, support_1d)
    ax.imshow(read, cmap=ListedColormap([HOLE_COLOR, READ_COLOR]), vmin=0, vmax=1)
    ax.set_title(f"{title}: field {len(support_1d)},\n{int(read.sum())} of {read.size} pixels read", fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
fig.legend(handles=[Patch(facecolor=READ_COLOR, label="read by the unit"),
                    Patch(facecolor=HOLE_COLOR, edgecolor="0.3", label="hole (never read)")],
           loc="lower center", ncol=2, fontsize=8, frameon=False)
plt.tight_layout(rect=(0, 0.07, 1, 1))
plt.show()

# %% [markdown]
# Both fields span 13 pixels, but with dilations 2, 2, 2 (the first 2 applied straight to
# the image, whose field is 1) the unit reads only the pixels whose row and column are
# both an even distance from its centre: a lattice, 49 of 169 pixels. With 1, 2, 3 every
# pixel is read (the right panel is one colour). Exercise 2.3 asks you for the smallest
# schedule that reaches a target field without holes.
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
#   FCN-VGG16's fc6 (7×7) and fc7 see 404 pixels, the paper's Table 1. The
#   reference's 100-pixel padding and 'valid' transposed convolution make FCN-32s crop 19.
# - Gradients measure the field: zero outside the analytic box, patchy inside (ReLU,
#   max pooling), and concentrated in the middle on average (the effective field).

# %% [markdown]
# - A unit cannot name what it cannot see: with an 11-pixel field, the centres of large
#   shapes are guesses; with a field that covers them, they are the easiest pixels.
# - Pooling buys field cheaply but sets the output stride: even an oracle that knows
#   every cell's class shares gets about one edge pixel in ten wrong at stride 8 (a
#   reference, not a ceiling: sharper cell scores do better; lessons 04-05 add skips). A
#   short training run stays far below it. Dilation keeps full resolution at the cost of
#   computation (8× the multiply-adds here), a speckled output, and, with a careless
#   schedule, holes.

# %% [markdown]
# **Exercises** (`exercises/02_receptive_fields.ipynb`): 2.1 the recurrence through a
# transposed convolution, and FCN-32s's crop with it; 2.2 the field, output stride and
# offset of a Keras model; 2.3 the smallest dilation schedule that reaches a target field
# without holes; 2.4 predict a unit's field, then measure it.
#
# This kernel's memory: the last cell prints its peak so far (see `docs/RESULTS.md` for
# ours). Shut the kernel down before you open the next lesson.

# %% tags=["nbval-ignore-output"]
del explorer, train_images, train_masks
gc.collect()
print(f"peak memory of this kernel: {fcn_lessons.environment.peak_memory_mib():,.0f} MiB")
