"""Shared test set-up: quick mode, and TensorFlow imported quietly once."""

import os

os.environ.setdefault("FCN_LESSONS_QUICK", "1")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _course_environment():
    import fcn_lessons

    fcn_lessons.setup(seed=0, verbose=False)
