"""Pictures of label maps.

- ``VOC_PALETTE``: the PASCAL VOC colour map, (256, 3) uint8; entry 255 (void) is
  VOC's cream (224, 224, 192).
- ``colorize(mask)``: class ids -> RGB with that palette.
"""

from __future__ import annotations

import numpy as np

from fcn_lessons import _validate


def _voc_palette() -> np.ndarray:
    """The VOC colour map: bits of the class id spread over the high bits of R, G, B."""
    palette = np.zeros((256, 3), np.uint8)
    for class_id in range(256):
        value, r, g, b = class_id, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= ((value >> 0) & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette[class_id] = (r, g, b)
    return palette


VOC_PALETTE = _voc_palette()


def colorize(mask) -> np.ndarray:
    """(..., H, W) integer class ids -> (..., H, W, 3) uint8 RGB in the VOC palette."""
    mask = _validate.array(mask, "mask", kinds="iu")
    if mask.size and (mask.min() < 0 or mask.max() > 255):
        raise ValueError(f"mask values must be class ids in 0..255, received {mask.min()}..{mask.max()}.")
    return VOC_PALETTE[mask]
