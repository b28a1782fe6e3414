"""Frames for the explorers: RGB arrays encoded once into an ``ipywidgets.Image``.

Measured (tooling notes): ``cv2.imencode`` of a 640×480 frame takes about 0.5 ms (JPEG)
to 9 ms (PNG), against about 110 ms to re-plot a matplotlib figure; so explorers draw
with numpy/OpenCV and send encoded bytes to one persistent Image widget.

Every explorer returns :func:`explorer_box`: a VBox whose text form is
``EXPLORER_TEXT``, so a stored notebook shows one sentence, not a widget tree, where no
widget front end runs. :func:`show_frame` draws the static picture shown beside it.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from fcn_lessons import _validate

STATIC_DPI = 100  # show_frame: one frame pixel per figure pixel at this resolution
TITLE_PX = 24  # show_frame: height of the title strip above the frame, in pixels
EXPLORER_TEXT = "Interactive explorer: run this notebook's cells in Jupyter to use it."  # <= 110 characters


def _rgb(frame, name: str = "frame") -> np.ndarray:
    """(H, W) or (H, W, 3), uint8 or float in [0, 1] -> (H, W, 3) uint8: the course's one image
    rule (``_validate.image``), so a float frame outside [0, 1] is an error, never clipped."""
    return _validate.image(frame, name, grey=True)


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


def colorbar(height: int, *, vmin: float, vmax: float, name: str = "magma", width: int = 14,
             ticks: int = 3, label_width: int = 40) -> np.ndarray:
    """A vertical colour scale for :func:`colormap`: ``vmax`` at the top, ``vmin`` at the bottom.

    Returns:
        (height, width + label_width, 3) uint8: the bar, then ``ticks`` values (2 decimals)
        written on white beside it, evenly spaced from top to bottom.
    """
    height = _validate.integer(height, "height", minimum=16)
    ticks = _validate.integer(ticks, "ticks", minimum=2)
    values = np.linspace(vmax, vmin, height)[:, None].repeat(width, axis=1)
    bar = colormap(values, vmin=vmin, vmax=vmax, name=name)
    labels = np.full((height, label_width, 3), 255, np.uint8)
    for i in range(ticks):
        y = int(round(i * (height - 1) / (ticks - 1)))
        value = vmax + (vmin - vmax) * i / (ticks - 1)
        bar[y, :3] = labels[y, :3] = 0  # a tick mark on each side of the boundary
        baseline = min(max(y + 4, 9), height - 2)
        cv2.putText(labels, f"{value:.2f}", (5, baseline), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.concatenate([bar, labels], axis=1)


def show_frame(frame, *, title: str | None = None, ax=None):
    """The static fallback: draw ``frame`` with matplotlib (for nbconvert and GitHub).

    Without ``ax``, the figure is sized so that one frame pixel is one figure pixel at
    ``STATIC_DPI`` and the image fills it, with ``title`` in a strip above: nothing is
    resampled, so the frame's small captions stay legible (a frame shrunk by nearest
    interpolation drops letters). With ``ax`` (a figure of your own), the frame is drawn
    there with antialiased resampling.
    """
    import matplotlib.pyplot as plt

    frame = _rgb(frame)
    height, width = frame.shape[:2]
    if ax is None:
        strip = TITLE_PX if title else 0
        fig = plt.figure(figsize=(width / STATIC_DPI, (height + strip) / STATIC_DPI), dpi=STATIC_DPI)
        ax = fig.add_axes((0, 0, 1, height / (height + strip)))
        if title:
            fig.text(0.5, 1 - strip / 2 / (height + strip), title, ha="center", va="center", fontsize=10)
    elif title:
        ax.set_title(title, fontsize=9)
    ax.imshow(frame, interpolation="antialiased")
    ax.set_axis_off()
    return ax


@functools.lru_cache(maxsize=None)
def _explorer_class():
    import ipywidgets

    class Explorer(ipywidgets.VBox):
        """A VBox of controls and a picture. Its text form (what a stored notebook shows where
        no widget front end runs) says what it is, instead of listing every child widget."""

        def __repr__(self) -> str:
            return EXPLORER_TEXT

    return Explorer


def explorer_box(children, **attributes):
    """The box every explorer returns: ``ipywidgets.VBox(children)`` with a short text form.

    ``attributes`` (``render=``, ``controls=``, ``image=``...) are set on the box, so tests
    can reach the explorer's parts.
    """
    box = _explorer_class()(list(children))
    for name, value in attributes.items():
        setattr(box, name, value)
    return box
