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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/notebooks/01_conv1x1_is_dense.ipynb)
#
# # Lesson 01: a 1×1 convolution is a fully connected layer
#
# The first idea of *Fully Convolutional Networks for Semantic Segmentation* (Long,
# Shelhamer and Darrell, CVPR 2015) is that the fully connected layers at the end of a
# classifier are convolutions in disguise. Rewrite them as convolutions and the
# classifier accepts images of any size, producing a *map* of class scores instead of
# one score vector: the first step from classification to segmentation.

# %% [markdown]
# **You will leave knowing**
# - why a Dense layer is a 1×1 convolution with the same weights, reshaped;
# - why Flatten + Dense over an H×W×C map is an H×W 'valid' convolution, and why the
#   reshape must follow the flatten order (Keras' and PyTorch's differ);
# - how to *convolutionalize* a trained classifier, and why weight sharing makes its map
#   exactly the classifier run on every window;
# - which pixels each score sees (its receptive field), which pixel it predicts (where
#   the training labels sat), and how big the coarse class map is;
# - how much computation dense evaluation saves over a sliding window (measured), and
#   what stops it from saving more;
# - what this means for the paper's network, FCN-VGG16.
#
# **Prerequisites:** convolution, pooling and softmax classification in Keras; numpy
# reshapes. Lesson 00 introduces the course data set, but this lesson does not need it.
#
# **Run time:** about 80 s on two CPU cores, 67 s of it CPU time (measured: docs/RESULTS.md);
# not measured on a GPU.
# The exercises for this lesson are in `exercises/01_conv1x1_is_dense.ipynb`.

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

from fcn_lessons import conv1x1, data, environment, models, receptive

rng = np.random.default_rng(0)
# Float32 arithmetic: two computations of the same sum may round differently.
FLOAT32_TOLERANCE = 1e-5

# %% [markdown]
# ## 1. A Dense layer on a vector is a 1×1 convolution
#
# A Dense layer with C inputs and K outputs computes `y = x @ kernel + bias` with a
# kernel of shape (C, K). A 1×1 Conv2D on a 1×1×C map computes, at its single pixel,
# the same weighted sum of the C channels. Keras stores a Conv2D kernel as
# `(kernel_height, kernel_width, in_channels, out_channels)`, so the Dense kernel
# becomes the conv kernel by adding two axes of length 1: no transposition.

# %%
NUM_CHANNELS, NUM_OUTPUTS = 6, 4  # small enough to read

dense = keras.layers.Dense(NUM_OUTPUTS, bias_initializer="random_normal")  # a bias that is not 0
vector = rng.standard_normal((1, NUM_CHANNELS)).astype("float32")
dense_out = np.asarray(dense(vector))
kernel, bias = dense.get_weights()

conv = keras.layers.Conv2D(NUM_OUTPUTS, kernel_size=1)
conv.build((None, 1, 1, NUM_CHANNELS))
conv.set_weights([conv1x1.dense_kernel_to_conv1x1(kernel), bias])
conv_out = np.asarray(conv(vector.reshape(1, 1, 1, NUM_CHANNELS)))

print("Dense kernel:", kernel.shape, " -> Conv2D kernel:", tuple(conv.kernel.shape), " bias:", bias.shape)
print("Dense output:", dense_out.shape, "  Conv2D output:", conv_out.shape)

# %% tags=["nbval-ignore-output"]
difference = np.abs(dense_out - conv_out.reshape(1, NUM_OUTPUTS)).max()
print(f"max |Dense - Conv2D 1×1| = {difference:.1e}")
assert difference < FLOAT32_TOLERANCE

# %% [markdown]
# The outputs agree to float32 rounding (the two layers may add the products in a
# different order, so the last bit can differ; the printed value depends on your CPU).
# The bias is random, not Keras' default of zeros, so a conversion that lost it would show.
#
# ## 2. A Dense layer at every pixel is a 1×1 convolution
#
# Now give the convolution a bigger map: a 1×1 convolution applies the *same* Dense
# layer at every pixel independently. Keras' Dense layer does exactly that when its
# input has more than two axes: it acts on the last axis only.

# %%
feature_map = rng.standard_normal((1, 5, 7, NUM_CHANNELS)).astype("float32")
per_pixel_dense = np.asarray(dense(feature_map))
per_pixel_conv = np.asarray(conv(feature_map))
print("map:", feature_map.shape, "-> Dense:", per_pixel_dense.shape, " Conv2D 1×1:", per_pixel_conv.shape)

# %% tags=["nbval-ignore-output"]
difference = np.abs(per_pixel_dense - per_pixel_conv).max()
print(f"max |Dense - Conv2D 1×1| over 35 pixels = {difference:.1e}")
assert difference < FLOAT32_TOLERANCE

# %% [markdown]
# This is why FCN's classifier (the *score* layer) is a 1×1 convolution: it is a linear
# classifier applied to the feature vector at every position.
#
# ## 3. Flatten + Dense is an H×W 'valid' convolution
#
# A classifier usually flattens its last H×W×C feature map into a vector of H·W·C
# numbers and applies a Dense layer. That Dense kernel has shape (H·W·C, K): one weight
# per (row, column, channel) and output. Reshaped to (H, W, C, K), it is the kernel of
# an H×W convolution, which, with 'valid' padding on an H×W map, has exactly one output
# position: the same weighted sum.

# %%
HEIGHT, WIDTH, CHANNELS, CLASSES = 3, 4, 2, 5
fmap = rng.standard_normal((1, HEIGHT, WIDTH, CHANNELS)).astype("float32")

flatten_dense = keras.Sequential([keras.Input((HEIGHT, WIDTH, CHANNELS)), keras.layers.Flatten(),
                                  keras.layers.Dense(CLASSES, bias_initializer="random_normal")])
fc_kernel, fc_bias = flatten_dense.layers[-1].get_weights()

big_conv = keras.layers.Conv2D(CLASSES, (HEIGHT, WIDTH), padding="valid")
big_conv.build((None, HEIGHT, WIDTH, CHANNELS))
big_conv.set_weights([conv1x1.flatten_dense_kernel_to_conv(fc_kernel, (HEIGHT, WIDTH, CHANNELS)), fc_bias])

print("Dense kernel", fc_kernel.shape, "-> conv kernel", tuple(big_conv.kernel.shape))
print("Flatten+Dense output:", tuple(flatten_dense(fmap).shape), "  conv output:", tuple(big_conv(fmap).shape))

# %% tags=["nbval-ignore-output"]
difference = np.abs(np.asarray(flatten_dense(fmap)) - np.asarray(big_conv(fmap)).reshape(1, CLASSES)).max()
print(f"max |Flatten+Dense - {HEIGHT}×{WIDTH} conv| = {difference:.1e}")
assert difference < FLOAT32_TOLERANCE

# %% [markdown]
# The reshape must follow the order in which Flatten read the map. Keras' Flatten
# (channels last) reads row by row, and within a pixel channel by channel, so element
# `(i, j, c)` lands at index `(i * W + j) * C + c`: numpy's default (C-order) reshape.
# PyTorch (and Caffe, the paper's framework) store a map channels first, (C, H, W), and
# their flatten puts the same element at `(c * H + i) * W + j`. Each number below is the
# row of the Dense kernel that weighs that element of our 3×4×2 map:

# %%
fig = conv1x1.plot_flatten_order((HEIGHT, WIDTH, CHANNELS))
plt.show()

# %% [markdown]
# A kernel whose rows are read in the other order (`conv1x1.unflatten_kernel` reads them
# either way) weighs the wrong pixel with each weight:

# %%
wrong_kernel = conv1x1.unflatten_kernel(fc_kernel, (HEIGHT, WIDTH, CHANNELS), data_format="channels_first")
big_conv.set_weights([wrong_kernel, fc_bias])
wrong = np.abs(np.asarray(flatten_dense(fmap)) - np.asarray(big_conv(fmap)).reshape(1, CLASSES)).max()
print(f"rows read channels first: max |difference| = {wrong:.2f}  (not rounding: wrong weights)")
big_conv.set_weights([conv1x1.flatten_dense_kernel_to_conv(fc_kernel, (HEIGHT, WIDTH, CHANNELS)), fc_bias])

# %% [markdown]
# Moving a classifier's head between Keras and PyTorch meets this trap, and a second one:
# PyTorch stores a `Linear` weight as (out_features, in_features), one row per output,
# where a Keras Dense kernel is (inputs, outputs). Exercise 1.1 has you export a Keras
# head to PyTorch.
#
# Once it is a convolution, it slides: on a map larger than H×W it produces one output
# per H×W window, `(H' - H + 1) × (W' - W + 1)` of them.

# %%
larger = rng.standard_normal((1, HEIGHT + 4, WIDTH + 6, CHANNELS)).astype("float32")
print("input", larger.shape[1:3], "-> conv output", tuple(big_conv(larger).shape[1:3]))
# Flatten + Dense cannot do this: its kernel expects exactly H*W*C inputs.

# %% [markdown]
# Many recent classifiers (Keras' ResNet50, DenseNet and EfficientNet among them) end with
# global average pooling instead of Flatten, then a Dense layer. That head is one
# convolution too; Exercise 1.2 asks you to find its kernel.
#
# ## 4. A classifier of the course's shapes
#
# The course's data set draws shapes (circle, square, triangle, cross) on textured
# backgrounds, with colours drawn from the same distribution for every class, so a
# network must recognise *shape*. For a classifier we cut 32×32 crops and label each by
# what lies under its middle: `data.make_shape_crops` redraws a crop until the 3×3 block
# of pixels 15-17 (rows and columns) is all one class, and that class is the label, a
# shape or background (possibly with a shape elsewhere in the crop). A 32-pixel crop has
# no single centre pixel (its centre, 15.5, falls between pixels 15 and 16): the label
# block is centred on pixel 16. Section 8 shows why that detail matters.

# %%
CROP_SIZE = 32  # the classifier's input side in pixels
LABEL_PIXEL = CROP_SIZE // 2  # make_shape_crops labels the 3×3 block centred on pixel (16, 16)
NUM_TRAIN = fcn_lessons.by_mode(full=8000, quick=4000)
NUM_TEST = 1000
train_images, train_labels = data.make_shape_crops(NUM_TRAIN, CROP_SIZE, seed=1)
test_images, test_labels = data.make_shape_crops(NUM_TEST, CROP_SIZE, seed=2)

fig, axes = plt.subplots(2, 8, figsize=(12, 3.4))
for ax, image, label in zip(axes.flat, test_images, test_labels):
    ax.imshow(image)
    ax.set_title(f"label: {data.CLASS_NAMES[label]}", fontsize=9)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# The classifier is VGG-shaped on a small scale: 3×3 convolutions, 2×2 max poolings,
# then Flatten, one hidden Dense layer `fc1` (in the part of VGG16's fc6; this small head
# has no fc7), dropout, and a softmax Dense layer `scores` over the 5 classes (VGG16's
# last layer). Note the **'valid'** padding of its convolutions; section 9 shows why that
# matters.

# %% tags=["nbval-ignore-output"]
classifier = models.crop_classifier(CROP_SIZE)
classifier.summary()

# %% tags=["nbval-ignore-output"]
EPOCHS = fcn_lessons.by_mode(full=12, quick=6)
BATCH_SIZE = 32
classifier.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                   metrics=["accuracy"])
history = classifier.fit(train_images, train_labels, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
test_loss, test_accuracy = classifier.evaluate(test_images, test_labels, verbose=0)
print(f"{EPOCHS} epochs on {NUM_TRAIN} crops: test accuracy {test_accuracy:.3f} on {NUM_TEST} new crops")

# %%
# The bar a trained classifier must clear: always answering "background" scores 0.4
# (make_shape_crops' default background_fraction), guessing among 5 classes 0.2.
assert test_accuracy > fcn_lessons.by_mode(full=0.9, quick=0.55), test_accuracy

# %% [markdown]
# ## 5. Convolutionalize it
#
# `conv1x1.convolutionalize` rebuilds the classifier on an input of *any* size: the
# convolutional trunk is copied as is, Flatten + the first Dense (`fc1`) becomes a
# 'valid' convolution as large as the trunk's output on a 32×32 crop (4×4, see the
# table), and the last Dense becomes a 1×1 convolution. The weights are copied,
# reshaped: nothing is retrained.

# %%
CANVAS_SIZE = 128  # the canvases of section 8
OUTPUT_STRIDE = 2 * 2  # two 2×2 poolings: neighbouring scores are 4 pixels apart (section 7 checks it)
fcn = conv1x1.convolutionalize(classifier)
# A model that returns every layer's output, to print the shapes on two input sizes.
every_layer = keras.Model(fcn.input, [layer.output for layer in fcn.layers[1:]])
shapes_crop = [o.shape[1:] for o in every_layer.predict_on_batch(np.zeros((1, CROP_SIZE, CROP_SIZE, 3)))]
shapes_canvas = [o.shape[1:] for o in every_layer.predict_on_batch(np.zeros((1, CANVAS_SIZE, CANVAS_SIZE, 3)))]
print(f"{'layer':14s} {'type':13s} {'kernel':16s} {'on 32×32':14s} on {CANVAS_SIZE}×{CANVAS_SIZE}")
for layer, small, big in zip(fcn.layers[1:], shapes_crop, shapes_canvas):
    kernel_shape = str(tuple(layer.kernel.shape)) if hasattr(layer, "kernel") else "-"
    print(f"{layer.name:14s} {type(layer).__name__:13s} {kernel_shape:16s} {str(small):14s} {big}")

# %% tags=["nbval-ignore-output"]
on_crops = classifier.predict_on_batch(test_images[:64])
on_crops_fcn = fcn.predict_on_batch(test_images[:64])
print("classifier:", on_crops.shape, "  fully convolutional:", on_crops_fcn.shape)
difference = np.abs(on_crops - on_crops_fcn[:, 0, 0]).max()
print(f"max |difference| on 64 test crops = {difference:.1e}")
assert difference < FLOAT32_TOLERANCE

# %% [markdown]
# ## 6. Weight sharing: why one pass scores every window
#
# A convolution applies **the same kernel at every position** of its input: weight
# sharing. So every position of the convolutionalized network computes the function
# the classifier computes on one crop, and on a larger image one pass scores every
# window: score (i, j) is the classifier on the crop whose top-left pixel is (4i, 4j).
# Shift a 256×256 canvas by one output stride (drop its top 4 rows) and the map shifts
# by exactly one row:

# %%
BENCH_CANVAS = 256  # the canvas of the benchmark recorded in docs/RESULTS.md
bench_image = data.make_shapes(1, image_size=BENCH_CANVAS, seed=0)[0][0].astype("float32")
dense_map = fcn.predict_on_batch(bench_image[None])[0]
shifted_map = fcn.predict_on_batch(bench_image[None, OUTPUT_STRIDE:])[0]
print(f"map of the canvas: {dense_map.shape}; without its top {OUTPUT_STRIDE} rows: {shifted_map.shape}")
assert np.allclose(shifted_map, dense_map[1:], atol=FLOAT32_TOLERANCE)

# %% [markdown]
# And each score *is* the classifier on its window. The sliding window below crops every
# 32×32 window at stride 4 and runs the classifier on them (batched: all windows in a few
# big calls):

# %%
sliding_map = conv1x1.sliding_window_scores(classifier, bench_image, OUTPUT_STRIDE)
print("dense:", dense_map.shape, "  sliding window:", sliding_map.shape)
assert np.allclose(dense_map, sliding_map, atol=FLOAT32_TOLERANCE)

# %% [markdown]
# **A correction.** The blog post this course grew from (a Chinese-language article on FCN
# by the account 禅与计算机程序设计艺术; lesson 07 runs and debugs its code) says in its
# section 3.6 that in an FCN weight sharing between layers is meaningless
# ("在FCN中，不同层的权重共享是无意义的"), only slows convergence, and lowers generalisation,
# since "即使对于相同的输入，模型也可以产生不同的输出" (even for the same input the model
# can give different outputs). A CNN shares weights within a layer, across positions (the
# post's own first sentence on the topic says so), and the two cells above rest on it. The
# paper's FCN shares no weights between layers (recurrent networks do, by design, such as
# the recurrent convnet of Pinheiro and Collobert that the FCN paper compares with). And
# a network's output depends only on its input in inference mode; dropout makes it random
# in training mode only:

# %%
FEW_CROPS = 8
inference = [np.asarray(classifier(test_images[:FEW_CROPS], training=False)) for _ in range(2)]
training = [np.asarray(classifier(test_images[:FEW_CROPS], training=True)) for _ in range(2)]
print(f"two runs on {FEW_CROPS} crops: equal in inference mode: {np.array_equal(*inference)}; "
      f"in training mode (dropout on): {np.array_equal(*training)}")

# %% [markdown]
# ## 7. Which pixels each score sees: 30, not 32
#
# Score (i, j) is the classifier on the 32×32 crop at (4i, 4j). But does every pixel of
# that crop count? Lesson 02's `receptive.receptive_fields` runs the receptive-field
# recurrence (size, stride, offset: the centre of unit 0's field) through the layers:

# %%
fields = receptive.receptive_fields(fcn)
for name in ("conv1", "pool1", "conv2", "pool2", "conv3", "fc1", "scores"):
    field = fields[name]
    print(f"{name:7s} field {field.size[0]:2d} px, stride {field.stride[0]}, unit 0 centred at {field.offset[0]}")
score_field = fields["scores"]
assert score_field.stride == (OUTPUT_STRIDE, OUTPUT_STRIDE)

# %% [markdown]
# The score's **receptive field** is 30 pixels, centred at 4i + 14.5, where the crop's
# centre is 4i + 15.5. The second pooling is the reason. On a 32-pixel crop, conv2
# outputs 13 rows (table of section 5), and a 2×2 pooling with stride 2 rounds 13 / 2
# down to 6: it drops conv2's last row. That row alone read pool1's last row, which
# alone read conv1's last two rows, which alone read the crop's rows 30 and 31. So the
# classifier's *window* (its input, 32 pixels) is larger than its *field* (the pixels
# its output depends on): the last 2 rows and columns of every crop never count.
# Gradients agree: only a 30×30 square of a crop moves the score (we differentiate one
# class's probability: the five always sum to 1, so their sum has no gradient).

# %%
GRADIENT_CROPS = 16  # test crops to measure on (a pixel counts if any of them moves the score)
measured = receptive.empirical_receptive_field(fcn, "scores", (0, 0), channel=0,
                                               inputs=test_images[:GRADIENT_CROPS].astype("float32"))
top, left, bottom, right = measured.box
print(f"pixels of a {CROP_SIZE}×{CROP_SIZE} crop with a non-zero gradient: rows {top}-{bottom}, "
      f"columns {left}-{right} ({int(measured.nonzero.sum())} of {CROP_SIZE ** 2})")
assert (bottom - top + 1, right - left + 1) == score_field.size

# %% [markdown]
# The field also sets the size of the score map. With 'valid' layers and poolings that
# round down, a score exists exactly where its field fits inside the image: a side of
# N pixels gives `(N - 30) // 4 + 1` scores. The crop's formula `(N - 32) // 4 + 1`
# agrees when N leaves a remainder of 0 or 1 when divided by 4, and is one short
# otherwise (Exercise 1.4 asks you to work this out for a deeper classifier):

# %%
FIELD = score_field.size[0]
for side in range(CANVAS_SIZE, CANVAS_SIZE + OUTPUT_STRIDE):  # one side for each remainder 0, 1, 2, 3
    rows = fcn.compute_output_shape((1, side, side, 3))[1]
    print(f"N = {side} (remainder {side % OUTPUT_STRIDE}): score map side {rows}; (N - {FIELD}) // {OUTPUT_STRIDE}"
          f" + 1 = {conv1x1.output_size(side, FIELD, OUTPUT_STRIDE)}, (N - {CROP_SIZE}) // {OUTPUT_STRIDE} + 1 = "
          f"{conv1x1.output_size(side, CROP_SIZE, OUTPUT_STRIDE)}")
    assert rows == conv1x1.output_size(side, FIELD, OUTPUT_STRIDE)

# %% [markdown]
# ## 8. What each score predicts, on a whole canvas
#
# The field says which pixels a score *sees*. What it *predicts* was set by training:
# the classifier learnt to report the label block around pixel 16 of its window, so
# score (i, j) should say what lies at pixel (4i + 16, 4j + 16), 1.5 pixels from its
# field's centre. Measure it on 64 canvases of crop-sized shapes: compare the argmax at
# every score with the label at (4i + o, 4j + o) for candidate pixels o (object pixels
# tell most: most of a canvas is background).

# %% tags=["nbval-ignore-output"]
AGREEMENT_CANVASES = 64
CANDIDATE_PIXELS = range(LABEL_PIXEL - 4, LABEL_PIXEL + 4)
CROP_SIZED = (0.5 * CROP_SIZE / CANVAS_SIZE, 0.9 * CROP_SIZE / CANVAS_SIZE)  # object diameters of the crops
canvases, canvas_masks = data.make_shapes(AGREEMENT_CANVASES, image_size=CANVAS_SIZE, seed=7,
                                          num_objects=(6, 6), object_size=CROP_SIZED)
canvas_maps = fcn.predict(canvases.astype("float32"), batch_size=16, verbose=0)
agreement = conv1x1.label_agreement_by_offset(canvas_maps, canvas_masks, stride=OUTPUT_STRIDE,
                                              offsets=CANDIDATE_PIXELS)
print(f"{'pixel o':>8s} {'all pixels':>11s} {'object pixels':>14s}")
for row in agreement:
    print(f"{row['offset']:8d} {row['all']:11.3f} {row['objects']:14.3f}")
peak = conv1x1.agreement_peak(agreement)
print(f"object-pixel agreement peaks at o = {peak:.1f} (field centre {score_field.offset[0]}, label {LABEL_PIXEL})")

# %%
assert abs(peak - LABEL_PIXEL) < abs(peak - score_field.offset[0]), peak  # nearer the label than the field centre

# %% [markdown]
# Agreement peaks at the label's pixel, 16, and falls off evenly on both sides of it,
# not around the field's centre, 14.5. Two facts, then: **where the training label sat
# decides what a score predicts; the receptive field only bounds what it can see** (here
# the 30×30 square from 4i to 4i + 29). So we draw score (i, j) at pixel (4i + 16,
# 4j + 16). In lesson 04 an FCN learns from per-pixel labels, and the crop that aligns
# its output with the label map plays the same part. The first panel below zooms on one
# score: its window (cyan, dashed), its field (yellow) and where it is drawn (magenta).

# %%
SHOWN_SCORE = (12, 10)  # the score whose window and field the first panel shows
canvas, canvas_mask, score_map = canvases[0], canvas_masks[0], canvas_maps[0]
fig = conv1x1.plot_score_maps(canvas, canvas_mask, score_map, field=score_field, window=CROP_SIZE,
                              class_names=data.CLASS_NAMES, position=SHOWN_SCORE, score_offset=LABEL_PIXEL)
plt.show()
last = score_map.shape[0] - 1
print(f"scores drawn on pixels {LABEL_PIXEL} to {LABEL_PIXEL + OUTPUT_STRIDE * last} of 0-{CANVAS_SIZE - 1}; "
      f"the fields cover pixels {score_field.box((0, 0))[0]} to {score_field.box((last, last))[2]}")

# %% [markdown]
# The maps are coarse (one score per 4 pixels), blurry at shape borders and sometimes
# wrong about which shape, but they already say *what is where*. No score is drawn near
# the canvas's edges (printed above): a score needs its whole field inside the canvas.
# The fields reach the top and left edges, but the last 2 rows and columns are in no
# field at all: 128 − 30 = 98 is not a multiple of 4. Turning such maps into a
# full-resolution segmentation, with upsampling and skip connections, is what lessons 03
# to 05 do.
#
# ## 9. Why 'valid' padding
#
# The dense map equals the sliding window only if every window sees the same numbers in
# both computations. With 'same' padding, a crop's convolutions pad its border with
# zeros, where inside the canvas the same units see the real neighbouring pixels. Give a
# 'same'-padded classifier the trained convolutions (padding changes no kernel shape) and
# compare the conv3 features of one window, computed on the crop alone and inside the
# canvas (`conv1x1.window_feature_mismatch`: per unit, relative to the largest feature):

# %% tags=["nbval-ignore-output"]
same_classifier = models.crop_classifier(CROP_SIZE, padding="same")
for name in ("conv1", "conv2", "conv3"):  # the trunk (fc1 does not fit: conv3's map is 8×8 here, not 4×4)
    same_classifier.get_layer(name).set_weights(classifier.get_layer(name).get_weights())
valid_mismatch = conv1x1.window_feature_mismatch(classifier, "conv3", canvas, SHOWN_SCORE)
same_mismatch = conv1x1.window_feature_mismatch(same_classifier, "conv3", canvas, SHOWN_SCORE)
print(f"'valid': {valid_mismatch.shape[0]}×{valid_mismatch.shape[1]} units, largest difference "
      f"{valid_mismatch.max():.0e}")
print(f"'same': {same_mismatch.shape[0]}×{same_mismatch.shape[1]} units, difference per unit:")
print(np.array2string(same_mismatch, precision=2, floatmode="fixed", suppress_small=True))

# %%
same_field = receptive.receptive_fields(conv1x1.convolutionalize(same_classifier))["conv3"]
inside = [u for u in range(same_mismatch.shape[0])  # units whose field lies inside the crop, rows and columns
          if same_field.box((u, u))[0] >= 0 and same_field.box((u, u))[2] < CROP_SIZE]
print(f"conv3 units whose {same_field.size[0]}-pixel field lies inside the crop: {inside[0]}-{inside[-1]}")
middle = np.ix_(inside, inside)
assert valid_mismatch.max() < FLOAT32_TOLERANCE and same_mismatch[middle].max() < FLOAT32_TOLERANCE
assert same_mismatch[0].min() > 100 * FLOAT32_TOLERANCE  # the top row of units sees the zero padding

# %% [markdown]
# With 'valid' padding the window's features are the same numbers in both. With 'same'
# padding only the middle units, whose fields lie inside the crop, agree; every unit
# whose field reaches past the crop's border differs, and fc1 reads them all. VGG16 (and
# so the FCN paper's network) pads its 3×3 convolutions, so its dense output is *not*
# exactly the classifier run on crops: each unit sees real context where the classifier
# saw zeros. That is fine (arguably better); just know that "equivalent" is exact only
# for 'valid'.
#
# ## 10. How much dense evaluation saves, and what stops it saving more
#
# Neighbouring windows overlap by 28 of their 32 pixels, and the dense network computes
# each shared feature once. `conv1x1.time_dense_and_sliding` times both on the 256×256
# canvas, as wall-clock time and as CPU time (summed over the process's threads, which
# other programs on the machine disturb less):

# %% tags=["nbval-ignore-output"]
timing = conv1x1.time_dense_and_sliding(classifier, fcn, bench_image[None], OUTPUT_STRIDE, repeats=5)
for clock, what in (("", "wall-clock"), ("_cpu", "CPU time")):
    dense_ms, sliding_ms = (1e3 * timing[f"{side}{clock}_s"] for side in ("dense", "sliding"))
    print(f"{what:10s}: dense {dense_ms:6.1f} ms, sliding window {sliding_ms:7.1f} ms: {sliding_ms / dense_ms:4.0f}×")
print(f"in the sliding window's CPU time: cutting the {timing['outputs']:,} crops {1e3 * timing['crops_cpu_s']:.1f}"
      f" ms; {timing['calls']} predict calls where the dense model makes 1 (a call on one crop: "
      f"{1e3 * timing['call_cpu_s']:.1f} ms)")

# %%
assert timing["sliding_cpu_s"] > 2 * timing["dense_cpu_s"]  # timings vary by machine; dense is always well ahead

# %% [markdown]
# Every pixel lies in up to (32 / 4)² = 64 windows, so one might expect 64×. Count the
# multiply-adds per score instead, layer by layer (`conv1x1.work_per_output`): what one
# window costs the sliding window, what the dense model spends per score, and their
# ratio, the number of windows that share each computation:

# %%
print(f"{'layer':7s} {'per window':>11s} {'dense, per score':>17s} {'shared by':>10s}")
for row in conv1x1.work_per_output(classifier, fcn, bench_image.shape):
    print(f"{row['layer']:7s} {row['window']:>11,} {row['dense']:>17,.0f} {row['sharing']:>9.1f}×")

# %% [markdown]
# Three things keep the sharing far below 64:
# - **The head is not shared.** fc1 runs once per score either way: its 65,536
#   multiply-adds are 31% of the dense model's work per score.
# - **'Valid' convolutions shrink each window's maps.** Inside one crop a layer has m
#   units per side, s pixels apart: conv1 30 × 1, conv2 13 × 2, conv3 4 × 4, fc1 1 × 4.
#   Windows start 4 pixels apart, so each unit is shared by (m·s / 4)² windows: 56, 42,
#   16 and 1. Only a layer spanning all 32 pixels would be shared 64 ways.
# - **The border.** The dense model also computes features near the canvas edge that
#   few scores use: 254² conv1 positions for 57² scores, 19.9 per score instead of 16.
#
# The border matters less on bigger canvases; the other two stay:

# %%
for side in (BENCH_CANVAS, 4 * BENCH_CANVAS):
    total = conv1x1.work_per_output(classifier, fcn, (side, side, 3))[-1]
    print(f"{side}×{side} canvas: {total['sharing']:.1f}× less arithmetic per score than the sliding window")

# %% [markdown]
# So dense evaluation does 21× less arithmetic per score here, and it runs faster than
# that: on a quiet 2-core machine, `python -m fcn_lessons.bench dense-vs-sliding` measured
# about 30× (docs/RESULTS.md). Your ratios above depend on the machine; wall-clock ratios
# swing when other programs share the cores (on a loaded 2-core machine, 20× in one run
# and 60× in the next), CPU-time ratios much less (30× in both). Beyond 21× it is
# implementation speed: timed layer by layer (RESULTS), every layer but the tiny last one
# gets through fewer multiply-adds per CPU-second on a thousand crops per call than
# on one big canvas (how many fewer varies from run to run; fc1, a matrix product on the
# crops, falls furthest behind). Cutting the crops and the extra calls add only a few per
# cent (printed above).

# %% [markdown]
# The FCN paper reports the same amortisation for AlexNet (section 3.1): 1.2 ms "on a
# typical GPU" for the scores of one 227×227 image, 22 ms for a 10×10 grid of outputs
# on a 500×500 image, "more than 5 times faster than the naïve approach". Its footnote:
# "Assuming efficient batching of single image inputs"; one image by itself took 5.4 ms,
# "nearly 25 times slower than the fully convolutional version". Our sliding window is
# batched in that sense too.

# %% [markdown]
# ## 11. The paper's case: VGG16
#
# FCN-VGG16 starts from the VGG16 classifier: five conv blocks ending in 2×2 max pooling
# (output stride 32, a 7×7×512 map for a 224×224 image), then two fully connected layers
# of 4096 units and the 1000-way ImageNet classifier. Keras names these three `fc1`,
# `fc2` and `predictions` (so Keras' `fc1` is VGG16's fc6, not our crop classifier's
# `fc1`). The paper calls the first two fc6 and fc7 ("convolutionalized fc6", "conv7
# (convolutionalized fc7)"), as does the Caffe VGG16 model it started from, whose
# classifier is fc8. FCN drops that classifier ("We decapitate each net by discarding
# the final classifier layer") and appends a 1×1 convolution with 21 channels,
# `score_fr` in the authors' reference code. We build VGG16 with random weights
# (`weights=None`: nothing to download) and logits as outputs.

# %%
NAMES = {"block5_pool": "pool5", "fc1": "fc6", "fc2": "fc7", "predictions": "fc8 (FCN: dropped for score_fr)"}
vgg = keras.applications.VGG16(weights=None, classifier_activation=None)
fcn_vgg = conv1x1.convolutionalize(vgg)
print(f"{'Keras':12s} {'paper / Caffe / reference':32s} {'convolutionalized':18s} kernel")
for name, paper_name in NAMES.items():
    layer = fcn_vgg.get_layer(name)
    print(f"{name:12s} {paper_name:32s} {type(layer).__name__:18s} "
          f"{tuple(layer.weights[0].shape) if layer.weights else '-'}")

# %% [markdown]
# Same logits at 224×224 (relative difference, because random VGG16 logits are large):

# %% tags=["nbval-ignore-output"]
VGG_SIZE = 224  # VGG16's training crop
VGG_STRIDE = 32  # five 2×2 poolings
image_224 = rng.uniform(0, 255, (1, VGG_SIZE, VGG_SIZE, 3)).astype("float32")
logits = vgg.predict_on_batch(keras.applications.vgg16.preprocess_input(image_224.copy()))
logits_fcn = fcn_vgg.predict_on_batch(keras.applications.vgg16.preprocess_input(image_224.copy()))
relative = np.abs(logits - logits_fcn[:, 0, 0]).max() / np.abs(logits).max()
print(f"logits {logits.shape} vs {logits_fcn.shape}: max relative difference {relative:.1e}")
assert relative < 1e-4
VGG_PARAMS = vgg.count_params()
del vgg  # 138M parameters (553 MB): the convolutionalized copy is all we need from here

# %% [markdown]
# On a larger image it yields a spatial score map. We pick 384 = 224 + 5 × 32 pixels:
# sizes of the form 224 + 32k use every pixel (each extra 32 pixels adds one output
# position). Here the map's size does not follow the receptive field: VGG16 pads its
# convolutions, so fc7's field (404 pixels, printed below) is larger than the 224-pixel
# crop, reaching into the zero padding, yet the map has (N − 224) // 32 + 1 positions per
# side, the crop's formula.

# %%
LARGE_SIZE = 384
large = rng.uniform(0, 255, (1, LARGE_SIZE, LARGE_SIZE, 3)).astype("float32")
large_map = fcn_vgg.predict_on_batch(keras.applications.vgg16.preprocess_input(large))
print(f"fc7's receptive field: {receptive.receptive_fields(fcn_vgg)['fc2'].size[0]} pixels")
print(f"({LARGE_SIZE} - {VGG_SIZE}) // {VGG_STRIDE} + 1 = {conv1x1.output_size(LARGE_SIZE, VGG_SIZE, VGG_STRIDE)}"
      f" -> score map {large_map.shape}")

# %% [markdown]
# **Parameters.** Convolutionalizing changes no parameter count. FCN-VGG16 replaces the
# 1000-way ImageNet classifier by a 21-way score layer (PASCAL VOC's 20 classes plus
# background), which gives the paper's count, "134M" in its Table 1.

# %%
VOC_CLASSES = 21  # 20 object classes + background
imagenet_classifier = fcn_vgg.get_layer("predictions")  # now a 1×1 convolution, fc7 -> 1000
fc7_units = imagenet_classifier.kernel.shape[-2]
fcn_vgg16_params = fcn_vgg.count_params() - imagenet_classifier.count_params() + (fc7_units * VOC_CLASSES
                                                                                   + VOC_CLASSES)
print(f"VGG16: {VGG_PARAMS:,}   convolutionalized: {fcn_vgg.count_params():,}")
print(f"FCN-VGG16 (21-way score layer): {fcn_vgg16_params:,}  ≈ {fcn_vgg16_params / 1e6:.0f}M (paper: 134M)")

# %% [markdown]
# Then we release the model, which holds over half a gigabyte of weights.
# `environment.release_memory()` clears Keras' references to old models, collects
# garbage and asks the C library to hand freed memory back to the system. With
# TensorFlow's default CPU settings most of it stays in the kernel anyway: TensorFlow
# keeps freed memory in a pool of its own for later models (docs/RESULTS.md measured
# both). So shut a lesson's kernel down before starting the next.

# %% tags=["nbval-ignore-output"]
del fcn_vgg, imagenet_classifier, logits_fcn, large_map  # our own references first
released = environment.release_memory()
print(f"resident memory: {released['rss_before_mib']:.0f} MiB -> {released['rss_after_mib']:.0f} MiB")

# %% [markdown]
# ## 12. Optional: a real heat map with ImageNet weights
#
# With ImageNet weights (a 528 MB download, fine on Colab), the convolutionalized VGG16
# turns a photo into a map of class scores. This cell runs only in the learner-sized
# version of the lesson (not in the tests) and only when the weights can be downloaded;
# otherwise it says why it was skipped. It releases the models when done.

# %% tags=["nbval-ignore-output"]
LABRADOR = 208  # ImageNet class index of "Labrador retriever"
PHOTO_SIZE = 448  # 224 + 7 × 32: an 8×8 score map
PHOTO_URL = "https://storage.googleapis.com/download.tensorflow.org/example_images/YellowLabradorLooking_new.jpg"
pretrained = conv1x1.imagenet_vgg16() if fcn_lessons.by_mode(full=True, quick=False) else None
if pretrained is None:
    print("Skipped: ImageNet weights not available here (quick mode or offline); on Colab this shows a heat map.")
else:
    photo = np.asarray(keras.utils.load_img(keras.utils.get_file(origin=PHOTO_URL), target_size=(PHOTO_SIZE, PHOTO_SIZE)))
    heat = conv1x1.class_probability_map(conv1x1.convolutionalize(pretrained), photo, LABRADOR,
                                         preprocess=keras.applications.vgg16.preprocess_input)
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    axes[0].imshow(photo)
    axes[1].imshow(heat, cmap="magma", vmin=0, vmax=1)
    axes[1].set_title(f"P(Labrador retriever), {heat.shape[0]}×{heat.shape[1]} map")
    plt.show()
del pretrained
_ = environment.release_memory()

# %% [markdown]
# ## Summary
#
# - A Dense layer is a 1×1 convolution; Flatten + Dense over an H×W×C map is an H×W
#   'valid' convolution, its kernel the Dense kernel reshaped in flatten order (row,
#   column, channel in Keras; channel, row, column in PyTorch).
# - A convolutionalized classifier runs on any size, and weight sharing makes its map
#   exactly the classifier on every window (with 'valid' padding).
# - Each score sees its receptive field (30 of the crop's 32 pixels here) and predicts
#   what its training label described (pixel 16 of its window); with 'valid' layers the
#   map has `(N - R) // S + 1` positions per side, for a field R and output stride S.
# - Dense evaluation computes shared features once: here 21× less arithmetic per score,
#   bounded by the unshared head and 'valid' shrinkage.
# - FCN-VGG16 is VGG16 with fc6/fc7 as 7×7/1×1 convolutions and a 21-way score layer:
#   134M parameters, output stride 32, a coarse map that lessons 03-05 refine.
#
# **Exercises** (`exercises/01_conv1x1_is_dense.ipynb`): 1.1 export a Keras head to
# PyTorch; 1.2 global average pooling + Dense as one convolution; 1.3 convolutionalize;
# 1.4 predict the map's size for a deeper classifier.

# %% tags=["nbval-ignore-output"]
print(f"peak memory of this kernel: {fcn_lessons.environment.peak_memory_mib():.0f} MiB")
