"""tf.data pipelines: class ids survive decoding, batches are reproducible per (seed, epoch)."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcn_lessons import data, pipeline, voc
from fcn_lessons.labels import VOID_LABEL

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "data" / "shapes_voc"


def _batches(dataset):
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(p[0], q[0]) and np.array_equal(p[1], q[1]) for p, q in zip(a, b))


@pytest.fixture(scope="module")
def shapes():
    return data.make_shapes(10, 48, seed=4)


def _palette_png(indices, palette):
    picture = Image.frombytes("P", indices.shape[::-1], np.ascontiguousarray(indices, np.uint8).tobytes())
    picture.putpalette(palette)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def test_decode_png_gives_colours_decode_mask_gives_the_stored_indices():
    import tensorflow as tf

    # Entry 2 is unused and has the same colour as entry 0 (black), as unused entries often do.
    indices = np.array([[0, 1, 3], [3, 255, 0]], np.uint8)
    palette = [0, 0, 0, 200, 0, 0, 0, 0, 0, 0, 200, 0] + [0, 0, 0] * 251 + [224, 224, 192]
    png = _palette_png(indices, palette)
    colours = tf.io.decode_png(png).numpy()
    assert colours.shape == (2, 3, 3) and colours[0, 1].tolist() == [200, 0, 0]
    assert not np.array_equal(tf.io.decode_png(png, channels=1).numpy()[..., 0], indices)
    assert np.array_equal(pipeline.decode_mask(tf.constant(png), num_classes=5).numpy(), indices)


def test_decode_mask_matches_the_fixture_files():
    import tensorflow as tf

    for path in sorted((FIXTURE / voc.MASK_DIR).glob("*.png"))[:4]:
        expected = voc.read_mask(path, num_classes=len(data.CLASS_NAMES))
        got = pipeline.decode_mask(tf.io.read_file(str(path)), num_classes=len(data.CLASS_NAMES)).numpy()
        assert np.array_equal(got, expected)


def test_decode_mask_refuses_rgb_masks_and_unknown_classes():
    import tensorflow as tf

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(buffer, format="PNG")
    png = _palette_png(np.array([[7]], np.uint8), [0, 0, 0] * 256)
    for data_bytes, message in [(buffer.getvalue(), "must be a palette PNG"), (png, r"class ids \[7\] are outside")]:
        with pytest.raises(voc.VOCFormatError, match=message):  # eager: the error itself
            pipeline.decode_mask(tf.constant(data_bytes), num_classes=5)
        in_graph = tf.data.Dataset.from_tensors(data_bytes).map(lambda b: pipeline.decode_mask(b, num_classes=5))
        with pytest.raises(tf.errors.OpError, match=message):  # inside tf.data: the same message
            next(iter(in_graph))


def test_decode_voc_equals_read_voc():
    images, masks, ids = pipeline.decode_voc(FIXTURE, "train")
    expected_images, expected_masks, expected_ids = voc.read_voc(FIXTURE, "train")
    assert ids == expected_ids
    assert all(np.array_equal(a, b) for a, b in zip(masks, expected_masks))
    assert all(np.array_equal(a, b) for a, b in zip(images, expected_images))  # same (accurate) JPEG decoding


def test_from_arrays_batches(shapes):
    images, masks = shapes
    ds = pipeline.from_arrays(images, masks, batch_size=4, shuffle=False)
    batches = _batches(ds)
    assert int(ds.cardinality()) == 3 and [len(x) for x, _ in batches] == [4, 4, 2]
    x, y = batches[0]
    assert x.dtype == np.float32 and y.dtype == np.uint8
    np.testing.assert_allclose(x, images[:4] / 255.0, atol=1e-6)
    assert np.array_equal(y, masks[:4])
    assert int(pipeline.from_arrays(images, masks, batch_size=4, drop_remainder=True).cardinality()) == 2


def test_every_epoch_is_a_permutation(shapes):
    images, masks = shapes
    ds = pipeline.from_arrays(images, masks, batch_size=3, seed=1)
    orders = []
    for _ in range(3):
        seen = np.concatenate([y for _, y in _batches(ds)])
        order = [next(i for i in range(len(masks)) if np.array_equal(m, masks[i])) for m in seen]
        assert sorted(order) == list(range(len(masks)))
        orders.append(order)
    assert orders[0] != orders[1] != orders[2]


def test_same_seed_same_batches_in_a_fresh_pipeline(shapes):
    images, masks = shapes
    options = {"batch_size": 4, "augment": {"crop_size": 24}, "seed": 9}
    first = pipeline.from_arrays(images, masks, **options)
    epochs = [_batches(first) for _ in range(2)]
    assert not _same(epochs[0], epochs[1])
    assert _same(_batches(pipeline.from_arrays(images, masks, **options)), epochs[0])
    assert not _same(_batches(pipeline.from_arrays(images, masks, **{**options, "seed": 10})), epochs[0])


def test_an_epoch_clock_replays_any_epoch(shapes):
    images, masks = shapes
    options = {"batch_size": 4, "augment": True, "seed": 2}
    counting = pipeline.from_arrays(images, masks, **options)
    epochs = [_batches(counting) for _ in range(3)]
    clock = pipeline.EpochClock()
    clocked = pipeline.from_arrays(images, masks, epoch_clock=clock, **options)
    clock.set(2)
    assert _same(_batches(clocked), epochs[2])
    assert _same(_batches(clocked), epochs[2])  # the clock, not the iteration count, decides
    clock.callback().on_epoch_begin(1)
    assert clock.epoch == 1 and _same(_batches(clocked), epochs[1])


def test_from_voc_resizes_or_refuses_unequal_sizes(tmp_path):
    images, masks = data.make_shapes(2, 40, seed=1)
    big_images, big_masks = data.make_shapes(1, 48, seed=2)
    data.write_voc(tmp_path, "train", [*images, *big_images], [*masks, *big_masks], class_names=data.CLASS_NAMES)
    with pytest.raises(ValueError, match="differ in size.*size=\\(H, W\\)"):
        pipeline.from_voc(tmp_path, "train", batch_size=2)
    ds = pipeline.from_voc(tmp_path, "train", batch_size=3, size=(40, 40), shuffle=False)
    x, y = next(iter(ds))
    assert x.shape == (3, 40, 40, 3) and set(np.unique(y.numpy())) <= set(range(5)) | {VOID_LABEL}
    single = _batches(pipeline.from_voc(tmp_path, "train", batch_size=1, shuffle=False))
    assert [x.shape[1:3] for x, _ in single] == [(40, 40), (40, 40), (48, 48)]
    assert np.array_equal(single[2][1][0], big_masks[0])
    cropped = pipeline.from_voc(tmp_path, "train", batch_size=3, augment={"crop_size": 24})
    assert next(iter(cropped))[0].shape == (3, 24, 24, 3)


def test_bad_arguments_are_named(shapes, tmp_path):
    images, masks = shapes
    with pytest.raises(ValueError, match="same length"):
        pipeline.from_arrays(images, masks[:3], batch_size=2)
    with pytest.raises(TypeError, match="mask"):
        pipeline.from_arrays(images, masks.astype(np.float32), batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        pipeline.from_arrays(images, masks, batch_size=0)
    with pytest.raises(ValueError, match="unknown options"):
        pipeline.from_arrays(images, masks, batch_size=2, augment={"rotate": 10})
    with pytest.raises(TypeError, match="EpochClock"):
        pipeline.from_arrays(images, masks, batch_size=2, epoch_clock=3)
    with pytest.raises(ValueError, match="gives no batch"):
        pipeline.from_arrays(images[:2], masks[:2], batch_size=4, drop_remainder=True)
    with pytest.raises(FileNotFoundError, match="no such split file"):
        pipeline.from_voc(FIXTURE, "nosuchsplit", batch_size=2)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        pipeline.from_voc(tmp_path / "missing", "train", batch_size=2)


def test_naive_loader_returns_labels(tmp_path):
    loader = pipeline.NaiveLoader(FIXTURE, "train", seed=0)
    images, masks = loader.load_data(batch_size=3, subset="val")
    assert images.shape == (3, 64, 64, 3) and images.dtype == np.float32 and masks.shape == (3, 64, 64)
    files = voc.read_voc(FIXTURE, "train")
    for image, mask in zip(images, masks):
        match = [i for i, m in enumerate(files[1]) if np.array_equal(m, mask)]
        assert match and np.array_equal(np.round(image * 255).astype(np.uint8), files[0][match[0]])
    augmented = pipeline.NaiveLoader(FIXTURE, "train", augment={"crop_size": 48})
    x, y = next(augmented.batches(batch_size=2))
    assert x.shape == (2, 48, 48, 3) and set(np.unique(y)) <= set(range(5)) | {VOID_LABEL}
    with pytest.raises(ValueError, match="subset"):
        loader.load_data(subset="training")


def test_precision_benchmark_refuses_settings_without_the_float32_reference():
    from fcn_lessons.bench import pipeline as bench

    with pytest.raises(ValueError, match=r"start with \('float32', False\)"):
        bench.precision_speed(settings=[("mixed_float16", False)])
    with pytest.raises(ValueError, match="unknown policies"):
        bench.precision_speed(settings=[("float32", False), ("float8", False)])
