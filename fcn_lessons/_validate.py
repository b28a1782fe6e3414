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


# --- images, label maps, models: one rule each ------------------------------------------------

FLOAT_TOLERANCE = 1e-6  # float rounding: 1 + 1e-7 from an interpolation is still "in [0, 1]"
_IMAGE_DTYPES = ("uint8", "float32", None)


def image(x, name: str = "image", *, grey: bool = False, batch: bool = False,
          dtype: str | None = "uint8") -> np.ndarray:
    """One RGB image, as the course takes them: uint8 (0..255) or float in [0, 1].

    The one rule for every function that takes an image: integers must hold 0..255 (uint8
    or another integer dtype), floats must be finite and lie in [0, 1] (up to
    ``FLOAT_TOLERANCE`` of float rounding). Anything else is refused with a message that
    says what was received and what to do; nothing is clipped or rescaled silently.

    Args:
        x: (H, W, 3), or also (H, W) when ``grey`` (repeated into three channels); with
            ``batch``, a stack of such images: (N, H, W, 3) (or (N, H, W) when ``grey``).
        name: the argument's name, for the error messages.
        dtype: what to return: "uint8" (floats mapped by ``round(255 x)``, halves up),
            "float32" (in [0, 1]; integers divided by 255), or None (the array as given,
            only checked).

    Returns:
        (H, W, 3) (or with ``batch`` (N, H, W, 3)) array of ``dtype``.
    """
    choice(dtype, "dtype", _IMAGE_DTYPES)
    rank, full = (4, "(N, H, W, 3)") if batch else (3, "(H, W, 3)")
    layout = f"{full[:-4]}) or {full}" if grey else full  # grey: "(H, W) or (H, W, 3)"
    arr = np.asarray(x) if isinstance(x, np.ndarray) else array(x, name)
    if arr.dtype.kind not in "uif":
        raise TypeError(f"{name} must be an image of uint8 (0..255) or float (0..1) values, received "
                        f"dtype {arr.dtype}.")
    arr = array(arr, name, ndim=(rank - 1, rank) if grey else rank, layout=layout)
    if arr.ndim == rank and arr.shape[-1] != 3:
        raise ValueError(f"{name} must be {full} RGB with 3 colour channels, received shape {arr.shape}.")
    if arr.ndim < rank:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.size and arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} holds NaN or infinite values; an image needs finite values in [0, 1].")
        low, high = float(arr.min()), float(arr.max())
        if low < -FLOAT_TOLERANCE or high > 1 + FLOAT_TOLERANCE:
            if low >= 0 and high <= 255:
                todo = "It looks like 0..255 values: divide by 255, or cast to uint8."
            else:
                todo = ("Rescale it into [0, 1]; if cutting the values off is what you mean, "
                        "say so with np.clip(image, 0, 1).")
            raise ValueError(f"{name} is float, so it must lie in [0, 1]; received values "
                             f"{low:.3g}..{high:.3g}. {todo}")
    elif arr.size and arr.dtype != np.uint8:
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high > 255:
            raise ValueError(f"{name} holds integers {low}..{high}; an integer image must hold 0..255 "
                             f"(uint8). For values in [0, 1], pass floats.")
    if dtype is None:
        return arr
    if dtype == "uint8":
        if arr.dtype.kind == "f":  # the clip only absorbs FLOAT_TOLERANCE (checked above)
            return (np.clip(arr, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
        return arr if arr.dtype == np.uint8 else arr.astype(np.uint8)
    if arr.dtype.kind == "f":
        return np.clip(arr, 0.0, 1.0).astype(np.float32)
    return arr.astype(np.float32) / 255


def label_map(x, name: str = "mask", *, ignore_label: int | None, ndim: int | tuple[int, ...] | None = 2,
              num_classes: int | None = None, layout: str | None = None) -> np.ndarray:
    """Integer class ids (0 .. num_classes - 1), with ``ignore_label`` (void) allowed.

    The one rule for every function that takes a label map: an integer dtype (floats are
    refused: a label map is never interpolated), no negative ids, and, when
    ``num_classes`` is given, every id below it or equal to ``ignore_label``.

    Args:
        ndim: the allowed rank(s), e.g. 2 for (H, W) or (2, 3) for (H, W) or (N, H, W);
            None for any rank.
        ignore_label: the void id (``fcn_lessons.labels.VOID_LABEL``), or None.
        layout: words for the axes in error messages (default from ``ndim``).

    Returns:
        the array, unchanged.
    """
    if layout is None and ndim is not None:
        ranks = (ndim,) if isinstance(ndim, int) else ndim
        layout = " or ".join({2: "(H, W)", 3: "(N, H, W)"}.get(r, f"rank {r}") for r in ranks)
    arr = np.asarray(x) if isinstance(x, np.ndarray) else array(x, name)
    if arr.dtype.kind == "f":
        raise TypeError(f"{name} must have a signed int or unsigned int dtype (class ids), received dtype "
                        f"{arr.dtype}. A label map is never interpolated (resize it with nearest "
                        f"neighbour); cast integral floats with .astype(np.uint8).")
    arr = array(arr, name, ndim=ndim, kinds="iu", layout=layout or "")
    if not arr.size:
        return arr
    if arr.dtype.kind == "i" and arr.min() < 0:
        raise ValueError(f"{name} holds negative values such as {int(arr.min())}; class ids are >= 0.")
    # When the dtype cannot hold num_classes (uint8 and the palette's 256), no id is outside;
    # skipping the comparison also avoids a crash: numpy 2.1.3 (Colab's) segfaults comparing a
    # non-contiguous uint8 array with the out-of-range 256 (measured in make test-colab).
    if num_classes is not None and num_classes <= np.iinfo(arr.dtype).max:
        outside = arr >= num_classes
        if ignore_label is not None:
            outside &= arr != ignore_label
        if outside.any():
            void = f" and {ignore_label} (void)" if ignore_label is not None else ""
            raise ValueError(f"{name} holds class ids {np.unique(arr[outside]).tolist()[:10]} outside "
                             f"0..{num_classes - 1}{void}.")
    return arr


def keras_model(model, name: str = "model"):
    """``model`` itself when it is a ``keras.Model``; a TypeError that says what to pass if not."""
    import keras

    if isinstance(model, keras.Model):
        return model
    received = type(model).__name__
    if isinstance(model, keras.layers.Layer):
        todo = (f" A single layer is not a model: wrap it, e.g. "
                f"keras.Sequential([keras.Input((H, W, C)), {name}]).")
    elif isinstance(model, (str, bytes)) or model is None:
        todo = " Build the model first (e.g. with fcn_lessons.models) and pass the object."
    else:
        todo = ""
    raise TypeError(f"{name} must be a keras.Model, received {received}.{todo}")


def renamed_keyword(old: str, new: str):
    """Decorator: accept the keyword ``old`` as ``new``, with a DeprecationWarning."""
    import functools
    import warnings

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{function.__name__}() received both {old}= and {new}=; "
                                    f"pass only {new}= ({old}= is its old name).")
                warnings.warn(f"{function.__name__}({old}=...) is deprecated: call it {new}= "
                              "(the same meaning, the name every function of the course uses).",
                              DeprecationWarning, stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)
        return wrapper
    return decorate
