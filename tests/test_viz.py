"""Pictures: the VOC palette, overlays, sample grids and confusion matrices (headless)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fcn_lessons import data, viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_palette_is_vocs_and_void_stands_out():
    assert tuple(viz.VOC_PALETTE[0]) == (0, 0, 0)
    assert tuple(viz.VOC_PALETTE[1]) == (128, 0, 0)  # aeroplane
    assert tuple(viz.VOC_PALETTE[15]) == (192, 128, 128)  # person
    assert tuple(viz.VOC_PALETTE[255]) == (224, 224, 192)  # void: VOC's cream
    colours = {tuple(c) for c in viz.VOC_PALETTE[:21]}
    assert len(colours) == 21 and tuple(viz.VOC_PALETTE[255]) not in colours


def test_colorize():
    mask = np.array([[0, 1], [255, 4]], np.uint8)
    np.testing.assert_array_equal(viz.colorize(mask), viz.VOC_PALETTE[mask])
    assert viz.colorize(np.zeros((2, 3, 4), np.int64)).shape == (2, 3, 4, 3)
    with pytest.raises(ValueError, match=r"class ids \[300\] outside 0\.\.255"):
        viz.colorize(np.array([[300]]))
    with pytest.raises(TypeError, match="mask must have a"):
        viz.colorize(np.zeros((2, 2), np.float32))


def test_overlay_tints_objects_and_void_but_not_background():
    image = np.full((4, 4, 3), 100, np.uint8)
    mask = np.zeros((4, 4), np.uint8)
    mask[0, 0], mask[1, 1] = 1, 255
    out = viz.overlay(image, mask, alpha=0.5)
    assert out.dtype == np.uint8 and out.shape == (4, 4, 3)
    np.testing.assert_array_equal(out[mask == 0], image[mask == 0])
    np.testing.assert_array_equal(out[0, 0], np.round(0.5 * 100 + 0.5 * viz.VOC_PALETTE[1]).astype(np.uint8))
    np.testing.assert_array_equal(out[1, 1], [162, 162, 146])  # half way to cream
    as_float = viz.overlay(image / 255.0, mask, alpha=0.5)
    np.testing.assert_array_equal(as_float, out)
    fig, ax = plt.subplots()
    drawn = viz.overlay(image, mask, ax=ax)
    np.testing.assert_array_equal(drawn, out)
    assert len(ax.images) == 1


@pytest.mark.parametrize("image, mask, kwargs, match", [
    (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5), np.uint8), {}, r"mask has shape \(4, 5\) but image is \(4, 4\)"),
    (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8), {"alpha": 1.5}, r"alpha must be in \[0, 1\]"),
    (np.full((4, 4, 3), 2.0), np.zeros((4, 4), np.uint8), {}, r"image is float, so it must lie in \[0, 1\]"),
    (np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), {}, r"image must have rank 3"),
])
def test_overlay_arguments(image, mask, kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.overlay(image, mask, **kwargs)


def test_show_samples_draws_a_grid_with_a_legend():
    images, masks = data.make_shapes(5, 32, seed=0, object_size=(0.3, 0.6))
    fig = viz.show_samples(images, masks, max_samples=3)
    assert len(fig.axes) == 3 * 2
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_texts == [f"{i} {name}" for i, name in enumerate(data.CLASS_NAMES)] + ["255 void"]
    fig = viz.show_samples(images[:2], masks[:2], predictions=masks[:2], titles=["a", "b"])
    assert len(fig.axes) == 2 * 3 and fig.axes[3].get_title() == "b"
    with pytest.raises(ValueError, match="an entry per image"):
        viz.show_samples(images, masks[:2])
    with pytest.raises(ValueError, match="at least one image"):
        viz.show_samples(images[:0], masks[:0])


def test_plot_confusion_normalises_rows():
    confusion = np.array([[8, 2, 0], [1, 1, 0], [0, 0, 0]])
    ax = viz.plot_confusion(confusion, ["bg", "a", "b"])
    texts = [t.get_text() for t in ax.texts]
    assert texts[:3] == ["0.80", "0.20", "0.00"] and texts[3:6] == ["0.50", "0.50", "0.00"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["bg", "a", "b"]
    fig, ax = plt.subplots()
    assert viz.plot_confusion(confusion, ["bg", "a", "b"], normalize=False, ax=ax) is ax
    assert ax.texts[0].get_text() == "8"
    with pytest.raises(ValueError, match=r"C = len\(class_names\) = 2"):
        viz.plot_confusion(confusion, ["bg", "a"])
