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
#
# **You will leave knowing**
# - that your environment works, and what to do when it does not;
# - how semantic segmentation differs from classification and detection, on one picture;
# - what a label map is: class ids per pixel, the VOC palette, and the *void* label 255;
# - the course's data set, why it is drawn the way it is, and how to read and write data
#   in the PASCAL VOC layout (the course's data, your own, or VOC 2012 itself);
# - the four metrics of the FCN paper, computed by hand and with code, and three traps:
#   pixel accuracy alone, masks resized with bilinear interpolation, IoU fed with
#   probabilities.
#
# **Prerequisites:** numpy arrays; what a CNN classifier outputs (softmax class scores).
# No earlier lesson.
#
# **Run time:** about 20 seconds on a laptop CPU; the same on a Colab GPU (nothing here
# trains). The exercises for this lesson are in `exercises/00_setup_and_task.ipynb`.

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

from fcn_lessons import data, metrics, viz, voc

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
#
# ## 2. Classification, detection, segmentation: one picture, three answers
#
# Take one scene of the course's data set: shapes on a textured background.

# %%
SCENE_SIZE = 128  # pixels per side: large enough to see the details
scene_images, scene_masks = data.make_shapes(1, SCENE_SIZE, seed=3, num_objects=(4, 4))
scene, scene_mask = scene_images[0], scene_masks[0]
print("image:", scene.shape, scene.dtype, "  label map:", scene_mask.shape, scene_mask.dtype)
print("classes:", dict(enumerate(data.CLASS_NAMES)), " void:", data.VOID_LABEL)

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
# FCN answers the third question. We derive the first two answers from the label map
# (boxes around each connected region of a class) to put the three side by side:

# %%
present = [data.CLASS_NAMES[c] for c in np.unique(scene_mask) if 0 < c < data.VOID_LABEL]
boxes = []  # (class id, x, y, width, height) of each connected region of one class
for class_id in range(1, data.NUM_CLASSES):
    count, _, stats, _ = cv2.connectedComponentsWithStats((scene_mask == class_id).astype(np.uint8))
    boxes += [(class_id, *stats[k, :4]) for k in range(1, count)]
print("classification:", present)
print("detection:", [(data.CLASS_NAMES[c], int(x), int(y), int(w), int(h)) for c, x, y, w, h in boxes])

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 4))
axes[0].imshow(scene)
axes[0].set_title("classification:\n" + ", ".join(present), fontsize=10)
axes[1].imshow(scene)
for class_id, x, y, w, h in boxes:
    colour = viz.VOC_PALETTE[class_id] / 255
    axes[1].add_patch(plt.Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor=colour, linewidth=2))
    axes[1].text(x, y - 2, data.CLASS_NAMES[class_id], color=colour, fontsize=9)
axes[1].set_title("detection:\na class and a box per object", fontsize=10)
viz.overlay(scene, scene_mask, alpha=0.6, ax=axes[2])
axes[2].set_title("semantic segmentation:\na class for every pixel", fontsize=10)
for ax in axes:
    ax.set_axis_off()
fig.legend(handles=viz.legend_handles(data.CLASS_NAMES), loc="lower center", ncol=6, frameon=False)
plt.show()

# %% [markdown]
# ## 3. Label maps, the palette and the void label
#
# A label map is just an integer array: one class id per pixel, 0 for background. Here
# is a 10×12 patch across the left border of the circle, as numbers:

# %%
_, x, y, width, height = boxes[0]  # the circle's box
top, left = y + height // 2 - 5, x - 6  # 10 rows around its middle, 12 columns across its left edge
print(scene_mask[top:top + 10, left:left + 12])

# %% [markdown]
# The **255** entries are *void*: pixels on an object's outline, where it is ambiguous
# which class the pixel belongs to (partly object, partly background). PASCAL VOC marks
# such a band around every object, and also marks regions too hard to label, with 255; this
# data set marks a 2-pixel band between any two labels in the same way. Void pixels are
# **ignored**: the loss does not train on them, and the metrics do not count them. Two
# bugs hide here: treating void as a 22nd class, and turning it into background (some
# tutorials do that without saying so; it teaches the network that outlines are
# background, and it distorts the scores, as section 6 shows).
#
# To *look* at a label map we colour it with the **VOC palette**: class id i gets a fixed
# colour (background black, class 1 dark red, class 2 dark green...), and void 255 a light
# cream. `viz.colorize` does that:

# %%
for class_id in (*range(data.NUM_CLASSES), data.VOID_LABEL):
    name = data.CLASS_NAMES[class_id] if class_id < data.NUM_CLASSES else "void"
    print(f"{class_id:3d} {name:10s} RGB {tuple(int(v) for v in viz.VOC_PALETTE[class_id])}")

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
viz.show_samples(images[:4], masks[:4])
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
pixel_shares = np.bincount(masks.ravel(), minlength=256)[:data.NUM_CLASSES] / np.count_nonzero(masks != data.VOID_LABEL)
print("share of labelled pixels:", {name: round(float(s), 3) for name, s in zip(data.CLASS_NAMES, pixel_shares)})

# %% [markdown]
# Background covers about 83% of the labelled pixels (PASCAL VOC: about 70-75%); keep
# that number in mind for section 6.
#
# **Large objects need context.** The centre of a big object is flat colour. A pixel whose
# 9×9 neighbourhood holds nothing but its own object cannot be classified by a network
# that sees only 9×9 pixels around it: the outline that tells a square from a circle is
# further away. `data.interior_pixels` finds those pixels:

# %%
WINDOW = 9  # pixels: the neighbourhood of a small network (lesson 02 computes such windows)
interior = data.interior_pixels(masks, window=WINDOW)
object_pixels = (masks > 0) & (masks != data.VOID_LABEL)
print(f"object pixels whose {WINDOW}×{WINDOW} neighbourhood is one class: "
      f"{interior.sum() / object_pixels.sum():.1%}")

fig, axes = plt.subplots(1, 4, figsize=(11, 3))
for ax, index in zip(axes, (0, 3)):
    ax.imshow(images[index])
    ax.set_axis_off()
for ax, index in zip(axes[2:], (0, 3)):
    ax.imshow(np.where(interior[index][..., None], [1.0, 0.85, 0.0], viz.colorize(masks[index]) / 255))
    ax.set_title(f"yellow: {WINDOW}×{WINDOW} sees one class", fontsize=9)
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
data.write_voc(voc_root, "train", images[:6], masks[:6], class_names=data.CLASS_NAMES)
data.write_voc(voc_root, "val", test_images[:3], test_masks[:3], class_names=data.CLASS_NAMES)
for path in sorted(voc_root.rglob("*"))[:12]:
    print(path.relative_to(voc_root))

# %%
read_images, read_masks, read_ids = data.read_voc(voc_root, "train")
print(len(read_images), "images:", read_ids)
assert all(np.array_equal(a, b) for a, b in zip(read_masks, masks[:6]))  # PNG is lossless
print("masks identical after the round trip")

# %% tags=["nbval-ignore-output"]
jpeg_error = max(np.abs(a.astype(int) - b).max() for a, b in zip(read_images, images[:6]))
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
# halfway between circle (1) and triangle (3) is square (2). Popular tutorials do this
# (the TensorFlow segmentation tutorial did, until it was fixed). Label maps must be
# resized with **nearest-neighbour** sampling, which copies an existing label:

# %%
NEW_SIZE = (100, 100)  # (width, height) for cv2: not a multiple of 64, so pixels blend
bilinear = cv2.resize(masks[0], NEW_SIZE, interpolation=cv2.INTER_LINEAR)
nearest = cv2.resize(masks[0], NEW_SIZE, interpolation=cv2.INTER_NEAREST_EXACT)
valid = np.isin(bilinear, [*range(data.NUM_CLASSES), data.VOID_LABEL])
print(f"bilinear: {len(np.unique(bilinear))} different labels, e.g. {np.unique(bilinear[~valid])[::40].tolist()}; "
      f"{np.count_nonzero(~valid)} pixels hold ids that are no class at all")
print("nearest: labels", np.unique(nearest).tolist())

# %% [markdown]
# In floating point (as `tf.image.resize` or `keras.ops.image.resize` return), the
# labels even become fractional. `metrics.confusion_matrix` refuses those:

# %% tags=["nbval-ignore-output"]
float_mask = np.asarray(keras.ops.image.resize(masks[0][None, ..., None].astype("float32"), (100, 100),
                                               interpolation="bilinear"))[0, ..., 0]
fractional = np.count_nonzero(float_mask != np.round(float_mask))
print(f"{fractional} pixels have fractional labels, e.g. {np.unique(float_mask[float_mask != np.round(float_mask)].astype(float).round(2))[:4].tolist()}")
try:
    metrics.confusion_matrix(float_mask, np.zeros((100, 100), np.uint8), data.NUM_CLASSES)
    refused = False
except ValueError as error:
    print("ValueError: ...", str(error).split(": ", 1)[1][-130:])
    refused = True
assert fractional > 0 and refused

# %% [markdown]
# `read_voc(root, split, size=...)` resizes images with area or bilinear interpolation and
# masks with exact nearest neighbour.
#
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
#
# ### A worked example
#
# A 4×5 image with 3 classes and three void pixels (255), and a prediction for it:

# %%
labels = np.array([[0, 0, 0, 1, 1],
                   [0, 0, 1, 1, 1],
                   [0, 2, 2, 1, 255],
                   [0, 2, 2, 255, 255]], np.uint8)
predicted = np.array([[0, 0, 0, 0, 1],
                      [0, 0, 1, 1, 1],
                      [0, 0, 2, 1, 1],
                      [2, 2, 2, 2, 1]], np.uint8)
confusion = metrics.confusion_matrix(labels, predicted, num_classes=3)
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
# A "model" that answers *background* everywhere, on the 300 scenes of section 4:

# %%
all_background = np.zeros_like(masks)
print(metrics.format_scores(metrics.segmentation_scores(metrics.confusion_matrix(masks, all_background, data.NUM_CLASSES)),
                            data.CLASS_NAMES))

# %% [markdown]
# 83% pixel accuracy for a model that finds nothing. Mean IU (17%) says the truth: one class
# of five is found, and it is found at the cost of flooding it. This is why the paper reports
# mean IU, and why accuracy as the only metric (as in several popular tutorials) misleads.
#
# Now a model that does find the objects, but coarsely: it sees the scene through a grid of
# one label per 8×8 block, then copies each block's label to all its pixels. That is what a
# network with output stride 8 and no smarter upsampling produces (lessons 03-05):

# %%
STRIDE = 8  # pixels per output cell, as FCN-8s' finest prediction


def blocky(label_maps, stride):
    """(N, H, W) -> the label at the centre of each stride×stride block, repeated (void -> 0)."""
    centres = np.where(label_maps == data.VOID_LABEL, 0, label_maps)[:, stride // 2::stride, stride // 2::stride]
    return centres.repeat(stride, axis=1).repeat(stride, axis=2)


coarse = blocky(masks, STRIDE)
coarse_confusion = metrics.confusion_matrix(masks, coarse, data.NUM_CLASSES)
print(metrics.format_scores(metrics.segmentation_scores(coarse_confusion), data.CLASS_NAMES))
viz.plot_confusion(coarse_confusion, data.CLASS_NAMES)
plt.show()

# %% [markdown]
# The confusion matrix (each row normalised to the true class's pixels) shows where the
# errors go: mostly objects lost to background at their borders.
#
# **Void counted as background** flatters or punishes a model depending on what it does at
# the borders. The same coarse predictions, scored with void turned into background:

# %%
void_as_background = np.where(masks == data.VOID_LABEL, 0, masks)
print(metrics.format_scores(metrics.segmentation_scores(
    metrics.confusion_matrix(void_as_background, coarse, data.NUM_CLASSES))))
print(f"(void is {np.mean(masks == data.VOID_LABEL):.1%} of all pixels)")

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
# pixel becomes class 0: the all-background score. "Soft" IoU on probabilities changes
# with the model's confidence, even when its decisions are identical. Here are two models
# with the coarse model's decisions, one 60% sure of each, one 95% sure:

# %%
def probabilities(class_ids, confidence):
    """(N, H, W) ids -> (N, H, W, classes): `confidence` on the id, the rest spread evenly."""
    rest = (1 - confidence) / (data.NUM_CLASSES - 1)
    probs = np.full(class_ids.shape + (data.NUM_CLASSES,), rest, np.float32)
    np.put_along_axis(probs, class_ids[..., None].astype(np.intp), confidence, axis=-1)
    return probs


def soft_mean_iou(label_maps, probs):
    """The wrong metric: IoU with probabilities in place of 0/1 predictions (void ignored)."""
    labelled = label_maps != data.VOID_LABEL
    truth = np.eye(data.NUM_CLASSES)[np.where(labelled, label_maps, 0)] * labelled[..., None]
    probs = probs * labelled[..., None]
    intersection = (truth * probs).sum(axis=(0, 1, 2))
    return np.mean(intersection / (truth.sum(axis=(0, 1, 2)) + probs.sum(axis=(0, 1, 2)) - intersection))


for confidence in (0.6, 0.95):
    probs = probabilities(coarse, confidence)
    right = metrics.segmentation_scores(metrics.confusion_matrix(masks, probs, data.NUM_CLASSES))["mean_iou"]
    cast = metrics.segmentation_scores(metrics.confusion_matrix(masks, probs.astype(np.int64),
                                                                data.NUM_CLASSES))["mean_iou"]
    print(f"{confidence:.0%} sure: mean IU of the argmax {right:.3f} | soft IoU {soft_mean_iou(masks, probs):.3f} "
          f"| probabilities cast to int {cast:.3f}")

# %% [markdown]
# `metrics.confusion_matrix` takes the argmax itself when the predictions have a class
# axis. In Keras, `keras.metrics.MeanIoU` expects class ids unless you pass
# `sparse_y_pred=False` (with softmax outputs and the default, Keras 3 stops with a shape
# error; older `tf.keras` versions gave a flat, wrong value instead, a much-reported
# problem). The course's Keras metric, `metrics.MeanIU`, takes logits or probabilities and
# ignores void, for `model.compile(..., metrics=[metrics.MeanIU(num_classes)])` from
# lesson 04 on:

# %%
keras_metric = metrics.MeanIU(data.NUM_CLASSES)
logits = np.log(probabilities(coarse, 0.6))  # any scores with the same argmax give the same IU
keras_metric.update_state(masks, logits)
print(f"MeanIU from logits: {float(keras_metric.result()):.4f}")

# %% tags=["nbval-ignore-output"]
numpy_value = metrics.segmentation_scores(coarse_confusion)["mean_iou"]
print(f"difference from the numpy computation: {abs(float(keras_metric.result()) - numpy_value):.1e}")
assert abs(float(keras_metric.result()) - numpy_value) < 1e-6  # float32 counts in Keras

# %% [markdown]
# ## 7. Quality at the borders (a preview of lesson 05)
#
# Mean IU over a whole image is dominated by the interiors of objects. To compare how well
# networks place *borders*, lesson 05 also scores only the pixels within a few pixels of
# a label border: the "trimap" evaluation (Kohli et al. 2009; used by DeepLab, Chen et
# al. 2015, to show what finer outputs gain). `metrics.boundary_band` draws that band and
# `metrics.trimap_scores` scores inside it. For our blocky predictors of output stride 4,
# 8 and 16:

# %%
BAND_WIDTHS = (1, 2, 4, 8, 16)  # pixels from a label border
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), width_ratios=(1, 2))
SHOWN_WIDTH = 4
band = metrics.boundary_band(masks[0], SHOWN_WIDTH)
axes[0].imshow(np.where(band[..., None], viz.colorize(masks[0]), 255))
axes[0].set_title(f"the band of {SHOWN_WIDTH} px (white: outside)", fontsize=10)
axes[0].set_axis_off()
for stride in (4, 8, 16):
    curve = [metrics.trimap_scores(masks, blocky(masks, stride), data.NUM_CLASSES, width)["mean_iou"]
             for width in BAND_WIDTHS]
    axes[1].plot(BAND_WIDTHS, curve, marker="o", label=f"output stride {stride}")
    print(f"stride {stride:2d}: mean IU in bands of {BAND_WIDTHS} px: {np.round(curve, 3).tolist()}")
axes[1].set_xscale("log", base=2)
axes[1].set_xticks(BAND_WIDTHS, [str(w) for w in BAND_WIDTHS])
axes[1].set_xlabel("band width (pixels from a border)")
axes[1].set_ylabel("mean IU in the band")
axes[1].legend()
plt.show()

# %% [markdown]
# The coarser the output, the worse the borders, and the gap is widest near them: this is
# the measure lesson 05 uses to compare FCN-32s, 16s and 8s.

# %%
shutil.rmtree(scratch)  # the lesson's temporary files

# %% [markdown]
# ## Summary
#
# - Semantic segmentation gives every pixel a class; the answer is a label map of the
#   image's size (uint8 class ids, 0 background), shown in the VOC palette. FCN solves
#   this task, not detection.
# - Void (255) marks ambiguous pixels (object outlines in VOC). The loss and the metrics
#   ignore it; it is neither a class nor background.
# - The course data set draws shapes whose class is their shape (colour is no clue),
#   small to large, on textured backgrounds; big objects have flat interiors that only a
#   large receptive field can label.
# - Data live in the PASCAL VOC layout (`read_voc` / `write_voc`); masks are palette PNGs
#   and are resized with nearest neighbour only.
# - The paper's four metrics come from one confusion matrix; mean IU is the one to watch.
#   Pixel accuracy alone rewards predicting background everywhere; IU is computed on class
#   ids (the argmax), never on probabilities.
#
# **Exercises** (`exercises/00_setup_and_task.ipynb`): 0.1 the confusion matrix with the
# void label ignored; 0.2 mean IU and 0.3 frequency weighted IU from a confusion matrix.
#
# Next: lesson 01 turns a classifier into a network that outputs a map of class scores.
