"""Shared fixtures of the model tests."""

import pytest


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every test here runs torch on one thread (``one_thread`` in tests/conftest.py)."""
    yield
