"""Frames for the explorers: RGB arrays encoded once into an ``ipywidgets.Image``.

Measured (tooling notes): ``cv2.imencode`` of a 640×480 frame takes about 0.5 ms (JPEG)
to 9 ms (PNG), against about 110 ms to re-plot a matplotlib figure; so explorers draw
with numpy/OpenCV and send encoded bytes to one persistent Image widget.
"""

from __future__ import annotations

import cv2
import numpy as np

from fcn_lessons import _validate


def _rgb(frame, name: str = "frame") -> np.ndarray:
    frame = _validate.array(frame, name, ndim=(2, 3), layout="(H, W) or (H, W, 3)")
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    if frame.shape[2] != 3:
        raise ValueError(f"{name} must have 3 colour channels (RGB), received shape {frame.shape}.")
    if frame.dtype != np.uint8:
        if frame.dtype.kind != "f":
            raise TypeError(f"{name} must be uint8 or float in [0, 1], received dtype {frame.dtype}.")
        frame = (np.clip(frame, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return frame


def to_png(frame) -> bytes:
    """RGB (H, W, 3) uint8 or float in [0, 1] -> PNG bytes (lossless: pixel art stays crisp)."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(_rgb(frame), cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - OpenCV only fails on invalid arrays, excluded above
        raise RuntimeError("cv2.imencode failed to encode the frame as PNG.")
    return encoded.tobytes()


def from_png(data: bytes) -> np.ndarray:
    """PNG/JPEG bytes -> RGB (H, W, 3) uint8 (tests use it to look at a widget's image)."""
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError("data is not a PNG or JPEG image.")
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def enlarge(frame, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer ``scale``, so each pixel stays a square."""
    scale = _validate.integer(scale, "scale", minimum=1)
    frame = _rgb(frame)
    return np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)


def colormap(values, *, vmin: float, vmax: float, name: str = "magma") -> np.ndarray:
    """(H, W) numbers -> (H, W, 3) uint8 through a matplotlib colour map (a 256-entry table)."""
    import matplotlib

    values = _validate.array(values, "values", ndim=2, kinds="biuf")
    if not vmax > vmin:
        raise ValueError(f"vmax must be greater than vmin, received vmin={vmin}, vmax={vmax}.")
    table = (matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255 + 0.5).astype(np.uint8)
    index = np.clip((values.astype(np.float64) - vmin) / (vmax - vmin) * 255 + 0.5, 0, 255).astype(np.intp)
    return table[index]


def label(frame, text: str, *, height: int = 18) -> np.ndarray:
    """``frame`` with a white strip of ``height`` pixels above it holding ``text``."""
    frame = _rgb(frame)
    strip = np.full((height, frame.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (3, height - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, frame], axis=0)


def hstack(frames, *, gap: int = 6) -> np.ndarray:
    """Frames side by side, top-aligned, on a white background with ``gap`` pixels between."""
    frames = [_rgb(f, f"frames[{i}]") for i, f in enumerate(frames)]
    if not frames:
        raise ValueError("frames must hold at least one frame.")
    height = max(f.shape[0] for f in frames)
    width = sum(f.shape[1] for f in frames) + gap * (len(frames) - 1)
    out = np.full((height, width, 3), 255, np.uint8)
    x = 0
    for f in frames:
        out[:f.shape[0], x:x + f.shape[1]] = f
        x += f.shape[1] + gap
    return out


def show_frame(frame, *, title: str | None = None, ax=None):
    """The static fallback: draw ``frame`` with matplotlib (for nbconvert and GitHub)."""
    import matplotlib.pyplot as plt

    frame = _rgb(frame)
    if ax is None:
        dpi = 100
        _, ax = plt.subplots(figsize=(frame.shape[1] / dpi, frame.shape[0] / dpi + (0.3 if title else 0)), dpi=dpi)
    ax.imshow(frame, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return ax
