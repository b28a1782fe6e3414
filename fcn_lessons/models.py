"""Models the lessons build and train.

- ``crop_classifier``: lesson 01's small shape classifier (conv trunk, Flatten, Dense).
- ``pixel_classifier``, ``pooled_pixel_classifier``: lesson 02's per-pixel networks with a
  small or large receptive field, grown by dilation or by pooling.
"""

from __future__ import annotations

import keras

from fcn_lessons import _validate
from fcn_lessons.data import NUM_CLASSES


def crop_classifier(crop_size: int = 32, num_classes: int = NUM_CLASSES, *,
                    widths=(32, 64, 64), hidden_units: int = 64,
                    dropout: float = 0.3, padding: str = "valid") -> keras.Sequential:
    """A VGG-shaped classifier of ``crop_size``-pixel crops, ending like VGG16's head.

    Trunk: 3×3 'valid' convolutions with ReLU; a 2×2 max pooling after each but the last
    (output stride 2 ** (len(widths) - 1)). 'valid', not 'same': zero padding at the crop
    border would make the convolutionalized model differ from a sliding window (lesson 01). Head: Flatten, Dense(hidden_units, relu),
    Dropout, Dense(num_classes, softmax), as VGG16's fc6, fc7 and predictions.

    Args:
        crop_size: input side in pixels, divisible by the output stride.
        widths: channels of each convolution.
        padding: 'valid' (default) or 'same', for lesson 01's comparison of the two.

    Returns:
        keras.Sequential from (N, crop_size, crop_size, 3) to (N, num_classes).
    """
    crop_size = _validate.integer(crop_size, "crop_size", minimum=4)
    _validate.choice(padding, "padding", ("valid", "same"))
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    stride = 2 ** (len(widths) - 1)
    if crop_size % stride:
        raise ValueError(f"crop_size must be divisible by the output stride {stride}, received {crop_size}.")
    side, shrink = crop_size, 2 if padding == "valid" else 0
    for i in range(len(widths)):
        side = side - shrink if i == len(widths) - 1 else (side - shrink) // 2
    if side < 1:
        raise ValueError(f"crop_size {crop_size} is too small for {len(widths)} valid 3×3 convolutions.")
    layers = [keras.Input((crop_size, crop_size, 3), name="crop"),
              keras.layers.Rescaling(1 / 255, name="to_unit_range")]
    for i, width in enumerate(widths, start=1):
        layers.append(keras.layers.Conv2D(width, 3, padding=padding, activation="relu", name=f"conv{i}"))
        if i < len(widths):
            layers.append(keras.layers.MaxPooling2D(2, name=f"pool{i}"))
    layers += [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(hidden_units, activation="relu", name="fc1"),
        keras.layers.Dropout(dropout, name="drop1"),
        keras.layers.Dense(num_classes, activation="softmax", name="scores"),
    ]
    return keras.Sequential(layers, name="crop_classifier")


# Batch normalisation's moving averages must settle within the few hundred steps of a
# lesson's training run: with Keras' default momentum 0.99 they lag, and a model that
# trains well predicts only background in inference mode (measured on the course data).
BN_MOMENTUM = 0.9


def _conv_bn_relu(width: int, kernel_size: int, index: int, dilation: int = 1) -> list:
    """Conv2D (no bias: BatchNormalization adds one) + BatchNormalization + ReLU, named by ``index``."""
    return [keras.layers.Conv2D(width, kernel_size, padding="same", dilation_rate=dilation, use_bias=False,
                                name=f"conv{index}"),
            keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{index}"),
            keras.layers.ReLU(name=f"relu{index}")]


def pixel_classifier(dilations=(1, 1, 1, 1, 1), *, num_classes: int = NUM_CLASSES, width: int = 16,
                     kernel_size: int = 3, name: str | None = None) -> keras.Sequential:
    """A per-pixel classifier at full resolution: stride-1 convolutions, one per dilation.

    Lesson 02 builds two with the same depth and the same weights count, so that only
    their receptive fields differ: all dilations 1 (field ``1 + (k - 1) * depth``: 11
    pixels for five 3×3 layers) versus doubling dilations 1, 2, 4, 8, 16 (field 63).

    Layers: Rescaling(1/255); per dilation d, a ``kernel_size`` 'same' convolution with
    ``dilation_rate=d`` (``conv1``..), batch normalisation and ReLU; then a 1×1 ``scores``
    convolution to ``num_classes`` logits (no softmax: train with ``from_logits=True``).

    Returns:
        keras.Sequential from (N, H, W, 3) images (uint8 range) to (N, H, W, num_classes).
    """
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    width = _validate.integer(width, "width", minimum=1)
    kernel_size = _validate.integer(kernel_size, "kernel_size", minimum=1)
    if isinstance(dilations, (str, bytes)) or not hasattr(dilations, "__iter__") or not list(dilations):
        raise ValueError(f"dilations must be a non-empty list of ints, one per layer, received {dilations!r}.")
    dilations = [_validate.integer(d, f"dilations[{i}]", minimum=1) for i, d in enumerate(dilations)]
    layers = [keras.Input((None, None, 3), name="image"), keras.layers.Rescaling(1 / 255, name="to_unit_range")]
    for i, d in enumerate(dilations, start=1):
        layers += _conv_bn_relu(width, kernel_size, i, d)
    layers.append(keras.layers.Conv2D(num_classes, 1, name="scores"))
    field = 1 + (kernel_size - 1) * sum(dilations)
    return keras.Sequential(layers, name=name or f"pixel_classifier_field{field}")


def pooled_pixel_classifier(num_pools: int = 3, *, num_classes: int = NUM_CLASSES, width: int = 16,
                            extra_convs: int = 2, name: str | None = None) -> keras.Sequential:
    """A per-pixel classifier that grows its field by pooling, then upsamples its scores.

    Layers: Rescaling(1/255); ``num_pools`` times a 3×3 convolution (``conv1``.., with
    batch normalisation and ReLU) and a 2×2 max pooling (``pool1``..); ``extra_convs``
    more such convolutions at the coarse resolution; a 1×1 ``scores`` convolution; and a
    bilinear ``UpSampling2D`` by the output stride ``2 ** num_pools`` back to the input
    size. Cheap (most layers run at 1/stride resolution) with a large field, but it
    scores one position per ``stride`` pixels: the problem FCN's skips solve (lessons 04-05).

    Returns:
        keras.Sequential from (N, H, W, 3) to (N, H, W, num_classes) logits, for H and W
        divisible by ``2 ** num_pools``.
    """
    num_pools = _validate.integer(num_pools, "num_pools", minimum=1)
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    width = _validate.integer(width, "width", minimum=1)
    extra_convs = _validate.integer(extra_convs, "extra_convs", minimum=0)
    layers = [keras.Input((None, None, 3), name="image"), keras.layers.Rescaling(1 / 255, name="to_unit_range")]
    for i in range(1, num_pools + 1):
        layers += _conv_bn_relu(width, 3, i)
        layers.append(keras.layers.MaxPooling2D(2, name=f"pool{i}"))
    for i in range(num_pools + 1, num_pools + extra_convs + 1):
        layers += _conv_bn_relu(width, 3, i)
    stride = 2 ** num_pools
    layers.append(keras.layers.Conv2D(num_classes, 1, name="scores"))
    layers.append(keras.layers.UpSampling2D(stride, interpolation="bilinear", name=f"upsample{stride}"))
    return keras.Sequential(layers, name=name or f"pooled_pixel_classifier_stride{stride}")
