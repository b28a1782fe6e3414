"""Receptive fields of every layer of a Keras model: the recurrence, walked through the graph.

``receptive_fields(model)`` follows the model's graph from its input, layer by layer,
applying the recurrence of ``recurrence1d`` along rows and columns (with TensorFlow's
'same' padding, transposed convolutions, upsampling, cropping, padding and merges), and
enters nested models. ``ReceptiveField`` holds one layer's result; ``field_table`` prints
them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

from fcn_lessons import _validate
from fcn_lessons.receptive.recurrence1d import _number, conv_step


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of the units of one layer, each an (h, w) pair in input pixels.

    Attributes:
        size: the field's side. For layers after an upsampling (fractional stride) it is
            the smallest box, centred as below, that holds every unit's field.
        stride: the jump between neighbouring units, in input pixels (the output stride).
        offset: input coordinate of the centre of unit (0, 0)'s field. Unit (i, j) is
            centred at ``offset + (i, j) * stride``.
        map_size: (h, w) of the layer's output map, when the input size is known.
    """

    size: tuple
    stride: tuple
    offset: tuple
    map_size: tuple | None = dataclasses.field(default=None, compare=False)

    def centre(self, position) -> tuple:
        """(y, x) input coordinates of the centre of unit ``position`` = (row, col)."""
        row, col = _position(position)
        return (_number(self.offset[0] + row * self.stride[0]),
                _number(self.offset[1] + col * self.stride[1]))

    def box(self, position, image_size=None) -> tuple | None:
        """The field of unit ``position`` as inclusive pixel bounds (top, left, bottom, right).

        With ``image_size`` = (H, W) the box is clipped to the image; None when the
        field lies entirely outside it (a unit that sees only padding).
        """
        centre = self.centre(position)
        bounds = []
        for c, s in zip(centre, self.size):
            half = (s - 1) / 2
            bounds.append((math.ceil(c - half - 1e-9), math.floor(c + half + 1e-9)))
        (top, bottom), (left, right) = bounds
        if image_size is not None:
            h, w = _validate.int_pair(image_size, "image_size", minimum=1)
            top, left, bottom, right = max(top, 0), max(left, 0), min(bottom, h - 1), min(right, w - 1)
            if top > bottom or left > right:
                return None
        return (top, left, bottom, right)

    def __str__(self) -> str:
        return (f"size {_pair_text(self.size)}, stride {_pair_text(self.stride)}, "
                f"offset ({_pair_text(self.offset, ', ', merge=False)})")


def _pair_text(pair, sep: str = "×", *, merge: bool = True) -> str:
    """"44" for (44, 44) when ``merge``; "44×20" otherwise (``sep`` between the two)."""
    a, b = (_format(v) for v in pair)
    return a if a == b and merge else f"{a}{sep}{b}"


def _format(value) -> str:
    if value is None:
        return "?"
    value = _number(value)
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def _position(position) -> tuple[int, int]:
    if not isinstance(position, (tuple, list)) or len(position) != 2:
        raise ValueError(f"position must be (row, col) of an output unit, received {position!r}.")
    return tuple(_validate.integer(v, f"position[{i}]") for i, v in enumerate(position))


class _Axis(NamedTuple):
    """The field along one axis, plus the length of the map there (None if unknown)."""

    size: float
    jump: float
    offset: float
    length: int | None


def _same_padding(n: int | None, k_eff: int, stride: int) -> int:
    """Zeros TensorFlow puts before the first pixel for padding='same'.

    TF pads ``max((out - 1) * s + k_eff - n, 0)`` in total with ``out = ceil(n / s)``, the
    smaller half first. With stride > 1 that depends on ``n``; when ``n`` is unknown we
    assume it is a multiple of the stride (the usual design).
    """
    if n is None:
        total = max(k_eff - stride, 0) if stride > 1 else k_eff - 1
    else:
        out = -(-n // stride)
        total = max((out - 1) * stride + k_eff - n, 0)
    return total // 2


def _window(axis: _Axis, kernel: int, stride: int, dilation: int, padding: str, where: str) -> _Axis:
    k_eff = dilation * (kernel - 1) + 1
    n = axis.length
    if padding == "valid":
        pad = 0
        length = None if n is None else (n - k_eff) // stride + 1
    else:
        pad = _same_padding(n, k_eff, stride)
        length = None if n is None else -(-n // stride)
    if length is not None and length < 1:
        raise ValueError(f"{where}: its input is {n} pixels, smaller than its {k_eff}-pixel window "
                         f"with padding='valid'; use a larger input_size.")
    size, jump, offset = conv_step((axis.size, axis.jump, axis.offset), kernel, stride, pad, dilation)
    return _Axis(size, jump, offset, length)


def _transposed(axis: _Axis, kernel: int, stride: int, dilation: int, padding: str,
                output_padding: int | None) -> _Axis:
    """Conv2DTranspose: output unit j reads inputs i with j + crop - i*s in {0, d, .., (k-1)d}.

    ``crop`` is what TensorFlow trims from the start of the full ``(n - 1) s + k_eff``
    output. In input units, unit j is centred at ``(j + crop - (k_eff - 1) / 2) / s`` and
    reads inputs within ``(k_eff - 1) / (2 s)`` of it.
    """
    k_eff = dilation * (kernel - 1) + 1
    n = axis.length
    if padding == "valid":
        extra = max(k_eff, stride) - k_eff if output_padding is None else output_padding
        length = None if n is None else (n - 1) * stride + k_eff + extra
        crop = 0
    else:
        if output_padding is None:
            out = None if n is None else n * stride
            total = max(k_eff - stride, 0)  # (n - 1) s + k_eff - n s
        else:
            out = None if n is None else (n - 1) * stride + k_eff % 2 + output_padding
            total = max(k_eff - k_eff % 2 - output_padding, 0)  # (n - 1) s + k_eff - out
        length, crop = out, total // 2
    j = axis.jump
    return _Axis(_number(axis.size + (k_eff - 1) / stride * j), _number(j / stride),
                 _number(axis.offset + (crop - (k_eff - 1) / 2) / stride * j), length)


def _upsampling(axis: _Axis, factor: int, interpolation: str) -> _Axis:
    """UpSampling2D: 'nearest' is a transposed convolution with kernel = stride = factor;
    'bilinear' (half-pixel centres, as tf.image.resize) reads the two inputs around
    ``(j + 0.5) / factor - 0.5``."""
    length = None if axis.length is None else axis.length * factor
    if interpolation == "nearest":
        return _transposed(axis, factor, factor, 1, "valid", None)._replace(length=length)
    reach = 0.0  # farthest input that unit j reads, from its sampling point, over all j
    for r in range(factor):
        frac = ((r + 0.5) / factor - 0.5) % 1.0
        if frac > 1e-12:
            reach = max(reach, frac, 1.0 - frac)
    j = axis.jump
    return _Axis(_number(axis.size + 2 * reach * j), _number(j / factor),
                 _number(axis.offset + (0.5 / factor - 0.5) * j), length)


def _shift(axis: _Axis, before: int, after: int, sign: int) -> _Axis:
    """ZeroPadding2D (sign +1) or Cropping2D (sign -1) of ``before``/``after`` units."""
    length = None if axis.length is None else axis.length + sign * (before + after)
    return axis._replace(offset=_number(axis.offset - sign * before * axis.jump), length=length)


def _union(axes: list[_Axis], where: str, dim: str) -> _Axis:
    jumps = {round(a.jump, 9) for a in axes}
    if len(jumps) > 1:
        raise ValueError(
            f"{where}: its inputs have strides {sorted(jumps)} along {dim}, so their units drift "
            "apart across the map and no single field describes the merged units. Upsample or "
            "pool the inputs to the same stride before merging them.")
    lo = min(a.offset - (a.size - 1) / 2 for a in axes)
    hi = max(a.offset + (a.size - 1) / 2 for a in axes)
    lengths = {a.length for a in axes if a.length is not None}
    return _Axis(_number(hi - lo + 1), axes[0].jump, _number((lo + hi) / 2),
                 lengths.pop() if len(lengths) == 1 else None)


def _layer_classes():
    import keras

    L = keras.layers
    conv = (L.Conv2D, L.DepthwiseConv2D, L.SeparableConv2D)
    pooling = (L.MaxPooling2D, L.AveragePooling2D)
    merge = (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum, L.Concatenate)
    pointwise = (L.Activation, L.ReLU, L.LeakyReLU, L.ELU, L.PReLU, L.Softmax, L.Dropout,
                 L.SpatialDropout2D, L.GaussianNoise, L.GaussianDropout, L.AlphaDropout,
                 L.Rescaling, L.Identity, L.ActivityRegularization)
    channel_norms = (L.BatchNormalization, L.LayerNormalization, L.Normalization)
    mixes = (L.Flatten, L.GlobalAveragePooling2D, L.GlobalMaxPooling2D, L.Reshape, L.Permute)
    return conv, pooling, merge, pointwise, channel_norms, mixes


def _describe(layer) -> str:
    return f"layer '{layer.name}' ({type(layer).__name__})"


def _unknown(layer, why: str) -> ValueError:
    return ValueError(
        f"receptive_fields cannot reason about {_describe(layer)}: {why}. If it acts on each "
        f"pixel separately, pass it as pointwise=[{type(layer).__name__}] (or its name); "
        "otherwise compute the model up to the layer before it, "
        "e.g. keras.Model(model.input, model.get_layer('<name>').output).")


def _axes_of(layer, inputs: list, where: str, pointwise) -> list:
    """The (row axis, column axis) fields of ``layer``'s output from its inputs' fields."""
    import keras

    conv, pooling, merge, _, channel_norms, mixes = _layer_classes()
    if isinstance(layer, merge):
        if isinstance(layer, keras.layers.Concatenate) and layer.axis not in (-1, 3):
            raise _unknown(layer, f"it concatenates along axis {layer.axis}, not the channel axis")
        return [_union([f[a] for f in inputs], where, ("rows", "columns")[a]) for a in (0, 1)]
    if len(inputs) != 1:
        raise _unknown(layer, f"it takes {len(inputs)} inputs")
    rows, cols = inputs[0]
    if isinstance(layer, pointwise.classes) or layer.name in pointwise.names:
        return [rows, cols]
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise _unknown(layer, f"data_format is {layer.data_format!r}; the course uses channels_last (NHWC)")
    if isinstance(layer, keras.layers.Conv2DTranspose):
        out_pad = layer.output_padding or (None, None)
        return [_transposed(axis, layer.kernel_size[a], layer.strides[a], layer.dilation_rate[a],
                            layer.padding, out_pad[a]) for a, axis in enumerate((rows, cols))]
    if isinstance(layer, conv):
        return [_window(axis, layer.kernel_size[a], layer.strides[a], layer.dilation_rate[a],
                        layer.padding, where) for a, axis in enumerate((rows, cols))]
    if isinstance(layer, pooling):
        return [_window(axis, layer.pool_size[a], layer.strides[a], 1, layer.padding, where)
                for a, axis in enumerate((rows, cols))]
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return [_shift(axis, *layer.padding[a], +1) for a, axis in enumerate((rows, cols))]
    if isinstance(layer, keras.layers.Cropping2D):
        return [_shift(axis, *layer.cropping[a], -1) for a, axis in enumerate((rows, cols))]
    if isinstance(layer, keras.layers.UpSampling2D):
        if layer.interpolation not in ("nearest", "bilinear"):
            raise _unknown(layer, f"interpolation {layer.interpolation!r} (only 'nearest' and "
                                  "'bilinear' are handled)")
        return [_upsampling(axis, layer.size[a], layer.interpolation) for a, axis in enumerate((rows, cols))]
    if isinstance(layer, keras.layers.Dense):
        return [rows, cols]  # on a 4-D map Dense acts on the channels of each pixel: a 1×1 conv
    if isinstance(layer, channel_norms):
        axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
        if all(a in (-1, 3) for a in axis):
            return [rows, cols]
        raise _unknown(layer, f"it normalises over axis {layer.axis}, which mixes positions")
    if isinstance(layer, mixes):
        raise ValueError(
            f"receptive_fields cannot reason about {_describe(layer)}: it mixes every position, "
            "so its field is the whole input. Convolutionalize the model first "
            "(fcn_lessons.conv1x1.convolutionalize, lesson 01), or compute the trunk only: "
            f"keras.Model(model.input, model.get_layer('<last conv or pooling layer>').output).")
    raise _unknown(layer, "it is not a layer type the recurrence knows")


class _Pointwise(NamedTuple):
    """Layer classes and layer names to treat as pointwise."""

    classes: tuple
    names: frozenset


def _pointwise(extra) -> _Pointwise:
    _, _, _, plain, _, _ = _layer_classes()
    if isinstance(extra, (str, type)) or not hasattr(extra, "__iter__"):
        extra = [extra]
    classes, names = list(plain), set()
    for item in extra:
        if isinstance(item, type):
            classes.append(item)
        elif isinstance(item, str):
            names.add(item)
        else:
            raise TypeError(f"pointwise must hold layer classes or layer names, received {item!r}.")
    return _Pointwise(tuple(classes), frozenset(names))


def _tensors(value) -> list:
    import keras

    return [t for t in keras.tree.flatten(value)]


def _graph_nodes(model) -> set[int]:
    """ids of the nodes (layer calls) of ``model``'s own graph, from its outputs back to its inputs.

    A layer shared with another model (lesson 05 builds FCN-16s on FCN-32s' layers) has
    a node per model; only this model's count.
    """
    inputs = {id(t) for t in _tensors(model.inputs)}
    nodes: set[int] = set()
    pending = list(_tensors(model.outputs))
    while pending:
        tensor = pending.pop()
        history = getattr(tensor, "_keras_history", None)
        if id(tensor) in inputs or history is None:
            continue
        node = history.operation._inbound_nodes[history.node_index]
        if id(node) not in nodes:
            nodes.add(id(node))
            pending.extend(_tensors(node.input_tensors))
    return nodes


def _walk(model) -> list:
    """``(layer, node)`` for every layer of ``model`` in an order where inputs come first.

    ``node`` is the layer's call inside this model's graph. Raises ValueError for a layer
    called twice in the model, or one not connected to its input.
    """
    import keras

    graph = _graph_nodes(model)
    known = {id(t) for t in _tensors(model.inputs)}
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    order, done = [], set()
    progress = True
    while progress and len(done) < len(layers):
        progress = False
        for layer in layers:
            if id(layer) in done:
                continue
            nodes = [n for n in layer._inbound_nodes if id(n) in graph]
            if len(nodes) > 1:
                raise ValueError(f"{_describe(layer)} is applied {len(nodes)} times in model "
                                 f"'{model.name}'; receptive_fields reports one field per layer name.")
            if not nodes or not all(id(t) in known for t in _tensors(nodes[0].input_tensors)):
                continue
            known.update(id(t) for t in _tensors(nodes[0].output_tensors))
            order.append((layer, nodes[0]))
            done.add(id(layer))
            progress = True
    missing = [layer.name for layer in layers if id(layer) not in done]
    if missing:
        raise ValueError(f"could not connect layers {missing} of model '{model.name}' to its input; "
                         "receptive_fields needs a single-input functional or Sequential model.")
    return order


def layer_output(model, layer_name: str):
    """The output tensor of layer ``layer_name`` inside ``model``'s graph (not another model's).

    ``model.get_layer(name).output`` is the output of the layer's *first* call, which for a
    layer shared between two models may belong to the other one.
    """
    model = _validate.keras_model(model)
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"model '{model.name}' has no layer {layer_name!r}; its layers are "
                         f"{', '.join(names)}.")
    layer = model.get_layer(layer_name)
    for candidate, node in _walk(model):
        if candidate is layer:
            outputs = _tensors(node.output_tensors)
            if len(outputs) != 1:
                raise ValueError(f"layer {layer_name!r} has {len(outputs)} outputs; pick a layer with one.")
            return outputs[0]
    return layer.output  # an InputLayer (not walked): the model's input itself


def _propagate(model, input_fields: list, out: dict, prefix: str, pointwise) -> list:
    """Fill ``out`` with the fields of ``model``'s layers; return its outputs' fields."""
    import keras

    known = {id(t): f for t, f in zip(_tensors(model.inputs), input_fields)}
    results: dict[int, dict] = {}
    for layer, node in _walk(model):
        where = f"{_describe(layer)} in model '{model.name}'"
        inputs = [known[id(t)] for t in _tensors(node.input_tensors)]
        if isinstance(layer, keras.Model):
            inner: dict = {}
            outputs = _propagate(layer, inputs, inner, f"{prefix}{layer.name}/", pointwise)
            results[id(layer)] = inner
        else:
            for t in _tensors(node.input_tensors):
                if len(t.shape) != 4:
                    raise ValueError(f"{where}: its input has shape {tuple(t.shape)}; receptive "
                                     "fields are defined for (N, H, W, C) feature maps.")
            axes = _axes_of(layer, inputs, where, pointwise)
            outputs = [axes] * len(_tensors(node.output_tensors))
            results[id(layer)] = {prefix + layer.name: axes}
        for t, f in zip(_tensors(node.output_tensors), outputs):
            known[id(t)] = f
    for layer in model.layers:  # in the model's own layer order
        out.update(results.get(id(layer), {}))
    return [known[id(t)] for t in _tensors(model.outputs)]


def _field(axes) -> ReceptiveField:
    rows, cols = axes
    lengths = (rows.length, cols.length)
    return ReceptiveField((rows.size, cols.size), (rows.jump, cols.jump), (rows.offset, cols.offset),
                          None if lengths == (None, None) else lengths)


def receptive_fields(model, *, input_size=None, pointwise=()) -> dict[str, ReceptiveField]:
    """The receptive field of every layer of ``model``, in layer order.

    Handles Conv2D/DepthwiseConv2D/SeparableConv2D ('valid' or 'same', strides,
    dilation, non-square kernels), MaxPooling2D/AveragePooling2D, ZeroPadding2D,
    Cropping2D, Conv2DTranspose and UpSampling2D (fractional strides), pointwise layers
    (activations, normalisation over channels, dropout, Dense on a map) and merges (Add,
    Concatenate, ...: the union of their inputs' fields, which must share one stride).
    Nested models are entered; their layers appear as ``outer/inner``.

    Args:
        model: a single-input keras.Model on (N, H, W, C) images.
        input_size: (H, W), or one int, of the input. Needed only for exact offsets of
            'same' layers with stride > 1 when the model's input size is None, and for
            ``map_size``; by default, the model's own input size.
        pointwise: extra layer classes or layer names that act on each pixel separately.

    Returns:
        dict: layer name -> ``ReceptiveField`` (size, stride, offset as (h, w) pairs).
        Input layers are left out: their field is one pixel, stride 1, offset 0.
    """
    model = _validate.keras_model(model)
    if len(model.inputs) != 1:
        raise ValueError(f"model '{model.name}' has {len(model.inputs)} inputs; receptive_fields "
                         "needs a model with one image input.")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4:
        raise ValueError(f"model '{model.name}' takes inputs of shape {shape}; receptive_fields "
                         "needs (N, H, W, C) images.")
    size = tuple(shape[1:3])
    if input_size is not None:
        given = _validate.int_pair(input_size, "input_size", minimum=1)
        for axis, (static, wanted) in enumerate(zip(size, given)):
            if static is not None and static != wanted:
                raise ValueError(f"input_size {given} contradicts model '{model.name}', whose input "
                                 f"is {size[0]}×{size[1]}; leave input_size out.")
        size = given
    start = [_Axis(1, 1, 0, size[0]), _Axis(1, 1, 0, size[1])]
    axes: dict = {}
    _propagate(model, [start], axes, "", _pointwise(pointwise))
    return {name: _field(a) for name, a in axes.items()}


def field_table(fields, *, layers=None, types=None) -> str:
    """A text table of ``fields`` (the output of ``receptive_fields``).

    Args:
        layers: names to show (default: all), in the given order.
        types: optional dict name -> layer type text for a "type" column.
    """
    if not isinstance(fields, dict):
        raise TypeError(f"fields must be the dict returned by receptive_fields, received {type(fields).__name__}.")
    names = list(fields) if layers is None else list(layers)
    for name in names:
        if name not in fields:
            raise KeyError(f"layer {name!r} is not in fields; choose from {', '.join(fields)}.")
    width = max([len("layer")] + [len(n) for n in names])
    type_width = max([len("type")] + [len(types.get(n, "")) for n in names]) if types else 0
    head = f"{'layer':{width}s} " + (f"{'type':{type_width}s} " if types else "")
    lines = [head + f"{'field':>9s} {'stride':>7s} {'offset':>13s} {'map':>9s}"]
    for name in names:
        f = fields[name]
        row = f"{name:{width}s} " + (f"{types.get(name, ''):{type_width}s} " if types else "")
        map_text = "-" if f.map_size is None else _pair_text(f.map_size, merge=False)
        lines.append(row + f"{_pair_text(f.size):>9s} {_pair_text(f.stride):>7s} "
                           f"{_pair_text(f.offset, ', ', merge=False):>13s} {map_text:>9s}")
    return "\n".join(lines)

