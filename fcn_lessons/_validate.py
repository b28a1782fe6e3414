"""Argument checks shared by the public functions.

Every error says which argument, what was received, and what was expected.
"""

from __future__ import annotations

import numbers

import numpy as np

_KIND_NAMES = {"b": "bool", "i": "signed int", "u": "unsigned int", "f": "float"}


def integer(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int, refusing bools, floats and out-of-range values."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, received {value!r} ({type(value).__name__}).")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, received {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, received {value}.")
    return value


def int_pair(value, name: str, *, minimum: int | None = None) -> tuple[int, int]:
    """An int or a pair of ints as an (h, w) tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints (h, w), received {value!r}.")
    return tuple(integer(v, f"{name}[{i}]", minimum=minimum) for i, v in enumerate(value))


def choice(value, name: str, choices) -> object:
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}; received {value!r}.")
    return value


def array(x, name: str, *, ndim: int | tuple[int, ...] | None = None,
          kinds: str | None = None, layout: str = "") -> np.ndarray:
    """``x`` as a numpy array with the expected rank and dtype kind.

    Args:
        ndim: the allowed rank(s).
        kinds: allowed numpy dtype kinds, e.g. "f" (float) or "iu" (integers).
        layout: words describing the axes for the error message, e.g. "(C, K)".
    """
    try:
        arr = np.asarray(x)
    except Exception as err:  # pragma: no cover - numpy raises many types here
        raise TypeError(f"{name} must be array-like, received {type(x).__name__}: {err}") from err
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and arr.ndim not in allowed:
        ranks = " or ".join(str(a) for a in allowed)
        where = f" {layout}" if layout else ""
        raise ValueError(
            f"{name} must have rank {ranks}{where}, received an array of shape {arr.shape}."
        )
    if kinds is not None and arr.dtype.kind not in kinds:
        wanted = " or ".join(_KIND_NAMES.get(k, k) for k in kinds)
        raise TypeError(f"{name} must have a {wanted} dtype, received dtype {arr.dtype}.")
    return arr
