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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/solutions/00_setup_and_task.ipynb)
#
# # Lesson 00 exercises: the confusion matrix and the paper's IU metrics
#
# Three exercises to go with `notebooks/00_setup_and_task.ipynb`: you compute the FCN
# paper's scores yourself, from label maps to mean IU.
#
# **How to work.** Edit the cells marked *exercise*: replace the
# `raise NotImplementedError(...)` line with your code. Then run the *check* cell below
# it. A check tries your function on several random cases against the course's reference;
# it prints one line when all pass, and otherwise stops at the first failing case with
# what was expected, what your code returned, and a hint. Checks are graded as shipped,
# so there is nothing to gain by editing them.
#
# Use numpy only (not `fcn_lessons.metrics`, which holds the reference answers).
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
# ## Exercise 0.1: the confusion matrix, void ignored
#
# Write `confusion_matrix(labels, predictions, num_classes, ignore_label=255)`.
#
# - `labels` and `predictions` are integer arrays of the same shape, e.g. (H, W) or
#   (N, H, W), holding class ids `0..num_classes-1`; `labels` may also hold
#   `ignore_label` (void).
# - Return a `(num_classes, num_classes)` array whose entry `[i, j]` counts the pixels
#   labelled `i` and predicted `j` (rows: truth, columns: prediction).
# - Pixels labelled `ignore_label` are not counted at all, whatever was predicted there.
#
# Watch the dtype: the arrays may be `uint8`, where `21 * 20` does not fit.

# %% tags=["exercise"]
def confusion_matrix(labels, predictions, num_classes, ignore_label=255):
    """labels, predictions: same-shape integer arrays -> (num_classes, num_classes) counts."""
    # BEGIN SOLUTION 0.1: count (label, prediction) pairs into a num_classes × num_classes matrix, skipping void
    # HINT: keep = labels != ignore_label selects the pixels to count.
    # HINT: one integer per pair, num_classes * label + prediction, then np.bincount(..., minlength=num_classes**2).
    keep = np.asarray(labels) != ignore_label
    truth = np.asarray(labels)[keep].astype(np.int64)
    predicted = np.asarray(predictions)[keep].astype(np.int64)
    pairs = num_classes * truth + predicted
    return np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)
    # END SOLUTION


# %% tags=["check"]
checks.check_confusion_matrix(confusion_matrix)

# %% [markdown]
# ## Exercise 0.2: mean IU
#
# Write `mean_iou(confusion)` for a confusion matrix `n` as above (void already left out).
# For each class i, with `t_i = sum_j n[i, j]` (row sum: pixels of class i),
#
# $$\text{IU}_i = \frac{n_{ii}}{t_i + \sum_j n_{ji} - n_{ii}}$$
#
# and mean IU is their mean over the classes. A class absent from both labels and
# predictions has IU 0/0: leave it out of the mean, as the paper's evaluation code does.
# A class predicted but never labelled has IU 0, which counts. Return one float.

# %% tags=["exercise"]
def mean_iou(confusion):
    """(C, C) confusion matrix, rows = true class -> mean IU as a float."""
    # BEGIN SOLUTION 0.2: compute IU per class from the confusion matrix, then average the defined ones
    # HINT: np.diag gives n_ii; .sum(axis=1) the row sums t_i; .sum(axis=0) the column sums.
    # HINT: 0/0 gives NaN (silence the warning with np.errstate); np.nanmean skips NaN.
    confusion = np.asarray(confusion, dtype=np.float64)
    hits = np.diag(confusion)
    union = confusion.sum(axis=1) + confusion.sum(axis=0) - hits
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = hits / union
    return float(np.nanmean(iou))
    # END SOLUTION


# %% tags=["check"]
checks.check_mean_iou(mean_iou)

# %% [markdown]
# ## Exercise 0.3: frequency weighted IU
#
# Write `frequency_weighted_iou(confusion)`: each class's IU weighted by its share of the
# **labelled** pixels,
#
# $$\text{f.w. IU} = \frac{1}{\sum_k t_k} \sum_i t_i\, \text{IU}_i$$
#
# over the classes with `t_i > 0` (a class with no labelled pixel has weight 0, and maybe
# an undefined IU). Return one float.

# %% tags=["exercise"]
def frequency_weighted_iou(confusion):
    """(C, C) confusion matrix, rows = true class -> frequency weighted IU as a float."""
    # BEGIN SOLUTION 0.3: weight each class's IU by its share of the labelled pixels
    # HINT: the weights are the row sums divided by the total; they sum to 1.
    # HINT: 0 * NaN is NaN: sum only over the classes with t_i > 0.
    confusion = np.asarray(confusion, dtype=np.float64)
    hits = np.diag(confusion)
    totals = confusion.sum(axis=1)
    labelled = totals > 0
    union = totals + confusion.sum(axis=0) - hits
    return float((totals[labelled] * hits[labelled] / union[labelled]).sum() / totals.sum())
    # END SOLUTION


# %% tags=["check"]
checks.check_frequency_weighted_iou(frequency_weighted_iou)

# %% [markdown]
# ## What you built
#
# - 0.1: the confusion matrix, from which every score of the paper follows; void pixels
#   leave no trace in it.
# - 0.2: mean IU, the paper's headline metric, with absent classes left out as in the
#   authors' `score.py`.
# - 0.3: frequency weighted IU, which weights classes by how many pixels they cover, so
#   (like pixel accuracy) it is dominated by the background.
#
# With these you can score any segmentation. Next: lesson 01 builds the first network
# that outputs one.
