"""Fully connected layers are convolutions (lesson 01).

- ``dense_kernel_to_conv1x1``: a Dense kernel (C, K) is a 1×1 Conv2D kernel (1, 1, C, K).
- ``flatten_dense_kernel_to_conv``: Flatten + Dense over an (H, W, C) map is an H×W
  'valid' convolution with kernel (H, W, C, K), in Keras' row-major flatten order.
- ``dense_to_conv``: a built Dense layer as a built, equivalent Conv2D layer.
- ``convolutionalize``: a classifier (conv trunk, then Flatten/global pooling and Dense
  layers) as a fully convolutional model that runs on any input size.
- ``sliding_window_scores``: the explicit alternative, one crop at a time (batched).
"""

from __future__ import annotations

import keras
import numpy as np

from fcn_lessons import _validate

# Layers that turn a feature map into a vector: where the convolutional trunk ends.
_HEAD_STARTS = (keras.layers.Flatten, keras.layers.GlobalAveragePooling2D,
                keras.layers.GlobalMaxPooling2D)
# Layers allowed after that point besides Dense: they act on each position separately.
_POINTWISE_HEAD = (keras.layers.Dropout, keras.layers.Activation, keras.layers.ReLU,
                   keras.layers.Softmax, keras.layers.LeakyReLU, keras.layers.ELU,
                   keras.layers.PReLU)
# Layers that would scramble positions if copied into the trunk of a convolutional model.
_NOT_SPATIAL = (keras.layers.Reshape, keras.layers.Permute, keras.layers.RepeatVector)


def dense_kernel_to_conv1x1(kernel) -> np.ndarray:
    """(C, K) Dense kernel -> (1, 1, C, K) Conv2D kernel (Keras layout: kh, kw, in, out)."""
    kernel = _validate.array(kernel, "kernel", ndim=2, kinds="f", layout="(C, K)")
    return kernel.reshape(1, 1, *kernel.shape)


def flatten_dense_kernel_to_conv(kernel, feature_shape) -> np.ndarray:
    """(H·W·C, K) kernel of a Dense after Flatten -> (H, W, C, K) 'valid' Conv2D kernel.

    Keras' Flatten (channels_last) reads the (H, W, C) map in row-major order, so
    row ``(i * W + j) * C + c`` of the Dense kernel weighs pixel (i, j), channel c.
    """
    kernel = _validate.array(kernel, "kernel", ndim=2, kinds="f", layout="(H*W*C, K)")
    h, w, c = _feature_shape(feature_shape)
    if h * w * c != kernel.shape[0]:
        raise ValueError(
            f"feature_shape {(h, w, c)} holds {h * w * c} values but the kernel has "
            f"{kernel.shape[0]} rows: pass the (H, W, C) shape of the map that was flattened."
        )
    return kernel.reshape(h, w, c, kernel.shape[1])


def _feature_shape(feature_shape) -> tuple[int, int, int]:
    if not isinstance(feature_shape, (tuple, list)) or len(feature_shape) != 3:
        raise ValueError(f"feature_shape must be (H, W, C), received {feature_shape!r}.")
    return tuple(_validate.integer(v, f"feature_shape[{i}]", minimum=1)
                 for i, v in enumerate(feature_shape))


def dense_to_conv(dense_layer, input_shape) -> keras.layers.Conv2D:
    """A built Dense layer as a built Conv2D computing the same function.

    Args:
        dense_layer: a built ``keras.layers.Dense``.
        input_shape: (H, W, C), the map the Dense layer saw (flattened, if H·W > 1).
            Use (1, 1, C) for a Dense layer on a C-vector.

    Returns:
        ``Conv2D(K, (H, W), padding='valid')`` with the same activation, kernel reshaped
        to (H, W, C, K) and the same bias. On an (H, W, C) input it gives (1, 1, K).
    """
    if not isinstance(dense_layer, keras.layers.Dense):
        raise TypeError(f"dense_layer must be a keras.layers.Dense, received {type(dense_layer).__name__}.")
    if not dense_layer.built:
        raise ValueError(f"Dense layer '{dense_layer.name}' is not built yet: call it on an input first.")
    h, w, c = _feature_shape(input_shape)
    weights = dense_layer.get_weights()
    kernel = flatten_dense_kernel_to_conv(weights[0], (h, w, c))
    conv = keras.layers.Conv2D(
        dense_layer.units, (h, w), padding="valid", activation=dense_layer.activation,
        use_bias=dense_layer.use_bias, name=dense_layer.name, dtype=dense_layer.dtype_policy,
    )
    conv.build((None, h, w, c))
    conv.set_weights([kernel, *weights[1:]])
    return conv


def _layer_chain(model) -> list:
    """The model's layers (without the InputLayer), checking that each feeds the next."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, received {type(model).__name__}.")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not isinstance(model, keras.Sequential):
        previous = model.inputs
        for layer in layers:
            inputs = layer.input if isinstance(layer.input, list) else [layer.input]
            if len(inputs) != 1 or inputs[0] is not previous[0]:
                raise ValueError(
                    f"convolutionalize needs a chain of layers, each feeding the next; layer "
                    f"'{layer.name}' ({type(layer).__name__}) does not take the previous "
                    "layer's output. Rebuild the classifier as a keras.Sequential."
                )
            previous = [layer.output]
    return layers


def _copy(layer):
    return type(layer).from_config(layer.get_config())


def convolutionalize(model, *, name: str | None = None) -> keras.Model:
    """A classifier as a fully convolutional model that runs on any input size.

    The classifier is a chain: a convolutional trunk (convolutions, pooling,
    normalisation, activations...), then Flatten or global average/max pooling, then
    Dense layers with Dropout and activations between them. Flatten + Dense becomes an
    H×W 'valid' convolution; global pooling becomes H×W pooling with stride 1; every
    later Dense becomes a 1×1 convolution. Weights are copied, not shared.

    Args:
        model: a built ``keras.Model`` whose input has a known spatial size (H0, W0).

    Returns:
        A model from (N, H, W, C) to (N, H', W', K): at the training size H' = W' = 1 and
        the scores equal the classifier's; on larger inputs each output position scores
        one H0×W0 window, with H' = (H - H0) // S + 1 for the trunk's output stride S.
    """
    layers = _layer_chain(model)
    starts = [i for i, layer in enumerate(layers) if isinstance(layer, _HEAD_STARTS)]
    if not starts:
        raise ValueError(
            f"model '{model.name}' has no Flatten or global pooling layer: it is already "
            "convolutional, or its head is not a Flatten/GlobalPooling + Dense classifier."
        )
    split = starts[0]
    spatial = tuple(model.input_shape[1:3])
    if any(s is None for s in spatial):
        raise ValueError(
            f"model '{model.name}' accepts any input size ({model.input_shape}), so its "
            "classifier window is undefined: build it on a fixed size, e.g. keras.Input((32, 32, 3))."
        )
    inputs = keras.Input((None, None, model.input_shape[-1]), name="image")
    x = inputs
    for layer in layers[:split]:
        if isinstance(layer, _NOT_SPATIAL):
            raise ValueError(
                f"layer '{layer.name}' ({type(layer).__name__}) in the trunk depends on the "
                "input size; convolutionalize only handles spatial layers before the head."
            )
        copy = _copy(layer)
        x = copy(x)
        copy.set_weights(layer.get_weights())

    head_start = layers[split]
    feature_shape = tuple(int(d) for d in head_start.input.shape[1:])
    if isinstance(head_start, keras.layers.Flatten):
        if head_start.data_format == "channels_first":
            raise ValueError(f"Flatten layer '{head_start.name}' uses channels_first; only channels_last is handled.")
        window = feature_shape  # the first Dense sees the whole (h, w, c) map
    else:
        pool = (keras.layers.AveragePooling2D if isinstance(head_start, keras.layers.GlobalAveragePooling2D)
                else keras.layers.MaxPooling2D)
        x = pool(pool_size=feature_shape[:2], strides=1, padding="valid", name=head_start.name)(x)
        window = (1, 1, feature_shape[2])
    for layer in layers[split + 1:]:
        if isinstance(layer, keras.layers.Dense):
            conv = dense_to_conv(layer, window)
            x = conv(x)
            window = (1, 1, layer.units)
        elif isinstance(layer, _POINTWISE_HEAD):
            x = _copy(layer)(x)
        else:
            raise ValueError(
                f"convolutionalize cannot convert layer '{layer.name}' ({type(layer).__name__}) "
                f"after '{head_start.name}': only Dense, Dropout and activation layers may follow "
                "the Flatten/global pooling layer."
            )
    return keras.Model(inputs, x, name=name or f"{model.name}_fcn")


def output_size(input_size: int, window: int, stride: int) -> int:
    """Positions of a ``window``-pixel classifier moved by ``stride`` over ``input_size`` pixels.

    ``(input_size - window) // stride + 1``, the size of a convolutionalized model's
    score map along one axis (0 if the input is smaller than the window).
    """
    input_size = _validate.integer(input_size, "input_size", minimum=0)
    window = _validate.integer(window, "window", minimum=1)
    stride = _validate.integer(stride, "stride", minimum=1)
    return 0 if input_size < window else (input_size - window) // stride + 1


def window_crops(image, window, stride) -> np.ndarray:
    """All ``window``×``window`` crops of one image at multiples of ``stride``.

    Args:
        image: (H, W, C).

    Returns:
        (rows, cols, window, window, C), rows = ``output_size(H, window, stride)``.
    """
    image = _validate.array(image, "image", ndim=3, layout="(H, W, C)")
    window = _validate.integer(window, "window", minimum=1)
    stride = _validate.integer(stride, "stride", minimum=1)
    rows = output_size(image.shape[0], window, stride)
    cols = output_size(image.shape[1], window, stride)
    if rows == 0 or cols == 0:
        raise ValueError(f"image of shape {image.shape} is smaller than the {window}-pixel window.")
    views = np.lib.stride_tricks.sliding_window_view(image, (window, window), axis=(0, 1))
    # views: (H-w+1, W-w+1, C, w, w) -> take every stride-th position, channels last
    return np.ascontiguousarray(views[::stride, ::stride][:rows, :cols].transpose(0, 1, 3, 4, 2))


def sliding_window_scores(classifier, image, stride: int, *, batch_size: int = 1024) -> np.ndarray:
    """Run ``classifier`` on every crop of ``image`` at multiples of ``stride`` (batched).

    Args:
        classifier: a keras model with a fixed (h, w) input size.
        image: (H, W, C) float array.

    Returns:
        (rows, cols, K) scores; equals the convolutionalized model's map when ``stride``
        is the trunk's output stride.
    """
    window, window_w = classifier.input_shape[1:3]
    if window is None or window != window_w:
        raise ValueError(
            f"classifier must take square inputs of a fixed size, its input shape is "
            f"{classifier.input_shape}."
        )
    crops = window_crops(image, window, stride)
    rows, cols = crops.shape[:2]
    flat = crops.reshape(rows * cols, *crops.shape[2:])
    scores = [np.asarray(classifier.predict_on_batch(flat[i:i + batch_size]))
              for i in range(0, len(flat), batch_size)]
    return np.concatenate(scores).reshape(rows, cols, -1)


IMAGENET_WEIGHTS_HOST = "storage.googleapis.com"  # where keras.applications downloads from


def imagenet_vgg16(*, timeout_s: float = 5.0):
    """VGG16 with ImageNet weights and logit outputs, or None when they cannot be fetched.

    Checks first that the download host answers within ``timeout_s`` seconds, so an
    offline machine gives up quickly instead of waiting on a long download timeout.
    """
    import socket

    try:
        socket.create_connection((IMAGENET_WEIGHTS_HOST, 443), timeout=timeout_s).close()
        return keras.applications.VGG16(weights="imagenet", classifier_activation=None)
    except Exception:  # offline, DNS failure, proxy, interrupted download: all mean "not here"
        return None


def class_probability_map(fcn_model, image, class_index: int, *, preprocess=None) -> np.ndarray:
    """Probability of one class at every window of ``image``, from a convolutionalized model.

    Args:
        fcn_model: a fully convolutional model returning logits (N, H', W', K).
        image: (H, W, 3) array.
        class_index: the class to map, in [0, K).
        preprocess: optional function applied to the (1, H, W, 3) float batch first
            (e.g. ``keras.applications.vgg16.preprocess_input``).

    Returns:
        (H', W') float32 softmax probabilities of ``class_index``.
    """
    image = _validate.array(image, "image", ndim=3, kinds="uif", layout="(H, W, 3)")
    batch = image[None].astype(np.float32)
    if preprocess is not None:
        batch = preprocess(batch)
    logits = np.asarray(fcn_model.predict_on_batch(batch))
    if logits.ndim != 4:
        raise ValueError(f"fcn_model must return (N, H', W', K) logits, returned shape {logits.shape}.")
    class_index = _validate.integer(class_index, "class_index", minimum=0, maximum=logits.shape[-1] - 1)
    return np.asarray(keras.ops.softmax(logits[0], axis=-1))[..., class_index]
