"""Lesson 02's benchmarks: the receptive-field table of VGG16, and the explorer's callbacks."""

from __future__ import annotations

import time

VGG16_TABLE_TARGET_MS = 1000.0  # lesson 02 builds the table live: well under a second on a laptop


def vgg16_table(*, repeats: int = 7) -> dict:
    """Lesson 02: ``receptive_fields`` on FCN-VGG16 (target: the table in under a second).

    The model is VGG16's trunk (``weights=None``: nothing downloaded) with fc6 as a 7×7
    and fc7 as a 1×1 convolution of 4096 channels, as in the FCN paper. Reported: the
    median time of ``receptive_fields`` on the built model, whether it meets
    ``VGG16_TABLE_TARGET_MS`` (a figure here, never a timed unit test), and the time to
    build the model once (Keras allocates fc6's 103M weights; the fields do not need them).
    """
    import keras

    from fcn_lessons import receptive
    from fcn_lessons.timing import median_seconds

    start = time.perf_counter()
    trunk = keras.applications.VGG16(weights=None, include_top=False)
    x = keras.layers.Conv2D(4096, 7, activation="relu", name="fc6")(trunk.output)
    x = keras.layers.Conv2D(4096, 1, activation="relu", name="fc7")(x)
    model = keras.Model(trunk.input, x, name="fcn_vgg16_trunk")
    build_s = time.perf_counter() - start
    table_s = median_seconds(lambda: receptive.receptive_fields(model), repeats=repeats)
    fields = receptive.receptive_fields(model)
    expected = {"block3_pool": (44, 8), "block4_pool": (100, 16), "block5_pool": (212, 32),
                "fc6": (404, 32), "fc7": (404, 32)}
    for name, (size, stride) in expected.items():
        if fields[name].size != (size, size) or fields[name].stride != (stride, stride):
            raise AssertionError(f"{name}: {fields[name]} disagrees with the paper's {size} px at stride {stride}")
    result = {"layers": len(fields), "table_ms": 1e3 * table_s, "target_ms": VGG16_TABLE_TARGET_MS,
              "meets_target": 1e3 * table_s < VGG16_TABLE_TARGET_MS, "build_s": build_s}
    print(f"receptive-vgg16: receptive_fields() on FCN-VGG16 ({len(fields)} layers), median of {repeats}")
    print(f"| pool3 / pool4 / pool5 / fc7 field (stride) | table ms (target < {VGG16_TABLE_TARGET_MS:.0f}) "
          "| building the model, s |")
    print(f"| 44 (8) / 100 (16) / 212 (32) / 404 (32), as the paper | {result['table_ms']:.2f} "
          f"({'meets' if result['meets_target'] else 'MISSES'} the target) | {build_s:.1f} |")
    return result


def explorer_callbacks(*, repeats: int = 21, image_size: int = 64) -> dict:
    """Lesson 02: the receptive-field explorer's callbacks (target: analytic box <= 50 ms).

    On lesson 02's pooled per-pixel network (untrained: speed does not depend on the
    weights) and a course image. ``box`` renders the analytic field and encodes the PNG
    (what the widget sends first); ``gradient`` adds one backward pass for a unit not
    seen before; ``slider`` is the whole callback of a row slider move (both frames; after
    the first pass over the rows the gradients come from the renderer's cache).
    """
    from fcn_lessons import data, models
    from fcn_lessons.timing import median_seconds
    from fcn_lessons.widgets import receptive_field_explorer
    from fcn_lessons.widgets._frames import to_png

    model = models.pooled_pixel_classifier()
    image = data.make_shapes(1, image_size, seed=0)[0][0]
    box = receptive_field_explorer(model, image, layer="conv4")
    render = box.render
    rows, cols = render.map_sizes["conv4"]
    units = iter([(r, c) for r in range(rows) for c in range(cols)] * 4)
    box_s = median_seconds(lambda: to_png(render("conv4", *next(units), gradient=False)), repeats=repeats)
    fresh = iter([(r, c) for r in range(rows) for c in range(cols)])  # each unit once: no cache hit
    grad_s = median_seconds(lambda: to_png(render("conv4", *next(fresh), gradient=True)),
                            repeats=min(repeats, rows * cols - 1), warmup=1)
    slider = box.controls["row"]
    values = iter(list(range(rows)) * (repeats + 2))
    slider_s = median_seconds(lambda: setattr(slider, "value", next(values)), repeats=repeats)
    frame = render("conv4", 0, 0)
    result = {"box_ms": 1e3 * box_s, "gradient_ms": 1e3 * grad_s, "slider_ms": 1e3 * slider_s,
              "frame": f"{frame.shape[1]}×{frame.shape[0]}"}
    print(f"receptive-explorer: {image_size}×{image_size} image, pooled_pixel_classifier, layer conv4, "
          f"frame {result['frame']} px, median of {repeats}")
    print("| analytic box + PNG, ms | + gradient of a new unit, ms | row slider callback, ms |")
    print(f"| {result['box_ms']:.1f} | {result['gradient_ms']:.1f} | {result['slider_ms']:.1f} |")
    return result
