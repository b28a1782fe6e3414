"""Per-pixel softmax cross-entropy with void ignored: FCN's loss (lesson 04).

The FCN paper trains "with a per-pixel multinomial logistic loss" and ignores pixels
"masked out (as ambiguous or difficult)"; the reference code is Caffe's
``SoftmaxWithLoss`` with ``ignore_label: 255`` and ``normalize: false``.

- ``pixel_cross_entropy``: the numpy reference. For pixel p with label y_p and logits
  z_p, the loss is ``log(sum_c exp(z_pc)) - z_p,y_p``, computed stably (the maximum logit
  is subtracted first, so logits of ±1e4 do not overflow). Void pixels contribute nothing.
- ``PixelCrossEntropy``: the same as a Keras loss, from logits, for ``model.compile``.

Reductions:

- ``"mean"``: the sum over the labelled pixels of the whole batch divided by their number
  (what PyTorch's ``cross_entropy(..., ignore_index=255)`` computes). Not the mean of
  per-image means: an image with few labelled pixels weighs less. A batch with no labelled
  pixel gives 0.
- ``"sum"``: the sum over the batch's labelled pixels. The reference's ``normalize:
  false`` divides this sum by the batch size, which is 1 in its solvers; so its loss is
  the sum over one image's pixels, and its learning rates (1e-10 for FCN-32s) are tiny
  to match. With ``"mean"`` use an ordinary learning rate.

Under a ``tf.distribute`` strategy (lesson 06) "mean" is still the mean over the labelled
pixels of the *global* batch: each replica divides its own sum by the labelled pixels of
all replicas (:func:`replica_sum`, one all-reduce of a count), and the strategy sums the
replicas' gradients. Outside a strategy nothing changes.
"""

from __future__ import annotations

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.labels import VOID_LABEL

REDUCTIONS = ("mean", "sum")


def _check_reduction(reduction) -> str:
    return _validate.choice(reduction, "reduction", REDUCTIONS)


def _check_ignore_label(ignore_label):
    if ignore_label is None:
        return None
    return _validate.integer(ignore_label, "ignore_label", minimum=0)


def pixel_cross_entropy(labels, logits, ignore_label: int | None = VOID_LABEL, reduction: str = "mean") -> float:
    """Softmax cross-entropy of every labelled pixel, reduced over the batch (numpy reference).

    Args:
        labels: (N, H, W) integer class ids in 0..C-1, or ``ignore_label`` (void).
        logits: (N, H, W, C) float scores (not probabilities).
        ignore_label: the void id, skipped (None: every pixel counts).
        reduction: "mean" over the batch's labelled pixels, or "sum".

    Returns:
        float; 0.0 when no pixel is labelled.
    """
    _check_reduction(reduction)
    ignore_label = _check_ignore_label(ignore_label)
    logits = _validate.array(logits, "logits", ndim=4, kinds="f", layout="(N, H, W, C)").astype(np.float64)
    labels = _validate.label_map(labels, "labels", ignore_label=ignore_label, ndim=3,
                                 num_classes=logits.shape[-1])
    if labels.shape != logits.shape[:3]:
        raise ValueError(f"labels must be (N, H, W) = {logits.shape[:3]} to match logits {logits.shape}; "
                         f"received {labels.shape}.")
    if not np.isfinite(logits).all():
        raise ValueError("logits hold NaN or infinite values.")
    labelled = labels != ignore_label if ignore_label is not None else np.ones(labels.shape, bool)
    z = logits[labelled]  # (P, C), only the labelled pixels
    if not len(z):
        return 0.0
    top = z.max(axis=1, keepdims=True)  # subtract the largest logit: exp never overflows
    log_normaliser = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
    losses = log_normaliser - z[np.arange(len(z)), labels[labelled].astype(np.int64)]
    total = float(losses.sum())
    return total / len(z) if reduction == "mean" else total


def replica_sum(value):
    """``value`` summed over the replicas of a ``tf.distribute`` strategy, else ``value`` itself.

    Inside a replica context with R > 1 replicas (``strategy.run``, or ``model.fit`` under
    ``MirroredStrategy``) every replica calls it and gets the sum of all replicas' values;
    outside a strategy, in a cross-replica context, or with one replica it returns
    ``value`` unchanged. No gradient flows through the sum (it is meant for counts). On
    Keras' JAX backend ``keras.distribution`` shards one global array, so ``ops.sum`` is
    already global: ``value`` is returned as it is.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return value
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(value))


def _concrete(x):
    """``x`` as a numpy array when it holds values (eager), else None (inside a compiled graph)."""
    try:
        return np.asarray(x)
    except Exception:  # a symbolic TF tensor or a JAX tracer: no values yet
        return None


def _keras_loss_class():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="fcn_lessons")
    class PixelCrossEntropy(keras.losses.Loss):
        """Per-pixel softmax cross-entropy from logits, void ignored, for ``model.compile``.

        ``y_true``: (N, H, W) or (N, H, W, 1) integer class ids, ``ignore_label`` for void;
        ``y_pred``: (N, H, W, C) logits. The value and its gradient equal
        ``pixel_cross_entropy`` (reductions "mean" and "sum" as there). A batch with no
        labelled pixel gives 0 with zero (finite) gradients, where PyTorch's ``ignore_index``
        mean gives NaN (0/0, on purpose since pytorch/pytorch#64572, PyTorch 1.11).
        Computed in float32 even under mixed precision.

        Labels >= C that are not ``ignore_label``: in eager mode (a direct call) they raise
        ``ValueError``. Inside a compiled graph (``model.fit``) a loss cannot inspect values,
        so they are skipped like void, as ``metrics.MeanIU`` skips them: check new data once
        with ``pixel_cross_entropy`` or ``metrics.confusion_matrix``, which refuse them.

        ``sample_weight`` (N,) or (N, H, W) weighs pixels; "mean" then divides by the sum
        of the labelled pixels' weights.

        Under a ``tf.distribute`` strategy with R replicas (``model.fit`` or a custom loop
        with ``strategy.run``), "mean" divides each replica's sum by the labelled pixels
        (or weights) of the whole global batch (:func:`replica_sum`); the strategy sums the
        replicas' gradients, so they are the single-device gradients of the global batch,
        and ``fit`` reports the global batch's mean. "sum" needs no correction: the
        replicas' sums add up to the global sum.
        """

        def __init__(self, ignore_label: int | None = VOID_LABEL, reduction: str = "mean",
                     name: str = "pixel_cross_entropy", dtype=None):
            super().__init__(name=name, reduction=_check_reduction(reduction), dtype=dtype)
            self.ignore_label = _check_ignore_label(ignore_label)

        def _check_values(self, labels, num_classes: int) -> None:
            values = _concrete(labels)
            if values is None:
                return
            outside = (values < 0) | (values >= num_classes)
            if self.ignore_label is not None:
                outside &= values != self.ignore_label
            if outside.any():
                void = f" and {self.ignore_label} (void)" if self.ignore_label is not None else ""
                raise ValueError(f"PixelCrossEntropy: y_true holds class ids {np.unique(values[outside])[:10].tolist()} "
                                 f"outside 0..{num_classes - 1}{void}; y_pred has {num_classes} scores per pixel.")

        def __call__(self, y_true, y_pred, sample_weight=None):
            return self._loss(y_true, y_pred, sample_weight)

        def call(self, y_true, y_pred):
            return self._loss(y_true, y_pred, None)

        def _loss(self, y_true, y_pred, sample_weight):
            logits = ops.cast(ops.convert_to_tensor(y_pred), "float32")
            labels = ops.convert_to_tensor(y_true)
            if len(labels.shape) == len(logits.shape):
                labels = ops.squeeze(labels, axis=-1)
            if len(logits.shape) != 4 or len(labels.shape) != 3:
                raise ValueError(f"PixelCrossEntropy needs y_pred (N, H, W, C) logits and y_true (N, H, W) "
                                 f"labels; received shapes {tuple(logits.shape)} and {tuple(y_true.shape)}.")
            num_classes = logits.shape[-1]
            labels = ops.cast(labels, "int32")
            self._check_values(labels, num_classes)
            valid = ops.logical_and(labels >= 0, labels < num_classes)
            if self.ignore_label is not None:
                valid = ops.logical_and(valid, labels != self.ignore_label)
            weights = ops.cast(valid, "float32")
            if sample_weight is not None:
                sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
                if len(sample_weight.shape) == 4:
                    sample_weight = ops.squeeze(sample_weight, axis=-1)
                if len(sample_weight.shape) == 1:
                    sample_weight = ops.reshape(sample_weight, (-1, 1, 1))
                weights = weights * sample_weight
            safe = ops.where(valid, labels, 0)  # void pixels read class 0, then weigh 0
            log_probs = ops.log_softmax(logits, axis=-1)  # stable: subtracts the max logit
            picked = ops.take_along_axis(log_probs, ops.expand_dims(safe, -1), axis=-1)[..., 0]
            total = ops.sum(weights * ops.negative(picked))  # >= 0; void pixels add +0.0
            if self.reduction == "sum":
                return total
            # Keras' own losses, under tf.distribute (Keras 3.15, keras/src/losses/loss.py,
            # reduce_values): each replica divides its sum by its *own* count and then by the
            # number of replicas (scale_loss_for_distribution), so the summed gradients are of
            # the mean of replica means; and the TF trainer's loss tracker multiplies the value
            # back by the replicas (keras/src/backend/tensorflow/trainer.py, train_step:
            # unscale_loss_for_distribution). That is the global mean only when every replica
            # holds as many counted elements; void pixels are not spread evenly. So: divide
            # by the global count here, which is also what the tracker then reports.
            count = replica_sum(ops.sum(weights))
            return total / ops.where(count > 0, count, 1.0)  # all void: 0 / 1, gradients 0

        def get_config(self):
            return {"name": self.name, "reduction": self.reduction, "ignore_label": self.ignore_label}

    return PixelCrossEntropy


def __getattr__(name):
    # Built on first use, so ``import fcn_lessons.losses`` does not import Keras.
    if name == "PixelCrossEntropy":
        cls = _keras_loss_class()
        globals()["PixelCrossEntropy"] = cls
        return cls
    raise AttributeError(f"module 'fcn_lessons.losses' has no attribute {name!r}")
