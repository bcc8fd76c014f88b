"""The export contract on stand-in models with the detector's and the step model's structure."""
import numpy as np

from export_contract import run_export_test, tiny_detector, tiny_step_model


def test_detector_contract_all_formats():
    rng = np.random.default_rng(1)
    batches = [{"images": rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)} for n in (1, 3)]
    results = run_export_test(tiny_detector(), batches)
    assert sorted(results) == ["onnx", "saved_model", "tflite"]
    # The export's own report covers both batch sizes and both SavedModel signatures.
    assert sorted(results["saved_model"].parity) == [
        "batch1/heatmaps", "batch1/serving_default", "batch3/heatmaps", "batch3/serving_default"]
    assert sorted(results["tflite"].parity) == ["batch1", "batch3"]


def test_step_model_contract_all_formats():
    rng = np.random.default_rng(2)
    batches = [{"frame": rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                "state_x": rng.normal(size=(n, 5, 16)).astype("float32"),
                "state_y": rng.normal(size=(n, 5, 16)).astype("float32")} for n in (1, 2)]
    results = run_export_test(tiny_step_model(), batches)
    # The new state is an output of the serving signature in every format.
    for result in results.values():
        assert {"new_state_x", "new_state_y", "landmarks"} <= set(
            result.metadata["signatures"]["serving_default"])
