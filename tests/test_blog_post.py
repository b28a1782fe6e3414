"""fcn_lessons.blog_post: the post's code runs (and fails) as published; each fix does what it says."""

import os

import cv2
import keras
import numpy as np
import pytest

from fcn_lessons import blog_post, data, training

NUM_CLASSES = data.NUM_CLASSES


# --- the specimen ----------------------------------------------------------------------------

def test_the_post_code_holds_its_section_4():
    code = blog_post.POST_CODE
    assert list(code) == ["loader", "model", "compile", "fit", "save", "load", "predict"]
    assert "np.random.randint(len(self.image_list))" in code["loader"]
    assert "os.path.join(image_dir, self.image_list[index])" in code["loader"]  # the global, not self.image_dir
    assert "return np.concatenate(imgs, axis=0), len(self.image_list)" in code["loader"]
    assert code["model"].count("MaxPooling2D((2, 2), strides=(2, 2))(x)") == 4  # blocks 1-4 only
    assert "activation='sigmoid'" in code["model"] and "Add\n" in code["model"]
    assert "loss=mean_squared_error, metrics=['accuracy']" in code["compile"]
    assert "custom_objects={'tf': tf}" in code["load"] and blog_post.POST_MODEL_PATH in code["save"]


def test_the_model_fails_on_each_missing_name_then_on_its_shapes():
    namespace = blog_post.run_post_code("model")
    with pytest.raises(NameError, match="UpSampling2D"):
        namespace["fcn_model"]()
    namespace.update(UpSampling2D=keras.layers.UpSampling2D, Conv2DTranspose=keras.layers.Conv2DTranspose,
                     concatenate=keras.layers.concatenate)
    with pytest.raises(NameError, match="num_classes"):
        namespace["fcn_model"]()
    namespace["num_classes"] = NUM_CLASSES
    model = namespace["fcn_model"]()  # (None, None, 3): builds
    outcome = blog_post.attempt(model.predict_on_batch, np.zeros((1, 64, 64, 3), np.float32))
    assert "8 and 4" in str(outcome.error)
    with pytest.raises(ValueError, match="Concatenate"):
        namespace["fcn_model"]((64, 64, 3))


def test_post_model_without_fixes_is_the_posts_network():
    namespace = blog_post.run_post_code("model", {"UpSampling2D": keras.layers.UpSampling2D,
                                                  "Conv2DTranspose": keras.layers.Conv2DTranspose,
                                                  "concatenate": keras.layers.concatenate, "num_classes": 3})
    theirs, ours = namespace["fcn_model"](), blog_post.post_model(3)
    assert theirs.count_params() == ours.count_params()
    kinds = lambda model: [type(layer).__name__ for layer in model.layers]  # noqa: E731
    assert kinds(theirs) == kinds(ours)
    assert theirs.layers[-1].activation.__name__ == ours.layers[-1].activation.__name__ == "sigmoid"


def test_each_fix_changes_what_it_says():
    narrow = {"widths": blog_post.CPU_WIDTHS}
    assert blog_post.output_stride(blog_post.post_model(NUM_CLASSES, skip_fix="pool5", **narrow)) == 8
    assert blog_post.output_stride(blog_post.post_model(NUM_CLASSES, skip_fix="prepool", **narrow)) == 4
    for fix in ("pool5", "prepool"):
        model = blog_post.post_model(NUM_CLASSES, skip_fix=fix, full_resolution=True, logits=True, **narrow)
        assert blog_post.output_stride(model) == 1
        assert not any(layer.name == "sigmoid" for layer in model.layers)
    sigmoid = blog_post.post_model(NUM_CLASSES, skip_fix="pool5", full_resolution=True, **narrow)
    out = np.asarray(sigmoid.predict_on_batch(np.zeros((1, 64, 64, 3), np.float32)))
    assert out.shape == (1, 64, 64, NUM_CLASSES) and out.min() >= 0 and out.max() <= 1


def test_post_model_refuses_bad_arguments():
    with pytest.raises(ValueError, match="skip_fix must be one of"):
        blog_post.post_model(NUM_CLASSES, skip_fix="pool6")
    with pytest.raises(ValueError, match="needs aligned skips first"):
        blog_post.post_model(NUM_CLASSES, full_resolution=True)
    with pytest.raises(ValueError, match="channels of the post's 5 blocks"):
        blog_post.post_model(NUM_CLASSES, widths=(8, 16))
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        blog_post.post_model(1)
    with pytest.raises(ValueError, match="bn_momentum must be in"):
        blog_post.post_model(NUM_CLASSES, bn_momentum=1.0)


def test_a_low_resolution_output_meets_full_size_labels_with_an_error():
    images, masks = data.make_shapes(2, 64, seed=0)
    model = training.compile_model(blog_post.post_model(NUM_CLASSES, widths=blog_post.CPU_WIDTHS, skip_fix="pool5",
                                                        logits=True), NUM_CLASSES)
    outcome = blog_post.attempt(model.fit, images / 255.0, masks, epochs=1, verbose=0)
    assert outcome.error is not None and outcome.result is None


# --- the loss ---------------------------------------------------------------------------------

def test_mse_targets_give_void_no_class_and_no_weight():
    masks = np.array([[[0, 1, 255], [2, 255, 1]]], np.uint8)
    targets, weights = blog_post.mse_targets(masks, 3)
    assert targets.dtype == np.float32 and targets.shape == (1, 2, 3, 3)
    assert weights.tolist() == [[[1, 1, 0], [1, 0, 1]]]
    assert targets[0, 0, 1].tolist() == [0, 1, 0] and targets[0, 0, 2].tolist() == [0, 0, 0]
    assert targets.sum() == 4  # one 1 per labelled pixel


def test_mse_targets_refuse_bad_masks():
    with pytest.raises(TypeError, match="masks must have a signed int or unsigned int dtype"):
        blog_post.mse_targets(np.zeros((1, 2, 2), np.float32), 3)
    with pytest.raises(ValueError, match="outside 0..2"):
        blog_post.mse_targets(np.full((1, 2, 2), 3, np.uint8), 3)
    with pytest.raises(ValueError, match="masks must have rank 3"):
        blog_post.mse_targets(np.zeros((2, 2), np.uint8), 3)


def test_mse_of_integer_masks_fails_and_weighted_targets_train():
    images, masks = data.make_shapes(2, 64, seed=0)
    model = blog_post.post_model(NUM_CLASSES, widths=blog_post.CPU_WIDTHS, skip_fix="pool5", full_resolution=True)
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.mean_squared_error, metrics=["accuracy"])
    assert blog_post.attempt(model.fit, images / 255.0, masks, epochs=1, verbose=0).error is not None
    model = blog_post.post_model(NUM_CLASSES, widths=blog_post.CPU_WIDTHS, skip_fix="pool5", full_resolution=True)
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.mean_squared_error, metrics=["accuracy"])
    targets, weights = blog_post.mse_targets(masks, NUM_CLASSES)
    history = model.fit(images / 255.0, targets, sample_weight=weights, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


# --- the loader ---------------------------------------------------------------------------------

@pytest.fixture()
def image_folder(tmp_path):
    images, masks = data.make_shapes(6, 64, seed=2)
    data.write_voc(tmp_path, "train", images, masks, class_names=data.CLASS_NAMES, image_format="png")
    return str(tmp_path / "JPEGImages")


def test_the_loader_needs_names_it_never_defines_and_returns_no_labels(image_folder):
    namespace = blog_post.run_post_code("loader", {"os": os, "np": np, "cv2": cv2})
    loader = namespace["DataLoader"](image_folder)
    for name, value in [("image_dir", image_folder), ("trainAugmentation", blog_post.PostAugmentation),
                        ("preprocess_input", keras.applications.vgg16.preprocess_input)]:
        with pytest.raises(NameError, match=name):
            loader.load_data()
        namespace[name] = value
    images, count = loader.load_data(batchsize=2)
    assert images.shape == (2, 64, 64, 3) and count == 6  # the number of files, not labels


def test_fit_and_predict_cannot_read_the_loaders_tuple(image_folder):
    namespace = blog_post.run_post_code("loader", {"os": os, "np": np, "cv2": cv2, "image_dir": image_folder,
                                                   "trainAugmentation": blog_post.PostAugmentation,
                                                   "preprocess_input": lambda x: x / np.float32(255)})
    loader = namespace["DataLoader"](image_folder)
    model = blog_post.post_model(NUM_CLASSES, widths=blog_post.CPU_WIDTHS, skip_fix="pool5", full_resolution=True)
    model.compile(optimizer="adam", loss="mse")
    fit_code = {"model": model, "train_loader": loader, "val_loader": loader, "steps_per_epoch": 1, "epochs": 1,
                "validation_steps": 1}
    assert "Unrecognized data type" in str(blog_post.attempt(blog_post.run_post_code, "fit", fit_code).error)
    predict_code = {"DataLoader": namespace["DataLoader"], "test_dir": image_folder, "model": model, "np": np}
    assert "Unrecognized data type" in str(blog_post.attempt(blog_post.run_post_code, "predict", predict_code).error)


def test_post_augmentation_moves_pixels_of_the_image_only():
    image = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    a, b = blog_post.PostAugmentation(seed=3), blog_post.PostAugmentation(seed=3)
    out = a.augment_image(image)
    assert out.shape == image.shape and not np.array_equal(out, image)
    assert np.array_equal(out, b.augment_image(image))  # seeded: repeatable
    with pytest.raises(ValueError, match="cv2.imread returns None"):
        a.augment_image(None)
    with pytest.raises(ValueError, match="crop must be"):
        blog_post.PostAugmentation(crop=0)


def test_sampling_with_replacement_sees_about_63_percent():
    assert blog_post.distinct_share(20000, 20000) == pytest.approx(1 - np.exp(-1), abs=0.01)
    assert blog_post.distinct_share(0, 5) == 0.0
    with pytest.raises(ValueError, match="population must be >= 1"):
        blog_post.distinct_share(3, 0)


# --- saving -------------------------------------------------------------------------------------

def test_save_and_load_need_a_real_path_and_h5_is_called_legacy(tmp_path):
    model = blog_post.post_model(NUM_CLASSES, widths=blog_post.CPU_WIDTHS, skip_fix="pool5", full_resolution=True)
    model.compile(optimizer="adam", loss=keras.losses.mean_squared_error)  # the post's function, not "mse"
    with pytest.raises(ValueError, match="pass model_path="):
        blog_post.run_post_code("save", {"model": model})
    with blog_post.captured_log() as log:
        blog_post.run_post_code("save", {"model": model}, model_path=tmp_path / "m.h5")
    assert (tmp_path / "m.h5").is_file() and any("legacy" in line for line in log)
    import tensorflow as tf

    loaded = blog_post.run_post_code("load", {"tf": tf}, model_path=tmp_path / "m.h5")["model"]
    x = np.zeros((1, 64, 64, 3), np.float32)
    assert np.allclose(loaded.predict_on_batch(x), model.predict_on_batch(x))
    with pytest.raises(ValueError, match="part must be one of"):
        blog_post.run_post_code("train")


# --- showing errors -----------------------------------------------------------------------------

def test_error_line_is_one_clean_line(capsys):
    error = ValueError("Exception encountered when calling Concatenate.call().\n\n\x1b[1mDimension 1 must match "
                       "for '{{node a/b}} = ConcatV2[N=2](x, y)' with input shapes: [1,8], [1,4].\x1b[0m\n\n"
                       "Arguments received by Concatenate.call():\n  • inputs=...")
    line = blog_post.error_line(error)
    assert line == "ValueError: Dimension 1 must match with input shapes: [1,8], [1,4]."
    arrays = blog_post.error_line(ValueError("Unrecognized data type: x=(array([[1, 2],\n [3, 4]], dtype=uint8), 7)"))
    assert arrays == "ValueError: Unrecognized data type: x=(array(...), 7)"
    assert len(blog_post.error_line(ValueError("x" * 1000))) <= blog_post.MAX_MESSAGE + len("ValueError: ")
    outcome = blog_post.attempt(int, "7")
    assert outcome == (None, 7) and capsys.readouterr().out == "ran without error\n"
    with pytest.raises(TypeError, match="step must be a function"):
        blog_post.attempt(3)


def test_every_section_of_the_post_has_its_bugs():
    sections = {bug.section for bug in blog_post.BUGS}
    assert sections == {"4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7"}
    assert all(bug.bug and bug.symptom and bug.fix and bug.lesson for bug in blog_post.BUGS)
    table = blog_post.bug_table()
    assert table.count("\n") == len(blog_post.BUGS) + 1
