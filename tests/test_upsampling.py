"""fcn_lessons.upsampling: every numpy reference equals its Keras / TF / OpenCV counterpart."""

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from fcn_lessons import upsampling

RNG = np.random.default_rng(3)
FLOAT32_TOLERANCE = 1e-5


def _random(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# --- nearest and bilinear -----------------------------------------------------------------

@pytest.mark.parametrize("factor", [1, 2, 3, (2, 4)])
def test_nearest_equals_keras_upsampling2d(factor):
    x = _random(2, 5, 7, 3)
    expected = np.asarray(keras.layers.UpSampling2D(factor)(x))
    np.testing.assert_array_equal(upsampling.nearest_upsample(x, factor), expected)


def test_nearest_keeps_rank_and_integer_labels():
    mask = RNG.integers(0, 5, (4, 6)).astype(np.uint8)
    up = upsampling.nearest_upsample(mask, 2)
    assert up.shape == (8, 12) and up.dtype == np.uint8
    assert set(np.unique(up)) <= set(np.unique(mask))
    assert upsampling.nearest_upsample(_random(3, 4, 2), 3).shape == (9, 12, 2)


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 8])
def test_bilinear_half_pixel_equals_tf_image_resize_and_keras(factor):
    x = _random(2, 6, 5, 3)
    size = (6 * factor, 5 * factor)
    ours = upsampling.bilinear_upsample(x, factor)
    np.testing.assert_allclose(ours, np.asarray(tf.image.resize(x, size, "bilinear")), atol=FLOAT32_TOLERANCE)
    keras_layer = keras.layers.UpSampling2D(factor, interpolation="bilinear")
    np.testing.assert_allclose(ours, np.asarray(keras_layer(x)), atol=FLOAT32_TOLERANCE)


@pytest.mark.parametrize("factor", [2, 3, 4, (2, 3)])
def test_bilinear_half_pixel_equals_opencv(factor):
    image = _random(7, 9, 3)
    fh, fw = (factor, factor) if isinstance(factor, int) else factor
    expected = cv2.resize(image, (9 * fw, 7 * fh), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(upsampling.bilinear_upsample(image, factor), expected, atol=FLOAT32_TOLERANCE)


@pytest.mark.parametrize("factor", [2, 3, 5])
def test_bilinear_align_corners_equals_tf1_resize(factor):
    x = _random(1, 4, 6, 2)
    expected = tf.compat.v1.image.resize_bilinear(x, (4 * factor, 6 * factor), align_corners=True)
    ours = upsampling.bilinear_upsample(x, factor, align_corners=True)
    np.testing.assert_allclose(ours, np.asarray(expected), atol=FLOAT32_TOLERANCE)
    # the corners are the input's corners
    np.testing.assert_allclose(ours[0, [0, 0, -1, -1], [0, -1, 0, -1]], x[0, [0, 0, -1, -1], [0, -1, 0, -1]],
                               atol=FLOAT32_TOLERANCE)


def test_four_pixel_example_differs_between_conventions():
    row = np.array([[0.0, 1.0]], np.float32)
    half = upsampling.bilinear_upsample(row, (1, 2))
    corners = upsampling.bilinear_upsample(row, (1, 2), align_corners=True)
    np.testing.assert_allclose(half, [[0, 0.25, 0.75, 1]])
    np.testing.assert_allclose(corners, [[0, 1 / 3, 2 / 3, 1]], atol=1e-7)


def test_interpolation_matrix_rows_sum_to_one():
    for align in (False, True):
        matrix = upsampling.interpolation_matrix(5, 3, align_corners=align)
        assert matrix.shape == (15, 5)
        np.testing.assert_allclose(matrix.sum(axis=1), 1)
    np.testing.assert_allclose(upsampling.interpolation_matrix(1, 3, align_corners=True), np.ones((3, 1)))


def test_bilinear_of_integers_is_float32():
    assert upsampling.bilinear_upsample(np.ones((2, 2, 3), np.uint8), 2).dtype == np.float32


# --- transposed convolution ---------------------------------------------------------------

CONFIGS = [  # (H, W, C_in, C_out, kernel, stride, padding, output_padding)
    (h, w, cin, cout, k, s, padding, None)
    for (h, w, cin, cout) in [(5, 4, 2, 3)]
    for s in (1, 2, 3, 4)
    for k in sorted({1, 2, 3, s, s + 1, 2 * s, 2 * s + 1})
    for padding in ("valid", "same")
] + [
    (4, 6, 3, 2, (3, 4), (2, 3), "same", (1, 2)),
    (4, 6, 3, 2, (3, 4), (2, 3), "valid", (1, 0)),
    (3, 3, 1, 1, 4, 2, "same", 1),
    (3, 5, 2, 2, 5, 3, "valid", 2),
    (5, 5, 2, 4, (3, 5), (1, 2), "same", (0, 1)),
]


@pytest.mark.parametrize("h, w, cin, cout, kernel_size, strides, padding, output_padding", CONFIGS)
def test_transposed_conv_equals_keras(h, w, cin, cout, kernel_size, strides, padding, output_padding):
    layer = keras.layers.Conv2DTranspose(cout, kernel_size, strides=strides, padding=padding,
                                         output_padding=output_padding, use_bias=False)
    x = _random(2, h, w, cin)
    expected = np.asarray(layer(x))
    kernel = layer.get_weights()[0]
    ours = upsampling.transposed_conv2d(x, kernel, strides, padding, output_padding)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    sizes = [upsampling.transposed_conv_output_size(n, k, s, padding, p)
             for n, k, s, p in zip((h, w), np.broadcast_to(kernel_size, 2), np.broadcast_to(strides, 2),
                                   np.broadcast_to(np.array(output_padding, dtype=object), 2))]
    assert tuple(sizes) == expected.shape[1:3]


def test_transposed_conv_is_a_scatter_add_of_kernel_copies():
    x = np.array([[1.0, 2.0, 3.0]], np.float32)[..., None]  # (1, 3, 1)
    kernel = np.array([[1.0, 10.0, 100.0]], np.float32)[..., None, None]  # (1, 3, 1, 1)
    out = upsampling.transposed_conv2d(x, kernel, (1, 2))[..., 0]
    # copies start at 0, 2, 4 and overlap by one pixel
    np.testing.assert_allclose(out, [[1, 10, 100 + 2, 20, 200 + 3, 30, 300]])


def test_transposed_conv_is_the_transpose_of_the_conv_matrix():
    kernel = _random(3, 3)
    matrix = upsampling.conv_matrix((5, 5), kernel, 2)
    assert matrix.shape == (4, 25)
    x = _random(5, 5)
    conv = keras.layers.Conv2D(1, 3, strides=2, use_bias=False)
    conv.build((None, 5, 5, 1))
    conv.set_weights([kernel[..., None, None]])
    np.testing.assert_allclose(matrix @ x.ravel(), np.asarray(conv(x[None, ..., None])).ravel(), atol=1e-5)
    y = _random(2, 2)
    transposed = upsampling.transposed_conv2d(y[..., None], kernel[..., None, None], 2)[..., 0]
    np.testing.assert_allclose((matrix.T @ y.ravel()).reshape(5, 5), transposed, atol=1e-5)


def test_transposed_conv_is_the_gradient_of_a_conv():
    kernel = _random(4, 4, 3, 2)  # Conv2D layout: 3 in, 2 out
    x = tf.constant(_random(1, 10, 10, 3))
    y = _random(1, 4, 4, 2)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(tf.nn.conv2d(x, kernel, 2, "VALID") * y)
    gradient = tape.gradient(total, x)
    # the same array read as a Conv2DTranspose kernel (kh, kw, out=3, in=2)
    np.testing.assert_allclose(upsampling.transposed_conv2d(y, kernel, 2), np.asarray(gradient), atol=1e-5)


@pytest.mark.parametrize("n, k, s, padding, p, expected", [
    (4, 4, 2, "valid", None, 10), (4, 1, 2, "valid", None, 8), (4, 4, 2, "same", None, 8),
    (4, 3, 2, "same", 1, 8), (4, 4, 2, "same", 1, 7), (4, 3, 2, "valid", 1, 10), (7, 64, 32, "valid", None, 256),
])
def test_transposed_conv_output_size_formula(n, k, s, padding, p, expected):
    assert upsampling.transposed_conv_output_size(n, k, s, padding, p) == expected


# --- bilinear kernel ------------------------------------------------------------------------

@pytest.mark.parametrize("factor, size", [(1, 1), (2, 4), (3, 5), (4, 8), (8, 16), (32, 64)])
def test_bilinear_kernel_size_and_channels(factor, size):
    kernel = upsampling.bilinear_kernel(factor, 3)
    assert kernel.shape == (size, size, 3, 3) and kernel.dtype == np.float32
    off_diagonal = kernel.copy()
    off_diagonal[:, :, range(3), range(3)] = 0
    assert not off_diagonal.any(), "bilinear initialisation never mixes channels"
    # every output phase receives weights summing to 1: a constant stays constant
    np.testing.assert_allclose(kernel[..., 0, 0].sum(), factor ** 2, rtol=1e-6)


def test_bilinear_kernel_matches_fcn_upsample_filt_for_factor_2():
    taps = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(upsampling.bilinear_kernel(2, 1)[..., 0, 0], np.outer(taps, taps))


def _upsample_filt_row(size):
    """The reference's surgery.upsample_filt(size), one row of it, as its formula reads."""
    factor = (size + 1) // 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    return 1 - np.abs(np.arange(size) - centre) / factor


@pytest.mark.parametrize("factor, size", [(2, 4), (3, 5), (3, 6), (8, 16), (16, 32), (32, 64), (32, 63), (5, 9)])
def test_bilinear_taps_are_the_reference_upsample_filt(factor, size):
    np.testing.assert_allclose(upsampling.bilinear_taps(factor, size), _upsample_filt_row(size))
    kernel = upsampling.bilinear_kernel(factor, 2, kernel_size=size)
    np.testing.assert_allclose(kernel[..., 1, 1], np.outer(_upsample_filt_row(size), _upsample_filt_row(size)),
                               rtol=1e-6)


def test_bilinear_taps_default_size_and_centre():
    # Caffe's filler rule 2f - f % 2; the centre is the kernel's middle: f - 0.5 (even k), f - 1 (odd k)
    for factor in range(1, 9):
        taps = upsampling.bilinear_taps(factor)
        assert taps.size == 2 * factor - factor % 2
        assert np.argmax(taps) == factor - 1 and np.allclose(taps, taps[::-1])
    np.testing.assert_allclose(upsampling.bilinear_taps(3), [1 / 3, 2 / 3, 1, 2 / 3, 1 / 3])
    # a kernel larger than the tent: zeros at its ends, never negative
    np.testing.assert_allclose(upsampling.bilinear_taps(2, 7), [0, 0, 0.5, 1, 0.5, 0, 0])


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_bilinear_kernel_reproduces_bilinear_upsampling_in_the_interior(factor):
    x = _random(1, 9, 8, 3)
    layer = keras.layers.Conv2DTranspose(3, 2 * factor - factor % 2, strides=factor, padding="same",
                                         use_bias=False)
    layer.build(x.shape)
    layer.set_weights([upsampling.bilinear_kernel(factor, 3)])
    ours = upsampling.transposed_conv2d(x, upsampling.bilinear_kernel(factor, 3), factor, "same")
    np.testing.assert_allclose(ours, np.asarray(layer(x)), atol=1e-5)
    reference = upsampling.bilinear_upsample(x, factor)
    border = factor // 2  # the output pixels whose source coordinate is clamped
    interior = (slice(None), slice(border, -border or None), slice(border, -border or None))
    np.testing.assert_allclose(ours[interior], reference[interior], atol=1e-5)
    if factor > 1:
        assert not np.allclose(ours[:, 0], reference[:, 0], atol=1e-3), "the border differs"


# --- max-unpooling and depth-to-space ---------------------------------------------------------

@pytest.mark.parametrize("shape, pool", [((2, 6, 8, 3), 2), ((1, 7, 9, 2), 2), ((1, 8, 8, 1), (2, 4))])
def test_max_pool_with_argmax_equals_tf(shape, pool):
    x = _random(*shape)
    pool = (pool, pool) if isinstance(pool, int) else pool
    values, indices = tf.nn.max_pool_with_argmax(x, pool, pool, "VALID")
    ours_values, ours_indices = upsampling.max_pool_with_argmax(x, pool)
    np.testing.assert_array_equal(ours_values, np.asarray(values))
    np.testing.assert_array_equal(ours_indices, np.asarray(indices))


def test_max_unpool_puts_maxima_back_at_tf_argmax():
    x = _random(2, 6, 8, 3)
    values, indices = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID")
    unpooled = upsampling.max_unpool(np.asarray(values), np.asarray(indices), x.shape)
    assert unpooled.shape == x.shape
    assert np.count_nonzero(unpooled) == values.shape[1] * values.shape[2] * 3 * 2
    kept = unpooled != 0
    np.testing.assert_array_equal(unpooled[kept], x[kept])
    # pooling the unpooled map gives the pooled values back
    np.testing.assert_array_equal(np.asarray(tf.nn.max_pool2d(np.where(kept, unpooled, -np.inf), 2, 2, "VALID")),
                                  np.asarray(values))
    assert upsampling.max_unpool(np.asarray(values)[0], np.asarray(indices)[0], (6, 8)).shape == (6, 8, 3)


@pytest.mark.parametrize("block", [2, 3, 4])
def test_depth_to_space_equals_tf(block):
    x = _random(2, 3, 4, 2 * block * block)
    np.testing.assert_array_equal(upsampling.depth_to_space(x, block), np.asarray(tf.nn.depth_to_space(x, block)))


def test_resize_conv_equals_keras():
    x = _random(2, 5, 6, 3)
    for method, k in (("nearest", 3), ("bilinear", 4)):
        conv = keras.layers.Conv2D(2, k, padding="same", use_bias=False)
        model = keras.Sequential([keras.layers.UpSampling2D(2, interpolation=method), conv])
        expected = np.asarray(model(x))
        np.testing.assert_allclose(upsampling.resize_conv(x, 2, conv.get_weights()[0], method=method), expected,
                                   atol=1e-5)


# --- overlap and artifacts -----------------------------------------------------------------

@pytest.mark.parametrize("k, s", [(3, 2), (4, 2), (1, 2), (5, 3), (6, 3), (2, 2), (7, 1), (6, 4)])
def test_overlap_counts_equal_a_transposed_conv_of_ones(k, s):
    ones = np.ones((1, 12, 12, 1), np.float32)
    full = upsampling.transposed_conv2d(ones, np.ones((k, k, 1, 1), np.float32), s)[0, ..., 0]
    start = s * (-(-k // s))  # first output row on the stride grid that has every copy above it
    window = full[start:start + 2 * s, start:start + 2 * s]
    np.testing.assert_array_equal(upsampling.overlap_counts(k, s, (2 * s, 2 * s)), window)
    counts = upsampling.overlap_counts(k, s, (s, s))
    assert (counts.min() == counts.max()) == (not upsampling.uneven_overlap(k, s))


def test_artifact_score_definition():
    counts = upsampling.overlap_counts(3, 2, (8, 8)).astype(float)  # phases 4, 2, 2, 1
    assert upsampling.artifact_score(counts, 2) == pytest.approx((4 - 1) / 2.25)
    odd_window = upsampling.overlap_counts(3, 2, (9, 11))  # only whole periods are scored
    assert upsampling.artifact_score(odd_window, 2) == pytest.approx((4 - 1) / 2.25)
    assert upsampling.artifact_score(upsampling.overlap_counts(4, 2, (8, 8)), 2) == 0
    assert upsampling.artifact_score(np.zeros((4, 4)), 2) == 0
    assert upsampling.artifact_score(RNG.uniform(size=(8, 8)), 1) == 0
    smooth = upsampling.bilinear_upsample(np.full((6, 6, 3), 0.5, np.float32), 4)
    assert upsampling.artifact_score(smooth, 4) < 1e-6


# --- phase sums: what decides whether a constant input comes out flat -------------------------

@pytest.mark.parametrize("k, s", [(3, 2), (4, 2), (5, 3), (6, 4), (2, 3), (7, 3)])
def test_phase_sums_of_ones_are_the_overlap_counts(k, s):
    np.testing.assert_array_equal(upsampling.phase_sums(np.ones((k, k)), s), upsampling.overlap_counts(k, s, (s, s)))


@pytest.mark.parametrize("shape, s", [((4, 4), 2), ((5, 5), 3), ((3, 5), 2), ((6, 2), (3, 2)), ((7,), 3)])
def test_a_constant_input_gives_the_phase_sums_in_the_interior(shape, s):
    kernel = RNG.uniform(0.1, 1, shape)
    sh, sw = (s, s) if isinstance(s, int) else s
    as_2d = kernel if kernel.ndim == 2 else kernel[None]
    if kernel.ndim == 1:
        sh = 1
    out = upsampling.transposed_conv2d(np.ones((8, 8, 1)), as_2d[:, :, None, None], (sh, sw))[..., 0]
    kh, kw = as_2d.shape
    top, left = -(-kh // sh) * sh, -(-kw // sw) * sw  # on the stride grid, every copy present
    window = out[top:top + sh, left:left + sw]
    np.testing.assert_allclose(window, upsampling.phase_sums(kernel, s), rtol=1e-6)


def test_the_x3_bilinear_kernel_overlaps_unevenly_yet_is_flat():
    kernel = upsampling.bilinear_kernel(3, 1)[..., 0, 0]  # k = 5, s = 3
    assert upsampling.uneven_overlap(5, 3)
    counts = upsampling.overlap_counts(5, 3, (3, 3))
    assert counts.min() != counts.max()
    np.testing.assert_allclose(upsampling.phase_sums(kernel, 3), np.ones((3, 3)), rtol=1e-6)
    assert upsampling.balanced_phases(kernel, 3)
    out = upsampling.transposed_conv2d(np.ones((6, 6, 1), np.float32), kernel[..., None, None], 3)[..., 0]
    np.testing.assert_allclose(out[4:-4, 4:-4], 1, atol=1e-6)  # the interior of a constant is constant
    assert upsampling.artifact_score(out, 3, margin=4) == pytest.approx(0, abs=1e-6)


def test_fcn_alexnets_63_tap_kernel_is_balanced_at_stride_32():
    taps = upsampling.bilinear_taps(32, 63)  # voc-fcn-alexnet/net.py: kernel_size=63, stride=32
    assert upsampling.uneven_overlap(63, 32) and upsampling.balanced_phases(taps, 32)


def test_even_overlap_with_unequal_phases_is_not_flat():
    kernel = RNG.uniform(0, 1, (4, 4))
    assert not upsampling.uneven_overlap(4, 2) and not upsampling.balanced_phases(kernel, 2)


def test_balanced_phases_tolerates_rounding_only():
    kernel = upsampling.bilinear_kernel(5, 1)[..., 0, 0].astype(np.float64)
    assert upsampling.balanced_phases(kernel, 5)
    kernel[0, 0] += 1e-3
    assert not upsampling.balanced_phases(kernel, 5)


# --- zero insertion and pixel shuffle -----------------------------------------------------------

def test_insert_zeros():
    x = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    stuffed = upsampling.insert_zeros(x, 2)[..., 0]
    np.testing.assert_array_equal(stuffed, [[0, 0, 1, 0, 2], [0, 0, 0, 0, 0], [3, 0, 4, 0, 5]])
    assert upsampling.insert_zeros(_random(2, 3, 4, 2), (3, 1)).shape == (2, 7, 4, 2)


@pytest.mark.parametrize("k, s", [(3, 2), (4, 2), (5, 3), ((3, 4), (2, 1)), (2, 2), (3, 1)])
def test_zero_insertion_equals_keras_conv2d_transpose(k, s):
    x = _random(2, 4, 5, 3)
    layer = keras.layers.Conv2DTranspose(2, k, strides=s, use_bias=False)
    expected = np.asarray(layer(x))
    np.testing.assert_allclose(upsampling.transposed_conv2d_by_zero_insertion(x, layer.get_weights()[0], s),
                               expected, atol=1e-5)


def test_zero_insertion_is_a_keras_conv2d_of_the_stuffed_input_with_the_flipped_kernel():
    x = _random(1, 4, 4, 2)
    kernel = _random(3, 3, 5, 2)  # Conv2DTranspose layout: 2 in, 5 out
    padded = np.pad(upsampling.insert_zeros(x, 2), ((0, 0), (2, 2), (2, 2), (0, 0)))
    conv = keras.layers.Conv2D(5, 3, use_bias=False)
    conv.build(padded.shape)
    conv.set_weights([kernel[::-1, ::-1].transpose(0, 1, 3, 2)])
    np.testing.assert_allclose(np.asarray(conv(padded)), upsampling.transposed_conv2d(x, kernel, 2), atol=1e-5)


def test_with_stride_1_a_transposed_conv_is_a_full_convolution_with_the_flipped_kernel():
    x = _random(1, 5, 5, 1)
    kernel = _random(3, 3, 1, 1)
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    full = tf.nn.conv2d(padded, kernel[::-1, ::-1], 1, "VALID")
    np.testing.assert_allclose(np.asarray(full), upsampling.transposed_conv2d(x, kernel, 1), atol=1e-5)


def test_pixel_shuffle_follows_pytorchs_documented_order():
    r, c = 2, 3
    x = _random(2, c * r * r, 3, 4)  # NCHW
    out = upsampling.pixel_shuffle(x, r)
    assert out.shape == (2, c, 6, 8)
    for ch, h, w, i, j in [(0, 0, 0, 0, 0), (1, 2, 3, 1, 0), (2, 1, 2, 1, 1), (2, 2, 0, 0, 1)]:
        assert out[1, ch, h * r + i, w * r + j] == x[1, ch * r * r + i * r + j, h, w]
    assert upsampling.pixel_shuffle(x[0], r).shape == (c, 6, 8)


def test_pixel_shuffle_and_depth_to_space_differ_by_a_channel_permutation():
    r, c = 3, 2
    nhwc = _random(1, 2, 3, c * r * r)
    shuffled = upsampling.pixel_shuffle(nhwc.transpose(0, 3, 1, 2), r).transpose(0, 2, 3, 1)
    tf_order = np.asarray(tf.nn.depth_to_space(nhwc, r))
    assert not np.allclose(shuffled, tf_order), "same weights, different order: the porting trap"
    crd_to_dcr = np.arange(c * r * r).reshape(c, r, r).transpose(1, 2, 0).ravel()
    np.testing.assert_array_equal(np.asarray(tf.nn.depth_to_space(nhwc[..., crd_to_dcr], r)), shuffled)
    np.testing.assert_array_equal(upsampling.depth_to_space(nhwc[..., crd_to_dcr], r), shuffled)


# --- argument checks --------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, match", [
    (lambda: upsampling.nearest_upsample(np.ones((4, 4)), 1.5), TypeError, "factor must be a positive int"),
    (lambda: upsampling.bilinear_upsample(np.ones((4, 4)), 2.0), TypeError, "received 2.0"),
    (lambda: upsampling.nearest_upsample(np.ones((4, 4)), 0), ValueError, r"factor\[0\] must be >= 1"),
    (lambda: upsampling.nearest_upsample(np.ones(4), 2), ValueError, "x must have rank 2 or 3 or 4"),
    (lambda: upsampling.bilinear_upsample(np.ones((2, 2)), 2, align_corners="yes"), TypeError, "align_corners"),
    (lambda: upsampling.transposed_conv2d(np.ones((4, 4, 3)), np.ones((3, 3, 2, 4)), 2), ValueError,
     "kernel has 4 input channels"),
    (lambda: upsampling.transposed_conv2d(np.ones((4, 4)), np.ones((3, 3, 1, 1)), 2), ValueError,
     r"x must have rank 3 or 4"),
    (lambda: upsampling.transposed_conv2d(np.ones((4, 4, 1)), np.ones((3, 3)), 2), ValueError,
     r"kernel must have rank 4 \(kh, kw, C_out, C_in\)"),
    (lambda: upsampling.transposed_conv2d(np.ones((4, 4, 1)), np.ones((3, 3, 1, 1)), 2, "full"), ValueError,
     "padding must be one of 'valid', 'same'"),
    (lambda: upsampling.transposed_conv2d(np.ones((4, 4, 1)), np.ones((3, 3, 1, 1)), 2, "same", 2), ValueError,
     "output_padding must be smaller than the stride"),
    (lambda: upsampling.bilinear_kernel(2.5, 3), TypeError, "factor must be an int"),
    (lambda: upsampling.bilinear_kernel(2, 0), ValueError, "channels must be >= 1"),
    (lambda: upsampling.max_unpool(np.ones((2, 2, 1)), np.full((2, 2, 1), 99), (4, 4)), ValueError,
     "outside the 16 positions"),
    (lambda: upsampling.max_unpool(np.ones((2, 2, 1)), np.zeros((2, 2, 1), int), 4), ValueError,
     "output_shape must be"),
    (lambda: upsampling.depth_to_space(np.ones((2, 2, 6)), 2), ValueError, "not divisible by block_size"),
    (lambda: upsampling.artifact_score(np.ones((4, 4)), 2, margin=2), ValueError, "fewer than one stride period"),
    (lambda: upsampling.conv_matrix((2, 2), np.ones((3, 3))), ValueError, "larger than the input"),
    (lambda: upsampling.bilinear_taps(2, 0), ValueError, "kernel_size must be >= 1"),
    (lambda: upsampling.phase_sums(np.ones((3, 3, 1, 1)), 2), ValueError, r"kernel must have rank 1 or 2"),
    (lambda: upsampling.phase_sums(np.ones((3, 3)), 0), ValueError, r"strides\[0\] must be >= 1"),
    (lambda: upsampling.balanced_phases(np.ones((3, 3)), 1.5), TypeError, "strides must be a positive int"),
    (lambda: upsampling.insert_zeros(np.ones((4, 4)), 2), ValueError, "x must have rank 3 or 4"),
    (lambda: upsampling.transposed_conv2d_by_zero_insertion(np.ones((4, 4, 3)), np.ones((3, 3, 2, 4)), 2),
     ValueError, "kernel has 4 input channels"),
    (lambda: upsampling.pixel_shuffle(np.ones((6, 2, 2)), 2), ValueError, "not divisible by upscale_factor"),
    (lambda: upsampling.pixel_shuffle(np.ones((4, 2)), 2), ValueError, "channels first"),
])
def test_bad_arguments_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
