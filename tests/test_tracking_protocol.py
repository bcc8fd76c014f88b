"""One crop protocol for the tracker (issue 11, items 5 and 6).

Training crops frame t around frame t-1's landmarks with a smooth random drift
(``zoo.training.data.tracking_crop_boxes``), as the tracker crops from its previous prediction;
evaluation runs that tracking protocol as the headline (``zoo.evaluation.track_clips``) and the
per-frame ground-truth crop beside it. Static 300W clips are an opt-in, not the paper's default.
"""
import numpy as np
import pytest
import tensorflow as tf

import zoo.codecs
import zoo.evaluation
from zoo import faces
from zoo.data import pipeline
from zoo.data.tfrecord import square_crop_matrix
from zoo.training import config as config_lib
from zoo.training import data as data_lib
from zoo.training import tasks


def _moving_points(length=5, seed=0):
    """A 68-point face that moves and grows frame by frame (image pixels)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(40.0, 100.0, (68, 2))
    return np.stack([(base - 70.0) * (1.0 + 0.03 * t) + 70.0 + [4.0 * t, -2.0 * t]
                     for t in range(length)]).astype(np.float32)


def _box(points):
    return np.concatenate([points.min(0), points.max(0)])


def test_tracking_crop_boxes_follow_the_previous_frame():
    points = _moving_points()
    boxes = data_lib.tracking_crop_boxes(tf.constant(points), [3, 4], jitter=0.0).numpy()
    for t in range(len(points)):
        reference = _box(points[max(t - 1, 0)])  # frame 0 from its own ground truth
        center = 0.5 * (reference[:2] + reference[2:])
        side = (reference[2:] - reference[:2]).max()
        np.testing.assert_allclose(boxes[t], np.concatenate([center - side / 2,
                                                             center + side / 2]), atol=1e-4)
    # With a drift the first frame is still exact, later ones move; the same seed repeats.
    drifted = data_lib.tracking_crop_boxes(tf.constant(points), [3, 4], jitter=0.05).numpy()
    np.testing.assert_allclose(drifted[0], boxes[0], atol=1e-4)
    assert np.abs(drifted[1:] - boxes[1:]).max() > 0.1
    np.testing.assert_array_equal(
        drifted, data_lib.tracking_crop_boxes(tf.constant(points), [3, 4], jitter=0.05).numpy())


def test_tracking_crop_drift_has_the_asked_size_and_is_smooth():
    # A still face over 40 frames: the box offsets are the drift alone.
    points = np.repeat(_moving_points(1), 40, axis=0)
    side = (_box(points[0])[2:] - _box(points[0])[:2]).max()
    middle = 0.5 * (_box(points[0])[:2] + _box(points[0])[2:])
    offsets, scales = [], []
    for seed in range(300):
        boxes = data_lib.tracking_crop_boxes(tf.constant(points), [seed, 7], jitter=0.04)
        boxes = boxes.numpy()
        centers = 0.5 * (boxes[:, :2] + boxes[:, 2:])
        sides = boxes[:, 2] - boxes[:, 0]
        offsets.append((centers - middle) / sides[:, None])
        scales.append(np.log(sides / side))
    offsets, scales = np.stack(offsets), np.stack(scales)
    # Stationary after a few frames: std close to the jitter, on the centre and the scale.
    assert 0.035 < offsets[:, 20:].std() < 0.045 and 0.035 < scales[:, 20:].std() < 0.045
    # Smooth in time (AR(1), rho 0.8): consecutive drifts are correlated.
    step = np.corrcoef(scales[:, 20], scales[:, 21])[0, 1]
    assert 0.7 < step < 0.9


def test_training_clips_are_cropped_around_the_previous_frame():
    source = data_lib.SynthFaceClipSource(96, clip_length=4, seed=1, num_clips=1)
    codec = zoo.codecs.Heatmap1DCodec(64, 192)
    _, truth = source.clip(0)
    dataset = data_lib.clip_training_dataset(source, codec, 64, batch_size=1, seed=0,
                                             augment=False, crop_jitter=0.0)
    clips, targets = next(iter(dataset))
    decoded, _ = codec.decode({k: v[0] for k, v in targets.items()})
    decoded = decoded.numpy()
    for t in range(4):
        matrix = square_crop_matrix(_box(truth[max(t - 1, 0)]), size=64, margin=0.25)
        expected = truth[t] @ matrix[:, :2].T + matrix[:, 2]
        # The targets are frame t's landmarks in the crop of frame t-1's box (codec precision).
        assert np.abs(decoded[t] - expected).max() < 0.5, t
    # The old layout (one crop for the clip) is still there, and differs.
    union = data_lib.clip_training_dataset(source, codec, 64, batch_size=1, seed=0,
                                           augment=False, crop="clip")
    union_clips, _ = next(iter(union))
    assert not np.allclose(union_clips.numpy(), clips.numpy())
    with pytest.raises(ValueError, match="Received: crop='per_frame'"):
        data_lib.clip_training_dataset(source, codec, 64, batch_size=1, crop="per_frame")


def test_frame_box_crop_is_for_clips_only():
    codec = zoo.codecs.Heatmap1DCodec(64, 192)
    with pytest.raises(ValueError, match="crop_from='frame_box'"):
        pipeline.make_dataset([], codec, "300w", input_size=64, crop_from="frame_box")


class _ConstantStream:
    """A stand-in for ``zoo.streaming``: predicts the same crop-space points on every frame.

    With ``points`` covering the crop as a ground-truth face does (landmark box of side
    F / 1.25 at the centre), the tracking protocol's crop box never moves from frame 0's.
    """

    def __init__(self, points, input_size):
        self.points = np.asarray(points, np.float32)
        self.state_shapes = {"state_x": (2,)}
        self.input_size = input_size
        self.step_model = self._step

    def initial_state(self, batch_size=1):
        return {"state_x": np.zeros((batch_size, 2), np.float32)}

    def _step(self, inputs, training=False):
        batch = tf.shape(inputs["frame"])[0]
        landmarks = tf.tile(tf.constant(self.points)[None], [batch, 1, 1])
        return {"landmarks": landmarks, "state_x": inputs["state_x"] + 1.0}


def _videos(count=2, length=4):
    rng = np.random.default_rng(0)
    videos = []
    for index in range(count):
        points = _moving_points(length, seed=index)
        frames = rng.integers(0, 255, (length, 180, 200, 3), dtype=np.uint8)
        videos.append((frames, points))
    return videos


def test_tracking_protocol_crops_from_the_previous_prediction():
    size = 64
    videos = _videos()
    # Crop-space points that span exactly a ground-truth crop's landmark box.
    template = np.array([[size / 2 - size / 2.5, size / 2 - size / 2.5],
                         [size / 2 + size / 2.5, size / 2 + size / 2.5]], np.float32) - 0.5
    template = np.concatenate([template, np.full((66, 2), size / 2 - 0.5, np.float32)])
    stream = _ConstantStream(template, size)
    tracked, restarts = zoo.evaluation.track_clips(stream, videos, size, crop="tracking")
    per_frame, none = zoo.evaluation.track_clips(stream, videos, size, crop="gt_crop")
    assert tracked.shape == (2, 4, 68, 2) and restarts == 0 and none == 0
    for b, (_, truth) in enumerate(videos):
        first = square_crop_matrix(_box(truth[0]), size=size, margin=0.25)
        # Frame 0: both protocols crop the ground truth.
        np.testing.assert_allclose(tracked[b, 0], per_frame[b, 0], atol=1e-4)
        np.testing.assert_allclose(tracked[b, 0], faces.to_image_coordinates(template, first),
                                   atol=1e-3)
        # Tracking: the crop follows the prediction, which here stays where frame 0 put it,
        # although the face moves; the per-frame ground-truth crop follows the face.
        for t in range(1, 4):
            np.testing.assert_allclose(tracked[b, t], tracked[b, 0], atol=1e-2)
            matrix = square_crop_matrix(_box(truth[t]), size=size, margin=0.25)
            np.testing.assert_allclose(per_frame[b, t],
                                       faces.to_image_coordinates(template, matrix), atol=1e-3)


def test_lost_faces_restart_from_the_ground_truth():
    size = 64
    videos = _videos(count=1)
    outside = np.full((68, 2), -10.0, np.float32)  # every prediction leaves the crop
    tracked, restarts = zoo.evaluation.track_clips(_ConstantStream(outside, size), videos, size)
    assert restarts == 3  # after frames 0, 1, 2 (none after the last)
    truth = videos[0][1]
    for t in range(4):  # each frame cropped around its own ground truth after a restart
        matrix = square_crop_matrix(_box(truth[t]), size=size, margin=0.25)
        np.testing.assert_allclose(tracked[0, t], faces.to_image_coordinates(outside, matrix),
                                   atol=1e-3)
    with pytest.raises(ValueError, match="Received: crop='box'"):
        zoo.evaluation.track_clips(_ConstantStream(outside, size), videos, size, crop="box")


def test_evaluate_videos_scores_both_protocols():
    size = 64
    videos = _videos(count=3, length=4)
    template = np.random.default_rng(1).uniform(10, 54, (68, 2)).astype(np.float32)
    stream = _ConstantStream(template, size)
    errors, row, count, restarts = zoo.evaluation.evaluate_videos(stream, videos, "300w", size,
                                                                  batch_size=2)
    gt_errors, gt_row, _, _ = zoo.evaluation.evaluate_videos(stream, videos, "300w", size,
                                                             crop="gt_crop")
    assert count == 3 and errors.shape == (12,) and row["count"] == 12
    assert not np.allclose(errors, gt_errors)  # the crops differ after frame 0
    np.testing.assert_allclose(errors[[0, 4, 8]], gt_errors[[0, 4, 8]], rtol=1e-4)
    table = zoo.evaluation.protocol_table({"clips": row}, {"clips": gt_row}, {"clips": restarts})
    assert "NME tracking %" in table and "NME per-frame GT crop %" in table
    assert f"{100 * gt_row['nme']:.2f}" in table


def test_static_clips_are_off_in_the_paper_default(fixtures_dir):
    # The paper trains the refinement on 300-VW only (300W trains the detector, Sec. 5.1).
    assert config_lib.PAPER_DEFAULTS["300vw"].image_data_dir is None
    words = " ".join(config_lib.TrainConfig.__doc__.split()).lower()
    assert "not the paper's protocol" in words and "as the paper" not in words
    config = config_lib.PAPER_DEFAULTS["300vw"].replace(
        data_dir=str(fixtures_dir / "300vw"), clip_length=1, input_size=64, num_val=1)
    with pytest.warns(UserWarning):
        train, _ = tasks.make_clip_sources(config)
    assert isinstance(train, data_lib.VideoClipSource)
    assert config.crop_jitter == 0.03
    with pytest.raises(ValueError, match="crop_jitter=0.9"):
        config.replace(crop_jitter=0.9)
