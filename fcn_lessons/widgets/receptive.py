"""The receptive-field explorer (lesson 02): pick a layer and a unit, see what it sees.

``receptive_field_renderer(model, image)`` returns the plain function
``render(layer, row, col, gradient=True) -> RGB frame``: on the left the image with the
unit's analytic field (``fcn_lessons.receptive``) drawn as a box and its centre as a
cross; on the right the gradient magnitude of that unit with respect to each pixel of
this image, under the same box. ``receptive_field_explorer`` wraps it in widgets
(the pattern of ``fcn_lessons.widgets``): a layer dropdown, row and column sliders, a
gradient check box and one ``ipywidgets.Image``.

The analytic box costs a few milliseconds (a lookup and a drawing); the gradient is one
backward pass, cached per unit. The widget therefore sends the box first and the heat
map right after it.
"""

from __future__ import annotations

import cv2
import numpy as np

from fcn_lessons import _validate, receptive
from fcn_lessons.widgets._frames import _rgb, colormap, enlarge, explorer_box, hstack, label, to_png

BOX_COLOUR = (0, 200, 255)  # cyan: the analytic field
CENTRE_COLOUR = (255, 40, 40)  # red: the unit's centre
MARGIN_GREY = 200  # the padding around the image, where a field may reach beyond it
TARGET_SIDE = 320  # default: enlarge the image (with its margin) to about this many pixels


def _field_layers(fields: dict) -> list[str]:
    """Layer names worth offering: the first of each run of layers with the same field (a
    convolution, not its normalisation and activation), and the model's last layer; layers
    that still see one pixel are left out."""
    names, previous = [], None
    for name, f in fields.items():
        key = (f.size, f.stride, f.offset)
        if key != previous and key != ((1, 1), (1, 1), (0, 0)):
            names.append(name)
        previous = key
    last = list(fields)[-1] if fields else None
    if last is not None and last not in names:
        names.append(last)
    return names


def receptive_field_renderer(model, image, *, layers=None, scale: int | None = None, margin: int = 8,
                             preprocess=None):
    """``render(layer, row, col, gradient=True) -> (H', W', 3) uint8`` for ``model`` on ``image``.

    Args:
        model: a single-input keras.Model on (N, H, W, C) images.
        image: (H, W, 3) uint8, or float in [0, 1]; fed to the model as float32 in the
            same range, after ``preprocess`` (e.g. ``keras.applications.vgg16.preprocess_input``).
        layers: names to offer (default: every layer that changes the field, and the last).
        scale: integer enlargement of each pixel (default: about 300 pixels per panel).
        margin: grey pixels drawn around the image, where a field reaches past its border.

    ``render`` accepts any layer of the model; it carries ``.layers`` (the names to offer),
    ``.fields`` (every layer's ReceptiveField) and ``.map_sizes`` (name -> (rows, cols)).
    """
    model = _validate.keras_model(model)
    image = _validate.image(image, "image", dtype=None)  # uint8 or float in [0, 1]; kept as given
    margin = _validate.integer(margin, "margin", minimum=0)
    h, w = image.shape[:2]
    fields = receptive.receptive_fields(model, input_size=(h, w))
    names = _field_layers(fields) if layers is None else list(layers)
    for name in names:
        if name not in fields:
            raise ValueError(f"layer {name!r} is not in model '{model.name}' (or has no field); "
                             f"choose from {', '.join(fields)}.")
    if not names:
        raise ValueError(f"model '{model.name}' has no layer with a receptive field to show.")
    side = max(h, w) + 2 * margin
    scale = max(1, TARGET_SIDE // side) if scale is None else _validate.integer(scale, "scale", minimum=1)
    picture = _rgb(image)
    model_input = image.astype(np.float32)[None]
    if preprocess is not None:
        model_input = np.asarray(preprocess(model_input.copy()), np.float32)
    canvas = np.full((h + 2 * margin, w + 2 * margin, 3), MARGIN_GREY, np.uint8)
    canvas[margin:margin + h, margin:margin + w] = picture
    base = enlarge(canvas, scale)
    gradients: dict = {}

    def heat(layer: str, row: int, col: int) -> np.ndarray:
        key = (layer, row, col)
        if key not in gradients:
            grad = receptive.unit_gradients(model, layer, (row, col), model_input)[0]
            magnitude = np.abs(grad).sum(axis=2)
            top = magnitude.max()
            gradients[key] = magnitude / top if top > 0 else magnitude
            if len(gradients) > 256:
                gradients.pop(next(iter(gradients)))
        map_ = np.zeros(canvas.shape[:2], np.float32)
        map_[margin:margin + h, margin:margin + w] = gradients[key]
        # square root: gradients span orders of magnitude; this shows the tails too
        return enlarge(colormap(np.sqrt(map_), vmin=0.0, vmax=1.0), scale)

    def draw(frame: np.ndarray, field, row: int, col: int) -> np.ndarray:
        frame = frame.copy()
        top, left, bottom, right = field.box((row, col))
        # image coordinate v -> frame pixel: pixel i spans [i - 0.5, i + 0.5], and the frame
        # holds ``margin`` pixels before the image, each ``scale`` frame pixels wide
        to_px = lambda v: int(round((v + 0.5 + margin) * scale))  # noqa: E731
        cv2.rectangle(frame, (to_px(left - 0.5), to_px(top - 0.5)),
                      (to_px(right + 0.5) - 1, to_px(bottom + 0.5) - 1), BOX_COLOUR, 2)
        cy, cx = field.centre((row, col))
        centre = (to_px(cx), to_px(cy))
        cv2.drawMarker(frame, centre, CENTRE_COLOUR, cv2.MARKER_CROSS, max(6, 2 * scale), 2)
        return frame

    def render(layer: str, row: int, col: int, gradient: bool = True) -> np.ndarray:
        """One frame: the image with the field of unit (row, col) of ``layer``, and its gradient."""
        if layer not in fields:
            raise ValueError(f"layer {layer!r} is not one of {', '.join(fields)}.")
        rows, cols = map_sizes[layer]
        row = _validate.integer(row, "row", minimum=0, maximum=rows - 1)
        col = _validate.integer(col, "col", minimum=0, maximum=cols - 1)
        field = fields[layer]
        left_panel = draw(base, field, row, col)
        if gradient:
            right_panel = draw(heat(layer, row, col), field, row, col)
            right_title = "|d unit / d pixel| on this image"
        else:
            right_panel = (base * 0.35 + 255 * 0.65).astype(np.uint8)
            right_title = "gradient: off"
        size = "×".join(receptive._format(v) for v in field.size)
        stride = "×".join(receptive._format(v) for v in field.stride)
        text = (f"{layer} unit ({row}, {col}): field {size} px, stride {stride}, "
                f"centre ({receptive._format(field.centre((row, col))[0])}, "
                f"{receptive._format(field.centre((row, col))[1])})")
        panels = hstack([label(left_panel, "image, analytic field (box), centre (+)"),
                         label(right_panel, right_title)])
        return label(panels, text)

    map_sizes = {name: f.map_size for name, f in fields.items()}
    render.layers, render.fields, render.map_sizes = names, fields, map_sizes
    return render


def nearest_unit(field, centre, map_size) -> tuple[int, int]:
    """The unit of a layer whose field centre is closest to ``centre`` = (y, x)."""
    out = []
    for c, offset, stride, n in zip(centre, field.offset, field.stride, map_size):
        out.append(int(np.clip(round((c - offset) / stride), 0, n - 1)))
    return tuple(out)


def receptive_field_explorer(model, image, *, layer: str | None = None, layers=None,
                             scale: int | None = None, margin: int = 8, preprocess=None):
    """A widget: choose a layer and a unit; see its analytic field and its gradient on ``image``.

    Arguments as ``receptive_field_renderer``; ``layer`` is the one shown first (default:
    the last). Returns an ``ipywidgets.VBox`` carrying ``.render``, ``.controls`` (dict:
    ``layer``, ``row``, ``col``, ``gradient``) and ``.image`` (the Image widget).
    Changing the layer keeps the unit over the same place of the image.
    """
    import ipywidgets as widgets

    render = receptive_field_renderer(model, image, layers=layers, scale=scale, margin=margin,
                                      preprocess=preprocess)
    first = render.layers[-1] if layer is None else layer
    if first not in render.fields:
        raise ValueError(f"layer {first!r} is not one of {', '.join(render.fields)}.")
    options = render.layers if first in render.layers else [*render.layers, first]
    rows, cols = render.map_sizes[first]
    controls = {
        "layer": widgets.Dropdown(options=options, value=first, description="layer"),
        "row": widgets.IntSlider(value=rows // 2, min=0, max=rows - 1, description="unit row",
                                 continuous_update=True),
        "col": widgets.IntSlider(value=cols // 2, min=0, max=cols - 1, description="unit col",
                                 continuous_update=True),
        "gradient": widgets.Checkbox(value=True, description="gradient heat map"),
    }
    picture = widgets.Image(format="png")
    state = {"busy": False, "layer": first}

    def show(_change=None):
        if state["busy"]:
            return
        values = {name: control.value for name, control in controls.items()}
        picture.value = to_png(render(values["layer"], values["row"], values["col"], gradient=False))
        if values["gradient"]:
            picture.value = to_png(render(values["layer"], values["row"], values["col"], gradient=True))

    def change_layer(change):
        old, new = state["layer"], change["new"]
        state["layer"] = new
        centre = render.fields[old].centre((controls["row"].value, controls["col"].value))
        n_rows, n_cols = render.map_sizes[new]
        row, col = nearest_unit(render.fields[new], centre, (n_rows, n_cols))
        state["busy"] = True
        try:  # widen first, then set the value, then narrow: no clamping on the way
            for name, n, value in (("row", n_rows, row), ("col", n_cols, col)):
                slider = controls[name]
                slider.max = max(slider.max, n - 1)
                slider.value = value
                slider.max = n - 1
        finally:
            state["busy"] = False
        show()

    controls["layer"].observe(change_layer, names="value")
    for name in ("row", "col", "gradient"):
        controls[name].observe(show, names="value")
    show()
    return explorer_box([widgets.HBox([controls["layer"], controls["gradient"]]),
                         widgets.HBox([controls["row"], controls["col"]]), picture],
                        render=render, controls=controls, image=picture)
