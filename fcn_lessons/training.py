"""Training helpers that lessons 04-07 share instead of copying.

- ``compile_model``: the course loss (``losses.PixelCrossEntropy``, void ignored) and the
  paper's metrics: mean IU (``metrics.MeanIU``) and pixel accuracy (``PixelAccuracy``),
  void ignored by both.
- ``fit``: ``model.fit`` with one printed line per epoch (loss, mean IU and pixel
  accuracy, for training and validation); Keras' per-step progress bar on request.
- ``plot_history``: the curves of a ``fit``.
- ``predict_labels``: class ids (N, H, W) from a model, in batches; ``evaluate``: the
  paper's four metrics of a model on a data set.

Runs are deterministic on a CPU: ``fcn_lessons.setup(seed)`` seeds Keras (weights,
dropout, the shuffling of ``fit``) and turns on TensorFlow's deterministic ops, so the
same seed gives the same curve.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from fcn_lessons import _validate, losses, metrics
from fcn_lessons.labels import VOID_LABEL

DEFAULT_LEARNING_RATE = 1e-3  # Adam's default; the loss is a mean over pixels, so no tiny rates
DEFAULT_BATCH_SIZE = 16
VERBOSITY = ("epoch", "steps", "silent")


@keras.saving.register_keras_serializable(package="fcn_lessons")
class PixelAccuracy(metrics.MeanIU):
    """Pixel accuracy (the paper's ``sum_i n_ii / sum_i t_i``), void ignored, for ``model.compile``.

    The same confusion matrix as ``metrics.MeanIU`` (argmax of the scores; void and
    out-of-range labels not counted), reduced to the share of labelled pixels predicted
    right. NaN before any pixel.
    """

    def __init__(self, num_classes: int, ignore_label: int | None = VOID_LABEL, name: str = "pixel_accuracy",
                 dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, name=name, dtype=dtype)

    def result(self):
        ops = keras.ops
        return ops.sum(ops.diagonal(self.confusion)) / ops.sum(self.confusion)


def compile_model(model, num_classes: int, *, learning_rate: float = DEFAULT_LEARNING_RATE,
                  optimizer=None, loss=None, ignore_label: int | None = VOID_LABEL):
    """Compile ``model`` with the course loss and the paper's metrics; returns ``model``.

    Args:
        num_classes: the number of classes of the model's output.
        learning_rate: Adam's learning rate (ignored when ``optimizer`` is given).
        optimizer: any Keras optimizer; default ``keras.optimizers.Adam(learning_rate)``.
        loss: default ``losses.PixelCrossEntropy(ignore_label)``; pass another to compare
            (lesson 04 trains the blog post's sigmoid + MSE this way).
    """
    model = _validate.keras_model(model)
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    if optimizer is None:
        optimizer = keras.optimizers.Adam(float(learning_rate))
    model.compile(optimizer=optimizer,
                  loss=losses.PixelCrossEntropy(ignore_label) if loss is None else loss,
                  metrics=[metrics.MeanIU(num_classes, ignore_label=ignore_label, name="mean_iu"),
                           PixelAccuracy(num_classes, ignore_label=ignore_label, name="pixel_accuracy")])
    return model


class EpochLine(keras.callbacks.Callback):
    """Prints one line per epoch: loss, mean IU and pixel accuracy (train | validation), seconds."""

    def __init__(self, epochs: int, *, show_time: bool = True):
        super().__init__()
        self.epochs, self.show_time = epochs, show_time

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def part(prefix):
            return (f"loss {logs[prefix + 'loss']:.4f}, mean IU {logs.get(prefix + 'mean_iu', float('nan')):.3f}, "
                    f"pixel acc. {logs.get(prefix + 'pixel_accuracy', float('nan')):.3f}")

        line = f"epoch {epoch + 1:{len(str(self.epochs))}d}/{self.epochs}: {part('')}"
        if "val_loss" in logs:
            line += f" | val {part('val_')}"
        if self.show_time:
            line += f" ({time.perf_counter() - self._start:.1f} s)"
        print(line, flush=True)


def fit(model, images, masks, *, epochs: int, batch_size: int = DEFAULT_BATCH_SIZE, validation=None,
        verbose: str = "epoch", callbacks=(), shuffle: bool = True):
    """Train a compiled model on arrays; returns Keras' ``History``.

    Args:
        images: (N, H, W, C) model inputs (already ``models.preprocess_input``-ed).
        masks: (N, H, W) labels, void ``255``.
        validation: optional (images, masks) scored after every epoch.
        verbose: "epoch" (one line per epoch), "steps" (Keras' progress bar) or "silent".
        callbacks: more Keras callbacks.
    """
    model = _validate.keras_model(model)
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise ValueError("fit needs a compiled model: call training.compile_model(model, num_classes) first.")
    epochs = _validate.integer(epochs, "epochs", minimum=1)
    batch_size = _validate.integer(batch_size, "batch_size", minimum=1)
    _validate.choice(verbose, "verbose", VERBOSITY)
    images, masks = _pair(images, masks, "images", "masks")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise ValueError("validation must be a pair (images, masks), or None.")
        validation = _pair(*validation, "validation images", "validation masks")
    extra = [EpochLine(epochs)] if verbose == "epoch" else []
    return model.fit(images, masks, epochs=epochs, batch_size=batch_size, validation_data=validation,
                     shuffle=shuffle, verbose=1 if verbose == "steps" else 0,
                     callbacks=[*extra, *callbacks])


def _pair(images, masks, images_name: str, masks_name: str):
    images = _validate.array(images, images_name, ndim=4, kinds="f", layout="(N, H, W, C)")
    masks = _validate.array(masks, masks_name, ndim=3, kinds="iu", layout="(N, H, W)")
    if masks.shape != images.shape[:3]:
        raise ValueError(f"{masks_name} must be (N, H, W) = {images.shape[:3]} to match {images_name} "
                         f"{images.shape}; received {masks.shape}.")
    return images, masks


def plot_history(history, *, title: str | None = None, axes=None):
    """Loss and mean IU per epoch, training (solid) and validation (dashed).

    Args:
        history: what ``fit`` returned (a ``keras.callbacks.History``) or its ``.history`` dict.
        axes: two matplotlib Axes to draw on, or None for a new figure.

    Returns:
        the two Axes.
    """
    import matplotlib.pyplot as plt

    logs = history.history if hasattr(history, "history") else history
    if not isinstance(logs, dict) or "loss" not in logs:
        raise TypeError("history must be what fit returned (keras History) or its .history dict with 'loss'.")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = np.arange(1, len(logs["loss"]) + 1)
    for ax, key, label in zip(axes, ("loss", "mean_iu"), ("loss", "mean IU")):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + key in logs:
                ax.plot(epochs, logs[prefix + key], style, marker="o", ms=3,
                        label="validation" if prefix else "training")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend(frameon=False)
    if title:
        axes[0].figure.suptitle(title)
    axes[0].figure.tight_layout()
    return axes


def predict_labels(model, images, *, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """The class of every pixel: argmax of the model's scores, computed batch by batch.

    Args:
        images: (N, H, W, C) model inputs.

    Returns:
        (N, H, W) uint8 class ids (int32 for more than 256 classes).
    """
    model = _validate.keras_model(model)
    batch_size = _validate.integer(batch_size, "batch_size", minimum=1)
    images = _validate.array(images, "images", ndim=4, kinds="uif", layout="(N, H, W, C)")
    out = []
    for start in range(0, len(images), batch_size):
        scores = np.asarray(model.predict_on_batch(images[start:start + batch_size]))
        if scores.ndim != 4:
            raise ValueError(f"model must return (N, H, W, C) scores, returned shape {scores.shape}.")
        out.append(scores.argmax(axis=-1).astype(np.uint8 if scores.shape[-1] <= 256 else np.int32))
    return np.concatenate(out) if out else np.zeros(images.shape[:3], np.uint8)


def evaluate(model, images, masks, num_classes: int, *, batch_size: int = DEFAULT_BATCH_SIZE,
             ignore_label: int | None = VOID_LABEL) -> dict:
    """The paper's four metrics (``metrics.segmentation_scores``) of ``model`` on a data set.

    One confusion matrix over every image, then the ratios (not a mean of per-image scores).
    """
    images, masks = _pair(images, masks, "images", "masks")
    accumulator = metrics.ConfusionAccumulator(num_classes, ignore_label=ignore_label)
    for start in range(0, len(images), batch_size):
        batch = slice(start, start + batch_size)
        accumulator.update(masks[batch], predict_labels(model, images[batch], batch_size=batch_size))
    return accumulator.scores()
