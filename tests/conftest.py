"""Fixtures shared by the test modules."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory) -> Path:
    """One demo scene archive for the whole test session (generated on first use)."""
    return tmp_path_factory.mktemp("demo_archive")
