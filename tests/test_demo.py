"""zoo.demo stages: the tracking video and the export summary (the full demo is `make demo`)."""
import types

import cv2
import numpy as np

import zoo.demo
from zoo.models.aheat1d import build_aheat1d


def _tiny_detector():
    return build_aheat1d(num_landmarks=68, input_size=64, num_stacks=1, width=16,
                         hourglass_depth=2, heatmap_length=128, head_channels=8,
                         compress_steps=1)


def test_tracking_stage_writes_mp4(tmp_path):
    path, errors = zoo.demo.tracking_stage(_tiny_detector(), str(tmp_path), num_frames=5)
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 5 and frames[0].shape == (128, 128, 3)
    assert errors.shape == (5,) and np.all(np.isfinite(errors)) and np.all(errors > 0)
    # Landmarks are drawn: red (ground truth) pixels appear in the BGR frame.
    red = (frames[0][..., 2] > 200) & (frames[0][..., 1] < 80) & (frames[0][..., 0] < 80)
    assert red.sum() > 20


def test_export_stage_reports_failures(tmp_path, monkeypatch):
    import zoo.export

    calls = []

    def ok(model, *args, **kwargs):
        calls.append(model.name)
        return types.SimpleNamespace(path=str(tmp_path / "written"))

    def broken(model, *args, **kwargs):
        raise RuntimeError("parity check failed by 0.5")

    monkeypatch.setattr(zoo.export, "export_saved_model", ok)
    monkeypatch.setattr(zoo.export, "export_tflite", ok)
    monkeypatch.setattr(zoo.export, "export_onnx", broken)
    import zoo.codecs

    results = zoo.demo.export_stage(_tiny_detector(), str(tmp_path), "tiny",
                                    codec=zoo.codecs.Heatmap1DCodec(64, 128))
    assert results["saved_model"].startswith(str(tmp_path / "written"))
    assert results["tflite"].startswith(str(tmp_path / "written"))
    assert results["onnx"].startswith("FAILED: RuntimeError: parity check failed")
    # The exported model is the inference model (landmarks decoded), not the training model.
    assert all(name.endswith("_inference") for name in calls)
