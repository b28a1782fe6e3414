"""Lesson 00's benchmark: how fast the course data set is drawn."""

from __future__ import annotations

import os
from contextlib import contextmanager


@contextmanager
def _one_core():
    """Pin this process to one CPU and OpenCV to one thread; restore both afterwards."""
    import cv2

    threads = cv2.getNumThreads()
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cv2.setNumThreads(1)
    if cpus:
        os.sched_setaffinity(0, {min(cpus)})
    try:
        yield
    finally:
        cv2.setNumThreads(threads)
        if cpus:
            os.sched_setaffinity(0, cpus)


def make_shapes_speed(*, image_size: int = 64, num_images: int = 2000, repeats: int = 5) -> dict:
    """Lesson 00: images per second of ``data.make_shapes`` on one CPU core (target >= 1,000 at 64×64)."""
    from fcn_lessons import data
    from fcn_lessons.timing import median_seconds

    with _one_core():
        seconds = median_seconds(lambda: data.make_shapes(num_images, image_size, seed=0), repeats=repeats)
    rate = num_images / seconds
    result = {"image_size": image_size, "num_images": num_images, "seconds": seconds, "images_per_s": rate}
    print(f"make-shapes: {num_images} images of {image_size}×{image_size} on one core (process pinned to one CPU, "
          f"OpenCV with 1 thread), median of {repeats}")
    print("| image size | images | median s | images/s | target |")
    print(f"| {image_size}×{image_size} | {num_images} | {seconds:.3f} | {rate:,.0f} | >= 1,000 at 64×64 |")
    return result
