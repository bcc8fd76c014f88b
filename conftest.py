"""pytest settings shared by the tests (``tests/``) and the docstring examples (``zoo/``).

``pytest.ini`` collects the examples with ``--doctest-modules``; every example starts with
``zoo`` and ``np`` (numpy) imported, runs in a fresh temporary folder (examples that write
``exports/`` or ``runs/`` leave nothing behind) and with Keras' random seed fixed.

Examples that read real files get ``fixtures_dir``, a ``pathlib.Path`` to the sample files of
``shared/fixtures`` (``ZOO_FIXTURES_DIR``, default ``<repo>/../shared/fixtures``, as in
``tests/conftest.py``). Where that folder is missing, those examples are skipped (under CI,
``CI`` set, they fail instead).
"""
import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

FIXTURES_DIR = pathlib.Path(os.environ.get(
    "ZOO_FIXTURES_DIR", pathlib.Path(__file__).resolve().parent.parent / "shared" / "fixtures"))


def _is_doctest(request):
    from _pytest.doctest import DoctestItem

    return isinstance(request.node, DoctestItem)


def _uses_fixtures(item):
    return any("fixtures_dir" in example.source for example in item.dtest.examples)


@pytest.fixture(autouse=True)
def _doctest_environment(request):
    if not _is_doctest(request):
        yield
        return
    if _uses_fixtures(request.node) and not FIXTURES_DIR.is_dir():
        message = (f"fixture folder {FIXTURES_DIR} is missing; set ZOO_FIXTURES_DIR to the "
                   "folder that holds shared/fixtures")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    import keras
    import numpy as np

    import zoo

    namespace = request.getfixturevalue("doctest_namespace")
    namespace.update(zoo=zoo, np=np, fixtures_dir=FIXTURES_DIR)
    request.getfixturevalue("monkeypatch").chdir(request.getfixturevalue("tmp_path"))
    keras.utils.set_random_seed(0)
    yield
