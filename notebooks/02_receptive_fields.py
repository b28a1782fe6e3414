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
#
# **You will leave knowing**
# - the receptive-field recurrence (size, jump, offset), with padding and dilation,
#   derived on a 1-D picture, and the table it gives for a small network and for VGG16
#   (212 pixels at pool5, 404 at fc6/fc7, as in the paper);
# - how to *measure* a unit's field with gradients, and why its *effective* field
#   (Luo et al., NeurIPS 2016) is smaller than the theoretical one;
# - why segmentation needs a large field: a network whose field is smaller than an
#   object cannot name the object's flat centre (measured on the course data);
# - why a large field bought by pooling costs resolution (the output stride), and how
#   dilated ("à trous") convolutions trade that for computation.
#
# **Prerequisites:** convolution, padding, strides and pooling; training a Keras model
# with `fit`; lesson 01 (a Dense layer is a convolution) helps for section 3.
#
# **Run time:** about 3 minutes on a laptop CPU, most of it training three small
# networks in section 5 (2.4 minutes on our 2-core development machine); a GPU runtime
# shortens the training.
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

import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from fcn_lessons import data, models, receptive, viz, widgets
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
#
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
# the stride only spaces out the units of this layer. (The FCN paper, section 3.1, writes
# the size and jump part as a composition rule: `f_ks ∘ g_k's' = (f ∘ g)_{k' + (k − 1)s', ss'}`;
# Araujo, Norris and Sim, *Computing Receptive Fields of Convolutional Neural Networks*,
# Distill 2019, derive all three.)
#
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
# is a separate question, which returns in section 8. `receptive.support_1d` lists the
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
# - **Offsets depend on padding.** A 2×2 pooling's unit 0 reads pixels 0 and 1, so it is
#   centred at 0.5. With 'same' padding and a stride above 1, TensorFlow pads
#   `max((out − 1)·s + k_eff − n, 0)` zeros in total, the smaller half first, which
#   depends on the input size `n`:

# %%
STRIDED_SAME = keras.layers.Conv2D(1, 3, strides=2, padding="same", name="strided_same")
strided = keras.Sequential([keras.Input((None, None, 1)), STRIDED_SAME])
for side in (32, 33):
    field = receptive.receptive_fields(strided, input_size=side)["strided_same"]
    print(f"input {side}: unit 0 of a 3×3 stride-2 'same' convolution is centred at pixel {field.offset[0]}")

# %% [markdown]
# Such half-pixel shifts are why FCN crops its upsampled maps by computed offsets
# (lesson 04). When the input size is unknown, `receptive_fields` assumes it is a
# multiple of the stride, the usual design.
#
# ## 3. VGG16 and FCN-VGG16: the paper's numbers
#
# VGG16's five blocks are 3×3 'same' convolutions, each block ending in a 2×2 max
# pooling. FCN turns its first fully connected layer, fc6, into a 7×7 convolution and fc7
# into a 1×1 convolution (lesson 01). We build VGG16's convolutional part with random
# weights (`weights=None`: nothing to download) and add fc6 and fc7 with the paper's 4096
# channels:

# %%
FC6_KERNEL, FC_CHANNELS = 7, 4096  # VGG16's fc6 sees a 7×7×512 map; fc6 and fc7 have 4096 units
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
# on the middle of the first 32×32 block of pixels; its field reaches
# `(212 − 1)/2 − 15.5 = 90` pixels past the image's top-left corner (the "effective
# padding 90" of Google's `receptive_field` library).
#
# The paper's reference implementation also pads conv1_1 by 100 pixels, so that small
# images still give an output after the 7×7 fc6. That shifts every offset by −100:

# %%
REFERENCE_PAD = 100  # pixels of zero padding the FCN reference adds to conv1_1
padded = keras.Sequential([keras.Input((None, None, 3)), keras.layers.ZeroPadding2D(REFERENCE_PAD, name="pad100"),
                           fcn_vgg16], name="fcn_vgg16_pad100")
print("fc7 unit 0 centred at", vgg_fields["fc7"].offset, "without, and at",
      receptive.receptive_fields(padded)["fcn_vgg16_trunk/fc7"].offset, f"with the {REFERENCE_PAD}-pixel padding")

# %% [markdown]
# The table takes milliseconds: it reads layer settings, not weights.

# %% tags=["nbval-ignore-output"]
table_s = median_seconds(lambda: receptive.receptive_fields(fcn_vgg16), repeats=5)
print(f"receptive_fields(FCN-VGG16): {1e3 * table_s:.1f} ms")

# %% [markdown]
# **A correction.** A widely copied blog post on FCN (in Chinese; its facts are wrong in
# many places) says that FCN does without pooling layers and that its multi-scale
# "feature pyramid" is what enlarges the receptive field. Both are wrong: FCN keeps all
# five of VGG16's poolings, and they are what give fc7 its 404-pixel field, at the price
# of a stride of 32. The skip layers of FCN-16s and FCN-8s add *smaller*-field, finer
# predictions from pool4 (100 pixels, stride 16) and pool3 (44 pixels, stride 8): they
# add resolution, not field. (The same post calls FCN an object detector by Kaiming He;
# it is a semantic segmentation network by Long, Shelhamer and Darrell.)
#
# ## 4. Measured: which pixels does a unit use?
#
# The field can be measured: back-propagate from one unit to the image. Pixels outside
# the field get exactly zero gradient; pixels inside get a gradient that says how much
# the unit depends on them. `receptive.empirical_receptive_field` does this, for one unit
# of one layer, on one or several input images. Here is unit (3, 5) of `relu5` in the
# (untrained) pooled network, on a course image:

# %%
DATA_OPTIONS = dict(num_objects=(2, 4), object_size=(0.3, 0.8))  # more, bigger objects than the default
demo_images, demo_masks = data.make_shapes(16, IMAGE_SIZE, seed=3, **DATA_OPTIONS)
UNIT = (3, 5)
one = receptive.empirical_receptive_field(pooled_net, "relu5", UNIT, inputs=demo_images[:1])
many = receptive.empirical_receptive_field(pooled_net, "relu5", UNIT, inputs=demo_images)
analytic_box = pooled_fields["relu5"].box(UNIT, (IMAGE_SIZE, IMAGE_SIZE))
assert many.box == analytic_box
print(f"analytic field of relu5 unit {UNIT}, clipped to the image (top, left, bottom, right): {analytic_box}")
print(f"bounding box of the non-zero gradients over {many.num_inputs} images: {many.box}")

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
# The gradient stays inside the box. On one image it is patchy: a ReLU that is off
# passes no gradient, and a max pooling passes it only to the largest of its four
# inputs. Over a few images the non-zero pixels fill the box: the measured field is the
# analytic one. At the image border the box is clipped; the part outside the image reads
# the zero padding.
#
# ### The effective receptive field
#
# Inside the field, the gradient is far from uniform. A pixel near the centre reaches
# the unit through many paths (every overlapping window of every layer), a pixel near the
# edge through very few. Luo, Li, Urtasun and Zemel (*Understanding the Effective
# Receptive Field in Deep Convolutional Neural Networks*, NeurIPS 2016) average the
# gradient magnitude over many inputs and find a roughly Gaussian bump that fills only a
# fraction of the theoretical field: the **effective receptive field**. With a plain
# stack of twenty 3×3 convolutions (field 41), at initialisation:

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
# trained networks in section 6.
#
# ## 5. Why segmentation needs a large field
#
# The course data set draws shapes whose class is their *shape*: every colour is drawn
# from the same distribution for every class and for the background. A pixel in the flat
# middle of a big square looks like a pixel in the middle of a big circle; only a unit
# that sees the outline can tell them apart. We use more and bigger objects than the
# default, so that there are many such centres, and measure each object pixel's distance
# to the nearest boundary (`receptive.distance_to_boundary`):

# %%
NUM_TRAIN = fcn_lessons.by_mode(full=1500, quick=600)
NUM_TEST = 300
train_images, train_masks = data.make_shapes(NUM_TRAIN, IMAGE_SIZE, seed=1, **DATA_OPTIONS)
test_images, test_masks = data.make_shapes(NUM_TEST, IMAGE_SIZE, seed=2, **DATA_OPTIONS)
distance = receptive.distance_to_boundary(test_masks)

fig, axes = plt.subplots(3, 6, figsize=(12, 6.4))
for column in range(6):
    axes[0, column].imshow(test_images[column])
    axes[1, column].imshow(viz.colorize(test_masks[column]))
    axes[2, column].imshow(np.where(test_masks[column] > 0, distance[column], np.nan), cmap="viridis", vmin=0, vmax=20)
for ax in axes.flat:
    ax.axis("off")
axes[0, 0].set_title("image", loc="left")
axes[1, 0].set_title("labels (void: cream)", loc="left")
axes[2, 0].set_title("distance to the nearest boundary (0-20 px)", loc="left")
plt.tight_layout()
plt.show()

# %% [markdown]
# Three per-pixel classifiers, each ending in a 1×1 score layer with one logit per class:
#
# - **small field**: five 3×3 convolutions at full resolution, field 11;
# - **dilated**: the same five layers, the same number of weights, but dilations
#   1, 2, 4, 8 and 16, doubling as in Yu and Koltun's context module (*Multi-Scale
#   Context Aggregation by Dilated Convolutions*, ICLR 2016): field 63;
# - **pooled**: the network of section 2, whose three poolings give it a large field
#   cheaply (most layers work on an 8× smaller map), but whose scores come at one per
#   8×8 pixels and are upsampled bilinearly.

# %%
networks = {
    "small field": models.pixel_classifier((1, 1, 1, 1, 1), name="small_field"),
    "dilated": models.pixel_classifier((1, 2, 4, 8, 16), name="dilated"),
    "pooled": pooled_net,
}
summary_fields = {name: receptive.receptive_fields(net, input_size=IMAGE_SIZE)[net.layers[-1].name]
                  for name, net in networks.items()}
for name, net in networks.items():
    field = summary_fields[name]
    print(f"{name:12s} field {field.size[0]:3d} px, output stride {receptive.receptive_fields(net)['scores'].stride[0]}, "
          f"{net.count_params():,} weights")

# %% [markdown]
# A pixel counts as an object **centre** for the small network when its whole 11-pixel
# field lies inside the object: its distance to the nearest boundary is more than the
# field's radius, 5 pixels. Pixels at most 2 pixels from a boundary count as **edges**.
# We score both with the FCN paper's *pixel accuracy* and *mean accuracy* (per-class
# accuracy averaged over classes): a network that answers the same class everywhere can
# reach a fair pixel accuracy when that class dominates, but not a fair mean accuracy.

# %%
SMALL_FIELD = summary_fields["small field"].size[0]
CENTRE_DISTANCE = (SMALL_FIELD - 1) // 2 + 1  # the small field holds no boundary
EDGE_DISTANCE = 2  # the first two pixels inside an object
centre_pixels = ((distance >= CENTRE_DISTANCE) & (test_masks > 0) & (test_masks < data.VOID_LABEL)).sum()
print(f"object centres (distance >= {CENTRE_DISTANCE} px): {centre_pixels} test pixels")

# %% [markdown]
# Before training, we record the dilated network's effective receptive field (for
# section 6), then train the three networks on the same images with softmax
# cross-entropy, ignoring the void label (Keras' `ignore_class`), with Adam.

# %%
ERF_IMAGES = test_images[:16]  # images to average the gradient over
ERF_UNIT = CENTRE_UNIT  # the middle unit: its 63-pixel field fits in the image
erf_before = receptive.empirical_receptive_field(networks["dilated"], "scores", ERF_UNIT, inputs=ERF_IMAGES)

# %% tags=["nbval-ignore-output"]
EPOCHS = fcn_lessons.by_mode(full=10, quick=5)
BATCH_SIZE = 16
LEARNING_RATE = 3e-3
histories, train_seconds = {}, {}
for name, net in networks.items():
    net.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=data.VOID_LABEL))
    start = time.perf_counter()
    histories[name] = net.fit(train_images, train_masks, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0).history["loss"]
    train_seconds[name] = time.perf_counter() - start
    print(f"{name:12s} {EPOCHS} epochs on {NUM_TRAIN} images in {train_seconds[name]:.0f} s: "
          f"loss {histories[name][0]:.3f} -> {histories[name][-1]:.3f}")

# %%
for name, losses in histories.items():
    assert losses[-1] < losses[0], f"{name} did not learn"

# %% tags=["nbval-ignore-output"]
predictions = {name: net.predict(test_images, batch_size=50, verbose=0).argmax(axis=-1)
               for name, net in networks.items()}
scores = {name: receptive.accuracy_by_distance(test_masks, predicted, centre_distance=CENTRE_DISTANCE,
                                               edge_distance=EDGE_DISTANCE)
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
DISTANCE_BINS = (1, 3, 6, 9, 12, 16, 64)  # pixel distance bin edges
fig, ax = plt.subplots(figsize=(7, 3.6))
for name, predicted in predictions.items():
    profile = receptive.accuracy_profile(test_masks, predicted, DISTANCE_BINS)
    ax.plot(range(len(DISTANCE_BINS) - 1), profile["mean_accuracy"], "o-",
            label=f"{name} (field {summary_fields[name].size[0]})")
ax.axvline(1.5, ls="--", color="gray")
ax.set_xticks(range(len(DISTANCE_BINS) - 1))
ax.set_xticklabels([f"{a}-{b - 1}" for a, b in zip(DISTANCE_BINS[:-1], DISTANCE_BINS[1:])])
ax.set_xlabel("distance to the nearest boundary (px)")
ax.set_ylabel("mean accuracy (objects)")
ax.set_ylim(0, 1)
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# What the measurements say (our numbers are in `docs/RESULTS.md`; yours will be close):
#
# - The **small-field** network hardly names shapes anywhere: its mean accuracy stays
#   low at centres and near edges alike. At object centres it answers mostly
#   "background" or "circle": a flat patch of colour is all its units see, it could be
#   background, and on this data most of the deepest object pixels belong to circles
#   (a triangle's inscribed circle is small). A unit that sees 11 pixels can only play
#   such odds. Its pixel accuracy at centres is therefore not zero, which is why the mean
#   accuracy is the fairer score here.
# - The **dilated** and **pooled** networks, whose fields cover the objects, name the
#   centres far better, and do *better* at centres than near edges: in the middle of an
#   object their field holds the whole outline. (The deepest bin, 16 pixels or more from
#   any edge, holds the few objects that fill most of the image and reach past its border.)
#
# Here are a few test images, with the three networks' label maps:

# %%
SHOW = 5  # test images to show
fig, axes = plt.subplots(2 + len(networks), SHOW, figsize=(11, 2.2 * (2 + len(networks))))
for column in range(SHOW):
    axes[0, column].imshow(test_images[column])
    axes[1, column].imshow(viz.colorize(test_masks[column]))
    for row, name in enumerate(networks, start=2):
        axes[row, column].imshow(viz.colorize(predictions[name][column]))
for ax in axes.flat:
    ax.set_xticks([]), ax.set_yticks([])
for row, title in enumerate(["image", "labels"] + [f"{n} ({summary_fields[n].size[0]} px)" for n in networks]):
    axes[row, 0].set_ylabel(title, fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. The effective field after training
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
#
# ## 7. The price of pooling: the output stride
#
# The pooled network grew its field cheaply, but it scores one position per 8×8 pixels.
# How much does that cost by itself? Imagine a perfect classifier at stride `s`: each
# cell of `s × s` pixels gets the *true* proportions of its classes, which are then
# upsampled bilinearly, as in FCN-32s (`receptive.coarse_oracle`). Its errors are caused
# by the stride alone:

# %%
ORACLE_STRIDES = (1, 2, 4, 8, 16, 32)  # 32 is FCN-32s; 16 and 8 are FCN-16s and FCN-8s
print(f"{'stride':>6s} | centres: pixel acc | edges: pixel acc  mean acc")
oracle_edges = {}
for stride in ORACLE_STRIDES:
    oracle = receptive.coarse_oracle(test_masks, stride, data.NUM_CLASSES)
    score = receptive.accuracy_by_distance(test_masks, oracle, centre_distance=CENTRE_DISTANCE,
                                           edge_distance=EDGE_DISTANCE)
    oracle_edges[stride] = score["edge"]["pixel_accuracy"]
    print(f"{stride:6d} | {score['centre']['pixel_accuracy']:17.3f} | {score['edge']['pixel_accuracy']:15.3f} "
          f"{score['edge']['mean_accuracy']:9.3f}")
assert oracle_edges[1] == 1.0 and oracle_edges[32] < oracle_edges[8] < oracle_edges[1]

# %%
fig, axes = plt.subplots(1, 4, figsize=(10, 2.9))
axes[0].imshow(viz.colorize(test_masks[1]))
axes[0].set_title("labels")
for ax, stride in zip(axes[1:], (8, 16, 32)):
    ax.imshow(viz.colorize(receptive.coarse_oracle(test_masks[1:2], stride, data.NUM_CLASSES)[0]))
    ax.set_title(f"perfect at stride {stride}")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# Up to stride 16, centres survive; edges, corners and thin arms do not: at stride 8 a
# perfect classifier already gets about one edge pixel in seven wrong, at stride 16 about
# half. At stride 32 a 64-pixel image gives a 2×2 score map, and even centres are lost.
# Real images are larger than ours, but FCN-32s still scores one position per 32×32
# pixels: blobby boundaries are built in. This is the problem of lessons 04 and 05:
# FCN-16s and FCN-8s add predictions from pool4 and pool3 (strides 16 and 8) to recover
# the boundaries, while fc7 keeps its large field.
#
# ## 8. Dilation: a large field at full resolution, at a price
#
# The dilated network reached a field of 63 with no pooling at all: its output stride is
# 1. That is the idea of "à trous" (with holes) convolution, which DeepLab (Chen et al.,
# *DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, Atrous Convolution,
# and Fully Connected CRFs*, TPAMI 2018) uses to remove VGG16's last poolings and keep an
# output stride of 8 instead of 32. (The FCN paper, section 3.2, discusses the same trick
# as "filter rarefaction" and chooses learned upsampling with skips instead.) It has two
# costs.
#
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
# ## 9. Explore
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
#   `size += (k_eff − 1)·jump_below`, `jump *= stride`, `offset += ((k_eff − 1)/2 − pad)·jump_below`.
#   Late layers grow the field fastest, because their jump is large.
# - VGG16's pool3, pool4 and pool5 see 44, 100 and 212 pixels at strides 8, 16 and 32;
#   FCN-VGG16's fc6 (7×7) and fc7 see 404 pixels, as in the paper's Table 1.
# - Gradients measure the field: zero outside the analytic box, patchy inside (ReLU,
#   max pooling), and concentrated in the middle on average (the effective field).
# - A unit cannot name what it cannot see: with an 11-pixel field, the centres of large
#   shapes are guesses; with a field that covers them, they are the easiest pixels.
# - Pooling buys field cheaply but sets the output stride, which loses boundaries even for
#   a perfect classifier (lessons 04-05 add skips); dilation keeps full resolution at the
#   cost of computation and, with a careless schedule, holes.
#
# **Exercises** (`exercises/02_receptive_fields.ipynb`): 2.1 the recurrence for a list of
# layers; 2.2 the field and output stride of a Keras model; 2.3 a dilation schedule that
# reaches a target field without holes.
