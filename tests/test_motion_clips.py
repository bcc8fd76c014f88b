"""Clips of real faces under synthetic motion (zoo.data.motion_clips) and the tracker trained and
evaluated on them from a 300-W folder (issue 13, item 3)."""
import json
import shutil

import numpy as np
import pytest

import zoo.codecs
import zoo.evaluation
import zoo.track
from zoo.data import Sample
from zoo.data import motion_clips
from zoo.data.motion_clips import MotionClipSource, MotionConfig, render_clip
from zoo.training import config as config_lib
from zoo.training import data as data_lib
from zoo.training import tasks

# No capture effect: the frames are the photo moved by the trajectory, nothing else.
MOTION_ONLY = MotionConfig(brightness=0.0, contrast=0.0, colour=0.0, light_gradient=0.0,
                           exposure=0.0, noise=0.0, occlusion_probability=0.0)


def _face(seed=0, size=240):
    """A textured photo and a 68-point face in its middle third."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    points = rng.uniform(size / 3, 2 * size / 3, (68, 2))
    return Sample(image, points.astype(np.float32))


def _similarity_residual(points, reference):
    """Largest distance after the best similarity transform of ``reference`` onto ``points``."""
    x = np.stack([reference[:, 0], -reference[:, 1], np.ones(len(reference)),
                  np.zeros(len(reference))], 1)
    y = np.stack([reference[:, 1], reference[:, 0], np.zeros(len(reference)),
                  np.ones(len(reference))], 1)
    design = np.concatenate([x, y])
    target = np.concatenate([points[:, 0], points[:, 1]])
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    return float(np.abs(design @ solution - target).max())


def test_clips_are_a_function_of_seed_face_and_variant():
    faces = [_face(0), _face(1)]
    source = MotionClipSource(faces, clip_length=6, seed=3, clips_per_face=2, frame_size=96)
    assert len(source) == 4 and source.items.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert source.videos == [0, 0, 1, 1]  # k-fold splits keep a face's clips together
    frames, landmarks = source.clip(1)
    again, again_landmarks = MotionClipSource(faces, 6, seed=3, clips_per_face=2,
                                              frame_size=96).clip(1)
    np.testing.assert_array_equal(frames, again)
    np.testing.assert_array_equal(landmarks, again_landmarks)
    # A subset keeps each clip's (face, variant), so its pixels.
    np.testing.assert_array_equal(source.subset([1]).clip(0)[0], frames)
    assert not np.array_equal(source.clip(0)[1], landmarks)  # another variant, another path
    other_seed, _ = MotionClipSource(faces, 6, seed=4, clips_per_face=2, frame_size=96).clip(1)
    assert not np.array_equal(other_seed, frames)
    assert frames.shape == (6, 96, 96, 3) and frames.dtype == np.uint8
    assert landmarks.shape == (6, 68, 2) and landmarks.dtype == np.float32


def test_motion_is_rigid_smooth_and_centred():
    face = _face()
    frames, landmarks, visibility, matrices = render_clip(
        face.image, face.landmarks, 60, np.random.default_rng(0), 128)
    # Expression-free: every frame's landmarks are a similarity transform of the photo's.
    for points in landmarks:
        assert _similarity_residual(points.astype(np.float64), face.landmarks) < 1e-3
    # The face moves, smoothly: small steps between frames, larger over the clip.
    centers = 0.5 * (landmarks.min(1) + landmarks.max(1))
    steps = np.linalg.norm(np.diff(centers, axis=0), axis=1)
    sides = (landmarks.max(1) - landmarks.min(1)).max(1)
    assert steps.max() < 0.1 * sides.mean() and np.ptp(centers, axis=0).max() > 3 * steps.mean()
    assert np.abs(np.diff(steps)).mean() < steps.mean()  # velocity changes slowly
    # Centred, about frame / 2.2 wide, inside the frame.
    assert np.all(np.abs(centers.mean(0) - 63.5) < 0.3 * 128)
    assert 0.6 < sides.mean() / (128 / 2.2) < 1.6
    assert np.all((landmarks > 0) & (landmarks < 127))
    assert visibility.shape == (60, 68) and matrices.shape == (60, 2, 3)


def test_pixels_follow_the_landmarks():
    # A black photo with one bright dot per chosen landmark: each dot lands on its landmark.
    size, chosen = 240, [0, 16, 30, 36, 45, 48, 54]
    face = _face(seed=2, size=size)
    image = np.zeros((size, size, 3), np.uint8)
    points = np.round(face.landmarks).astype(np.float32)
    spread = np.linspace(-1, 1, len(chosen))[:, None] * [30.0, 20.0]
    points[chosen] = np.round(points[chosen].mean(0) + spread)
    for index in chosen:
        x, y = points[index].astype(int)
        image[y - 1:y + 2, x - 1:x + 2] = 255
    frames, landmarks, _, _ = render_clip(image, points, 8, np.random.default_rng(5), 200,
                                          MOTION_ONLY)
    for frame, marks in zip(frames, landmarks):
        gray = frame[..., 0].astype(np.float64)
        for index in chosen:
            x, y = marks[index]
            x0, y0 = int(round(x)) - 4, int(round(y)) - 4
            window = gray[y0:y0 + 9, x0:x0 + 9]
            yy, xx = np.mgrid[y0:y0 + 9, x0:x0 + 9]
            centroid = np.array([(window * xx).sum(), (window * yy).sum()]) / window.sum()
            assert np.linalg.norm(centroid - marks[index]) < 0.5


def test_capture_effects():
    face = _face(seed=3)

    def render(**changes):
        motion = MotionConfig(**{**MOTION_ONLY.__dict__, **changes})
        return render_clip(face.image, face.landmarks, 30, np.random.default_rng(7), 128, motion)

    plain, plain_marks, plain_visible, _ = render()
    assert plain_visible.min() == 1.0
    # Occlusion: the same motion, an occluder over some frames (and the landmarks it covers).
    occluded, marks, visible, _ = render(occlusion_probability=1.0, occlusion_size=(0.4, 0.5))
    np.testing.assert_array_equal(marks, plain_marks)
    changed = np.abs(occluded.astype(int) - plain).reshape(30, -1).max(1) > 0
    assert 0 < changed.sum() and visible.min() == 0.0
    assert np.all(visible[~changed] == 1.0)  # covered landmarks only while it is there
    # Lighting drift: the frame brightness wanders, smoothly.
    lit, _, _, _ = render(brightness=0.3)
    ratio = lit.reshape(30, -1).mean(1) / plain.reshape(30, -1).mean(1)
    assert np.ptp(ratio) > 0.05 and np.abs(np.diff(ratio)).max() < 0.5 * np.ptp(ratio)
    # Motion blur: fast motion with the shutter open smooths the frames.
    fast = dict(translation=0.4, min_period=8.0, max_period=10.0)
    sharp, _, _, _ = render(**fast)
    blurred, _, _, _ = render(exposure=1.0, **fast)
    detail = [np.abs(np.diff(f.astype(np.float64), axis=1)).mean() for f in (sharp, blurred)]
    assert detail[1] < 0.9 * detail[0]
    # Sensor noise: fresh on every frame.
    noisy, _, _, _ = render(noise=20.0)
    difference = noisy.astype(np.float64) - plain
    assert 1.0 < difference.std() < 20.0
    assert not np.allclose(difference[0], difference[1])
    with pytest.raises(ValueError, match="Received: noise=-1"):
        MotionConfig(noise=-1)


def test_source_feeds_the_tracking_crop_pipeline():
    source = MotionClipSource([_face(0), _face(1)], clip_length=3, seed=0, frame_size=96)
    element = next(iter(source.element_dataset(shuffle_seed=None, repeat=False)))
    frames, landmarks = source.clip(0)
    np.testing.assert_array_equal(element["image"].numpy(), frames)
    np.testing.assert_allclose(element["landmarks"].numpy(), landmarks)
    codec = zoo.codecs.Heatmap1DCodec(64, 128)
    clips, targets = next(iter(data_lib.clip_training_dataset(source, codec, 64, batch_size=2)))
    assert tuple(clips.shape) == (2, 3, 64, 64, 3) and tuple(targets["x"].shape) == (2, 3, 68, 128)
    with pytest.raises(ValueError, match="Received: clip_length=0"):
        MotionClipSource([_face()], clip_length=0)
    with pytest.raises(ValueError, match="landmarks.shape"):
        MotionClipSource([Sample(np.zeros((8, 8, 3), np.uint8), np.zeros((5, 2)))], 2)


def test_jitter_is_motion_the_face_did_not_make():
    truth = np.cumsum(np.random.default_rng(0).normal(size=(2, 6, 68, 2)), axis=1) + 100.0
    assert zoo.track.jitter(truth + 3.0, truth, normalizer=10.0) == 0.0
    shaky = truth.copy()
    shaky[:, 1::2] += [1.0, 0.0]  # every other frame 1 px to the right
    assert zoo.track.jitter(shaky, truth, normalizer=10.0) == pytest.approx(0.1)
    still = np.repeat(truth[:, :1], 6, axis=1)
    np.testing.assert_allclose(zoo.track.jitter(still + shaky - truth, still, 10.0),
                               zoo.track.flicker(still + shaky - truth, 10.0))


def _tiny_300w_root(fixtures_dir, root):
    """A 300-W root: the 10 fixture faces as training images (afw) and 3 as HELEN test faces."""
    for folder in ("lfpw/trainset", "helen/trainset", "afw", "helen/testset"):
        (root / folder).mkdir(parents=True)
    pts = sorted((fixtures_dir / "300w" / "pts_images").glob("*_*.pts"))
    for index, path in enumerate(pts):
        for target in ["afw"] + (["helen/testset"] if index < 3 else []):
            shutil.copy(path, root / target / path.name)
            shutil.copy(path.with_suffix(".jpg"), root / target / path.with_suffix(".jpg").name)
    return root


def _tracker_config(root, output_dir, **changes):
    values = dict(model="aheat1d_tracker_mobile_300vw", dataset="300w", data_dir=str(root),
                  model_overrides={"width": 16, "hourglass_depth": 2, "head_channels": 8,
                                   "refinement_filters": 4},
                  input_size=64, heatmap_length=128, batch_size=2, clip_length=2, steps=2,
                  log_every=1, checkpoint_every=1, eval_every=0, image_every=0,
                  val_fraction=0.2, val_seed=0, output_dir=str(output_dir))
    values.update(changes)
    return config_lib.PAPER_DEFAULTS["300w"].replace(**values)


def test_300w_tracker_clips_hold_out_the_detectors_validation_faces(fixtures_dir, tmp_path):
    root = _tiny_300w_root(fixtures_dir, tmp_path / "300w")
    config = _tracker_config(root, tmp_path / "run")
    with pytest.warns(UserWarning):  # 11 training faces, not the published 3148
        detector_train, detector_val = tasks.make_sources(config.replace(
            model="aheat1d_mobile_300w", output_dir=str(tmp_path / "detector")))
        train, val = tasks.make_clip_sources(config)  # input_size given: nothing to resolve
    assert isinstance(train, MotionClipSource) and isinstance(val, MotionClipSource)
    # The same faces as the detector's train / validation split, and the same val_split.txt.
    assert [s.image for s in train.samples] == [s.image for s in detector_train.samples]
    assert [s.image for s in val.samples] == [s.image for s in detector_val.samples]
    assert len(val.samples) == 2
    assert len(train) == len(train.samples) * motion_clips.TRAINING_CLIPS_PER_FACE
    assert (tmp_path / "run" / "val_split.txt").read_text() == \
        (tmp_path / "detector" / "val_split.txt").read_text()
    assert train.clip_length == 2 and val.clip_length == motion_clips.VALIDATION_CLIP_LENGTH
    assert train.frame_size == motion_clips.frame_size_for(64) and val.seed == train.seed + 1000
    # The lambda search splits faces (a face's trajectories never on both sides of a fold).
    with pytest.warns(UserWarning):
        _, num_units = tasks.make_fold_runner(config)
    assert num_units == len(train.samples)
    frames, landmarks = train.clip(0)  # a full photo, shrunk to a frame around its face
    assert frames.shape == (2, 113, 113, 3) and np.all((landmarks > 0) & (landmarks < 113))


@pytest.mark.slow
def test_tracker_trains_on_300w_motion_clips_and_is_evaluated_on_test_faces(fixtures_dir,
                                                                           tmp_path):
    root = _tiny_300w_root(fixtures_dir, tmp_path / "300w")
    config = _tracker_config(root, tmp_path / "run")
    with pytest.warns(UserWarning):
        result, resolved, _ = tasks.train(config, progress=False)  # dispatches to the tracker
    assert result.step == 2 and resolved.dataset == "300w"
    assert all(np.isfinite(entry["loss"]) for entry in result.history)
    assert all(0 < entry["nme"] < 5 for entry in result.evaluations)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["dataset"] == "300w" and saved["model"] == "aheat1d_tracker_mobile_300vw"
    report = zoo.evaluation.evaluate_run(str(tmp_path / "run"), max_frames=5)
    assert set(report["subsets"]) == {"common_motion"} and report["videos"]["common_motion"] == 3
    row, gt_row = report["subsets"]["common_motion"], report["gt_crop"]["common_motion"]
    assert row["count"] == gt_row["count"] == 15 and np.isfinite(row["jitter"])
    text = (tmp_path / "run" / "eval" / "report.txt").read_text()
    assert "motion clips" in text and "NME per-frame GT crop %" in text


def test_evaluation_clips_are_fixed(fixtures_dir, tmp_path):
    root = _tiny_300w_root(fixtures_dir, tmp_path / "300w")
    clips = motion_clips.evaluation_clips(str(root), 64, clip_length=3)
    again = motion_clips.evaluation_clips(str(root), 64, clip_length=3)
    assert len(clips) == 3 and clips.seed == motion_clips.EVALUATION_SEED
    np.testing.assert_array_equal(clips.clip(2)[0], again.clip(2)[0])
    with pytest.raises(ValueError, match="No 300-W common face"):
        motion_clips.evaluation_clips(str(tmp_path), 64)
