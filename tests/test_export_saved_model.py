"""SavedModel export: TF Serving layout, named signatures, saved_model_cli, all-or-nothing."""
import os
import subprocess
import sys

import numpy as np
import pytest

import zoo.export
from export_contract import tiny_detector
from zoo.export import signatures

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


@pytest.fixture(scope="module")
def model():
    return tiny_detector()


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    base = tmp_path_factory.mktemp("exports")
    return zoo.export.export_saved_model(model, str(base), "tiny", version=3)


def test_versioned_layout(exported):
    base, name, version = exported.path.rsplit(os.sep, 2)
    assert (name, version) == ("tiny", "3")
    assert os.path.isfile(os.path.join(exported.path, "saved_model.pb"))
    assert os.path.isdir(os.path.join(exported.path, "variables"))
    # Nothing but the version folder: no staging leftovers TF Serving could trip over.
    assert os.listdir(os.path.join(base, name)) == ["3"]


def test_metadata_travels(exported):
    metadata = zoo.export.read_metadata(exported.path)
    assert metadata["input_size"] == 32
    assert metadata["num_landmarks"] == 5
    assert metadata["input_dtype"] == "uint8"
    assert metadata["signatures"] == {"serving_default": ["landmarks", "scores"],
                                      "heatmaps": ["x", "y"]}


def test_saved_model_cli_show_and_run(model, exported, tmp_path):
    shown = subprocess.run([SAVED_MODEL_CLI, "show", "--dir", exported.path, "--all"],
                           capture_output=True, text=True, check=True).stdout
    default = shown.split("signature_def['serving_default']")[1].split("signature_def[")[0]
    assert "inputs['images']" in default and "dtype: DT_UINT8" in default
    assert "outputs['landmarks']" in default and "outputs['scores']" in default
    assert "signature_def['heatmaps']" in shown
    images = np.random.default_rng(3).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    subprocess.run([SAVED_MODEL_CLI, "run", "--dir", exported.path, "--tag_set", "serve",
                    "--signature_def", "serving_default",
                    "--inputs", f"images={tmp_path / 'images.npy'}",
                    "--outdir", str(tmp_path / "out")], capture_output=True, check=True)
    reference = signatures.keras_reference(model, signatures.describe(model), {"images": images})
    np.testing.assert_allclose(np.load(tmp_path / "out" / "landmarks.npy"),
                               reference["landmarks"], atol=1e-2, rtol=0)


def test_heatmaps_signature(model, exported):
    images = np.random.default_rng(4).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    got = zoo.export.run_saved_model(exported.path, {"images": images}, "heatmaps")
    reference = signatures.keras_reference(model, signatures.describe(model), {"images": images})
    assert got["x"].shape == (2, 5, 16)
    np.testing.assert_allclose(got["x"], reference["x"], atol=1e-4, rtol=0)


def test_existing_version_is_refused_before_any_work(model, exported, monkeypatch):
    base = os.path.dirname(os.path.dirname(exported.path))
    # Any attempt to build the archive would fail the test: the refusal must come first.
    monkeypatch.setattr(zoo.export.saved_model, "write_archive",
                        lambda *a, **k: pytest.fail("export started before the check"))
    with pytest.raises(FileExistsError, match="existing export"):
        zoo.export.export_saved_model(model, base, "tiny", version=3)


def test_failed_parity_writes_nothing(model, tmp_path, monkeypatch):
    real = signatures.keras_reference

    def shifted(*args):
        return {k: v + 1.0 for k, v in real(*args).items()}

    monkeypatch.setattr(signatures, "keras_reference", shifted)
    with pytest.raises(zoo.export.ParityError, match="does not match Keras"):
        zoo.export.export_saved_model(model, str(tmp_path), "tiny", version=1)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("version", [0, -1, 1.5, "1"])
def test_bad_version(model, tmp_path, version):
    with pytest.raises(ValueError, match="Received: version="):
        zoo.export.export_saved_model(model, str(tmp_path), "tiny", version=version)
