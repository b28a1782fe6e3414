"""``python -m fcn_lessons.train``: options, errors, a killed run resumed to the same weights, TensorBoard logs."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fcn_lessons import train

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 420  # one small training run on a loaded 2-core machine (most of it is start-up and tracing)
SMALL = ["--num-images", "16", "--num-val", "4", "--epochs", "3", "--batch-size", "4", "--variant", "32s", "--quiet"]
STEPS_PER_EPOCH = 4  # 16 images / batch 4
KILL_AT = STEPS_PER_EPOCH + 2  # in the middle of the second epoch


def _train(*args, timeout=RUN_TIMEOUT_S):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    return subprocess.run([sys.executable, "-m", "fcn_lessons.train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_help_documents_every_option():
    text = train.build_parser().format_help()
    for option in ("--data", "--variant", "--backbone", "--epochs", "--batch-size", "--precision", "--jit-compile",
                   "--checkpoint-dir", "--tensorboard-dir", "--save", "TF_CONFIG"):
        assert option in text
    assert "--kill-at-step" not in text


@pytest.mark.parametrize("args, message", [
    (["--data", "no/such/folder"], "no such folder"),
    (["--save", "model.h5"], r"must name a \.keras file"),
    (["--image-size", "50"], "multiples of 32"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--learning-rate", "-1"], "--learning-rate must be positive"),
    (["--weights", "imagenet"], "vgg16 only"),
])
def test_bad_options_get_one_clear_line(args, message, capsys):
    assert train.main(args) == 2
    err = capsys.readouterr().err
    assert "python -m fcn_lessons.train: error:" in err and __import__("re").search(message, err)


def test_bad_choices_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        train.main(["--precision", "float8"])
    assert "invalid choice" in capsys.readouterr().err


def test_checkpoints_and_tensorboard_are_refused_under_tf_config(monkeypatch, capsys):
    from fcn_lessons import distribute

    monkeypatch.setenv("TF_CONFIG", distribute.tf_config(["127.0.0.1:1", "127.0.0.1:2"], 0))
    assert train.main(["--checkpoint-dir", "x"]) == 2
    assert "MultiWorkerMirroredStrategy" in capsys.readouterr().err


def _weights(path):
    import keras

    import fcn_lessons.losses  # noqa: F401  (registers the course's loss and metrics for loading)
    import fcn_lessons.models  # noqa: F401
    import fcn_lessons.training  # noqa: F401

    return keras.models.load_model(path).get_weights()


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    whole = _train(*SMALL, "--checkpoint-dir", str(tmp_path / "a"), "--save", str(tmp_path / "a.keras"),
                   "--tensorboard-dir", str(tmp_path / "logs"), "--json")
    assert whole.returncode == 0, whole.stderr[-3000:]
    summary = json.loads(whole.stdout.strip().splitlines()[-1])
    assert summary["epochs"] == 3 and 0 <= summary["mean_iou"] <= 1

    killed = _train(*SMALL, "--checkpoint-dir", str(tmp_path / "b"), "--kill-at-step", str(KILL_AT))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert (tmp_path / "b" / "backup" / "training_metadata.json").is_file()
    assert json.loads((tmp_path / "b" / "backup" / "training_metadata.json").read_text())["epoch"] == 1
    resumed = _train(*SMALL, "--checkpoint-dir", str(tmp_path / "b"), "--save", str(tmp_path / "b.keras"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert not (tmp_path / "b" / "backup").exists()  # BackupAndRestore deletes its backup when fit ends
    assert (tmp_path / "b" / "last.keras").is_file()
    for expected, got in zip(_weights(tmp_path / "a.keras"), _weights(tmp_path / "b.keras")):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)

    scalars = train.read_scalars(tmp_path / "logs")  # the reader lesson 06 uses
    assert [step for step, _ in scalars["train/epoch_loss"]] == [0, 1, 2]
    assert len(scalars["validation/epoch_mean_iu"]) == 3
    assert all(np.isfinite(v) for _, v in scalars["train/epoch_loss"])


# --- the helpers lesson 06 runs in the notebook -------------------------------------------------------

def test_pretrained_classifier_refuses_empty_budgets():
    with pytest.raises(ValueError, match="num_crops"):
        train.pretrained_classifier(0, 1, log=None)
    with pytest.raises(ValueError, match="epochs"):
        train.pretrained_classifier(10, 0, log=None)


def test_train_and_score_transplants_a_pretrained_classifier():
    """With ``weights=`` the FCN starts from the classifier's trunk (lesson 04's transplant), not at random."""
    from fcn_lessons import data, models

    classifier, cost = train.pretrained_classifier(32, 1, log=None)
    assert 0 <= cost["accuracy"] <= 1
    images, masks = data.make_shapes(4, 64, seed=3)
    result = train.train_and_score(images, masks, images[:2], masks[:2], epochs=1, batch_size=4,
                                   weights=classifier, learning_rate=1e-12)  # a negligible step: weights stay put
    fcn = result["model"]
    for layer in classifier.layers:
        if layer.name.startswith("conv") and layer.get_weights():
            for got, want in zip(fcn.get_layer(layer.name).get_weights(), layer.get_weights()):
                np.testing.assert_allclose(got, want, atol=1e-6)
    assert len(result["history"]["loss"]) == 1 and 0 <= result["mean_iou"] <= 1
    scratch = models.fcn(5, "8s", "mini_vgg")
    assert not np.allclose(scratch.get_layer("conv1_1").get_weights()[0], classifier.get_layer("conv1_1").get_weights()[0])
