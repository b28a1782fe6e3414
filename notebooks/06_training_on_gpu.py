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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fcn-course/fcn-lessons/blob/main/notebooks/06_training_on_gpu.ipynb)
#
# # Lesson 06: training fast, on a GPU and beyond one machine
#
# Lessons 04 and 05 trained FCNs with one `fit` call on arrays in memory. Real training
# reads files, augments them, runs for hours on a GPU (or several), and must survive an
# interruption. This lesson takes each of those apart and **measures** it on the machine
# you have: the input pipeline, joint augmentation, mixed precision and XLA, several
# devices, checkpoints, real data sets, and the same training from the command line.

# %% [markdown]
# **You will leave knowing**
# - what a `tf.data` pipeline does that a per-image Python loader does not, and how to
#   find out whether a run is input-bound or compute-bound;
# - why image and mask must be augmented with one random draw, and what the blog post's
#   image-only augmentation costs in mean IU;
# - mixed precision (`mixed_float16`, `mixed_bfloat16`), loss scaling, XLA and batch size,
#   measured, and why the CPU answer differs from the GPU one;
# - `MirroredStrategy`, the global batch and learning rate, why FCN's loss must be reduced
#   over the *global* batch; TPUs on Colab; several machines with `TF_CONFIG`;
# - checkpoints that resume exactly, TensorBoard logs, `.keras` files; VOC folders and
#   Oxford-IIIT Pet; `python -m fcn_lessons.train`.

# %% [markdown]
# **Prerequisites:** lesson 04 (`models.fcn`, the loss that ignores void, `training`).
#
# **Run time:** about 3 minutes on two CPU cores (170 s measured, 171 s of it CPU time:
# `docs/RESULTS.md`); not measured on a GPU.
# Timings depend on the machine: the printed figures are yours, and cells that time
# something assert only what holds everywhere. No GPU was available when this lesson
# was written, so GPU figures are not printed here: run it on Colab's GPU to get yours.
# The exercises are in `exercises/06_training_on_gpu.ipynb`.

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

# %%
import json
import tempfile
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from fcn_lessons import augment, by_mode, data, distribute, pets, pipeline, train, viz
from fcn_lessons.bench import pipeline as bench

WORK = Path(tempfile.mkdtemp(prefix="lesson06_"))  # files this lesson writes
NUM_TRAIN = by_mode(full=256, quick=16)  # course scenes to train on (section 3)
NUM_VAL = by_mode(full=64, quick=8)
EPOCHS = by_mode(full=8, quick=2)
NUM_CROPS = by_mode(full=6000, quick=200)  # crops for the pretrained trunk (lesson 04's recipe)
CLASSIFIER_EPOCHS = by_mode(full=3, quick=1)
FINE_TUNE_RATE, FINE_TUNE_BATCH = 2e-3, 8  # Adam; batch 8 as lesson 04; 1e-3 learned slower here (docs/RESULTS.md)
BENCH_IMAGES = by_mode(full=32, quick=4)  # images per timed epoch in sections 1 and 4
BENCH_BATCH = by_mode(full=16, quick=4)
IMAGE_SIZE = 64  # the course's scenes; mini_vgg needs multiples of 32
train_images, train_masks = data.make_shapes(NUM_TRAIN, IMAGE_SIZE, seed=1)
val_images, val_masks = data.make_shapes(NUM_VAL, IMAGE_SIZE, seed=2)
demo_images, demo_masks = data.make_shapes(8, IMAGE_SIZE, seed=3)  # a small VOC folder for the demos
VOC_ROOT = WORK / "voc"
data.write_voc(VOC_ROOT, "train", demo_images, demo_masks, class_names=data.CLASS_NAMES)
print(f"scenes of {IMAGE_SIZE}×{IMAGE_SIZE}; a VOC-layout folder with {len(demo_images)} of them")

# %% [markdown]
# ## 1. The input pipeline: the naive loader against `tf.data`
#
# The blog post loads data with a `DataLoader` that picks a random file, reads it with
# OpenCV, augments it and hands the model **one image per step**. `pipeline.NaiveLoader` is
# that loader, corrected only enough to return labels. `pipeline.from_voc` reads the same
# folder the `tf.data` way: every file decoded **once**, in parallel, kept in memory; the
# augmentation in a parallel `map`; batches prepared **ahead** (`prefetch`) while the model
# trains. We write the course data as a VOC-layout folder and time one training epoch of
# FCN-8s fed each way (`python -m fcn_lessons.bench pipeline` is the same measurement).

# %% tags=["nbval-ignore-output"]
speed = bench.pipeline_speed(num_images=by_mode(full=48, quick=8), image_size=IMAGE_SIZE, batch_size=BENCH_BATCH)

# %%
assert speed["tf_data_images_per_second"] > 0 and speed["naive_images_per_second"] > 0
print("measured: naive, naive at the pipeline's batch, and tf.data, images per second (above)")

# %% [markdown]
# Read the table with its last column. The *input alone* (a feed iterated without a model)
# is small next to the model's time on the course's scenes: 64×64 JPEGs of a few kilobytes
# decode in a fraction of a millisecond. Such a run is **compute-bound**, and no pipeline
# can make it much faster: the gain over the post's loader comes from **batching** (one
# step per 16 images instead of one per image), and on a busy 2-core CPU the pipeline's
# parallel threads even compete with the model for the same cores. We aimed for a 10×
# speed-up here and did not get it (`docs/RESULTS.md` has the figures and why). The picture
# turns when the model is fast (a GPU) or the files are expensive (500×375 photos, a
# network disk): then the naive loader leaves the device waiting, and decoding once in
# parallel and preparing batches ahead keep it busy. Exercise 6.3: predict the split.

# %% [markdown]
# ## 2. Masks keep their class ids
#
# A VOC mask is a *palette* PNG: each pixel stores an index into the file's palette, and
# the index is the class. `tf.io.decode_png` converts such a file to its **colours**, and
# with `channels=1` to grey levels; neither is a class id. `pipeline.decode_mask` reads the
# stored indices (with Pillow, inside `tf.data`). One mask of the course's fixture:

# %%
first_mask = sorted((VOC_ROOT / "SegmentationClass").glob("*.png"))[0]
png = tf.io.read_file(str(first_mask))
ids = pipeline.decode_mask(png, num_classes=len(data.CLASS_NAMES)).numpy()
print("decode_mask values:   ", np.unique(ids).tolist())
print("decode_png grey values:", np.unique(tf.io.decode_png(png, channels=1).numpy()).tolist())
print("decode_png colours:   ", len(np.unique(tf.io.decode_png(png).numpy().reshape(-1, 3), axis=0)), "distinct")

# %% [markdown]
# ## 3. Joint augmentation
#
# A mask is a picture of its image: whatever moves the image's pixels must move the mask's
# the same way. `augment.augment(image, mask, seed)` draws a flip, a scale and a crop once
# from a *stateless* seed and applies them to both (the mask by nearest neighbour only,
# padded with void 255); brightness, contrast and saturation change the image alone. The
# post flips and crops the image but not the mask (`augment.image_only`): its labels end up
# on the wrong pixels. The same scene, the same seed, both ways:

# %%
scene, scene_mask = demo_images[3], demo_masks[3]
SHOW_SEED = (0, 5)  # a seed whose draw flips and shrinks the scene
joint = augment.augment(scene, scene_mask, SHOW_SEED)
wrong = augment.image_only(scene, scene_mask, SHOW_SEED)
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, (image, mask), title in zip(axes, [(scene, scene_mask), joint, wrong],
                                    ["original", "joint", "image only (the post)"]):
    ax.imshow(viz.overlay(image, mask))
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# How wrong are the post's labels? Give every training mask an image whose colours encode
# its labels, augment both, and count the labelled pixels where the mask now disagrees with
# what the image shows (`augment.mislabelled_share`):

# %%
for name, image_only in [("joint", False), ("image only", True)]:
    share = augment.mislabelled_share(demo_masks, image_only=image_only)
    print(f"{name:>10}: {share:.1%} of the labelled pixels carry another label than the image shows")

# %% [markdown]
# And in training? An FCN trained from scratch for a few epochs on a CPU predicts
# background everywhere (mean IU about 0.16 on these scenes, `docs/RESULTS.md`), and two
# networks that both predict background cannot show a difference. So we start, as lesson 04
# does, from a trunk pretrained as a classifier on crops (`train.pretrained_classifier`,
# lesson 04's recipe with a smaller budget), which `models.fcn` transplants:

# %% tags=["nbval-ignore-output"]
classifier, classifier_cost = train.pretrained_classifier(NUM_CROPS, CLASSIFIER_EPOCHS, seed=0)

# %% [markdown]
# Then the same network, data, epochs and seed, fine-tuned with joint augmentation and with
# the post's image-only version, scored on the same validation scenes. Both runs also write
# TensorBoard logs, which section 6 reads back:

# %% tags=["nbval-ignore-output"]
LOG_DIR = WORK / "logs"
results = {}
for name, image_only in [("joint", False), ("image only", True)]:
    logger = keras.callbacks.TensorBoard(str(LOG_DIR / name.replace(" ", "_")))
    results[name] = train.train_and_score(train_images, train_masks, val_images, val_masks, epochs=EPOCHS,
                                          batch_size=FINE_TUNE_BATCH, learning_rate=FINE_TUNE_RATE,
                                          image_only=image_only, weights=classifier, callbacks=[logger])
    print(f"{name:>10}: mean IU {results[name]['mean_iou']:.3f}, pixel accuracy {results[name]['pixel_accuracy']:.3f}")

# %%
assert all(0 <= r["mean_iou"] <= 1 for r in results.values())
print("joint minus image-only mean IU:", "measured above")

# %% [markdown]
# Measured when this lesson was built (learner-sized; `docs/RESULTS.md`): joint
# augmentation reached mean IU 0.260 (pixel accuracy 0.831) and image-only 0.166 (0.812);
# predicting background everywhere scores 0.162 (0.811). Both started from the same trunk;
# the joint run left that plateau in its third epoch (training mean IU 0.171, then up to
# 0.232), the image-only run had not clearly left it after eight (0.176); with another seed,
# 0.234 against 0.162. So what this budget shows is that misplaced labels slow learning a
# lot; how much of the gap a much longer run would keep, it does not show. Quick mode (the
# tests) trains too little to separate them.

# %% [markdown]
# ## 4. Precision and compilation
#
# Mixed precision computes in 16 bits and keeps the weights in float32 (Keras' dtype
# policies `mixed_float16` and `mixed_bfloat16`). float16 has 5 exponent bits: the smallest
# positive float16 is about 6e-8, so small gradients **underflow** to zero. *Loss scaling*
# multiplies the loss (hence every gradient) by a large factor before the backward pass and
# divides the float32 gradients afterwards. Keras does it for you: with `mixed_float16`,
# `compile` wraps the optimizer in a `LossScaleOptimizer` (the `auto_scale_loss` argument).
# bfloat16 keeps float32's 8 exponent bits, so it needs no loss scaling.

# %%
gradient = 2e-8  # a small but real gradient value
SCALE = 2.0**15  # a typical loss scale
print("float16 without scaling:", float(np.float16(gradient)))
print("float16 of the scaled gradient:", float(np.float16(gradient * SCALE)))
print("unscaled again in float32:", f"{float(np.float32(np.float16(gradient * SCALE)) / SCALE):.3g}")
print("bfloat16 keeps it:", f"{float(tf.cast(tf.constant(gradient), tf.bfloat16)):.3g}")

# %% [markdown]
# Now the speed. XLA (`jit_compile=True`) compiles the whole training step into fused
# kernels. One caveat of this course's set-up: Keras turns XLA off while TensorFlow's op
# determinism is on (which `fcn_lessons.setup` enables), so the measurement switches
# determinism off for the XLA rows. On a CPU, expect float16 to be much slower: CPUs have
# no fast float16 arithmetic (TensorFlow's mixed-precision guide says the CPU "runs
# float16 operations slower than float32 operations"); bfloat16 is faster only on CPUs
# with bfloat16 instructions, where oneDNN uses them.

# %% tags=["nbval-ignore-output"]
SETTINGS = by_mode(full=bench.PRECISION_SETTINGS, quick=bench.PRECISION_SETTINGS[:2])  # quick: no bfloat16, no XLA
precision = bench.precision_speed(num_images=BENCH_IMAGES, image_size=IMAGE_SIZE, batch_size=BENCH_BATCH,
                                  settings=SETTINGS)

# %%
assert precision["mixed_float16_images_per_second"] < precision["float32_images_per_second"], \
    "on a CPU float16 is emulated: slower than float32" if not ENV["gpu"] else "GPU: see the table"
print("float16 is slower than float32 on this CPU" if not ENV["gpu"] else "on a GPU: compare the rows above")

# %% [markdown]
# On the course's machine (a 2-core Xeon with bfloat16 instructions, loaded by other jobs)
# float16 ran at 1-9% of float32 in every run; bfloat16 between 0.3× and 1.9× and XLA
# between 0.2× and 1.1× from run to run: on a CPU, measure before switching anything on. On a GPU (Colab:
# *Runtime > Change runtime type > GPU*) the same cell measures the GPU, whose float16
# tensor cores are where mixed precision pays. No GPU was lent while this lesson was
# written, so no GPU figures are printed here, and none are invented. Batch size: a step
# has a fixed cost (launching the step, Python, synchronisation), so images per second
# grow with the batch until the device is full; on a GPU the gain is large.

# %% tags=["nbval-ignore-output"]
batches = bench.batch_speed(num_images=BENCH_IMAGES, image_size=IMAGE_SIZE,
                            batch_sizes=by_mode(full=(1, 4, 16), quick=(1, 4)))

# %%
assert all(value > 0 for value in batches.values())
print("images per second measured for every batch size (above)")

# %% [markdown]
# On this course's 2-core CPU the gain is real but not certain: batch 1 / 4 / 16 gave
# 26.7 / 42.9 / 79.1 images per second in one build, while in a quick run (16 images) on a
# machine loaded by other jobs, batch 8 (33.5) was slower than batch 1 (39.3). Short
# timings on shared cores move with everything else that runs: repeat them before you
# conclude (`docs/RESULTS.md` has every run). So this cell asserts only that it measured.

# %% [markdown]
# ## 5. Several devices: `MirroredStrategy`
#
# Data parallelism: every replica holds a copy of the model, takes its slice of each
# **global** batch, and the replicas sum their gradients before applying the same update.
# The global batch is `per_replica × replicas`; a larger batch usually comes with a larger
# learning rate (the *linear scaling rule* of Goyal et al., 2017, "Accurate, Large Minibatch
# SGD", for SGD with a warm-up). Without a GPU you can still watch it work: a CPU split into
# two logical devices (`distribute.split_cpu`), as Keras's own tests do. It must happen
# before TensorFlow starts, so it runs in a fresh process:

# %%
report = json.loads(subprocess.run([sys.executable, "-m", "fcn_lessons.distribute", "mirrored"],
                                   capture_output=True, text=True, check=True).stdout.splitlines()[-1])
print("replicas:", report["replicas"], "| share of the labelled pixels per replica:", report["labelled_shares"])
for key in ("batch_mean", "mean_of_replica_means", "global_loss_under_strategy", "course_loss_under_strategy"):
    print(f"{key:>28}: {report[key]:.4f}")

# %% [markdown]
# The batch above puts almost all labelled pixels on replica 0 (replica 1's images are
# void except a few pixels). FCN's loss is a mean over labelled pixels; a mean taken per
# replica and then averaged (`mean_of_replica_means`) weighs replica 1's few pixels as much
# as replica 0's many: it is **not** the batch's loss, yet it is what Keras' own losses
# train on under a strategy (Keras 3.15, `keras/src/losses/loss.py`, `reduce_values`: each
# replica divides by its own count, then by the number of replicas). The course loss
# `losses.PixelCrossEntropy` divides each replica's *sum* by the labelled pixels of all
# replicas (`losses.replica_sum`, one all-reduce of a count), so the summed gradients are
# exactly the one-device ones: under the strategy it gives the batch's loss above
# (`distribute.GlobalPixelCrossEntropy` is now the same loss under its lesson-06 name).

# %%
assert report["max_weight_difference"] < 1e-5  # measured 4.2e-7: float sums in another order
print("one device and two replicas end training within 1e-5 of each other")

# %% [markdown]
# **TPUs.** `tf.distribute.TPUStrategy` is the TensorFlow way to train on a TPU. On Colab
# today it is not available: Colab's TPU runtimes ship JAX but not TensorFlow
# (googlecolab/backend-info, 2026-08-19: its README lists TensorFlow 2.20.0 "not included
# in TPU runtimes", and `pip-freeze.tpu.txt` has jax 0.7.2 and keras 3.13.2, no
# tensorflow). The course's models are written with `keras.layers` and `keras.ops`, so on a
# TPU runtime they run with `KERAS_BACKEND=jax` (set before importing Keras), with Keras'
# own `keras.distribution` API in place of `tf.distribute`; the `tf.data` pipeline still
# feeds them if TensorFlow is installed.

# %% [markdown]
# **Several machines.** `MultiWorkerMirroredStrategy` does the same across machines. Each
# worker learns the cluster from the `TF_CONFIG` environment variable: the list of
# workers, the same everywhere, and which one it is (worker 0 is the *chief*, which writes
# checkpoints). Two caveats measured here: Keras 3's `fit` does not run under this strategy
# (keras-team/keras#20585, open), so `distribute.train_loop` is a small custom loop; and
# every worker must build the same global batches and keep its own rows
# (`distribute.distribute_batches`). The course's test trains two workers on 127.0.0.1 to
# the weights of one process (`tests/test_distribute.py`).

# %%
print(distribute.tf_config(["10.0.0.1:2222", "10.0.0.2:2222"], index=0))

# %% [markdown]
# ## 6. Not losing a run
#
# - `keras.callbacks.ModelCheckpoint` saves the model (every epoch, or the best);
# - `keras.callbacks.BackupAndRestore` backs up weights, optimizer and epoch, and when
#   the same `fit` runs again it restarts at the interrupted epoch.
#
# Restarting an epoch gives the *same* result only if that epoch's batches and random
# draws are the same as in the first attempt. Two things break that in practice: a
# pipeline whose shuffling follows how often it has been iterated (it restarts at "epoch
# 0" in a new process), and dropout's random state, which Keras 3.15 does not restore
# (measured: the seed counter comes back 0). `pipeline.EpochClock` and
# `train.epoch_seeds_callback()` make both a function of the epoch number. A run stopped
# in the middle of its second epoch, resumed, against one never stopped:

# %% tags=["nbval-ignore-output"]
RESUME_IMAGES, RESUME_BATCH = by_mode(full=16, quick=8), 4
steps_per_epoch = RESUME_IMAGES // RESUME_BATCH
resume = train.interrupted_run_difference(train_images[:RESUME_IMAGES], train_masks[:RESUME_IMAGES], WORK / "backup",
                                          epochs=by_mode(full=3, quick=2), batch_size=RESUME_BATCH,
                                          stop_at_step=steps_per_epoch + steps_per_epoch // 2)  # mid epoch 2
print(resume)

# %%
assert resume["resumed_at_epoch"] == 1 and resume["max_weight_difference"] < 1e-5
print("resumed at epoch", resume["resumed_at_epoch"], "with the uninterrupted run's weights")

# %% [markdown]
# TensorBoard reads the event files `keras.callbacks.TensorBoard(log_dir)` writes (run
# `tensorboard --logdir ...`, or `%tensorboard` in Colab). They are plain files; here we
# read back the scalars of section 3's two runs. Then the joint run's model is saved as `.keras` (architecture,
# weights and compile settings in one file) and loaded with plain `keras.models.load_model`.
# The post saved to `.h5` and needed `custom_objects={'tf': tf}` to load it: `.h5` is
# Keras' legacy format, and Keras 3 writes whole models as `.keras`.

# %% tags=["nbval-ignore-output"]
scalars = {run.name: train.read_scalars(run) for run in sorted(LOG_DIR.iterdir())}
for run, found in scalars.items():
    print(f"{run:>10}: train/epoch_loss", [round(value, 4) for _, value in found["train/epoch_loss"]])
trained = results["joint"]["model"]
trained.save(WORK / "fcn.keras")
loaded = keras.models.load_model(WORK / "fcn.keras")

# %%
same = np.allclose(loaded.predict(val_images[:2] / 255.0, verbose=0),
                   trained.predict(val_images[:2] / 255.0, verbose=0), atol=1e-6)
assert all(len(found["train/epoch_loss"]) == EPOCHS for found in scalars.values())
print("one loss per epoch logged for both runs | the loaded model predicts the same:", same)

# %% [markdown]
# ## 7. Real data
#
# **Your own folder, or PASCAL VOC 2012.** Put images in `JPEGImages/`, palette masks in
# `SegmentationClass/` and split files in `ImageSets/Segmentation/` (lesson 00), and the
# same pipeline reads them: `pipeline.from_voc(root, "train", batch_size=..., size=(320,
# 320), augment=True)`. For VOC 2012, `root` is `.../VOCdevkit/VOC2012`. Real images differ
# in size, so resize them (`size=`) or crop them (`augment={"crop_size": ...}`) to batch.

# %%
voc_batches = pipeline.from_voc(VOC_ROOT, "train", batch_size=4, augment=True)
images_batch, masks_batch = next(iter(voc_batches))
print(images_batch.shape, masks_batch.shape, "labels:", np.unique(masks_batch.numpy()).tolist())

# %% [markdown]
# **Oxford-IIIT Pet.** 37 breeds of cats and dogs with *trimaps*: 1 pet, 2 background, 3
# border (the data set's README). `pets` maps them to the course's convention: 0
# background, 1 pet, 255 void. TensorFlow Datasets' `oxford_iiit_pet` (version 4.0.0) has
# 3,680 training and 3,669 test images. Two ways in:
#
# - `pip install tensorflow-datasets`, then `pets.load_tfds("train")` (it downloads); or,
#   offline, put the two archives `images.tar.gz` and `annotations.tar.gz` in a folder and
#   pass it as `manual_dir`;
# - without any extra package, `pets.read_archives(folder)` reads the same two archives,
#   and `pets.write_voc_folder(folder, root)` turns them into a VOC folder for `from_voc`.

# %%
PETS_DIR = Path("~/data/oxford_iiit_pet").expanduser()  # where you put the two archives, if you have them
if (PETS_DIR / pets.ANNOTATIONS_ARCHIVE).is_file():
    pet_images, pet_masks, _ = pets.read_archives(PETS_DIR, "train", size=(224, 224), limit=8)
    print(len(pet_images), "pets read; labels", np.unique(np.concatenate([m.ravel() for m in pet_masks])).tolist())
else:
    print(f"skipped: no Oxford-IIIT Pet archives in {PETS_DIR}")

# %% [markdown]
# **(Colab, optional) FCN-8s with ImageNet VGG16 weights on pets.** With a GPU runtime,
# tensorflow-datasets (Colab has it) and a network connection, the next cell fine-tunes the
# paper's network, initialised from VGG16's ImageNet weights, on a slice of the pets. It is
# skipped with one line anywhere else.

# %% tags=["nbval-ignore-output"]
if ENV["colab"] and ENV["gpu"]:
    pet_data = pets.load_tfds("train").take(512).map(lambda i, m: (tf.image.resize(i, (224, 224)) / 255.0,
                                                                   tf.image.resize(m[..., None], (224, 224),
                                                                                   "nearest")[..., 0]))
    from fcn_lessons import models, training
    vgg_fcn = training.compile_model(models.fcn(len(pets.CLASS_NAMES), "8s", "vgg16", weights="imagenet"),
                                     len(pets.CLASS_NAMES), learning_rate=1e-4)
    vgg_fcn.fit(pet_data.map(lambda i, m: (keras.applications.vgg16.preprocess_input(i * 255.0), m)).batch(8),
                epochs=2, verbose=2)
else:
    print("skipped: needs Colab with a GPU runtime (and the network for the data and the weights)")

# %% [markdown]
# ## 8. The same training from the command line
#
# A notebook is the place to understand; a long run belongs in a terminal.
# `python -m fcn_lessons.train` trains the course FCN with everything above: the pipeline,
# joint augmentation, the precision policy, XLA, checkpoints that resume, TensorBoard, the
# four metrics at the end, and under `TF_CONFIG` it runs as one worker of a job. Try
# `python -m fcn_lessons.train --epochs 8 --checkpoint-dir runs/a --save runs/a/fcn.keras`,
# interrupt it with Ctrl-C, and run it again. Its options:

# %% tags=["nbval-ignore-output"]
help_text = train.build_parser().format_help()
print(help_text[:1400])

# %%
assert all(option in help_text for option in ("--checkpoint-dir", "--precision", "--tensorboard-dir", "TF_CONFIG"))
print("every option is documented in --help")

# %% [markdown]
# ## Summary
#
# - Measure before optimising: time the input alone and the model alone. On the course's
#   small scenes and a CPU, the model dominates and batching is what counts; on a GPU or
#   with large photos, parallel decoding, caching and prefetching keep the device busy.
# - Augment image and mask with one draw; masks by nearest only, padded with void.
# - float16 needs loss scaling and a GPU to pay; bfloat16 needs neither scaling nor (on
#   CPUs with bfloat16 instructions) a GPU; measure XLA and the batch size on your device.
# - Under a strategy, batch by the global batch, scale the learning rate, and reduce the
#   loss over the global batch's labelled pixels.
# - Resuming is exact only if a run's randomness follows the epoch. Save `.keras`.
#
# **Exercises** (`exercises/06_training_on_gpu.ipynb`): 6.1 a `tf.data` map with joint
# augmentation; 6.2 the global batch and learning rate; 6.3 predict where the time goes.
