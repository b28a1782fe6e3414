"""environment.peak_memory_mib: the kernel's peak resident memory, which lessons report."""

import sys

import numpy as np
import pytest

from fcn_lessons import environment


def test_peak_memory_is_in_mib_and_never_shrinks():
    before = environment.peak_memory_mib()
    assert before is not None and before > 1  # a Python process holds more than a MiB
    block = np.ones(32 * 2**20, np.uint8)  # 32 MiB, written so it is resident
    assert block.sum() == block.size
    assert environment.peak_memory_mib() >= before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_vmhwm_agrees_with_getrusage():
    import resource

    from_status = environment.peak_memory_mib()
    from_rusage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    assert abs(from_status - from_rusage) < 16, (from_status, from_rusage)
