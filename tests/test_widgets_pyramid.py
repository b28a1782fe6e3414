"""The skip explorer, headless: its render function and its widget callbacks."""

import keras
import numpy as np
import pytest

from fcn_lessons import data, models, pyramid, viz, widgets
from fcn_lessons.widgets import pyramid as explorer_module
from fcn_lessons.widgets._frames import EXPLORER_TEXT, from_png

SIZE = 64
SCALE = 2


def _with_skips(variant, seed):
    """An untrained FCN whose score layers are random, so every term changes the prediction."""
    keras.utils.set_random_seed(seed)
    model = models.fcn(data.NUM_CLASSES, variant)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.startswith("score_"):
            layer.set_weights([rng.normal(0, 2.0, w.shape).astype(w.dtype) for w in layer.get_weights()])
    return model


@pytest.fixture(scope="module")
def fcns():
    return {variant: _with_skips(variant, i) for i, variant in enumerate(models.VARIANTS)}


@pytest.fixture(scope="module")
def scenes():
    return data.make_shapes(3, SIZE, seed=5)


@pytest.fixture(scope="module")
def render(fcns, scenes):
    return explorer_module.skip_renderer(fcns, *scenes, scale=SCALE)


def test_frame_shows_labels_prediction_and_errors(render, scenes):
    frame = render("8s", 1)
    assert frame.dtype == np.uint8 and frame.ndim == 3
    caption, title = 20, 18
    labels_panel = frame[caption + title:caption + title + SIZE * SCALE, :SIZE * SCALE]
    np.testing.assert_array_equal(labels_panel, np.repeat(np.repeat(viz.colorize(scenes[1][1]), SCALE, 0), SCALE, 1))
    assert render.variants == ("32s", "16s", "8s") and render.num_scenes == 3


def test_switching_a_skip_off_drops_its_term(render, fcns, scenes):
    images, _ = scenes
    terms = pyramid.skip_contributions(fcns["8s"], models.preprocess_input(images))
    without_pool3 = (terms["score_fr"] + terms["pool4"]).argmax(-1)
    np.testing.assert_array_equal(render.predict("8s", 2, pool4=True, pool3=False), without_pool3[2])
    full = fcns["8s"].predict_on_batch(models.preprocess_input(images)).argmax(-1)
    np.testing.assert_array_equal(render.predict("8s", 2), full[2])
    assert not np.array_equal(render("8s", 2, pool3=False), render("8s", 2))
    assert not np.array_equal(render.predict("8s", 2, pool4=False, pool3=False), full[2])


def test_a_skip_the_variant_lacks_is_ignored(render):
    np.testing.assert_array_equal(render("32s", 0, pool4=False, pool3=False), render("32s", 0))
    np.testing.assert_array_equal(render("16s", 0, pool3=False), render("16s", 0))


def test_render_validates(render, fcns, scenes):
    with pytest.raises(ValueError, match="variant must be one of"):
        render("4s", 0)
    with pytest.raises(ValueError, match="scene must be <= 2"):
        render("8s", 3)
    with pytest.raises(ValueError, match="is an FCN-8s, not an FCN-16s"):
        explorer_module.skip_renderer({"16s": fcns["8s"]}, *scenes)
    with pytest.raises(ValueError, match="non-empty dict"):
        explorer_module.skip_renderer({}, *scenes)
    with pytest.raises(ValueError, match="masks must be"):
        explorer_module.skip_renderer({"8s": fcns["8s"]}, scenes[0], scenes[1][:2])


def test_widget_callbacks_update_the_image(fcns, scenes):
    box = widgets.skip_explorer(fcns, *scenes, scale=SCALE)
    assert repr(box) == EXPLORER_TEXT and box.controls["variant"].value == "8s"
    first = box.image.value
    np.testing.assert_array_equal(from_png(first), box.render("8s", 0))
    box.controls["pool3"].value = False
    assert box.image.value != first
    np.testing.assert_array_equal(from_png(box.image.value), box.render("8s", 0, pool3=False))
    box.controls["variant"].value = "16s"
    assert box.controls["pool3"].disabled and not box.controls["pool4"].disabled
    box.controls["variant"].value = "32s"
    assert box.controls["pool3"].disabled and box.controls["pool4"].disabled
    box.controls["scene"].value = 2
    np.testing.assert_array_equal(from_png(box.image.value), box.render("32s", 2))


def test_widget_uses_only_the_controls_colab_has(fcns, scenes):
    import ipywidgets

    box = widgets.skip_explorer(fcns, *scenes, variant="16s", scene=1)
    kinds = {type(control) for control in box.controls.values()}
    assert kinds <= {ipywidgets.Dropdown, ipywidgets.IntSlider, ipywidgets.Checkbox}
    assert box.controls["scene"].value == 1 and box.controls["variant"].value == "16s"
    with pytest.raises(ValueError, match="variant must be one of"):
        widgets.skip_explorer({"8s": fcns["8s"]}, *scenes, variant="16s")
