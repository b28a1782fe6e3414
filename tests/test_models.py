"""models.fcn: the reference network layer for layer, crops derived and aligned, weights, saving, JAX."""

import gc
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from fcn_lessons import conv1x1, models, training, upsampling
from fcn_lessons.data import NUM_CLASSES

ROOT = Path(__file__).resolve().parent.parent
VOC_CLASSES = 21
# The reference's crop offsets (voc-fcn32s, voc-fcn16s, voc-fcn8s[-atonce]/val.prototxt).
REFERENCE_CROPS = {"32s": {"score": (19, 19)},
                   "16s": {"score_pool4c": (5, 5), "score": (27, 27)},
                   "8s": {"score_pool4c": (5, 5), "score_pool3c": (9, 9), "score": (31, 31)}}
HEAD_NAMES = {"32s": ["score_fr", "upscore", "score"],
              "16s": ["score_fr", "upscore2", "score_pool4", "score_pool4c", "fuse_pool4", "upscore16", "score"],
              "8s": ["score_fr", "upscore2", "score_pool4", "score_pool4c", "fuse_pool4", "upscore_pool4",
                     "score_pool3", "score_pool3c", "fuse_pool3", "upscore8", "score"]}
TRUNK_NAMES = ([f"conv{b}_{i}" for b, n in zip(range(1, 6), (2, 2, 3, 3, 3)) for i in range(1, n + 1)]
               + [f"pool{b}" for b in range(1, 6)] + ["fc6", "drop6", "fc7", "drop7"])
# With pad 100, a side n has symmetric crops at every stage when n + 198 is a multiple of 32.
SYMMETRIC_SIDE = 58


@pytest.fixture(scope="module")
def vgg16_fcns():
    """One FCN-VGG16 of each variant (134M weights each), built once for the module."""
    built = {variant: models.fcn(VOC_CLASSES, variant, backbone="vgg16") for variant in models.VARIANTS}
    yield built
    built.clear()
    keras.backend.clear_session()
    gc.collect()


# --- the reference network ------------------------------------------------------------------

@pytest.mark.parametrize("variant", models.VARIANTS)
def test_vgg16_crops_are_derived_equal_to_the_reference(vgg16_fcns, variant):
    assert models.crop_offsets(vgg16_fcns[variant]) == REFERENCE_CROPS[variant]


@pytest.mark.parametrize("variant", models.VARIANTS)
def test_layer_names_are_the_reference_names(vgg16_fcns, variant):
    names = [layer.name for layer in vgg16_fcns[variant].layers]
    for name in TRUNK_NAMES + HEAD_NAMES[variant]:
        assert name in names, name
    assert names[-1] == "score"


def test_vgg16_layers_are_the_reference_layers(vgg16_fcns):
    model = vgg16_fcns["32s"]
    assert model.get_layer("pad100").padding == ((100, 100), (100, 100))
    assert model.get_layer("conv1_1").padding == "valid" and model.get_layer("conv1_2").padding == "same"
    fc6, fc7 = model.get_layer("fc6"), model.get_layer("fc7")
    assert (fc6.kernel_size, fc6.filters, fc6.padding) == ((7, 7), 4096, "valid")
    assert (fc7.kernel_size, fc7.filters) == ((1, 1), 4096)
    assert model.get_layer("drop6").rate == model.get_layer("drop7").rate == 0.5
    for b in range(1, 6):
        pool = model.get_layer(f"pool{b}")
        assert (pool.pool_size, pool.strides, pool.padding) == ((2, 2), (2, 2), "same")
    up = model.get_layer("upscore")
    assert (up.kernel_size, up.strides, up.padding, up.use_bias, up.trainable) == ((64, 64), (32, 32), "valid",
                                                                                  False, False)


def test_vgg16_weight_count_is_the_papers(vgg16_fcns):
    trainable = sum(int(np.prod(w.shape)) for w in vgg16_fcns["32s"].trainable_weights)
    assert 133.5e6 < trainable < 134.5e6  # the paper's Table 1: 134M


@pytest.mark.parametrize("size", [(1, 1), (37, 58), (71, 64)])
@pytest.mark.parametrize("variant", models.VARIANTS)
def test_vgg16_output_has_the_input_size(vgg16_fcns, variant, size):
    out = vgg16_fcns[variant].predict_on_batch(np.zeros((1, *size, 3), np.float32))
    assert out.shape == (1, *size, VOC_CLASSES)


def _symmetric_copy(model, rng):
    """The same network with every kernel mirror-symmetric and random, nonzero scores."""
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights or isinstance(layer, keras.layers.Conv2DTranspose):
            continue
        kernel = rng.normal(size=weights[0].shape).astype(np.float32)
        kernel = (kernel + kernel[::-1] + kernel[:, ::-1] + kernel[::-1, ::-1]) / 4
        scale = 2 * np.sqrt(2.0 / np.prod(kernel.shape[:3]))  # He scale; averaging four taps halved it
        layer.set_weights([kernel * scale] + [rng.uniform(0, 0.1, w.shape).astype(np.float32) for w in weights[1:]])
    return model


@pytest.mark.parametrize("variant", models.VARIANTS)
def test_crops_align_the_output_with_the_input(monkeypatch, variant):
    """Mirror symmetry: with symmetric kernels, flipping the input flips the output exactly
    when every crop is centred, which holds for the derived offsets (and fails for others).
    The geometry (kernels, strides, padding) is FCN-VGG16's; the widths are narrowed to
    keep the test fast, which changes no offset."""
    monkeypatch.setattr(models, "VGG16_BLOCKS", tuple((4, n) for _, n in models.VGG16_BLOCKS))
    monkeypatch.setattr(models, "VGG16_FC_WIDTH", 8)
    model = models.fcn(3, variant, backbone="vgg16")
    assert models.crop_offsets(model) == REFERENCE_CROPS[variant]
    model = _symmetric_copy(model, np.random.default_rng(0))
    x = np.random.default_rng(1).uniform(-1, 1, (1, SYMMETRIC_SIDE, SYMMETRIC_SIDE, 3)).astype(np.float32)

    def run(image):  # eager: reads the Crop offsets as they are now
        return np.asarray(model(image, training=False))

    out = run(x)
    scale = np.abs(out - out.mean(axis=(1, 2), keepdims=True)).max()
    assert scale > 0
    for axis in (1, 2):
        np.testing.assert_allclose(np.flip(run(np.flip(x, axis)), axis), out, atol=1e-4 * scale)
    crop = model.get_layer("score")
    crop.offset = (crop.offset[0] - 1, crop.offset[1])  # one pixel off: the symmetry breaks
    try:
        assert np.abs(np.flip(run(np.flip(x, 1)), 1) - run(x)).max() > 1e-2 * scale
    finally:
        crop.offset = (crop.offset[0] + 1, crop.offset[1])


def test_at_once_scales_the_skips():
    model = models.fcn(VOC_CLASSES, "8s", backbone="vgg16", at_once=True)
    assert model.get_layer("scale_pool4").scale == 0.01
    assert model.get_layer("scale_pool3").scale == 0.0001
    assert model.get_layer("score_pool4").input is model.get_layer("scale_pool4").output
    assert models.crop_offsets(model) == REFERENCE_CROPS["8s"]
    del model
    gc.collect()


# --- initialisation ---------------------------------------------------------------------------

@pytest.mark.parametrize("variant", models.VARIANTS)
def test_scores_are_zero_initialised_and_upsampling_is_bilinear_per_class(variant):
    model = models.fcn(NUM_CLASSES, variant)
    for layer in model.layers:
        if layer.name.startswith("score_") and not layer.name.endswith("c"):
            kernel, bias = layer.get_weights()
            assert not kernel.any() and not bias.any(), layer.name
        if isinstance(layer, keras.layers.Conv2DTranspose):
            (kernel,) = layer.get_weights()
            factor = layer.strides[0]
            np.testing.assert_array_equal(kernel, upsampling.bilinear_kernel(factor, NUM_CLASSES))
            assert not layer.trainable and not layer.use_bias
    x = np.random.default_rng(0).uniform(size=(2, 64, 96, 3)).astype(np.float32)
    assert not model.predict_on_batch(x).any()  # zero scores: every class equally likely


def test_train_upsampling_makes_the_transposed_convolutions_trainable():
    model = models.fcn(NUM_CLASSES, "16s", train_upsampling=True)
    assert model.get_layer("upscore2").trainable and model.get_layer("upscore16").trainable


def test_bilinear_initializer_checks_the_shape():
    np.testing.assert_array_equal(models.BilinearUpsampling()((4, 4, 3, 3)), upsampling.bilinear_kernel(2, 3))
    with pytest.raises(ValueError, match=r"shape \(k, k, C, C\)"):
        models.BilinearUpsampling()((4, 4, 3, 2))
    with pytest.raises(ValueError, match="not such a size"):
        models.BilinearUpsampling()((6, 6, 2, 2))


# --- mini_vgg -----------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", models.VARIANTS)
def test_mini_vgg_crops_are_derived_and_zero(variant):
    model = models.fcn(NUM_CLASSES, variant)
    assert set(models.crop_offsets(model).values()) == {(0, 0)}
    assert list(models.crop_offsets(model)) == list(REFERENCE_CROPS[variant])
    names = [layer.name for layer in model.layers]
    assert all(name in names for name in HEAD_NAMES[variant])
    out = model.predict_on_batch(np.zeros((2, 64, 128, 3), np.float32))
    assert out.shape == (2, 64, 128, NUM_CLASSES)


def test_mini_vgg_refuses_sides_that_are_not_multiples_of_the_stride():
    with pytest.raises(ValueError, match="input_shape height 100 is not a multiple of the output stride 32"):
        models.fcn(NUM_CLASSES, "32s", input_shape=(100, 64, 3))
    with pytest.raises(ValueError, match="input_shape width 20"):
        models.fcn(NUM_CLASSES, "8s", input_shape=(64, 20, 3))
    model = models.fcn(NUM_CLASSES, "16s")  # any size allowed: the crop says what is wrong
    with pytest.raises(ValueError, match="Crop layer 'score_pool4c'.*multiples of 32"):
        model.predict_on_batch(np.zeros((1, 80, 64, 3), np.float32))


def test_fcn32s_head_valid_with_crop_equals_the_same_padded_model():
    """'valid' transposed convolution + crop 16 is what 'same' padding computes."""
    model = models.fcn(NUM_CLASSES, "32s")
    rng = np.random.default_rng(0)
    score = model.get_layer("score_fr")
    score.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in score.get_weights()])
    trunk = keras.Model(model.input, model.get_layer("drop7").output)
    head = models.fcn32s_head(trunk, NUM_CLASSES)
    assert models.crop_offsets(head) == {"score": (16, 16)}
    head.get_layer("score_fr").set_weights(score.get_weights())
    x = rng.uniform(size=(2, 64, 96, 3)).astype(np.float32)
    np.testing.assert_allclose(head.predict_on_batch(x), model.predict_on_batch(x), atol=1e-5)
    shifted = models.fcn32s_head(trunk, NUM_CLASSES, crop=(12, 16))
    assert models.crop_offsets(shifted) == {"score": (12, 16)}


def test_fcn32s_head_on_the_vgg16_trunk_derives_19(vgg16_fcns):
    model = vgg16_fcns["32s"]
    head = models.fcn32s_head(keras.Model(model.input, model.get_layer("drop7").output), VOC_CLASSES)
    assert models.crop_offsets(head) == {"score": (19, 19)}


def test_fcn32s_head_refuses_a_trunk_without_a_whole_stride():
    trunk = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="trunk must end at a whole output stride"):
        models.fcn32s_head(trunk, NUM_CLASSES)


# --- arguments ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_classes": 1}, ValueError, "num_classes must be >= 2"),
    ({"num_classes": 2.0}, TypeError, "num_classes must be an int"),
    ({"variant": "4s"}, ValueError, "variant must be one of '32s', '16s', '8s'"),
    ({"backbone": "resnet50"}, ValueError, "backbone must be one of 'mini_vgg', 'vgg16'"),
    ({"variant": "16s", "at_once": True}, ValueError, "at_once=True is the reference's at-once FCN-8s"),
    ({"at_once": "yes"}, TypeError, "at_once must be True or False"),
    ({"input_shape": (64, 64)}, ValueError, r"input_shape must be \(height, width, channels\)"),
    ({"weights": "imagenet"}, ValueError, "backbone 'mini_vgg' has no ImageNet version"),
    ({"weights": 3}, TypeError, "weights must be None, 'imagenet', the path"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    arguments = {"num_classes": NUM_CLASSES, **kwargs}
    with pytest.raises(error, match=match):
        models.fcn(**arguments)


def test_crop_offset_refuses_what_a_crop_cannot_align():
    from fcn_lessons.receptive import ReceptiveField

    fields = {"a": ReceptiveField((3, 3), (2, 2), (0.5, 0.5)), "b": ReceptiveField((3, 3), (4, 4), (0, 0)),
              "c": ReceptiveField((3, 3), (2, 2), (-1.5, 1.5)), "d": ReceptiveField((3, 3), (1, 1), (0.5, -2))}
    with pytest.raises(ValueError, match="a crop only aligns maps of the same stride"):
        models.crop_offset(fields, "a", "b")
    with pytest.raises(ValueError, match="whole, non-negative number"):
        models.crop_offset(fields, "d")  # the image's pixel 0 lies half a unit before unit 0 of 'd'
    with pytest.raises(ValueError, match="whole, non-negative number"):
        models.crop_offset(fields, "c", "a")  # 'a' starts 2 units (positive) along rows, -0.5 along columns
    fields["e"] = ReceptiveField((3, 3), (2, 2), (-3.5, -1.5))
    assert models.crop_offset(fields, "e", "a") == (2, 1)


def test_crop_layer_says_when_its_input_is_too_small():
    crop = models.Crop((2, 0), hint="Try a bigger input.", name="demo")
    with pytest.raises(ValueError, match=r"Crop layer 'demo': cannot take 5 pixels of height at offset 2 from a map "
                                         r"of 6.*Try a bigger input\."):
        crop([np.zeros((1, 6, 6, 1), np.float32), np.zeros((1, 5, 5, 1), np.float32)])
    out = crop([np.arange(36, dtype=np.float32).reshape(1, 6, 6, 1), np.zeros((1, 3, 4, 1), np.float32)])
    np.testing.assert_array_equal(np.asarray(out)[0, :, :, 0], np.arange(36).reshape(6, 6)[2:5, 0:4])
    assert models.Crop.from_config(crop.get_config()).offset == (2, 0)


# --- preprocessing ----------------------------------------------------------------------------------

def test_preprocess_input():
    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype(np.uint8)
    np.testing.assert_allclose(models.preprocess_input(images), images / 255, atol=1e-7)
    np.testing.assert_allclose(models.preprocess_input(images / 255), images / 255, atol=1e-6)
    expected = keras.applications.vgg16.preprocess_input(images.astype(np.float32))
    np.testing.assert_allclose(models.preprocess_input(images, "vgg16"), expected, atol=1e-3)
    assert models.preprocess_input(images[0]).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="It looks like 0..255 values"):
        models.preprocess_input(images.astype(np.float32))
    with pytest.raises(ValueError, match=r"images must be \(N, H, W, 3\)"):
        models.preprocess_input(images[..., :1])
    with pytest.raises(ValueError, match="backbone must be one of"):
        models.preprocess_input(images, "vgg19")


# --- weights ---------------------------------------------------------------------------------------

def test_imagenet_fails_fast_and_clearly_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cached download
    monkeypatch.setattr(conv1x1, "IMAGENET_WEIGHTS_HOST", "unreachable.invalid")  # .invalid never resolves
    monkeypatch.setattr(models, "IMAGENET_TIMEOUT_S", 0.5)
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"weights='imagenet': could not fetch .* pass the path of a VGG16 "
                                              r"weights file"):
        models.fcn(VOC_CLASSES, "32s", backbone="vgg16", weights="imagenet")
    assert time.perf_counter() - start < 30


@pytest.fixture(scope="module")
def vgg16_weights_file(tmp_path_factory):
    """A VGG16 weights file saved from a randomly initialised keras.applications VGG16."""
    vgg = keras.applications.VGG16(weights=None)
    path = tmp_path_factory.mktemp("weights") / "vgg16.weights.h5"
    vgg.save_weights(path)
    weights = {name: vgg.get_layer(name).get_weights() for name in ("block1_conv1", "block5_conv3", "fc1", "fc2")}
    del vgg
    gc.collect()
    return path, weights


def test_vgg16_weights_from_a_local_file_are_transplanted(vgg16_weights_file):
    path, weights = vgg16_weights_file
    model = models.fcn(VOC_CLASSES, "32s", backbone="vgg16", weights=str(path))
    for keras_name, name in [("block1_conv1", "conv1_1"), ("block5_conv3", "conv5_3")]:
        for got, want in zip(model.get_layer(name).get_weights(), weights[keras_name]):
            np.testing.assert_array_equal(got, want)
    fc6_kernel, fc6_bias = model.get_layer("fc6").get_weights()
    np.testing.assert_array_equal(fc6_kernel, weights["fc1"][0].reshape(7, 7, 512, 4096))
    np.testing.assert_array_equal(fc6_bias, weights["fc1"][1])
    np.testing.assert_array_equal(model.get_layer("fc7").get_weights()[0], weights["fc2"][0][None, None])
    # fc6 as a 7×7 convolution computes fc1 on the flattened 7×7×512 pool5 map
    pool5 = np.random.default_rng(0).uniform(size=(1, 7, 7, 512)).astype(np.float32)
    fc6_out = np.asarray(model.get_layer("fc6")(pool5))[0, 0, 0]
    np.testing.assert_allclose(fc6_out, np.maximum(pool5.reshape(1, -1) @ weights["fc1"][0] + weights["fc1"][1], 0)[0],
                               rtol=1e-4, atol=1e-4)
    assert not model.get_layer("score_fr").get_weights()[0].any()
    del model
    gc.collect()


def test_bad_weight_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        models.fcn(VOC_CLASSES, "32s", backbone="vgg16", weights=str(tmp_path / "missing.weights.h5"))
    with pytest.raises(ValueError, match="expected a Keras weights file ending in .weights.h5"):
        models.fcn(VOC_CLASSES, "32s", backbone="vgg16", weights=str(tmp_path / "vgg16.pth"))
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path / "other.weights.h5"
    other.save_weights(path)
    with pytest.raises(ValueError, match="is not a weights file of keras.applications.VGG16"):
        models.fcn(VOC_CLASSES, "32s", backbone="vgg16", weights=str(path))


def test_a_trained_classifier_is_convolutionalized_into_the_fcn():
    classifier = models.mini_vgg_classifier()
    rng = np.random.default_rng(0)
    for layer in classifier.layers:
        layer.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()])
    model = models.fcn(NUM_CLASSES, "32s", weights=classifier)
    fc6 = classifier.get_layer("fc6").get_weights()[0]
    k = models.MINI_VGG_FC6_KERNEL
    np.testing.assert_array_equal(model.get_layer("fc6").get_weights()[0], fc6.reshape(k, k, -1, fc6.shape[1]))
    for name in ("conv1_1", "conv5_2", "fc7"):
        got, want = model.get_layer(name).get_weights()[-1], classifier.get_layer(name).get_weights()[-1]
        np.testing.assert_array_equal(got.reshape(want.shape), want)
    assert not model.get_layer("score_fr").get_weights()[0].any()  # predictions dropped: a new score layer
    # on a crop, fc7 of the FCN's centre unit is the classifier's fc7
    crops = rng.uniform(size=(2, models.MINI_VGG_CROP, models.MINI_VGG_CROP, 3)).astype(np.float32)
    fcn_fc7 = keras.Model(model.input, model.get_layer("fc7").output).predict_on_batch(crops)
    clf_fc7 = keras.Model(classifier.input, classifier.get_layer("fc7").output).predict_on_batch(crops)
    centre = fcn_fc7.shape[1] // 2
    np.testing.assert_allclose(fcn_fc7[:, centre, centre], clf_fc7, rtol=1e-4, atol=1e-4)


def test_transplant_reports_and_refuses():
    source = models.fcn(NUM_CLASSES, "32s")
    target = models.fcn(NUM_CLASSES, "16s")
    report = models.transplant(source, target)
    assert "score_fr" in report["copied"] and "conv1_1" in report["copied"] and not report["reshaped"]
    assert set(report["kept"]) == {"upscore2", "score_pool4", "upscore16"} and report["dropped"] == ["upscore"]
    unrelated = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="other")])
    with pytest.raises(ValueError, match="no layer of .* matches a layer"):
        models.transplant(unrelated, target)
    wrong = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(8, 5, use_bias=False, name="conv1_1")])
    with pytest.raises(ValueError, match=r"'conv1_1' weights of shape \(5, 5, 3, 8\) do not fit"):
        models.transplant(wrong, target)
    with pytest.raises(TypeError, match="source must be a keras.Model"):
        models.transplant("conv1_1", target)


# --- saving -----------------------------------------------------------------------------------------

def test_keras_file_loads_with_plain_keras_and_predicts_the_same(tmp_path):
    model = training.compile_model(models.fcn(NUM_CLASSES, "8s", at_once=True), NUM_CLASSES)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.name.startswith("score_") and layer.get_weights():
            layer.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()])
    x = rng.uniform(size=(2, 64, 64, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", model.predict_on_batch(x))
    path = tmp_path / "fcn8s.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json").decode()
    assert "BilinearUpsampling" in config and len(config) < 200_000  # no kernel arrays in the config
    code = textwrap.dedent(f"""
        import numpy as np, keras
        import fcn_lessons.models
        model = keras.models.load_model({str(path)!r})
        got = model.predict_on_batch(np.load({str(tmp_path / "x.npy")!r}))
        print(float(np.abs(got - np.load({str(tmp_path / "expected.npy")!r})).max()))
        print(type(model.loss).__name__, [m.name for m in model.metrics])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-3000:]
    difference, names = out.stdout.strip().splitlines()[-2:]
    assert float(difference) == 0.0
    assert names.startswith("PixelCrossEntropy")


# --- backend-neutral ---------------------------------------------------------------------------------

JAX_SCRIPT = """
import json, numpy as np, keras
from fcn_lessons import data, models, training
assert keras.backend.backend() == "jax", keras.backend.backend()
images, masks = data.make_shapes(2, 64, seed=0)
x = models.preprocess_input(images)
out = {}
for variant in models.VARIANTS:
    model = training.compile_model(models.fcn(data.NUM_CLASSES, variant), data.NUM_CLASSES)
    logs = model.train_on_batch(x, masks, return_dict=True)
    out[variant] = {"shape": list(model.predict_on_batch(x).shape), "loss": float(logs["loss"]),
                    "crops": {k: list(v) for k, v in models.crop_offsets(model).items()}}
print(json.dumps(out))
"""


def test_every_variant_runs_and_trains_on_the_jax_backend():
    if importlib.util.find_spec("jax") is None:
        if os.environ.get("FCN_LESSONS_CI") and not os.environ.get("FCN_LESSONS_COLAB_VERSIONS"):
            pytest.fail("JAX is missing in CI: install the pinned requirements (requirements.txt)")
        pytest.skip("JAX is not installed (pip install -r requirements.txt adds its CPU wheel; "
                    "requirements-colab.txt, for make test-colab, does not pin Colab's JAX)")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", JAX_SCRIPT], capture_output=True, text=True, timeout=600,
                         env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for variant in models.VARIANTS:
        assert results[variant]["shape"] == [2, 64, 64, NUM_CLASSES]
        assert np.isfinite(results[variant]["loss"])
        assert results[variant]["loss"] == pytest.approx(np.log(NUM_CLASSES), rel=1e-3)  # zero scores at first


def test_lesson_04_benchmarks_are_registered():
    """``python -m fcn_lessons.bench fcn-forward | train-step | mini-vgg-choice`` resolve to this package's functions."""
    from fcn_lessons import bench
    from fcn_lessons.bench import fcn as fcn_bench

    for name, function in (("fcn-forward", fcn_bench.fcn_forward), ("train-step", fcn_bench.train_step),
                           ("mini-vgg-choice", fcn_bench.mini_vgg_choice)):
        assert bench.load(name) is function
