"""Shared pytest settings.

The real sample files live outside the repository (they are for tests only and are never
shipped). One setting finds them: the environment variable ``ZOO_FIXTURES_DIR``, default
``<repo>/../shared/fixtures``. Under CI (``CI`` set) a missing folder fails the run instead of
skipping the tests that need it.
"""
import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES_DIR = pathlib.Path(
    os.environ.get("ZOO_FIXTURES_DIR", REPO_ROOT.parent / "shared" / "fixtures")
)


@pytest.fixture(scope="session")
def fixtures_dir():
    """Path to the real sample files (see shared/fixtures/SOURCES.md)."""
    if not FIXTURES_DIR.is_dir():
        message = (
            f"fixture folder {FIXTURES_DIR} is missing; set ZOO_FIXTURES_DIR to the folder "
            "that holds shared/fixtures"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return FIXTURES_DIR


@pytest.fixture(autouse=True, scope="module")
def _clear_keras_session():
    # Once per test module: clear_session() runs gc.collect(), about a second under load.
    yield
    import sys

    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
