"""A real photograph, available offline: matplotlib's sample image of Grace Hopper.

matplotlib ships ``grace_hopper.jpg`` (600×512 RGB) in its sample data, so every course
environment has it without a download. Lessons use it where a photo teaches more than the
course's synthetic shapes (interpolation, upsampling artifacts).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from fcn_lessons import _validate

SAMPLE_NAME = "grace_hopper.jpg"
__all__ = ["grace_hopper", "SAMPLE_NAME"]


@functools.lru_cache(maxsize=1)
def _original() -> np.ndarray:
    import matplotlib.cbook
    import matplotlib.image

    path = matplotlib.cbook.get_sample_data(SAMPLE_NAME, asfileobj=False)
    picture = np.asarray(matplotlib.image.imread(path))
    if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 3:  # pragma: no cover
        raise RuntimeError(f"matplotlib's {SAMPLE_NAME} is not an RGB uint8 image: {picture.dtype} {picture.shape}.")
    picture.setflags(write=False)
    return picture


def grace_hopper(size: int | None = None) -> np.ndarray:
    """The photograph of Grace Hopper from matplotlib's sample data, as RGB uint8.

    Args:
        size: None for the original 600×512 (H×W) picture; an int for its central square
            (512×512, her face and shoulders) resized to ``size``×``size`` with area
            averaging (``cv2.INTER_AREA``).

    Returns:
        (600, 512, 3) or (size, size, 3) uint8, a new array (safe to modify).
    """
    picture = _original()
    if size is None:
        return picture.copy()
    size = _validate.integer(size, "size", minimum=1)
    height, width = picture.shape[:2]
    top = (height - width) // 2
    square = picture[top:top + width]
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
