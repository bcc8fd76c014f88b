"""ONNX export: named uint8 input, named outputs, metadata_props, all-or-nothing."""
import os

import numpy as np
import onnx
import pytest

import zoo.export
from export_contract import tiny_detector
from zoo.export import signatures


def test_onnx_names_opset_metadata(tmp_path):
    model = tiny_detector()
    result = zoo.export.export_onnx(model, tmp_path / "m.onnx")
    proto = onnx.load(result.path)
    assert [i.name for i in proto.graph.input] == ["images"]
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert sorted(o.name for o in proto.graph.output) == ["landmarks", "scores"]
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) == 18
    assert zoo.export.read_metadata(result.path)["format"] == "onnx"
    images = np.random.default_rng(5).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    got = zoo.export.run_onnx(result.path, {"images": images}, num_threads=1)
    reference = signatures.keras_reference(model, signatures.describe(model), {"images": images})
    np.testing.assert_allclose(got["scores"], reference["scores"], atol=1e-4, rtol=0)


def test_onnx_failed_parity_writes_nothing(tmp_path, monkeypatch):
    model = tiny_detector()
    real = signatures.keras_reference
    monkeypatch.setattr(signatures, "keras_reference",
                        lambda *a: {k: v * 2.0 + 1.0 for k, v in real(*a).items()})
    with pytest.raises(zoo.export.ParityError, match="ONNX at batch 1"):
        zoo.export.export_onnx(model, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []
