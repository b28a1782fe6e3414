"""tf.distribute: the loss of a global batch, MirroredStrategy on two logical CPUs, two workers on 127.0.0.1."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fcn_lessons import distribute, losses

ROOT = Path(__file__).resolve().parent.parent
WORKER_TEST_TIMEOUT_S = 420  # the two workers and the single process on a loaded 2-core machine


def _python(*args, env=None, timeout):
    return subprocess.run([sys.executable, "-m", "fcn_lessons.distribute", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_batch_mean_is_the_course_loss_and_replica_means_are_not():
    labels, logits = distribute.void_share_batch(seed=3)
    expected = losses.pixel_cross_entropy(labels, logits)
    assert distribute.batch_mean(labels, logits) == pytest.approx(expected, rel=1e-9)
    shares = distribute.labelled_shares(labels, 2)
    assert shares.sum() == pytest.approx(1) and shares[0] > 0.9
    assert abs(distribute.mean_of_replica_means(labels, logits, 2) - expected) > 0.1
    even = np.concatenate([labels[:2], labels[:2]])
    even_logits = np.concatenate([logits[:2], logits[:2]])
    assert distribute.mean_of_replica_means(even, even_logits, 2) == pytest.approx(
        distribute.batch_mean(even, even_logits))


def test_global_loss_equals_the_course_loss_on_one_device():
    import tensorflow as tf

    labels, logits = distribute.void_share_batch(seed=1)
    logits = tf.constant(logits)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        ours = distribute.GlobalPixelCrossEntropy()(labels, logits)
        course = losses.PixelCrossEntropy()(labels, logits)
    assert float(ours) == pytest.approx(float(course), rel=1e-6)
    np.testing.assert_allclose(tape.gradient(ours, logits), tape.gradient(course, logits), atol=1e-9)
    all_void = np.full_like(labels, 255)
    assert float(distribute.GlobalPixelCrossEntropy()(all_void, logits)) == 0.0


def test_global_batch_and_learning_rate():
    assert distribute.global_batch_size(8, 4) == 32
    assert distribute.scaled_learning_rate(0.1, 256, 1024) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="num_replicas"):
        distribute.global_batch_size(8, 0)
    with pytest.raises(ValueError, match="base_rate"):
        distribute.scaled_learning_rate(-1, 16, 32)
    with pytest.raises(ValueError, match="cannot be split evenly"):
        distribute.mean_of_replica_means(*distribute.void_share_batch(num_images=3), 2)


def test_tf_config(monkeypatch):
    config = json.loads(distribute.tf_config(["127.0.0.1:2222", "127.0.0.1:2223"], 1))
    assert config == {"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError, match="host:port"):
        distribute.tf_config(["localhost"], 0)
    with pytest.raises(ValueError, match="index"):
        distribute.tf_config(["127.0.0.1:1"], 1)
    monkeypatch.setenv("TF_CONFIG", distribute.tf_config(["127.0.0.1:1", "127.0.0.1:2"], 0))
    assert distribute.cluster_from_env() == (0, 2)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distribute.cluster_from_env()
    monkeypatch.delenv("TF_CONFIG")
    assert distribute.cluster_from_env() is None
    assert len(set(distribute.free_ports(3))) == 3


def test_mirrored_strategy_on_two_logical_cpus():
    """One device and two replicas: the same loss (with the global reduction) and the same weights."""
    result = _python("mirrored", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2 and report["labelled_shares"][0] > 0.9
    assert report["global_loss_under_strategy"] == pytest.approx(report["batch_mean"], rel=1e-5)
    assert abs(report["mean_of_replica_means"] - report["batch_mean"]) > 0.1
    # The course loss divides each replica's sum by the global labelled count (losses.replica_sum).
    assert report["course_loss_under_strategy"] == pytest.approx(report["batch_mean"], rel=1e-5)
    assert report["max_weight_difference"] < 1e-5  # measured 4.2e-7 (float sums in another order)


def test_two_workers_train_to_the_weights_of_one_process(tmp_path):
    """MultiWorkerMirroredStrategy on 127.0.0.1: two processes, one cluster, the single-process weights."""
    workers = [f"127.0.0.1:{port}" for port in distribute.free_ports(2)]
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    processes = []
    try:
        for index in range(2):
            worker_env = {**env, "TF_CONFIG": distribute.tf_config(workers, index)}
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "fcn_lessons.distribute", "worker", "--out", str(tmp_path / f"w{index}.npz")],
                cwd=ROOT, env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outputs = [p.communicate(timeout=WORKER_TEST_TIMEOUT_S)[0] for p in processes]
    finally:
        for p in processes:  # never leave a worker waiting for its peer
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in processes] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    single = _python("worker", "--out", str(tmp_path / "one.npz"), env=env, timeout=WORKER_TEST_TIMEOUT_S)
    assert single.returncode == 0, single.stderr[-2000:]
    one, w0, w1 = (np.load(tmp_path / name) for name in ("one.npz", "w0.npz", "w1.npz"))
    for key in one:
        assert np.array_equal(w0[key], w1[key])  # the workers hold one model
        np.testing.assert_allclose(w0[key], one[key], atol=1e-5)  # measured: at most 4.2e-7 apart
