"""Exercise checks: ``checks.<name>(your_function)``.

Each check runs your function on several random cases against the course's reference
implementation. On success it prints one line; on failure it raises ``AssertionError``
with the case, what was expected, what came back, and a hint. The stub's
``NotImplementedError`` is passed through unchanged.

One module per concept the exercises are on (``conv1x1``, ``metrics``, ``receptive``, ``upsampling``, ``models``, ``pyramid``, ``pipeline``, ``evaluate``);
each lists its checks in ``__all__``.
"""

from fcn_lessons.checks._core import CaseFailure
from fcn_lessons.checks.conv1x1 import *  # noqa: F403
from fcn_lessons.checks.evaluate import *  # noqa: F403
from fcn_lessons.checks.metrics import *  # noqa: F403
from fcn_lessons.checks.receptive import *  # noqa: F403
from fcn_lessons.checks.upsampling import *  # noqa: F403
from fcn_lessons.checks.pyramid import *  # noqa: F403
from fcn_lessons.checks.pipeline import *  # noqa: F403
from fcn_lessons.checks.models import *  # noqa: F403
