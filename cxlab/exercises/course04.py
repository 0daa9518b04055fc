"""Exercises for notebook 04 CX and retention (being written)."""

from __future__ import annotations

from .core import *  # noqa: F403

ex04 = ExerciseSet("04_cx_and_retention")
