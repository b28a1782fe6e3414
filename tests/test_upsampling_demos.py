"""Lesson 03's demonstrations (fcn_lessons.upsampling_demos) and the offline photograph (fcn_lessons.photo)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fcn_lessons import data, photo, upsampling  # noqa: E402
from fcn_lessons import upsampling_demos as demos  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_the_photograph_is_offline_and_deterministic():
    original = photo.grace_hopper()
    assert original.shape == (600, 512, 3) and original.dtype == np.uint8
    small = photo.grace_hopper(128)
    assert small.shape == (128, 128, 3) and small.dtype == np.uint8
    np.testing.assert_array_equal(small, photo.grace_hopper(128))
    small[:] = 0  # a copy: the cached original is untouched
    assert photo.grace_hopper(128).any()
    with pytest.raises(ValueError, match="size must be >= 1"):
        photo.grace_hopper(0)


def test_fcn32s_border_rows_0_to_12_get_one_copy():
    border = demos.fcn32s_border()  # the reference: kernel 64, stride 32, crop 19
    single = np.flatnonzero(border["copies"] == 1)
    np.testing.assert_array_equal(single, np.arange(13))
    weights = border["weight"][single]
    assert weights.min() == pytest.approx(0.609, abs=1e-3) and weights.max() == pytest.approx(0.984, abs=1e-3)
    assert np.all(np.diff(weights) > 0)
    np.testing.assert_allclose(border["weight"][13:], 1, atol=1e-9)  # two copies, weights adding to 1
    assert set(border["copies"][13:]) == {2}


def test_stacked_layers_compound_and_balanced_ones_stay_flat():
    ones = np.ones(3)
    one = demos.stack_on_constant([(ones, 2)])
    assert set(np.unique(one)) == {1.0, 2.0}
    two = demos.stack_on_constant([(ones, 2), (ones, 2)])
    assert two.max() / two.min() == pytest.approx(3)  # not 2, not 4: exercise 3.5 predicts this
    assert len(two) >= 8 and np.allclose(two[:4], two[4:8])  # period 4 = 2 · 2
    chain = [(upsampling.bilinear_taps(2), 2), (upsampling.bilinear_taps(2), 2), (upsampling.bilinear_taps(8), 8)]
    np.testing.assert_allclose(demos.stack_on_constant(chain, length=6), 1, atol=1e-12)  # FCN-8s's chain
    with pytest.raises(ValueError, match="too short"):
        demos.stack_on_constant([(np.ones(9), 1)] * 3, length=2)
    with pytest.raises(ValueError, match="at least one"):
        demos.stack_on_constant([])


def test_artifact_demo_scores_follow_the_phase_sums():
    image = photo.grace_hopper(64).astype(np.float32) / 255
    out = demos.artifact_demo(image, 4)
    assert list(out) == list(demos.ARTIFACT_DEMOS)
    score = {name: upsampling.artifact_score(picture, 4, margin=4) for name, picture in out.items()}
    floor = max(score["transposed, bilinear k=2f"], score["resize-conv, random 3×3"])
    assert floor < 0.1  # the photograph's own content at the stride period
    assert score["transposed, uniform k=3f/2"] > 5 * floor and score["transposed, random k=2f"] > 5 * floor
    assert all(picture.shape == image.shape for picture in out.values())


def test_per_channel_never_mixes_channels():
    kernel = demos.per_channel(np.ones((3, 3)), 4)
    assert kernel.shape == (3, 3, 4, 4)
    off = kernel.copy()
    off[:, :, range(4), range(4)] = 0
    assert not off.any() and kernel[:, :, 2, 2].sum() == 9


def test_block_class_shares_are_the_oracles_cells():
    """One ideal coarse score map (labels.class_shares_per_block), shares of each block's labelled pixels."""
    from fcn_lessons import labels

    _, maps = data.make_shapes(3, image_size=64, seed=0)
    shares = demos.block_class_shares(maps, 8, data.NUM_CLASSES)
    assert shares.shape == (3, 8, 8, data.NUM_CLASSES)
    labelled = (maps != data.VOID_LABEL).reshape(3, 8, 8, 8, 8).any(axis=(2, 4))
    np.testing.assert_allclose(shares.sum(axis=-1), labelled.astype(float), rtol=1e-6)
    np.testing.assert_array_equal(shares, labels.class_shares_per_block(maps, 8, data.NUM_CLASSES))


def test_plot_profiles_marks_each_panels_period():
    profile = np.tile([1.0, 2.0, 3.0, 2.0], 8)
    fig = demos.plot_profiles([("a", {"p": profile}, 4), ("b", {"q": profile, "r": profile + 1}, 8)], shown=16)
    first, second = fig.axes
    assert len(first.lines) == 1 + 5 and len(second.lines) == 2 + 3  # profiles + a dashed line every period
    assert "every 4 pixels" in first.get_title() and "every 8 pixels" in second.get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="panels must hold at least one"):
        demos.plot_profiles([], shown=4)


def test_fit_upsamplers_records_a_curve_per_initialiser():
    import keras

    _, maps = data.make_shapes(8, image_size=64, seed=1)
    scores = demos.block_class_shares(maps, 8, data.NUM_CLASSES)
    initialisers = {"bilinear": keras.initializers.Constant(upsampling.bilinear_kernel(8, data.NUM_CLASSES)),
                    "zeros": "zeros"}
    curves, models = demos.fit_upsamplers(initialisers, (scores, maps), (scores, maps), factor=8,
                                          num_classes=data.NUM_CLASSES, epochs=1, batch_size=4, learning_rate=1e-2)
    assert set(curves) == set(models) == set(initialisers)
    assert curves["bilinear"].shape == (2, 2)
    assert curves["bilinear"][0, 1] > curves["zeros"][0, 1]  # the untrained bilinear layer already segments
    kernel = models["bilinear"].get_weights()[0]
    assert demos.constant_map_artifact_score(upsampling.bilinear_kernel(8, data.NUM_CLASSES), 8) < 1e-6
    assert demos.constant_map_artifact_score(kernel, 8) >= 0


def test_figures_are_drawn():
    fig = demos.draw_scatter_add_2d(np.array([[1, 10], [100, 1000]]), np.ones((3, 3)), 2)
    assert len(fig.axes) == 7
    fig, results = demos.show_interpolations(photo.grace_hopper(64), 8)
    assert len(results) == 3 and all(r.shape == (64, 64, 3) for r in results.values())
    fig = demos.show_counts_and_phases(upsampling.bilinear_kernel(3, 1)[..., 0, 0], 3)
    assert len(fig.axes) == 3


@pytest.mark.parametrize("call, error, match", [
    (lambda: demos.draw_scatter_add_2d(np.ones((4, 4)), np.ones((3, 3)), 2), ValueError, "at most 9 pixels"),
    (lambda: demos.draw_scatter_add_2d(np.ones((2, 2)), np.ones((3, 3)), 0), ValueError, "stride must be >= 1"),
    (lambda: demos.show_interpolations(np.zeros((30, 30, 3), np.uint8), 8), ValueError, "divisible by factor 8"),
    (lambda: demos.artifact_demo(np.zeros((30, 30, 3), np.float32), 4), ValueError, "divisible by factor 4"),
    (lambda: demos.artifact_demo(np.zeros((32, 32, 3), np.uint8), 4), TypeError, "image must have a float dtype"),
    (lambda: demos.per_channel(np.ones(3), 2), ValueError, "kernel_2d must have rank 2 or 3"),
    (lambda: demos.fcn32s_border(stride=0), ValueError, "stride must be >= 1"),
    (lambda: demos.constant_map_artifact_score(np.ones((4, 4)), 2), ValueError, "kernel must have rank 4"),
])
def test_bad_arguments_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
