"""``python -m fcn_lessons.train``: lesson 06's training, from the command line.

Trains ``models.fcn`` on the course data or on a VOC-layout folder with the course's
pipeline (``pipeline``: decoded once, joint augmentation, prefetch), loss and metrics,
prints one line per epoch and the paper's four metrics at the end. Examples::

    python -m fcn_lessons.train --epochs 8
    python -m fcn_lessons.train --data path/to/VOC2012 --image-size 320 --variant 32s \\
        --checkpoint-dir runs/voc --tensorboard-dir runs/voc/logs --save runs/voc/fcn.keras

Not losing a run: with ``--checkpoint-dir`` the run backs itself up at every epoch's end
(``keras.callbacks.BackupAndRestore``) and keeps the last model as ``last.keras``; run
the same command again after an interruption and it resumes at the interrupted epoch,
with the same batches (the pipeline's randomness follows the epoch, ``pipeline.EpochClock``).

Several machines: with ``TF_CONFIG`` set (``distribute.tf_config``), the process is one
worker of a ``MultiWorkerMirroredStrategy`` job; start the same command on every worker.
Keras 3's ``fit`` does not run under that strategy (keras-team/keras#20585), so workers
train with ``distribute.train_loop``; checkpoints and TensorBoard need ``fit`` and are
refused there.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored")
SHAPES = "shapes"
DEFAULTS = {"num_images": 256, "num_val": 64, "image_size": 64, "epochs": 8, "batch_size": 16,
            "learning_rate": 1e-3, "variant": "8s", "backbone": "mini_vgg", "seed": 0}
MODEL_SUFFIX = ".keras"


class UsageError(ValueError):
    """A bad combination of options or a bad path: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fcn_lessons.train",
        description="Train an FCN (fcn_lessons.models.fcn) with the course's pipeline, loss and metrics.",
        epilog="Resuming: rerun the same command with the same --checkpoint-dir. Several machines: set "
               "TF_CONFIG (see fcn_lessons.distribute.tf_config) and start the command on every worker.")
    data = parser.add_argument_group("data")
    data.add_argument("--data", default=SHAPES,
                      help="'shapes' (the course's generated scenes, default) or a VOC-layout folder "
                           "(JPEGImages/, SegmentationClass/, ImageSets/Segmentation/)")
    data.add_argument("--train-split", default="train", help="split file of a VOC folder to train on (default train)")
    data.add_argument("--val-split", default="val", help="split file to score on at every epoch (default val)")
    data.add_argument("--num-images", type=int, default=DEFAULTS["num_images"],
                      help=f"shapes: training scenes (default {DEFAULTS['num_images']})")
    data.add_argument("--num-val", type=int, default=DEFAULTS["num_val"],
                      help=f"shapes: validation scenes (default {DEFAULTS['num_val']})")
    data.add_argument("--image-size", type=int, default=None,
                      help=f"side in pixels: shapes are drawn at it (default {DEFAULTS['image_size']}); VOC images "
                           "are resized to it (default: their own size, batch size 1). mini_vgg needs multiples of 32")
    data.add_argument("--no-augment", action="store_true", help="switch off the joint flip/scale/crop augmentation")
    model = parser.add_argument_group("model and training")
    model.add_argument("--variant", choices=("32s", "16s", "8s"), default=DEFAULTS["variant"])
    model.add_argument("--backbone", choices=("mini_vgg", "vgg16"), default=DEFAULTS["backbone"])
    model.add_argument("--weights", default=None, help="vgg16 only: 'imagenet' or a VGG16 .weights.h5 file")
    model.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    model.add_argument("--batch-size", type=int, default=None,
                       help=f"global batch size, all replicas together (default {DEFAULTS['batch_size']})")
    model.add_argument("--learning-rate", type=float, default=DEFAULTS["learning_rate"], help="Adam's (default 1e-3)")
    model.add_argument("--precision", choices=PRECISIONS, default="float32",
                       help="Keras dtype policy; mixed_* compute in 16 bits, keep float32 weights")
    model.add_argument("--jit-compile", action="store_true", help="compile the training step with XLA")
    model.add_argument("--strategy", choices=STRATEGIES, default="default",
                       help="mirrored: tf.distribute.MirroredStrategy over this machine's GPUs (or its CPU)")
    model.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    output = parser.add_argument_group("output")
    output.add_argument("--checkpoint-dir", default=None,
                        help="back up every epoch and resume from here; keeps last.keras (the last epoch's model)")
    output.add_argument("--tensorboard-dir", default=None, help="write TensorBoard logs (train/ and validation/)")
    output.add_argument("--save", default=None, help="write the trained model here (a .keras file)")
    output.add_argument("--json", action="store_true", help="print one JSON object with the final figures last")
    output.add_argument("--quiet", action="store_true", help="no line per epoch")
    parser.add_argument("--kill-at-step", type=int, default=None, help=argparse.SUPPRESS)  # the tests' crash
    return parser


def _positive(value, name):
    if value is not None and value < 1:
        raise UsageError(f"--{name} must be at least 1, received {value}.")


def _check(args) -> None:
    for name in ("num_images", "num_val", "image_size", "epochs", "batch_size"):
        _positive(getattr(args, name), name.replace("_", "-"))
    if not args.learning_rate > 0:
        raise UsageError(f"--learning-rate must be positive, received {args.learning_rate}.")
    if args.save is not None and Path(args.save).suffix != MODEL_SUFFIX:
        raise UsageError(f"--save must name a {MODEL_SUFFIX} file, received {args.save!r}. Keras 3 saves whole "
                         "models as .keras (weights, architecture and compile settings in one zip); .h5 is "
                         "the legacy format (only weights files end in .weights.h5).")
    if args.data != SHAPES and not Path(args.data).is_dir():
        raise UsageError(f"--data {args.data!r}: no such folder (expected 'shapes' or a VOC-layout folder).")
    if args.weights is not None and args.backbone != "vgg16":
        raise UsageError("--weights applies to --backbone vgg16 only.")
    size = args.image_size
    if args.backbone == "mini_vgg" and size is not None and size % 32:
        raise UsageError(f"--image-size {size}: backbone mini_vgg pads 'same', so sides must be multiples of 32.")
    from fcn_lessons import distribute

    if distribute.cluster_from_env() is not None and (args.checkpoint_dir or args.tensorboard_dir):
        raise UsageError("--checkpoint-dir and --tensorboard-dir need model.fit, which Keras 3 cannot run under "
                         "MultiWorkerMirroredStrategy (TF_CONFIG is set); train without them there.")


def _data(args):
    """(train images, train masks, val images, val masks, class names) as uint8 arrays or lists."""
    from fcn_lessons import data, pipeline, voc

    if args.data == SHAPES:
        size = args.image_size or DEFAULTS["image_size"]
        train = data.make_shapes(args.num_images, size, seed=args.seed)
        val = data.make_shapes(args.num_val, size, seed=args.seed + 1)
        return (*train, *val, data.CLASS_NAMES)
    names = voc.read_class_names(args.data)
    train_images, train_masks, _ = pipeline.decode_voc(args.data, args.train_split, size=args.image_size)
    val_images, val_masks, _ = pipeline.decode_voc(args.data, args.val_split, size=args.image_size)
    return train_images, train_masks, val_images, val_masks, names


def _preprocess(backbone):
    if backbone == "mini_vgg":
        return None  # float32 in [0, 1], what the pipeline yields
    import keras

    return lambda image: keras.applications.vgg16.preprocess_input(image * 255.0)


SEED_STRIDE = 2**32  # random draws one epoch may take from a layer's seed generator before the next epoch's


def epoch_seeds_callback():
    """A Keras callback that makes every random layer's draws (dropout) a function of the epoch.

    Keras 3 keeps a layer's random state in a ``SeedGenerator`` whose state variable
    (seed, counter) advances with every draw; ``save_weights`` and so ``BackupAndRestore``
    do not restore it (measured with Keras 3.15: the counter comes back 0), so a resumed
    run would draw other dropout masks than an uninterrupted one. At the start of every
    epoch this callback sets each counter to ``epoch * SEED_STRIDE``: the masks of epoch
    e are then the same whether or not the run was interrupted before it.
    """
    import keras

    class EpochSeeds(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            for variable in self.model.variables:
                if variable.path.endswith("seed_generator_state"):
                    state = variable.numpy()
                    variable.assign([state[0], epoch * SEED_STRIDE])

    return EpochSeeds()


class _KillAtStep:
    """The tests' crash: SIGKILL this process after ``step`` training steps (no clean-up at all)."""

    def __new__(cls, step):
        import keras

        class Kill(keras.callbacks.Callback):
            seen = 0

            def on_train_batch_end(self, batch, logs=None):
                Kill.seen += 1
                if Kill.seen >= step:
                    sys.stdout.flush()
                    os.kill(os.getpid(), signal.SIGKILL)

        return Kill()


def run(args) -> dict:
    """Train as ``args`` say; returns the final figures."""
    import fcn_lessons

    _check(args)
    fcn_lessons.setup(seed=args.seed, verbose=False)
    import keras
    import numpy as np

    from fcn_lessons import distribute, losses, metrics, models, pipeline, training

    tf = distribute._tf()
    cluster = distribute.cluster_from_env()
    strategy = (distribute.multi_worker_strategy() if cluster else
                tf.distribute.MirroredStrategy() if args.strategy == "mirrored" else tf.distribute.get_strategy())
    keras.mixed_precision.set_global_policy(args.precision)
    train_images, train_masks, val_images, val_masks, class_names = _data(args)
    num_classes = len(class_names)
    fixed_size = args.data == SHAPES or args.image_size is not None
    batch_size = args.batch_size or (DEFAULTS["batch_size"] if fixed_size else 1)
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise UsageError(f"--batch-size {batch_size} must be divisible by the {replicas} replicas.")
    clock = pipeline.EpochClock()
    preprocess = _preprocess(args.backbone)
    augment = None if args.no_augment else {}  # augment.augment's defaults; each image keeps its size
    train = pipeline.from_arrays(train_images, train_masks, batch_size=batch_size, augment=augment, seed=args.seed,
                                 epoch_clock=clock, drop_remainder=replicas > 1, preprocess=preprocess)
    val = pipeline.from_arrays(val_images, val_masks, batch_size=batch_size, shuffle=False, preprocess=preprocess)
    loss = distribute.GlobalPixelCrossEntropy() if replicas > 1 else losses.PixelCrossEntropy()
    with strategy.scope():
        keras.utils.set_random_seed(args.seed)
        model = models.fcn(num_classes, args.variant, args.backbone, weights=args.weights)
        optimizer = keras.optimizers.Adam(args.learning_rate)
    start = time.perf_counter()
    if cluster:
        history = distribute.train_loop(model, optimizer, loss, train, global_batch=batch_size, epochs=args.epochs,
                                        strategy=strategy, epoch_clock=clock)
        if not args.quiet:
            for epoch, value in enumerate(history, start=1):
                print(f"epoch {epoch}/{args.epochs}: loss {value:.4f}", flush=True)
        with strategy.scope():
            training.compile_model(model, num_classes, optimizer=optimizer, loss=loss)
    else:
        with strategy.scope():
            training.compile_model(model, num_classes, optimizer=optimizer, loss=loss)
            model.jit_compile = bool(args.jit_compile)
        callbacks = [clock.callback(), epoch_seeds_callback()]
        if args.checkpoint_dir:
            directory = Path(args.checkpoint_dir)
            callbacks += [keras.callbacks.BackupAndRestore(str(directory / "backup")),
                          keras.callbacks.ModelCheckpoint(str(directory / f"last{MODEL_SUFFIX}"))]
        if args.tensorboard_dir:
            callbacks.append(keras.callbacks.TensorBoard(args.tensorboard_dir))
        if not args.quiet:
            callbacks.append(training.EpochLine(args.epochs))
        if args.kill_at_step is not None:
            callbacks.append(_KillAtStep(args.kill_at_step))
        model.fit(train, validation_data=val, epochs=args.epochs, verbose=0, shuffle=False, callbacks=callbacks)
    seconds = time.perf_counter() - start
    val_inputs = np.concatenate([x.numpy() for x, _ in val])
    scores = training.evaluate(model, val_inputs, np.concatenate([y.numpy() for _, y in val]), num_classes,
                               batch_size=batch_size)
    chief = cluster is None or cluster[0] == 0
    if args.save and chief:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        model.save(args.save)
    summary = {"variant": args.variant, "backbone": args.backbone, "precision": args.precision,
               "replicas": replicas, "epochs": args.epochs, "batch_size": batch_size, "seconds": round(seconds, 2),
               **{k: float(scores[k]) for k in ("pixel_accuracy", "mean_accuracy", "mean_iou",
                                                "frequency_weighted_iou")}}
    if not args.quiet:
        print(metrics.format_scores(scores, class_names))
    return summary


# --- helpers lesson 06 runs in the notebook ---------------------------------------------------------

def pretrained_classifier(num_crops: int, epochs: int, *, seed: int = 0, log=print):
    """Lesson 04's stand-in for ImageNet: ``models.mini_vgg_classifier`` trained on course crops.

    The same recipe as lesson 04 (``pyramid.pretrain_classifier``: ``num_crops`` crops of
    32×32 labelled by their centre pixel, Adam, ``epochs`` epochs), with lesson 06's budget.
    Pass the result as ``weights=`` to :func:`train_and_score` (``models.fcn`` transplants it).

    Returns:
        (classifier, {"seconds", "cpu_seconds", "accuracy"}).
    """
    from fcn_lessons import pyramid

    budget = pyramid.Budget(num_train=0, num_test=0, image_size=0, epochs={},
                            num_crops=_validate_count(num_crops, "num_crops"),
                            classifier_epochs=_validate_count(epochs, "epochs"))
    return pyramid.pretrain_classifier(budget, seed=seed, log=log)


def _validate_count(value, name):
    from fcn_lessons import _validate

    return _validate.integer(value, name, minimum=1)


def train_and_score(train_images, train_masks, val_images, val_masks, *, epochs: int, batch_size: int = 16,
                    image_only: bool = False, seed: int = 0, variant: str = "8s", callbacks=(), weights=None,
                    learning_rate: float | None = None) -> dict:
    """Train a mini_vgg FCN with joint (or the post's image-only) augmentation; the four metrics on val.

    Args:
        train_images, val_images: (N, H, W, 3) uint8 course scenes; masks (N, H, W).
        epochs, batch_size, seed: the run; the same seed gives the same initial weights,
            order and augmentation draws.
        image_only: augment the image alone (the blog post's bug, ``augment.image_only``).
        weights: None (train from scratch) or a pretrained classifier (:func:`pretrained_classifier`),
            transplanted by ``models.fcn`` as in lesson 04.
        learning_rate: Adam's; default ``training.DEFAULT_LEARNING_RATE`` (1e-3, also
            lesson 04's fine-tuning rate).

    Returns ``training.evaluate``'s scores plus ``history`` (Keras' per-epoch logs) and
    ``model``.
    """
    import keras

    from fcn_lessons import data, models, pipeline, training

    num_classes = len(data.CLASS_NAMES)
    if learning_rate is None:
        learning_rate = training.DEFAULT_LEARNING_RATE
    clock = pipeline.EpochClock()
    train = pipeline.from_arrays(train_images, train_masks, batch_size=batch_size, augment=True, seed=seed,
                                 epoch_clock=clock, image_only=image_only)
    keras.utils.set_random_seed(seed)
    model = training.compile_model(models.fcn(num_classes, variant, "mini_vgg", weights=weights), num_classes,
                                   learning_rate=learning_rate)
    history = model.fit(train, epochs=epochs, verbose=0, shuffle=False,
                        callbacks=[clock.callback(), epoch_seeds_callback(), *callbacks])
    val = np.asarray(val_images, np.float32) / 255.0
    scores = training.evaluate(model, val, np.asarray(val_masks), num_classes, batch_size=batch_size)
    return {**scores, "history": history.history, "model": model}


def read_scalars(log_dir) -> dict:
    """{"train/epoch_loss": [(step, value), ...], ...}: the scalars of TensorBoard event files under ``log_dir``."""
    tf = _tf_module()
    found = {}
    for path in sorted(Path(log_dir).rglob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name not in ("scalars", ""):
                    continue  # Keras also logs the model's configuration as text
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                found.setdefault(f"{Path(path).parent.name}/{value.tag}", []).append((int(event.step), number))
    return found


def _tf_module():
    from fcn_lessons.environment import _import_tensorflow

    return _import_tensorflow()


def interrupted_run_difference(images, masks, directory, *, epochs: int = 3, stop_at_step: int = 6,
                               batch_size: int = 4, seed: int = 0) -> dict:
    """Train with ``BackupAndRestore``, interrupt at a step, resume; compare with an uninterrupted run.

    The interruption is an exception raised from a callback (in a notebook we cannot kill
    the kernel; the tests SIGKILL a real process). Returns the largest weight difference
    between the resumed and the uninterrupted run, and the epoch the resumed run restarted at.
    """
    import keras

    from fcn_lessons import data, models, pipeline, training

    num_classes = len(data.CLASS_NAMES)

    class Interrupt(keras.callbacks.Callback):
        steps = 0

        def on_train_batch_end(self, batch, logs=None):
            Interrupt.steps += 1
            if Interrupt.steps == stop_at_step:
                raise KeyboardInterrupt("simulated interruption")

    class FirstEpoch(keras.callbacks.Callback):
        epoch = None

        def on_epoch_begin(self, epoch, logs=None):
            FirstEpoch.epoch = epoch if FirstEpoch.epoch is None else FirstEpoch.epoch

    def run(extra, backup):
        clock = pipeline.EpochClock()
        dataset = pipeline.from_arrays(images, masks, batch_size=batch_size, augment=True, seed=seed,
                                       epoch_clock=clock)
        keras.utils.set_random_seed(seed)
        model = training.compile_model(models.fcn(num_classes, "32s", "mini_vgg"), num_classes)
        callbacks = [keras.callbacks.BackupAndRestore(str(backup)), clock.callback(), epoch_seeds_callback(), *extra]
        model.fit(dataset, epochs=epochs, verbose=0, shuffle=False, callbacks=callbacks)
        return model

    whole = run([], Path(directory) / "whole")
    try:
        run([Interrupt()], Path(directory) / "interrupted")
    except KeyboardInterrupt:
        pass
    resumed = run([FirstEpoch()], Path(directory) / "interrupted")
    difference = max(float(np.abs(a - b).max()) for a, b in zip(whole.get_weights(), resumed.get_weights()))
    return {"max_weight_difference": difference, "resumed_at_epoch": FirstEpoch.epoch}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        summary = run(args)
    except (UsageError, FileNotFoundError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
