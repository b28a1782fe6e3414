"""fcn_lessons: the helper package of the course "Fully Convolutional Networks, bit by bit".

Importing the package has no side effects: it neither imports TensorFlow nor seeds
anything. Every notebook calls :func:`setup` once, in its first code cell.

Submodules are imported on first use, so ``fcn_lessons.data`` works after a plain
``import fcn_lessons``:

- ``environment``: :func:`setup`, :func:`quick_mode`, :func:`by_mode`
- ``labels``: ``VOID_LABEL`` (255), the one definition of the void class id
- ``data``: the embedded shapes data set (and ``voc``: PASCAL VOC folders)
- ``metrics``: the paper's four metrics, a streaming accumulator, a Keras mean IU
- ``conv1x1``: dense layers as convolutions, convolutionalizing a classifier
- ``receptive``: receptive fields, computed and measured
- ``upsampling``: numpy references of every upsampling layer
- ``checks``: the exercise checks
- ``exercises`` / ``notebooks``: the course's own tooling (generating exercises,
  executing and checking notebooks)
- ``models``, ``viz``, ``timing``, ``widgets``: models the lessons train, pictures,
  timing, interactive explorers
- ``bench``: ``python -m fcn_lessons.bench ...``
"""

import importlib
import importlib.util

from fcn_lessons.environment import QUICK_ENV_VAR, by_mode, quick_mode, setup

__version__ = "0.1.0"

__all__ = ["QUICK_ENV_VAR", "by_mode", "quick_mode", "setup", "__version__"]



def __getattr__(name):
    if not name.startswith("_") and importlib.util.find_spec(f"fcn_lessons.{name}") is not None:
        return importlib.import_module(f"fcn_lessons.{name}")
    raise AttributeError(f"module 'fcn_lessons' has no attribute {name!r}")
