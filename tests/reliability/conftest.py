"""Reliability tests (issue #11): hostile input, the permission matrix, secrets kept out of logs.

Tests marked `slow` (a subprocess, a real login against a fake) still run by default: the marker
only lets someone in a hurry deselect them with `-m "not slow"`.
"""

from __future__ import annotations


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "slow: a reliability test taking a second or more (still run by default)")
