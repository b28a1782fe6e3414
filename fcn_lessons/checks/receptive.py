"""Checks for the receptive exercises (to be written with their lesson)."""

__all__: list[str] = []
