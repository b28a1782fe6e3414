"""fcn_lessons.pyramid: staged transfer, the pyramid as a sum of terms, fusion variants, the careless
recipe, and the experiment runners on a tiny budget."""

import keras
import numpy as np
import pytest

from fcn_lessons import data, models, pyramid, upsampling

SIZE = 64  # mini_vgg takes multiples of 32
NUM_CLASSES = data.NUM_CLASSES


def _perturbed(model, seed=0, scale=0.05, names=("score_fr",)):
    """Non-zero weights in the named (zero-initialised) layers, so the terms are not all zero."""
    rng = np.random.default_rng(seed)
    for name in names:
        layer = model.get_layer(name)
        layer.set_weights([rng.normal(0, scale, w.shape).astype(w.dtype) for w in layer.get_weights()])
    return model


@pytest.fixture(scope="module")
def inputs():
    images, _ = data.make_shapes(2, SIZE, seed=4)
    return models.preprocess_input(images)


@pytest.fixture(scope="module")
def fcn32():
    keras.utils.set_random_seed(0)
    return _perturbed(models.fcn(NUM_CLASSES, "32s"))


# --- transfer_weights -------------------------------------------------------------------------

def test_transfer_copies_by_name_and_zeroes_only_the_new_scores(fcn32):
    target = _perturbed(models.fcn(NUM_CLASSES, "16s"), seed=1, names=("score_fr", "score_pool4"))
    bilinear = target.get_layer("upscore2").get_weights()[0].copy()
    report = pyramid.transfer_weights(fcn32, target)
    assert report["zeroed"] == ["score_pool4"] and report["shape_mismatch"] == []
    assert set(report["new"]) == {"upscore2", "score_pool4", "upscore16"} and report["dropped"] == ["upscore"]
    assert "bn1_1" in report["copied"] and "score_fr" in report["copied"]
    for name in report["copied"]:  # every weight, batch-norm statistics included
        for got, want in zip(target.get_layer(name).get_weights(), fcn32.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)
    assert not any(np.any(w) for w in target.get_layer("score_pool4").get_weights())
    np.testing.assert_array_equal(target.get_layer("upscore2").get_weights()[0], bilinear)


def test_transfer_keeps_a_layer_whose_shapes_differ(fcn32):
    target = models.fcn(NUM_CLASSES + 1, "16s")  # one more class: score_fr's shapes differ
    own = target.get_layer("score_fr").get_weights()
    report = pyramid.transfer_weights(fcn32, target)
    assert report["shape_mismatch"] == ["score_fr"] and "fc7" in report["copied"]
    for got, want in zip(target.get_layer("score_fr").get_weights(), own):
        np.testing.assert_array_equal(got, want)


def test_transfer_can_leave_new_layers_as_built(fcn32):
    target = _perturbed(models.fcn(NUM_CLASSES, "16s"), seed=2, names=("score_pool4",))
    random = target.get_layer("score_pool4").get_weights()[0].copy()
    assert pyramid.transfer_weights(fcn32, target, zero_new=None)["zeroed"] == []
    np.testing.assert_array_equal(target.get_layer("score_pool4").get_weights()[0], random)


def test_transfer_refuses_unrelated_models_and_bad_arguments(fcn32):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="dense_a")])
    with pytest.raises(ValueError, match="no layer of .* matches"):
        pyramid.transfer_weights(fcn32, other)
    with pytest.raises(TypeError, match="zero_new must be a layer-name prefix"):
        pyramid.transfer_weights(fcn32, models.fcn(NUM_CLASSES, "16s"), zero_new=1)
    with pytest.raises(TypeError, match="source"):
        pyramid.transfer_weights("fcn32s.keras", fcn32)


def test_a_staged_16s_starts_with_its_skip_contributing_exactly_nothing(fcn32, inputs):
    fcn16 = models.fcn(NUM_CLASSES, "16s")
    pyramid.transfer_weights(fcn32, fcn16)
    terms = pyramid.skip_contributions(fcn16, inputs)
    assert not np.any(terms["pool4"])
    # the coarse path differs only by its upsampling: ×2 then ×16 instead of one ×32
    np.testing.assert_allclose(terms["score_fr"], fcn16.predict_on_batch(inputs), atol=1e-6)
    assert np.abs(terms["score_fr"] - fcn32.predict_on_batch(inputs)).max() > 0


# --- one fusion step, and the pyramid as a sum ------------------------------------------------------

def test_fuse_skip_is_what_the_keras_layers_compute():
    rng = np.random.default_rng(0)
    coarse = rng.standard_normal((2, 3, 4, 3)).astype(np.float32)
    skip = rng.standard_normal((2, 16, 15, 3)).astype(np.float32)
    up = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="valid", use_bias=False, name="upscore2")
    up.build((None, None, None, 3))
    up.set_weights([upsampling.bilinear_kernel(2, 3)])
    cropped = models.Crop((5, 2))([skip, up(coarse)])
    expected = keras.layers.Add()([up(coarse), cropped])
    np.testing.assert_allclose(pyramid.fuse_skip(coarse, skip, (5, 2)), np.asarray(expected), atol=1e-5)
    assert pyramid.fuse_skip(coarse[0], skip[0], 5).shape == (8, 10, 3)


@pytest.mark.parametrize("call, match", [
    (lambda c, s: pyramid.fuse_skip(c, s[..., :2], 0), "one score per class"),
    (lambda c, s: pyramid.fuse_skip(c, s[:, :9], 5), "cannot be cropped"),
    (lambda c, s: pyramid.fuse_skip(c[0], s, 0), "batch axis"),
    (lambda c, s: pyramid.fuse_skip(c, s, -1), "offset"),
])
def test_fuse_skip_validates(call, match):
    rng = np.random.default_rng(1)
    with pytest.raises((ValueError, TypeError), match=match):
        call(rng.standard_normal((1, 3, 3, 3)), rng.standard_normal((1, 12, 12, 3)))


@pytest.mark.parametrize("variant", ["16s", "8s"])
def test_terms_sum_to_the_output(variant, inputs):
    keras.utils.set_random_seed(3)
    model = _perturbed(models.fcn(NUM_CLASSES, variant), names=("score_fr", *[f"score_{s}" for s in
                                                                          pyramid.VARIANT_SKIPS[variant]]))
    terms = pyramid.skip_contributions(model, inputs)
    assert list(terms) == ["score_fr", *pyramid.VARIANT_SKIPS[variant]]
    assert all(t.shape == (2, SIZE, SIZE, NUM_CLASSES) and np.abs(t).max() > 0 for t in terms.values())
    np.testing.assert_allclose(sum(terms.values()), model.predict_on_batch(inputs), atol=1e-5)
    without = pyramid.fuse_terms(terms, switches={"pool4": False})
    np.testing.assert_allclose(without, sum(v for k, v in terms.items() if k != "pool4"), atol=1e-6)


def test_terms_follow_the_reference_crops_of_vgg16():
    """VGG16's crops are 5, 9 and 31: the terms still add up to the output at any input size."""
    keras.utils.set_random_seed(0)
    model = _perturbed(models.fcn(21, "8s", backbone="vgg16"), names=("score_pool4", "score_pool3"), scale=0.01)
    assert models.crop_offsets(model) == {"score_pool4c": (5, 5), "score_pool3c": (9, 9), "score": (31, 31)}
    x = np.random.default_rng(0).uniform(-100, 100, (1, 37, 45, 3)).astype(np.float32)
    terms = pyramid.skip_contributions(model, x)
    assert terms["pool3"].shape == (1, 37, 45, 21) and np.abs(terms["pool3"]).max() > 0
    np.testing.assert_allclose(sum(terms.values()), model.predict_on_batch(x), atol=1e-4)


def test_terms_need_linear_upsampling_and_reference_names(inputs):
    with pytest.raises(ValueError, match="reference's layer names"):
        pyramid.skip_contributions(models.pooled_pixel_classifier(2), inputs)
    model = models.fcn(NUM_CLASSES, "16s")
    keras_model = keras.Model(model.inputs, model.outputs)
    keras_model.get_layer("upscore16").activation = keras.activations.relu
    with pytest.raises(ValueError, match="non-linear"):
        pyramid.skip_contributions(keras_model, inputs)
    with pytest.raises(ValueError, match="switches names skips"):
        pyramid.fuse_terms({"score_fr": np.zeros(1)}, switches={"pool5": False})


# --- fusion variants -----------------------------------------------------------------------------

def test_concatenation_starts_as_the_coarser_net_and_max_does_not(fcn32, inputs):
    summed = models.fcn(NUM_CLASSES, "16s")
    pyramid.transfer_weights(fcn32, summed)
    start = summed.predict_on_batch(inputs)
    concat = pyramid.fcn_with_fusion(NUM_CLASSES, "concat", "16s")
    report = pyramid.transfer_weights(fcn32, concat)
    assert "fuse_pool4" in report["new"] and "fuse_pool4" not in report["zeroed"]
    np.testing.assert_allclose(concat.predict_on_batch(inputs), start, atol=1e-6)
    maximum = pyramid.fcn_with_fusion(NUM_CLASSES, "max", "16s")
    pyramid.transfer_weights(fcn32, maximum)
    assert np.abs(maximum.predict_on_batch(inputs) - start).max() > 1e-4  # max(up, 0) clips the negative scores


def test_fusion_variants_build_with_the_reference_names():
    for fusion in pyramid.FUSIONS:
        model = pyramid.fcn_with_fusion(NUM_CLASSES, fusion, "8s")
        names = {layer.name for layer in model.layers}
        assert {"score_fr", "upscore2", "upscore_pool4", "upscore8", "fuse_pool4", "fuse_pool3", "score"} <= names
        assert model.output_shape == (None, None, None, NUM_CLASSES)
    random = pyramid.fcn_with_fusion(NUM_CLASSES, "concat", "16s", concat_init="random")
    kernel = random.get_layer("fuse_pool4").get_weights()[0]
    assert kernel.shape == (1, 1, NUM_CLASSES + models.MINI_VGG_BLOCKS[3][0], NUM_CLASSES)
    assert not np.allclose(kernel[0, 0, :NUM_CLASSES], np.eye(NUM_CLASSES))
    with pytest.raises(ValueError, match="fusion must be one of"):
        pyramid.fcn_with_fusion(NUM_CLASSES, "product")
    with pytest.raises(ValueError, match="variant must be one of"):
        pyramid.fcn_with_fusion(NUM_CLASSES, "max", "32s")


# --- the careless recipe -------------------------------------------------------------------------

def test_careless_fcn_randomises_what_the_recipe_says():
    careful = pyramid.careless_fcn(NUM_CLASSES, pyramid.Recipe())
    careless = pyramid.careless_fcn(NUM_CLASSES, pyramid.Recipe(bilinear_upsampling=False, zero_skips=False))
    assert pyramid.trainable_weights(careless) > pyramid.trainable_weights(careful)
    up = careless.get_layer("upscore8")
    assert up.trainable and not np.allclose(up.get_weights()[0], upsampling.bilinear_kernel(8, NUM_CLASSES))
    assert np.any(careless.get_layer("score_pool3").get_weights()[0])
    assert not np.any(careful.get_layer("score_pool3").get_weights()[0])
    scaled = pyramid.careless_fcn(NUM_CLASSES, pyramid.AT_ONCE)  # scaled skips belong to the at-once net
    assert "scale_pool4" in {layer.name for layer in scaled.layers}
    assert pyramid.Recipe().changed(staged=False).staged is False
    with pytest.raises(TypeError, match="pyramid.Recipe"):
        pyramid.careless_fcn(NUM_CLASSES, {"staged": False})


# --- the experiment runners, on a tiny budget ---------------------------------------------------------

TINY = pyramid.Budget(num_train=8, num_test=4, image_size=SIZE, epochs={"32s": 1, "16s": 1, "8s": 1},
                      learning_rates={"32s": 1e-3, "16s": 1e-3, "8s": 1e-3}, batch_size=4)


def test_staged_schedule_and_scores_on_a_tiny_budget():
    train_x, train_y, test_x, test_y = pyramid.course_data(TINY)
    assert train_x.shape == (8, SIZE, SIZE, 3) and train_x.dtype == np.float32 and test_y.shape == (4, SIZE, SIZE)
    lines = []
    result = pyramid.staged(TINY, (train_x, train_y), log=lines.append)
    assert list(result) == ["32s", "16s", "8s"] and len(lines) == 3
    assert result["32s"]["transfer"] is None and result["8s"]["transfer"]["zeroed"] == ["score_pool3"]
    assert result["32s"]["train_s"] < result["16s"]["train_s"] < result["8s"]["train_s"]
    assert result["8s"]["train_s"] == pytest.approx(sum(result[v]["seconds"] for v in ("32s", "16s", "8s")))
    row = pyramid.scores(result["8s"]["model"], test_x, test_y)
    assert 0 <= row["mean_iou"] <= 1 and len(row["per_class_iou"]) == NUM_CLASSES
    assert {f"trimap_iou_{w}px" for w in pyramid.TRIMAP_WIDTHS} <= set(row)
    assert row["predictions"].shape == test_y.shape and row["weights"] == pyramid.trainable_weights(
        result["8s"]["model"])
    table = pyramid.comparison_table({"FCN-8s": {**row, "train_s": 1.0}}, class_names=data.CLASS_NAMES)
    assert table.splitlines()[0].startswith("| model | mean IU | trimap IU 1 px") and "IU cross" in table
    once = pyramid.at_once(TINY, (train_x, train_y), epochs=1)
    assert "scale_pool3" in {layer.name for layer in once["model"].layers} and len(once["loss"]) == 1


def test_training_is_repeatable():
    train_x, train_y, *_ = pyramid.course_data(TINY)
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(7)  # the same initial weights; train() seeds the batches
        runs.append(pyramid.train(models.fcn(NUM_CLASSES, "32s"), train_x, train_y, epochs=1, learning_rate=1e-3,
                                  batch_size=4, seed=7)["loss"])
    assert runs[0] == runs[1]


def test_variant_and_weights_helpers():
    assert [pyramid.variant_of(models.fcn(NUM_CLASSES, v)) for v in models.VARIANTS] == list(models.VARIANTS)
    fcn8 = models.fcn(NUM_CLASSES, "8s")
    frozen = sum(int(np.prod(w.shape)) for w in fcn8.non_trainable_weights)
    assert pyramid.trainable_weights(fcn8) == fcn8.count_params() - frozen


def test_recipes_train_an_fcn8s_on_a_tiny_budget():
    train_x, train_y, test_x, test_y = pyramid.course_data(TINY)
    keras.utils.set_random_seed(0)
    classifier = models.mini_vgg_classifier()
    for recipe in (pyramid.PAPER, pyramid.AT_ONCE, pyramid.CARELESS):
        run = pyramid.train_recipe(recipe, TINY, (train_x, train_y), classifier=classifier)
        assert pyramid.variant_of(run["model"]) == "8s" and len(run["loss"]) == TINY.total_epochs
    with pytest.raises(ValueError, match="needs the pretrained classifier"):
        pyramid.train_recipe(pyramid.PAPER, TINY, (train_x, train_y))
    assert set(pyramid.FIXES) and all(pyramid.CARELESS.changed(**c) != pyramid.CARELESS for c in pyramid.FIXES.values())


def test_pretraining_and_staged_scores_on_a_tiny_budget():
    tiny = pyramid.Budget(num_train=4, num_test=2, image_size=SIZE, epochs={"32s": 1, "16s": 1, "8s": 1}, batch_size=4,
                          num_crops=16, classifier_epochs=1)
    lines = []
    classifier, cost = pyramid.pretrain_classifier(tiny, log=lines.append)
    assert classifier.name == "mini_vgg_classifier" and 0 <= cost["accuracy"] <= 1 and lines[0].startswith("classifier")
    results = pyramid.staged_scores(tiny, log=None)
    assert list(results) == ["32s", "16s", "8s"] and results["8s"]["cpu_s"] >= results["32s"]["cpu_s"]
    assert results["8s"]["pretrain_s"] > 0 and "trimap_iou_1px" in results["16s"]
    with pytest.raises(ValueError, match="no classifier pretraining"):
        pyramid.pretrain_classifier(TINY)
