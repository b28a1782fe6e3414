"""fcn_lessons.labels: the void label, the palette, borders and distances, coarse blocks.

Borders and distances are checked against brute-force definitions on random label maps;
the old names in data, metrics, receptive and viz must keep working.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from fcn_lessons import data, labels, metrics, receptive, viz

VOID = labels.VOID_LABEL


def _random_maps(seed, count=12, classes=3, void=True):
    """Small label maps of blocks (so there are flat regions), some with void pixels."""
    rng = np.random.default_rng(seed)
    maps = []
    for _ in range(count):
        h, w = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        cells = rng.integers(0, classes, (h, w)).astype(np.uint8)
        block = int(rng.integers(1, 5))
        mask = np.kron(cells, np.ones((block, block), np.uint8))[: int(rng.integers(1, 13)), : int(rng.integers(1, 13))]
        if void and rng.uniform() < 0.5:
            mask = mask.copy()
            mask[rng.uniform(size=mask.shape) < 0.1] = VOID
        maps.append(mask)
    return maps


def _brute_borders(mask, ignore_label):
    h, w = mask.shape
    out = np.zeros(mask.shape, bool)
    for y in range(h):
        for x in range(w):
            for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                if 0 <= y + dy < h and 0 <= x + dx < w and mask[y + dy, x + dx] != mask[y, x]:
                    out[y, x] = True
            if ignore_label is not None and mask[y, x] == ignore_label:
                out[y, x] = True
    return out


def _distance(dy, dx, metric):
    return np.hypot(dy, dx) if metric == "euclidean" else np.maximum(np.abs(dy), np.abs(dx))


def _brute_distance(mask, metric, ignore_label=VOID):
    """For each non-void pixel: the distance to the nearest pixel of another label (inf if none)."""
    ys, xs = np.mgrid[: mask.shape[0], : mask.shape[1]]
    out = np.zeros(mask.shape, np.float64)
    for (y, x), label in np.ndenumerate(mask):
        if ignore_label is not None and label == ignore_label:
            continue
        other = mask != label
        out[y, x] = _distance(ys[other] - y, xs[other] - x, metric).min() if other.any() else np.inf
    return out


def _brute_band(mask, width, metric, ignore_label=VOID):
    border = _brute_borders(mask, ignore_label)
    if not border.any():
        return np.zeros(mask.shape, bool)
    ys, xs = np.nonzero(border)
    grid_y, grid_x = np.mgrid[: mask.shape[0], : mask.shape[1]]
    nearest = _distance(grid_y[..., None] - ys, grid_x[..., None] - xs, metric).min(axis=-1)
    return nearest <= width


# --- the void label and the palette ---------------------------------------------------------

def test_void_label_and_palette():
    assert VOID == 255
    assert labels.VOC_PALETTE.shape == (256, 3) and labels.VOC_PALETTE.dtype == np.uint8
    assert tuple(labels.VOC_PALETTE[1]) == (128, 0, 0) and tuple(labels.VOC_PALETTE[255]) == (224, 224, 192)
    np.testing.assert_array_equal(labels.voc_palette(), labels.VOC_PALETTE)
    with pytest.raises(ValueError, match="read-only"):
        labels.VOC_PALETTE[0] = 1  # one palette for every module: nobody repaints it by accident


def test_old_names_of_the_palette_still_work():
    assert viz.VOC_PALETTE is labels.VOC_PALETTE and viz.VOID_LABEL == VOID == data.VOID_LABEL
    np.testing.assert_array_equal(viz._voc_palette(), labels.VOC_PALETTE)
    from fcn_lessons import voc

    assert voc.VOC_PALETTE is labels.VOC_PALETTE


# --- borders ---------------------------------------------------------------------------------

@pytest.mark.parametrize("ignore_label", [VOID, None])
def test_borders_match_their_definition(ignore_label):
    for mask in _random_maps(0):
        np.testing.assert_array_equal(labels.borders(mask, ignore_label=ignore_label),
                                      _brute_borders(mask, ignore_label))


def test_borders_of_a_stack_are_per_map_and_the_image_edge_is_none():
    maps = [np.zeros((6, 6), np.uint8), np.zeros((6, 6), np.uint8)]
    maps[1][2:4, 2:4] = 1
    stacked = labels.borders(np.stack(maps))
    assert not stacked[0].any()  # a region reaching the edge of the image has no border there
    np.testing.assert_array_equal(stacked[1], _brute_borders(maps[1], VOID))
    assert stacked[1].sum() == 4 + 8  # the 2×2 square and the ring of 4-neighbours around it


def test_void_pixels_are_borders_unless_void_is_a_class():
    mask = np.zeros((7, 7), np.uint8)
    mask[1:6, 1:6] = VOID  # the middle void pixels touch only void
    assert labels.borders(mask)[1:6, 1:6].all()
    assert not labels.borders(mask, ignore_label=None)[2:5, 2:5].any()
    assert labels.boundary_band(mask, 1)[3, 3] and not labels.boundary_band(mask, 1, None)[3, 3]


def test_the_data_set_marks_exactly_the_borders_void():
    """make_shapes voids ``borders`` of its drawn labels (the old name: data._void_border)."""
    cells = np.kron(np.random.default_rng(1).integers(0, 5, (4, 4)), np.ones((4, 4), int)).astype(np.uint8)
    np.testing.assert_array_equal(data._void_border(cells), labels.borders(cells, ignore_label=None))
    _, masks = data.make_shapes(4, 48, seed=5)
    kept = masks != VOID
    # no two labelled 4-neighbours differ: every pixel that touched another label became void
    for a, b, both in ((masks[:, 1:], masks[:, :-1], kept[:, 1:] & kept[:, :-1]),
                       (masks[:, :, 1:], masks[:, :, :-1], kept[:, :, 1:] & kept[:, :, :-1])):
        assert (a[both] == b[both]).all()
    assert (~kept).any() and len(np.unique(masks[kept])) > 1


# --- distances -------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", labels.METRICS)
def test_distance_to_boundary_matches_its_definition(metric):
    for mask in _random_maps(2):
        np.testing.assert_allclose(labels.distance_to_boundary(mask, metric=metric),
                                   _brute_distance(mask, metric), rtol=1e-6)


def test_default_is_euclidean_so_lesson_outputs_stay():
    corner = np.zeros((5, 5), np.uint8)
    corner[0, 0] = 1  # one pixel of another class in the corner
    default = labels.distance_to_boundary(corner)
    np.testing.assert_array_equal(default, labels.distance_to_boundary(corner, metric="euclidean"))
    assert default[1, 1] == pytest.approx(np.sqrt(2), rel=1e-6) and default[0, 1] == 1 == default[0, 0]
    assert labels.distance_to_boundary(corner, metric="chessboard")[1, 1] == 1  # one king's step


def test_chessboard_distance_says_whether_a_square_field_is_flat():
    """Chessboard distance >= r exactly when the (2r - 1)-pixel square around holds one class."""
    for mask in _random_maps(3, void=False):
        distance = labels.distance_to_boundary(mask, metric="chessboard")
        h, w = mask.shape
        for (y, x), label in np.ndenumerate(mask):
            for r in range(1, 6):
                window = mask[max(y - r + 1, 0): y + r, max(x - r + 1, 0): x + r]  # clipped at the image edge
                assert (distance[y, x] >= r) == (window == label).all(), (mask, y, x, r)


def test_euclidean_distance_lets_a_square_field_touch_a_corner():
    """Why lesson 02's centre test wants the chessboard distance: an 11-pixel field, radius 5."""
    mask = np.zeros((15, 15), np.uint8)
    mask[2, 2] = 1  # another class at the corner of the 11×11 square centred on (7, 7)
    assert labels.distance_to_boundary(mask)[7, 7] > 6  # Euclidean: 5·√2 ≈ 7.1, "a centre"
    assert labels.distance_to_boundary(mask, metric="chessboard")[7, 7] == 5  # not a centre


def test_distance_edge_cases():
    assert labels.distance_to_boundary(np.full((3, 4), 2, np.uint8)).tolist() == [[np.inf] * 4] * 3
    stacked = labels.distance_to_boundary(np.stack([np.eye(4, dtype=np.uint8)] * 2))
    assert stacked.shape == (2, 4, 4) and stacked.dtype == np.float32
    void = np.full((3, 3), VOID, np.uint8)
    void[1, 1] = 1
    assert labels.distance_to_boundary(void)[1, 1] == 1 and labels.distance_to_boundary(void)[0, 0] == 0
    as_class = labels.distance_to_boundary(void, ignore_label=None)
    assert as_class[0, 1] == 1 and as_class[0, 0] == pytest.approx(np.sqrt(2), rel=1e-6)  # void: a class


@pytest.mark.parametrize("call, error, match", [
    (lambda: labels.distance_to_boundary(np.zeros((3, 3), np.uint8), metric="manhattan"), ValueError,
     "metric must be one of 'euclidean', 'chessboard'"),
    (lambda: labels.distance_to_boundary(np.zeros((3, 3), np.float32)), TypeError,
     "masks must have a signed int or unsigned int dtype"),
    (lambda: labels.distance_to_boundary(np.zeros((1, 1, 3, 3), np.uint8)), ValueError,
     r"masks must have rank 2 or 3 \(H, W\) or \(N, H, W\)"),
    (lambda: labels.boundary_band(np.zeros((3, 3), np.uint8), 0), ValueError, "width must be a positive"),
    (lambda: labels.class_counts_per_block(np.zeros((1, 6, 6), np.uint8), 4, 5), ValueError,
     "do not split into 4×4 cells"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_void_label_keyword_still_works_with_a_deprecation_warning():
    mask = np.zeros((1, 6, 6), np.uint8)
    mask[0, 2:4, 2:4] = 7
    with pytest.warns(DeprecationWarning, match=r"void_label=\.\.\.\) is deprecated: call it ignore_label="):
        old = receptive.distance_to_boundary(mask, void_label=7)
    np.testing.assert_array_equal(old, labels.distance_to_boundary(mask, ignore_label=7))
    with pytest.raises(TypeError, match="both void_label= and ignore_label="):
        labels.distance_to_boundary(mask, void_label=7, ignore_label=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels.distance_to_boundary(mask)  # the new name warns nothing


# --- the band near borders ----------------------------------------------------------------

@pytest.mark.parametrize("metric", labels.METRICS)
@pytest.mark.parametrize("width", [1, 1.5, 3])
def test_boundary_band_matches_its_definition(metric, width):
    for mask in _random_maps(4):
        np.testing.assert_array_equal(labels.boundary_band(mask, width, metric=metric),
                                      _brute_band(mask, width, metric))


def test_old_names_of_borders_and_distances_still_work():
    masks = np.stack(_random_maps(5, count=1) * 2)
    np.testing.assert_array_equal(metrics.boundary_band(masks, 2), labels.boundary_band(masks, 2))
    np.testing.assert_array_equal(metrics.boundary_band(masks, 2, None), labels.boundary_band(masks, 2, None))
    assert receptive.distance_to_boundary is labels.distance_to_boundary
    assert receptive.coarse_oracle is labels.coarse_oracle


# --- coarse blocks ---------------------------------------------------------------------------

def test_class_counts_per_block_and_the_oracle():
    masks = np.zeros((1, 8, 8), np.uint8)
    masks[0, :4, :4] = 2
    masks[0, 0, 0] = VOID
    counts = labels.class_counts_per_block(masks, 4, 3)
    assert counts.shape == (1, 2, 2, 3) and counts[0, 0, 0].tolist() == [0, 0, 15]  # void counts for none
    np.testing.assert_array_equal(data.class_counts_per_block(masks, 4), labels.class_counts_per_block(masks, 4, 5))
    np.testing.assert_array_equal(labels.coarse_oracle(masks, 1, 3), np.where(masks == VOID, 0, masks))


def test_class_shares_per_block_are_shares_of_the_labelled_pixels():
    masks = np.zeros((1, 8, 8), np.uint8)
    masks[0, :4, :4] = 2
    masks[0, 0, 0] = VOID
    masks[0, 4:, 4:] = VOID  # an all-void cell has no shares
    shares = labels.class_shares_per_block(masks, 4, 3)
    np.testing.assert_allclose(shares[0, 0, 0], [0, 0, 1])
    np.testing.assert_allclose(shares[0, 1, 1], [0, 0, 0])
    np.testing.assert_allclose(shares[0, 0, 1], [1, 0, 0])


# --- the import circle data -> voc -> viz -> data is gone ------------------------------------

ORDERS = [
    ("fcn_lessons.viz", "fcn_lessons.voc", "fcn_lessons.data"),
    ("fcn_lessons.voc", "fcn_lessons.viz", "fcn_lessons.data"),
    ("fcn_lessons.data", "fcn_lessons.voc", "fcn_lessons.viz"),
    ("fcn_lessons.labels", "fcn_lessons.metrics", "fcn_lessons.receptive"),
    ("fcn_lessons.receptive", "fcn_lessons.labels"),
    ("fcn_lessons.metrics",), ("fcn_lessons.voc",), ("fcn_lessons.viz",), ("fcn_lessons.labels",),
    ("fcn_lessons.widgets.receptive", "fcn_lessons.receptive"),
]


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: " then ".join(m.split(".", 1)[1] for m in order))
def test_modules_import_in_a_fresh_interpreter_in_any_order(order):
    """Each order in a new interpreter; voc no longer imports viz (the palette is in labels)."""
    script = (f"import importlib, sys; [importlib.import_module(m) for m in {list(order)}]; "
              "print('viz' if 'fcn_lessons.viz' in sys.modules else 'no viz')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    if "fcn_lessons.viz" not in order and "fcn_lessons.widgets.receptive" not in order:
        assert done.stdout.strip() == "no viz"
