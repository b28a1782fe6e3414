"""Oxford-IIIT Pet: the archive layout read without tensorflow-datasets, trimaps mapped to the course labels."""

import importlib.util
import tarfile

import numpy as np
import pytest

from fcn_lessons import pets, pipeline
from fcn_lessons.labels import VOID_LABEL


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    return pets.write_fixture_archives(tmp_path_factory.mktemp("pets"), num_train=4, num_test=2)


def test_trimap_values_map_to_background_pet_and_void():
    trimap = np.array([[1, 2], [3, 2]], np.uint8)
    assert pets.trimap_to_mask(trimap).tolist() == [[1, 0], [VOID_LABEL, 0]]
    assert pets.trimap_to_mask(trimap[..., None]).shape == (2, 2)
    with pytest.raises(pets.PetsFormatError, match=r"values \[0, 4\]"):
        pets.trimap_to_mask(np.array([[0, 1, 4]], np.uint8), name="x.png")


def test_the_fixture_has_the_real_layout(archives):
    with tarfile.open(archives / pets.IMAGES_ARCHIVE) as tar:
        assert all(n.startswith("images/") and n.endswith(".jpg") for n in tar.getnames())
    with tarfile.open(archives / pets.ANNOTATIONS_ARCHIVE) as tar:
        names = tar.getnames()
    assert {"annotations/trainval.txt", "annotations/test.txt"} <= set(names)
    assert sum(n.startswith("annotations/trimaps/") for n in names) == 6


def test_read_archives_gives_course_masks(archives):
    images, masks, names = pets.read_archives(archives, "train")
    assert len(images) == 4 and names[0] == "beagle_1"
    assert images[0].shape == (64, 64, 3) and images[0].dtype == np.uint8
    values = set(np.unique(np.concatenate([m.ravel() for m in masks])))
    assert values == {0, 1, VOID_LABEL}
    test_images, _, test_names = pets.read_archives(archives, "test", size=32, limit=1)
    assert test_names == ["beagle_5"] and test_images[0].shape == (32, 32, 3)


def test_the_same_pipeline_reads_the_pets(archives, tmp_path):
    root = pets.write_voc_folder(archives, tmp_path / "pets_voc")
    ds = pipeline.from_voc(root, "train", batch_size=2, augment={"crop_size": 48})
    images, masks = next(iter(ds))
    assert images.shape == (2, 48, 48, 3) and set(np.unique(masks.numpy())) <= {0, 1, VOID_LABEL}


def test_missing_archives_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="images.tar.gz, annotations.tar.gz"):
        pets.read_archives(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        pets.read_archives(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="split"):
        pets.read_archives(tmp_path, "val")


@pytest.mark.skipif(importlib.util.find_spec("tensorflow_datasets") is not None,
                    reason="tensorflow-datasets is installed: the missing-package message cannot be seen")
def test_load_tfds_says_how_to_install_it():
    with pytest.raises(ImportError, match="pip install tensorflow-datasets"):
        pets.load_tfds("train")


@pytest.mark.skipif(importlib.util.find_spec("tensorflow_datasets") is None,
                    reason="tensorflow-datasets is an optional extra (pip install tensorflow-datasets); "
                           "the archive reader above covers the same files without it")
def test_tfds_builds_the_version_the_course_describes():
    import tensorflow_datasets as tfds

    assert str(tfds.builder_cls(pets.TFDS_NAME).VERSION).startswith("4.")  # no download: the class only
