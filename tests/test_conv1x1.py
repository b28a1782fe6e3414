import keras
import numpy as np
import pytest

from fcn_lessons import conv1x1, models

rng = np.random.default_rng(0)


def _randomize(model, seed=0):
    """Random weights (and BatchNorm statistics) so that nothing is trivially zero."""
    r = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([r.uniform(0.5, 1.5, w.shape).astype("float32") if isinstance(layer, keras.layers.BatchNormalization)
                               else r.standard_normal(w.shape).astype("float32") / np.sqrt(max(1, np.prod(w.shape[:-1])))
                               for w in weights])
    return model


def test_dense_kernel_is_a_1x1_conv_kernel():
    dense = keras.layers.Dense(4, activation="relu")
    x = rng.standard_normal((3, 5, 7, 6)).astype("float32")
    expected = np.asarray(dense(x))
    conv = keras.layers.Conv2D(4, 1, activation="relu")
    conv.build((None, 5, 7, 6))
    kernel, bias = dense.get_weights()
    conv.set_weights([conv1x1.dense_kernel_to_conv1x1(kernel), bias])
    np.testing.assert_allclose(np.asarray(conv(x)), expected, atol=1e-5)


def test_flatten_dense_kernel_follows_keras_flatten_order():
    h, w, c, k = 3, 4, 2, 5
    model = keras.Sequential([keras.Input((h, w, c)), keras.layers.Flatten(), keras.layers.Dense(k)])
    kernel, bias = model.layers[-1].get_weights()
    conv_kernel = conv1x1.flatten_dense_kernel_to_conv(kernel, (h, w, c))
    assert conv_kernel.shape == (h, w, c, k)
    # weight for pixel (i, j), channel ch sits at row (i * W + j) * C + ch
    np.testing.assert_array_equal(conv_kernel[2, 1, 1], kernel[(2 * w + 1) * c + 1])


def test_dense_to_conv_matches_the_dense_layer_and_slides():
    h, w, c, k = 2, 3, 4, 5
    dense = keras.layers.Dense(k, activation="sigmoid")
    dense.build((None, h * w * c))
    conv = conv1x1.dense_to_conv(dense, (h, w, c))
    assert isinstance(conv, keras.layers.Conv2D) and conv.padding == "valid" and conv.built
    x = rng.standard_normal((2, h, w, c)).astype("float32")
    np.testing.assert_allclose(np.asarray(conv(x)).reshape(2, k), np.asarray(dense(x.reshape(2, -1))), atol=1e-6)
    big = rng.standard_normal((1, h + 3, w + 1, c)).astype("float32")
    assert conv(big).shape == (1, 4, 2, k)
    # the output at (1, 0) is the Dense layer on the window starting at (1, 0)
    window = big[:, 1:1 + h, 0:w].reshape(1, -1)
    np.testing.assert_allclose(np.asarray(conv(big))[0, 1, 0], np.asarray(dense(window))[0], atol=1e-6)


def test_dense_to_conv_validates():
    dense = keras.layers.Dense(3)
    with pytest.raises(ValueError, match="not built yet"):
        conv1x1.dense_to_conv(dense, (1, 1, 4))
    dense.build((None, 12))
    with pytest.raises(ValueError, match=r"holds 8 values but the kernel has 12 rows"):
        conv1x1.dense_to_conv(dense, (2, 2, 2))
    with pytest.raises(ValueError, match=r"feature_shape must be \(H, W, C\)"):
        conv1x1.dense_to_conv(dense, 12)
    with pytest.raises(TypeError, match="must be a keras.layers.Dense"):
        conv1x1.dense_to_conv(keras.layers.Conv2D(3, 1), (1, 1, 12))
    with pytest.raises(ValueError, match=r"kernel must have rank 2 \(C, K\)"):
        conv1x1.dense_kernel_to_conv1x1(np.zeros((1, 1, 3, 4), "float32"))
    with pytest.raises(TypeError, match="kernel must have a float dtype"):
        conv1x1.dense_kernel_to_conv1x1(np.zeros((3, 4), "int32"))


def _flatten_classifier():
    return models.crop_classifier(24, 4, widths=(4, 6, 8), hidden_units=10)


def _gap_classifier():
    return keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(6, 3, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(8, 3),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(7, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(3),
        keras.layers.Softmax(),
    ])


def _gmp_functional_classifier():
    inputs = keras.Input((12, 12, 2))
    x = keras.layers.Conv2D(5, 3, strides=2)(inputs)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    outputs = keras.layers.Dense(4)(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("build, stride", [(_flatten_classifier, 4), (_gap_classifier, 2),
                                           (_gmp_functional_classifier, 2)])
def test_convolutionalize_equals_the_classifier_on_every_window(build, stride):
    classifier = _randomize(build())
    fcn = conv1x1.convolutionalize(classifier)
    size, channels = classifier.input_shape[1], classifier.input_shape[-1]
    crops = rng.uniform(0, 255, (3, size, size, channels)).astype("float32")
    expected = np.asarray(classifier(crops, training=False))
    np.testing.assert_allclose(np.asarray(fcn(crops, training=False)).reshape(expected.shape), expected,
                               rtol=1e-4, atol=1e-5)
    image = rng.uniform(0, 255, (size + 3 * stride, size + 2 * stride, channels)).astype("float32")
    dense_map = np.asarray(fcn.predict_on_batch(image[None]))[0]
    assert dense_map.shape[:2] == (4, 3)
    np.testing.assert_allclose(dense_map, conv1x1.sliding_window_scores(classifier, image, stride),
                               rtol=1e-4, atol=1e-5)


def test_convolutionalize_copies_weights_instead_of_sharing_them():
    classifier = _randomize(_flatten_classifier())
    fcn = conv1x1.convolutionalize(classifier)
    before = np.asarray(fcn.get_layer("conv1").kernel).copy()
    classifier.get_layer("conv1").kernel.assign(np.zeros(before.shape, "float32"))
    np.testing.assert_array_equal(np.asarray(fcn.get_layer("conv1").kernel), before)


def test_convolutionalize_vgg16_gives_the_paper_shapes():
    vgg = keras.applications.VGG16(weights=None, classifier_activation=None)
    fcn = conv1x1.convolutionalize(vgg)
    assert fcn.get_layer("fc1").kernel.shape == (7, 7, 512, 4096)
    assert fcn.get_layer("fc2").kernel.shape == (1, 1, 4096, 4096)
    assert fcn.count_params() == vgg.count_params() == 138_357_544
    assert fcn.compute_output_shape((1, 384, 384, 3)) == (1, 6, 6, 1000)


def test_convolutionalize_refuses_what_it_cannot_convert():
    bad_head = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                                 keras.layers.Dense(5), keras.layers.BatchNormalization(name="head_bn"),
                                 keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"cannot convert layer 'head_bn' \(BatchNormalization\)"):
        conv1x1.convolutionalize(bad_head)

    reshaping = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Reshape((8, 24), name="to_rows"),
                                  keras.layers.Reshape((8, 8, 3), name="reshape_back"),
                                  keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"layer 'to_rows' \(Reshape\) in the trunk"):
        conv1x1.convolutionalize(reshaping)

    no_head = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1)])
    with pytest.raises(ValueError, match="has no Flatten or global pooling layer"):
        conv1x1.convolutionalize(no_head)

    any_size = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1),
                                 keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="accepts any input size"):
        conv1x1.convolutionalize(any_size)

    inputs = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(3, 1)(inputs)
    merged = keras.layers.Add(name="skip")([a, inputs])
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(merged))
    with pytest.raises(ValueError, match=r"layer 'skip' \(Add\) does not take the previous layer's output"):
        conv1x1.convolutionalize(keras.Model(inputs, outputs))

    with pytest.raises(TypeError, match="model must be a keras.Model"):
        conv1x1.convolutionalize("vgg16")


def test_output_size_and_windows():
    assert conv1x1.output_size(128, 32, 4) == 25
    assert conv1x1.output_size(384, 224, 32) == 6
    assert conv1x1.output_size(20, 32, 4) == 0
    image = np.arange(10 * 12 * 2).reshape(10, 12, 2)
    crops = conv1x1.window_crops(image, 4, 3)
    assert crops.shape == (3, 3, 4, 4, 2)
    np.testing.assert_array_equal(crops[1, 2], image[3:7, 6:10])
    with pytest.raises(ValueError, match="smaller than the 32-pixel window"):
        conv1x1.window_crops(image, 32, 4)
    with pytest.raises(ValueError, match=r"image must have rank 3 \(H, W, C\)"):
        conv1x1.window_crops(image[..., 0], 4, 3)


def test_sliding_window_needs_a_fixed_square_input():
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.GlobalAveragePooling2D()])
    with pytest.raises(ValueError, match="square inputs of a fixed size"):
        conv1x1.sliding_window_scores(model, np.zeros((8, 8, 3), "float32"), 2)


def test_crop_classifier_validates():
    with pytest.raises(ValueError, match="divisible by the output stride 4"):
        models.crop_classifier(30)
    with pytest.raises(ValueError, match="too small for 3 valid"):
        models.crop_classifier(8)
    with pytest.raises(ValueError, match="padding must be one of"):
        models.crop_classifier(32, padding="causal")


def test_class_probability_map_is_a_softmax_over_windows():
    identity = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Identity()])
    logits = np.log(np.full((2, 3, 3), [1.0, 1.0, 2.0], "float32"))  # softmax: 1/4, 1/4, 1/2
    np.testing.assert_allclose(conv1x1.class_probability_map(identity, logits, 2), np.full((2, 3), 0.5), rtol=1e-6)
    doubled = conv1x1.class_probability_map(identity, logits, 0, preprocess=lambda batch: 2 * batch)
    np.testing.assert_allclose(doubled, np.full((2, 3), 1 / 6), rtol=1e-6)  # 1, 1, 4
    fcn = conv1x1.convolutionalize(_randomize(_flatten_classifier()))
    image = rng.uniform(0, 255, (24 + 8, 24 + 4, 3)).astype("float32")
    assert conv1x1.class_probability_map(fcn, image, 2).shape == (3, 2)
    with pytest.raises(ValueError, match="class_index must be <= 3"):
        conv1x1.class_probability_map(fcn, image, 4)
    with pytest.raises(ValueError, match=r"image must have rank 3 \(H, W, 3\)"):
        conv1x1.class_probability_map(fcn, image[None], 0)


def test_imagenet_weights_are_none_offline(monkeypatch):
    # How fast it gives up is a benchmark (python -m fcn_lessons.bench imagenet-offline), not a test.
    monkeypatch.setattr(conv1x1, "IMAGENET_WEIGHTS_HOST", "127.0.0.1")  # nothing listens on 443 here
    assert conv1x1.imagenet_vgg16(timeout_s=2) is None


def _torch_like_linear(x_chw, weight, bias):
    """What PyTorch computes: nn.Flatten() of (N, C, H, W), then x @ weight.T + bias."""
    return x_chw.reshape(len(x_chw), -1) @ weight.T + bias


def test_channels_first_linear_becomes_a_keras_convolution():
    c, h, w, k = 3, 2, 5, 4
    weight = rng.standard_normal((k, c * h * w)).astype("float32")
    bias = rng.standard_normal(k).astype("float32")
    kernel = conv1x1.channels_first_linear_to_conv_kernel(weight, (c, h, w))
    assert kernel.shape == (h, w, c, k)
    x_chw = rng.standard_normal((2, c, h, w)).astype("float32")
    conv = keras.layers.Conv2D(k, (h, w))
    conv.build((None, h, w, c))
    conv.set_weights([kernel, bias])
    expected = _torch_like_linear(x_chw, weight, bias)
    x_hwc = x_chw.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(np.asarray(conv(x_hwc)).reshape(2, k), expected, rtol=1e-5, atol=1e-5)
    dense = keras.Sequential([keras.Input((h, w, c)), keras.layers.Flatten(), keras.layers.Dense(k)])
    dense.layers[-1].set_weights([kernel.reshape(h * w * c, k), bias])
    np.testing.assert_allclose(np.asarray(dense(x_hwc)), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"holds 30 values but the weight has 24 columns"):
        conv1x1.channels_first_linear_to_conv_kernel(weight[:, :24], (c, h, w))
    with pytest.raises(ValueError, match=r"feature_shape must be \(C, H, W\)"):
        conv1x1.channels_first_linear_to_conv_kernel(weight, (c, h * w))
    with pytest.raises(ValueError, match=r"weight must have rank 2 \(K, C\*H\*W\)"):
        conv1x1.channels_first_linear_to_conv_kernel(weight[0], (c, h, w))


def test_flatten_order_is_what_flatten_does():
    h, w, c = 3, 4, 2
    keras_order = conv1x1.flatten_order((h, w, c))
    assert keras_order[2, 1, 1] == (2 * w + 1) * c + 1
    values = rng.standard_normal((h, w, c)).astype("float32")
    np.testing.assert_array_equal(np.asarray(keras.layers.Flatten()(values[None]))[0][keras_order], values)
    torch_order = conv1x1.flatten_order((h, w, c), "channels_first")
    assert torch_order[2, 1, 1] == (1 * h + 2) * w + 1
    np.testing.assert_array_equal(values.transpose(2, 0, 1).reshape(-1)[torch_order], values)
    with pytest.raises(ValueError, match="data_format must be one of 'channels_last', 'channels_first'"):
        conv1x1.flatten_order((h, w, c), "NCHW")


def test_score_map_size_follows_the_receptive_field_not_the_crop():
    # lesson 01's classifier reads 30 of its 32 pixels: a score exists where those 30 fit
    fcn = conv1x1.convolutionalize(models.crop_classifier())
    for size, expected in [(128, 25), (150, 31), (203, 44), (30, 1)]:
        assert fcn.compute_output_shape((1, size, size, 3))[1] == expected == conv1x1.output_size(size, 30, 4)
    assert conv1x1.output_size(29, 30, 4) == 0
    assert conv1x1.output_size(150, 32, 4) == 30  # the crop's formula is one short here


def test_work_per_output_counts_the_shared_arithmetic():
    classifier = models.crop_classifier()
    counts = conv1x1.multiply_adds(classifier, (32, 32, 3))
    assert counts == {"conv1": 30 * 30 * 27 * 32, "conv2": 13 * 13 * 288 * 64, "conv3": 4 * 4 * 576 * 64,
                      "fc1": 1024 * 64, "scores": 64 * 5}
    rows = {row["layer"]: row for row in conv1x1.work_per_output(classifier, conv1x1.convolutionalize(classifier),
                                                                 (256, 256, 3))}
    outputs = 57 * 57
    assert rows["conv1"]["dense"] == pytest.approx(254 * 254 * 27 * 32 / outputs)
    assert rows["fc1"]["sharing"] == pytest.approx(1.0)  # the head is not shared: once per output either way
    assert 21 < rows["total"]["sharing"] < 22
    with pytest.raises(ValueError, match="smaller than the classifier's receptive field"):
        conv1x1.work_per_output(classifier, conv1x1.convolutionalize(classifier), (20, 20, 3))
    with pytest.raises(ValueError, match=r"input_shape must be \(H, W, C\)"):
        conv1x1.multiply_adds(classifier, (32, 32))


def test_score_map_extent_centres_each_score_on_its_field():
    left, right, bottom, top = conv1x1.score_map_extent((3, 5), stride=4, offset=14.5)
    assert (left, top) == (12.5, 12.5)  # cell (0, 0) spans 12.5..16.5, centred at 14.5
    assert (right, bottom) == (14.5 + 4 * 4.5, 14.5 + 4 * 2.5)
    assert conv1x1.score_map_extent((1, 1), stride=(2, 4), offset=(1, 3)) == (1, 5, 2, 0)


def test_figures_draw(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fcn_lessons import data, receptive

    fig = conv1x1.plot_flatten_order((2, 3, 2))
    assert len(fig.axes) == 4 and "(i·W + j)·C + c" in "".join(t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)
    fcn = conv1x1.convolutionalize(models.crop_classifier())
    field = receptive.receptive_fields(fcn)["scores"]
    images, masks = data.make_shapes(1, image_size=64, seed=0)
    scores = np.asarray(fcn.predict_on_batch(images[:1].astype("float32")))[0]
    fig = conv1x1.plot_score_maps(images[0], masks[0], scores, field=field, window=32,
                                  class_names=data.CLASS_NAMES, position=(1, 2), score_offset=16)
    assert [ax.get_title() for ax in fig.axes[:3]] == ["score (1, 2): window and field", "label map",
                                                       "argmax of the scores"]
    assert fig.axes[2].images[0].get_extent() == list(conv1x1.score_map_extent(scores.shape, stride=4, offset=16))
    assert "score drawn at (20, 24)" in [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)
    with pytest.raises(ValueError, match="score_map has 5 classes; class_names lists 2"):
        conv1x1.plot_score_maps(images[0], masks[0], scores, field=field, window=32, class_names=["a", "b"])


def test_unflatten_kernel_reads_rows_in_either_flatten_order():
    h, w, c, k = 3, 4, 2, 5
    kernel = rng.standard_normal((h * w * c, k)).astype("float32")
    np.testing.assert_array_equal(conv1x1.unflatten_kernel(kernel, (h, w, c)), kernel.reshape(h, w, c, k))
    np.testing.assert_array_equal(conv1x1.flatten_dense_kernel_to_conv(kernel, (h, w, c)), kernel.reshape(h, w, c, k))
    first = conv1x1.unflatten_kernel(kernel, (h, w, c), "channels_first")
    np.testing.assert_array_equal(first[2, 1, 1], kernel[(1 * h + 2) * w + 1])  # (c·H + i)·W + j
    with pytest.raises(ValueError, match="holds 24 values but the kernel has 23 rows"):
        conv1x1.unflatten_kernel(kernel[:23], (h, w, c))


def test_dense_kernel_becomes_the_weight_of_a_pytorch_linear():
    h, w, c, k = 2, 5, 3, 4
    kernel = rng.standard_normal((h * w * c, k)).astype("float32")
    bias = rng.standard_normal(k).astype("float32")
    weight = conv1x1.dense_kernel_to_channels_first_linear(kernel, (h, w, c))
    assert weight.shape == (k, c * h * w)
    x_hwc = rng.standard_normal((2, h, w, c)).astype("float32")
    keras_scores = x_hwc.reshape(2, -1) @ kernel + bias
    np.testing.assert_allclose(_torch_like_linear(x_hwc.transpose(0, 3, 1, 2), weight, bias), keras_scores,
                               rtol=1e-5, atol=1e-5)
    back = conv1x1.channels_first_linear_to_conv_kernel(weight, (c, h, w))  # the other direction
    np.testing.assert_array_equal(back.reshape(h * w * c, k), kernel)
    with pytest.raises(ValueError, match=r"feature_shape \(2, 5, 2\) holds 20 values but the kernel has 30 rows"):
        conv1x1.dense_kernel_to_channels_first_linear(kernel, (h, w, 2))


def test_global_average_pooling_and_dense_are_one_convolution():
    h, w, c, k = 3, 4, 2, 5
    dense = keras.layers.Dense(k, activation="relu", bias_initializer="random_normal")
    dense.build((None, c))
    conv = conv1x1.global_average_dense_to_conv(dense, (h, w, c))
    assert conv.kernel_size == (h, w) and conv.padding == "valid" and conv.built
    np.testing.assert_allclose(np.asarray(conv.kernel)[1, 2], np.asarray(dense.kernel) / (h * w), rtol=1e-6)
    x = rng.standard_normal((2, h, w, c)).astype("float32")
    pooled = keras.Sequential([keras.Input((h, w, c)), keras.layers.GlobalAveragePooling2D(), dense])
    np.testing.assert_allclose(np.asarray(conv(x)).reshape(2, k), np.asarray(pooled(x)), atol=1e-5)
    big = rng.standard_normal((1, h + 2, w + 1, c)).astype("float32")
    window = big[:, 2:2 + h, 1:1 + w]  # output (2, 1) averages this window
    np.testing.assert_allclose(np.asarray(conv(big))[0, 2, 1], np.asarray(pooled(window))[0], atol=1e-5)
    with pytest.raises(ValueError, match="has 3 channels but Dense layer"):
        conv1x1.global_average_dense_to_conv(dense, (h, w, 3))
    with pytest.raises(ValueError, match="not built yet"):
        conv1x1.global_average_dense_to_conv(keras.layers.Dense(2), (h, w, c))
    with pytest.raises(TypeError, match="dense_layer must be a keras.layers.Dense"):
        conv1x1.global_average_dense_to_conv(conv, (h, w, c))


def test_same_padding_changes_a_windows_features_at_its_border_only():
    from fcn_lessons import data

    image = data.make_shapes(1, image_size=64, seed=1)[0][0].astype("float32")
    valid = _randomize(models.crop_classifier())
    assert conv1x1.window_feature_mismatch(valid, "conv3", image, (2, 3)).max() < 1e-5
    same = models.crop_classifier(padding="same")
    for name in ("conv1", "conv2", "conv3"):
        same.get_layer(name).set_weights(valid.get_layer(name).get_weights())
    mismatch = conv1x1.window_feature_mismatch(same, "conv3", image, (2, 3))
    assert mismatch.shape == (8, 8)
    assert mismatch[2:6, 2:6].max() < 1e-5  # fields of units 2-5 (pixels 4u - 7 .. 4u + 10) lie inside the crop
    assert mismatch[0].min() > 1e-3 and mismatch[:, -1].min() > 1e-3
    with pytest.raises(ValueError, match="outside the image"):
        conv1x1.window_feature_mismatch(valid, "conv3", image, (9, 0))
    with pytest.raises(ValueError, match="layer_name must name a layer"):
        conv1x1.window_feature_mismatch(valid, "dense", image, (0, 0))


def test_label_agreement_finds_the_pixel_a_score_predicts():
    labels = rng.integers(0, 3, (4, 40, 40)).astype("uint8")
    labels[:, 0] = 255
    stride, true_offset = 4, 6
    predicted = labels[:, true_offset::stride, true_offset::stride][:, :8, :8]
    rows = conv1x1.label_agreement_by_offset(predicted, labels, stride=stride, offsets=range(3, 10))
    by_offset = {row["offset"]: row for row in rows}
    assert by_offset[true_offset]["all"] == 1.0 and by_offset[true_offset]["objects"] == 1.0
    assert max(row["all"] for row in rows if row["offset"] != true_offset) < 0.6
    one_hot = np.eye(3)[predicted]  # scores: the argmax is taken
    assert conv1x1.label_agreement_by_offset(one_hot, labels, stride=stride, offsets=[true_offset]) == [
        by_offset[true_offset]]
    assert conv1x1.agreement_peak(rows) == pytest.approx(true_offset, abs=0.5)
    parabola = [{"offset": o, "objects": -(o - 15.3) ** 2} for o in range(12, 20)]
    assert conv1x1.agreement_peak(parabola) == pytest.approx(15.3)
    assert conv1x1.agreement_peak(parabola[:3]) == 14  # the best at an end: that offset itself
    with pytest.raises(ValueError, match="score_maps must be"):
        conv1x1.label_agreement_by_offset(predicted[:2], labels, stride=stride, offsets=[6])


def test_time_dense_and_sliding_reports_both_clocks():
    classifier = models.crop_classifier()
    fcn = conv1x1.convolutionalize(classifier)
    images = np.zeros((2, 40, 44, 3), np.float32)
    timing = conv1x1.time_dense_and_sliding(classifier, fcn, images, 4, repeats=1, batch_size=2)
    assert set(timing) == {"dense_s", "sliding_s", "dense_cpu_s", "sliding_cpu_s", "crops_cpu_s", "call_cpu_s",
                           "calls", "outputs"}
    assert timing["outputs"] == 2 * 3 * 4 and timing["calls"] == 2 * 6  # 12 crops per image, 2 per call
    assert all(timing[key] >= 0 for key in timing)
