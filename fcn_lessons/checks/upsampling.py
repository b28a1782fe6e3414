"""Checks for the upsampling exercises (to be written with their lesson)."""

__all__: list[str] = []
