"""The receptive-field recurrence along one axis, on layer specs (lesson 02, Exercises 2.1, 2.3).

For a layer with kernel ``k``, stride ``s``, dilation ``d`` and ``p`` zeros of padding
before the first pixel (``k_eff = d (k - 1) + 1``)::

    size_out   = size_in + (k_eff - 1) * jump_in        # uses the jump of the layer *below*
    jump_out   = jump_in * s
    offset_out = offset_in + ((k_eff - 1) / 2 - p) * jump_in

- ``Layer1D``, ``conv_step``, ``recurrence``: the recurrence on 1-D layer specs;
  ``support_1d``: the exact input pixels one unit reads.
- ``transposed_step``: the same step through a 'valid' transposed convolution (Exercise 2.1).
- ``smallest_field``, ``dilation_schedule``: the smallest field at or above a target that a
  stack of stride-1 convolutions can have, and dilations that give it without holes
  (Exercise 2.3).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from fcn_lessons import _validate


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


def transposed_step(field, kernel: int, stride: int) -> tuple:
    """One step of the recurrence through a 'valid' transposed convolution (lesson 02, Exercise 2.1).

    In the scatter-add picture, input unit ``i`` writes output units ``i s, ..., i s + k - 1``;
    it sits at the middle of that copy, ``i s + (k - 1) / 2``. So output unit ``m`` sits at
    input unit ``(m - (k - 1) / 2) / s``, and the input units that write to it lie within
    ``(k - 1) / (2 s)`` input units of there::

        size_out   = size_in + (k - 1) / s * jump_in   # the smallest centred box holding them all
        jump_out   = jump_in / s
        offset_out = offset_in - (k - 1) / (2 s) * jump_in

    (``keras_walker`` handles 'same' padding, cropping and dilation as well.)

    Args:
        field: ``(size, jump, offset)`` of the layer's input, in input pixels.
        kernel, stride: the transposed convolution's kernel size and stride along this axis.
    """
    if isinstance(field, (str, bytes)) or not hasattr(field, "__len__") or len(field) != 3:
        raise ValueError(f"field must be (size, jump, offset), received {field!r}.")
    size, jump, offset = (float(v) for v in field)
    kernel = _validate.integer(kernel, "kernel", minimum=1)
    stride = _validate.integer(stride, "stride", minimum=1)
    reach = (kernel - 1) / stride  # input units between the first and the last input that writes one output
    return (_number(size + reach * jump), _number(jump / stride), _number(offset - reach / 2 * jump))


def smallest_field(target: int, num_layers: int, kernel_size: int = 3) -> int:
    """The smallest field of at least ``target`` pixels that ``num_layers`` stride-1 convolutions can have.

    Each layer adds ``(kernel_size - 1) * dilation`` (dilation >= 1), so the field is
    ``1 + (kernel_size - 1) * (sum of dilations)``: at least ``1 + (kernel_size - 1) *
    num_layers``, and one more than a multiple of ``kernel_size - 1`` (odd for 3×3).
    """
    target = _validate.integer(target, "target", minimum=1)
    num_layers = _validate.integer(num_layers, "num_layers", minimum=1)
    kernel_size = _validate.integer(kernel_size, "kernel_size", minimum=2)
    step = kernel_size - 1
    wanted = max(target, 1 + step * num_layers)
    return 1 + step * -(-(wanted - 1) // step)


def dilation_schedule(target: int, num_layers: int, kernel_size: int = 3) -> list[int]:
    """Dilations for ``num_layers`` stride-1 convolutions: the smallest field >= ``target``, no holes.

    The field is exactly ``smallest_field(target, num_layers, kernel_size)``. The schedule
    leaves no holes: a layer's dilation never exceeds the field under it (with a larger
    one its taps would skip pixels). At most ``kernel_size ** num_layers`` is reachable that
    way (every layer tripling the field, for 3×3); a larger target raises ``ValueError``.
    """
    goal = smallest_field(target, num_layers, kernel_size)
    step = kernel_size - 1
    if goal > kernel_size ** num_layers:
        raise ValueError(
            f"target {target} is out of reach: {num_layers} layers of kernel {kernel_size} "
            f"cover at most {kernel_size ** num_layers} pixels without holes. Use more layers.")
    reach, dilations = 1, []
    for i in range(num_layers):
        left = num_layers - i  # layers still to place, this one included
        missing = (goal - reach) // step  # dilations still to add up, this layer's included
        # an even share of what is missing ...
        share = -(-missing // left)
        # ... but enough that the later layers, growing as fast as they can, still reach it
        least = -(-(-(-goal // kernel_size ** (left - 1)) - reach) // step)
        # ... never more than the field so far (a larger dilation would skip pixels), and
        # leaving at least 1 for each later layer (so the field ends exactly at the goal)
        d = min(reach, max(1, share, least), missing - (left - 1))
        dilations.append(d)
        reach += step * d
    return dilations
