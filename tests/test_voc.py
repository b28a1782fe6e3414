"""PASCAL VOC layout: round trips, real-VOC conventions, and an error naming the file for every problem."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcn_lessons import data, voc
from fcn_lessons.viz import VOC_PALETTE, colorize

FIXTURE = Path(__file__).resolve().parent.parent / "data" / data.FIXTURE_NAME


@pytest.fixture(scope="module")
def scenes():
    return data.make_shapes(5, 48, seed=3)


@pytest.fixture
def written(tmp_path, scenes):
    """A small VOC folder: 5 scenes in split 'train', JPEG images."""
    images, masks = scenes
    data.write_voc(tmp_path, "train", images, masks, class_names=data.CLASS_NAMES)
    return tmp_path


def test_round_trip_is_exact_with_png_images(tmp_path, scenes):
    images, masks = scenes
    ids = data.write_voc(tmp_path, "train", images, masks, image_format="png", class_names=data.CLASS_NAMES)
    read_images, read_masks, read_ids = data.read_voc(tmp_path, "train")
    assert read_ids == ids == [f"train_{i:04d}" for i in range(5)]
    np.testing.assert_array_equal(np.stack(read_images), images)
    np.testing.assert_array_equal(np.stack(read_masks), masks)
    assert all(m.dtype == np.uint8 for m in read_masks) and all(i.dtype == np.uint8 for i in read_images)


def test_round_trip_with_jpeg_images(written, scenes):
    images, masks = scenes
    read_images, read_masks, _ = data.read_voc(written, "train")
    np.testing.assert_array_equal(np.stack(read_masks), masks)  # PNG masks: lossless
    error = np.abs(np.stack(read_images).astype(int) - images)
    assert error.mean() < 6 and error.max() < 64  # JPEG: close, not identical
    assert sorted(p.name for p in (written / "JPEGImages").iterdir())[0] == "train_0000.jpg"


def test_masks_are_palette_pngs_with_the_voc_colours(written):
    with Image.open(written / "SegmentationClass" / "train_0000.png") as png:
        assert png.format == "PNG" and png.mode == "P"
        palette = np.array(png.getpalette()[:768]).reshape(-1, 3)
    np.testing.assert_array_equal(palette, VOC_PALETTE)


def test_split_files_and_class_names(written):
    assert (written / "ImageSets" / "Segmentation" / "train.txt").read_text().split() == [
        f"train_{i:04d}" for i in range(5)]
    assert voc.read_class_names(written) == data.CLASS_NAMES


def test_float_images_and_custom_ids(tmp_path, scenes):
    images, masks = scenes
    ids = ["2007_000032", "a", "b", "c", "d"]
    data.write_voc(tmp_path, "val", images / 255.0, masks, ids=ids, image_format="png",
                   class_names=data.CLASS_NAMES)
    read_images, _, read_ids = data.read_voc(tmp_path, "val")
    assert read_ids == ids
    np.testing.assert_array_equal(np.stack(read_images), images)


def test_reads_the_committed_fixture():
    for split, (count, _) in data.FIXTURE_SPLITS.items():
        images, masks, ids = data.read_voc(FIXTURE, split)
        assert len(images) == len(masks) == len(ids) == count
        assert images[0].shape == (data.FIXTURE_IMAGE_SIZE, data.FIXTURE_IMAGE_SIZE, 3)


def test_real_voc_conventions(tmp_path):
    """No class_names.txt: 21 VOC classes; any palette works (indices are the classes);
    a grey or CMYK JPEG becomes RGB; sizes may differ between images."""
    root = tmp_path / "VOCdevkit" / "VOC2012"
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / folder).mkdir(parents=True)
    mask = np.zeros((30, 40), np.uint8)
    mask[5:20, 10:30] = 15  # person
    mask[4, 10:30] = 255
    png = Image.frombytes("P", (40, 30), mask.tobytes())
    png.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])  # not VOC's palette
    png.save(root / "SegmentationClass" / "2007_000032.png")
    Image.fromarray(np.full((30, 40), 128, np.uint8)).save(root / "JPEGImages" / "2007_000032.jpg")
    other = np.zeros((25, 20), np.uint8)
    other[3:9, 4:9] = 20
    voc.write_mask(root / "SegmentationClass" / "2007_000033.png", other)
    Image.fromarray(np.zeros((25, 20, 3), np.uint8)).convert("CMYK").save(root / "JPEGImages" / "2007_000033.jpg")
    (root / "ImageSets/Segmentation/val.txt").write_text("2007_000032\n\n2007_000033\n")
    images, masks, ids = data.read_voc(root, "val")
    assert ids == ["2007_000032", "2007_000033"]
    assert [i.shape for i in images] == [(30, 40, 3), (25, 20, 3)]
    np.testing.assert_array_equal(masks[0], mask)
    np.testing.assert_array_equal(masks[1], other)
    with pytest.raises(FileNotFoundError, match="Did you mean root=.*VOC2012"):
        data.read_voc(tmp_path / "VOCdevkit", "val")


def test_resizing_uses_nearest_for_masks(written, scenes):
    _, masks = scenes
    images, resized, _ = data.read_voc(written, "train", size=(70, 90))
    assert images[0].shape == (70, 90, 3) and resized[0].shape == (70, 90)
    for original, small in zip(masks, resized):
        assert set(np.unique(small)) <= set(np.unique(original))  # no label invented
    _, doubled, _ = data.read_voc(written, "train", size=96)
    np.testing.assert_array_equal(doubled[0], masks[0].repeat(2, axis=0).repeat(2, axis=1))  # aligned
    image, mask = voc.resize_pair(np.zeros((8, 8, 3), np.uint8), masks[0][:8, :8], 4)
    assert image.shape == (4, 4, 3) and mask.shape == (4, 4)


# --- every problem raises an error that names the file ---------------------------------------

def _break(path: Path, how: str):
    if how == "truncate":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])
    elif how == "garbage":
        path.write_bytes(b"not an image at all")
    elif how == "delete":
        path.unlink()


@pytest.mark.parametrize("target, how, error, match", [
    ("JPEGImages/train_0002.jpg", "delete", FileNotFoundError, r"train_0002\.jpg: missing image for id 'train_0002' listed in .*train\.txt"),
    ("SegmentationClass/train_0001.png", "delete", FileNotFoundError, r"train_0001\.png: missing mask for id 'train_0001'"),
    ("JPEGImages/train_0003.jpg", "truncate", voc.VOCFormatError, r"train_0003\.jpg: cannot decode this image"),
    ("JPEGImages/train_0003.jpg", "garbage", voc.VOCFormatError, r"train_0003\.jpg: cannot decode this image"),
    ("SegmentationClass/train_0004.png", "truncate", voc.VOCFormatError, r"train_0004\.png: cannot decode this mask"),
    ("SegmentationClass/train_0004.png", "garbage", voc.VOCFormatError, r"train_0004\.png: cannot decode this mask"),
])
def test_missing_or_corrupt_files(written, target, how, error, match):
    _break(written / target, how)
    with pytest.raises(error, match=match):
        data.read_voc(written, "train")


def test_mask_that_is_not_a_palette_png(written, scenes):
    _, masks = scenes
    path = written / "SegmentationClass" / "train_0000.png"
    Image.fromarray(masks[0]).save(path)  # mode L: grey levels
    with pytest.raises(voc.VOCFormatError, match=r"train_0000\.png: not a palette PNG \(PIL mode 'L'"):
        data.read_voc(written, "train")
    Image.fromarray(colorize(masks[0])).save(path)  # mode RGB: VOC colours, not class ids
    with pytest.raises(voc.VOCFormatError, match=r"not a palette PNG \(PIL mode 'RGB'"):
        data.read_voc(written, "train")
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(path, format="JPEG")  # a JPEG named .png
    with pytest.raises(voc.VOCFormatError, match=r"train_0000\.png: a mask must be a PNG file, this is a JPEG"):
        data.read_voc(written, "train")


def test_mask_size_must_match_its_image(written):
    voc.write_mask(written / "SegmentationClass" / "train_0002.png", np.zeros((40, 48), np.uint8))
    with pytest.raises(voc.VOCFormatError, match=r"train_0002\.png: mask is 40×48 \(H×W\) but its image "
                                                 r"train_0002\.jpg is 48×48"):
        data.read_voc(written, "train")


def test_class_ids_outside_the_classes(written):
    bad = np.zeros((48, 48), np.uint8)
    bad[:2, :3] = 7
    bad[5, 5] = 254
    voc.write_mask(written / "SegmentationClass" / "train_0001.png", bad)
    with pytest.raises(voc.VOCFormatError, match=r"train_0001\.png: class ids \[7, 254\] at 7 pixels are outside "
                                                 r"the 5 classes \(0\.\.4, and 255 for void\)"):
        data.read_voc(written, "train")
    images, masks, _ = data.read_voc(written, "train", num_classes=10 + 245)  # told there are more classes
    assert masks[1][0, 0] == 7


@pytest.mark.parametrize("content, error, match", [
    ("train_0000\ntrain_0000\n", voc.VOCFormatError, r"line 2: id 'train_0000' is listed twice \(first on line 1\)"),
    ("\n\n", voc.VOCFormatError, "the split lists no ids"),
    ("train_0000 1\n", voc.VOCFormatError, "line 1: expected one id per line"),
])
def test_malformed_split_files(written, content, error, match):
    (written / "ImageSets" / "Segmentation" / "train.txt").write_text(content)
    with pytest.raises(error, match=match):
        data.read_voc(written, "train")


def test_missing_root_split_and_ambiguous_images(written, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        data.read_voc(tmp_path / "nowhere", "train")
    with pytest.raises(FileNotFoundError, match=r"val\.txt: no such split file \(splits there: train\)"):
        data.read_voc(written, "val")
    with pytest.raises(ValueError, match="split must be a name"):
        data.read_voc(written, "../train")
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(written / "JPEGImages" / "train_0000.png")
    with pytest.raises(voc.VOCFormatError, match=r"id 'train_0000' has several images \(train_0000\.jpg, train_0000\.png\)"):
        data.read_voc(written, "train")


# --- writing: validated, and never overwrites silently ---------------------------------------

def test_nothing_is_overwritten_without_permission(written, scenes):
    images, masks = scenes
    before = {p: p.read_bytes() for p in written.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError, match="write_voc would overwrite 11 existing file"):
        data.write_voc(written, "train", images, masks[::-1])
    assert before == {p: p.read_bytes() for p in written.rglob("*") if p.is_file()}  # nothing written
    data.write_voc(written, "train", images, masks[::-1], image_format="png", overwrite=True)
    np.testing.assert_array_equal(np.stack(data.read_voc(written, "train")[1]), masks[::-1])
    assert not list((written / "JPEGImages").glob("*.jpg"))  # the old JPEGs are replaced, not left beside


def test_class_names_file_is_not_replaced_silently(written, scenes):
    images, masks = scenes
    with pytest.raises(FileExistsError, match="already lists other classes"):
        data.write_voc(written, "other", images, masks, class_names=["bg", "thing", "a", "b", "c"])
    assert not (written / "ImageSets" / "Segmentation" / "other.txt").exists()


@pytest.mark.parametrize("change, error, match", [
    (lambda im, m: (im[:3], m), ValueError, "same length, received 3 and 5"),
    (lambda im, m: (im[:0], m[:0]), ValueError, "at least one image"),
    (lambda im, m: (im, m[:, :40]), ValueError, r"masks\[0\] has shape \(40, 48\) but images\[0\] is \(48, 48\)"),
    (lambda im, m: (im, np.where(m == 1, 9, m)), ValueError, r"masks\[\d\] holds class ids \[9\] outside 0\.\.4"),
    (lambda im, m: (im * 2.0, m), ValueError, r"images\[0\] is float, so it must lie in \[0, 1\]"),
    (lambda im, m: (im[..., :2], m), ValueError, r"images\[0\] must be \(H, W, 3\) RGB"),
    (lambda im, m: (im, m.astype(np.float32)), TypeError, r"masks\[0\] must have a signed int or unsigned int dtype"),
])
def test_write_arguments_are_validated(tmp_path, scenes, change, error, match):
    images, masks = change(*scenes)
    with pytest.raises(error, match=match):
        data.write_voc(tmp_path, "train", images, masks, class_names=data.CLASS_NAMES)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"ids": ["a", "a", "b", "c", "d"]}, ValueError, r"ids must be unique; repeated: \['a'\]"),
    ({"ids": ["a/b", "c", "d", "e", "f"]}, ValueError, r"ids\[0\] must be a file-name-safe str"),
    ({"ids": ["a", "b"]}, ValueError, "ids has 2 entries for 5 images"),
    ({"image_format": "bmp"}, ValueError, "image_format must be one of 'jpg', 'png'"),
    ({"jpeg_quality": 0}, ValueError, "jpeg_quality must be >= 1"),
    ({"class_names": ["only"]}, ValueError, "class_names must be at least 2 unique"),
])
def test_write_options_are_validated(tmp_path, scenes, kwargs, error, match):
    images, masks = scenes
    kwargs.setdefault("class_names", data.CLASS_NAMES)
    with pytest.raises(error, match=match):
        data.write_voc(tmp_path, "train", images, masks, **kwargs)
