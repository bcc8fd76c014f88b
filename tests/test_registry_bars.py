"""Issue 12's bar: no architecture or output name is compared outside the registry.

The training code (``zoo/training``), the evaluation, the exports and the landmarker look a
model's task kind, codec, losses and tracker up in ``zoo.models.presets``; this test reads their
source and fails on any string literal (outside docstrings) that equals a registered
architecture name or a codec's output name, or names a model family ("tracker"), so a new
branch on a name cannot creep back in.
"""
import ast
import pathlib

import pytest

import zoo.codecs
from zoo.models import presets

ZOO = pathlib.Path(zoo.codecs.__file__).resolve().parent.parent
CHECKED = sorted(
    [*ZOO.glob("training/*.py"), ZOO / "evaluation.py", *ZOO.glob("export/*.py"),
     *[ZOO / name for name in ("inference.py", "landmarker.py", "loading.py", "trackers.py")
       if (ZOO / name).exists()]])


def _names():
    names = set(presets.list_architectures()) | set(zoo.codecs.heatmap_output_names())
    return names | {"tracker"}


def _docstrings(tree):
    nodes = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                nodes.add(id(body[0].value))
    return nodes


def name_literals(source, names):
    """``(line, literal)`` of every string constant in ``names`` outside docstrings.

    Strings inside f-strings (messages) are skipped: naming a thing in an error message is not
    comparing it.
    """
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(value) for value in ast.walk(node))
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in skip and node.value in names)


def test_the_checker_finds_name_comparisons():
    source = ('"""Doc names x and aheat1d."""\n'
              'def f(model, name):\n'
              '    """x"""\n'
              '    if "x" in model.output:\n'
              '        return model.output["heatmap"]\n'
              '    raise ValueError(f"no {name!r} like \'aheat1d\'")\n'
              'KINDS = ("aheat1d", "fan2d_tracker")\n')
    assert name_literals(source, _names()) == [(4, "x"), (5, "heatmap"), (7, "aheat1d"),
                                               (7, "fan2d_tracker")]


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(ZOO)))
def test_no_architecture_or_output_name_outside_the_registry(path):
    found = name_literals(path.read_text(encoding="utf-8"), _names())
    assert not found, (f"{path.relative_to(ZOO)} compares names the registry knows "
                       f"(look them up in zoo.models.presets): {found}")
