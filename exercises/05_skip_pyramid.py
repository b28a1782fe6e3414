# ---
# jupyter:
#   fcn_lessons:
#     exercises:
#     - '5.1'
#     - '5.2'
#     - '5.3'
#     fingerprint: 92b276d67ebe077f
#     generated_from: solutions/05_skip_pyramid.py
#     kind: exercises
#     lesson: '05'
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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/exercises/05_skip_pyramid.ipynb)
#
# # Lesson 05 exercises: the skip pyramid
#
# Three exercises to go with `notebooks/05_skip_pyramid.ipynb`: you write one step of the
# pyramid in numpy, the weight transfer that staged training starts from, and you predict
# one result before you measure it.
#
# **How to work.** Edit the cells marked *exercise*: replace the
# `raise NotImplementedError(...)` line (or the `...`) with your code. Then run the
# *check* cell below it. A check tries your code on several cases against the course's
# reference; it prints one line when all pass, and otherwise stops at the first failing
# case with what was expected, what your code returned, and a hint. Hints are also folded
# above each exercise: open them one at a time, only when you are stuck.

# %% [markdown]
# Each exercise says which modules it may not use: mostly `fcn_lessons.pyramid`, which
# holds the course's own answers (a check refuses them when handed over directly). Checks
# are graded as shipped, with cases you have not seen, so there is nothing to gain by
# editing them or by fitting an answer to the cases they show.
#
# **Run time:** a few seconds on a CPU; nothing here trains.

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

from fcn_lessons import checks, upsampling

# %% [markdown]
# ## Exercise 5.1: one fusion step
#
# Write `fuse(coarse_scores, skip_scores, offset)`: what FCN-16s's `upscore2`,
# `score_pool4c` and `fuse_pool4` compute, for one image.
#
# - `coarse_scores`: (h, w, C) class scores at stride 2s (`score_fr`);
# - `skip_scores`: (H, W, C) class scores at stride s (`score_pool4`, already the 1×1
#   score of pool4), larger than needed because of the reference's padding;
# - `offset`: (oy, ox), where position (0, 0) of the upsampled coarse map lies in
#   `skip_scores` (5 for the reference's pool4).
#
# Return the fused (2h + 2, 2w + 2, C) scores. Upsample with the reference's ×2 layer: a
# transposed convolution with kernel 4, stride 2, 'valid' padding, bilinear per class.
#
# *Not allowed:* `fcn_lessons.pyramid` (its `fuse_skip` is the answer) and Keras layers.
# Lesson 03's numpy tools are allowed: `upsampling.transposed_conv2d`,
# `upsampling.bilinear_kernel`.

# %% [markdown]
# <details><summary>Hint 1: which map is upsampled?</summary>
#
# Only one of the two maps is coarse. Which one has fewer positions per pixel of the image?
#
# </details>
#
# <details><summary>Hint 2: the sizes</summary>
#
# Work out the upsampled map's size first: (h − 1)·2 + 4. Then the skip's scores must be cut
# to exactly that size before anything is added.
#
# </details>

# %% [markdown]
# <details><summary>Hint 3: where to cut</summary>
#
# The offset says where the upsampled map's first row and column fall in the skip's map:
# rows from `oy`, columns from `ox`.
#
# </details>
#
# <details><summary>Hint 4: what "fuse" means in FCN</summary>
#
# One score per class stays one score per class: the two maps are added element by element.
#
# </details>

# %% tags=["exercise"]
# Not allowed here: fcn_lessons.pyramid, Keras layers.
def fuse(coarse_scores, skip_scores, offset):
    """(h, w, C) coarse scores, (H, W, C) skip scores, (oy, ox) -> (2h + 2, 2w + 2, C) fused scores."""
    # Exercise 5.1: upsample the coarse scores, crop the skip's, add them
    raise NotImplementedError("Exercise 5.1: upsample the coarse scores, crop the skip's, add them")


# %% tags=["check"]
checks.check_fuse(fuse)

# %% [markdown]
# ## Exercise 5.2: the weight transfer of staged training
#
# Write `transfer(source, target)`, which initialises the finer net `target` (a Keras
# model, changed in place) from the trained coarser net `source`, layer by layer:
#
# - a layer of `target` with a layer of the **same name** in `source` whose weights all
#   have the **same shapes** receives those weights: all of them (`get_weights()`),
#   batch-normalisation statistics included;
# - a layer whose name matches but whose shapes differ keeps its own weights;
# - a layer that `source` lacks is new: if its name starts with `score_` (the new skip
#   scores), set all its weights to zero; any other new layer keeps its weights.
#
# *Not allowed:* `fcn_lessons.pyramid` (its `transfer_weights` is the answer) and
# `fcn_lessons.models.transplant`.

# %% [markdown]
# <details><summary>Hint 1: names, not positions</summary>
#
# A dictionary from layer name to layer, built from `source.layers`, lets you look every
# target layer up by its name. The two models do not list their layers in the same order.
#
# </details>
#
# <details><summary>Hint 2: compare shapes before copying</summary>
#
# `set_weights` refuses arrays of the wrong shape; compare the lists of shapes first, and
# skip the layer when they differ.
#
# </details>

# %% [markdown]
# <details><summary>Hint 3: which new layers are zeroed</summary>
#
# Only the new *scores*. The new upsampling layers are bilinear kernels: zeroing them would
# silence the whole network.
#
# </details>

# %% tags=["exercise"]
# Not allowed here: fcn_lessons.pyramid, fcn_lessons.models.transplant.
def transfer(source, target):
    """Copy ``source``'s weights into ``target`` by layer name; zero ``target``'s new score layers."""
    # Exercise 5.2: copy by name where the shapes agree, zero the new score layers
    raise NotImplementedError("Exercise 5.2: copy by name where the shapes agree, zero the new score layers")


# %% tags=["check"]
checks.check_transfer(transfer)

# %% [markdown]
# ## Exercise 5.3: predict, then run
#
# Section 1 of the lesson scores the *stride oracles*: perfect classifiers of 32×32, 16×16
# and 8×8 cells, upsampled bilinearly: the best the output of FCN-32s, 16s and 8s could be.
# Adding pool4 takes the stride from 32 to 16; adding pool3, from 16 to 8. In mean IU over
# whole images the first step gains about twice as much as the second (the paper's Table 2
# shows the same diminishing return: 59.4, 62.4, 62.7).
#
# **Before running the check**, predict: within 1 pixel of a label border (trimap mean IU
# at 1 px), which step could gain more: the pool4 step (32 → 16) or the pool3 step
# (16 → 8)? Write `"pool4"` or `"pool3"` in `PREDICTION`. The check cell measures it on the
# lesson's 200 test scenes.
#
# *Not allowed:* running code to find the answer first.

# %% [markdown]
# <details><summary>Hint 1: how far off is a border?</summary>
#
# At stride s, a border can be misplaced by up to about half a cell: s/2 pixels. A pixel 1
# pixel from a border: at which strides is it still likely on the wrong side?
#
# </details>
#
# <details><summary>Hint 2: what mean IU counts</summary>
#
# Mean IU over whole images is dominated by object interiors. Which of the two steps has
# already fixed most interiors, and which pixels are left for the other?
#
# </details>

# %% tags=["exercise"]
# Not allowed here: running code to find the answer first.
# Exercise 5.3: predict which step could gain more trimap mean IU at 1 px
PREDICTION = ...

# %% tags=["check"]
checks.check_border_gain_prediction(PREDICTION)

# %% [markdown]
# ## What you built
#
# - 5.1: one step of the pyramid: the coarser scores upsampled ×2 (2h + 2 positions with
#   the reference's 'valid' layer), the finer scores cropped to them at the derived
#   offset, and a sum, class by class. Concatenation would double the channels; summing
#   first would need maps of the same size.
# - 5.2: staged training's start: copy by name where every shape agrees; the new skip
#   scores at zero, so the finer net begins where the coarser one stopped; the new
#   upsampling kernels stay bilinear.
# - 5.3: where the pyramid's gain lies: over whole images mostly in the first halving of
#   the stride (pool4), but within a pixel of a border in the second (pool3): interiors are
#   right at stride 16, the pixels next to a border need stride 8.
