"""Pictures of receptive fields: the 1-D stack of layers, and a field's box on an image."""

from __future__ import annotations

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.receptive.keras_walker import _format
from fcn_lessons.receptive.recurrence1d import _spec, recurrence


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

