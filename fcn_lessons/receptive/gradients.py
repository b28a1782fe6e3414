"""Receptive fields measured with gradients, and the "effective" receptive field.

``unit_gradients`` back-propagates from one unit of a layer to the input;
``empirical_receptive_field`` turns that into the measured field (Luo, Li, Urtasun and
Zemel, "Understanding the Effective Receptive Field in Deep Convolutional Neural
Networks", NeurIPS 2016).
"""

from __future__ import annotations

import dataclasses
import weakref

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.receptive.keras_walker import _position, layer_output, receptive_fields


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


# model -> {layer name: sub-model up to that layer}. Weak keys: the cache lives exactly as long
# as the model (a sub-model shares the model's layers, so it costs no weights of its own), and
# it keeps no model alive after the lesson drops it.
_SUBMODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _submodel(model, layer_name: str):
    import keras

    cached = _SUBMODELS.setdefault(model, {})
    if layer_name not in cached:
        output = layer_output(model, layer_name)
        if len(output.shape) != 4:
            raise ValueError(f"layer {layer_name!r} outputs shape {tuple(output.shape)}; a unit's field "
                             "needs an (N, H, W, C) feature map.")
        cached[layer_name] = keras.Model(model.inputs, output)
    return cached[layer_name]


def unit_gradients(model, layer_name: str, position, inputs, *, channel=None) -> np.ndarray:
    """d(unit)/d(input) for each input: (N, H, W, C) float32.

    The unit is ``position`` = (row, col) of ``layer_name``'s output map, its channels
    summed (``channel=None``, as Luo et al. do) or one channel. Inference mode
    (``training=False``), so the N inputs do not interact. Uses ``tf.GradientTape``: the
    TensorFlow backend, which the course runs on.
    """
    import tensorflow as tf

    sub = _submodel(_validate.keras_model(model), layer_name)
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
    model = _validate.keras_model(model)
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

