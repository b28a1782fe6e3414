"""Lesson 03's explorers, headless: set widget values, look at the image they produce."""

import ast
from pathlib import Path

import numpy as np
import pytest

from fcn_lessons import upsampling, widgets
from fcn_lessons.widgets import upsampling as explorers
from fcn_lessons.widgets import _frames
from fcn_lessons.widgets._frames import from_png

# What ipywidgets 7.7 (Colab) and 8 both provide, with the same behaviour.
COMMON_WIDGETS = {"Dropdown", "IntSlider", "Image", "HBox", "VBox"}


@pytest.fixture(scope="module")
def explorer():
    return widgets.upsampling_explorer()


def _shown(box):
    return from_png(bytes(box.image.value))


def _current(box):
    return box.render(**{name: control.value for name, control in box.controls.items()})


def test_explorers_are_exported():
    assert widgets.upsampling_explorer is explorers.upsampling_explorer
    assert widgets.checkerboard_explorer is explorers.checkerboard_explorer


def test_initial_image_is_the_default_frame_in_rgb_order(explorer):
    assert explorer.image.format == "png"
    np.testing.assert_array_equal(_shown(explorer), explorer.render())  # PNG is lossless; BGR handled


@pytest.mark.parametrize("control, values", [
    ("factor", explorers.FACTORS),
    ("method", explorers.METHODS),
    ("image", explorers.IMAGE_NAMES),
])
def test_every_control_value_changes_the_image(explorer, control, values):
    seen = []
    for value in values:
        explorer.controls[control].value = value
        frame = _shown(explorer)
        np.testing.assert_array_equal(frame, _current(explorer))
        seen.append(frame.tobytes())
    assert len(set(seen)) == len(values), f"some {control} values give the same frame"
    explorer.controls[control].value = values[0]


def test_callback_reads_the_current_values_not_the_event(explorer):
    # The front end coalesces rapid moves: only the final values count.
    explorer.controls["method"].value = "nearest"
    explorer.controls["factor"].value = 8
    explorer.update()
    np.testing.assert_array_equal(_shown(explorer), explorer.render(method="nearest", factor=8, image="photo"))


def test_factor_changes_the_coarse_input_size():
    image = explorers._builtin_image("shapes")
    for factor in explorers.FACTORS:
        coarse, out = explorers.upsample_image(image, "nearest", factor)
        assert coarse.shape == (128 // factor, 128 // factor, 3) and out.shape == image.shape


def test_methods_behave_as_the_lesson_says():
    image = explorers._builtin_image("shapes")
    flat = explorers._builtin_image("flat grey")
    factor = 4

    def score(method, picture=image):
        return upsampling.artifact_score(explorers.upsample_image(picture, method, factor)[1], factor, margin=factor)

    assert score("nearest") < 0.02 and score("bilinear (half-pixel centres)") < 0.02
    assert score("transposed conv, bilinear init (k=2f)") < 0.02
    assert score("transposed conv, uniform kernel, k=3f/2 (uneven overlap)") > 0.5, "uneven overlap makes a checkerboard"
    assert score("transposed conv, random init (k=2f)") > 0.1, "even overlap, random weights: still a pattern"
    assert score("resize-conv (nearest, then random 3×3 conv)") < 0.05, "resize-conv: no checkerboard"
    # a constant image stays constant under bilinear-initialised upsampling, away from the border
    out = explorers.upsample_image(flat, "transposed conv, bilinear init (k=2f)", factor)[1]
    np.testing.assert_allclose(out[factor:-factor, factor:-factor], 0.5, atol=1e-6)
    # max-unpooling keeps one value per block (per channel) and zeros elsewhere
    coarse, out = explorers.upsample_image(image, "max-unpooling (switches)", factor)
    assert np.count_nonzero(out) <= coarse.size and np.isclose(out.max(), image.max())


def test_own_image_is_offered_first():
    picture = (np.random.default_rng(0).uniform(size=(100, 60, 3)) * 255).astype(np.uint8)
    box = widgets.upsampling_explorer(picture, method="nearest", factor=2)
    assert box.controls["image"].options[0] == "your image" and box.controls["image"].value == "your image"
    assert box.controls["method"].value == "nearest" and box.controls["factor"].value == 2
    assert _shown(box).shape == box.render().shape
    grey = widgets.upsampling_explorer(np.zeros((64, 64)))
    assert grey.controls["image"].value == "your image"


@pytest.mark.parametrize("call, error, match", [
    (lambda: widgets.upsampling_explorer(np.zeros((32, 32, 4))), ValueError, "3 colour channels"),
    (lambda: widgets.upsampling_explorer(np.zeros((2, 32, 32, 3))), ValueError, "image must have rank 2 or 3"),
    (lambda: widgets.upsampling_explorer(method="cubic"), ValueError, "method must be one of"),
    (lambda: widgets.upsampling_explorer(factor=3), ValueError, "factor must be one of"),
    (lambda: widgets.checkerboard_explorer(kernel_size=0), ValueError, "kernel_size must be >= 1"),
    (lambda: widgets.checkerboard_explorer(stride=9), ValueError, "stride must be <= 8"),
    (lambda: explorers.upsample_image(np.zeros((30, 30, 3), np.float32), "nearest", 4), ValueError,
     "divisible by factor 4"),
])
def test_bad_arguments_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- checkerboard explorer ------------------------------------------------------------------------

def test_checkerboard_sliders_change_the_image():
    box = widgets.checkerboard_explorer()
    np.testing.assert_array_equal(_shown(box), box.render())
    before = bytes(box.image.value)
    box.controls["kernel_size"].value = 4
    after_kernel = bytes(box.image.value)
    box.controls["stride"].value = 3
    after_stride = bytes(box.image.value)
    box.controls["weights"].value = "random"
    assert len({before, after_kernel, after_stride, bytes(box.image.value)}) == 4
    np.testing.assert_array_equal(_shown(box), box.render(kernel_size=4, stride=3, weights="random"))
    box.controls["kernel_size"].value = 99  # sliders clamp to their range
    assert box.controls["kernel_size"].value == 16


@pytest.mark.parametrize("k, s", [(3, 2), (4, 2), (1, 2), (16, 8), (12, 8), (5, 1), (6, 4)])
def test_checkerboard_numbers(k, s):
    result = explorers.checkerboard_output(k, s)
    assert result["uneven"] == (k % s != 0)
    np.testing.assert_array_equal(result["counts"], upsampling.overlap_counts(k, s, (4 * s, 4 * s)))
    if result["uneven"]:
        assert result["score"] > 0.1 and result["interior"].max() > result["interior"].min()
    else:  # uniform weights and even overlap: every interior pixel gets exactly 1
        assert result["score"] == pytest.approx(0, abs=1e-6)
        np.testing.assert_allclose(result["interior"], 1, atol=1e-5)
    tent = explorers.checkerboard_output(k, s, "tent of size k")
    if k == 2 * s:  # the tent of size 2s is the bilinear kernel: no artifact
        np.testing.assert_allclose(tent["interior"], 1, atol=1e-5)
    for weights in explorers.KERNEL_WEIGHTS:  # the interior holds the phase sums, whatever the weights
        result = explorers.checkerboard_output(k, s, weights)
        assert result["phase_sums"].shape == (s, s)
        np.testing.assert_allclose(np.unique(result["interior"].round(4)), np.unique(result["phase_sums"].round(4)),
                                   atol=2e-4)
        assert result["balanced"] == (result["score"] < 1e-5)


def test_random_weights_make_a_pattern_even_with_even_overlap():
    assert explorers.checkerboard_output(4, 2, "random")["score"] > 0.1


def test_the_bilinear_kernel_of_the_stride_is_flat_whatever_the_overlap():
    # k = 5, s = 3: a tent shaped by the kernel size alone is not flat (0.85 to 1.33); the
    # bilinear kernel of the stride is, although the copies overlap unevenly
    tent = explorers.checkerboard_output(5, 3, "tent of size k")
    assert tent["phase_sums"].min() == pytest.approx(0.852, abs=1e-3)
    assert tent["phase_sums"].max() == pytest.approx(1.331, abs=1e-3) and not tent["balanced"]
    for s in range(1, 9):
        for k in range(1, 17):
            result = explorers.checkerboard_output(k, s, "bilinear of the stride")
            if k >= 2 * s - 1:  # the whole tent fits: its phases are a partition of unity
                assert result["balanced"], (k, s)
        if s >= 3:  # a tent cut off by the kernel is not balanced
            assert not explorers.checkerboard_output(2 * s - 2, s, "bilinear of the stride")["balanced"], s
    assert explorers.checkerboard_output(5, 3, "bilinear of the stride")["uneven"]


def test_checkerboard_frame_has_a_colour_scale(monkeypatch):
    calls = []

    def recording_colorbar(height, **kwargs):
        calls.append((height, kwargs))
        return _frames.colorbar(height, **kwargs)

    monkeypatch.setattr(explorers, "colorbar", recording_colorbar)
    with_bar = explorers.render_checkerboard(3, 2, "uniform")
    (height, kwargs), = calls
    out = explorers.checkerboard_output(3, 2, "uniform")["output"]
    assert kwargs["vmin"] == 0 and kwargs["vmax"] == pytest.approx(out.max()) and kwargs["name"] == "magma"
    monkeypatch.setattr(explorers, "colorbar", lambda height, **kwargs: np.zeros((height, 0, 3), np.uint8))
    without = explorers.render_checkerboard(3, 2, "uniform")
    assert with_bar.shape[1] - without.shape[1] == _frames.colorbar(height, **kwargs).shape[1]


# --- the shared explorer machinery (widgets._frames) --------------------------------------------

def _display_bundle(widget) -> dict:
    """What a notebook stores for ``widget``: its mime bundle (ipywidgets 8), or what
    ``_ipython_display_`` publishes (ipywidgets 7.7, Colab's version)."""
    if hasattr(widget, "_repr_mimebundle_"):
        return widget._repr_mimebundle_()
    import ipywidgets.widgets.widget as widget_module

    published = []
    original = widget_module.display
    widget_module.display = lambda data, raw=False: published.append(data)
    try:
        widget._ipython_display_()
    finally:
        widget_module.display = original
    return published[0]


def test_explorers_show_one_sentence_where_no_widget_front_end_runs():
    import keras

    from fcn_lessons import models

    model = models.pooled_pixel_classifier(2, width=4)
    boxes = [widgets.upsampling_explorer(), widgets.checkerboard_explorer(),
             widgets.receptive_field_explorer(model, np.zeros((16, 16, 3), np.uint8))]
    for box in boxes:
        bundle = _display_bundle(box)
        assert bundle["text/plain"] == repr(box) == _frames.EXPLORER_TEXT
        assert "application/vnd.jupyter.widget-view+json" in bundle  # a live front end still gets the widget
        assert box.render and box.controls and box.image
    assert len(_frames.EXPLORER_TEXT) <= 110  # ipywidgets cuts text/plain at 110 characters
    keras.backend.clear_session()


def test_show_frame_draws_pixel_for_pixel():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = explorers.render_checkerboard()
    ax = widgets.show_frame(frame, title="a title")
    fig = ax.figure
    width, height = fig.get_size_inches() * fig.dpi
    assert round(width) == frame.shape[1] and round(height) == frame.shape[0] + _frames.TITLE_PX
    bbox = ax.get_window_extent()
    assert round(bbox.width) == frame.shape[1] and round(bbox.height) == frame.shape[0]
    fig.canvas.draw()
    drawn = np.asarray(fig.canvas.buffer_rgba())[_frames.TITLE_PX:, :, :3]
    np.testing.assert_array_equal(drawn, frame)  # not resampled: every caption pixel survives
    plt.close(fig)


def test_colorbar_runs_from_vmax_at_the_top_to_vmin_at_the_bottom():
    bar = _frames.colorbar(100, vmin=0.0, vmax=2.0, width=10)
    assert bar.shape == (100, 10 + 40, 3)
    lut = _frames.colormap(np.array([[2.0, 0.0]]), vmin=0.0, vmax=2.0)
    np.testing.assert_array_equal(bar[0, 5], lut[0, 0])
    np.testing.assert_array_equal(bar[99, 5], lut[0, 1])
    assert (bar[:, 10:] < 128).any(), "tick labels are written beside the bar"


def test_only_widgets_that_colab_has_are_used():
    source = Path(explorers.__file__).read_text(encoding="utf-8") + Path(_frames.__file__).read_text(encoding="utf-8")
    used = {node.attr for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ipywidgets"}
    assert used and used <= COMMON_WIDGETS, used - COMMON_WIDGETS
    for newer_only in ("Stack", "TagsInput", "DatetimePicker", "tooltip", "description_allow_html", "ipympl",
                       "enable_custom_widget_manager"):
        assert newer_only not in source
