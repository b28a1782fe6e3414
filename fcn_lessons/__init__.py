"""fcn_lessons: the helper package of the course "Fully Convolutional Networks, bit by bit".

Importing the package has no side effects: it neither imports TensorFlow nor seeds
anything. Every notebook calls :func:`setup` once, in its first code cell. Submodules are
imported on first use, so ``fcn_lessons.data`` works after a plain ``import fcn_lessons``.

The map. Concepts live in flat modules, one home each; a lesson imports them by name:

=========================  ==============================================================
lesson                     concept modules
=========================  ==============================================================
00 setup and task          ``environment`` (:func:`setup`, :func:`quick_mode`,
                           :func:`by_mode`), ``data`` (the shapes data set), ``labels``
                           (void label, palette, borders), ``voc`` (VOC folders),
                           ``metrics`` (the paper's four), ``viz``, ``task``
01 conv 1×1 is dense       ``conv1x1`` (dense layers as convolutions), ``models``
02 receptive fields        ``receptive`` (recurrence, Keras models, gradients, drawings),
                           ``field_experiments``; ``labels`` (distance to a boundary) and
                           ``metrics`` (scores over a region)
03 upsampling              ``upsampling`` (numpy references), ``upsampling_demos``,
                           ``photo`` (a real photograph, offline)
04 FCN-32s                 ``models``, ``losses``, ``training``
05 skip pyramid            ``pyramid``, ``models``, ``training``, ``metrics`` (trimap scores)
06 training on GPU         ``pipeline`` (tf.data), ``augment``, ``distribute``, ``training``,
                           ``pets`` (Oxford-IIIT Pet), ``train`` (the command line)
07 evaluate and debug      ``evaluate`` (a model over a data set, into a report), ``metrics``,
                           ``viz``; ``blog_post`` (the blog post's system, broken and fixed)
=========================  ==============================================================

Role subpackages: ``checks`` (the exercise checks) and ``widgets`` (the interactive
explorers) mirror the concept names (``checks.receptive`` checks the exercises on
``receptive``); ``bench`` (``python -m fcn_lessons.bench NAME``: the measurements behind
docs/RESULTS.md, a module per thing measured); ``grade`` (``python -m fcn_lessons.grade``:
the instructor's grader).

The course's own tooling: ``exercises`` / ``notebooks`` (generating exercises, executing
and checking notebooks), ``timing``, and ``_validate`` (one rule for each kind of argument:
images, label maps, models).
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
