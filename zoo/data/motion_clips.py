"""Video clips of real faces under synthetic motion: a stand-in for 300-VW built from 300-W crops.

No 300-VW video can be obtained here, so the tracker's temporal refinement trains (and is
evaluated) on clips made from real still faces (``zoo.data.readers.read_300w``). Each clip
moves one face along a smooth random camera/head trajectory: an affine map per frame (in-plane
rotation, scale and translation, each a sum of slow random sinusoids over the T frames), the
68 landmarks moving rigidly with it (expression-free: the face itself never changes). On top of
the motion, what a camera adds: lighting that drifts (brightness, contrast, colour gains and a
directional light ramp whose direction turns), motion blur along the face's displacement
between frames (the shutter open for a random fraction of the frame interval), per-frame sensor
noise, and occlusion events (an object passing in front of the face for some frames). Every
clip is a pure function of ``(seed, face, variant)``: the same seed gives the same pixels.

A clip's frames are square "video frames" of side ``frame_size`` with the face at the centre
and about ``frame_size / 2.2`` wide (as the 300-W crops of ``../shared/data/300w`` are), so the
tracker crops them as it crops video: frame t around its prediction for frame t-1
(``zoo.evaluation.track_clips``), or, in training, around frame t-1's ground truth with a
random drift (``zoo.training.data.tracking_crop_boxes``).

:class:`MotionClipSource` has the clip-source interface of ``zoo.training.data``
(``clip(position)``, ``subset``, ``element_dataset``, ``clip_length``, ``scheme``), so
``clip_training_dataset`` and the video evaluation take it as they take 300-VW clips.

Example:
    >>> import numpy as np
    >>> from zoo.data import Sample
    >>> from zoo.data.motion_clips import MotionClipSource
    >>> image = np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)
    >>> face = Sample(image, np.random.default_rng(1).uniform(110, 290, (68, 2)))
    >>> source = MotionClipSource([face], clip_length=5, frame_size=128)
    >>> frames, landmarks = source.clip(0)
    >>> frames.shape, landmarks.shape
    ((5, 128, 128, 3), (5, 68, 2))
"""
import dataclasses
import math
import os
from typing import Tuple

import cv2
import numpy as np

# Face side (landmark box) : frame side, as the 300-W crops here (2.2 x the landmark box).
FRAME_TO_FACE = 2.2
# Seed of the fixed evaluation clips (far from training seeds 0, 1, ... and their + 1000).
EVALUATION_SEED = 20_200_300
EVALUATION_CLIP_LENGTH = 40


@dataclasses.dataclass(frozen=True)
class MotionConfig:
    """Ranges of a clip's motion and capture effects (all drawn anew for every clip).

    Args:
        rotation: standard deviation (degrees) of the in-plane rotation trajectory.
        scale: standard deviation of the log scale trajectory (camera distance).
        translation: standard deviation of the face-centre trajectory, a fraction of the face
            side, per axis.
        min_period: shortest period (frames) of the trajectories' sinusoids (the fastest
            motion; at 30 fps, 20 frames is two thirds of a second).
        max_period: longest period (frames).
        brightness: standard deviation of the log brightness drift.
        contrast: standard deviation of the log contrast drift.
        colour: standard deviation of each channel's log gain drift.
        light_gradient: standard deviation of a directional light ramp (relative gain change
            from the face centre to one face side away), whose direction turns smoothly.
        exposure: largest shutter fraction of a clip: the motion blur is a line along the
            face's displacement between frames, ``exposure * displacement`` long.
        noise: largest standard deviation (0-255) of a clip's per-frame Gaussian sensor noise.
        occlusion_probability: chance that a clip has an occlusion event.
        occlusion_size: ``(min, max)`` side of the occluder, a fraction of the face side.

    Example:
        >>> from zoo.data.motion_clips import MotionConfig
        >>> MotionConfig(rotation=5.0).rotation
        5.0
    """

    rotation: float = 10.0
    scale: float = 0.1
    translation: float = 0.1
    min_period: float = 20.0
    max_period: float = 150.0
    brightness: float = 0.15
    contrast: float = 0.15
    colour: float = 0.05
    light_gradient: float = 0.3
    exposure: float = 0.6
    noise: float = 6.0
    occlusion_probability: float = 0.3
    occlusion_size: Tuple[float, float] = (0.2, 0.5)

    def __post_init__(self):
        for name in ("rotation", "scale", "translation", "brightness", "contrast", "colour",
                     "light_gradient", "exposure", "noise"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"`{name}` must be a number >= 0. Received: {name}={value!r}")
        if not 0 < self.min_period <= self.max_period:
            raise ValueError("Periods must satisfy 0 < min_period <= max_period. Received: "
                             f"min_period={self.min_period}, max_period={self.max_period}")
        if not 0.0 <= self.occlusion_probability <= 1.0:
            raise ValueError("`occlusion_probability` must be in [0, 1]. Received: "
                             f"occlusion_probability={self.occlusion_probability}")
        low, high = self.occlusion_size
        if not 0 < low <= high:
            raise ValueError(f"`occlusion_size` must be (min, max) with 0 < min <= max. "
                             f"Received: occlusion_size={self.occlusion_size}")


def frame_size_for(input_size):
    """Frame side at which the tracker's crop (1.25 x the face) is about ``input_size`` pixels.

    Example:
        >>> from zoo.data.motion_clips import frame_size_for
        >>> frame_size_for(128)
        226
    """
    return int(math.ceil(input_size * FRAME_TO_FACE / 1.25))


def smooth_trajectory(rng, length, std, min_period, max_period, components=3):
    """A smooth random signal over ``length`` frames: a sum of slow sinusoids, std ``std``.

    ``x(t) = std * sqrt(2 / K) * sum_k a_k sin(2 pi t / P_k + phi_k)`` with ``a_k ~ N(0, 1)``,
    periods ``P_k`` uniform in ``[min_period, max_period]`` and random phases: its variance
    over random draws is ``std^2`` at every frame, and its frame-to-frame change at most about
    ``2 pi std / min_period`` per sinusoid.

    Args:
        rng: ``numpy.random.Generator``.
        length: frames T.
        std: standard deviation.
        min_period, max_period: range of the periods (frames).
        components: K.

    Returns:
        float64 ``(T,)``.

    Example:
        >>> import numpy as np
        >>> from zoo.data.motion_clips import smooth_trajectory
        >>> smooth_trajectory(np.random.default_rng(0), 4, 1.0, 20, 100).shape
        (4,)
    """
    periods = rng.uniform(min_period, max_period, components)
    phases = rng.uniform(0.0, 2.0 * np.pi, components)
    amplitudes = rng.normal(0.0, 1.0, components)
    t = np.arange(length)[:, None]
    waves = amplitudes * np.sin(2.0 * np.pi * t / periods + phases)
    return std * math.sqrt(2.0 / components) * waves.sum(axis=1)


def _affine(center, scale, angle_degrees, target):
    """(2, 3): rotate by ``angle`` and scale about ``center``, then put ``center`` at ``target``."""
    angle = math.radians(angle_degrees)
    cos, sin = scale * math.cos(angle), scale * math.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]])
    return np.concatenate([linear, (np.asarray(target) - linear @ center)[:, None]], axis=1)


def _line_kernel(length, angle):
    """A normalised motion-blur kernel: a line of ``length`` pixels at ``angle`` (radians)."""
    size = int(math.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    middle = (size - 1) / 2.0
    half = np.array([math.cos(angle), math.sin(angle)]) * (length - 1) / 2.0
    # Sub-pixel end points (4 fractional bits), anti-aliased.
    start = tuple(int(round(16 * v)) for v in (middle - half[0], middle - half[1]))
    end = tuple(int(round(16 * v)) for v in (middle + half[0], middle + half[1]))
    cv2.line(kernel, start, end, 1.0, thickness=1, lineType=cv2.LINE_AA, shift=4)
    return kernel / max(float(kernel.sum()), 1e-6)


def render_clip(image, landmarks, clip_length, rng, frame_size, motion=None):
    """Renders one clip of a still face under a random trajectory (see the module docstring).

    Args:
        image: ``(H, W, 3)`` uint8 RGB photo of the face.
        landmarks: ``(N, 2)`` 0-based landmarks in ``image`` pixels.
        clip_length: T.
        rng: ``numpy.random.Generator`` (every random choice of the clip comes from it).
        frame_size: side of the square frames.
        motion: a :class:`MotionConfig` (default ranges when None).

    Returns:
        ``(frames uint8 (T, S, S, 3), landmarks float32 (T, N, 2), visibility float32 (T, N),
        matrices float64 (T, 2, 3))``: frame pixels, landmarks in frame pixels, 0 where the
        occluder covers a landmark, and the image -> frame affine of every frame.

    Example:
        >>> import numpy as np
        >>> from zoo.data.motion_clips import render_clip
        >>> image = np.zeros((200, 200, 3), np.uint8)
        >>> points = np.random.default_rng(0).uniform(60, 140, (68, 2))
        >>> frames, marks, visible, _ = render_clip(image, points, 3, np.random.default_rng(0), 64)
        >>> frames.shape, marks.shape, visible.shape
        ((3, 64, 64, 3), (3, 68, 2), (3, 68))
    """
    motion = motion or MotionConfig()
    image = np.ascontiguousarray(image)
    landmarks = np.asarray(landmarks, np.float64)
    length, size = int(clip_length), int(frame_size)
    low, high = landmarks.min(0), landmarks.max(0)
    center = 0.5 * (low + high)
    face_side = float(max(high - low))
    base_scale = size / (FRAME_TO_FACE * face_side)
    frame_center = np.array([(size - 1) / 2.0, (size - 1) / 2.0])
    face_in_frame = face_side * base_scale

    def trajectory(std):
        return smooth_trajectory(rng, length, std, motion.min_period, motion.max_period)

    # Camera/head motion: one affine per frame.
    angles = trajectory(motion.rotation)
    scales = np.exp(trajectory(motion.scale))
    shifts = np.stack([trajectory(motion.translation), trajectory(motion.translation)], 1)
    matrices = np.stack([
        _affine(center, base_scale * scales[t], angles[t],
                frame_center + shifts[t] * face_in_frame) for t in range(length)])
    # Lighting drift.
    brightness = trajectory(motion.brightness)
    contrast = trajectory(motion.contrast)
    colour = np.stack([trajectory(motion.colour) for _ in range(3)], 1)
    gradient = trajectory(motion.light_gradient)
    light_angle = rng.uniform(0, 2 * np.pi) + np.cumsum(
        trajectory(2 * np.pi / motion.max_period))  # the light direction turns slowly
    # Capture: shutter and sensor noise of this clip.
    exposure = rng.uniform(0.0, motion.exposure)
    noise_std = rng.uniform(0.0, motion.noise)
    # Occlusion event: an object crossing the face for some frames.
    occluder = None
    if rng.uniform() < motion.occlusion_probability:
        start = int(rng.integers(0, length))
        stop = int(rng.integers(start + 1, length + 1))
        side = rng.uniform(*motion.occlusion_size) * face_in_frame
        aspect = math.exp(rng.uniform(-0.5, 0.5))
        path = rng.uniform(-0.5, 0.5, (2, 2)) * face_in_frame + frame_center
        grid = rng.uniform(0, 255, (4, 4, 3)).astype(np.float32)
        occluder = dict(start=start, stop=stop, size=(side * aspect, side / aspect), path=path,
                        texture=grid, elliptic=bool(rng.uniform() < 0.5))
    noise_seed = int(rng.integers(0, 2 ** 31))

    # Large shrinks alias with bilinear sampling: halve the photo first (as crop_face does).
    source, source_scale = image, 1.0
    while base_scale * source_scale < 0.5 and min(source.shape[:2]) > 2 * size:
        source = cv2.pyrDown(source)
        source_scale *= 0.5
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    frames, points, visibility = [], [], []
    noise_rng = np.random.default_rng(noise_seed)
    for t in range(length):
        warp = matrices[t].copy()
        warp[:, :2] /= source_scale  # source pixel (x * source_scale) -> same frame point
        frame = cv2.warpAffine(source, warp, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT101).astype(np.float32)
        marks = landmarks @ matrices[t][:, :2].T + matrices[t][:, 2]
        visible = np.ones(len(marks), np.float32)
        if occluder is not None and occluder["start"] <= t < occluder["stop"]:
            span = max(occluder["stop"] - occluder["start"] - 1, 1)
            fraction = (t - occluder["start"]) / span
            middle = (1 - fraction) * occluder["path"][0] + fraction * occluder["path"][1]
            half_w, half_h = occluder["size"][0] / 2, occluder["size"][1] / 2
            if occluder["elliptic"]:
                inside = ((xx - middle[0]) / half_w) ** 2 + ((yy - middle[1]) / half_h) ** 2 <= 1
                covered = ((marks[:, 0] - middle[0]) / half_w) ** 2 + \
                    ((marks[:, 1] - middle[1]) / half_h) ** 2 <= 1
            else:
                inside = (np.abs(xx - middle[0]) <= half_w) & (np.abs(yy - middle[1]) <= half_h)
                covered = (np.abs(marks[:, 0] - middle[0]) <= half_w) & \
                    (np.abs(marks[:, 1] - middle[1]) <= half_h)
            texture = cv2.resize(occluder["texture"], (size, size),
                                 interpolation=cv2.INTER_CUBIC)
            frame = np.where(inside[..., None], texture, frame)
            visible[covered] = 0.0
        # Lighting: contrast about the mean, then one gain per pixel and channel (brightness,
        # colour, and a directional ramp).
        gain, mean = math.exp(contrast[t]), float(frame.mean())
        frame *= gain
        frame += mean * (1.0 - gain)
        cos, sin = math.cos(light_angle[t]), math.sin(light_angle[t])
        ramp = (xx * cos + yy * sin) * (gradient[t] / face_in_frame) + (
            1.0 - gradient[t] * (frame_center[0] * cos + frame_center[1] * sin) / face_in_frame)
        np.maximum(ramp, 0.2, out=ramp)
        channel = np.exp(brightness[t] + colour[t]).astype(np.float32)
        frame *= ramp[..., None] * channel
        # Motion blur along the face's displacement from the previous frame (to the next one
        # for frame 0).
        other = matrices[t - 1] if t > 0 else matrices[min(1, length - 1)]
        displacement = (matrices[t] - other)[:, :2] @ center + (matrices[t] - other)[:, 2]
        blur = exposure * float(np.linalg.norm(displacement))
        if blur >= 1.0:
            kernel = _line_kernel(blur, math.atan2(displacement[1], displacement[0]))
            frame = cv2.filter2D(frame, -1, kernel, borderType=cv2.BORDER_REFLECT101)
        if noise_std > 0:
            frame = frame + noise_rng.standard_normal(frame.shape, dtype=np.float32) * noise_std
        frames.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
        points.append(marks)
        visibility.append(visible)
    return (np.stack(frames), np.stack(points).astype(np.float32),
            np.stack(visibility).astype(np.float32), matrices)


class MotionClipSource:
    """Clips of real still faces under synthetic motion (a clip source of ``zoo.training.data``).

    Clip ``i`` is face ``faces[i]`` rendered with variant ``variants[i]`` of its trajectory:
    :func:`render_clip` with ``numpy.random.default_rng([seed, face, variant])``, so it depends
    on nothing but those three numbers (and the photo).

    Args:
        samples: ``zoo.data.Sample`` list (``read_300w``), 68 landmarks each.
        clip_length: T.
        seed: seed of every trajectory and capture effect.
        clips_per_face: variants per face (``len = len(samples) * clips_per_face``).
        frame_size: side of the square frames (default: the photo's longer side); see
            :func:`frame_size_for`.
        motion: :class:`MotionConfig` (default ranges when None).
        items: ``(face, variant)`` pairs instead of all of them (``subset``).

    Example:
        >>> import numpy as np
        >>> from zoo.data import Sample
        >>> from zoo.data.motion_clips import MotionClipSource
        >>> face = Sample(np.zeros((200, 200, 3), np.uint8),
        ...               np.random.default_rng(0).uniform(60, 140, (68, 2)))
        >>> source = MotionClipSource([face], clip_length=3, clips_per_face=2, frame_size=64)
        >>> len(source), source.subset([1]).items.tolist()
        (2, [[0, 1]])
    """

    scheme = "300w"

    def __init__(self, samples, clip_length, seed=0, clips_per_face=1, frame_size=None,
                 motion=None, items=None):
        if isinstance(clip_length, bool) or not isinstance(clip_length, int) or clip_length < 1:
            raise ValueError(f"clip_length must be a positive integer. Received: "
                             f"clip_length={clip_length!r}")
        if isinstance(clips_per_face, bool) or not isinstance(clips_per_face, int) \
                or clips_per_face < 1:
            raise ValueError(f"clips_per_face must be a positive integer. Received: "
                             f"clips_per_face={clips_per_face!r}")
        self.samples = list(samples)
        if not self.samples:
            raise ValueError("MotionClipSource needs at least one face. Received: samples=[]")
        for sample in self.samples:
            if np.asarray(sample.landmarks).shape != (68, 2):
                raise ValueError("MotionClipSource takes 68-point (300-W) faces. Received: "
                                 f"landmarks.shape={np.asarray(sample.landmarks).shape}")
        self.clip_length = int(clip_length)
        self.seed = int(seed)
        self.clips_per_face = int(clips_per_face)
        self.motion = motion or MotionConfig()
        if frame_size is None:
            frame_size = max(self._image(0).shape[:2])
        self.frame_size = int(frame_size)
        if items is None:
            items = [(face, variant) for face in range(len(self.samples))
                     for variant in range(self.clips_per_face)]
        self.items = np.asarray(items, np.int64).reshape(-1, 2)

    def __len__(self):
        return len(self.items)

    @property
    def videos(self):
        """The face of every clip: clips of one face are one "video" (k-fold splits by face)."""
        return [int(face) for face in self.items[:, 0]]

    def subset(self, positions):
        return MotionClipSource(self.samples, self.clip_length, self.seed, self.clips_per_face,
                                self.frame_size, self.motion,
                                self.items[np.asarray(positions, np.int64)])

    def _image(self, face):
        from zoo.data.readers.common import load_sample_image

        sample = self.samples[int(face)]
        if isinstance(sample.image, (str, os.PathLike)):
            return load_sample_image(sample)
        return np.asarray(sample.image, np.uint8)

    def render(self, position):
        """Clip ``position`` as :func:`render_clip` gives it (frames, landmarks, visibility,
        matrices)."""
        face, variant = (int(v) for v in self.items[int(position)])
        rng = np.random.default_rng([self.seed, face, variant])
        return render_clip(self._image(face), self.samples[face].landmarks, self.clip_length,
                           rng, self.frame_size, self.motion)

    def clip(self, position):
        """Clip at ``position``: ``(frames uint8 (T, S, S, 3), landmarks float32 (T, 68, 2))``."""
        frames, landmarks, _, _ = self.render(position)
        return frames, landmarks

    def _clip_with_visibility(self, position):
        frames, landmarks, visibility, _ = self.render(position)
        return frames, landmarks, visibility

    def element_dataset(self, shuffle_seed=None, repeat=True):
        """``tf.data`` of clip dicts ``image (T, S, S, 3)``, ``landmarks``, ``visibility``."""
        import tensorflow as tf

        length, size = self.clip_length, self.frame_size

        def load(position):
            image, landmarks, visibility = tf.numpy_function(
                self._clip_with_visibility, [position], [tf.uint8, tf.float32, tf.float32],
                stateful=False)
            return {"image": tf.ensure_shape(image, (length, size, size, 3)),
                    "landmarks": tf.ensure_shape(landmarks, (length, 68, 2)),
                    "visibility": tf.ensure_shape(visibility, (length, 68))}

        positions = tf.data.Dataset.range(len(self))
        if shuffle_seed is not None:
            positions = positions.shuffle(len(self), seed=shuffle_seed,
                                          reshuffle_each_iteration=True)
        if repeat:
            positions = positions.repeat()
        return positions.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def evaluation_clips(data_dir, input_size, clip_length=EVALUATION_CLIP_LENGTH, split="common",
                     seed=EVALUATION_SEED, max_faces=None):
    """The fixed evaluation clips: every face of a 300-W test split, one clip each.

    Here ``split="common"`` holds the HELEN half of the common test subset (330 faces,
    ``helen/testset``). The seed is fixed, so every run scores the same clips.

    Args:
        data_dir: 300-W root.
        input_size: the tracker's crop size F (sets ``frame_size_for(F)``).
        clip_length: frames per clip.
        split: ``read_300w`` split.
        seed: trajectory seed (default :data:`EVALUATION_SEED`).
        max_faces: the first this many faces only (None: all).

    Returns:
        A :class:`MotionClipSource`.

    Example:
        >>> import os
        >>> from zoo.data.motion_clips import evaluation_clips
        >>> os.makedirs("300w")  # a 300-W root with afw/ only: 11 real training faces of the fixtures
        >>> os.symlink(fixtures_dir / "300w" / "pts_images", os.path.join("300w", "afw"))
        >>> clips = evaluation_clips("300w", 128, split="train", max_faces=2)  # the full root and
        >>> len(clips), clips.clip_length, clips.frame_size  # split="common": 330 HELEN test faces
        (2, 40, 226)
    """
    from zoo.data.readers import read_300w

    samples, report = read_300w(data_dir, split)
    if not samples:
        raise ValueError(f"No 300-W {split} face under {data_dir} ({report.summary()}). "
                         f"Received: data_dir={data_dir!r}")
    if max_faces is not None:
        samples = samples[:int(max_faces)]
    return MotionClipSource(samples, clip_length, seed=seed,
                            frame_size=frame_size_for(input_size))


# Tracker training on 300-W faces: variants of every training face (each epoch also draws new
# crop drifts and augmentations), longer validation clips for the tracking protocol.
TRAINING_CLIPS_PER_FACE = 8
VALIDATION_CLIP_LENGTH = 16


def training_sources(train_samples, val_samples, clip_length, input_size, seed=0,
                     clips_per_face=TRAINING_CLIPS_PER_FACE,
                     val_clip_length=VALIDATION_CLIP_LENGTH):
    """Training and validation motion clips from the detector's training/validation faces.

    Args:
        train_samples: training faces (``Sample`` list).
        val_samples: validation faces (the detector's fixed hold-out).
        clip_length: T of the training clips.
        input_size: the tracker's crop size F (frames of ``frame_size_for(F)``).
        seed: training seed (validation clips use ``seed + 1000``).
        clips_per_face: trajectory variants per training face.
        val_clip_length: frames per validation clip (at least ``clip_length``).

    Returns:
        ``(train MotionClipSource, val MotionClipSource)``.

    Example:
        >>> from zoo.data.motion_clips import training_sources
        >>> # train, val = training_sources(faces.samples, val_faces.samples, 4, 128)
    """
    frame_size = frame_size_for(input_size)
    train = MotionClipSource(train_samples, clip_length, seed=seed,
                             clips_per_face=clips_per_face, frame_size=frame_size)
    val = MotionClipSource(val_samples, max(int(val_clip_length), clip_length),
                           seed=seed + 1_000, frame_size=frame_size)
    print(f"300w faces as motion clips (zoo.data.motion_clips, no 300-VW video here): "
          f"{len(train)} training clips of {clip_length} frames ({len(train_samples)} faces x "
          f"{clips_per_face}), {len(val)} validation clips of {val.clip_length} frames, "
          f"frames {frame_size} px")
    return train, val
