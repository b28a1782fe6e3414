"""Training on several devices and machines with ``tf.distribute`` (lesson 06).

Data parallelism in one paragraph: every replica (a GPU, a TPU core, a CPU device)
holds a copy of the model, takes its slice of each *global* batch, computes gradients on
it, and the replicas sum their gradients before every one applies the same update. So:

- the **global batch** is ``per_replica_batch * num_replicas``; a data set is batched by
  the global batch size (:func:`global_batch_size`);
- a larger batch is usually paired with a larger learning rate; the *linear scaling
  rule* of Goyal et al. (2017, "Accurate, Large Minibatch SGD") multiplies the rate by
  the factor the batch grew by (:func:`scaled_learning_rate`), with a warm-up;
- the loss must be the loss **of the global batch**. FCN's loss is a mean over the
  labelled pixels. Each replica sees a share of them; a mean taken per replica and then
  averaged is not the batch's mean when the shares differ (void pixels are not spread
  evenly). The course loss ``losses.PixelCrossEntropy`` (here also under the name
  :class:`GlobalPixelCrossEntropy`) divides each replica's *sum* by the labelled pixels
  of the whole batch (one all-reduce of a count), so the summed gradients are exactly the
  single-device ones. :func:`mean_of_replica_means` is the wrong reduction,
  in numpy, for the lesson to measure.

Devices: ``split_cpu(2)`` turns one CPU into two logical devices, so
``MirroredStrategy`` can be tried (and tested) without a GPU, as Keras's own tests do.
Several machines: ``MultiWorkerMirroredStrategy`` reads the cluster from the
``TF_CONFIG`` environment variable (:func:`tf_config`); ``python -m fcn_lessons.distribute
worker`` is a small worker the tests run twice on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.labels import VOID_LABEL

WORKER_TIMEOUT_S = 120  # a collective that waits longer than this fails instead of hanging


def _tf():
    from fcn_lessons.environment import _import_tensorflow

    return _import_tensorflow()


# --- devices ------------------------------------------------------------------------------------

def split_cpu(num_devices: int = 2) -> list[str]:
    """Split the CPU into ``num_devices`` logical devices; returns their names.

    Must run before TensorFlow has run any operation (in a notebook: right after
    ``fcn_lessons.setup``, before any model or tensor exists). The devices share the
    same cores: this shows how a strategy splits the work, not a speed-up.
    """
    tf = _tf()
    num_devices = _validate.integer(num_devices, "num_devices", minimum=1)
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == num_devices:
        return [d.name for d in tf.config.list_logical_devices("CPU")]
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as err:
        raise RuntimeError(
            "split_cpu must run before TensorFlow initialises its devices (before any tensor, model "
            f"or dataset is created); TensorFlow says: {err}. Restart the kernel and call it first.") from err
    return [d.name for d in tf.config.list_logical_devices("CPU")]


# --- batch size and learning rate -------------------------------------------------------------

def global_batch_size(per_replica_batch: int, num_replicas: int) -> int:
    """Images per step over all replicas: what the data set must be batched by."""
    per_replica_batch = _validate.integer(per_replica_batch, "per_replica_batch", minimum=1)
    num_replicas = _validate.integer(num_replicas, "num_replicas", minimum=1)
    return per_replica_batch * num_replicas


def scaled_learning_rate(base_rate: float, base_batch: int, batch: int) -> float:
    """The linear scaling rule: ``base_rate`` was tuned for ``base_batch``; scale it to ``batch``.

    Goyal et al. (2017) for SGD: "When the minibatch size is multiplied by k, multiply the
    learning rate by k" (with a gradual warm-up). It is a starting point, not a law: for
    Adam a smaller (square-root) scaling is common. Check the curve.
    """
    base_rate = float(base_rate)
    if not np.isfinite(base_rate) or base_rate <= 0:
        raise ValueError(f"base_rate must be a positive number, received {base_rate!r}.")
    base_batch = _validate.integer(base_batch, "base_batch", minimum=1)
    batch = _validate.integer(batch, "batch", minimum=1)
    return base_rate * batch / base_batch


# --- the loss of a global batch -----------------------------------------------------------------

def _pixel_sums(labels, logits, ignore_label):
    """numpy: per-image summed cross-entropy of the labelled pixels, and their count."""
    labels = np.asarray(labels)
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    valid = (labels != ignore_label) & (labels < logits.shape[-1])
    picked = np.take_along_axis(log_probs, np.where(valid, labels, 0)[..., None].astype(np.int64), axis=-1)[..., 0]
    return (-(picked * valid)).reshape(len(labels), -1).sum(1), valid.reshape(len(labels), -1).sum(1)


def _split(n: int, num_replicas: int) -> list[slice]:
    num_replicas = _validate.integer(num_replicas, "num_replicas", minimum=1)
    if n % num_replicas:
        raise ValueError(f"a batch of {n} images cannot be split evenly over {num_replicas} replicas.")
    size = n // num_replicas
    return [slice(r * size, (r + 1) * size) for r in range(num_replicas)]


def batch_mean(labels, logits, ignore_label: int = VOID_LABEL) -> float:
    """numpy: the batch's loss, the mean over all its labelled pixels (0 if none)."""
    sums, counts = _pixel_sums(labels, logits, ignore_label)
    return float(sums.sum() / counts.sum()) if counts.sum() else 0.0


def mean_of_replica_means(labels, logits, num_replicas: int, ignore_label: int = VOID_LABEL) -> float:
    """numpy: the wrong reduction: each replica's mean over its labelled pixels, averaged.

    Replica r takes images ``[r * n / R, (r + 1) * n / R)`` of the batch, as a strategy
    splits a global batch. Equal to :func:`batch_mean` only when every replica holds the
    same number of labelled pixels.
    """
    sums, counts = _pixel_sums(labels, logits, ignore_label)
    means = [sums[s].sum() / counts[s].sum() if counts[s].sum() else 0.0 for s in _split(len(sums), num_replicas)]
    return float(np.mean(means))


def labelled_shares(labels, num_replicas: int, ignore_label: int = VOID_LABEL) -> np.ndarray:
    """The share of the batch's labelled pixels each replica holds (sums to 1)."""
    labels = np.asarray(labels)
    counts = (labels != ignore_label).reshape(len(labels), -1).sum(1)
    per_replica = np.array([counts[s].sum() for s in _split(len(labels), num_replicas)], np.float64)
    return per_replica / per_replica.sum() if per_replica.sum() else per_replica


def replica_count_sum(count):
    """``count`` summed over all replicas (inside a replica context), else ``count`` itself.

    The course loss's own helper, :func:`fcn_lessons.losses.replica_sum`.
    """
    from fcn_lessons import losses

    return losses.replica_sum(count)


def _global_loss_class():
    import keras

    from fcn_lessons import losses

    @keras.saving.register_keras_serializable(package="fcn_lessons")
    class GlobalPixelCrossEntropy(losses.PixelCrossEntropy):
        """The course loss ``losses.PixelCrossEntropy()`` under lesson 06's name.

        Per-pixel softmax cross-entropy, void ignored, averaged over the labelled pixels of the
        **global** batch, however a ``tf.distribute`` strategy splits it across replicas:
        each replica returns ``(its summed loss) / (labelled pixels of all replicas)``; the
        strategy sums the replicas' gradients, which gives exactly the gradient of the
        global batch's mean. ``losses.PixelCrossEntropy`` does this itself (see its
        docstring for how Keras' own losses reduce instead); this class only keeps the name.
        """

        def __init__(self, ignore_label: int | None = VOID_LABEL, name: str = "global_pixel_cross_entropy",
                     dtype=None):
            super().__init__(ignore_label=ignore_label, reduction="mean", name=name, dtype=dtype)

        def get_config(self):
            return {"name": self.name, "ignore_label": self.ignore_label}

    return GlobalPixelCrossEntropy


def __getattr__(name):
    if name == "GlobalPixelCrossEntropy":
        cls = _global_loss_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module 'fcn_lessons.distribute' has no attribute {name!r}")


# --- datasets under a strategy ------------------------------------------------------------------

def distribute_batches(strategy, dataset, global_batch: int):
    """Hand each replica its slice of every global batch of ``dataset``, in order.

    ``dataset`` yields (images, masks) batches of exactly ``global_batch`` images (build
    it with ``drop_remainder=True``), identical on every worker (same seed). Replica r of
    the R replicas gets rows ``[r * global_batch / R, (r + 1) * global_batch / R)``; so
    one machine with the whole batch and R replicas with slices see the same data.
    Returns what ``model.fit`` takes.
    """
    tf = _tf()
    replicas = strategy.num_replicas_in_sync
    global_batch = _validate.integer(global_batch, "global_batch", minimum=1)
    per_replica = global_batch // replicas
    if per_replica * replicas != global_batch:
        raise ValueError(f"global_batch {global_batch} must be divisible by the {replicas} replicas.")

    if cluster_from_env() is None:
        # One machine: the strategy's own split of each global batch (replica r gets the r-th
        # slice, in order).
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return strategy.experimental_distribute_dataset(dataset.with_options(options))

    def worker_dataset(context):
        # Several machines, one replica each: every worker builds the same global batches and
        # keeps its own rows, so the order is the same as on one machine.
        if replicas != context.num_input_pipelines:
            raise ValueError(f"distribute_batches supports one replica per worker under TF_CONFIG; found "
                             f"{replicas} replicas on {context.num_input_pipelines} workers.")
        start = context.input_pipeline_id * per_replica
        return dataset.map(lambda images, masks: (images[start:start + per_replica], masks[start:start + per_replica]))

    return strategy.distribute_datasets_from_function(worker_dataset)


# --- several machines ---------------------------------------------------------------------------

def free_ports(count: int) -> list[int]:
    """``count`` TCP ports on 127.0.0.1 that are free right now."""
    count = _validate.integer(count, "count", minimum=1)
    sockets, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


def tf_config(workers, index: int) -> str:
    """The ``TF_CONFIG`` value of worker ``index`` of a cluster of ``workers`` ("host:port" each).

    ``MultiWorkerMirroredStrategy`` reads it when it is created: ``cluster.worker`` lists
    every worker's address, the same on all of them; ``task`` says which one this process
    is. Worker 0 is the "chief", which by convention writes checkpoints and logs.
    """
    if isinstance(workers, str) or not workers:
        raise ValueError(f"workers must be a non-empty list of 'host:port' addresses, received {workers!r}.")
    workers = [str(w) for w in workers]
    for address in workers:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"worker address {address!r} must look like 'host:port'.")
    index = _validate.integer(index, "index", minimum=0, maximum=len(workers) - 1)
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def cluster_from_env() -> tuple[int, int] | None:
    """(this worker's index, number of workers) from ``TF_CONFIG``, or None outside a cluster."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        index = int(config["task"]["index"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"TF_CONFIG is not a valid cluster description ({err}); see distribute.tf_config.") from err
    if not 0 <= index < len(workers):
        raise ValueError(f"TF_CONFIG task index {index} is outside its {len(workers)} workers.")
    return index, len(workers)


def multi_worker_strategy():
    """``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``, failing after ``WORKER_TIMEOUT_S`` rather than hanging."""
    tf = _tf()
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING,
        timeout_seconds=WORKER_TIMEOUT_S)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


# --- a small worker for the tests and the lesson ----------------------------------------------------

DEMO_IMAGES, DEMO_SIZE, DEMO_GLOBAL_BATCH, DEMO_EPOCHS = 8, 40, 4, 2
DEMO_LEARNING_RATE = 0.5  # plain SGD on a mean loss: large enough to move the weights in 4 steps


def demo_model(num_classes: int):
    """A small fully convolutional net (two convolutions, a 1×1 score) for fast distribution tests."""
    import keras

    return keras.Sequential([
        keras.Input((None, None, 3)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.Conv2D(num_classes, 1, name="score"),
    ], name="demo_fcn")


def train_loop(model, optimizer, loss, dataset, *, global_batch: int, epochs: int, strategy=None,
               epoch_clock=None) -> list[float]:
    """A minimal custom training loop under ``strategy``; returns each epoch's mean loss.

    What ``model.fit`` does, spelled out with ``strategy.run``: every replica computes its
    loss and gradients on its slice, ``apply_gradients`` sums the gradients over the
    replicas, and every replica applies the same update. Keras 3's ``fit`` does not run
    under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585, open), so several
    machines need a loop like this one. Build ``model`` and ``optimizer`` inside
    ``strategy.scope()``; ``dataset`` yields global batches (``drop_remainder=True``).
    """
    tf = _tf()
    strategy = strategy or tf.distribute.get_strategy()
    epochs = _validate.integer(epochs, "epochs", minimum=1)
    inputs = distribute_batches(strategy, dataset, global_batch)

    @tf.function
    def step(images, masks):
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                value = loss(y, model(x, training=True))
            gradients = tape.gradient(value, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return value
        per_replica = strategy.run(replica_step, args=(images, masks))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)  # sum / global count

    history = []
    for epoch in range(epochs):
        if epoch_clock is not None:
            epoch_clock.set(epoch)
        values = [float(step(images, masks)) for images, masks in inputs]
        history.append(float(np.mean(values)))
    return history


def train_demo(strategy=None, *, seed: int = 0, epochs: int = DEMO_EPOCHS, use_fit: bool = True) -> list[np.ndarray]:
    """Train :func:`demo_model` on a few course scenes under ``strategy``; returns the weights.

    The same global batches in the same order under any strategy (``distribute_batches``),
    the loss of the global batch (``GlobalPixelCrossEntropy``), plain SGD: so one process,
    two logical devices and two workers must end with the same weights. ``use_fit=False``
    trains with :func:`train_loop` (the only way under ``MultiWorkerMirroredStrategy``).
    """
    import keras

    from fcn_lessons import data, pipeline

    tf = _tf()
    strategy = strategy or tf.distribute.get_strategy()
    images, masks = data.make_shapes(DEMO_IMAGES, DEMO_SIZE, seed=seed)
    clock = pipeline.EpochClock()
    dataset = pipeline.from_arrays(images, masks, batch_size=DEMO_GLOBAL_BATCH, drop_remainder=True, seed=seed,
                                   epoch_clock=clock)
    loss = __getattr__("GlobalPixelCrossEntropy")()
    with strategy.scope():
        keras.utils.set_random_seed(seed)
        model = demo_model(len(data.CLASS_NAMES))
        optimizer = keras.optimizers.SGD(DEMO_LEARNING_RATE)
    if not use_fit:
        train_loop(model, optimizer, loss, dataset, global_batch=DEMO_GLOBAL_BATCH, epochs=epochs, strategy=strategy,
                   epoch_clock=clock)
    else:
        with strategy.scope():
            model.compile(optimizer, loss=loss)
        inputs = distribute_batches(strategy, dataset, DEMO_GLOBAL_BATCH) if strategy.num_replicas_in_sync > 1 \
            else dataset
        model.fit(inputs, epochs=epochs, verbose=0, shuffle=False, callbacks=[clock.callback()])
    return [np.asarray(w) for w in model.get_weights()]


def void_share_batch(seed: int = 0, *, num_images: int = 4, size: int = 16, num_classes: int = 5):
    """A batch whose two halves hold very different shares of void pixels, and random logits.

    Images 0..n/2-1 are labelled everywhere; the rest are void except a few pixels. Returns
    (labels (N, H, W) uint8, logits (N, H, W, C) float32).
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, (num_images, size, size)).astype(np.uint8)
    labels[num_images // 2:] = VOID_LABEL
    labels[num_images // 2:, :2, :2] = rng.integers(0, num_classes, (num_images - num_images // 2, 2, 2))
    logits = rng.normal(0, 2, (num_images, size, size, num_classes)).astype(np.float32)
    return labels, logits


def replica_losses(strategy, loss, labels, logits) -> float:
    """The loss ``fit`` would report for this batch under ``strategy``: replicas' values, summed.

    Each replica gets its slice of the batch (as ``distribute_batches`` splits it). Keras
    trains on the sum of the replicas' gradients, so the sum of their loss values is the
    loss being minimised.
    """
    tf = _tf()
    dataset = tf.data.Dataset.from_tensors((tf.constant(logits), tf.constant(labels)))
    inputs = distribute_batches(strategy, dataset, len(labels))
    x, y = next(iter(inputs))
    per_replica = strategy.run(lambda scores, truth: loss(truth, scores), args=(x, y))
    return float(strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None))


def mirrored_report(num_devices: int = 2) -> dict:
    """Lesson 06's MirroredStrategy facts on a CPU split in ``num_devices`` (run in a fresh process).

    Returns a dict: the void-share batch's labelled shares per replica, its true loss (numpy),
    the wrong mean of replica means, what ``GlobalPixelCrossEntropy`` and the course's
    ``losses.PixelCrossEntropy`` (the same loss) give under the strategy, and the largest weight difference
    between :func:`train_demo` on one device and under the strategy.
    """
    import fcn_lessons

    devices = split_cpu(num_devices)
    fcn_lessons.setup(seed=0, verbose=False)
    tf = _tf()
    from fcn_lessons import losses

    strategy = tf.distribute.MirroredStrategy(devices)
    labels, logits = void_share_batch()
    one = train_demo()
    mirrored = train_demo(strategy)
    return {
        "devices": devices,
        "replicas": strategy.num_replicas_in_sync,
        "labelled_shares": labelled_shares(labels, strategy.num_replicas_in_sync).round(4).tolist(),
        "batch_mean": batch_mean(labels, logits),
        "mean_of_replica_means": mean_of_replica_means(labels, logits, strategy.num_replicas_in_sync),
        "global_loss_under_strategy": replica_losses(strategy, __getattr__("GlobalPixelCrossEntropy")(),
                                                     labels, logits),
        "course_loss_under_strategy": replica_losses(strategy, losses.PixelCrossEntropy(), labels, logits),
        "max_weight_difference": max(float(np.abs(a - b).max()) for a, b in zip(one, mirrored)),
    }


def _worker(args) -> int:
    import fcn_lessons

    fcn_lessons.setup(seed=0, verbose=False)
    strategy = multi_worker_strategy() if cluster_from_env() else None
    weights = train_demo(strategy, seed=args.seed, use_fit=args.fit)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, *weights)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fcn_lessons.distribute",
                                     description="A small multi-worker training job (lesson 06, tests).")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="train the demo model; a worker of a cluster when TF_CONFIG is set")
    worker.add_argument("--out", required=True, help="where to write the final weights (.npz)")
    worker.add_argument("--seed", type=int, default=0)
    worker.add_argument("--fit", action="store_true", help="train with model.fit instead of the custom loop "
                        "(fails under TF_CONFIG with Keras 3: keras-team/keras#20585)")
    mirrored = commands.add_parser("mirrored", help="MirroredStrategy on a CPU split in two: losses and weights "
                                   "against one device, as JSON")
    mirrored.add_argument("--devices", type=int, default=2)
    args = parser.parse_args(argv)
    if args.command == "mirrored":
        print(json.dumps(mirrored_report(args.devices)))
        return 0
    return _worker(args)


if __name__ == "__main__":
    sys.exit(main())
