"""Exercise checks: ``checks.<name>(your_function)``.

Each check runs your function on several random cases against the course's reference
implementation. On success it prints one line; on failure it raises ``AssertionError``
with the case, what was expected, what came back, and a hint.

Lesson 01: ``check_dense_kernel_to_conv1x1`` (1.1), ``check_flatten_dense_to_conv`` (1.2),
``check_convolutionalize_classifier`` (1.3).
"""

from fcn_lessons.checks._core import CaseFailure
from fcn_lessons.checks.conv1x1 import (
    check_convolutionalize_classifier,
    check_dense_kernel_to_conv1x1,
    check_flatten_dense_to_conv,
)

__all__ = [
    "CaseFailure",
    "check_convolutionalize_classifier",
    "check_dense_kernel_to_conv1x1",
    "check_flatten_dense_to_conv",
]
