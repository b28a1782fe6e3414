"""fcn_lessons._validate: one rule for images, one for label maps, one model check.

The rule is tested once here, then at every public function that takes an image, a label
map or a model: they must all accept and refuse the same things.
"""

import warnings

import keras
import numpy as np
import pytest

from fcn_lessons import _validate, data, labels, models, receptive, viz, voc, widgets
from fcn_lessons.widgets import _frames
from fcn_lessons.widgets import receptive as receptive_widget

VOID = labels.VOID_LABEL


# --- images --------------------------------------------------------------------------------

def test_images_in_range_pass_and_convert():
    grey = np.linspace(0, 1, 12, dtype=np.float32).reshape(2, 2, 3)
    as_uint8 = _validate.image(grey)
    assert as_uint8.dtype == np.uint8 and as_uint8[0, 0, 0] == 0 and as_uint8[-1, -1, -1] == 255
    np.testing.assert_array_equal(as_uint8, np.floor(grey * 255 + 0.5).astype(np.uint8))  # halves round up
    assert _validate.image(np.full((1, 1, 3), 0.5))[0, 0, 0] == 128
    back = _validate.image(as_uint8, dtype="float32")
    assert back.dtype == np.float32 and np.abs(back - grey).max() <= 0.5 / 255
    ints = np.full((2, 2, 3), 200, np.int64)  # another integer dtype, values 0..255
    np.testing.assert_array_equal(_validate.image(ints), ints.astype(np.uint8))
    assert _validate.image(ints, dtype=None) is ints  # only checked
    assert _validate.image(np.zeros((4, 5)), grey=True).shape == (4, 5, 3)


def test_float_rounding_is_not_an_error_but_nothing_else_is_clipped():
    tiny = np.full((1, 1, 3), 1 + 1e-7, np.float32)  # e.g. an interpolation of ones
    assert _validate.image(tiny)[0, 0, 0] == 255 and _validate.image(tiny, dtype="float32").max() == 1.0
    with pytest.raises(ValueError, match=r"received values 0\.5\.\.1\.01"):
        _validate.image(np.array([[[0.5, 1.01, 0.7]]]))


@pytest.mark.parametrize("bad, error, match", [
    (np.full((2, 2, 3), 2.0), ValueError, r"image is float, so it must lie in \[0, 1\]; received values 2\.\.2\. "
                                          r"It looks like 0\.\.255 values: divide by 255"),
    (np.full((2, 2, 3), -0.5), ValueError, r"received values -0\.5\.\.-0\.5\. Rescale it into \[0, 1\].*np\.clip"),
    (np.full((2, 2, 3), np.nan), ValueError, "NaN or infinite"),
    (np.full((2, 2, 3), 300, np.int64), ValueError, r"holds integers 300\.\.300; an integer image must hold 0\.\.255"),
    (np.full((2, 2, 3), -1, np.int8), ValueError, r"holds integers -1\.\.-1"),
    (np.zeros((2, 2, 3), bool), TypeError, r"uint8 \(0\.\.255\) or float \(0\.\.1\) values, received dtype bool"),
    (np.zeros((2, 2, 4), np.uint8), ValueError, r"must be \(H, W, 3\) RGB with 3 colour channels"),
    (np.zeros((2, 2), np.uint8), ValueError, r"image must have rank 3 \(H, W, 3\)"),
])
def test_images_out_of_the_rule_are_refused_with_what_to_do(bad, error, match):
    with pytest.raises(error, match=match):
        _validate.image(bad)


# Every public function that takes an image, called on one image (``image``: uint8 or float).
_MODEL = None


def _model():
    global _MODEL
    if _MODEL is None:
        _MODEL = models.pooled_pixel_classifier(2, width=2, extra_convs=0)
    return _MODEL


TAKERS = {
    "viz.overlay": lambda image: viz.overlay(image, np.zeros(image.shape[:2], np.uint8)),
    "viz.show_samples": lambda image: _close(viz.show_samples([image], [np.zeros(image.shape[:2], np.uint8)])),
    "voc.write_voc": lambda image: voc.write_voc(_tmp(), "train", [image], [np.zeros(image.shape[:2], np.uint8)],
                                                 class_names=data.CLASS_NAMES),
    "widgets.upsampling_explorer": lambda image: widgets.upsampling_explorer(image),
    "widgets._frames.to_png": lambda image: _frames.to_png(image),
    "widgets.show_frame": lambda image: _close(widgets.show_frame(image).figure),
    "widgets.receptive_field_renderer": lambda image: receptive_widget.receptive_field_renderer(_model(), image),
}


def _close(fig):
    import matplotlib.pyplot as plt

    plt.close(fig)


def _tmp():
    import tempfile

    return tempfile.mkdtemp(prefix="fcn_validate_")


@pytest.mark.parametrize("taker", list(TAKERS))
def test_every_image_taker_applies_the_same_rule(taker):
    import matplotlib

    matplotlib.use("Agg")
    call = TAKERS[taker]
    base = data.make_shapes(1, 48, seed=0)[0][0]
    call(base)  # uint8
    call(base.astype(np.float32) / 255)  # float in [0, 1]
    call(base.astype(np.int64))  # integers 0..255
    for bad, match in [(base.astype(np.float32), r"is float, so it must lie in \[0, 1\]"),  # 0..255 as floats
                       (base.astype(np.float32) / 255 * 1.2 - 0.1, r"is float, so it must lie in \[0, 1\]"),
                       (base.astype(np.int64) * 2, r"an integer image must hold 0\.\.255")]:
        with pytest.raises(ValueError, match=match):
            call(bad)


# --- label maps ------------------------------------------------------------------------------

def test_label_maps():
    mask = np.array([[0, 1], [VOID, 4]], np.uint8)
    assert _validate.label_map(mask, ignore_label=VOID, num_classes=5) is mask
    with pytest.raises(ValueError, match=r"mask holds class ids \[4\] outside 0\.\.3 and 255 \(void\)"):
        _validate.label_map(mask, ignore_label=VOID, num_classes=4)
    with pytest.raises(ValueError, match=r"class ids \[4, 255\] outside 0\.\.3\.$"):
        _validate.label_map(mask, ignore_label=None, num_classes=4)
    with pytest.raises(TypeError, match=r"signed int or unsigned int dtype \(class ids\).*nearest neighbour"):
        _validate.label_map(mask.astype(np.float32), ignore_label=VOID)
    with pytest.raises(ValueError, match="negative values such as -1"):
        _validate.label_map(np.array([[0, -1]]), ignore_label=VOID)
    with pytest.raises(ValueError, match=r"mask must have rank 2 \(H, W\)"):
        _validate.label_map(mask[None], ignore_label=VOID)
    assert _validate.label_map(mask[None, None], ignore_label=VOID, ndim=None).ndim == 4


MASK_TAKERS = {
    "viz.colorize": lambda m: viz.colorize(m),
    "viz.overlay": lambda m: viz.overlay(np.zeros((*m.shape, 3), np.uint8), m),
    "voc.write_mask": lambda m: voc.write_mask(f"{_tmp()}/m.png", m),
    "labels.borders": lambda m: labels.borders(m),
    "labels.distance_to_boundary": lambda m: labels.distance_to_boundary(m),
    "labels.class_counts_per_block": lambda m: labels.class_counts_per_block(m[None], 1, 5),
    "data.interior_pixels": lambda m: data.interior_pixels(m),
}


@pytest.mark.parametrize("taker", list(MASK_TAKERS))
def test_every_label_map_taker_refuses_floats_and_negative_ids(taker):
    call = MASK_TAKERS[taker]
    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 2:6] = 3
    mask[0, 0] = VOID
    call(mask)
    with pytest.raises(TypeError, match="must have a signed int or unsigned int dtype"):
        call(mask.astype(np.float32))
    with pytest.raises(ValueError, match="negative values"):
        call(mask.astype(np.int64) - 1)


# --- models ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda m: receptive.receptive_fields(m),
    lambda m: receptive.empirical_receptive_field(m, "conv", (0, 0)),
    lambda m: receptive.unit_gradients(m, "conv", (0, 0), np.zeros((1, 8, 8, 1))),
    lambda m: receptive_widget.receptive_field_renderer(m, np.zeros((8, 8, 3), np.uint8)),
])
def test_every_model_taker_says_it_expected_a_keras_model(call):
    layer = keras.layers.Conv2D(1, 3, name="conv")
    with pytest.raises(TypeError, match=r"must be a keras.Model, received Conv2D\. A single layer is not a model"):
        call(layer)
    with pytest.raises(TypeError, match=r"must be a keras.Model, received str\. Build the model first"):
        call("vgg16")


# --- renamed keywords ------------------------------------------------------------------------

def test_renamed_keyword():
    @_validate.renamed_keyword("old", "new")
    def f(*, new=1):
        return new

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(new=2) == 2 and f() == 1
    with pytest.warns(DeprecationWarning, match=r"f\(old=\.\.\.\) is deprecated: call it new="):
        assert f(old=3) == 3
    with pytest.raises(TypeError, match="both old= and new="):
        f(old=3, new=4)
