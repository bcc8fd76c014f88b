"""Tracker training (zoo.training.tasks.train_tracker), clip sources, detector initialisation,
the lambda search and the video evaluation protocols.

One tiny tracker run (module fixture) is shared by the training, resume and evaluation tests;
everything runs in-process except one subprocess test of the recipe's --data_dir check.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
import zoo.codecs
import zoo.evaluation
import zoo.data.readers.common
from zoo.models.tracker import FRAME_DETECTOR_NAME
from zoo.training import config as config_lib
from zoo.training import cross_validation, loop, tasks
from zoo.training import data as data_lib

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
# A tiny version of the mobile tracker (and of its detector) so a step takes seconds.
DETECTOR_OVERRIDES = {"width": 16, "hourglass_depth": 2, "head_channels": 8}
TRACKER_OVERRIDES = {**DETECTOR_OVERRIDES, "refinement_filters": 4}
SIZES = {"input_size": 64, "heatmap_length": 128}


def _tracker_config(output_dir, **changes):
    values = dict(model="aheat1d_tracker_mobile_300vw", model_overrides=dict(TRACKER_OVERRIDES),
                  batch_size=2, clip_length=2, num_synthetic=4, num_val=2, steps=2, log_every=1,
                  checkpoint_every=1, eval_every=0, image_every=0, output_dir=str(output_dir),
                  **SIZES)
    values.update(changes)
    return config_lib.PAPER_DEFAULTS["300vw"].replace(**values)


def _numpy(variables):
    return [keras.ops.convert_to_numpy(v) for v in variables]


def _tiny_detector(seed, **changes):
    keras.utils.set_random_seed(seed)
    return zoo.create("aheat1d_mobile_300w", **{**DETECTOR_OVERRIDES, **SIZES, "gamma": 0.4,
                                                **changes})


def _write_detector_run(run_dir, seed=123, complete=True, **changes):
    """A detector run folder as recipes/train_300w.py leaves it (config.json + checkpoints/).

    ``complete``: written as ``train_loop`` writes it (every variable by position); False
    writes the Keras object graph (``model=detector``), as the loop did before, which misses
    the nested layers' variables.
    """
    detector = _tiny_detector(seed, **changes)
    config_lib.save_config(config_lib.PAPER_DEFAULTS["300w"].replace(
        model="aheat1d_mobile_300w", model_overrides={**DETECTOR_OVERRIDES, **changes},
        data_dir=None, output_dir=str(run_dir), **SIZES), run_dir)
    model = loop.model_variables(detector) if complete else detector
    checkpoint = tf.train.Checkpoint(model=model, optimizer=keras.optimizers.Adam(),
                                     step=tf.Variable(7, dtype=tf.int64))
    tf.train.CheckpointManager(checkpoint, os.path.join(run_dir, "checkpoints"), 3).save(7)
    return detector


@pytest.fixture(scope="module")
def tracker_run(tmp_path_factory):
    """Trains the tiny tracker 2 steps on SynthFace videos, detector from a 300W run, frozen."""
    root = tmp_path_factory.mktemp("tracker")
    detector = _write_detector_run(root / "detector_run")
    config = _tracker_config(
        root / "run", init_checkpoint=str(root / "detector_run"),
        model_overrides={**TRACKER_OVERRIDES, "freeze_detector": True})
    fresh = zoo.create(config.model, **tasks.resolve_tracker(config)[2])
    refinement_before = _numpy(fresh.get_layer("refine_x").weights)
    result, resolved, codec = tasks.train_tracker(config, progress=False)
    return {"root": root, "config": config, "result": result, "resolved": resolved,
            "codec": codec, "detector": _numpy(detector.weights),
            "refinement_before": refinement_before}


@pytest.mark.slow
def test_train_tracker_writes_config_checkpoint_and_logs(tracker_run):
    run_dir = tracker_run["root"] / "run"
    result = tracker_run["result"]
    assert result.step == 2 and result.start_step == 0 and result.restored_from is None
    saved = json.loads((run_dir / "config.json").read_text())
    # The 300vw recipe's paper settings plus the resolved sizes and the tracker fields.
    assert saved["temporal_lambda"] == 0.3 and saved["gamma"] == 0.4
    assert saved["model"] == "aheat1d_tracker_mobile_300vw" and saved["dataset"] == "300vw"
    assert saved["clip_length"] == 2 and saved["input_size"] == 64
    assert saved["init_checkpoint"].endswith("detector_run")
    assert saved["model_overrides"]["freeze_detector"] is True
    assert (run_dir / "checkpoints" / "ckpt-2.index").exists()
    assert os.listdir(run_dir / "logs")
    assert [entry["step"] for entry in result.history] == [1, 2]
    assert all(np.isfinite(entry["loss"]) and entry["loss"] > 0 for entry in result.history)
    # Validation NME at the start and at the end, as fractions: the tracking protocol (the
    # headline, with its restarts of lost faces) and the per-frame ground-truth crop.
    assert [entry["step"] for entry in result.evaluations] == [0, 2]
    assert all(0 < entry["nme"] < 5 and 0 < entry["nme_gt_crop"] < 5
               and entry["restarts"] >= 0 for entry in result.evaluations)
    assert saved["crop_jitter"] == 0.03 and saved["augmentation"]["rotation"] > 0


@pytest.mark.slow
def test_detector_initialised_from_run_and_frozen(tracker_run):
    model = tracker_run["result"].model
    detector = model.get_layer(FRAME_DETECTOR_NAME).detector
    assert not detector.trainable
    # Loaded from the 300W run (seed 123, not the tracker's own init) and unchanged by training.
    for trained, loaded in zip(_numpy(detector.weights), tracker_run["detector"]):
        np.testing.assert_array_equal(trained, loaded)
    # The refinement (CNN_4's last kernel starts at zero) did train.
    refinement = _numpy(model.get_layer("refine_x").weights)
    assert any(not np.array_equal(a, b)
               for a, b in zip(refinement, tracker_run["refinement_before"]))


@pytest.mark.slow
def test_tracker_run_resumes(tracker_run, capsys):
    config = tracker_run["config"].replace(steps=3)
    result, _, _ = tasks.train_tracker(config, progress=False)
    assert result.start_step == 2 and result.step == 3
    assert result.restored_from.endswith("ckpt-2")
    assert "at step 2 (of 3)" in capsys.readouterr().out
    assert (tracker_run["root"] / "run" / "checkpoints" / "ckpt-3.index").exists()
    # The restored tracker still holds the initialised (frozen) detector ...
    detector = result.model.get_layer(FRAME_DETECTOR_NAME).detector
    for restored, loaded in zip(_numpy(detector.weights), tracker_run["detector"]):
        np.testing.assert_array_equal(restored, loaded)
    # ... and the evaluation rebuilds exactly the trained model from the run folder.
    model, _, loaded_config, step = zoo.evaluation.load_run(str(tracker_run["root"] / "run"))
    assert step == 3 and loaded_config.clip_length == 2
    for restored, trained in zip(_numpy(model.weights), _numpy(result.model.weights)):
        np.testing.assert_array_equal(restored, trained)


@pytest.mark.slow
def test_video_report_on_synthface_and_300vw_fixtures(tracker_run, fixtures_dir, tmp_path):
    run_dir = str(tracker_run["root"] / "run")
    report = zoo.evaluation.evaluate_tracker_run(run_dir, output_dir=str(tmp_path / "synth"),
                                                 num_videos=2, video_length=6)
    assert set(report["subsets"]) == {"synthface_video", "synthface_video_shared7"}
    assert report["videos"]["synthface_video"] == 2
    assert report["subsets"]["synthface_video"]["count"] == 12  # every frame of both videos
    assert report["subsets"]["synthface_video_shared7"]["count"] == 12
    assert set(report["subsets"]["synthface_video_shared7"]["areas"]) == {"eyes", "nose", "mouth"}
    saved = json.loads((tmp_path / "synth" / "report.json").read_text())
    assert "SynthFace test videos" in saved["title"] and "tracking protocol" in saved["title"]
    # The per-frame ground-truth crop beside the headline tracking protocol.
    assert saved["crop"] == "tracking" and set(saved["gt_crop"]) == set(report["subsets"])
    assert saved["gt_crop"]["synthface_video"]["count"] == 12
    assert set(saved["restarts"]) == set(report["subsets"])
    assert "NME per-frame GT crop %" in (tmp_path / "synth" / "report.txt").read_text()
    assert (tmp_path / "synth" / "ced.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Real 300-VW files: video 401 is in S1; its frame 731 is a known broken frame.
    with pytest.warns(UserWarning, match="missing"):
        real = zoo.evaluation.evaluate_tracker_run(run_dir, output_dir=str(tmp_path / "vw"),
                                                   data_dir=str(fixtures_dir / "300vw"))
    assert set(real["subsets"]) == {"S1"} and real["subsets"]["S1"]["count"] == 1
    assert 0 < real["subsets"]["S1"]["nme"] < 5
    # Talking Face layout (franck_NNNNN.jpg + .pts): scored on the 7 shared points.
    talking_face = tmp_path / "talking_face"
    talking_face.mkdir()
    for frame in range(3):
        for extension in ("jpg", "pts"):
            folder = "imgs" if extension == "jpg" else "annot"
            shutil.copy(fixtures_dir / "300vw" / "001" / folder / f"000006.{extension}",
                        talking_face / f"franck_{frame:05d}.{extension}")
    faces = zoo.evaluation.evaluate_tracker_run(run_dir, output_dir=str(tmp_path / "tf"),
                                                talking_face_dir=str(talking_face))
    assert set(faces["subsets"]) == {"talking_face"} and faces["videos"]["talking_face"] == 1
    assert faces["subsets"]["talking_face"]["count"] == 3
    assert set(faces["subsets"]["talking_face"]["areas"]) == {"eyes", "nose", "mouth"}


def test_track_video_equals_clip_model(tmp_path):
    """The streaming evaluation reproduces the clip model frame by frame (same state recursion)."""
    keras.utils.set_random_seed(3)
    config = _tracker_config(tmp_path, model_overrides={**TRACKER_OVERRIDES,
                                                        "refinement_initializer": "glorot_uniform"})
    config, codec, overrides = tasks.resolve_tracker(config)
    tracker = zoo.create(config.model, **overrides)
    clip = np.random.default_rng(0).uniform(0, 255, (1, 3, 64, 64, 3)).astype("float32")
    expected = tasks.predict_clip_landmarks(tracker, codec, clip)[0]
    stream = zoo.streaming(tracker, codec=zoo.codecs.serialize(codec))
    np.testing.assert_allclose(zoo.evaluation.track_video(stream, clip[0]), expected, atol=1e-3)


def test_init_detector_formats_and_mismatch(tmp_path):
    config, _, overrides = tasks.resolve_tracker(_tracker_config(tmp_path))
    detector = _tiny_detector(seed=5)
    expected = _numpy(detector.weights)
    weights_file = str(tmp_path / "detector.weights.h5")
    detector.save_weights(weights_file)
    _write_detector_run(tmp_path / "run", seed=6)
    run_weights = _numpy(_tiny_detector(seed=6).weights)
    for source, wanted in ((weights_file, expected), (str(tmp_path / "run"), run_weights),
                           (str(tmp_path / "run" / "checkpoints" / "ckpt-7"), run_weights)):
        keras.utils.set_random_seed(0)
        tracker = zoo.create(config.model, **overrides)
        tasks.init_detector(tracker, source)
        loaded = _numpy(tracker.get_layer(FRAME_DETECTOR_NAME).detector.weights)
        assert len(loaded) == len(wanted)
        for got, want in zip(loaded, wanted):
            np.testing.assert_array_equal(got, want)
    # A detector of another width does not fit: the message names the run's settings.
    _write_detector_run(tmp_path / "wide", seed=1, width=32)
    with pytest.raises(ValueError, match="does not fit") as error:
        tasks.init_detector(tracker, str(tmp_path / "wide"))
    assert "'width': 32" in str(error.value)
    # An object-graph checkpoint (model=detector) misses nested layers' variables (Keras 3):
    # refused, instead of a half-random detector.
    _write_detector_run(tmp_path / "partial", seed=6, complete=False)
    with pytest.raises(ValueError, match="older train_loop"):
        tasks.init_detector(tracker, str(tmp_path / "partial"))
    with pytest.raises(ValueError, match="init_checkpoint="):
        tasks.init_detector(tracker, str(tmp_path / "detector.h5"))
    (tmp_path / "no_checkpoints").mkdir()
    with pytest.raises(ValueError, match="no_checkpoints"):
        tasks.init_detector(tracker, str(tmp_path / "no_checkpoints"))


@pytest.mark.parametrize("layout", ["missing", "empty", "wrong"])
def test_train_tracker_wrong_data_dir_stops_with_layout(tmp_path, layout):
    data_dir = tmp_path / "300vw"
    if layout != "missing":
        data_dir.mkdir()
    if layout == "wrong":
        (data_dir / "001").mkdir()
        (data_dir / "001" / "000001.pts").write_text("")
    config = _tracker_config(tmp_path / "run", data_dir=str(data_dir))
    with pytest.raises(ValueError, match="Expected layout for 300vw") as error:
        tasks.train_tracker(config, progress=False)
    assert "annot/000001.pts" in str(error.value)
    assert not (tmp_path / "run").exists()  # stopped before config, model or checkpoints


def test_tracker_needs_tracker_preset_and_video_dataset(tmp_path):
    with pytest.raises(ValueError, match="model='aheat1d_mobile_300w'"):
        tasks.train_tracker(_tracker_config(tmp_path, model="aheat1d_mobile_300w"))
    with pytest.raises(ValueError, match="dataset='wflw'"):
        tasks.train_tracker(_tracker_config(tmp_path, dataset="wflw"))
    # The 2D tracker takes the heatmap side and has no gamma; lambda becomes the decay.
    _, codec, overrides = tasks.resolve_tracker(_tracker_config(
        tmp_path, model="fan2d_tracker_300vw", heatmap_length=16, temporal_lambda=0.5,
        model_overrides={"width": 16, "hourglass_depth": 2, "refinement_filters": 4}))
    assert overrides["heatmap_size"] == 16 and "gamma" not in overrides
    assert overrides["decay"] == 0.5 and type(codec).__name__ == "Heatmap2DCodec"


def _copy_frames(fixtures_dir, root, numbers):
    """A 300-VW training video (id 001) whose frames are fixture frame 6 renumbered."""
    video = root / "001"
    (video / "annot").mkdir(parents=True)
    (video / "imgs").mkdir()
    for number in numbers:
        shutil.copy(fixtures_dir / "300vw" / "001" / "annot" / "000006.pts",
                    video / "annot" / f"{number:06d}.pts")
        shutil.copy(fixtures_dir / "300vw" / "001" / "imgs" / "000006.jpg",
                    video / "imgs" / f"{number:06d}.jpg")


def test_video_clip_source_consecutive_frames(fixtures_dir, tmp_path):
    root = tmp_path / "300vw"
    _copy_frames(fixtures_dir, root, [1, 2, 3, 4, 5, 8, 9])
    with pytest.warns(UserWarning, match="missing"):
        source = data_lib.VideoClipSource(str(root), "train", clip_length=2)
    # Runs 1-5 and 8-9: clips (1,2), (3,4), (8,9); no clip spans the gap.
    assert [numbers for _, numbers, _ in source.clips] == [[1, 2], [3, 4], [8, 9]]
    with pytest.warns(UserWarning):
        overlapping = data_lib.VideoClipSource(str(root), "train", clip_length=3, shift=1)
    assert [n for _, n, _ in overlapping.clips] == [[1, 2, 3], [2, 3, 4], [3, 4, 5]]
    frames, landmarks = source.clip(2)
    assert frames.shape == (2, 720, 1280, 3) and frames.dtype == np.uint8
    assert landmarks.shape == (2, 68, 2)
    assert source.subset([2]).clips[0][1] == [8, 9] and source.videos == ["001"] * 3
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="clip_length=6"):
        data_lib.VideoClipSource(str(root), "train", clip_length=6)


def test_300vw_fixtures_give_training_batches(fixtures_dir):
    root = str(fixtures_dir / "300vw")
    with pytest.warns(UserWarning):
        train = data_lib.VideoClipSource(root, "train", clip_length=1)
        test = data_lib.VideoClipSource(root, "test", clip_length=1)
    # 001 (training video): frames 6 and 9; 401 (S1): 731 is a known broken frame.
    assert [n for _, n, _ in train.clips] == [[6], [9]]
    assert [n for _, n, _ in test.clips] == [[732]]
    assert test.report.skipped == {"known broken frame": 1}
    codec = zoo.codecs.Heatmap1DCodec(64, 128)
    dataset = data_lib.clip_training_dataset(train, codec, 64, batch_size=2, augment=False)
    clips, targets = next(iter(dataset))
    assert tuple(clips.shape) == (2, 1, 64, 64, 3)
    assert tuple(targets["x"].shape) == (2, 1, 68, 128)
    # Without augmentation the targets decode to the crop-space landmarks (inside the crop).
    decoded, _ = codec.decode({key: value[:, 0] for key, value in targets.items()})
    decoded = keras.ops.convert_to_numpy(decoded)
    assert np.all((decoded > 0) & (decoded < 64))
    crops, points = data_lib.clip_arrays(test, 64)
    assert crops.shape == (1, 1, 64, 64, 3) and points.shape == (1, 1, 68, 2)


def test_synthface_clip_source_is_deterministic_and_indexable():
    source = data_lib.SynthFaceClipSource(48, clip_length=3, seed=2, num_clips=3)
    frames, landmarks = source.clip(1)
    again, _ = data_lib.SynthFaceClipSource(48, 3, seed=2, indices=[1]).clip(0)
    np.testing.assert_array_equal(frames, again)
    np.testing.assert_array_equal(source.subset([1]).clip(0)[1], landmarks)
    assert frames.shape == (3, 48, 48, 3) and landmarks.shape == (3, 68, 2)
    assert not np.array_equal(landmarks[0], landmarks[2])  # the face moves
    with pytest.raises(ValueError, match="clip_length=0"):
        data_lib.SynthFaceClipSource(48, clip_length=0, num_clips=1)


@pytest.mark.slow
def test_lambda_search_prints_table_and_choice(tmp_path, capsys):
    # Frozen detector: lambda only acts on the refinement, and the traced step is much smaller.
    config = _tracker_config(tmp_path / "search", steps=1, num_synthetic=4,
                             model_overrides={**TRACKER_OVERRIDES, "freeze_detector": True})
    runner, num_units = tasks.make_fold_runner(config)
    assert num_units == 4
    result = cross_validation.search({"lambda": [0.1, 0.5]}, 2, runner, num_units)
    printed = capsys.readouterr().out
    assert "fold1" in printed and "fold2" in printed
    chosen = [line for line in printed.splitlines() if line.startswith("chosen: lambda=")]
    assert len(chosen) == 1 and float(chosen[0].split("=")[1]) == result.best["lambda"]
    assert result.best["lambda"] in (0.1, 0.5)
    assert all(len(row["fold_errors"]) == 2 and row["mean"] > 0 for row in result.rows)
    # Every fold run trained a tracker with its lambda as the decay of Eq. 13.
    lambdas = sorted(json.loads((path / "config.json").read_text())["temporal_lambda"]
                     for path in (tmp_path / "search").iterdir())
    assert lambdas == [0.1, 0.1, 0.5, 0.5]


@pytest.mark.slow
def test_recipe_wrong_data_dir_stops_at_once(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2",
               CUDA_VISIBLE_DEVICES="")
    out = tmp_path / "run"
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "recipes" / "train_300vw.py"),
         f"--data_dir={tmp_path / 'missing'}", f"--output_dir={out}"],
        env=env, capture_output=True, text=True, timeout=240)
    assert completed.returncode != 0
    assert "does not exist" in completed.stderr
    assert "Expected layout for 300vw" in completed.stderr and "annot/000001.pts" in completed.stderr
    assert not out.exists()


def _tiny_300w_root(fixtures_dir, root, count):
    """A 300W root holding ``count`` real training images in ``afw/`` (the rest empty)."""
    for folder in ("lfpw/trainset", "helen/trainset", "afw"):
        (root / folder).mkdir(parents=True)
    pts = sorted((fixtures_dir / "300w" / "pts_images").glob("*_*.pts"))[:count]
    for path in pts:
        shutil.copy(path, root / "afw" / path.name)
        shutil.copy(path.with_suffix(".jpg"), root / "afw" / path.with_suffix(".jpg").name)
    return [path.stem for path in pts]


def test_300w_images_join_300vw_clips_as_static_clips(fixtures_dir, tmp_path):
    root_300w = tmp_path / "300w"
    names = _tiny_300w_root(fixtures_dir, root_300w, 3)
    config = config_lib.TrainConfig(model="aheat1d_tracker_mobile_300vw", dataset="300vw",
                                    data_dir=str(fixtures_dir / "300vw"),
                                    image_data_dir=str(root_300w), clip_length=2, input_size=64,
                                    num_val=1)
    assert config_lib.TrainConfig(**json.loads(json.dumps(
        {f: getattr(config, f) for f in config.__dataclass_fields__}))) == config
    with pytest.warns(UserWarning):  # the 300W split count differs from 3148, and says so
        train, _ = tasks.make_clip_sources(config.replace(clip_length=1))
    # 2 frames of video 001 (clip length 1) + 3 static clips.
    assert isinstance(train, data_lib.ConcatClipSource) and len(train) == 5
    frames, landmarks = train.clip(2)  # the first 300W image
    reference = zoo.data.readers.common.read_pts(
        str(root_300w / "afw" / f"{sorted(names)[0]}.pts"), 68)
    np.testing.assert_allclose(landmarks[0], reference)
    # A static clip: every frame is the same image with the same landmarks.
    static = data_lib.StaticImageClipSource(
        [zoo.data.Sample(str(root_300w / "afw" / f"{names[0]}.jpg"), reference)], 3)
    frames, landmarks = static.clip(0)
    assert frames.shape[0] == 3 and np.array_equal(frames[0], frames[2])
    assert np.array_equal(landmarks[0], landmarks[2])
    # The mixed source feeds the clip pipeline; subsets keep their sources.
    codec = zoo.codecs.Heatmap1DCodec(64, 128)
    clips, targets = next(iter(data_lib.clip_training_dataset(train, codec, 64, batch_size=5,
                                                              augment=False)))
    assert tuple(clips.shape) == (5, 1, 64, 64, 3) and tuple(targets["x"].shape) == (5, 1, 68, 128)
    assert len(train.subset([0, 3, 4])) == 3
    with pytest.raises(ValueError, match="position"):
        train.clip(5)
    with pytest.raises(ValueError, match="clip length"):
        data_lib.ConcatClipSource([static, data_lib.StaticImageClipSource(static.samples, 2)])
