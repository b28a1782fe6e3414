"""The blog post's FCN (its section 4), as published, and fixed bug by bug (lesson 07).

The post (in Chinese, by the account 禅与计算机程序设计艺术) publishes a complete system in
its section 4: a data loader (4.1), a model (4.2), compile (4.3), fit (4.4), save and load
(4.5), predict (4.6) and a sentence on metrics (4.7). ``POST_CODE`` holds that code exactly
as published, as a specimen: ``run_post_code`` executes a part in a namespace you give it, so
lesson 07 can show each error the way a reader of the post meets it. Nothing here corrects
it silently.

The fixed parts, in the course's style:

- ``post_model``: the post's architecture, layer for layer, with a switch per fix (skips
  aligned by adding the missing pool5 or by taking the skips before pooling, the scores
  upsampled to the input's size, logits instead of sigmoids) and narrower widths to train
  on a CPU;
- ``mse_targets``: one-hot targets and per-pixel weights for the post's mean squared error,
  void weighted 0 (the fair version of the post's loss, for the comparison with softmax
  cross-entropy);
- ``PostAugmentation``: a stand-in for the post's undefined ``trainAugmentation`` with the
  interface the post calls (imgaug's ``augment_image``): flip and crop, image only;
- ``attempt``: run a step, print the error a learner would see in one clean line.

``BUGS`` lists every error of section 4 with its symptom, its fix and the lesson that
explains it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import NamedTuple

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.labels import VOID_LABEL

POST_TITLE = "the FCN blog post (zh), section 4"

POST_CODE = {  # section of the post -> its code, character for character
    # 4.1
    "loader": (
        'class DataLoader():\n'
        '    def __init__(self, image_dir):\n'
        '        self.image_list = os.listdir(image_dir)\n'
        '\n'
        "    def load_data(self, batchsize=1, subset='train'):\n"
        '\n'
        '        imgs = []\n'
        '        for i in range(batchsize):\n'
        '            # select a random sample from the dataset\n'
        '            index = np.random.randint(len(self.image_list))\n'
        '\n'
        '            img = cv2.imread(os.path.join(image_dir, self.image_list[index]), cv2.IMREAD_COLOR)\n'
        "            if subset == 'train':\n"
        '                aug = trainAugmentation()\n'
        '                img = aug.augment_image(img)\n'
        '            \n'
        '            img = preprocess_input(np.array([img]))\n'
        '            imgs.append(img)\n'
        '        \n'
        '        return np.concatenate(imgs, axis=0), len(self.image_list)\n'
    ),
    # 4.2
    "model": (
        'from keras.models import Model\n'
        'from keras.layers import Input, Conv2D, BatchNormalization, Activation, MaxPooling2D, Dropout, Add\n'
        'import tensorflow as tf\n'
        '\n'
        'def fcn_model(input_shape=(None, None, 3)):\n'
        '    \n'
        '    inputs = Input(shape=input_shape)\n'
        '    x = inputs\n'
        '    \n'
        '    ## block 1\n'
        "    x = Conv2D(64, (3, 3), padding='same', name='block1_conv1')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        "    x = Conv2D(64, (3, 3), padding='same', name='block1_conv2')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        '    x = MaxPooling2D((2, 2), strides=(2, 2))(x)\n'
        '    f1 = x\n'
        '    \n'
        '    ## block 2\n'
        "    x = Conv2D(128, (3, 3), padding='same', name='block2_conv1')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        "    x = Conv2D(128, (3, 3), padding='same', name='block2_conv2')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        '    x = MaxPooling2D((2, 2), strides=(2, 2))(x)\n'
        '    f2 = x\n'
        '    \n'
        '    ## block 3\n'
        "    x = Conv2D(256, (3, 3), padding='same', name='block3_conv1')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        "    x = Conv2D(256, (3, 3), padding='same', name='block3_conv2')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        "    x = Conv2D(256, (3, 3), padding='same', name='block3_conv3')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        '    x = MaxPooling2D((2, 2), strides=(2, 2))(x)\n'
        '    pool3 = x\n'
        '    \n'
        '    ## block 4\n'
        "    x = Conv2D(512, (3, 3), padding='same', name='block4_conv1')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        "    x = Conv2D(512, (3, 3), padding='same', name='block4_conv2')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        "    x = Conv2D(512, (3, 3), padding='same', name='block4_conv3')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        '    x = MaxPooling2D((2, 2), strides=(2, 2))(x)\n'
        '    pool4 = x\n'
        '    \n'
        '    ## block 5\n'
        "    x = Conv2D(512, (3, 3), padding='same', name='block5_conv1')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        "    x = Conv2D(512, (3, 3), padding='same', name='block5_conv2')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        "    x = Conv2D(512, (3, 3), padding='same', name='block5_conv3')(x)\n"
        '    x = BatchNormalization()(x)\n'
        "    x = Activation('relu')(x)\n"
        '    pool5 = x\n'
        '    \n'
        '    ## upsampling\n'
        '    pool5_upsampled = UpSampling2D(size=(2, 2))(pool5)\n'
        "    conv4_upsampled = Conv2DTranspose(filters=512, kernel_size=(3, 3), activation='relu', padding='same')(pool5_upsampled)\n"
        '    merged4 = concatenate([conv4_upsampled, pool4], axis=-1)\n'
        '    c4 = Conv2D(512, (3, 3), activation="relu", padding="same")(merged4)\n'
        '    c4 = Dropout(rate=0.5)(c4)\n'
        '    c4 = Conv2D(512, (3, 3), activation="relu", padding="same")(c4)\n'
        '    \n'
        '    pool4_upsampled = UpSampling2D(size=(2, 2))(c4)\n'
        "    conv3_upsampled = Conv2DTranspose(filters=256, kernel_size=(3, 3), activation='relu', padding='same')(pool4_upsampled)\n"
        '    merged3 = concatenate([conv3_upsampled, pool3], axis=-1)\n'
        '    c3 = Conv2D(256, (3, 3), activation="relu", padding="same")(merged3)\n'
        '    c3 = Dropout(rate=0.5)(c3)\n'
        '    c3 = Conv2D(256, (3, 3), activation="relu", padding="same")(c3)\n'
        '    c3 = Dropout(rate=0.5)(c3)\n'
        '    \n'
        '    ### last layer\n'
        "    output = Conv2D(num_classes, (1, 1), activation='sigmoid')(c3)\n"
        '    \n'
        '    model = Model(inputs=[inputs], outputs=[output])\n'
        '    \n'
        '    return model\n'
    ),
    # 4.3
    "compile": (
        'model = fcn_model(input_shape=input_shape)\n'
        "model.compile(optimizer=Adam(), loss=mean_squared_error, metrics=['accuracy'])\n"
    ),
    # 4.4
    "fit": (
        'history = model.fit(train_loader.load_data(), steps_per_epoch=steps_per_epoch, epochs=epochs, \n'
        '                    validation_data=val_loader.load_data(), validation_steps=validation_steps)\n'
    ),
    # 4.5
    "save": (
        'from keras.utils import plot_model\n'
        "model.save('/path/to/my_model.h5')\n"
    ),
    # 4.5
    "load": (
        'from keras.models import load_model\n'
        "model = load_model('/path/to/my_model.h5', custom_objects={'tf': tf})\n"
    ),
    # 4.6
    "predict": (
        'test_loader = DataLoader(test_dir)\n'
        'scores = model.predict(test_loader.load_data())\n'
        'pred_labels = [np.argmax(score, axis=-1) for score in scores]\n'
    ),
}

# The post's Keras imports (4.2 and 4.5); 4.1 uses os, numpy and OpenCV without importing them.
POST_WIDTHS = (64, 128, 256, 512, 512)  # channels of the post's blocks 1-5 (VGG16's)
POST_CONVS = (2, 2, 3, 3, 3)  # 3×3 convolutions per block (VGG16's)
POST_DROPOUT = 0.5  # the post's Dropout(rate=0.5) in the decoder
SKIP_FIXES = (None, "pool5", "prepool")
POST_BN_MOMENTUM = 0.99  # Keras' default, what the post's BatchNormalization() gets
CPU_WIDTHS = (16, 32, 64, 64, 64)  # a quarter of VGG16's (8 at most): trains in a lesson on two CPU cores


POST_MODEL_PATH = "/path/to/my_model.h5"  # the post's placeholder path (4.5)


def run_post_code(part: str, namespace: dict | None = None, *, model_path=None) -> dict:
    """Execute one part of ``POST_CODE`` in ``namespace`` (a dict, modified) and return it.

    The post defines its model and loader as a function and a class, so running those parts
    only defines them; errors come when they are called. Parts "compile", "fit", "save",
    "load" and "predict" run statements and fail on their first undefined name.

    Args:
        model_path: for "save" and "load", the file to use instead of the post's placeholder
            ``POST_MODEL_PATH`` (required there: Keras would create ``/path/to/``). The only
            change ever made to the post's code.
    """
    _validate.choice(part, "part", tuple(POST_CODE))
    namespace = {} if namespace is None else namespace
    if not isinstance(namespace, dict):
        raise TypeError(f"namespace must be a dict, received {type(namespace).__name__}.")
    code = POST_CODE[part]
    if POST_MODEL_PATH in code:
        if model_path is None:
            raise ValueError(f"part {part!r} writes or reads {POST_MODEL_PATH!r}: pass model_path= (a file in a "
                             "temporary folder) to run it.")
        code = code.replace(repr(POST_MODEL_PATH), repr(str(model_path)))
    exec(compile(code, f"<blog post {part}>", "exec"), namespace)  # noqa: S102 - the specimen
    return namespace


# --- running a step and showing its error -------------------------------------------------------

class Attempt(NamedTuple):
    """What ``attempt`` saw: the exception (None when the step ran) and the step's result."""

    error: BaseException | None
    result: object


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ARRAY = re.compile(r"array\(\[.*?(?:dtype=\w+)?\)(?=[,)\s]|$)", re.S)
_NODE = re.compile(r"\s*for '\{\{node .*?\}\}[^']*'", re.S)
_COMPUTED = re.compile(r"\s*and with computed input tensors:.*", re.S)
MAX_MESSAGE = 240  # characters of an error shown


def error_line(error: BaseException) -> str:
    """``TypeName: message`` on one line: colour codes, array contents and graph node names removed."""
    text = _ANSI.sub("", str(error))
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("Exception encountered when calling")]
    kept = []
    for line in lines:
        if line.startswith("Arguments received by"):
            break
        kept.append(line)
    message = _ARRAY.sub("array(...)", " ".join(kept))
    message = _COMPUTED.sub("", _NODE.sub("", message)).strip()
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE - 3] + "..."
    return f"{type(error).__name__}: {message}"


def attempt(step, *args, **kwargs) -> Attempt:
    """Run ``step(*args, **kwargs)``; print its error in one line (``error_line``), or "ran".

    Returns:
        ``Attempt(error, result)``: the exception (or None) and what the step returned.
    """
    if not callable(step):
        raise TypeError(f"step must be a function to call, received {type(step).__name__}.")
    try:
        result = step(*args, **kwargs)
    except Exception as err:  # the point: show what a reader of the post sees
        print(error_line(err))
        return Attempt(err, None)
    print("ran without error")
    return Attempt(None, result)


@contextlib.contextmanager
def captured_log(logger: str = "absl"):
    """Collect what a step logs (Keras 3 logs its warnings through absl) instead of printing it.

    Yields a list that receives each message as a string, in order.
    """
    messages = []

    class _Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage().strip())

    target = logging.getLogger(logger)
    handler, propagate = _Collect(), target.propagate
    target.addHandler(handler)
    target.propagate = False
    try:
        yield messages
    finally:
        target.removeHandler(handler)
        target.propagate = propagate


@contextlib.contextmanager
def quiet_opencv():
    """Silence OpenCV's own warnings (``cv2.imread`` of a missing file logs one to the process's stderr)."""
    import cv2

    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


# --- the post's model, with a switch per fix -----------------------------------------------------

def post_model(num_classes: int, input_shape=(None, None, 3), *, widths=POST_WIDTHS, skip_fix: str | None = None,
               full_resolution: bool = False, logits: bool = False, bn_momentum: float = POST_BN_MOMENTUM,
               name: str = "post_fcn"):
    """The post's model (its 4.2), built layer for layer, with a switch for each fix.

    As published (``skip_fix=None``, ``full_resolution=False``, ``logits=False``): VGG16-shaped
    blocks of 3×3 convolutions, each followed by batch normalisation and ReLU; 2×2 max pooling
    after blocks 1-4 but **not** after block 5; then twice: ×2 ``UpSampling2D``, a 3×3
    ``Conv2DTranspose`` with stride 1 (it does not upsample), concatenation with pool4 (then
    pool3), two 3×3 convolutions with dropout; a 1×1 convolution with a sigmoid. The
    concatenations fail: block 5 is at 1/16 of the input, so the upsampled map is at 1/8 where
    pool4 is at 1/16.

    Args:
        num_classes: output channels.
        input_shape: (H, W, 3); with None sides the shape error comes at the first call, with
            fixed sides when the model is built.
        widths: channels of blocks 1-5 (the decoder uses those of blocks 5 and 3); the post's
            are ``POST_WIDTHS``, ``CPU_WIDTHS`` trains in a lesson.
        skip_fix: None (as published), "pool5" (add the missing pooling after block 5: the
            skips align, the output is at 1/8) or "prepool" (keep the post's decoder and take
            each skip before its pooling: output at 1/4).
        full_resolution: upsample the class scores bilinearly to the input's size (by 8 or 4).
        logits: end with raw scores (for softmax cross-entropy) instead of a sigmoid.
        bn_momentum: of the batch normalisation's moving averages; the post's
            ``BatchNormalization()`` has Keras' default 0.99, which lags behind a short
            training run (lesson 07 measures it); ``models.BN_MOMENTUM`` (0.9) settles.

    Returns:
        keras.Model from (N, H, W, 3) images to (N, h, w, num_classes).
    """
    import keras
    from keras import layers

    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    _validate.choice(skip_fix, "skip_fix", SKIP_FIXES)
    if not 0 <= float(bn_momentum) < 1:
        raise ValueError(f"bn_momentum must be in [0, 1), received {bn_momentum!r}.")
    widths = tuple(_validate.integer(w, f"widths[{i}]", minimum=1) for i, w in enumerate(widths))
    if len(widths) != len(POST_CONVS):
        raise ValueError(f"widths must give the channels of the post's {len(POST_CONVS)} blocks, received {widths}.")
    if full_resolution and skip_fix is None:
        raise ValueError("full_resolution needs aligned skips first: pass skip_fix='pool5' or 'prepool'.")
    inputs = keras.Input(input_shape, name="image")
    x, features = inputs, {}
    for block, (width, convs) in enumerate(zip(widths, POST_CONVS), start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(width, (3, 3), padding="same", name=f"block{block}_conv{i}")(x)
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{block}_bn{i}")(x)
            x = layers.Activation("relu", name=f"block{block}_relu{i}")(x)
        features[f"block{block}"] = x  # before pooling
        if block < 5 or skip_fix == "pool5":
            x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
        features[f"pool{block}"] = x
    skips = ("block4", "block3") if skip_fix == "prepool" else ("pool4", "pool3")
    x = features["pool5"]
    for level, (skip, width) in enumerate(zip(skips, (widths[4], widths[2])), start=4):
        x = layers.UpSampling2D(size=(2, 2), name=f"up{level}")(x)
        x = layers.Conv2DTranspose(width, (3, 3), activation="relu", padding="same", name=f"deconv{level}")(x)
        x = layers.Concatenate(axis=-1, name=f"merge{level}")([x, features[skip]])
        x = layers.Conv2D(width, (3, 3), activation="relu", padding="same", name=f"c{level}_1")(x)
        x = layers.Dropout(POST_DROPOUT, name=f"c{level}_drop1")(x)
        x = layers.Conv2D(width, (3, 3), activation="relu", padding="same", name=f"c{level}_2")(x)
    x = layers.Dropout(POST_DROPOUT, name="c3_drop2")(x)
    if not full_resolution:  # as the post: the sigmoid inside the 1×1 convolution
        x = layers.Conv2D(num_classes, (1, 1), activation=None if logits else "sigmoid", name="scores")(x)
        return keras.Model(inputs, x, name=name)
    x = layers.Conv2D(num_classes, (1, 1), name="scores")(x)  # upsample scores, then squash (if at all)
    stride = 8 if skip_fix == "pool5" else 4
    x = layers.UpSampling2D(stride, interpolation="bilinear", name=f"upscore{stride}")(x)
    if not logits:
        x = layers.Activation("sigmoid", name="sigmoid")(x)
    return keras.Model(inputs, x, name=name)


def output_stride(model, input_size: int = 64) -> float:
    """Input side / output side of ``model`` on a square ``input_size`` image (1 = full resolution)."""
    shape = model.compute_output_shape((1, input_size, input_size, 3))
    return input_size / shape[1]


# --- the post's loss, made fair -----------------------------------------------------------------

def mse_targets(masks, num_classes: int, ignore_label: int | None = VOID_LABEL):
    """One-hot targets and per-pixel weights for training with the post's mean squared error.

    Keras' ``mean_squared_error`` needs targets of the output's shape, (N, H, W, C); integer
    masks (N, H, W) make it fail. Void pixels get an all-zero target and weight 0, so that
    ``fit(images, targets, sample_weight=weights)`` ignores them as the course loss does
    (turning void into background instead teaches the network to paint object outlines as
    background).

    Args:
        masks: (N, H, W) class ids, ``ignore_label`` for void.

    Returns:
        targets (N, H, W, num_classes) float32 (one-hot; zeros at void) and weights
        (N, H, W) float32 (1 labelled, 0 void).
    """
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2)
    masks = _validate.label_map(masks, "masks", ndim=3, ignore_label=ignore_label, num_classes=num_classes)
    labelled = masks != ignore_label if ignore_label is not None else np.ones(masks.shape, bool)
    targets = np.zeros(masks.shape + (num_classes,), np.float32)
    index = np.nonzero(labelled)
    targets[index + (masks[labelled].astype(np.intp),)] = 1.0
    return targets, labelled.astype(np.float32)


# --- the post's undefined augmentation, as it calls it ---------------------------------------------

class PostAugmentation:
    """A stand-in for the post's undefined ``trainAugmentation()`` (imgaug-style ``augment_image``).

    The post calls ``trainAugmentation().augment_image(img)`` on the image alone; imgaug's
    augmenters have that method. This one flips horizontally with probability 1/2 and
    crops a random window of ``crop`` of each side, then resizes back (bilinear): geometry
    that moves pixels, applied to the image only, as in the post.
    """

    def __init__(self, crop: float = 0.8, seed: int = 0):
        if not 0 < float(crop) <= 1:
            raise ValueError(f"crop must be a share of the side in (0, 1], received {crop!r}.")
        self.crop = float(crop)
        self.rng = np.random.default_rng(_validate.integer(seed, "seed", minimum=0))

    def augment_image(self, image):
        """(H, W, 3) image -> the same size, flipped and cropped at random."""
        import cv2

        if image is None:
            raise ValueError("augment_image received None: cv2.imread returns None for a file it cannot read.")
        image = np.asarray(image)
        if image.ndim != 3:
            raise ValueError(f"augment_image takes one (H, W, 3) image, received shape {image.shape}.")
        height, width = image.shape[:2]
        if self.rng.random() < 0.5:
            image = image[:, ::-1]
        h, w = max(1, round(height * self.crop)), max(1, round(width * self.crop))
        top, left = int(self.rng.integers(0, height - h + 1)), int(self.rng.integers(0, width - w + 1))
        window = np.ascontiguousarray(image[top:top + h, left:left + w])
        return cv2.resize(window, (width, height), interpolation=cv2.INTER_LINEAR)


def distinct_share(draws: int, population: int, seed: int = 0) -> float:
    """Share of ``population`` items seen in ``draws`` draws with replacement (the post's sampling).

    ``np.random.randint`` picks each image independently, so an "epoch" of ``population``
    draws sees only about 1 - 1/e = 63% of the images, some twice or more.
    """
    draws = _validate.integer(draws, "draws", minimum=0)
    population = _validate.integer(population, "population", minimum=1)
    picks = np.random.default_rng(_validate.integer(seed, "seed", minimum=0)).integers(population, size=draws)
    return len(np.unique(picks)) / population


# --- every error of the post's section 4 --------------------------------------------------------------

class Bug(NamedTuple):
    section: str  # of the post
    bug: str
    symptom: str
    fix: str
    lesson: str  # the lesson that explains it


BUGS = (
    Bug("4.1", "names used but never defined: `os`, `np`, `cv2` (no imports), `trainAugmentation`, "
        "`preprocess_input`, and `image_dir` inside `load_data` (the constructor never stores it)",
        "NameError at the first call", "import and define them; store the folder in `self`", "07"),
    Bug("4.1", "prose: data split into subsets, one per GPU", "the loader does nothing of the kind",
        "multi-device training keeps one model per device and shares out each batch", "06"),
    Bug("4.1", "random sampling with replacement (`np.random.randint`), unseeded",
        "an epoch of N draws sees about 63% of the images; runs are not repeatable",
        "shuffle a permutation per epoch from a seed", "06"),
    Bug("4.1", "no labels are read: the loader returns `(images, number of files)`",
        "`fit` raises ValueError: Unrecognized data type", "return (images, masks) batches", "06"),
    Bug("4.1", "image-only augmentation (`aug.augment_image(img)`), also at test time (`subset` defaults to "
        "'train')", "masks no longer match the images; test predictions are random", "augment image and mask "
        "together, training only", "06"),
    Bug("4.1", "images of different sizes stacked with `np.concatenate`", "ValueError when batchsize > 1 on "
        "real photographs", "resize or crop to one size, or batches of one", "06"),
    Bug("4.2", "names used but never defined: `UpSampling2D`, `Conv2DTranspose`, `concatenate`, `num_classes`; "
        "`Add`, `f1`, `f2` unused", "NameError when the model is built", "import / define them", "07"),
    Bug("4.2", "block 5 is never pooled: pool5 is at 1/16, upsampled ×2 at 1/8, concatenated with pool4 at 1/16 "
        "(and one level down with pool3)", "shape error: at build time with a fixed input size, at the first "
        "call with (None, None, 3)", "add the missing pool5 (or take the skips before pooling)", "05"),
    Bug("4.2", "the output stays at 1/8 (or 1/4) of the input's resolution", "labels of the input's size do not "
        "fit: a shape error in the loss", "upsample the scores to the input's size", "03, 04"),
    Bug("4.2", "concatenation and a U-Net decoder, no convolutionalized classifier, no pretrained weights: "
        "not the paper's FCN", "a 27M-weight model trained from scratch", "score the skips and sum them "
        "(FCN-16s/8s)", "04, 05"),
    Bug("4.3", "sigmoid + mean squared error + 'accuracy' for mutually exclusive classes (and the claim that "
        "MSE is the usual loss for FCN)", "MSE of integer masks fails; with one-hot targets it trains to a "
        "lower mean IU; 'accuracy' counts void", "softmax cross-entropy over classes, void ignored; mean IU",
        "04"),
    Bug("4.4", "`fit(train_loader.load_data(), ...)`: one call, one batch (of 1 image), and a tuple Keras cannot "
        "read; the same for `validation_data`; `steps_per_epoch` etc. left undefined", "ValueError: Unrecognized "
        "data type", "pass a dataset or a generator of (images, masks)", "06"),
    Bug("4.5", "`.h5` with `custom_objects={'tf': tf}` (a Keras 2 idiom for Lambda layers; this model has "
        "none); `plot_model` imported, unused; saving credited to FCN (it is Keras')", "Keras 3 warns that HDF5 "
        "is legacy; saved as `.h5` then `.keras`, the model reloads with another optimizer", "save as `.keras`",
        "06, 07"),
    Bug("4.6", "`predict(test_loader.load_data())`: the tuple again; one random, augmented test image; no ids "
        "to match predictions to labels", "ValueError: Unrecognized data type", "predict image batches in a "
        "fixed order, keep the ids", "07"),
    Bug("4.7", "precision, recall and F1 where the paper's four metrics belong", "pooled over pixels they all "
        "equal the pixel accuracy", "pixel accuracy, mean accuracy, mean IU, f.w. IU from one confusion "
        "matrix", "00, 07"),
)


def bug_table() -> str:
    """``BUGS`` as a Markdown table."""
    rows = ["| post | bug | symptom | fix | lesson |", "|---|---|---|---|---|"]
    rows += [f"| {b.section} | {b.bug} | {b.symptom} | {b.fix} | {b.lesson} |" for b in BUGS]
    return "\n".join(rows)
