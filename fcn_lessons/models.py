"""Models the lessons build and train.

- ``crop_classifier``: lesson 01's small shape classifier (conv trunk, Flatten, Dense).
"""

from __future__ import annotations

import keras

from fcn_lessons import _validate
from fcn_lessons.data import NUM_CLASSES


def crop_classifier(crop_size: int = 32, num_classes: int = NUM_CLASSES, *,
                    widths=(32, 64, 64), hidden_units: int = 128,
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
