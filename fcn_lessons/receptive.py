"""Receptive fields: computed with the recurrence, measured with gradients (lesson 02).

Coordinates: input pixel ``i`` has its centre at coordinate ``i`` (rows and columns
counted from 0), so a field of ``size`` pixels centred at ``c`` covers the pixels whose
centres lie in ``[c - (size - 1) / 2, c + (size - 1) / 2]``.

The recurrence, per axis, for a layer with kernel ``k``, stride ``s``, dilation ``d`` and
``p`` zeros of padding before the first pixel (``k_eff = d (k - 1) + 1``)::

    size_out   = size_in + (k_eff - 1) * jump_in        # uses the jump of the layer *below*
    jump_out   = jump_in * s
    offset_out = offset_in + ((k_eff - 1) / 2 - p) * jump_in

(Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural Networks",
Distill 2019; the FCN paper, section 3.1, writes the same composition as
``f_ks ∘ g_k's' = (f ∘ g)_{k' + (k - 1) s', s s'}``.)

- ``Layer1D``, ``conv_step``, ``recurrence``: the recurrence on 1-D layer specs, the
  reference of Exercise 2.1; ``support_1d`` the exact input pixels one unit reads.
- ``ReceptiveField``, ``receptive_fields(model)``: every layer of a Keras model.
- ``field_table``: the fields as a text table.
- ``dilation_schedule``: dilations that reach a target field without holes (Exercise 2.3).
- ``empirical_receptive_field``: the field measured with gradients, and the "effective"
  receptive field (Luo, Li, Urtasun and Zemel, NeurIPS 2016).
- ``distance_to_boundary``, ``accuracy_by_distance``: is a pixel at an object's centre
  or at its edge, and how well a model labels each (``accuracy_profile``: as a function of
  that distance); ``coarse_oracle``: what an output
  stride costs even a perfect classifier.
- ``draw_stack_1d``: the 1-D picture of a stack of layers; ``plot_box``: a field on an image.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import NamedTuple

import numpy as np

from fcn_lessons import _validate

# ---------------------------------------------------------------------------------------
# The recurrence in 1-D
# ---------------------------------------------------------------------------------------


class Layer1D(NamedTuple):
    """One layer along one axis: a convolution or a pooling window.

    ``padding`` is the number of zeros added *before* the first pixel (top or left):
    Keras' 'valid' is 0; 'same' with stride 1 is ``(k_eff - 1) // 2``.
    """

    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1


def _number(x: float):
    """``x`` as an int when it is one (44.0 -> 44), else a float (3.5)."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _spec(layer, name: str) -> Layer1D:
    if isinstance(layer, numbers.Integral) or not hasattr(layer, "__len__") or not 1 <= len(layer) <= 4:
        raise ValueError(f"{name} must be (kernel, stride, padding, dilation) or a Layer1D, "
                         f"received {layer!r}.")
    spec = Layer1D(*layer)
    kernel = _validate.integer(spec.kernel, f"{name}.kernel", minimum=1)
    stride = _validate.integer(spec.stride, f"{name}.stride", minimum=1)
    padding = _validate.integer(spec.padding, f"{name}.padding", minimum=0)
    dilation = _validate.integer(spec.dilation, f"{name}.dilation", minimum=1)
    return Layer1D(kernel, stride, padding, dilation)


def conv_step(field, kernel: int, stride: int = 1, padding: float = 0, dilation: int = 1) -> tuple:
    """One step of the recurrence: ``(size, jump, offset)`` after a conv or pooling layer.

    Args:
        field: ``(size, jump, offset)`` of the layer's input, in input pixels.
        kernel, stride, dilation: the layer's window along this axis.
        padding: zeros added before the first pixel of the layer's input.
    """
    size, jump, offset = field
    span = dilation * (kernel - 1)  # k_eff - 1: distance from the first tap to the last
    return (_number(size + span * jump), _number(jump * stride),
            _number(offset + (span / 2 - padding) * jump))


def recurrence(layers, start=(1, 1, 0)) -> list[tuple]:
    """``(size, jump, offset)`` after each layer of a 1-D stack (the input is ``start``).

    Args:
        layers: a list of ``Layer1D`` or ``(kernel, stride, padding, dilation)`` tuples
            (trailing items may be left out: stride 1, padding 0, dilation 1).
        start: the field of the input itself: one pixel, jump 1, centred on pixel 0.

    Returns:
        list with one ``(size, jump, offset)`` per layer; size and jump in input pixels,
        offset the input coordinate of the centre of unit 0's field.

    Example: two 3×3 'valid' convolutions then a 2×2 pooling,
    ``recurrence([(3,), (3,), (2, 2)])`` gives ``[(3, 1, 1), (5, 1, 2), (6, 2, 2.5)]``.
    """
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layers must be a list of (kernel, stride, padding, dilation), received {layers!r}.")
    field = tuple(start)
    out = []
    for i, layer in enumerate(layers):
        k, s, p, d = _spec(layer, f"layers[{i}]")
        field = conv_step(field, k, s, p, d)
        out.append(field)
    return out


def support_1d(layers) -> np.ndarray:
    """Which input pixels one unit on top of ``layers`` actually reads, ignoring borders.

    Returns:
        (size,) bool: True where the pixel is connected to the unit through the
        kernels' taps; ``size`` is the receptive field. A dilated stack can leave holes
        (False inside the field): the "gridding" problem of dilated convolutions.
    """
    specs = [_spec(layer, f"layers[{i}]") for i, layer in enumerate(layers)]
    taps = np.zeros(1, bool)
    taps[0] = True  # the unit itself, at the top
    for k, s, _, d in reversed(specs):
        # each unit below reads units j*s + t*d (t = 0..k-1) of the layer under it
        positions = np.flatnonzero(taps)
        below = np.zeros(positions[-1] * s + d * (k - 1) + 1, bool)
        for t in range(k):
            below[positions * s + t * d] = True
        taps = below
    return taps


def dilation_schedule(target: int, num_layers: int, kernel_size: int = 3) -> list[int]:
    """Dilations for ``num_layers`` stride-1 convolutions whose field reaches ``target``.

    The schedule leaves no holes: a layer's dilation never exceeds the field under it
    (with a larger one its taps would skip pixels). At most ``kernel_size ** num_layers``
    is reachable that way; a larger target raises ``ValueError``.
    """
    target = _validate.integer(target, "target", minimum=1)
    num_layers = _validate.integer(num_layers, "num_layers", minimum=1)
    kernel_size = _validate.integer(kernel_size, "kernel_size", minimum=2)
    if target > kernel_size ** num_layers:
        raise ValueError(
            f"target {target} is out of reach: {num_layers} layers of kernel {kernel_size} "
            f"cover at most {kernel_size ** num_layers} pixels without holes. Use more layers.")
    reach, dilations = 1, []
    for i in range(num_layers):
        left = num_layers - i  # layers still to place, this one included
        need = max(target - reach, 0)
        # an even share of what is missing ...
        share = -(-need // ((kernel_size - 1) * left))
        # ... but enough that the later layers, growing as fast as they can, still reach it
        least = -(-(-(-target // kernel_size ** (left - 1)) - reach) // (kernel_size - 1))
        # ... and never more than the field so far: a larger dilation would skip pixels
        d = min(reach, max(1, share, least))
        dilations.append(d)
        reach += (kernel_size - 1) * d
    return dilations


# ---------------------------------------------------------------------------------------
# Receptive fields of a Keras model
# ---------------------------------------------------------------------------------------


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


def _propagate(model, input_fields: list, out: dict, prefix: str, pointwise) -> list:
    """Fill ``out`` with the fields of ``model``'s layers; return its outputs' fields."""
    import keras

    known = {id(t): f for t, f in zip(model.inputs, input_fields)}
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    done: dict[int, list] = {}
    results: dict[int, dict] = {}
    progress = True
    while progress and len(done) < len(layers):
        progress = False
        for layer in layers:
            if id(layer) in done:
                continue
            nodes = [n for n in layer._inbound_nodes
                     if _tensors(n.input_tensors) and all(id(t) in known for t in _tensors(n.input_tensors))]
            if not nodes:
                continue
            if len(nodes) > 1:
                raise ValueError(f"{_describe(layer)} is applied {len(nodes)} times in model "
                                 f"'{model.name}'; receptive_fields reports one field per layer name.")
            node = nodes[0]
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
            done[id(layer)] = outputs
            progress = True
    missing = [layer.name for layer in layers if id(layer) not in done]
    if missing:
        raise ValueError(f"could not connect layers {missing} of model '{model.name}' to its input; "
                         "receptive_fields needs a single-input functional or Sequential model.")
    for layer in layers:
        out.update(results[id(layer)])
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
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, received {type(model).__name__}.")
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


# ---------------------------------------------------------------------------------------
# Measured with gradients
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class EmpiricalField:
    """The field of one unit, measured by back-propagating from it.

    Attributes:
        gradient: (H, W) float: |d unit / d pixel|, summed over the input's channels and
            averaged over the inputs: the effective receptive field (Luo et al., 2016).
        nonzero: (H, W) bool: pixels whose gradient is non-zero for at least one input.
        centre: (y, x) input coordinates of the unit's analytic centre.
        num_inputs: how many inputs were averaged.
    """

    gradient: np.ndarray
    nonzero: np.ndarray
    centre: tuple
    num_inputs: int

    @property
    def box(self) -> tuple | None:
        """Bounding box (top, left, bottom, right), inclusive, of the non-zero pixels."""
        rows, cols = np.flatnonzero(self.nonzero.any(axis=1)), np.flatnonzero(self.nonzero.any(axis=0))
        if not rows.size:
            return None
        return (int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1]))

    def effective_size(self, fraction: float = 0.9) -> tuple:
        """(h, w): width, per axis, of the central band that holds ``fraction`` of the gradient.

        Each axis' gradient profile (summed over the other axis) is treated as a
        distribution; the band runs from its (1 - fraction)/2 to its (1 + fraction)/2
        quantile, in whole pixels.
        """
        fraction = float(fraction)
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], received {fraction}.")
        total = self.gradient.sum()
        if total <= 0:
            return (0, 0)
        sizes = []
        for axis in (1, 0):  # rows' profile sums over columns, and vice versa
            cdf = np.cumsum(self.gradient.sum(axis=axis)) / total
            lo = int(np.searchsorted(cdf, (1 - fraction) / 2, side="right"))
            hi = int(np.searchsorted(cdf, (1 + fraction) / 2 - 1e-12, side="left"))
            sizes.append(hi - lo + 1)
        return tuple(sizes)


_SUBMODELS: dict = {}  # (id(model), layer name) -> (model, sub-model up to that layer)


def _submodel(model, layer_name: str):
    import keras

    key = (id(model), layer_name)
    cached = _SUBMODELS.get(key)
    if cached is not None and cached[0] is model:
        return cached[1]
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"model '{model.name}' has no layer {layer_name!r}; its layers are "
                         f"{', '.join(names)}.")
    output = model.get_layer(layer_name).output
    if isinstance(output, (list, tuple)):
        raise ValueError(f"layer {layer_name!r} has {len(output)} outputs; pick a layer with one.")
    if len(output.shape) != 4:
        raise ValueError(f"layer {layer_name!r} outputs shape {tuple(output.shape)}; a unit's field "
                         "needs an (N, H, W, C) feature map.")
    sub = keras.Model(model.inputs, output)
    if len(_SUBMODELS) > 64:
        _SUBMODELS.clear()
    _SUBMODELS[key] = (model, sub)
    return sub


def unit_gradients(model, layer_name: str, position, inputs, *, channel=None) -> np.ndarray:
    """d(unit)/d(input) for each input: (N, H, W, C) float32.

    The unit is ``position`` = (row, col) of ``layer_name``'s output map, its channels
    summed (``channel=None``, as Luo et al. do) or one channel. Inference mode
    (``training=False``), so the N inputs do not interact. Uses ``tf.GradientTape``: the
    TensorFlow backend, which the course runs on.
    """
    import tensorflow as tf

    sub = _submodel(model, layer_name)
    x = _validate.array(inputs, "inputs", ndim=4, kinds="biuf", layout="(N, H, W, C)")
    x = tf.convert_to_tensor(x.astype(np.float32))
    row, col = _position(position)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = sub(x, training=False)
        h, w, c = y.shape[1:]
        if not (0 <= row < h and 0 <= col < w):
            raise ValueError(f"position {(row, col)} is outside the {h}×{w} output map of layer "
                             f"{layer_name!r} on {x.shape[1]}×{x.shape[2]} inputs; "
                             f"use 0 <= row < {h}, 0 <= col < {w}.")
        unit = y[:, row, col, :]
        if channel is not None:
            channel = _validate.integer(channel, "channel", minimum=0, maximum=c - 1)
            unit = unit[:, channel]
        objective = tf.reduce_sum(unit)
    return tape.gradient(objective, x).numpy()


def empirical_receptive_field(model, layer_name: str, position, *, inputs=None, num_inputs: int = 8,
                              input_size=None, seed: int = 0, channel=None) -> EmpiricalField:
    """Measure the field of one unit with gradients.

    The pixels with a non-zero gradient are the unit's field as the network actually
    wires it: inside the analytic box (clipped at the image border), with holes where
    strides or dilation skip pixels, and, for one input, further gaps where ReLU or
    max pooling block the gradient; the union over several inputs fills those. The mean
    gradient magnitude is the *effective* receptive field.

    Args:
        model: a single-input keras.Model on (N, H, W, C) images.
        layer_name: the layer whose unit to measure.
        position: (row, col) of the unit in that layer's output map.
        inputs: (N, H, W, C) images to average over; default ``num_inputs`` random
            uniform [0, 1) images of ``input_size`` (default: the model's input size).
        channel: None sums the unit's channels; an int picks one.

    Returns:
        ``EmpiricalField`` with ``gradient`` (H, W), ``nonzero`` (H, W), ``box``, ``centre``.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, received {type(model).__name__}.")
    if inputs is None:
        num_inputs = _validate.integer(num_inputs, "num_inputs", minimum=1)
        shape = tuple(model.inputs[0].shape[1:])
        size = shape[:2] if input_size is None else _validate.int_pair(input_size, "input_size", minimum=1)
        if None in size:
            raise ValueError(f"model '{model.name}' accepts any input size: pass input_size=(H, W) "
                             "or inputs=images.")
        rng = np.random.default_rng(_validate.integer(seed, "seed", minimum=0))
        inputs = rng.uniform(0, 1, (num_inputs, *size, shape[2])).astype(np.float32)
    grads = unit_gradients(model, layer_name, position, inputs, channel=channel)
    image_size = grads.shape[1:3]
    try:  # the analytic centre, when the recurrence knows every layer on the way
        centre = receptive_fields(model, input_size=image_size)[layer_name].centre(position)
    except (ValueError, KeyError):
        centre = None
    magnitude = np.abs(grads).sum(axis=3)
    return EmpiricalField(gradient=magnitude.mean(axis=0), nonzero=(magnitude > 0).any(axis=0),
                          centre=centre, num_inputs=len(grads))


# ---------------------------------------------------------------------------------------
# Centres and edges of objects
# ---------------------------------------------------------------------------------------


# Their homes: labels (label maps) and metrics (scores); the names stay importable here.
from fcn_lessons.labels import coarse_oracle, distance_to_boundary  # noqa: E402,F401
from fcn_lessons.metrics import accuracy_by_distance, accuracy_profile  # noqa: E402,F401


# ---------------------------------------------------------------------------------------
# The 1-D picture
# ---------------------------------------------------------------------------------------


def plot_box(ax, box, **style):
    """Outline an inclusive pixel box (top, left, bottom, right) on a matplotlib ``imshow`` axis.

    ``style`` goes to ``matplotlib.patches.Rectangle`` (e.g. ``edgecolor="cyan", lw=2``).
    """
    import matplotlib.patches

    if box is None:
        return None
    top, left, bottom, right = box
    patch = matplotlib.patches.Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
                                         fill=False, **style)
    ax.add_patch(patch)
    return patch


def draw_stack_1d(layers, *, input_length: int, unit: int | None = None, names=None, ax=None):
    """Draw a 1-D stack: each layer's units at their field centres, one unit's field traced.

    Rows from bottom (input pixels) to top (last layer). Every unit sits at the input
    coordinate of its field's centre (``offset + j * jump``). The units that feed unit
    ``unit`` of the top layer are filled and linked; padding positions are hollow.

    Args:
        layers: ``Layer1D`` specs; 'same'-style padding is applied on both sides.
        input_length: number of input pixels.
        unit: index of the traced top unit (default: the middle one).
        names: a label per layer (default: "layer 1", ...).
    """
    import matplotlib.pyplot as plt

    specs = [_spec(layer, f"layers[{i}]") for i, layer in enumerate(layers)]
    n = _validate.integer(input_length, "input_length", minimum=1)
    names = [f"layer {i + 1}" for i in range(len(specs))] if names is None else list(names)
    if len(names) != len(specs):
        raise ValueError(f"names must have one entry per layer ({len(specs)}), received {len(names)}.")
    lengths, fields = [n], recurrence(specs)
    for k, s, p, d in specs:
        length = (lengths[-1] + 2 * p - d * (k - 1) - 1) // s + 1
        if length < 1:
            raise ValueError(f"input_length {n} is too short for this stack: a layer gets no output.")
        lengths.append(length)
    top = lengths[-1] // 2 if unit is None else _validate.integer(unit, "unit", minimum=0, maximum=lengths[-1] - 1)
    # indices feeding the traced unit, per level (top first), including padding (<0 or >=n)
    feeding = [{top}]
    edges = []
    for level in range(len(specs), 0, -1):
        k, s, p, d = specs[level - 1]
        below = set()
        for j in feeding[-1]:
            if not 0 <= j < lengths[level]:
                continue
            for t in range(k):
                i = j * s - p + t * d
                below.add(i)
                edges.append((level, j, i))
        feeding.append(below)
    feeding.reverse()
    centres = [(0.0, 1.0)] + [(f[2], f[1]) for f in fields]  # (offset, jump) per level
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 0.22 * n + 2), 0.8 * (len(specs) + 1) + 0.8))
    for level, j, i in edges:
        (o1, j1), (o0, j0) = centres[level], centres[level - 1]
        ax.plot([o1 + j * j1, o0 + i * j0], [level, level - 1], color="tab:orange", lw=0.8, zorder=1)
    for level, length in enumerate(lengths):
        offset, jump = centres[level]
        xs = offset + jump * np.arange(length)
        on = np.isin(np.arange(length), sorted(feeding[level]))
        ax.scatter(xs[~on], np.full((~on).sum(), level), s=18, color="lightgray", zorder=2)
        ax.scatter(xs[on], np.full(on.sum(), level), s=26, color="tab:orange", zorder=3)
        pads = [i for i in feeding[level] if not 0 <= i < length]
        if pads:
            ax.scatter(offset + jump * np.array(pads), np.full(len(pads), level), s=26,
                       facecolors="white", edgecolors="tab:orange", zorder=3)
    first, last = min(feeding[0]), max(feeding[0])
    ax.axvspan(first - 0.5, last + 0.5, ymin=0, ymax=0.5 / (len(specs) + 1), color="tab:orange", alpha=0.15)
    ax.set_yticks(range(len(specs) + 1))
    ax.set_yticklabels(["input"] + [
        f"{name}: k{k} s{s} p{p}" + (f" d{d}" if d > 1 else "") + f"  →  size {_format(f[0])}, "
        f"jump {_format(f[1])}, offset {_format(f[2])}"
        for name, (k, s, p, d), f in zip(names, specs, fields)], fontsize=8)
    ax.set_xlabel("input coordinate (pixel centres)")
    ax.set_ylim(-0.6, len(specs) + 0.6)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return ax
