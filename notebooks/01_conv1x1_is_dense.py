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
#
# **You will leave knowing**
# - why a Dense layer is a 1×1 convolution with the same weights, reshaped;
# - why Flatten + Dense over an H×W×C map is an H×W 'valid' convolution, and why the
#   reshape must follow the flatten order;
# - how to *convolutionalize* a trained classifier so it runs on any image size and
#   yields a coarse class map, and how big that map is;
# - how much computation dense evaluation shares compared with a sliding window (measured);
# - what this means for the paper's network, FCN-VGG16.
#
# **Prerequisites:** convolution, pooling and softmax classification in Keras; numpy
# reshapes. Lesson 00 introduces the course data set, but this lesson does not need it.
#
# **Run time:** about 1 minute on a laptop CPU; about 30 seconds on a Colab GPU.
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

from fcn_lessons import conv1x1, data, models, viz
from fcn_lessons.timing import median_seconds

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

dense = keras.layers.Dense(NUM_OUTPUTS)
vector = rng.standard_normal((1, NUM_CHANNELS)).astype("float32")
dense_out = np.asarray(dense(vector))
kernel, bias = dense.get_weights()

conv = keras.layers.Conv2D(NUM_OUTPUTS, kernel_size=1)
conv.build((None, 1, 1, NUM_CHANNELS))
conv.set_weights([conv1x1.dense_kernel_to_conv1x1(kernel), bias])
conv_out = np.asarray(conv(vector.reshape(1, 1, 1, NUM_CHANNELS)))

print("Dense kernel:", kernel.shape, " -> Conv2D kernel:", tuple(conv.kernel.shape))
print("Dense output:", dense_out.shape, "  Conv2D output:", conv_out.shape)

# %% tags=["nbval-ignore-output"]
difference = np.abs(dense_out - conv_out.reshape(1, NUM_OUTPUTS)).max()
print(f"max |Dense - Conv2D 1×1| = {difference:.1e}")
assert difference < FLOAT32_TOLERANCE

# %% [markdown]
# The outputs agree to float32 rounding (the two layers may add the products in a
# different order, so the last bit can differ; the printed value depends on your CPU).
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
#
# The reshape must follow the order in which Flatten read the map. Keras' Flatten
# (channels last) reads row by row, and within a pixel channel by channel, so element
# `(i, j, c)` lands at index `(i * W + j) * C + c`: numpy's default (C-order) reshape.

# %%
HEIGHT, WIDTH, CHANNELS, CLASSES = 3, 4, 2, 5
fmap = rng.standard_normal((1, HEIGHT, WIDTH, CHANNELS)).astype("float32")

flatten_dense = keras.Sequential([keras.Input((HEIGHT, WIDTH, CHANNELS)), keras.layers.Flatten(),
                                  keras.layers.Dense(CLASSES)])
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
# What goes wrong with the other order? PyTorch flattens channels first, (C, H, W); a
# kernel reshaped that way weighs the wrong pixel with each weight:

# %%
wrong_kernel = fc_kernel.reshape(CHANNELS, HEIGHT, WIDTH, CLASSES).transpose(1, 2, 0, 3)
big_conv.set_weights([wrong_kernel, fc_bias])
wrong = np.abs(np.asarray(flatten_dense(fmap)) - np.asarray(big_conv(fmap)).reshape(1, CLASSES)).max()
print(f"channels-first reshape: max |difference| = {wrong:.2f}  (not rounding: wrong weights)")
big_conv.set_weights([conv1x1.flatten_dense_kernel_to_conv(fc_kernel, (HEIGHT, WIDTH, CHANNELS)), fc_bias])

# %% [markdown]
# Each output's weights, unflattened, are an H×W filter per input channel. Here are the
# filters of class 0, one per channel: a picture of *where* the Dense layer looks.

# %%
fig, axes = plt.subplots(1, CHANNELS, figsize=(3 * CHANNELS, 2.6))
filters = conv1x1.flatten_dense_kernel_to_conv(fc_kernel, (HEIGHT, WIDTH, CHANNELS))
for channel, ax in enumerate(axes):
    ax.imshow(filters[:, :, channel, 0], cmap="coolwarm", vmin=-0.6, vmax=0.6)
    ax.set_title(f"class 0, channel {channel}")
    ax.set_xticks(range(WIDTH)), ax.set_yticks(range(HEIGHT))
fig.suptitle(f"A Dense kernel row block, reshaped to its {HEIGHT}×{WIDTH} filter")
plt.tight_layout()
plt.show()

# %% [markdown]
# And once it is a convolution, it slides: on a map larger than H×W it produces one
# output per H×W window, `(H' - H + 1) × (W' - W + 1)` of them.

# %%
larger = rng.standard_normal((1, HEIGHT + 4, WIDTH + 6, CHANNELS)).astype("float32")
print("input", larger.shape[1:3], "-> conv output", tuple(big_conv(larger).shape[1:3]))
# Flatten + Dense cannot do this: its kernel expects exactly H*W*C inputs.

# %% [markdown]
# ## 4. A classifier of the course's shapes
#
# The course's data set draws shapes (circle, square, triangle, cross) on textured
# backgrounds, with colours drawn from the same distribution for every class, so a
# network must recognise *shape*. For a classifier we cut 32×32 crops and label each by
# the class of its **centre pixel**: a shape over the centre, or background (possibly
# with a shape elsewhere in the crop). A classifier of such crops, slid over an image,
# labels the centre of every window: a coarse segmentation.

# %%
CROP_SIZE = 32  # the classifier's input side in pixels
NUM_TRAIN = fcn_lessons.by_mode(full=8000, quick=4000)
NUM_TEST = 1000
train_images, train_labels = data.make_shape_crops(NUM_TRAIN, CROP_SIZE, seed=1)
test_images, test_labels = data.make_shape_crops(NUM_TEST, CROP_SIZE, seed=2)

fig, axes = plt.subplots(2, 8, figsize=(12, 3.4))
for ax, image, label in zip(axes.flat, test_images, test_labels):
    ax.imshow(image)
    ax.set_title(f"centre: {data.CLASS_NAMES[label]}", fontsize=9)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# The classifier is VGG-shaped on a small scale: 3×3 convolutions, 2×2 max poolings,
# then Flatten, a hidden Dense layer (like VGG16's fc6/fc7), dropout, and a softmax
# Dense layer over the 5 classes. Note the **'valid'** padding of its convolutions; we
# will see in section 6 why that matters.

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
fcn = conv1x1.convolutionalize(classifier)
# A model that returns every layer's output, to print the shapes on two input sizes.
every_layer = keras.Model(fcn.input, [layer.output for layer in fcn.layers[1:]])
shapes_crop = [o.shape[1:] for o in every_layer.predict_on_batch(np.zeros((1, CROP_SIZE, CROP_SIZE, 3)))]
shapes_canvas = [o.shape[1:] for o in every_layer.predict_on_batch(np.zeros((1, 128, 128, 3)))]
print(f"{'layer':14s} {'type':13s} {'kernel':16s} {'on 32×32':14s} on 128×128")
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
# Now feed it a 128×128 canvas holding several shapes of the size it was trained on.
# Each output position scores one 32×32 window. The trunk pools twice, so moving one
# output step moves the window by 2 × 2 = 4 pixels: the **output stride** S = 4. A
# window of F = 32 pixels fits `(N - F) // S + 1` times along a side of N pixels:

# %%
CANVAS_SIZE = 128
OUTPUT_STRIDE = 4  # two 2×2 poolings
canvas_images, canvas_masks = data.make_shapes(
    1, image_size=CANVAS_SIZE, seed=7, num_objects=(6, 6),
    object_size=(0.5 * CROP_SIZE / CANVAS_SIZE, 0.9 * CROP_SIZE / CANVAS_SIZE))  # crop-sized shapes
canvas, canvas_mask = canvas_images[0], canvas_masks[0]
score_map = fcn.predict_on_batch(canvas[None])[0]
side = conv1x1.output_size(CANVAS_SIZE, CROP_SIZE, OUTPUT_STRIDE)
print(f"(N - F) // S + 1 = ({CANVAS_SIZE} - {CROP_SIZE}) // {OUTPUT_STRIDE} + 1 = {side}")
print("score map:", score_map.shape)

# %% [markdown]
# Output position (i, j) scores the window whose top-left pixel is (4i, 4j), so its
# centre is at pixel (4i + 15.5, 4j + 15.5). Drawn at those centres, the per-class
# score maps line up with the shapes; the map covers the canvas minus a 16-pixel
# border, where no full window fits. The last panel takes the most probable class at
# each position: a segmentation, at a quarter of the resolution.

# %%
half = CROP_SIZE / 2
extent = (half - 0.5 - OUTPUT_STRIDE / 2, half - 0.5 + OUTPUT_STRIDE * (side - 0.5),
          half - 0.5 + OUTPUT_STRIDE * (side - 0.5), half - 0.5 - OUTPUT_STRIDE / 2)
fig, axes = plt.subplots(1, 3 + data.NUM_CLASSES, figsize=(19, 2.9))
axes[0].imshow(canvas)
axes[0].set_title("canvas")
axes[1].imshow(viz.colorize(canvas_mask))
axes[1].set_title("label map")
for class_id, ax in enumerate(axes[2:-1]):
    ax.imshow(canvas, alpha=0.35)
    ax.imshow(score_map[..., class_id], extent=extent, vmin=0, vmax=1, cmap="magma", alpha=0.75)
    ax.set_title(f"P({data.CLASS_NAMES[class_id]})")
axes[-1].imshow(viz.colorize(score_map.argmax(axis=-1)), extent=extent)
axes[-1].set_title("argmax")
for ax in axes[2:]:
    ax.set_xlim(-0.5, CANVAS_SIZE - 0.5), ax.set_ylim(CANVAS_SIZE - 0.5, -0.5)
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# The maps are coarse (one score per 4 pixels, each seeing a whole 32-pixel window),
# blurry at shape borders and sometimes wrong about which shape, but they already say
# *what is where*. Turning such maps into
# a full-resolution segmentation, with upsampling and skip connections, is what lessons
# 03 to 05 do.
#
# ## 6. Dense evaluation versus a sliding window
#
# The convolutionalized network computes the same numbers as running the classifier on
# every 32×32 window at stride 4, but neighbouring windows overlap by 28 of their 32
# pixels, and the dense network computes each shared feature once. First, the scores
# are identical (the sliding window here is batched: all windows in a few big batches):

# %%
BENCH_CANVAS = 256  # the size of the benchmark recorded in docs/RESULTS.md
bench_image = data.make_shapes(1, image_size=BENCH_CANVAS, seed=0)[0][0].astype("float32")
dense_map = fcn.predict_on_batch(bench_image[None])[0]
sliding_map = conv1x1.sliding_window_scores(classifier, bench_image, OUTPUT_STRIDE)
print("dense:", dense_map.shape, "  sliding window:", sliding_map.shape)
assert np.allclose(dense_map, sliding_map, atol=FLOAT32_TOLERANCE)

# %% tags=["nbval-ignore-output"]
dense_s = median_seconds(lambda: fcn.predict_on_batch(bench_image[None]), repeats=5)
sliding_s = median_seconds(lambda: conv1x1.sliding_window_scores(classifier, bench_image, OUTPUT_STRIDE),
                           repeats=3)
outputs = dense_map.shape[0] * dense_map.shape[1]
print(f"{outputs} outputs: dense {1e3 * dense_s:.1f} ms, sliding window {1e3 * sliding_s:.1f} ms; "
      f"speed-up per output {sliding_s / dense_s:.0f}×")

# %% [markdown]
# Why so much? Each window has 32² = 1024 input pixels, and consecutive windows start 4
# pixels apart, so every pixel is in up to (32 / 4)² = 64 windows; the sliding window
# recomputes the trunk's features at each of them. Dense evaluation computes them once.
# (The FCN paper measures the same effect on AlexNet: a 10×10 grid of outputs on a
# 500×500 image in 22 ms, against 1.2 ms for a single 227×227 image: more than 5×
# faster than classifying 100 crops.) The benchmark `python -m fcn_lessons.bench
# dense-vs-sliding` records this on a 256×256 canvas in `docs/RESULTS.md`.
#
# **Why 'valid' padding?** Equality needs every window to see the same pixels in both
# computations. With 'same' padding, a crop's convolutions pad its border with zeros,
# but in the big image the same units see the real neighbouring pixels. Same weights,
# different numbers:

# %% tags=["nbval-ignore-output"]
same_classifier = models.crop_classifier(CROP_SIZE, padding="same")
same_fcn = conv1x1.convolutionalize(same_classifier)
dense_same = same_fcn.predict_on_batch(bench_image[None])[0]
sliding_same = conv1x1.sliding_window_scores(same_classifier, bench_image, OUTPUT_STRIDE)  # same poolings
same_difference = np.abs(dense_same - sliding_same).max()
print(f"'same' padding: dense map {dense_same.shape[:2]}, sliding window {sliding_same.shape[:2]}, "
      f"max |difference| {same_difference:.3f}")
assert same_difference > 100 * FLOAT32_TOLERANCE  # not rounding: different inputs at window borders

# %% [markdown]
# The two maps have the same size, but their values differ. VGG16 (and so the FCN
# paper's network) pads its 3×3 convolutions, so its dense output is *not* exactly the
# classifier run on crops: each unit sees real context where the classifier saw zeros.
# That is fine (arguably better); just know that "equivalent" is exact only for 'valid'.
#
# ## 7. The paper's case: VGG16
#
# FCN-VGG16 starts from the VGG16 classifier: five conv blocks ending in 2×2 max pooling
# (output stride 32, a 7×7×512 map for a 224×224 image), then fc6 (4096 units), fc7
# (4096) and the 1000-way ImageNet classifier. Convolutionalized, fc6 becomes a 7×7
# convolution with 4096 channels and fc7 a 1×1 convolution. We build VGG16 with random
# weights (`weights=None`: nothing to download) and logits as outputs.

# %%
vgg = keras.applications.VGG16(weights=None, classifier_activation=None)
fcn_vgg = conv1x1.convolutionalize(vgg)
for name in ("block5_pool", "fc1", "fc2", "predictions"):
    print(f"{name:12s} {type(fcn_vgg.get_layer(name)).__name__:13s} kernel "
          f"{tuple(fcn_vgg.get_layer(name).weights[0].shape) if fcn_vgg.get_layer(name).weights else '-'}")

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

# %% [markdown]
# On a larger image it yields a spatial score map. We pick 384 = 224 + 5 × 32 pixels:
# sizes of the form 224 + 32k use every pixel (each extra 32 pixels adds one output
# position), and 384 keeps the CPU time to a couple of seconds.

# %%
LARGE_SIZE = 384
large = rng.uniform(0, 255, (1, LARGE_SIZE, LARGE_SIZE, 3)).astype("float32")
large_map = fcn_vgg.predict_on_batch(keras.applications.vgg16.preprocess_input(large))
print(f"({LARGE_SIZE} - {VGG_SIZE}) // {VGG_STRIDE} + 1 = {conv1x1.output_size(LARGE_SIZE, VGG_SIZE, VGG_STRIDE)}"
      f" -> score map {large_map.shape}")

# %% [markdown]
# **Parameters.** Convolutionalizing changes no parameter count. FCN-VGG16 replaces the
# 1000-way ImageNet classifier by a 21-way score layer (PASCAL VOC's 20 classes plus
# background), which gives the paper's "about 134M parameters" (Table 1):

# %%
VOC_CLASSES = 21  # 20 object classes + background
predictions = vgg.get_layer("predictions")
fc7_units = predictions.kernel.shape[0]
fcn_vgg16_params = vgg.count_params() - predictions.count_params() + (fc7_units * VOC_CLASSES + VOC_CLASSES)
print(f"VGG16: {vgg.count_params():,}   convolutionalized: {fcn_vgg.count_params():,}")
print(f"FCN-VGG16 (21-way score layer): {fcn_vgg16_params:,}  ≈ {fcn_vgg16_params / 1e6:.0f}M (paper: 134M)")

# %% [markdown]
# ## 8. Optional: a real heat map with ImageNet weights
#
# With ImageNet weights (a 528 MB download, fine on Colab), the convolutionalized VGG16
# turns a photo into a map of class scores. This cell runs only in the learner-sized
# version of the lesson (not in the tests) and only when the weights can be downloaded;
# otherwise it says why it was skipped.

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

# %% [markdown]
# ## Summary
#
# - A Dense layer is a 1×1 convolution; Flatten + Dense over an H×W×C map is an H×W
#   'valid' convolution whose kernel is the Dense kernel reshaped in flatten order
#   (row, column, channel for Keras).
# - Convolutionalizing copies a trained classifier into a network that runs on any
#   size and outputs a score map of `(N - F) // S + 1` positions per side, for a
#   training size F and output stride S.
# - Dense evaluation equals the sliding window (exactly, with 'valid' padding) and
#   shares the overlapping computation: here tens of times faster per output.
# - FCN-VGG16 is VGG16 with fc6/fc7 as 7×7/1×1 convolutions and a 21-way score layer:
#   about 134M parameters, output stride 32. Its score map is coarse; upsampling and
#   skips (lessons 03-05) make it fine.
#
# **Exercises** (`exercises/01_conv1x1_is_dense.ipynb`): 1.1 reshape a Dense kernel to a
# 1×1 conv kernel; 1.2 turn Flatten + Dense into an H×W convolution; 1.3 convolutionalize
# a classifier.
