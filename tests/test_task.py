"""fcn_lessons.task: lesson 00's three-task picture and its scoring-trap helpers."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fcn_lessons import data, metrics, task  # noqa: E402

VOID = 255


def _scene():
    """Two squares of class 1 apart, a class-2 bar cut in two by a class-3 bar, void between."""
    mask = np.zeros((40, 40), np.uint8)
    mask[2:8, 2:8] = 1
    mask[2:8, 30:36] = 1
    mask[20:24, 5:35] = 2  # a horizontal bar ...
    mask[15:30, 18:22] = 3  # ... cut by a vertical one
    mask[15:30, 17] = VOID
    return mask


def test_region_boxes_give_one_box_per_connected_region():
    assert task.region_boxes(_scene(), 4) == [
        (1, 2, 2, 6, 6), (1, 30, 2, 6, 6),  # (class, x, y, width, height)
        (2, 5, 20, 12, 4), (2, 22, 20, 13, 4),  # the bar, in two regions
        (3, 18, 15, 4, 15)]


def test_lone_objects_sees_touching_and_split_regions():
    assert not task.lone_objects(_scene())
    apart = np.zeros((20, 20), np.uint8)
    apart[1:5, 1:5], apart[10:15, 10:15] = 1, 2
    assert task.lone_objects(apart)
    apart[5, 1:5] = VOID  # a void outline stays part of its object's island
    assert task.lone_objects(apart)
    apart[5:10, 3:12] = VOID  # void joining two objects of different classes: they touch
    assert not task.lone_objects(apart)
    same_class = np.zeros((20, 20), np.uint8)
    same_class[1:8, 1:8], same_class[5:12, 5:12] = 1, 1  # two overlapping squares of one class
    assert task.lone_objects(same_class)  # one region: no label map can tell them apart


def test_present_classes_leave_out_background_and_void():
    assert task.present_classes(_scene(), ["bg", "a", "b", "c"]) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="class_names has 2 names"):
        task.present_classes(_scene(), ["bg", "a"])


def _extents(fig, texts):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [t.get_bbox_patch().get_window_extent(renderer) for t in texts]


def test_box_labels_stay_inside_the_image_and_apart():
    images, masks = data.make_shapes(1, 128, seed=3, num_objects=(4, 4))
    fig, ax = plt.subplots()
    ax.imshow(images[0])
    boxes = task.region_boxes(masks[0], data.NUM_CLASSES)
    labels = task.draw_boxes(ax, boxes, data.CLASS_NAMES, image_shape=masks[0].shape)
    assert [t.get_text() for t in labels] == [data.CLASS_NAMES[b[0]] for b in boxes]
    extents = _extents(fig, labels)
    image = ax.get_window_extent()
    for extent in extents:
        assert image.x0 - 1 <= extent.x0 and extent.x1 <= image.x1 + 1
        assert image.y0 - 1 <= extent.y0 and extent.y1 <= image.y1 + 1  # never over the title
    assert not any(a.overlaps(b) for i, a in enumerate(extents) for b in extents[i + 1:])
    plt.close(fig)


def test_three_tasks_figure_names_void_in_its_legend():
    images, masks = data.make_shapes(1, 128, seed=32, num_objects=(4, 4))
    fig = task.plot_three_tasks(images[0], masks[0], data.CLASS_NAMES)
    assert len(fig.axes) == 3
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[-1] == "255 void" and len(legend) == data.NUM_CLASSES + 1
    assert "circle, square, triangle" in fig.axes[0].get_title()
    plt.close(fig)


def test_label_zoom_refuses_a_window_outside_the_image():
    images, masks = data.make_shapes(1, 64, seed=3)
    with pytest.raises(ValueError, match="must lie inside the image"):
        task.plot_label_zoom(images[0], masks[0], data.CLASS_NAMES, window=(40, 40, 30, 30))
    with pytest.raises(ValueError, match=r"\(top, left, height, width\)"):
        task.plot_label_zoom(images[0], masks[0], data.CLASS_NAMES, window=(0, 0, 10))
    fig = task.plot_label_zoom(images[0], masks[0], data.CLASS_NAMES, window=(0, 0, 32, 32))
    assert len(fig.axes) == 2
    plt.close(fig)


def test_probabilities_keep_the_decisions():
    ids = np.array([[0, 2], [1, 4]])
    probs = task.probabilities(ids, 5, 0.6)
    assert probs.shape == (2, 2, 5) and probs.dtype == np.float32
    np.testing.assert_array_equal(probs.argmax(-1), ids)
    np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-6)
    np.testing.assert_allclose(probs[0, 1], [0.1, 0.1, 0.6, 0.1, 0.1], rtol=1e-6)
    with pytest.raises(ValueError, match=r"confidence must be in \(1/num_classes, 1\]"):
        task.probabilities(ids, 5, 0.2)
    with pytest.raises(ValueError, match="outside 0..2"):
        task.probabilities(ids, 3, 0.9)


def test_soft_iou_depends_on_confidence_and_equals_iou_when_certain():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(4, 8, 8)).astype(np.uint8)
    predictions = np.where(rng.uniform(size=labels.shape) < 0.7, labels, rng.integers(0, 3, size=labels.shape))
    labels[0, :2] = VOID
    certain = task.probabilities(predictions, 3, 1.0)
    mean_iou = metrics.segmentation_scores(metrics.confusion_matrix(labels, predictions, 3))["mean_iou"]
    assert task.soft_mean_iou(labels, certain) == pytest.approx(mean_iou)
    unsure = task.soft_mean_iou(labels, task.probabilities(predictions, 3, 0.5))
    assert unsure < mean_iou - 0.1


def test_soft_iou_by_hand():
    labels = np.array([0, 1, VOID])
    probs = np.array([[0.75, 0.25], [0.5, 0.5], [0.0, 1.0]])  # the void pixel is ignored
    # class 0: intersection 0.75, union 1 + 1.25 - 0.75 = 1.5; class 1: 0.5 / (1 + 0.75 - 0.5)
    assert task.soft_mean_iou(labels, probs) == pytest.approx((0.75 / 1.5 + 0.5 / 1.25) / 2)
    with pytest.raises(ValueError, match=r"labels.shape \+ \(classes,\)"):
        task.soft_mean_iou(labels, probs[:2])


def test_label_zoom_shows_the_whole_scene_by_default():
    images, masks = data.make_shapes(1, 64, seed=3)
    fig = task.plot_label_zoom(images[0], masks[0], data.CLASS_NAMES)
    assert fig.axes[1].get_images()[0].get_array().shape[:2] == (64, 64)
    plt.close(fig)


def test_lesson_00s_occlusion_scene_cuts_one_circle_in_two_by_more_than_the_void_band():
    """Lesson 00, section 2: seed 3880 (128 px, 4 objects) holds one circle, cut in two by the cross.

    The two circle regions are at least 10 pixels apart: the cross separates them, not the
    2-pixel void band (which alone can cut a thin neck: seed 3's triangle, the reviewer's case).
    """
    import cv2

    images, masks = data.make_shapes(1, 128, seed=3880, num_objects=(4, 4))
    circle = data.CLASS_NAMES.index("circle")
    regions = [box for box in task.region_boxes(masks[0], data.NUM_CLASSES) if box[0] == circle]
    assert len(regions) == 2 and not task.lone_objects(masks[0])
    count, ids = cv2.connectedComponents((masks[0] == circle).astype(np.uint8), connectivity=8)
    first, second = ids == 1, ids == 2
    gap = cv2.distanceTransform((~first).astype(np.uint8), cv2.DIST_L2, 5)[second].min()
    assert gap >= 10
