"""Checks for the metrics exercises (to be written with their lesson)."""

__all__: list[str] = []
