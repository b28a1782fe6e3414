# ---
# jupyter:
#   fcn_lessons:
#     exercises:
#     - '6.1'
#     - '6.2'
#     - '6.3'
#     fingerprint: 9a2be58a4a8528aa
#     generated_from: solutions/06_training_on_gpu.py
#     kind: exercises
#     lesson: '06'
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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/exercises/06_training_on_gpu.ipynb)
#
# # Lesson 06 exercises: a pipeline with joint augmentation, batches under a strategy, where the time goes
#
# Three exercises to go with `notebooks/06_training_on_gpu.ipynb`: you write the
# augmentation a `tf.data` pipeline maps over its elements (6.1), the batch size and
# learning rate of a run on several replicas (6.2), and you predict where a naive
# loader's epoch spends its time before a cell measures it (6.3).
#
# **How to work.** Edit the cells marked *exercise*: replace the
# `raise NotImplementedError(...)` line (or the `...`) with your code. Then run the
# *check* cell below it: it prints one line when your answer passes, and otherwise the
# failing case, what was expected, what came back, and a hint. Checks are graded as
# shipped, with other random cases. Hints are folded: open one at a time.
#
# **Not allowed:** `fcn_lessons.augment`, `fcn_lessons.pipeline` and
# `fcn_lessons.distribute` hold the course's answers; the checks refuse their functions.
#
# **Run time:** under a minute on a 2-core CPU (29 s measured on the course's shared machine).

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
import tensorflow as tf

from fcn_lessons import by_mode, checks, data
from fcn_lessons.bench import pipeline as bench

# %% [markdown]
# ## Exercise 6.1: joint augmentation for a `tf.data` map
#
# Write `joint_augment(image, mask, seed)`, the function a pipeline maps over its
# elements. `image` is a float32 (H, W, 3) tensor in [0, 1], `mask` a uint8 (H, W) tensor of
# class ids with 255 for void, `seed` an int32 tensor of shape (2,). Return `(image, mask)`
# of the **input's size** after, all drawn from `seed` and the same for both:
#
# - a left-right flip with probability 1/2;
# - a scale: both sides times a factor drawn uniformly from [0.75, 1.25];
# - a pad (where the scaled pair is smaller) and a crop back to (H, W).
#
# No colour jitter here. The check runs your function inside `tf.data.Dataset.map`, so
# arguments are symbolic tensors: use TensorFlow ops only.

# %% [markdown]
# <details><summary>Hint 1: one seed, several draws</summary>
#
# `tf.random.experimental.stateless_split(seed, num=k)` gives k independent seeds. Draw
# each random choice once, with a `tf.random.stateless_uniform(..., seed=...)`, and use
# the same drawn value for the image and for the mask.
#
# </details>
#
# <details><summary>Hint 2: resizing a mask</summary>
#
# `tf.image.resize(x, size)` is bilinear: on a mask it blends class 1 and void 255 into 128,
# a class that does not exist. `method="nearest"` copies one input pixel per output pixel.
# Give the mask a channel axis (`mask[..., None]`) for `tf.image.resize` and `tf.pad`.
#
# </details>
#
# <details><summary>Hint 3: padding and cropping the same way</summary>
#
# Pad the image with 0 and the mask with 255 (void: the loss then ignores the padding),
# using the same amounts on each side; then cut the same (H, W) window from both, at an
# offset drawn from its own seed.
#
# </details>

# %% tags=["exercise"]
# May not use: fcn_lessons.augment or fcn_lessons.pipeline (the course's answers).
SCALE_RANGE = (0.75, 1.25)


def joint_augment(image, mask, seed):
    """float32 (H, W, 3), uint8 (H, W), int32 (2,) seed -> the same flip, scale and crop of both."""
    # Exercise 6.1: draw flip, scale and crop once from the seed and apply them to image and mask
    raise NotImplementedError("Exercise 6.1: draw flip, scale and crop once from the seed and apply them to image and mask")


# %% tags=["check"]
checks.check_joint_augment(joint_augment)

# %% [markdown]
# Your function in a pipeline: every element gets its own seed (the run's seed and the
# element's index), the map runs in parallel, batches are prepared ahead.

# %%
RUN_SEED = 7
scenes, scene_masks = data.make_shapes(16, 64, seed=5)
elements = tf.data.Dataset.from_tensor_slices((scenes, scene_masks)).enumerate()
try:
    pipeline_of_yours = (elements.map(lambda i, pair: joint_augment(tf.cast(pair[0], tf.float32) / 255.0, pair[1],
                                                                     tf.cast(tf.stack([RUN_SEED, i]), tf.int32)),
                                      num_parallel_calls=tf.data.AUTOTUNE)
                         .batch(8).prefetch(tf.data.AUTOTUNE))
    images, masks = next(iter(pipeline_of_yours))
    print(images.shape, masks.shape, "labels:", np.unique(masks.numpy()).tolist())
except NotImplementedError:
    print("write joint_augment (exercise 6.1) first, then run this cell again")

# %% [markdown]
# ## Exercise 6.2: the global batch and the learning rate
#
# A run was tuned on one device: learning rate `base_learning_rate` for batches of
# `base_batch` images. You move it to `num_replicas` replicas, each taking
# `per_replica_batch` images per step. Write
# `scale_for_replicas(per_replica_batch, num_replicas, base_learning_rate, base_batch)`
# returning `(global_batch, learning_rate)`: the images one step sees over all replicas
# (an int), and the learning rate the linear scaling rule gives for that batch.

# %% [markdown]
# <details><summary>Hint 1: what one step sees</summary>
#
# Each replica takes its own slice of the step's batch, and the replicas' gradients are
# summed into one update: the step has seen every replica's images.
#
# </details>
#
# <details><summary>Hint 2: the rule</summary>
#
# Goyal et al. (2017): when the batch is multiplied by k, multiply the learning rate by k.
# Which batch was the rate tuned for, and by how much is the new one larger?
#
# </details>

# %% tags=["exercise"]
# May not use: fcn_lessons.distribute (the course's answer).
def scale_for_replicas(per_replica_batch, num_replicas, base_learning_rate, base_batch):
    """-> (global_batch, learning_rate) under the linear scaling rule."""
    # Exercise 6.2: multiply the batch by the replicas, the rate by the batch's growth
    raise NotImplementedError("Exercise 6.2: multiply the batch by the replicas, the rate by the batch's growth")


# %% tags=["check"]
checks.check_replica_scaling(scale_for_replicas)

# %% [markdown]
# ## Exercise 6.3: predict, then run: where does the time go?
#
# The blog post's loader feeds FCN-8s (mini_vgg) one course scene per step: a random 64×64
# JPEG and its mask read from disk, decoded and augmented in Python, then one training
# step. **Predict** which takes longer over an epoch on your machine: `"input"` (reading,
# decoding, augmenting) or `"model"` (the training steps). Write `PREDICTION = "input"` or
# `PREDICTION = "model"`, run the cell, and only then the check: it times both parts.
#
# <details><summary>Hint 1: sizes</summary>
#
# A 64×64 JPEG is a few kilobytes. How long does decoding that take, next to a forward
# and backward pass through fifteen convolution layers?
#
# </details>
#
# <details><summary>Hint 2: the device</summary>
#
# On a CPU the model's arithmetic and the loader share the same cores; the loader's work
# per image is a few small array operations. On a GPU the model's step shrinks, the
# loader's does not.
#
# </details>

# %% tags=["exercise"]
# May not use: any code: this is a prediction.
# Exercise 6.3: predict which part of a naive-loader epoch takes longer
PREDICTION = ...

# %% tags=["check", "nbval-ignore-output"]
MEASURED = bench.naive_breakdown(num_images=by_mode(full=32, quick=8))
checks.check_time_prediction(PREDICTION, input_seconds=MEASURED["input_seconds"],
                             model_seconds=MEASURED["model_seconds"])
