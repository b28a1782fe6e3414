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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/notebooks/00_setup_and_task.ipynb)
#
# # Lesson 00: the task, the data, and the scores
#
# *Fully Convolutional Networks for Semantic Segmentation* (Jonathan Long, Evan Shelhamer
# and Trevor Darrell, CVPR 2015; extended in IEEE TPAMI 2017) trains a network to give
# **every pixel** of an image a class. That task is *semantic segmentation*. (You may read
# elsewhere that FCN is an object *detector*, or that it comes from Kaiming He: neither is
# true.) Before building such a network, this lesson fixes what it must produce, the data
# it learns from, and how its output is scored.

# %% [markdown]
# **You will leave knowing**
# - that your environment works, and what to do when it does not;
# - how semantic segmentation differs from classification and detection, on one picture;
# - what a label map is: class ids per pixel, the VOC palette, and the *void* label 255;
# - the course's data set, and the PASCAL VOC layout it is stored in;
# - the four metrics of the FCN paper, and three traps: pixel accuracy alone, masks
#   resized with interpolation, IoU fed with probabilities.

# %% [markdown]
# **Prerequisites:** numpy arrays; what a CNN classifier outputs (softmax class scores).
# No earlier lesson.
#
# **Run time:** about 10 s on two CPU cores, kernel start included (measured: `docs/RESULTS.md`).
# Nothing in this lesson trains a network. The kernel's peak memory is printed at
# the end.
#
# The exercises are in `exercises/00_setup_and_task.ipynb`; exercise 0.4 asks you to
# predict a score of section 6's kind, for other scenes, *before* you run its cell.

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

import shutil
import tempfile
from pathlib import Path

import cv2
import keras
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from fcn_lessons import data, environment, labels, metrics, task, viz, voc

# %% [markdown]
# ## 1. The environment
#
# The first cell of every lesson calls `fcn_lessons.setup(seed=0)`. It seeds Python,
# numpy and Keras, makes TensorFlow's operations deterministic, silences TensorFlow's
# start-up log lines, and prints one line: versions, Keras backend, devices, whether this
# is Colab, and whether *quick mode* is on (the tests run a smaller version of each
# lesson; as a learner you leave it off). It returns the same facts as a dict, `ENV`:

# %% tags=["nbval-ignore-output"]
for key, value in ENV.items():
    print(f"{key:11s} {value}")

# %%
assert ENV["backend"] == "tensorflow", "unset KERAS_BACKEND and restart the kernel"
assert int(ENV["keras"].split(".")[0]) >= 3, "the course needs Keras 3"

# %% [markdown]
# **When something is missing or wrong**
#
# | what you see | what to do |
# |---|---|
# | `ModuleNotFoundError: fcn_lessons` | start JupyterLab with `make lab` from the course folder (it installs the package); in Colab the first cell installs it |
# | `ModuleNotFoundError: tensorflow` or `cv2` | outside Colab: `make lab` installs the pinned versions from `requirements.txt`; do not mix pip and conda installs of TensorFlow |
# | `The course needs Keras 3` | unset `TF_USE_LEGACY_KERAS`, uninstall `tf-keras`, restart the kernel |
# | `Note: KERAS_BACKEND is not 'tensorflow'` | unset `KERAS_BACKEND` (or set it to `tensorflow`), restart the kernel |
# | `No GPU found` | fine for lessons 00-05, which run on a CPU; for lesson 06 use a GPU runtime (Colab: *Runtime > Change runtime type > GPU*) |
# | a cell takes far longer than the run time above | check that quick mode is what you expect, and that no other notebook kernel is busy |

# %% [markdown]
# ## 2. Classification, detection, segmentation: one picture, three answers
#
# Take one scene of the course's data set: shapes on a textured background.

# %%
SCENE_SIZE = 128  # pixels per side: large enough to see the details
SCENE_SEED = 32  # a scene whose objects stand apart (checked below)
scene_images, scene_masks = data.make_shapes(1, SCENE_SIZE, seed=SCENE_SEED, num_objects=(4, 4))
scene, scene_mask = scene_images[0], scene_masks[0]
print("image:", scene.shape, scene.dtype, "  label map:", scene_mask.shape, scene_mask.dtype)
print("classes:", dict(enumerate(data.CLASS_NAMES)), " void:", labels.VOID_LABEL)

# %% [markdown]
# Three tasks ask three different questions about it:
#
# - **Classification**: *what* is in the image? One answer for the whole image (here a
#   set of class names, since there are several objects).
# - **Detection**: *what and roughly where*? A class and a bounding box per object.
# - **Semantic segmentation**: *which class is each pixel*? An answer per pixel: a
#   **label map** of the image's size. Two objects of the same class get the same label
#   (telling them apart is *instance* segmentation, another task).
#
# FCN answers the third question. To put the three side by side we derive the first two
# from the label map: the classes present, and a box around each connected region of a
# class (`task.region_boxes`). In this scene no two objects touch, so each region is one
# object and the boxes are what a detector should answer:

# %%
boxes = task.region_boxes(scene_mask, data.NUM_CLASSES)
assert task.lone_objects(scene_mask)  # every region is a whole object
print("classification:", task.present_classes(scene_mask, data.CLASS_NAMES))
print("detection:", [(data.CLASS_NAMES[c], x, y, w, h) for c, x, y, w, h in boxes])
task.plot_three_tasks(scene, scene_mask, data.CLASS_NAMES, boxes=boxes)
plt.show()

# %% [markdown]
# ### A label map knows classes, not objects
#
# Objects often overlap. In another scene a cross lies over a circle and cuts it in two:
# in the label map the one circle is **two regions**, more than 10 pixels apart (the
# cross lies between them), so a box per region gives one circle two boxes.

# %%
OCCLUDED_SEED = 3880  # a scene where a cross covers the middle of a circle (found by a search)
CIRCLE = data.CLASS_NAMES.index("circle")
occluded_images, occluded_masks = data.make_shapes(1, SCENE_SIZE, seed=OCCLUDED_SEED, num_objects=(4, 4))
print("every region a whole object?", task.lone_objects(occluded_masks[0]))
print("circle regions (class, x, y, width, height):",
      [box for box in task.region_boxes(occluded_masks[0], data.NUM_CLASSES) if box[0] == CIRCLE])
task.plot_label_zoom(occluded_images[0], occluded_masks[0], data.CLASS_NAMES, classes=(CIRCLE,))
plt.show()

# %% [markdown]
# This is the difference between the tasks, not a bug in the drawing. A detector is
# trained on one box per *object*: VOC's annotation guidelines ask for "the bounding box
# of the visible area of the object", containing all its visible pixels, so it would draw
# one box around both visible parts. A semantic label map only says "circle" for each
# pixel: it cannot tell one occluded circle from two circles, nor two overlapping
# circles from one. Telling objects apart is what *instance* segmentation adds. FCN,
# and this course, solve semantic segmentation. (A label map can split an object with no
# occluder, too: where an object narrows to a neck about 2 pixels wide between two other
# labels, the void band of section 3 can cover the whole neck.)
#
# ## 3. Label maps, the palette and the void label
#
# A label map is just an integer array: one class id per pixel, 0 for background. The
# course keeps what it knows about label maps in one module, `fcn_lessons.labels`: the
# void label, the palette, borders. Here is a 10×12 patch across the left border of the
# circle of the first scene, as numbers:

# %%
_, x, y, width, height = next(box for box in boxes if box[0] == CIRCLE)
top, left = y + height // 2 - 5, x - 6  # 10 rows around its middle, 12 columns across its left edge
print(scene_mask[top:top + 10, left:left + 12])

# %% [markdown]
# The **255** entries are *void*: pixels on an object's outline, where it is ambiguous
# which class the pixel belongs to (partly object, partly background). PASCAL VOC marks
# such a band around every object, and also marks regions too hard to label, with 255;
# this data set marks a 2-pixel band between any two labels in the same way. Void pixels
# are **ignored**: the loss does not train on them, and the metrics do not count them.
# Two bugs hide here: treating void as one more class (a sixth, in this course), and
# turning it into background (it teaches the network that outlines are background, and it
# distorts the scores, as section 6 shows).
#
# To *look* at a label map we colour it with the **VOC palette**: class id i gets a fixed
# colour (background black, class 1 dark red, class 2 dark green...), and void 255 a light
# cream. The palette is `labels.VOC_PALETTE`; `viz.colorize` paints a label map with it:

# %%
for class_id in (*range(data.NUM_CLASSES), labels.VOID_LABEL):
    name = data.CLASS_NAMES[class_id] if class_id < data.NUM_CLASSES else "void"
    print(f"{class_id:3d} {name:10s} RGB {tuple(int(v) for v in labels.VOC_PALETTE[class_id])}")

# %% [markdown]
# VOC stores label maps as **palette PNGs**: each pixel holds an *index* (the class id), and
# the file carries the palette only for display. Read with PIL, such a file gives the class
# ids back. Read with OpenCV's `cv2.imread`, it gives the *display colours* (as BGR):
# three numbers per pixel, none of them the class. A classic bug:

# %%
scratch = Path(tempfile.mkdtemp(prefix="lesson00_"))  # this lesson's temporary files
voc.write_mask(scratch / "scene.png", scene_mask)
with Image.open(scratch / "scene.png") as png:
    ids = np.asarray(png)
    print("PIL: mode", png.mode, "->", ids.shape, "values", np.unique(ids))
as_colours = cv2.imread(str(scratch / "scene.png"))
print("cv2.imread ->", as_colours.shape, "first colours (BGR):", np.unique(as_colours.reshape(-1, 3), axis=0)[:3].tolist())
assert np.array_equal(ids, scene_mask)

# %% [markdown]
# ## 4. The course data set
#
# `data.make_shapes(num_images, image_size=64, seed=0)` draws scenes of four shape
# classes (circle, square, triangle, cross) on textured backgrounds, with label maps.
# Nothing is downloaded, a scene depends only on the seed and its index, and it is fast
# (over 1,000 images per second on one CPU core; see `docs/RESULTS.md`), so lessons can
# train on fresh data in minutes.

# %%
NUM_IMAGES = 300  # enough scenes for stable statistics; under a second to draw
IMAGE_SIZE = 64  # the size most lessons train on
images, masks = data.make_shapes(NUM_IMAGES, IMAGE_SIZE, seed=1)
print("images:", images.shape, images.dtype, "  masks:", masks.shape, masks.dtype)
SHOWN_SAMPLES = 4  # rows of the picture
viz.show_samples(images[:SHOWN_SAMPLES], masks[:SHOWN_SAMPLES])
plt.show()

# %% [markdown]
# It is built to teach, and each property is measured (here, and in `tests/test_data.py`):
#
# **Class is shape, not colour.** Objects and backgrounds draw their colours from the same
# distribution, so a network cannot shortcut by colour. The best classifier of a pixel's
# colour alone (a histogram over quantised colours) does no better than always answering
# the most common shape:

# %% tags=["nbval-ignore-output"]
test_images, test_masks = data.make_shapes(100, IMAGE_SIZE, seed=2)
colour_accuracy, chance = data.colour_classifier_accuracy(images, masks, test_images, test_masks)
print(f"which shape, from a pixel's colour: {colour_accuracy:.1%}; most common shape every time: {chance:.1%}")
assert colour_accuracy < chance + 0.02

# %% [markdown]
# (The numbers depend on image pixels, which may differ in the last bit between machines;
# the assertion is the point.)
#
# **Objects from small to large.** Object size is drawn log-uniformly, from about 15% to
# 75% of the image side, one to four objects per image, which may occlude each other:

# %%
areas = []  # each connected object region's share of its image
for mask in masks:
    for class_id in range(1, data.NUM_CLASSES):
        count, _, stats, _ = cv2.connectedComponentsWithStats((mask == class_id).astype(np.uint8), connectivity=4)
        areas += list(stats[1:count, cv2.CC_STAT_AREA] / IMAGE_SIZE**2)
print(f"{len(areas)} object regions; share of the image: median {np.median(areas):.1%}, "
      f"95th percentile {np.percentile(areas, 95):.1%}, largest {max(areas):.1%}")
labelled = np.count_nonzero(masks != labels.VOID_LABEL)
pixel_shares = np.bincount(masks.ravel(), minlength=256)[:data.NUM_CLASSES] / labelled
print("share of labelled pixels:", {name: round(float(s), 3) for name, s in zip(data.CLASS_NAMES, pixel_shares)})

# %% [markdown]
# Background covers 83% of the labelled pixels. PASCAL VOC is similar: of the FCN
# paper's training labels, "about 3/4 are background" (section 4.3, where the authors
# find class balancing unnecessary). Keep that number in mind for section 6.
#
# **Large objects need context.** The centre of a big object is flat colour. A pixel whose
# 9×9 neighbourhood holds nothing but its own object cannot be classified by a network
# that sees only 9×9 pixels around it: the outline that tells a square from a circle is
# further away. `data.interior_pixels` finds those pixels:

# %%
NEIGHBOURHOOD = 9  # pixels: the field of a small network (lesson 02 computes such fields)
interior = data.interior_pixels(masks, window=NEIGHBOURHOOD)
object_pixels = (masks > 0) & (masks != labels.VOID_LABEL)
print(f"object pixels whose {NEIGHBOURHOOD}×{NEIGHBOURHOOD} neighbourhood is one class: "
      f"{interior.sum() / object_pixels.sum():.1%}")
YELLOW = [1.0, 0.85, 0.0]
SHOWN_SCENES = (0, 3)  # one scene with a big circle, one with a big triangle
fig, axes = plt.subplots(1, 4, figsize=(11, 3))
for ax, index in zip(axes, SHOWN_SCENES):
    ax.imshow(images[index])
for ax, index in zip(axes[2:], SHOWN_SCENES):
    ax.imshow(np.where(interior[index][..., None], YELLOW, viz.colorize(masks[index]) / 255))
    ax.set_title(f"yellow: {NEIGHBOURHOOD}×{NEIGHBOURHOOD} sees one class", fontsize=9)
for ax in axes:
    ax.set_axis_off()
plt.show()

# %% [markdown]
# A network needs a **receptive field** much larger than 9 pixels to label those (lesson
# 02), *and* a fine output to place the borders (lessons 03-05): the tension FCN resolves.
#
# **Any size.** Lessons may use other sizes; the object sizes scale with the image:

# %%
for size in (128, 224):
    big_images, big_masks = data.make_shapes(2, size, seed=0)
    print(size, "->", big_images.shape, big_masks.shape)

# %% [markdown]
# ## 5. Data on disk: the PASCAL VOC layout
#
# Real segmentation data sets are folders of images and label maps. The course reads and
# writes one layout, PASCAL VOC's, so the course data, your own data and VOC 2012 itself go
# through the same code:
#
# ```
# root/
#   JPEGImages/<id>.jpg                  the photos
#   SegmentationClass/<id>.png           palette PNGs: pixel value = class id, 255 = void
#   ImageSets/Segmentation/<split>.txt   the ids of each split, one per line
# ```
#
# `data.write_voc` writes that layout, `data.read_voc` reads it back:

# %%
voc_root = scratch / "my_shapes"
TRAIN_FILES, VAL_FILES = 6, 3  # a small folder is enough to look at
data.write_voc(voc_root, "train", images[:TRAIN_FILES], masks[:TRAIN_FILES], class_names=data.CLASS_NAMES)
data.write_voc(voc_root, "val", test_images[:VAL_FILES], test_masks[:VAL_FILES], class_names=data.CLASS_NAMES)
for path in sorted(voc_root.rglob("*"))[:12]:
    print(path.relative_to(voc_root))

# %%
read_images, read_masks, read_ids = data.read_voc(voc_root, "train")
print(len(read_images), "images:", read_ids)
assert all(np.array_equal(a, b) for a, b in zip(read_masks, masks[:TRAIN_FILES]))  # PNG is lossless
print("masks identical after the round trip")

# %% tags=["nbval-ignore-output"]
jpeg_error = max(np.abs(a.astype(int) - b).max() for a, b in zip(read_images, images[:TRAIN_FILES]))
print(f"largest pixel change from JPEG compression: {jpeg_error} of 255")
assert jpeg_error < 64

# %% [markdown]
# With VOC 2012 on disk, `data.read_voc(".../VOCdevkit/VOC2012", "train")` returns its
# 1,464 training images (21 classes: background and 20 objects) as lists, since their sizes
# differ. The course's own fixture, in the repository's `data/shapes_voc`, is such a
# folder too. Nothing is skipped silently: a listed image that is missing, a file that does
# not decode, a mask whose size differs from its image, a mask that is not a palette PNG,
# or a class id outside the classes stops the reading with the file's name:

# %%
Image.fromarray(viz.colorize(masks[0])).save(voc_root / "SegmentationClass" / "train_0000.png")  # an RGB mask
try:
    data.read_voc(voc_root, "train")
except ValueError as error:
    print(type(error).__name__ + ":", str(error).replace(str(voc_root), "<root>"))

# %% [markdown]
# ### Masks are never interpolated
#
# Resizing an image blends neighbouring pixels. Resizing a label map the same way blends
# *class ids*, which is meaningless: halfway between square (2) and void (255) is 128, and
# halfway between circle (1) and triangle (3) is square (2). Tutorials have done this: the
# TensorFlow segmentation tutorial resized its masks bilinearly until a pull request of
# December 2022 ([tensorflow/docs#2159](https://github.com/tensorflow/docs/pull/2159))
# switched it to nearest neighbour. Label maps must be resized with **nearest-neighbour**
# sampling, which copies an existing label:

# %%
NEW_SIZE = (100, 100)  # (width, height) for cv2: not a multiple of 64, so pixels blend
bilinear = cv2.resize(masks[0], NEW_SIZE, interpolation=cv2.INTER_LINEAR)
nearest = cv2.resize(masks[0], NEW_SIZE, interpolation=cv2.INTER_NEAREST_EXACT)
valid = np.isin(bilinear, [*range(data.NUM_CLASSES), labels.VOID_LABEL])
print(f"bilinear: {len(np.unique(bilinear))} different labels, e.g. {np.unique(bilinear[~valid])[::40].tolist()}; "
      f"{np.count_nonzero(~valid)} pixels hold ids that are no class at all")
print("nearest: labels", np.unique(nearest).tolist())

# %% [markdown]
# **Which nearest neighbour?** OpenCV has two. Its plain `INTER_NEAREST` takes, for output
# pixel x, the input pixel `floor(x · scale)`: the *first* pixel of the block it covers.
# `INTER_NEAREST_EXACT` samples at the block's centre, `floor((x + 0.5) · scale)`, which is
# where the image's own interpolation (area or bilinear) is centred; OpenCV's documentation
# says it gives the same results as the nearest-neighbour method of PIL, scikit-image and
# Matlab. Shrink a row of 9 pixels to 3:

# %%
ROW = np.arange(9, dtype=np.uint8)[None, :]  # one row, pixel values 0..8 = their positions
THIRD = (3, 1)  # (width, height): each output pixel covers 3 input pixels
for name in ("INTER_NEAREST", "INTER_NEAREST_EXACT", "INTER_AREA", "INTER_LINEAR"):
    print(f"{name:20s}", cv2.resize(ROW, THIRD, interpolation=getattr(cv2, name))[0].tolist())
print(f"{'PIL nearest':20s}", np.asarray(Image.fromarray(ROW).resize(THIRD, Image.NEAREST))[0].tolist())

# %% [markdown]
# The area-averaged image puts output pixel 0 at input pixel 1 (the mean of 0, 1, 2);
# plain `INTER_NEAREST` takes pixel 0 for it. Shrinking by a factor f, output pixel x covers
# input pixels `x·f` to `x·f + f - 1`, centred at `x·f + (f - 1)/2`; plain `INTER_NEAREST`
# reads `x·f`, so its mask sits `(f - 1)/2` input pixels up and left of its image (one
# input pixel here), which is under half an output pixel. On the course data the two
# nearest flavours disagree on a sizeable share of pixels, which is why `read_voc(...,
# size=...)` resizes masks with `INTER_NEAREST_EXACT` (and images with area or bilinear
# interpolation):

# %%
SMALL = (24, 24)  # (width, height): a 64 → 24 shrink, 8/3 input pixels per output pixel
plain = np.stack([cv2.resize(mask, SMALL, interpolation=cv2.INTER_NEAREST) for mask in masks])
exact = np.stack([cv2.resize(mask, SMALL, interpolation=cv2.INTER_NEAREST_EXACT) for mask in masks])
print(f"pixels where INTER_NEAREST and INTER_NEAREST_EXACT differ: {np.mean(plain != exact):.1%}")

# %% [markdown]
# In floating point (as `tf.image.resize` or `keras.ops.image.resize` return), the
# labels even become fractional. `metrics.confusion_matrix` refuses those:

# %% tags=["nbval-ignore-output"]
float_mask = np.asarray(keras.ops.image.resize(masks[0][None, ..., None].astype("float32"), (100, 100),
                                               interpolation="bilinear"))[0, ..., 0]
fractional = float_mask != np.round(float_mask)
print(f"{np.count_nonzero(fractional)} pixels have fractional labels, "
      f"e.g. {np.unique(float_mask[fractional].astype(float).round(2))[:4].tolist()}")
try:
    metrics.confusion_matrix(float_mask, np.zeros((100, 100), np.uint8), data.NUM_CLASSES)
    refused = False
except ValueError as error:
    print("ValueError: ...", str(error).split(": ", 1)[1][-130:])
    refused = True
assert fractional.any() and refused

# %% [markdown]
# ## 6. The four metrics of the FCN paper
#
# Everything starts from the **confusion matrix**: `n[i, j]` counts the pixels of true
# class i predicted as class j (void pixels are not counted). With `t_i = sum_j n[i, j]`
# the pixels of class i and `n_cl` the number of classes, the paper (section 5) reports:
#
# $$\text{pixel accuracy} = \frac{\sum_i n_{ii}}{\sum_i t_i} \qquad
#   \text{mean accuracy} = \frac{1}{n_{cl}} \sum_i \frac{n_{ii}}{t_i}$$
#
# $$\text{mean IU} = \frac{1}{n_{cl}} \sum_i \frac{n_{ii}}{t_i + \sum_j n_{ji} - n_{ii}} \qquad
#   \text{frequency weighted IU} = \frac{1}{\sum_k t_k} \sum_i \frac{t_i\, n_{ii}}{t_i + \sum_j n_{ji} - n_{ii}}$$
#
# IU is *intersection over union*: for class i, the pixels right (`n_ii`) over the pixels
# that are class i in the labels *or* in the prediction (`t_i` plus the column sum, minus
# the overlap counted twice). Mean IU is the paper's headline number.

# %% [markdown]
# ### A worked example
#
# A 4×5 image with 3 classes and three void pixels (255), and a prediction for it:

# %%
example_labels = np.array([[0, 0, 0, 1, 1],
                           [0, 0, 1, 1, 1],
                           [0, 2, 2, 1, 255],
                           [0, 2, 2, 255, 255]], np.uint8)
predicted = np.array([[0, 0, 0, 0, 1],
                      [0, 0, 1, 1, 1],
                      [0, 0, 2, 1, 1],
                      [2, 2, 2, 2, 1]], np.uint8)
confusion = metrics.confusion_matrix(example_labels, predicted, num_classes=3)
print(confusion)

# %% [markdown]
# Read it row by row. Background (row 0): 7 pixels, 6 right, 1 predicted as class 2.
# Class 1: 6 pixels, 5 right, 1 predicted as background. Class 2: 4 pixels, 3 right, 1
# predicted as background. The three void pixels are in no row, whatever was predicted
# there. So 17 labelled pixels, 14 right:
#
# - pixel accuracy = 14 / 17 = 0.824
# - mean accuracy = (6/7 + 5/6 + 3/4) / 3 = (0.857 + 0.833 + 0.750) / 3 = 0.813
# - IU: background 6 / (7 + 8 - 6) = 6/9 = 0.667; class 1: 5 / (6 + 5 - 5) = 5/6 = 0.833;
#   class 2: 3 / (4 + 4 - 3) = 3/5 = 0.600; mean IU = 0.700
# - frequency weighted IU = (7 · 0.667 + 6 · 0.833 + 4 · 0.600) / 17 = 0.710

# %%
scores = metrics.segmentation_scores(confusion)
for name in metrics.SCORE_NAMES:
    print(f"{name:24s} {scores[name]:.3f}")
print("IU per class:", np.round(scores["per_class_iou"], 3))

# %% [markdown]
# **Absent classes.** If a class appears neither in the labels nor in the predictions, its
# IU is 0/0: undefined. Like the authors' evaluation code (`score.py`: per-class values,
# then `nanmean`), `segmentation_scores` leaves it out of the mean, so `n_cl` counts the
# classes with a defined value. A class that is predicted but never labelled has IU 0 and
# does count. Over a data set, add up the confusion matrices of all images first, then
# compute the scores once (`metrics.ConfusionAccumulator` does it); the average of
# per-image mean IUs is a different, noisier number.
#
# ### Trap 1: pixel accuracy alone
#
# A "model" that answers *background* everywhere, on the 300 scenes of section 4. Before
# reading its scores, work out from the background share printed in section 4 what each of
# the four should be (exercise 0.4 then asks you for one of them on other scenes, whose
# shares only the exercise prints):

# %%
all_background = np.zeros_like(masks)
print(metrics.format_scores(metrics.segmentation_scores(metrics.confusion_matrix(masks, all_background, data.NUM_CLASSES)),
                            data.CLASS_NAMES))

# %% [markdown]
# 83% pixel accuracy for a model that finds nothing. Mean accuracy (20%) and mean IU (17%)
# say the truth: each class counts once, and only one class of five is found, at the
# cost of flooding it. This is why the paper reports mean IU, and why accuracy as the
# only metric (as in several popular tutorials) misleads. Frequency weighted IU (69%)
# weighs classes by their pixels, so, like pixel accuracy, it is dominated by background
# (exactly how is exercise 0.4).
#
# Now a model that does find the objects, but coarsely. A network's **output stride** is
# the number of input pixels between neighbouring output cells: FCN-32s scores one cell
# per 32×32 pixels, FCN-8s one per 8×8 (lessons 02-05). What does a stride of 8 cost by
# itself? Take an **oracle**: it reads the *true* labels and gives each 8×8 cell the true
# share of each class, then upsamples these scores bilinearly, as FCN does
# (`labels.coarse_oracle`, which lesson 02 uses too). It is never wrong about a cell, so
# its errors come from the stride, the upsampling and its choice of cell scores: a
# reference point, not a ceiling (lesson 02 shows sharper cell scores doing better at
# the borders). (The FCN paper's appendix A,
# arXiv version, computes such "approximate upper bounds" from VOC's labels: mean IU 96.4
# at a factor of 8, 86.1 at 32.)

# %%
STRIDE = 8  # pixels per output cell, as FCN-8s' finest prediction
oracle = labels.coarse_oracle(masks, STRIDE, data.NUM_CLASSES)
oracle_confusion = metrics.confusion_matrix(masks, oracle, data.NUM_CLASSES)
print(metrics.format_scores(metrics.segmentation_scores(oracle_confusion), data.CLASS_NAMES))
errors = oracle_confusion - np.diag(np.diag(oracle_confusion))  # off the diagonal: the wrong pixels
print("share of each shape's wrong pixels predicted as background:",
      {name: round(float(e[0] / e.sum()), 2) for name, e in zip(data.CLASS_NAMES[1:], errors[1:])})
viz.plot_confusion(oracle_confusion, data.CLASS_NAMES)
plt.show()

# %% [markdown]
# The confusion matrix (each row normalised to the true class's pixels) shows where the
# errors go: about nine in ten wrong pixels of every shape are predicted as background (the
# first column); the oracle seldom mistakes one shape for another. *Where* those pixels lie
# (near the borders) is what section 7 measures.
#
# **Void counted as background** flatters or punishes a model depending on what it does at
# the borders. The same oracle, scored with void turned into background:

# %%
void_as_background = np.where(masks == labels.VOID_LABEL, 0, masks)
print(metrics.format_scores(metrics.segmentation_scores(
    metrics.confusion_matrix(void_as_background, oracle, data.NUM_CLASSES))))
print(f"(void is {np.mean(masks == labels.VOID_LABEL):.1%} of all pixels)")

# %% [markdown]
# ### Trap 2: a bilinear-resized mask
#
# Section 5 showed it: fractional or invented class ids. Scored as labels, such a mask
# would count pixels of classes that do not exist; `confusion_matrix` refuses it.
#
# ### Trap 3: IoU fed with probabilities
#
# A segmentation network outputs, per pixel, a score for each class: shape (N, H, W,
# classes). IU is defined on *class ids*: the argmax. Two wrong ways are common. Casting
# probabilities to integers turns every one of them into 0 (they are all below 1), so every
# pixel becomes class 0: the all-background score. "Soft" IoU on probabilities
# (`task.soft_mean_iou`) changes with the model's confidence, even when its decisions are
# identical. Two models with the oracle's decisions, one 60% sure of each, one 95% sure:

# %%
CONFIDENCES = (0.6, 0.95)  # probability on the chosen class; the rest spread evenly
for confidence in CONFIDENCES:
    probs = task.probabilities(oracle, data.NUM_CLASSES, confidence)
    right = metrics.segmentation_scores(metrics.confusion_matrix(masks, probs, data.NUM_CLASSES))["mean_iou"]
    cast = metrics.segmentation_scores(metrics.confusion_matrix(masks, probs.astype(np.int64),
                                                                data.NUM_CLASSES))["mean_iou"]
    print(f"{confidence:.0%} sure: mean IU of the argmax {right:.3f} | soft IoU "
          f"{task.soft_mean_iou(masks, probs):.3f} | probabilities cast to int {cast:.3f}")

# %% [markdown]
# `metrics.confusion_matrix` takes the argmax itself when the predictions have a class
# axis. For training, `metrics.MeanIU` is the same computation as a Keras metric: it takes
# logits or probabilities and ignores void, for `model.compile(...,
# metrics=[metrics.MeanIU(num_classes)])` from lesson 04 on. Its numpy reference is
# `segmentation_scores`:

# %%
keras_metric = metrics.MeanIU(data.NUM_CLASSES)
logits = np.log(task.probabilities(oracle, data.NUM_CLASSES, CONFIDENCES[0]))  # same argmax, same IU
keras_metric.update_state(masks, logits)
print(f"MeanIU from logits: {float(keras_metric.result()):.4f}")

# %% tags=["nbval-ignore-output"]
numpy_value = metrics.segmentation_scores(oracle_confusion)["mean_iou"]
print(f"difference from the numpy computation: {abs(float(keras_metric.result()) - numpy_value):.1e}")
assert abs(float(keras_metric.result()) - numpy_value) < 1e-6  # float32 counts in Keras

# %% [markdown]
# ### Keras' own `MeanIoU`
#
# Keras 3 has a mean IU too: `keras.metrics.MeanIoU(num_classes, ignore_class=255,
# sparse_y_pred=False)`. `ignore_class` leaves void pixels out (its documentation names
# exactly this use: a "void" class, "commonly -1 or 255"), `sparse_y_pred=False` takes the
# argmax of scores, and a class absent from labels and predictions is left out of the
# mean. On the oracle's logits it agrees with the course's metric:

# %%
keras_own = keras.metrics.MeanIoU(data.NUM_CLASSES, ignore_class=labels.VOID_LABEL, sparse_y_pred=False)
keras_own.update_state(masks, logits)
print(f"keras.metrics.MeanIoU: {float(keras_own.result()):.4f}")
assert abs(float(keras_own.result()) - numpy_value) < 1e-6
try:  # the default, sparse_y_pred=True, expects class ids
    keras.metrics.MeanIoU(data.NUM_CLASSES, ignore_class=labels.VOID_LABEL).update_state(masks, logits)
except Exception as error:  # noqa: BLE001 - the type is what we show
    print("with the default sparse_y_pred=True and scores:", type(error).__name__, "(shapes do not match)")

# %% [markdown]
# Where it falls short of the course's metrics. It returns one number: no per-class IU
# (one `keras.metrics.IoU(..., target_class_ids=[c])` per class), no mean accuracy, no
# frequency weighted IU. And the pixel accuracy of Keras' accuracy metrics counts void
# pixels as errors:

# %%
accuracy = keras.metrics.SparseCategoricalAccuracy()
accuracy.update_state(masks, logits)
course_accuracy = metrics.segmentation_scores(oracle_confusion)["pixel_accuracy"]
labelled_share = np.mean(masks != labels.VOID_LABEL)
print(f"pixel accuracy: Keras {float(accuracy.result()):.3f} (void counted as wrong), "
      f"course {course_accuracy:.3f} (void ignored) × labelled share {labelled_share:.3f} "
      f"= {course_accuracy * labelled_share:.3f}")
assert abs(float(accuracy.result()) - course_accuracy * labelled_share) < 1e-4  # no prediction is 255

# %% [markdown]
# Nor does `MeanIoU` ever say that the labels are wrong. Feed it, as labels, masks resized
# bilinearly (the trap of section 5), and the oracle's predictions resized correctly:

# %% tags=["nbval-ignore-output"]
SHOWN_MASKS = 20  # a few masks are enough to show it
resized_labels = np.stack([cv2.resize(mask, NEW_SIZE, interpolation=cv2.INTER_LINEAR)
                           for mask in masks[:SHOWN_MASKS]])
resized_predictions = np.stack([cv2.resize(mask, NEW_SIZE, interpolation=cv2.INTER_NEAREST_EXACT)
                                for mask in oracle[:SHOWN_MASKS].astype(np.uint8)])
bad_labels = keras.metrics.MeanIoU(data.NUM_CLASSES, ignore_class=labels.VOID_LABEL)
try:
    bad_labels.update_state(resized_labels, resized_predictions)
    print(f"Keras {keras.__version__}, bilinear-resized labels: mean IU {float(bad_labels.result()):.3f}, no error")
except Exception as error:  # noqa: BLE001 - older Keras fails deep inside TensorFlow
    print(f"Keras {keras.__version__}, bilinear-resized labels:", type(error).__name__, str(error)[:90], "...")
try:
    metrics.confusion_matrix(resized_labels, resized_predictions, data.NUM_CLASSES)
except ValueError as error:
    print("course: ValueError:", error)

# %% [markdown]
# The bilinear-resized labels hold ids 5 to 254, which are no class. Keras 3.15 drops
# every label outside `0..num_classes-1` without a word (since keras-team/keras#22844,
# 2026) and scores the rest; Keras 3.13 (Colab's) stops, on the CPU, with a TensorFlow
# `InvalidArgumentError` about a scatter index. Neither tells you that the *mask* is
# broken; `confusion_matrix` does, which is why the course checks new data with it once.
#
# ## 7. Quality at the borders (a preview of lesson 05)
#
# Mean IU over a whole image is dominated by the interiors of objects. To compare how well
# networks place *borders*, lesson 05 also scores only the pixels within a few pixels of
# a label border: the "trimap" evaluation (Kohli et al. 2009; DeepLab, Chen et al. 2015,
# used it to show how much its multi-scale features and its fully connected CRF improve the
# results near object boundaries). `labels.boundary_band` draws that band and
# `metrics.trimap_scores` scores inside it. For oracles of output stride 4, 8 and 16:

# %%
BAND_WIDTHS = (1, 2, 4, 8, 16)  # pixels from a label border
ORACLE_STRIDES = (4, 8, 16)
curves = {stride: [metrics.trimap_scores(masks, labels.coarse_oracle(masks, stride, data.NUM_CLASSES),
                                         data.NUM_CLASSES, width)["mean_iou"] for width in BAND_WIDTHS]
          for stride in ORACLE_STRIDES}
for stride, curve in curves.items():
    print(f"stride {stride:2d}: mean IU in bands of {BAND_WIDTHS} px: {np.round(curve, 3).tolist()}")
gap = np.subtract(curves[ORACLE_STRIDES[0]], curves[ORACLE_STRIDES[-1]])
print(f"gap between stride {ORACLE_STRIDES[0]} and {ORACLE_STRIDES[-1]}: {np.round(gap, 3).tolist()}")
assert all(np.diff(curve).min() > 0 for curve in curves.values()) and gap[0] > gap[-1]

# %%
SHOWN_WIDTH = 4  # pixels: the band drawn on the left
fig, axes = plt.subplots(1, 2, figsize=(11.5, 3.4), width_ratios=(1, 2))
band = labels.boundary_band(masks[0], SHOWN_WIDTH)
axes[0].imshow(np.where(band[..., None], viz.colorize(masks[0]), 255))
axes[0].set_title(f"the band of {SHOWN_WIDTH} px (white: outside)", fontsize=10)
axes[0].set_axis_off()
for stride, curve in curves.items():
    axes[1].plot(BAND_WIDTHS, curve, marker="o", label=f"oracle at output stride {stride}")
axes[1].set_xscale("log", base=2)
axes[1].set_xticks(BAND_WIDTHS, [str(w) for w in BAND_WIDTHS])
axes[1].set_xlabel("band width (pixels from a border)")
axes[1].set_ylabel("mean IU in the band")
axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
plt.show()

# %% [markdown]
# Every oracle scores worse the closer the band hugs the borders, and the coarser its
# stride, the worse at every width. The gap between stride 4 and stride 16 is widest in
# the narrowest band (0.60 at 1 pixel, 0.36 at 16): coarse outputs lose most exactly at the
# borders. This is the measure lesson 05 uses to compare FCN-32s, 16s and 8s.

# %%
shutil.rmtree(scratch)  # the lesson's temporary files

# %% [markdown]
# **Memory.** The kernel's peak resident memory, for `docs/RESULTS.md` (it depends on the
# machine and the libraries' versions, so it is printed, not compared):

# %% tags=["nbval-ignore-output"]
peak = environment.peak_memory_mib()
print(f"peak memory of this kernel: {peak:.0f} MiB" if peak else "peak memory: not available on this system")

# %% [markdown]
# ## Summary
#
# - Semantic segmentation gives every pixel a class: a label map of the image's size
#   (uint8 class ids, 0 background), shown in the VOC palette. It knows classes, not
#   objects (separating objects is instance segmentation). FCN solves this task.
# - Void (255) marks ambiguous pixels (object outlines in VOC). The loss and the metrics
#   ignore it; it is neither a class nor background. `fcn_lessons.labels` holds the void
#   label, the palette and the borders of label maps.
# - The course's shapes are told apart by shape, not colour; big objects have flat
#   interiors that only a large receptive field can label.
# - Data live in the PASCAL VOC layout; masks are palette PNGs, resized only with centred
#   nearest neighbour (`INTER_NEAREST_EXACT`).
# - The paper's four metrics come from one confusion matrix; mean IU is the one to watch.
#   Pixel accuracy alone rewards predicting background everywhere; IU is computed on
#   class ids, never on probabilities; Keras' `MeanIoU` gives mean IU only, unchecked.

# %% [markdown]
# **Exercises** (`exercises/00_setup_and_task.ipynb`): 0.1 the confusion matrix with the
# void label ignored; 0.2 mean IU; 0.3 mean accuracy, and why the all-background model
# scores what it scores; 0.4 predict, then run: the all-background model's frequency
# weighted IU on scenes with bigger objects.
#
# Next: lesson 01 turns a classifier into a network that outputs a map of class scores.
