"""pytest settings shared by the tests (``tests/``) and the docstring examples (``zoo/``).

``pytest.ini`` collects the examples with ``--doctest-modules``; every example starts with
``zoo`` and ``np`` (numpy) imported, runs in a fresh temporary folder (examples that write
``exports/`` or ``runs/`` leave nothing behind) and with Keras' random seed fixed.
"""
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _is_doctest(request):
    from _pytest.doctest import DoctestItem

    return isinstance(request.node, DoctestItem)


@pytest.fixture(autouse=True)
def _doctest_environment(request):
    if not _is_doctest(request):
        yield
        return
    import keras
    import numpy as np

    import zoo

    namespace = request.getfixturevalue("doctest_namespace")
    namespace.update(zoo=zoo, np=np)
    request.getfixturevalue("monkeypatch").chdir(request.getfixturevalue("tmp_path"))
    keras.utils.set_random_seed(0)
    yield
