"""Shipped weights (zoo.weights, zoo.tools.ship_weights): a run's checkpoint becomes a
preset's package-local file, loaded offline and refused when its sha256 does not match."""
import ast
import copy
import dataclasses
import fnmatch
import os
import pathlib
import warnings

import numpy as np
import pytest

import zoo
import zoo.weights
from zoo.models import presets
from zoo.tools import ship_weights as ship

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DETECTOR = "h4_test_tiny_detector"
TRACKER = "h4_test_tiny_tracker"
TINY_CONFIG = {"num_landmarks": 68, "num_stacks": 1, "width": 16, "hourglass_depth": 2,
               "heatmap_length": 64, "gamma": 0.4, "head_channels": 8, "compress_steps": 1,
               "separable": False}


def _tiny_preset(name=DETECTOR, **config):
    return presets.Preset(
        name=name, architecture="aheat1d", config={**TINY_CONFIG, **config}, input_size=32,
        normalization=dict(presets.IMAGENET_NORMALIZATION), scheme="300w",
        codec={"class_name": "Heatmap1DCodec", "config": {"input_size": 32, "heatmap_size": 64}})


def _tiny_tracker_preset(name=TRACKER):
    detector = _tiny_preset()
    return dataclasses.replace(
        detector, name=name, architecture="aheat1d_tracker",
        config={**copy.deepcopy(detector.config), "decay": 0.3, "refinement_filters": 8,
                "refinement_downsample": 4})


@pytest.fixture
def registry(monkeypatch):
    """Registers presets for one test only (the registry is restored afterwards)."""
    presets.list_models()  # load the built-in registry before patching it

    def register(preset):
        monkeypatch.setitem(presets._PRESETS, preset.name, preset)
        return preset

    return register


def _write_run(run_dir, seed=0):
    """A training run folder as zoo.training writes it: config.json + a TF checkpoint."""
    import tensorflow as tf

    from zoo.training import loop
    from zoo.training.config import TrainConfig, save_config
    from zoo.training.tasks import resolve_model

    config = TrainConfig(model=DETECTOR, output_dir=str(run_dir))
    save_config(config, str(run_dir))
    _, _, overrides = resolve_model(config)
    model = zoo.create(DETECTOR, **overrides)
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    checkpoint = tf.train.Checkpoint(model=loop.model_variables(model),
                                     step=tf.Variable(7, dtype=tf.int64))
    tf.train.CheckpointManager(checkpoint, str(run_dir / loop.CHECKPOINT_SUBDIR),
                               max_to_keep=2).save()
    return model


def _predict(model, crops):
    from zoo.models.inference import make_inference_model

    return np.asarray(make_inference_model(model)(crops.astype("float32"))["landmarks"])


@pytest.fixture
def shipped(registry, tmp_path):
    """A tiny detector run shipped as a weights file, and a preset that names it."""
    registry(_tiny_preset())
    run_model = _write_run(tmp_path / "run")
    out = tmp_path / "weights" / "tiny.weights.h5"
    result = ship.ship_weights(tmp_path / "run", DETECTOR, out)
    crops = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    return result, run_model, crops


def _offline(monkeypatch):
    import keras

    def no_network(*args, **kwargs):
        raise AssertionError("shipped weights must load without a download")

    monkeypatch.setattr(keras.utils, "get_file", no_network)


def test_ship_weights_writes_the_run_checkpoint_and_its_sha256(shipped, capsys):
    result, run_model, _ = shipped
    assert os.path.isfile(result.path) and result.step == 7
    assert result.sha256 == zoo.weights.sha256_of(result.path)
    assert result.num_bytes == os.path.getsize(result.path) <= zoo.weights.MAX_SHIPPED_BYTES
    assert f'weights_sha256="{result.sha256}"' in result.preset_lines()
    # Nothing else (no partial file) is left next to it.
    assert os.listdir(os.path.dirname(result.path)) == ["tiny.weights.h5"]
    fresh = zoo.create(DETECTOR)
    zoo.weights.load_weights(fresh, result.path, result.sha256)
    for expected, actual in zip(run_model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(actual, expected)


def test_shipped_preset_loads_offline_without_warning(shipped, registry, monkeypatch):
    result, run_model, crops = shipped
    # A file name in weights_url is a file of the package's zoo/weights/ folder.
    monkeypatch.setattr(zoo.weights, "WEIGHTS_DIR", os.path.dirname(result.path))
    registry(dataclasses.replace(_tiny_preset(), weights_url="tiny.weights.h5",
                                 weights_sha256=result.sha256))
    _offline(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "no trained weights" would fail here
        model = zoo.load(DETECTOR)
        landmarker = zoo.FaceLandmarker(DETECTOR)
    assert model.source == "preset" and model.weights == result.path
    expected = _predict(run_model, crops)
    np.testing.assert_allclose(model.predict(crops)["landmarks"], expected, atol=1e-3)
    np.testing.assert_allclose(landmarker.model.predict(crops)["landmarks"], expected, atol=1e-3)


def test_corrupted_or_missing_shipped_file_is_refused(shipped, registry, tmp_path):
    result, _, _ = shipped
    data = bytearray(pathlib.Path(result.path).read_bytes())
    corrupted = tmp_path / "corrupted.weights.h5"
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    corrupted.write_bytes(bytes(data))
    truncated = tmp_path / "truncated.weights.h5"
    truncated.write_bytes(bytes(data[: len(data) // 3]))
    for path in (corrupted, truncated):
        registry(dataclasses.replace(_tiny_preset(), weights_url=str(path),
                                     weights_sha256=result.sha256))
        with pytest.raises(ValueError, match="does not match its sha256") as error:
            zoo.load(DETECTOR)
        assert result.sha256 in str(error.value)
        assert zoo.weights.sha256_of(path) in str(error.value)
        # The same check guards local files passed by hand.
        with pytest.raises(ValueError, match="does not match its sha256"):
            zoo.load(DETECTOR, weights=str(path), weights_sha256=result.sha256)
    registry(dataclasses.replace(_tiny_preset(), weights_url=str(tmp_path / "gone.weights.h5"),
                                 weights_sha256=result.sha256))
    with pytest.raises(ValueError, match="missing from this install"):
        zoo.load(DETECTOR)
    registry(dataclasses.replace(_tiny_preset(), weights_url=result.path, weights_sha256=None))
    with pytest.raises(ValueError, match="weights_sha256=None"):
        zoo.load(DETECTOR)


def test_corrupt_weights_without_sha256_say_corrupt(shipped, tmp_path, registry):
    result, _, _ = shipped
    registry(_tiny_preset())
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(b"\x00not an hdf5 file" * 10)
    with pytest.raises(ValueError, match="corrupt or truncated"):
        zoo.load(DETECTOR, weights=str(garbage))
    registry(_tiny_preset(width=32))  # another architecture than the file's
    with pytest.raises(ValueError, match="does not fit this model's architecture"):
        zoo.load(DETECTOR, weights=result.path)


def test_ship_weights_refuses_another_architecture(registry, tmp_path):
    registry(_tiny_preset())
    _write_run(tmp_path / "run")
    registry(_tiny_preset(name="h4_test_wider", width=32, head_channels=16))
    out = tmp_path / "wider.weights.h5"
    with pytest.raises(ValueError, match="head_channels=8 \\(preset: 16\\), width=16 "
                                         "\\(preset: 32\\)"):
        ship.ship_weights(tmp_path / "run", "h4_test_wider", out)
    assert not out.exists()
    with pytest.raises(ValueError, match="run_dir="):
        ship.ship_weights(tmp_path, DETECTOR, out)  # not a run folder
    with pytest.raises(ValueError, match="out="):
        ship.ship_weights(tmp_path / "run", DETECTOR, tmp_path / "w.h5")
    with pytest.raises(ValueError, match="bytes"):
        ship.ship_weights(tmp_path / "run", DETECTOR, out, max_bytes=1000)
    assert not out.exists() and not list(tmp_path.glob("*partial*"))


def test_ship_weights_cli_prints_sha256(registry, tmp_path, capsys):
    registry(_tiny_preset())
    _write_run(tmp_path / "run")
    out = tmp_path / "cli.weights.h5"
    code = ship.main([f"--run_dir={tmp_path / 'run'}", f"--preset={DETECTOR}", f"--out={out}"])
    printed = capsys.readouterr().out
    assert code == 0 and f"sha256 {zoo.weights.sha256_of(out)}" in printed
    assert "step 7" in printed
    assert ship.main([f"--run_dir={tmp_path}", f"--preset={DETECTOR}", f"--out={out}"]) == 2


@pytest.mark.slow
def test_detector_run_ships_a_tracker_preset_that_tracks_as_it_detects(registry, tmp_path,
                                                                       monkeypatch):
    import zoo.inference

    registry(_tiny_preset())
    tracker_preset = registry(_tiny_tracker_preset())
    run_model = _write_run(tmp_path / "run")
    result = ship.ship_weights(tmp_path / "run", TRACKER, tmp_path / "tracker.weights.h5")
    registry(dataclasses.replace(tracker_preset, weights_url=result.path,
                                 weights_sha256=result.sha256))
    _offline(monkeypatch)
    stream, info = zoo.inference.load_tracker(TRACKER)
    assert info["weights"] == result.path
    frame = np.random.default_rng(2).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    outputs = stream.step_model.predict_on_batch({"frame": frame.astype("float32"),
                                                  **stream.initial_state(1)})
    # The refinement's last kernel is zero: the first frame's landmarks are the detector's.
    np.testing.assert_allclose(np.asarray(outputs["landmarks"]), _predict(run_model, frame),
                               atol=1e-3)


# ------------------------------------------------------------------------------ the package
def _package_data_patterns():
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "package_data":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no package_data")


def test_every_shipped_weights_file_is_packaged_small_and_named_by_a_preset():
    files = sorted(f for f in os.listdir(zoo.weights.WEIGHTS_DIR)
                   if f.endswith(zoo.weights.WEIGHTS_SUFFIXES))
    patterns = _package_data_patterns()
    named = {}
    for name in zoo.list_models():
        preset = zoo.get_preset(name)
        if not zoo.weights.has_trained_weights(preset):
            continue
        assert preset.weights_sha256, name
        kind, location = zoo.weights.resolve(preset.weights_url)
        if kind == "file":
            assert os.path.dirname(location) == zoo.weights.WEIGHTS_DIR, (name, location)
            named[os.path.basename(location)] = (name, preset.weights_sha256)
    # The README's terms travel with the files.
    assert "non-commercial" in (pathlib.Path(zoo.weights.WEIGHTS_DIR) / "README.md").read_text()
    for filename in files + ["README.md"]:
        relative = f"weights/{filename}"
        assert any(fnmatch.fnmatch(relative, p) for p in patterns.get("zoo", [])), relative
    for filename in files:
        path = os.path.join(zoo.weights.WEIGHTS_DIR, filename)
        assert os.path.getsize(path) <= zoo.weights.MAX_SHIPPED_BYTES, filename
        assert filename in named, f"{filename} is shipped but no preset names it"
    for filename, (name, sha256) in named.items():
        path = os.path.join(zoo.weights.WEIGHTS_DIR, filename)
        assert os.path.isfile(path), f"preset {name} names {filename}, not in zoo/weights/"
        assert zoo.weights.sha256_of(path) == sha256, name


def test_resolve_and_shipped_path():
    assert zoo.weights.resolve("https://x.org/a.weights.h5") == ("url", "https://x.org/a.weights.h5")
    assert zoo.weights.resolve("a.weights.h5") == (
        "file", os.path.join(zoo.weights.WEIGHTS_DIR, "a.weights.h5"))
    with pytest.raises(ValueError, match="name="):
        zoo.weights.shipped_path("../elsewhere/a.weights.h5")


def test_presets_without_trained_weights_say_so(registry):
    registry(_tiny_preset())
    with pytest.warns(UserWarning, match="has no trained weights.*RANDOM weights"):
        model = zoo.load(DETECTOR)
    assert model.weights == "random"


def test_track_defaults_to_shipped_weights(registry):
    import zoo.track

    name = "aheat1d_tracker_mobile_300vw"
    tracker = zoo.get_preset(name)
    registry(dataclasses.replace(tracker, weights_url=None, weights_sha256=None))
    # No trained tracker: the mobile detector (its shipped weights, a zero refinement).
    assert zoo.track._default_model() == "aheat1d_mobile_300w"
    registry(dataclasses.replace(tracker, weights_url="t.weights.h5", weights_sha256="0" * 64))
    assert zoo.track._default_model() == name
