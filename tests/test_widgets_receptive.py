"""The receptive-field explorer, headless: its render function and its widget callbacks."""

import keras
import numpy as np
import pytest

from fcn_lessons import data, models, receptive, widgets
from fcn_lessons.widgets import receptive as explorer_module
from fcn_lessons.widgets._frames import from_png

SIZE = 32


@pytest.fixture(scope="module")
def model():
    return models.pooled_pixel_classifier(2, width=4, extra_convs=1)


@pytest.fixture(scope="module")
def image():
    return data.make_shapes(1, SIZE, seed=3, object_size=(0.3, 0.8))[0][0]


def _panel_box(frame, margin, scale, colour=explorer_module.BOX_COLOUR):
    """Bounding box, in image pixels, of the box colour in the left panel of a frame."""
    panel = frame[36:36 + (SIZE + 2 * margin) * scale, :(SIZE + 2 * margin) * scale]  # below two title strips
    ys, xs = np.nonzero((panel == colour).all(axis=2))
    return ys.min(), xs.min(), ys.max(), xs.max()


def test_render_draws_the_analytic_box(model, image):
    render = explorer_module.receptive_field_renderer(model, image, scale=4, margin=8)
    field = render.fields["conv3"]
    frame = render("conv3", 2, 3, gradient=False)
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    top, left, bottom, right = field.box((2, 3))
    drawn = _panel_box(frame, 8, 4)
    # the box runs along the outer borders of its first and last pixels (2-pixel lines)
    expected = ((top + 8) * 4, (left + 8) * 4, (bottom + 9) * 4, (right + 9) * 4)
    assert all(abs(d - e) <= 2 for d, e in zip(drawn, expected)), (drawn, expected)


def test_layers_offered_skip_pointwise_repeats(model, image):
    render = explorer_module.receptive_field_renderer(model, image)
    # a convolution, not its batch norm and ReLU; the Rescaling still sees one pixel; the last layer
    assert render.layers == ["conv1", "pool1", "conv2", "pool2", "conv3", "upsample4"]
    assert render.map_sizes["pool2"] == (SIZE // 4, SIZE // 4)


def test_gradient_panel_appears_and_is_cached(model, image):
    render = explorer_module.receptive_field_renderer(model, image, scale=2)
    plain = render("pool2", 3, 3, gradient=False)
    with_gradient = render("pool2", 3, 3, gradient=True)
    assert plain.shape == with_gradient.shape
    half = plain.shape[1] // 2
    assert not np.array_equal(plain[:, half:], with_gradient[:, half:])
    np.testing.assert_array_equal(plain[:, :half], with_gradient[:, :half])
    np.testing.assert_array_equal(with_gradient, render("pool2", 3, 3, gradient=True))


def test_gradient_heat_map_lies_inside_the_box(model, image):
    """What the right panel shows: non-zero gradients only inside the analytic field."""
    field = receptive.receptive_fields(model, input_size=SIZE)["relu3"]
    measured = receptive.empirical_receptive_field(model, "relu3", (4, 4), inputs=image[None].astype("float32"))
    top, left, bottom, right = field.box((4, 4), (SIZE, SIZE))
    box = measured.box
    assert box is not None and top <= box[0] and left <= box[1] and box[2] <= bottom and box[3] <= right


def test_render_validates(model, image):
    render = explorer_module.receptive_field_renderer(model, image)
    with pytest.raises(ValueError, match="row must be <= 7"):
        render("pool2", 8, 0)
    with pytest.raises(ValueError, match="'nope' is not one of"):
        render("nope", 0, 0)
    assert render("relu2", 0, 0, gradient=False).shape == render("conv2", 0, 0, gradient=False).shape  # any layer
    with pytest.raises(ValueError, match="layer 'nope' is not in model"):
        explorer_module.receptive_field_renderer(model, image, layers=["nope"])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        explorer_module.receptive_field_renderer(model, image[..., 0])


def test_explorer_updates_its_image_when_a_control_moves(model, image):
    box = widgets.receptive_field_explorer(model, image, layer="pool2")
    assert set(box.controls) == {"layer", "row", "col", "gradient"}
    first = bytes(box.image.value)
    assert from_png(first).shape[2] == 3
    box.controls["row"].value = 0
    moved = bytes(box.image.value)
    assert moved != first
    box.controls["gradient"].value = False
    np.testing.assert_array_equal(from_png(bytes(box.image.value)),
                                  box.render("pool2", 0, box.controls["col"].value, gradient=False))


def test_changing_the_layer_keeps_the_unit_over_the_same_place(model, image):
    box = widgets.receptive_field_explorer(model, image, layer="pool2")
    box.controls["row"].value, box.controls["col"].value = 1, 6
    centre = box.render.fields["pool2"].centre((1, 6))
    box.controls["layer"].value = "conv1"  # stride 1: 32 units per side
    row, col = box.controls["row"].value, box.controls["col"].value
    assert box.controls["row"].max == SIZE - 1
    assert box.render.fields["conv1"].centre((row, col)) == pytest.approx(centre, abs=0.5)
    box.controls["layer"].value = "pool2"
    assert (box.controls["row"].value, box.controls["col"].value) == (1, 6)
    assert box.controls["row"].max == SIZE // 4 - 1


def test_explorer_can_start_on_a_layer_it_does_not_offer(model, image):
    box = widgets.receptive_field_explorer(model, image, layer="relu2")
    assert box.controls["layer"].options[-1] == "relu2" and box.controls["layer"].value == "relu2"
    with pytest.raises(ValueError, match="'nope' is not one of"):
        widgets.receptive_field_explorer(model, image, layer="nope")


def test_explorer_accepts_models_of_any_input_size_and_preprocessing():
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 5, name="c5")])
    image = np.random.default_rng(0).uniform(0, 1, (20, 24, 3)).astype("float32")
    box = widgets.receptive_field_explorer(model, image, preprocess=lambda x: x * 2 - 1)
    assert box.controls["row"].max == 15 and box.controls["col"].max == 19


def test_nearest_unit_clips_to_the_map():
    field = receptive.ReceptiveField((6, 6), (2, 2), (0.5, 0.5))
    assert explorer_module.nearest_unit(field, (10.4, -3), (8, 8)) == (5, 0)
    assert explorer_module.nearest_unit(field, (100, 100), (8, 8)) == (7, 7)
