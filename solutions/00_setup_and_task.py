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
# # Lesson 00 exercises: the confusion matrix and the paper's metrics
#
# Four exercises to go with `notebooks/00_setup_and_task.ipynb`: you compute the FCN
# paper's scores yourself, from label maps to mean IU, and reason about what they say.

# %% [markdown]
# **How to work.** Edit the cells marked *exercise*: replace the
# `raise NotImplementedError(...)` line (or the `...`) with your code. Then run the
# *check* cell below it. A check tries your function on several random cases against the
# course's reference; it prints one line when all pass, and otherwise stops at the first
# failing case with what was expected, what your code returned, and a hint. Checks are
# graded as shipped, so there is nothing to gain by editing them. Each exercise has hints
# above it, folded: open one only when you are stuck, the next only if you still are.
#
# **Use numpy only** (not `fcn_lessons.metrics`, `sklearn.metrics` or `keras.metrics`,
# which compute the answers). **Run time:** a few seconds on a CPU.

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

from fcn_lessons import checks, data, labels

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

# %% [markdown]
# <details><summary>Hint 1: which pixels count?</summary>
#
# Build one boolean array that says, per pixel, whether it is counted; index both arrays
# with it. What is left are pairs (true class, predicted class).
# </details>
# <details><summary>Hint 2: counting pairs without a loop</summary>
#
# A loop over pixels adding 1 to `[label, prediction]` is right but slow. Turn each pair
# into one integer that no other pair shares (the prediction is below `num_classes`),
# then count how often each integer occurs: `np.bincount` does that.
# </details>
# <details><summary>Hint 3: the shape and the dtype</summary>
#
# `np.bincount`'s `minlength` makes the counts reshape into a square even when the last
# classes never occur. Convert to `np.int64` before multiplying: uint8 wraps above 255.
# </details>

# %% tags=["exercise"]
# Numpy only: not fcn_lessons.metrics, sklearn.metrics or keras.metrics (they hold the answer).
def confusion_matrix(labels, predictions, num_classes, ignore_label=255):
    """labels, predictions: same-shape integer arrays -> (num_classes, num_classes) counts."""
    # BEGIN SOLUTION 0.1: count (label, prediction) pairs into a num_classes × num_classes matrix, skipping void
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

# %% [markdown]
# <details><summary>Hint 1: three numbers per class</summary>
#
# Every IU needs, for its class, the diagonal entry, the row sum and the column sum of the
# matrix. numpy gives each of them for all classes at once (`np.diag`, `.sum(axis=...)`).
# </details>
# <details><summary>Hint 2: the union</summary>
#
# The pixels that are class i in the labels *or* the prediction: the row sum plus the
# column sum counts the correct pixels twice. Compute the IU of every class as one array.
# </details>
# <details><summary>Hint 3: the undefined classes</summary>
#
# A class whose union is 0 gives 0/0. Let numpy make it NaN (inside
# `np.errstate(invalid="ignore")`) and average with a mean that skips NaN values.
# </details>

# %% tags=["exercise"]
# Numpy only: not fcn_lessons.metrics, sklearn.metrics or keras.metrics (they hold the answer).
def mean_iou(confusion):
    """(C, C) confusion matrix, rows = true class -> mean IU as a float."""
    # BEGIN SOLUTION 0.2: compute IU per class from the confusion matrix, then average the defined ones
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
# ## Exercise 0.3: mean accuracy, and the all-background trap
#
# Write `mean_accuracy(confusion)`: each class's accuracy `n_ii / t_i` (the share of its
# labelled pixels predicted right), averaged over the classes. A class with no labelled
# pixel (`t_i = 0`) has no accuracy, even if it is predicted: leave it out of the mean.
#
# Then explain a trap. On the course data (lesson 00, section 4), background is 83% of the
# labelled pixels and all five classes occur. A model predicts *background* for every
# pixel. Which statement is true? Set `TRAP_ANSWER` to its letter:
#
# - **a**: its mean accuracy equals its pixel accuracy, 83%: both count its correct pixels.
# - **b**: its mean accuracy is 20%, whatever the background share: background's accuracy
#   is 1, each object class's 0, and the five classes count equally.
# - **c**: its mean accuracy is undefined: the object classes are never predicted (0/0).
# - **d**: its mean accuracy is 0: a model that finds no object has no accuracy.

# %% [markdown]
# <details><summary>Hint 1: one number changes from mean IU</summary>
#
# Accuracy and IU of class i have the same numerator. Which of the three numbers of
# exercise 0.2 is the number of pixels *labelled* i?
# </details>
# <details><summary>Hint 2: which classes drop out</summary>
#
# A class drops out when its denominator is 0. For accuracy that is not the same set of
# classes as for IU: think of a class that is predicted but never labelled.
# </details>
# <details><summary>Hint 3: the question</summary>
#
# Write the all-background model's confusion matrix for three classes: every count is in
# column 0. Compute each class's accuracy from it, then average as the definition says.
# </details>

# %% tags=["exercise"]
# Numpy only: not fcn_lessons.metrics, sklearn.metrics or keras.metrics (they hold the answer).
# BEGIN SOLUTION 0.3: mean accuracy over the labelled classes, and the letter of the true statement
# STUB: def mean_accuracy(confusion):
# STUB:     """(C, C) confusion matrix, rows = true class -> mean accuracy as a float."""
# STUB:     raise NotImplementedError("Exercise 0.3: mean accuracy over the labelled classes")
# STUB:
# STUB:
# STUB: TRAP_ANSWER = ...  # "a", "b", "c" or "d"
def mean_accuracy(confusion):
    """(C, C) confusion matrix, rows = true class -> mean accuracy as a float."""
    confusion = np.asarray(confusion, dtype=np.float64)
    labelled = confusion.sum(axis=1)
    present = labelled > 0  # classes with at least one labelled pixel
    return float(np.mean(np.diag(confusion)[present] / labelled[present]))


TRAP_ANSWER = "b"  # background 1, four object classes 0: (1 + 0 + 0 + 0 + 0) / 5
# END SOLUTION

# %% tags=["check"]
checks.check_mean_accuracy(mean_accuracy, TRAP_ANSWER)

# %% [markdown]
# ## Exercise 0.4: predict, then run
#
# The same all-background model, now on other scenes: 200 scenes of 64×64 with bigger
# objects (2 to 4 per scene, 40% to 90% of the image side). What is its **frequency
# weighted IU** there? Lesson 00 never scored these scenes; the cell under this one prints
# their class shares, which is all the data you need. Recall (lesson 00, section 6):
#
# $$\text{f.w. IU} = \frac{1}{\sum_k t_k} \sum_i t_i\, \text{IU}_i$$
#
# Write your prediction as a fraction (0.25 for 25%); the check cell then measures it and
# compares.

# %% [markdown]
# <details><summary>Hint 1: the confusion matrix</summary>
#
# Every pixel is predicted background, so every count sits in column 0. For each class,
# what is the intersection (labelled i *and* predicted i), and what is the union?
# </details>
# <details><summary>Hint 2: which IUs are not zero</summary>
#
# An object class has no pixel right. Background's union holds every pixel that is
# labelled background *or* predicted background: which labelled pixels are not in it?
# </details>
# <details><summary>Hint 3: the weights</summary>
#
# `t_i / sum_k t_k` is class i's share of the labelled pixels. Test your formula on lesson
# 00's own scenes first: background is 83.3% of their labelled pixels, and section 6
# printed this model's f.w. IU as 69.4%.
# </details>

# %%
_, scene_masks = data.make_shapes(**checks.PREDICTION_SCENES)  # the scenes of this question
labelled_pixels = np.count_nonzero(scene_masks != labels.VOID_LABEL)
shares = np.bincount(scene_masks.ravel(), minlength=256)[:data.NUM_CLASSES] / labelled_pixels
print("share of the labelled pixels:", {name: round(float(s), 3) for name, s in zip(data.CLASS_NAMES, shares)})

# %% tags=["exercise"]
# Your prediction, a number; no code needed (and no fcn_lessons.metrics).
# BEGIN SOLUTION 0.4: predict the frequency weighted IU of the all-background model
# STUB: PREDICTION = ...  # a fraction, e.g. 0.25
BACKGROUND_SHARE = 0.589  # printed above: background's IU (its union is every labelled pixel) and its weight
PREDICTION = BACKGROUND_SHARE * BACKGROUND_SHARE  # the object classes' IUs are 0, whatever their weights
# END SOLUTION

# %% tags=["check"]
checks.check_all_background_prediction(PREDICTION)  # measures the model, then compares

# %% [markdown]
# ## What you built
#
# - 0.1: the confusion matrix, from which every score of the paper follows; void pixels
#   leave no trace in it.
# - 0.2: mean IU, the paper's headline metric, with absent classes left out as in the
#   authors' `score.py`.
# - 0.3: mean accuracy, and why a model that finds nothing still scores 83% pixel
#   accuracy but only 20% mean accuracy.
# - 0.4: the same model's frequency weighted IU, predicted from the class shares alone:
#   background's share, squared.
#
# With these you can score any segmentation. Next: lesson 01 builds the first network
# that outputs one.
