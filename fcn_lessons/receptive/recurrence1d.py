"""The receptive-field recurrence along one axis, on layer specs (lesson 02, Exercises 2.1, 2.3).

For a layer with kernel ``k``, stride ``s``, dilation ``d`` and ``p`` zeros of padding
before the first pixel (``k_eff = d (k - 1) + 1``)::

    size_out   = size_in + (k_eff - 1) * jump_in        # uses the jump of the layer *below*
    jump_out   = jump_in * s
    offset_out = offset_in + ((k_eff - 1) / 2 - p) * jump_in

- ``Layer1D``, ``conv_step``, ``recurrence``: the recurrence on 1-D layer specs, the
  reference of Exercise 2.1; ``support_1d``: the exact input pixels one unit reads.
- ``dilation_schedule``: dilations that reach a target field without holes (Exercise 2.3).
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

