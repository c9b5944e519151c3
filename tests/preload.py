"""Imported by the tests' forkserver before it forks its first process (tests/launcher.py)."""

from tests.launcher import preload

preload()
