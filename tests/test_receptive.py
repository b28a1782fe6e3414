"""fcn_lessons.receptive: the recurrence, Keras models, published numbers, gradients."""

import itertools

import keras
import numpy as np
import pytest

from fcn_lessons import models, receptive

L = keras.layers


# --- the face: every name of the former receptive.py -----------------------------------------

OLD_NAMES = ["Layer1D", "conv_step", "recurrence", "support_1d", "dilation_schedule", "ReceptiveField",
             "receptive_fields", "field_table", "EmpiricalField", "unit_gradients", "empirical_receptive_field",
             "distance_to_boundary", "accuracy_by_distance", "accuracy_profile", "coarse_oracle", "plot_box",
             "draw_stack_1d", "_number", "_format"]  # the last two: used by checks and widgets


def test_every_name_of_the_old_module_is_importable_from_the_face():
    from fcn_lessons import labels, metrics
    from fcn_lessons.receptive import drawing, gradients, keras_walker, recurrence1d

    missing = [name for name in OLD_NAMES if not hasattr(receptive, name)]
    assert not missing
    assert set(receptive.__all__) <= set(dir(receptive))
    assert receptive.recurrence is recurrence1d.recurrence
    assert receptive.receptive_fields is keras_walker.receptive_fields
    assert receptive.unit_gradients is gradients.unit_gradients and receptive.draw_stack_1d is drawing.draw_stack_1d
    assert receptive.accuracy_by_distance is metrics.accuracy_by_distance
    assert receptive.accuracy_profile is metrics.accuracy_profile and receptive.coarse_oracle is labels.coarse_oracle


# --- the 1-D recurrence -------------------------------------------------------------------

def test_recurrence_docstring_example():
    assert receptive.recurrence([(3,), (3,), (2, 2)]) == [(3, 1, 1), (5, 1, 2), (6, 2, 2.5)]


def test_recurrence_by_hand():
    # 'same' 3-tap conv (pad 1) keeps unit 0 on pixel 0; a 2-wide pooling centres it at 0.5;
    # a dilated conv after it reaches d (k - 1) = 4 units of jump 2 = 8 more pixels.
    steps = receptive.recurrence([receptive.Layer1D(3, 1, 1), receptive.Layer1D(2, 2),
                                  receptive.Layer1D(3, 1, 2, 2)])
    assert steps == [(3, 1, 0), (4, 2, 0.5), (12, 2, 0.5)]


def test_size_uses_the_jump_before_the_stride():
    # a stride-2 3-tap conv is 3 pixels wide, not 5
    assert receptive.recurrence([(3, 2)]) == [(3, 2, 1)]


@pytest.mark.parametrize("bad, match", [
    (5, "must be a list"),
    ([(0,)], r"layers\[0\]\.kernel must be >= 1"),
    ([(3, 1, -1)], r"layers\[0\]\.padding must be >= 0"),
    ([(3, 1, 0, 1, 9)], "must be \\(kernel, stride, padding, dilation\\)"),
    ([(3.0,)], r"layers\[0\]\.kernel must be an int"),
])
def test_recurrence_validates_its_layers(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        receptive.recurrence(bad)


def test_support_has_holes_exactly_when_a_dilation_outgrows_the_field():
    assert receptive.support_1d([(3, 1, 0, 1), (3, 1, 0, 2), (3, 1, 0, 4)]).all()
    gridded = receptive.support_1d([(3, 1, 0, 2), (3, 1, 0, 2)])
    assert len(gridded) == 9 and gridded.tolist() == [True, False] * 4 + [True]
    strided = receptive.support_1d([(1, 2), (3, 1)])  # a 1-tap stride-2 layer skips every other pixel
    assert strided.tolist() == [True, False, True, False, True]


@pytest.mark.parametrize("layers", [1, 2, 3, 4, 5])
def test_dilation_schedule_reaches_every_reachable_target_without_holes(layers):
    for target in range(1, 3 ** layers + 1):
        dilations = receptive.dilation_schedule(target, layers)
        support = receptive.support_1d([(3, 1, 0, d) for d in dilations])
        assert len(dilations) == layers and min(dilations) >= 1
        assert len(support) >= target and support.all(), (target, dilations)
    with pytest.raises(ValueError, match="out of reach"):
        receptive.dilation_schedule(3 ** layers + 1, layers)


def test_dilation_schedule_doubles_for_the_classic_context_module():
    dilations = receptive.dilation_schedule(63, 5)
    assert len(receptive.support_1d([(3, 1, 0, d) for d in dilations])) == 63


# --- published numbers: VGG16 and FCN-VGG16 -----------------------------------------------

@pytest.fixture(scope="module")
def fcn_vgg16():
    """VGG16's trunk (no weights downloaded) with fc6 as a 7×7 and fc7 as a 1×1 convolution.

    Channel counts do not change a field, so fc6/fc7 get 8 channels instead of 4096 (the
    notebook uses the real 4096-channel layers).
    """
    trunk = keras.applications.VGG16(weights=None, include_top=False)
    x = L.Conv2D(8, 7, activation="relu", name="fc6")(trunk.output)
    x = L.Dropout(0.5, name="drop6")(x)
    x = L.Conv2D(8, 1, activation="relu", name="fc7")(x)
    return keras.Model(trunk.input, x)


def test_vgg16_pool3_pool4_pool5_match_the_paper(fcn_vgg16):
    fields = receptive.receptive_fields(fcn_vgg16)
    for name, size, stride in [("block3_pool", 44, 8), ("block4_pool", 100, 16), ("block5_pool", 212, 32)]:
        assert fields[name].size == (size, size) and fields[name].stride == (stride, stride), name
    # the receptive_field library's "effective padding" of pool5: (212 - 1) / 2 - offset = 90
    assert (fields["block5_pool"].size[0] - 1) / 2 - fields["block5_pool"].offset[0] == 90


def test_fcn_vgg16_fc6_fc7_reach_404(fcn_vgg16):
    fields = receptive.receptive_fields(fcn_vgg16)
    assert fields["fc6"].size == (404, 404) == fields["fc7"].size  # 212 + 6 * 32
    assert fields["fc7"].stride == (32, 32)
    assert list(fields)[-3:] == ["fc6", "drop6", "fc7"]


def test_fcn_vgg16_map_sizes_follow_keras(fcn_vgg16):
    fields = receptive.receptive_fields(fcn_vgg16, input_size=500)
    assert fields["block5_pool"].map_size == (15, 15)
    assert fields["fc7"].map_size == (9, 9)


# How fast the table is: a figure of the benchmark ``python -m fcn_lessons.bench receptive-vgg16``
# (docs/RESULTS.md), not a timed assertion here.


# --- random stacks against gradients --------------------------------------------------------

def _randomize(model, rng):
    """Random weights, and biases that keep most ReLUs open, so gradients reach the edges."""
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if isinstance(layer, L.BatchNormalization):
            gamma, beta, mean, var = weights
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, var.shape)])
            continue
        new = [rng.standard_normal(weights[0].shape)]
        if len(weights) > 1:
            new.append(rng.uniform(0.5, 1.0, weights[1].shape))
        layer.set_weights([w.astype("float32") for w in new])
    return model


def _conv_stack(rng, mode: str) -> list:
    """Random layers.

    mode "valid": no padding anywhere, so every unit reads real pixels only; "same": 'same'
    layers whose strides keep each map aligned with the image (padding lies outside it),
    maybe after an initial ZeroPadding2D, and no holes (no dilation, no skipping strides);
    "any": anything, upsampling included.
    """
    kinds = {"valid": ["conv", "conv", "pool", "bn", "crop"], "same": ["conv", "conv", "pool", "bn"],
             "any": ["conv", "conv", "pool", "bn", "pad", "crop", "tconv", "up"]}[mode]
    layers = []
    if mode == "same" and rng.uniform() < 0.5:
        layers.append(L.ZeroPadding2D(tuple(tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in "hw")))
    for _ in range(int(rng.integers(2, 6))):
        kind = rng.choice(kinds)
        padding = {"valid": "valid", "same": "same"}.get(mode) or str(rng.choice(["valid", "same"]))
        if kind == "conv":
            stride = int(rng.choice([1, 1, 2]))
            dilation = (int(rng.choice([1, 2, 3])), int(rng.choice([1, 2]))) if stride == 1 else 1
            kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
            if mode == "same":  # no holes: with holes at the border the clipped box is only a bound
                dilation = 1
                if stride > 1:
                    kernel = (int(rng.integers(2, 5)),) * 2  # a 1-tap stride-2 layer would skip pixels
            layers.append(L.Conv2D(2, kernel, strides=stride, dilation_rate=dilation, padding=padding,
                                   activation=str(rng.choice(["relu", "linear"]))))
        elif kind == "pool":
            pool = L.MaxPooling2D if rng.uniform() < 0.5 else L.AveragePooling2D
            size = int(rng.integers(2, 4))
            layers.append(pool(size, strides=size if mode == "same" else int(rng.integers(1, 3)), padding=padding))
        elif kind == "bn":
            layers.append(L.BatchNormalization())
        elif kind == "pad":
            layers.append(L.ZeroPadding2D(tuple(tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in "hw")))
        elif kind == "crop":
            layers.append(L.Cropping2D(tuple(tuple(int(v) for v in rng.integers(0, 2, 2)) for _ in "hw")))
        elif kind == "tconv":
            layers.append(L.Conv2DTranspose(2, int(rng.integers(1, 5)), strides=int(rng.integers(1, 4)),
                                            padding=padding))
        else:
            layers.append(L.UpSampling2D(int(rng.integers(2, 4)), interpolation=str(rng.choice(["nearest", "bilinear"]))))
    return layers


def _random_model(seed, mode):
    rng = np.random.default_rng(seed)
    while True:
        # "same" stacks: a size divisible by every stride they use (2, 3, 4, 6, ...), unless padded
        size = (24, 36) if mode == "same" else (int(rng.integers(20, 34)), int(rng.integers(20, 34)))
        try:
            model = keras.Sequential([keras.Input((*size, 2))] + _conv_stack(rng, mode))
        except ValueError:  # 'valid' layers shrank the map to nothing
            continue
        if min(model.outputs[0].shape[1:3]) >= 1:
            return _randomize(model, rng), rng


def _units(rng, map_size, count=6):
    h, w = map_size
    corners = [(0, 0), (h - 1, w - 1), (0, w - 1), (h - 1, 0)]
    inner = [(int(rng.integers(0, h)), int(rng.integers(0, w))) for _ in range(count - len(corners))]
    return sorted(set(corners + inner))


def _measured(model, unit, rng, size):
    inputs = rng.uniform(-1, 1, (16, *size, 2)).astype("float32")
    return receptive.empirical_receptive_field(model, model.layers[-1].name, unit, inputs=inputs).box


@pytest.mark.parametrize("seed", range(12))
def test_map_sizes_match_keras(seed):
    model, _ = _random_model(seed, "any")
    fields = receptive.receptive_fields(model)
    for layer in model.layers:
        assert fields[layer.name].map_size == tuple(layer.output.shape[1:3]), layer.name


def _layer_names(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("seed", range(10))
def test_gradients_fill_the_box_without_padding(seed):
    """'valid' layers only: every unit's non-zero gradients span exactly its box."""
    model, rng = _random_model(seed, "valid")
    size = tuple(model.inputs[0].shape[1:3])
    field = receptive.receptive_fields(model)[model.layers[-1].name]
    for unit in _units(rng, field.map_size):
        assert _measured(model, unit, rng, size) == field.box(unit), (unit, _layer_names(model))


@pytest.mark.parametrize("seed", range(100, 110))
def test_gradients_fill_the_box_clipped_at_the_image_border(seed):
    """'same' layers aligned with the image: border units see their box clipped to the image."""
    model, rng = _random_model(seed, "same")
    size = tuple(model.inputs[0].shape[1:3])
    field = receptive.receptive_fields(model)[model.layers[-1].name]
    for unit in _units(rng, field.map_size):
        assert _measured(model, unit, rng, size) == field.box(unit, size), (unit, _layer_names(model))


@pytest.mark.parametrize("seed", range(200, 210))
def test_upsampled_fields_hold_every_unit_and_are_tight(seed):
    """After fractional strides the box bounds each unit's field; some unit reaches an edge."""
    model, rng = _random_model(seed, "any")
    size = tuple(model.inputs[0].shape[1:3])
    field = receptive.receptive_fields(model)[model.layers[-1].name]
    reached = set()
    for unit in _units(rng, field.map_size, count=10):
        measured = _measured(model, unit, rng, size)
        if measured is None:  # a unit made of padding only
            continue
        box = field.box(unit)
        assert box[0] <= measured[0] and box[1] <= measured[1], (unit, measured, box, _layer_names(model))
        assert measured[2] <= box[2] and measured[3] <= box[3], (unit, measured, box, _layer_names(model))
        reached |= {i for i in range(4) if measured[i] == box[i]}
    assert reached, "the box is larger than every unit's field: not tight"


@pytest.mark.parametrize("size", [31, 32, 33])
def test_same_padding_with_stride_2_depends_on_the_input_size(size):
    model = keras.Sequential([keras.Input((size, size, 1)), L.Conv2D(1, 4, strides=2, padding="same"),
                              L.Conv2D(1, 3, strides=2, padding="same")])
    _randomize(model, np.random.default_rng(size))
    field = receptive.receptive_fields(model)[model.layers[-1].name]
    rng = np.random.default_rng(0)
    inputs = rng.uniform(-1, 1, (4, size, size, 1)).astype("float32")
    for unit in [(1, 1), (3, 4)]:
        measured = receptive.empirical_receptive_field(model, model.layers[-1].name, unit, inputs=inputs).box
        assert measured == field.box(unit, (size, size))


def test_unknown_input_size_assumes_a_multiple_of_the_stride():
    # TF pads max((out - 1) * 2 + 3 - n, 0) pixels, the smaller half first: 1 -> 0 + 1 for n = 32,
    # 2 -> 1 + 1 for n = 33: unit 0 moves by a pixel
    dynamic = keras.Sequential([keras.Input((None, None, 1)), L.Conv2D(1, 3, strides=2, padding="same")])
    static = keras.Sequential([keras.Input((32, 32, 1)), L.Conv2D(1, 3, strides=2, padding="same")])
    assert receptive.receptive_fields(dynamic)[dynamic.layers[0].name] == \
        receptive.receptive_fields(static)[static.layers[0].name]
    odd = receptive.receptive_fields(dynamic, input_size=33)[dynamic.layers[0].name]
    assert odd.offset == (0, 0) and receptive.receptive_fields(dynamic)[dynamic.layers[0].name].offset == (1, 1)
    assert odd.map_size == (17, 17)


# --- merges, nesting, errors ---------------------------------------------------------------

def _two_branches(merge, second=L.Conv2D(2, 5, padding="same", name="wide")):
    inputs = keras.Input((None, None, 2))
    narrow = L.Conv2D(2, 3, padding="same", name="narrow")(inputs)
    wide = second(inputs)
    return keras.Model(inputs, merge(name="merge")([narrow, wide]))


@pytest.mark.parametrize("merge", [L.Add, L.Concatenate, L.Maximum, L.Average])
def test_a_merge_takes_the_union_of_its_inputs(merge):
    fields = receptive.receptive_fields(_two_branches(merge))
    assert fields["narrow"].size == (3, 3) and fields["wide"].size == (5, 5)
    assert fields["merge"].size == (5, 5) and fields["merge"].offset == (0, 0)


def test_a_merge_of_shifted_fields_is_their_bounding_box():
    inputs = keras.Input((None, None, 2))
    narrow = L.Conv2D(2, 3, name="narrow")(inputs)  # centred at 1
    wide = L.Conv2D(2, 3, padding="same", name="wide")(inputs)  # centred at 0
    cropped = L.Cropping2D(1, name="crop")(wide)  # now centred at 1, same size map as narrow
    model = keras.Model(inputs, L.Add(name="merge")([narrow, cropped]))
    fields = receptive.receptive_fields(model)
    assert fields["merge"].offset == (1, 1) and fields["merge"].size == (3, 3)  # aligned: one field
    shifted = keras.Model(inputs, L.Add(name="merge2")([narrow, L.Cropping2D(((2, 0), (2, 0)))(
        L.ZeroPadding2D(((0, 2), (0, 2)))(narrow))]))
    merged = receptive.receptive_fields(shifted)["merge2"]
    assert merged.size == (5, 5) and merged.offset == (2, 2)  # [0, 2] ∪ [2, 4]


def test_a_merge_of_different_strides_is_refused():
    inputs = keras.Input((16, 16, 1))
    a = L.Conv2D(1, 3, strides=2, padding="same", name="strided")(inputs)
    b = L.Cropping2D(((0, 8), (0, 8)), name="cropped")(inputs)  # 8×8 as well, but stride 1
    model = keras.Model(inputs, L.Add(name="bad_add")([a, b]))
    with pytest.raises(ValueError, match=r"layer 'bad_add' \(Add\).*strides \[1(\.0)?, 2(\.0)?\]"):
        receptive.receptive_fields(model)


def test_nested_models_are_entered():
    inner = keras.Sequential([keras.Input((None, None, 2)), L.Conv2D(2, 3, name="c"),
                              L.MaxPooling2D(2, name="p")], name="block")
    inputs = keras.Input((None, None, 2))
    x = L.Conv2D(2, 3, name="stem")(inputs)
    model = keras.Model(inputs, L.Conv2D(2, 3, name="head")(inner(x)))
    fields = receptive.receptive_fields(model)
    assert list(fields) == ["stem", "block/c", "block/p", "head"]
    assert fields["head"].size == (10, 10) and fields["head"].stride == (2, 2)


def test_flatten_is_named_with_what_to_do():
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(1, 3), L.Flatten(name="flat"), L.Dense(2)])
    with pytest.raises(ValueError, match=r"layer 'flat' \(Flatten\).*whole input.*convolutionalize"):
        receptive.receptive_fields(model)


def test_an_unknown_layer_is_named_and_can_be_declared_pointwise():
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(1, 3, name="c"),
                              L.Lambda(lambda t: t * 2, name="double")])
    with pytest.raises(ValueError, match=r"layer 'double' \(Lambda\).*pointwise=\[Lambda\]"):
        receptive.receptive_fields(model)
    assert receptive.receptive_fields(model, pointwise=["double"])["double"].size == (3, 3)
    assert receptive.receptive_fields(model, pointwise=[L.Lambda])["double"].size == (3, 3)


def test_channel_axis_layers_only():
    model = keras.Sequential([keras.Input((8, 8, 1)), L.BatchNormalization(axis=1, name="bn_rows")])
    with pytest.raises(ValueError, match="bn_rows.*mixes positions"):
        receptive.receptive_fields(model)
    cat = _two_branches(lambda name: L.Concatenate(axis=1, name=name))
    with pytest.raises(ValueError, match="concatenates along axis 1"):
        receptive.receptive_fields(cat)


@pytest.mark.parametrize("call, match", [
    (lambda: receptive.receptive_fields("vgg"), "must be a keras.Model"),
    (lambda: receptive.receptive_fields(keras.Sequential([keras.Input((8,)), L.Dense(2)])), r"\(N, H, W, C\)"),
    (lambda: receptive.receptive_fields(keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(1, 3)]),
                                        input_size=9), "contradicts"),
    (lambda: receptive.receptive_fields(keras.Sequential([keras.Input((None, None, 1)), L.Conv2D(1, 9)]),
                                        input_size=5), "smaller than its 9-pixel window"),
])
def test_bad_arguments_say_what_was_expected(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


def test_the_vgg_style_classifier_of_lesson_01_reports_its_flatten():
    with pytest.raises(ValueError, match="'flatten'"):
        receptive.receptive_fields(models.crop_classifier())


# --- ReceptiveField ------------------------------------------------------------------------

def test_box_and_centre():
    field = receptive.ReceptiveField((44, 44), (8, 8), (3.5, 3.5))
    assert field.centre((0, 0)) == (3.5, 3.5) and field.centre((2, 1)) == (19.5, 11.5)
    assert field.box((0, 0)) == (-18, -18, 25, 25)  # 44 pixels: 3.5 ± 21.5
    assert field.box((0, 0), (64, 64)) == (0, 0, 25, 25)
    assert field.box((20, 0), (64, 64)) is None  # entirely below the image
    assert str(field) == "size 44, stride 8, offset (3.5, 3.5)"
    with pytest.raises(ValueError, match="position must be"):
        field.centre(3)


def test_field_table_lists_layers_in_order():
    model = keras.Sequential([keras.Input((32, 32, 3)), L.Conv2D(2, 3, name="conv"), L.MaxPooling2D(2, name="pool")])
    text = receptive.field_table(receptive.receptive_fields(model))
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "field", "stride", "offset", "map"]
    assert lines[1].split() == ["conv", "3", "1", "1,", "1", "30×30"]
    assert lines[2].split() == ["pool", "4", "2", "1.5,", "1.5", "15×15"]
    with pytest.raises(KeyError, match="'nope' is not in fields"):
        receptive.field_table(receptive.receptive_fields(model), layers=["nope"])


# --- measured fields ---------------------------------------------------------------------

def test_effective_field_is_much_smaller_than_the_theoretical_one():
    """Luo et al.: the gradient of a deep stack concentrates in a small centre."""
    model = models.pixel_classifier((1,) * 20, width=4)
    theory = receptive.receptive_fields(model)["scores"].size[0]  # 41
    measured = receptive.empirical_receptive_field(model, "scores", (32, 32), input_size=(64, 64), num_inputs=8,
                                                   seed=1)
    assert measured.box == (12, 12, 52, 52)  # all 41 × 41 pixels take part...
    assert max(measured.effective_size(0.9)) < 0.5 * theory  # ...but 90% of the gradient sits in the middle
    assert measured.centre == (32, 32)


def test_empirical_field_validates_position_and_layer():
    model = models.pixel_classifier((1, 1), width=2)
    with pytest.raises(ValueError, match=r"outside the 16×16 output map"):
        receptive.empirical_receptive_field(model, "scores", (16, 0), input_size=16)
    with pytest.raises(ValueError, match="no layer 'nope'"):
        receptive.empirical_receptive_field(model, "nope", (0, 0), input_size=16)
    with pytest.raises(ValueError, match="pass input_size"):
        receptive.empirical_receptive_field(model, "scores", (0, 0))


def test_effective_size_of_a_known_profile():
    gradient = np.zeros((9, 9))
    gradient[4, 2:7] = 1.0  # 5 pixels in one row
    field = receptive.EmpiricalField(gradient=gradient, nonzero=gradient > 0, centre=(4, 4), num_inputs=1)
    assert field.box == (4, 2, 4, 6)
    assert field.effective_size(1.0) == (1, 5)
    assert field.effective_size(0.5) == (1, 3)


# --- layers shared between models, and the sub-model cache -------------------------------

def _shared_layer_models():
    """``shared`` is called in model A on A's input and in model B after a 3×3 conv of B's own."""
    shared = L.Conv2D(2, 3, name="shared")
    a_input = keras.Input((16, 16, 1))
    model_a = keras.Model(a_input, shared(a_input), name="A")
    b_input = keras.Input((16, 16, 1))
    before = L.Conv2D(1, 3, padding="same", name="before")(b_input)
    model_b = keras.Model(b_input, L.Conv2D(2, 1, name="head")(shared(before)), name="B")
    rng = np.random.default_rng(0)
    _randomize(model_a, rng)
    _randomize(model_b, rng)
    return model_a, model_b


def test_a_layer_shared_between_two_models_gets_each_models_field():
    model_a, model_b = _shared_layer_models()
    assert receptive.receptive_fields(model_a)["shared"].size == (3, 3)
    assert receptive.receptive_fields(model_b)["shared"].size == (5, 5)  # after B's own 3×3 conv
    inputs = np.random.default_rng(1).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    for model, size in ((model_a, 3), (model_b, 5)):
        field = receptive.receptive_fields(model)["shared"]
        measured = receptive.empirical_receptive_field(model, "shared", (6, 6), inputs=inputs)
        assert measured.box == field.box((6, 6)) and measured.box[2] - measured.box[0] + 1 == size, model.name
    # a third model calling the layer again on B's tensors adds a node, but not to B's graph
    again = model_b.get_layer("shared")(model_b.get_layer("before").output)
    keras.Model(model_b.input, L.Conv2D(2, 1, name="other")(again))
    assert receptive.receptive_fields(model_b)["shared"].size == (5, 5)
    assert receptive.empirical_receptive_field(model_b, "shared", (6, 6), inputs=inputs).box == (5, 5, 9, 9)


def test_a_model_built_on_another_models_tensors_shares_its_layers():
    """Lesson 05's staged training: FCN-16s grows on FCN-32s' graph, each layer called once."""
    model_a, _ = _shared_layer_models()
    grown = keras.Model(model_a.input, L.Conv2D(1, 3, name="extra")(model_a.output))
    fields = receptive.receptive_fields(grown)
    assert fields["shared"].size == (3, 3) and fields["extra"].size == (5, 5)
    inputs = np.ones((1, 16, 16, 1), np.float32)
    assert receptive.empirical_receptive_field(grown, "extra", (0, 0), inputs=inputs).box == (0, 0, 4, 4)


def test_a_layer_called_twice_in_one_model_is_refused():
    conv = L.Conv2D(1, 3, padding="same", name="twice")
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, conv(conv(inputs)))
    with pytest.raises(ValueError, match=r"layer 'twice' \(Conv2D\) is applied 2 times"):
        receptive.receptive_fields(model)


def test_the_sub_model_cache_keeps_no_model_alive():
    import gc
    import weakref

    from fcn_lessons.receptive import gradients

    model = models.pixel_classifier((1, 1), width=2)
    inputs = np.zeros((1, 16, 16, 3), np.float32)
    receptive.unit_gradients(model, "scores", (3, 3), inputs)
    cached = gradients._submodel(model, "scores")
    assert gradients._submodel(model, "scores") is cached  # a second call reuses the sub-model
    alive = weakref.ref(model)
    del model, cached
    gc.collect()
    assert alive() is None, "the cache of sub-models keeps the model alive"


# --- centres and edges ---------------------------------------------------------------------

def test_distance_to_boundary():
    mask = np.zeros((9, 9), np.uint8)
    mask[1:8, 1:8] = 2
    mask[0, :] = 255
    distance = receptive.distance_to_boundary(mask)
    assert distance[4, 4] == pytest.approx(4.0)  # the centre of a 7×7 square: 4 pixels from outside
    assert distance[1, 4] == pytest.approx(1.0) and distance[0, 4] == 0  # void
    assert receptive.distance_to_boundary(mask[None]).shape == (1, 9, 9)


def test_accuracy_by_distance_splits_centres_and_edges():
    mask = np.zeros((1, 12, 12), np.uint8)
    mask[0, 1:11, 1:11] = 1
    prediction = np.ones_like(mask)
    prediction[0, 4:8, 4:8] = 0  # the model misses the flat centre
    scores = receptive.accuracy_by_distance(mask, prediction, centre_distance=4, edge_distance=1)
    assert scores["centre"]["pixel_accuracy"] == 0.0 and scores["edge"]["pixel_accuracy"] == 1.0
    assert scores["centre"]["pixels"] == 16 and scores["edge"]["pixels"] == 36
    assert scores["centre"]["predicted"].tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="edge_distance < centre_distance"):
        receptive.accuracy_by_distance(mask, prediction, centre_distance=1, edge_distance=2)


def test_mean_accuracy_exposes_a_model_that_always_answers_one_class():
    mask = np.zeros((1, 20, 40), np.uint8)
    mask[0, 2:18, 2:14] = 1  # a big object of class 1
    mask[0, 2:18, 22:38] = 2  # and one of class 2
    always_one = np.where(mask > 0, 1, 0).astype(np.uint8)
    centre = receptive.accuracy_by_distance(mask, always_one, centre_distance=5, edge_distance=1)["centre"]
    assert centre["pixel_accuracy"] == pytest.approx(32 / (32 + 64))  # 8×4 centre pixels of class 1, 8×8 of 2
    assert centre["mean_accuracy"] == 0.5  # right on class 1, wrong on class 2


def test_accuracy_profile_bins_by_distance():
    mask = np.zeros((1, 12, 12), np.uint8)
    mask[0, 1:11, 1:11] = 1
    prediction = np.ones_like(mask)
    prediction[0, 4:8, 4:8] = 0  # wrong at distance >= 4
    profile = receptive.accuracy_profile(mask, prediction, (1, 4, 99))
    assert profile["pixel_accuracy"].tolist() == [1.0, 0.0] and profile["pixels"].tolist() == [84, 16]
    assert profile["mean_accuracy"].tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="increasing bin edges"):
        receptive.accuracy_profile(mask, prediction, (4, 1))


def test_coarse_oracle_loses_edges_not_centres():
    mask = np.zeros((1, 32, 32), np.uint8)
    mask[0, 5:27, 5:27] = 3
    np.testing.assert_array_equal(receptive.coarse_oracle(mask, 1, 5), mask)
    coarse = receptive.coarse_oracle(mask, 8, 5)
    assert (coarse[0, 12:20, 12:20] == 3).all()  # the centre survives
    assert (coarse != mask).sum() > 0  # some border pixels do not
    scores = receptive.accuracy_by_distance(mask, coarse, centre_distance=6, edge_distance=2)
    assert scores["centre"]["pixel_accuracy"] == 1.0 and scores["edge"]["pixel_accuracy"] < 1.0
    with pytest.raises(ValueError, match="do not split into 5×5 cells"):
        receptive.coarse_oracle(mask, 5, 5)


def test_draw_stack_1d_runs_headless():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = receptive.draw_stack_1d([(3, 1, 1), (2, 2), (3, 1, 2, 2)], input_length=16)
    assert len(ax.get_yticklabels()) == 4
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="too short"):
        receptive.draw_stack_1d([(9,)], input_length=4)
