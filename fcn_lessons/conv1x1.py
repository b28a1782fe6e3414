"""Fully connected layers are convolutions (lesson 01).

- ``dense_kernel_to_conv1x1``: a Dense kernel (C, K) is a 1×1 Conv2D kernel (1, 1, C, K).
- ``flatten_dense_kernel_to_conv``: Flatten + Dense over an (H, W, C) map is an H×W
  'valid' convolution with kernel (H, W, C, K), in Keras' row-major flatten order.
- ``flatten_order`` / ``plot_flatten_order``: where each element of a map lands in the
  flat vector, channels last (Keras) or channels first (PyTorch, Caffe);
  ``unflatten_kernel`` reads a Dense kernel's rows in either order.
- ``channels_first_linear_to_conv_kernel`` / ``dense_kernel_to_channels_first_linear``:
  between a PyTorch ``Linear`` weight (K, C·H·W) after a channels-first flatten and the
  Keras kernels (exercise 1.1 is the second).
- ``dense_to_conv``: a built Dense layer as a built, equivalent Conv2D layer;
  ``global_average_dense_to_conv``: global average pooling + Dense as one H×W convolution
  (exercise 1.2).
- ``convolutionalize``: a classifier (conv trunk, then Flatten/global pooling and Dense
  layers) as a fully convolutional model that runs on any input size.
- ``sliding_window_scores``: the explicit alternative, one crop at a time (batched);
  ``window_feature_mismatch``: how a window's features differ between the two ('same'
  padding).
- ``multiply_adds`` / ``work_per_output``: the arithmetic each side does, per output,
  layer by layer: what bounds the speed-up of dense evaluation; ``time_dense_and_sliding``
  measures both (wall-clock and CPU time).
- ``label_agreement_by_offset`` / ``agreement_peak``: which pixel a score map's scores
  predict (set by where the classifier's training labels sat).
- ``score_map_extent`` / ``plot_score_maps``: a score map drawn over its image, each
  score at the pixel it predicts.
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
    return unflatten_kernel(kernel, feature_shape, "channels_last")


def unflatten_kernel(kernel, feature_shape, data_format: str = "channels_last") -> np.ndarray:
    """A Dense kernel (H·W·C, K) read in a flatten's order, as an (H, W, C, K) conv kernel.

    Args:
        kernel: (H·W·C, K) float array, (inputs, outputs) as Keras stores it.
        feature_shape: (H, W, C) of the map that was flattened.
        data_format: the order the flatten used (see ``flatten_order``). ``"channels_last"``
            is Keras' Flatten, the right order for a Keras Dense kernel; ``"channels_first"``
            reads the rows as if a PyTorch-style flatten of the (C, H, W) map had made them.

    Returns:
        (H, W, C, K): entry (i, j, c) is the kernel row that the flatten gave element (i, j, c).
    """
    kernel = _validate.array(kernel, "kernel", ndim=2, kinds="f", layout="(H*W*C, K)")
    h, w, c = _feature_shape(feature_shape)
    if h * w * c != kernel.shape[0]:
        raise ValueError(
            f"feature_shape {(h, w, c)} holds {h * w * c} values but the kernel has "
            f"{kernel.shape[0]} rows: pass the (H, W, C) shape of the map that was flattened."
        )
    return np.ascontiguousarray(kernel[flatten_order((h, w, c), data_format)])


def _feature_shape(feature_shape, layout: str = "(H, W, C)") -> tuple[int, int, int]:
    if not isinstance(feature_shape, (tuple, list)) or len(feature_shape) != 3:
        raise ValueError(f"feature_shape must be {layout}, received {feature_shape!r}.")
    return tuple(_validate.integer(v, f"feature_shape[{i}]", minimum=1)
                 for i, v in enumerate(feature_shape))


_DATA_FORMATS = ("channels_last", "channels_first")


def flatten_order(feature_shape, data_format: str = "channels_last") -> np.ndarray:
    """Where each element of an (H, W, C) map lands when the map is flattened.

    Args:
        feature_shape: (H, W, C) of the map (whatever the layout it is stored in).
        data_format: ``"channels_last"``: Keras' Flatten of an (H, W, C) map, element
            (i, j, c) at ``(i * W + j) * C + c``; ``"channels_first"``: PyTorch's (and
            Caffe's) flatten of the (C, H, W) map, element (i, j, c) at ``(c * H + i) * W + j``.

    Returns:
        (H, W, C) int array: entry (i, j, c) is that element's index in the flat vector.
    """
    h, w, c = _feature_shape(feature_shape)
    _validate.choice(data_format, "data_format", _DATA_FORMATS)
    if data_format == "channels_last":
        return np.arange(h * w * c).reshape(h, w, c)
    return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0)


def plot_flatten_order(feature_shape, *, data_formats=_DATA_FORMATS):
    """A figure of ``flatten_order``: one row per data format, one H×W grid per channel.

    Each cell shows the flat index of element (row, column, channel): the row of the
    Dense kernel that weighs it. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    h, w, c = _feature_shape(feature_shape)
    orders = [flatten_order((h, w, c), data_format) for data_format in data_formats]
    fig, axes = plt.subplots(len(orders), c, figsize=(1.0 + 0.75 * w * c, 0.9 + 0.8 * h * len(orders)),
                             squeeze=False)
    formulas = {"channels_last": "Keras, channels last: (i·W + j)·C + c",
                "channels_first": "PyTorch, channels first: (c·H + i)·W + j"}
    for row, (data_format, order) in enumerate(zip(data_formats, orders)):
        for channel, ax in enumerate(axes[row]):
            ax.imshow(order[:, :, channel], cmap="viridis", vmin=0, vmax=h * w * c - 1)
            for (i, j), index in np.ndenumerate(order[:, :, channel]):
                ax.text(j, i, str(index), ha="center", va="center", fontsize=11,
                        color="white" if index < 0.6 * h * w * c else "black")
            ax.set_xticks(range(w)), ax.set_yticks(range(h))
            ax.set_xlabel("column j"), ax.set_ylabel("row i")
            ax.set_title(f"channel c = {channel}", fontsize=10)
        axes[row][0].annotate(formulas[data_format], (0, 1.28), xycoords="axes fraction", fontsize=11,
                              fontweight="bold")
    fig.tight_layout()
    return fig


def channels_first_linear_to_conv_kernel(weight, feature_shape) -> np.ndarray:
    """A PyTorch ``Linear`` weight after a channels-first flatten, as a Keras Conv2D kernel.

    A PyTorch classifier flattens its (C, H, W) feature map (element (c, i, j) becomes
    input ``(c * H + i) * W + j``) and applies ``nn.Linear(C * H * W, K)``, whose weight
    PyTorch stores as (out_features, in_features) = (K, C·H·W). In Keras the same map is
    stored (H, W, C), and the layer becomes ``Conv2D(K, (H, W), padding="valid")`` with
    the kernel returned here; ``kernel.reshape(H * W * C, K)`` is the kernel of a Keras
    Dense layer after Keras' Flatten. The bias (K,) is the same in both.

    Args:
        weight: (K, C·H·W) float array, e.g. ``linear.weight.detach().numpy()``.
        feature_shape: (C, H, W), the flattened map's shape in PyTorch's order.

    Returns:
        (H, W, C, K) float array.
    """
    weight = _validate.array(weight, "weight", ndim=2, kinds="f", layout="(K, C*H*W)")
    c, h, w = _feature_shape(feature_shape, "(C, H, W)")
    if c * h * w != weight.shape[1]:
        raise ValueError(
            f"feature_shape {(c, h, w)} holds {c * h * w} values but the weight has "
            f"{weight.shape[1]} columns: pass the (C, H, W) shape of the map that was flattened, "
            "and the weight as PyTorch stores it, (out_features, in_features)."
        )
    return np.ascontiguousarray(weight.reshape(weight.shape[0], c, h, w).transpose(2, 3, 1, 0))


def dense_kernel_to_channels_first_linear(kernel, feature_shape) -> np.ndarray:
    """A Keras Dense kernel after Flatten, as the weight of a PyTorch ``Linear`` (exercise 1.1).

    The Keras classifier flattens its (H, W, C) map (element (i, j, c) becomes input
    ``(i * W + j) * C + c``) and applies a Dense kernel (H·W·C, K). The same classifier in
    PyTorch holds the map as (C, H, W), flattens it channel by channel (element (c, i, j)
    becomes input ``(c * H + i) * W + j``) and stores its ``nn.Linear`` weight as
    (out_features, in_features). The bias (K,) is the same in both.

    Args:
        kernel: (H·W·C, K) float array, ``dense.get_weights()[0]``.
        feature_shape: (H, W, C), the flattened map's shape in Keras' order.

    Returns:
        (K, C·H·W) float array, ready for ``linear.weight.data.copy_(torch.from_numpy(...))``.
    """
    kernel = _validate.array(kernel, "kernel", ndim=2, kinds="f", layout="(H*W*C, K)")
    h, w, c = _feature_shape(feature_shape)
    if h * w * c != kernel.shape[0]:
        raise ValueError(
            f"feature_shape {(h, w, c)} holds {h * w * c} values but the kernel has "
            f"{kernel.shape[0]} rows: pass the (H, W, C) shape of the map that was flattened."
        )
    k = kernel.shape[1]
    return np.ascontiguousarray(kernel.reshape(h, w, c, k).transpose(3, 2, 0, 1).reshape(k, c * h * w))


def _require_built_dense(dense_layer) -> None:
    if not isinstance(dense_layer, keras.layers.Dense):
        raise TypeError(f"dense_layer must be a keras.layers.Dense, received {type(dense_layer).__name__}.")
    if not dense_layer.built:
        raise ValueError(f"Dense layer '{dense_layer.name}' is not built yet: call it on an input first.")


def _conv_with_dense_weights(dense_layer, kernel, feature_shape) -> keras.layers.Conv2D:
    """A built H×W 'valid' Conv2D with ``kernel`` (H, W, C, K) and the Dense layer's bias,
    activation, name and dtype policy."""
    h, w, c = feature_shape
    conv = keras.layers.Conv2D(
        dense_layer.units, (h, w), padding="valid", activation=dense_layer.activation,
        use_bias=dense_layer.use_bias, name=dense_layer.name, dtype=dense_layer.dtype_policy,
    )
    conv.build((None, h, w, c))
    conv.set_weights([kernel, *dense_layer.get_weights()[1:]])
    return conv


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
    _require_built_dense(dense_layer)
    h, w, c = _feature_shape(input_shape)
    weights = dense_layer.get_weights()
    kernel = flatten_dense_kernel_to_conv(weights[0], (h, w, c))
    return _conv_with_dense_weights(dense_layer, kernel, (h, w, c))


def global_average_dense_to_conv(dense_layer, input_shape) -> keras.layers.Conv2D:
    """GlobalAveragePooling2D + a built Dense layer, as one built H×W 'valid' Conv2D (exercise 1.2).

    Average pooling over the H×W map, then the Dense kernel (C, K): output k is
    ``sum_c kernel[c, k] * (1 / (H·W)) * sum_ij x[i, j, c] + bias[k]``, a weighted sum of
    every (i, j, c) with the same weight ``kernel[c, k] / (H·W)`` at every position. So the
    convolution's kernel is the Dense kernel divided by H·W, repeated at each of the H×W
    positions; bias and activation are the Dense layer's. On a larger map it slides: each
    output averages one H×W window (as ``convolutionalize`` does with an H×W average
    pooling of stride 1 followed by a 1×1 convolution).

    Args:
        dense_layer: a built ``keras.layers.Dense`` on C inputs.
        input_shape: (H, W, C), the map that global average pooling reduced.

    Returns:
        ``Conv2D(K, (H, W), padding='valid')``, built, with kernel (H, W, C, K).
    """
    _require_built_dense(dense_layer)
    h, w, c = _feature_shape(input_shape)
    weights = dense_layer.get_weights()
    if weights[0].shape[0] != c:
        raise ValueError(f"input_shape {(h, w, c)} has {c} channels but Dense layer '{dense_layer.name}' "
                         f"takes {weights[0].shape[0]} inputs: pass the (H, W, C) map before the pooling.")
    kernel = np.broadcast_to(weights[0] / (h * w), (h, w, *weights[0].shape)).astype(weights[0].dtype)
    return _conv_with_dense_weights(dense_layer, kernel, (h, w, c))


def _layer_chain(model) -> list:
    """The model's layers (without the InputLayer), checking that each feeds the next."""
    _validate.keras_model(model)
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
        the scores equal the classifier's; on larger inputs output (i, j) scores the
        H0×W0 window at (S·i, S·j), for the trunk's output stride S. H' is what the
        layers' size arithmetic gives: (H - H0) // S + 1 when the classifier reads its
        whole input, one more where rounding-down poolings leave the last rows of the
        crop unread and the image ends inside them (with 'valid' layers an output exists
        exactly where its receptive field fits: H' = (H - R) // S + 1 for a field of R).
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
        (rows, cols, K) scores, rows = ``output_size(H, window, stride)``; equals the
        convolutionalized model's map when ``stride`` is the trunk's output stride (the
        dense map can have one more row or column: see ``convolutionalize``).
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


def window_feature_mismatch(classifier, layer_name: str, image, position) -> np.ndarray:
    """How one window's features at ``layer_name`` differ between the crop alone and the whole image.

    The classifier computes the layer on its ``window``-pixel crop at ``position`` (in
    score-map units: the crop starts at pixel ``stride * position``); the convolutionalized
    model computes the same units inside the whole image. With 'valid' padding they are the
    same numbers; with 'same' padding the crop's border is zero-padded where the image has
    real pixels.

    Args:
        classifier: a chain classifier with a fixed square input (``models.crop_classifier``).
        layer_name: a layer of its trunk (before Flatten).
        image: (H, W, C) float array.
        position: (i, j) of the window in the score map.

    Returns:
        (h, w) float array, one entry per unit of the layer on the crop: max over channels
        of |crop feature - image feature|, divided by the largest |feature| of the crop.
    """
    from fcn_lessons import receptive

    image = _validate.array(image, "image", ndim=3, kinds="uif", layout="(H, W, C)").astype(np.float32)
    window = classifier.input_shape[1]
    fcn_model = convolutionalize(classifier)
    fields = receptive.receptive_fields(fcn_model)
    if layer_name not in fields:
        raise ValueError(f"layer_name must name a layer of the classifier's trunk; received {layer_name!r}.")
    top, left = (p * s for p, s in zip(_validate.int_pair(tuple(position), "position", minimum=0),
                                       fields[fcn_model.layers[-1].name].stride))
    if top + window > image.shape[0] or left + window > image.shape[1]:
        raise ValueError(f"position {tuple(position)} puts the {window}-pixel window outside the image "
                         f"of shape {image.shape}.")
    layer_stride = fields[layer_name].stride
    on_crop = keras.Model(classifier.inputs, classifier.get_layer(layer_name).output)
    in_image = keras.Model(fcn_model.inputs, fcn_model.get_layer(layer_name).output)
    crop_features = np.asarray(on_crop.predict_on_batch(image[None, top:top + window, left:left + window]))[0]
    image_features = np.asarray(in_image.predict_on_batch(image[None]))[0]
    h, w = crop_features.shape[:2]
    row, col = top // layer_stride[0], left // layer_stride[1]
    same_units = image_features[row:row + h, col:col + w]
    scale = max(float(np.abs(crop_features).max()), np.finfo(np.float32).tiny)
    return np.abs(crop_features - same_units).max(axis=-1) / scale


def _median_cpu_seconds(fn, repeats: int) -> float:
    """Median CPU time of ``fn()`` (all threads of this process), after one warm-up call.

    Unlike wall-clock time it leaves out time spent waiting for a core, so it stays
    meaningful on a machine that other jobs share.
    """
    import statistics
    import time

    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def time_dense_and_sliding(classifier, fcn_model, images, stride: int, *, repeats: int = 5,
                           batch_size: int = 1024) -> dict:
    """Time scoring ``images`` densely (one call) and window by window (``sliding_window_scores``).

    Args:
        classifier: the classifier; fcn_model: ``convolutionalize(classifier)``.
        images: (N, H, W, C) float32 canvases.
        stride: the trunk's output stride.

    Returns:
        dict of medians over ``repeats``: ``dense_s`` / ``sliding_s`` (wall-clock seconds),
        ``dense_cpu_s`` / ``sliding_cpu_s`` (CPU seconds, all threads), ``crops_cpu_s``
        (cutting the crops, part of the sliding window), ``call_cpu_s`` (one
        ``predict_on_batch`` of the classifier on one crop: the cost of a call), ``calls``
        (the sliding window's ``predict_on_batch`` calls; the dense model makes one) and
        ``outputs`` (score vectors in all).
    """
    from fcn_lessons.timing import median_seconds

    images = _validate.array(images, "images", ndim=4, kinds="f", layout="(N, H, W, C)")
    window = classifier.input_shape[1]

    def dense():
        return fcn_model.predict_on_batch(images)

    def sliding():
        return [sliding_window_scores(classifier, image, stride, batch_size=batch_size) for image in images]

    outputs_each = output_size(images.shape[1], window, stride) * output_size(images.shape[2], window, stride)
    one_crop = images[:1, :window, :window]
    return {
        "dense_s": median_seconds(dense, repeats=repeats), "sliding_s": median_seconds(sliding, repeats=repeats),
        "dense_cpu_s": _median_cpu_seconds(dense, repeats), "sliding_cpu_s": _median_cpu_seconds(sliding, repeats),
        "crops_cpu_s": _median_cpu_seconds(lambda: [window_crops(image, window, stride) for image in images],
                                           repeats),
        "call_cpu_s": _median_cpu_seconds(lambda: classifier.predict_on_batch(one_crop), max(repeats, 11)),
        "calls": len(images) * -(-outputs_each // batch_size),
        "outputs": len(images) * outputs_each,
    }


def label_agreement_by_offset(score_maps, label_maps, *, stride: int, offsets, background: int = 0,
                              ignore_label: int = 255) -> list[dict]:
    """How often a score map's argmax equals the label at ``offset + stride * (i, j)``, per offset.

    A score of a convolutionalized classifier predicts the class the classifier was trained
    to report for its window: the label at one pixel of the window. Sampling the label map
    at several candidate pixels and scoring the agreement finds that pixel.

    Args:
        score_maps: (N, rows, cols, K) scores (the argmax is taken) or (N, rows, cols) class ids.
        label_maps: (N, H, W) class ids, ``ignore_label`` for void.
        stride: the output stride.
        offsets: candidate pixels (ints): score (i, j) is compared with the label at
            (offset + stride * i, offset + stride * j); positions outside the image are skipped.
        background: the background class; ``objects`` counts only the other classes.

    Returns:
        One dict per offset: ``offset``, ``all`` (agreement on every labelled pixel),
        ``objects`` (on object pixels only) and ``pixels`` (labelled pixels compared).
    """
    scores = np.asarray(score_maps)
    predicted = scores.argmax(axis=-1) if scores.ndim == 4 else scores
    labels = _validate.array(label_maps, "label_maps", ndim=3, kinds="ui", layout="(N, H, W)")
    if predicted.ndim != 3 or predicted.shape[0] != labels.shape[0]:
        raise ValueError(f"score_maps must be (N, rows, cols[, K]) for the {labels.shape[0]} label maps; "
                         f"received shape {scores.shape}.")
    stride = _validate.integer(stride, "stride", minimum=1)
    rows = []
    for offset in offsets:
        offset = _validate.integer(offset, "offset", minimum=0)
        ys, xs = (offset + stride * np.arange(n) for n in predicted.shape[1:3])
        keep_y, keep_x = ys < labels.shape[1], xs < labels.shape[2]
        sampled = labels[:, ys[keep_y]][:, :, xs[keep_x]]
        guess = predicted[:, keep_y][:, :, keep_x]
        labelled = sampled != ignore_label
        objects = labelled & (sampled != background)
        rows.append({"offset": offset, "all": float(np.mean(guess[labelled] == sampled[labelled])),
                     "objects": float(np.mean(guess[objects] == sampled[objects])),
                     "pixels": int(labelled.sum())})
    return rows


def agreement_peak(rows, key: str = "objects") -> float:
    """The offset where ``label_agreement_by_offset``'s agreement peaks, to a fraction of a pixel.

    The vertex of the parabola through the best offset and its two neighbours (the best
    offset itself when it lies at either end of the rows).
    """
    offsets = [row["offset"] for row in rows]
    values = [row[key] for row in rows]
    best = int(np.argmax(values))
    if best in (0, len(rows) - 1) or offsets[best + 1] - offsets[best] != offsets[best] - offsets[best - 1]:
        return float(offsets[best])
    left, centre, right = values[best - 1:best + 2]
    curvature = left - 2 * centre + right
    shift = 0.0 if curvature == 0 else 0.5 * (left - right) / curvature
    return float(offsets[best] + shift * (offsets[best + 1] - offsets[best]))


def multiply_adds(model, input_shape) -> dict[str, int]:
    """Multiply-adds of each Conv2D and Dense layer of a chain model on one input.

    Args:
        model: a keras.Model whose layers form a chain (``keras.Sequential``, or what
            ``convolutionalize`` returns).
        input_shape: (H, W, C) of one input.

    Returns:
        {layer name: multiply-adds} in layer order: output positions × kernel size ×
        input channels × output channels for a convolution, inputs × units (per position)
        for a Dense layer. Other layers (pooling, activations) are left out: they cost
        little next to these.
    """
    layers = _layer_chain(model)
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (H, W, C), received {input_shape!r}.")
    shape = (1, *(_validate.integer(v, f"input_shape[{i}]", minimum=1) for i, v in enumerate(input_shape)))
    counts = {}
    for layer in layers:
        try:
            out = tuple(layer.compute_output_shape(shape))
        except ValueError as err:
            raise ValueError(f"input_shape {tuple(input_shape)} is too small for layer '{layer.name}' "
                             f"of model '{model.name}': {err}") from err
        if isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.Conv2DTranspose):
            kh, kw, cin, cout = (int(d) for d in layer.kernel.shape)
            counts[layer.name] = int(np.prod(out[1:3])) * kh * kw * cin * cout
        elif isinstance(layer, keras.layers.Dense):
            positions = int(np.prod(out[1:-1])) if len(out) > 2 else 1
            counts[layer.name] = positions * int(np.prod(layer.kernel.shape))
        shape = out
    return counts


def work_per_output(classifier, fcn_model, image_shape) -> list[dict]:
    """Arithmetic per score vector: the classifier on every window vs its dense version.

    Args:
        classifier: the classifier (a chain, fixed input size).
        fcn_model: ``convolutionalize(classifier)``.
        image_shape: (H, W, C) of the image the dense model scores.

    Returns:
        One dict per Conv2D/Dense layer and a last one named ``"total"``, with
        ``layer``, ``window`` (multiply-adds of that layer for one window, the sliding
        window's cost per output), ``dense`` (the dense model's multiply-adds of that
        layer divided by its number of outputs) and ``sharing`` = window / dense: how
        many windows share each computation of that layer.
    """
    per_window = multiply_adds(classifier, tuple(classifier.input_shape[1:]))
    try:
        outputs = int(np.prod(fcn_model.compute_output_shape((1, *image_shape))[1:3]))
    except ValueError as err:
        raise ValueError(f"image_shape {tuple(image_shape)} is smaller than the classifier's receptive "
                         f"field: no output position ({err})") from err
    dense = multiply_adds(fcn_model, image_shape)
    missing = sorted(set(per_window) - set(dense))
    if missing:
        raise ValueError(f"fcn_model has no layers named {missing}: pass convolutionalize(classifier).")
    rows = [{"layer": name, "window": per_window[name], "dense": dense[name] / outputs,
             "sharing": per_window[name] / (dense[name] / outputs)} for name in per_window]
    window_total, dense_total = sum(per_window.values()), sum(dense[name] for name in per_window) / outputs
    rows.append({"layer": "total", "window": window_total, "dense": dense_total,
                 "sharing": window_total / dense_total})
    return rows


def score_map_extent(map_shape, *, stride, offset) -> tuple[float, float, float, float]:
    """The ``imshow`` extent that draws a score map over its image, score (i, j) at ``offset + stride * (i, j)``.

    Args:
        map_shape: (rows, cols) of the score map.
        stride: the output stride, an int or (h, w), in input pixels.
        offset: input coordinate (y, x), or one number for both, where score (0, 0) is
            drawn: the pixel it predicts (``label_agreement_by_offset``), or the centre of
            its receptive field (``ReceptiveField.offset``). Pixel (y, x) of the image is
            drawn centred on (y, x), as ``imshow`` does.

    Returns:
        (left, right, bottom, top): cell (i, j) is centred at ``offset + stride * (i, j)``.
    """
    rows, cols = _validate.int_pair(tuple(map_shape)[:2], "map_shape", minimum=1)
    stride_h, stride_w = _validate.int_pair(stride, "stride", minimum=1)
    offset_y, offset_x = (offset, offset) if np.isscalar(offset) else tuple(offset)
    return (offset_x - stride_w / 2, offset_x + stride_w * (cols - 0.5),
            offset_y + stride_h * (rows - 0.5), offset_y - stride_h / 2)


def plot_score_maps(image, label_map, score_map, *, field, window: int, class_names, position=(0, 0),
                    score_offset=None, zoom_margin: int = 3):
    """A 2×4 figure: one score's window, the labels, the argmax and one panel per class.

    Score (i, j) is drawn at pixel ``score_offset + stride * (i, j)`` (``score_map_extent``):
    the pixel it predicts. The first panel zooms on score ``position``: the classifier's
    window (``window`` pixels from (stride·i, stride·j), cyan, dashed), the receptive field
    inside it (yellow) and the pixel where the score is drawn (magenta cross).

    Args:
        image: (H, W, 3) float in [0, 1] or uint8.
        label_map: (H, W) class ids (255 void).
        score_map: (rows, cols, K) class probabilities, K = len(class_names) <= 5.
        field: the score layer's ``ReceptiveField`` (``fcn_lessons.receptive``).
        window: the classifier's input side in pixels.
        score_offset: pixel (y, x), or one number for both, that score (0, 0) predicts:
            where the classifier's training label sat in its window. Default: the centre
            of the receptive field (``field.offset``).
        zoom_margin: pixels shown around the window in the first panel.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from fcn_lessons import viz

    score_map = _validate.array(score_map, "score_map", ndim=3, kinds="f", layout="(rows, cols, K)")
    if score_map.shape[-1] != len(class_names) or len(class_names) > 5:
        raise ValueError(f"score_map has {score_map.shape[-1]} classes; class_names lists {len(class_names)} "
                         "(one panel each, at most 5).")
    score_offset = field.offset if score_offset is None else score_offset
    offset_y, offset_x = (score_offset, score_offset) if np.isscalar(score_offset) else tuple(score_offset)
    extent = score_map_extent(score_map.shape, stride=field.stride, offset=(offset_y, offset_x))
    size = image.shape[:2]
    fig, axes = plt.subplots(2, 4, figsize=(13.5, 7.2))
    axes = axes.ravel()
    axes[0].imshow(image)
    top, left = (p * s for p, s in zip(position, field.stride))
    axes[0].add_patch(Rectangle((left - 0.5, top - 0.5), window, window, fill=False, ec="cyan", lw=2,
                                ls="--", label=f"window {window}×{window}"))
    f_top, f_left, f_bottom, f_right = field.box(position)
    axes[0].add_patch(Rectangle((f_left - 0.5, f_top - 0.5), f_right - f_left + 1, f_bottom - f_top + 1,
                                fill=False, ec="yellow", lw=2,
                                label=f"receptive field {f_bottom - f_top + 1}×{f_right - f_left + 1}"))
    drawn_y, drawn_x = offset_y + position[0] * field.stride[0], offset_x + position[1] * field.stride[1]
    axes[0].plot([drawn_x], [drawn_y], marker="+", ms=14, mew=2.5, color="magenta", ls="none",
                 label=f"score drawn at ({drawn_y:g}, {drawn_x:g})")
    axes[0].set_xlim(left - zoom_margin - 0.5, left + window + zoom_margin - 0.5)
    axes[0].set_ylim(top + window + zoom_margin - 0.5, top - zoom_margin - 0.5)
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=8, ncol=1)
    axes[0].set_title(f"score {tuple(position)}: window and field")
    axes[1].imshow(viz.colorize(label_map))
    axes[1].set_title("label map")
    axes[2].imshow(viz.colorize(score_map.argmax(axis=-1)), extent=extent)
    axes[2].set_title("argmax of the scores")
    for class_id, ax in enumerate(axes[3:3 + len(class_names)]):
        ax.imshow(image, alpha=0.35)
        shown = ax.imshow(score_map[..., class_id], extent=extent, vmin=0, vmax=1, cmap="magma", alpha=0.8)
        ax.set_title(f"P({class_names[class_id]})")
    for ax in axes[2:]:
        ax.set_xlim(-0.5, size[1] - 0.5), ax.set_ylim(size[0] - 0.5, -0.5)
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
    for ax in axes[3 + len(class_names):]:
        ax.set_visible(False)
    fig.legend(handles=viz.legend_handles(class_names, void=True), loc="lower center", ncol=len(class_names) + 1,
               fontsize=10, frameon=False)
    fig.subplots_adjust(left=0.02, right=0.9, bottom=0.07, top=0.95, wspace=0.08, hspace=0.38)
    fig.colorbar(shown, cax=fig.add_axes([0.915, 0.1, 0.015, 0.8]), label="probability")
    return fig


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
