"""SynthFace: synthetic face images and videos with exact 68-point (300-W / iBUG) landmarks.

The embedded default data set for demos, tests and CPU-scale experiments. Face shapes come from
the statistical shape model fitted to 300-W annotations (``zoo.data.shape_model``); each face is
drawn with OpenCV directly at the target size (skin, hair, jaw line, brows, eyes with iris, nose,
lips, neck) over a cluttered background, then lit with a directional gradient, optionally
occluded, blurred and noised. Every drawn feature is built from the landmarks themselves (eye
outlines are polygons through the eye points, the jaw is the face outline through the jaw
points, ...), so the landmarks are exact by construction. Everything is deterministic for a
seed: ``SynthFace(seed=s).sample(i)`` depends on ``(s, i)`` only.

Example:
    >>> face = zoo.data.synthface.SynthFace(image_size=256, seed=0)
    >>> sample = face.sample(3)
    >>> sample.image.shape, sample.landmarks.shape
    ((256, 256, 3), (68, 2))
"""
import dataclasses

import cv2
import numpy as np

from zoo.data.sample import Sample
from zoo.data.shape_model import load_shape_model

NUM_LANDMARKS = 68
_SHIFT = 4  # cv2 fixed-point bits: points are drawn at 1/16 pixel precision
_ONE = 1 << _SHIFT

# iBUG 68-point groups.
JAW = np.arange(0, 17)
RIGHT_BROW = np.arange(17, 22)  # subject's right, image left
LEFT_BROW = np.arange(22, 27)
NOSE_BRIDGE = np.arange(27, 31)
NOSE_BASE = np.arange(31, 36)
RIGHT_EYE = np.arange(36, 42)
LEFT_EYE = np.arange(42, 48)
OUTER_LIPS = np.arange(48, 60)
INNER_LIPS = np.arange(60, 68)

_SKIN_TONES = np.array(
    [[255, 224, 196], [241, 194, 160], [224, 172, 135], [198, 134, 100], [160, 105, 72],
     [120, 76, 50], [92, 58, 38], [250, 210, 180]], np.float32,
)
_HAIR = np.array(
    [[20, 16, 14], [60, 40, 25], [110, 75, 45], [170, 130, 80], [200, 180, 140], [90, 90, 90],
     [140, 50, 30]], np.float32,
)
_IRIS = np.array([[70, 45, 25], [40, 90, 140], [60, 110, 70], [110, 80, 50], [30, 30, 30]], np.float32)


@dataclasses.dataclass(frozen=True)
class FacePose:
    """Where and how a face sits in the image.

    Attributes:
        center: (x, y) pixel position of the shape's centroid.
        radius: RMS distance of the landmarks from their centroid, in pixels.
        angle: in-plane rotation in degrees (positive turns the face clockwise on screen).
        coefficients: (K,) shape-model coefficients (identity, yaw, expression).
    """

    center: tuple
    radius: float
    angle: float
    coefficients: np.ndarray


@dataclasses.dataclass(frozen=True)
class Appearance:
    """Colours and clutter that stay fixed for one face (and for a whole video)."""

    skin: np.ndarray
    hair: np.ndarray
    iris: np.ndarray
    lips: np.ndarray
    background: np.ndarray
    clutter_seed: int
    hair_style: int
    light_angle: float
    light_strength: float


def _pts(points):
    """Float pixel points -> int32 fixed-point array for cv2 drawing with ``shift``."""
    return np.round(np.asarray(points, np.float64) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _colour(rgb):
    return tuple(float(c) for c in rgb)


class SynthFace:
    """Generator of synthetic faces with exact landmarks.

    Args:
        image_size: side of the square RGB images in pixels (>= 32).
        seed: integer seed; ``sample(i)`` and ``video(n, seed=j)`` are functions of it.
        face_scale: (min, max) fraction of ``image_size`` spanned by the face width.
        max_angle: largest in-plane rotation in degrees.
        shape_scale: spread of the shape-model coefficients (1.0 = the spread of 300-W).
        occlusion_probability: chance of an occluder (hand/object/scarf-like shape) over the face.
        blur_probability: chance of a Gaussian (or motion, in videos) blur.
        noise_std: max standard deviation of additive pixel noise.

    Example:
        >>> face = zoo.data.synthface.SynthFace(image_size=128, seed=1)
        >>> frames, landmarks, occluded = face.video(8, seed=2)
        >>> frames.shape, landmarks.shape, occluded.shape
        ((8, 128, 128, 3), (8, 68, 2), (8,))
    """

    def __init__(
        self,
        image_size=256,
        seed=0,
        face_scale=(0.45, 0.7),
        max_angle=25.0,
        shape_scale=1.0,
        occlusion_probability=0.25,
        blur_probability=0.2,
        noise_std=6.0,
    ):
        if int(image_size) < 32:
            raise ValueError(f"image_size must be >= 32. Received: image_size={image_size}")
        if not 0 < face_scale[0] <= face_scale[1] <= 1.2:
            raise ValueError(f"face_scale must satisfy 0 < min <= max <= 1.2. Received: face_scale={face_scale}")
        for name, value in (("occlusion_probability", occlusion_probability),
                            ("blur_probability", blur_probability)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]. Received: {name}={value}")
        if max_angle < 0 or shape_scale < 0 or noise_std < 0:
            raise ValueError(
                "max_angle, shape_scale and noise_std must be >= 0. Received: "
                f"max_angle={max_angle}, shape_scale={shape_scale}, noise_std={noise_std}"
            )
        self.image_size = int(image_size)
        self.seed = int(seed)
        self.face_scale = tuple(float(v) for v in face_scale)
        self.max_angle = float(max_angle)
        self.shape_scale = float(shape_scale)
        self.occlusion_probability = float(occlusion_probability)
        self.blur_probability = float(blur_probability)
        self.noise_std = float(noise_std)
        self.shape_model = load_shape_model()
        mean = self.shape_model.mean
        # Width of the mean face (jaw corner to jaw corner) in shape units, to size faces.
        self._mean_width = float(mean[16, 0] - mean[0, 0])
        self._noise_tiles = None

    # ------------------------------------------------------------------ random draws
    def _appearance(self, rng):
        skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.9, 1.08, 3)
        lips = skin * np.array([0.85, 0.55, 0.55]) * rng.uniform(0.8, 1.05)
        return Appearance(
            skin=np.clip(skin, 0, 255),
            hair=_HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.8, 1.2),
            iris=_IRIS[rng.integers(len(_IRIS))],
            lips=np.clip(lips, 0, 255),
            background=rng.uniform(30, 220, 3),
            clutter_seed=int(rng.integers(2**31)),
            hair_style=int(rng.integers(3)),
            light_angle=float(rng.uniform(0, 2 * np.pi)),
            light_strength=float(rng.uniform(0.0, 0.45)),
        )

    def _pose(self, rng):
        size = self.image_size
        width = rng.uniform(*self.face_scale) * size
        radius = width / self._mean_width
        margin = 0.5 * width
        center = (
            float(rng.uniform(0.5 * size - 0.12 * size, 0.5 * size + 0.12 * size)),
            float(rng.uniform(0.5 * size - 0.1 * size, 0.5 * size + 0.12 * size)),
        )
        center = tuple(float(np.clip(c, margin * 0.6, size - margin * 0.6)) for c in center)
        angle = float(np.clip(rng.normal(0, self.max_angle / 2.5), -self.max_angle, self.max_angle))
        _, coefficients = self.shape_model.sample(rng, scale=self.shape_scale, clip=2.5)
        return FacePose(center, float(radius), angle, coefficients)

    def landmarks_for(self, pose):
        """Image landmarks (68, 2) float32 for a ``FacePose``.

        Args:
            pose: a ``FacePose``.

        Returns:
            (68, 2) float32, 0-based pixel coordinates.

        Example:
            >>> face = zoo.data.synthface.SynthFace(image_size=64)
            >>> pose = zoo.data.synthface.FacePose((32.0, 32.0), 10.0, 0.0, np.zeros(12))
            >>> face.landmarks_for(pose).shape
            (68, 2)
        """
        shape = self.shape_model.shape(pose.coefficients)
        theta = np.deg2rad(pose.angle)
        c, s = np.cos(theta), np.sin(theta)
        rotation = np.array([[c, s], [-s, c]], np.float32)  # row vectors; +angle = clockwise on screen
        return (shape @ rotation * pose.radius + np.asarray(pose.center, np.float32)).astype(np.float32)

    # ------------------------------------------------------------------ drawing
    def _background(self, appearance):
        size = self.image_size
        rng = np.random.default_rng(appearance.clutter_seed)
        base = appearance.background
        other = rng.uniform(20, 235, 3)
        # A linear two-colour gradient: a 2-pixel image resized bilinearly (all in OpenCV).
        ends = np.stack([base, other]).astype(np.uint8)
        ends = ends[:, None, :] if rng.random() < 0.5 else ends[None, :, :]
        image = cv2.resize(ends, (size, size), interpolation=cv2.INTER_LINEAR)
        for _ in range(int(rng.integers(4, 12))):  # clutter: boxes, discs, lines
            colour = _colour(rng.uniform(0, 255, 3))
            kind = rng.integers(3)
            p = rng.uniform(-0.1, 1.1, 2) * size
            if kind == 0:
                q = p + rng.uniform(-0.4, 0.4, 2) * size
                cv2.rectangle(image, _pts(p)[0, 0], _pts(q)[0, 0], colour, -1, cv2.LINE_AA, _SHIFT)
            elif kind == 1:
                r = int(rng.uniform(0.03, 0.2) * size * _ONE)
                cv2.circle(image, _pts(p)[0, 0], r, colour, -1, cv2.LINE_AA, _SHIFT)
            else:
                q = p + rng.uniform(-0.6, 0.6, 2) * size
                cv2.line(image, _pts(p)[0, 0], _pts(q)[0, 0], colour, int(rng.integers(1, 4)),
                         cv2.LINE_AA, _SHIFT)
        return image

    def _head_outline(self, landmarks, scale=1.0, top=1.0):
        """Face outline: the jaw points, then an elliptical forehead arc from point 16 to 0."""
        jaw = landmarks[JAW]
        left, right = jaw[0], jaw[16]
        center = 0.5 * (left + right)
        axis = right - left
        half_width = 0.5 * np.linalg.norm(axis)
        unit = axis / max(half_width * 2, 1e-6)
        up = np.array([unit[1], -unit[0]])  # perpendicular, towards the forehead
        brow_height = np.max((landmarks[17:27] - center) @ up)
        height = max(brow_height * 1.45, half_width * 0.9) * top
        t = np.linspace(0.0, np.pi, 15)[1:-1]
        arc = center + (np.cos(t)[:, None] * half_width * scale) * unit + (np.sin(t)[:, None] * height) * up
        if scale != 1.0:
            jaw = center + (jaw - center) * scale
        return np.concatenate([jaw, arc]), center, unit, up, half_width, height

    def render(self, landmarks, appearance, rng, occluder=None, blur=None):
        """Draws one face whose features sit on ``landmarks``.

        Args:
            landmarks: (68, 2) pixel coordinates.
            appearance: an ``Appearance``.
            rng: ``numpy.random.Generator`` for per-image noise.
            occluder: None or ``(kind, params, colour)`` from ``_draw_occluder``'s conventions.
            blur: None, ``("gaussian", sigma)`` or ``("motion", length, angle)``.

        Returns:
            (H, W, 3) uint8 RGB image.
        """
        size = self.image_size
        image = self._background(appearance)
        skin = appearance.skin
        outline, center, unit, up, half_width, height = self._head_outline(landmarks)
        thick = max(1, int(round(half_width * 0.045)))

        # Neck and shoulders first, under the face.
        chin = landmarks[8]
        neck = np.array([
            landmarks[4] + 0.1 * (center - landmarks[4]), landmarks[12] + 0.1 * (center - landmarks[12]),
            chin + unit * half_width * 0.75 - up * half_width * 1.2,
            chin - unit * half_width * 0.75 - up * half_width * 1.2,
        ])
        cv2.fillPoly(image, [_pts(neck)], _colour(skin * 0.78), cv2.LINE_AA, _SHIFT)
        shoulders = np.array([
            chin - unit * half_width * 0.7 - up * half_width * 0.9,
            chin + unit * half_width * 0.7 - up * half_width * 0.9,
            chin + unit * half_width * 2.6 - up * half_width * 1.8,
            chin - unit * half_width * 2.6 - up * half_width * 1.8,
        ])
        cv2.fillPoly(image, [_pts(shoulders)], _colour(appearance.background[::-1] * 0.7),
                     cv2.LINE_AA, _SHIFT)

        # Hair behind the head (longer styles fall to the jaw).
        if appearance.hair_style > 0:
            hair_outline, *_ = self._head_outline(landmarks, scale=1.12, top=1.18)
            if appearance.hair_style == 2:
                hair_outline = np.concatenate([
                    hair_outline[:1] - up * half_width * 0.6, hair_outline[17:], hair_outline[16:17]
                    - up * half_width * 0.6])
            cv2.fillPoly(image, [_pts(hair_outline)], _colour(appearance.hair), cv2.LINE_AA, _SHIFT)

        # Ears: half-discs at the jaw corners, drawn before the face.
        for index, sign in ((1, -1), (15, 1)):
            ear_center = landmarks[index] + unit * sign * half_width * 0.03 + up * half_width * 0.12
            axes = (max(1, int(half_width * 0.14 * _ONE)), max(1, int(half_width * 0.28 * _ONE)))
            angle = np.degrees(np.arctan2(unit[1], unit[0]))
            cv2.ellipse(image, _pts(ear_center)[0, 0], axes, angle, 0, 360, _colour(skin * 0.85), -1,
                        cv2.LINE_AA, _SHIFT)

        # Face: skin polygon through the jaw points; the jaw line itself is drawn on the outline.
        cv2.fillPoly(image, [_pts(outline)], _colour(skin), cv2.LINE_AA, _SHIFT)
        # Cheek shading: a darker band along the lower jaw (the jaw points stay on its outer edge).
        cv2.polylines(image, [_pts(landmarks[JAW])], False, _colour(skin * 0.62), thick,
                      cv2.LINE_AA, _SHIFT)
        if appearance.hair_style > 0:  # fringe over the top of the forehead
            top = outline[17:28]
            inner = (top - center) * 0.8 + center + up * height * 0.08
            fringe = np.concatenate([top, inner[::-1]])
            cv2.fillPoly(image, [_pts(fringe)], _colour(appearance.hair), cv2.LINE_AA, _SHIFT)

        # Eyebrows: thick strokes through the brow points.
        for brow in (RIGHT_BROW, LEFT_BROW):
            cv2.polylines(image, [_pts(landmarks[brow])], False, _colour(appearance.hair * 0.8),
                          max(2, int(round(half_width * 0.09))), cv2.LINE_AA, _SHIFT)

        # Eyes: sclera polygon through the six contour points, iris clipped to it, dark outline.
        for eye in (RIGHT_EYE, LEFT_EYE):
            self._draw_eye(image, landmarks[eye], appearance, thick)

        # Nose: bridge line, nostril base stroke, nostrils, a soft shadow under the tip.
        shade = _colour(skin * 0.68)
        cv2.polylines(image, [_pts(landmarks[NOSE_BRIDGE])], False, shade, thick, cv2.LINE_AA, _SHIFT)
        cv2.polylines(image, [_pts(landmarks[NOSE_BASE])], False, shade, thick, cv2.LINE_AA, _SHIFT)
        cv2.polylines(image, [_pts(landmarks[[31, 30, 35]])], False, _colour(skin * 0.8), thick,
                      cv2.LINE_AA, _SHIFT)
        nostril_axes = (max(1, int(half_width * 0.045 * _ONE)), max(1, int(half_width * 0.025 * _ONE)))
        angle = np.degrees(np.arctan2(unit[1], unit[0]))
        for a, b in ((31, 33), (35, 33)):
            nostril = 0.6 * landmarks[a] + 0.4 * landmarks[b] + up * half_width * 0.03
            cv2.ellipse(image, _pts(nostril)[0, 0], nostril_axes, angle, 0, 360, _colour(skin * 0.35), -1,
                        cv2.LINE_AA, _SHIFT)

        # Lips: outer polygon in lip colour, mouth opening (inner polygon) dark, lip line.
        cv2.fillPoly(image, [_pts(landmarks[OUTER_LIPS])], _colour(appearance.lips), cv2.LINE_AA, _SHIFT)
        cv2.fillPoly(image, [_pts(landmarks[INNER_LIPS])], (60.0, 20.0, 25.0), cv2.LINE_AA, _SHIFT)
        cv2.polylines(image, [_pts(landmarks[INNER_LIPS])], True, _colour(appearance.lips * 0.5), 1,
                      cv2.LINE_AA, _SHIFT)

        image = self._light(image, appearance)
        if occluder is not None:
            self._draw_occluder(image, occluder)
        if blur is not None:
            image = _apply_blur(image, blur)
        if self.noise_std > 0:
            image = self._add_noise(image, rng)
        return image

    def _add_noise(self, image, rng):
        # Drawing fresh Gaussian noise per pixel costs more than the rest of the rendering, so
        # each image takes a random window of one of four fixed noise tiles (strengths 1/4 to
        # 4/4 of noise_std), added with saturation.
        size = self.image_size
        if self._noise_tiles is None:
            tile_rng = np.random.default_rng([self.seed, 7])
            unit = tile_rng.standard_normal((2 * size, 2 * size, 3))
            tiles = []
            for k in (1, 2, 3, 4):
                noise = np.round(unit * self.noise_std * k / 4)
                # Positive and negative parts as uint8, so adding is two saturating uint8 ops.
                tiles.append((np.clip(noise, 0, 255).astype(np.uint8),
                              np.clip(-noise, 0, 255).astype(np.uint8)))
            # Assigned once, complete: parallel tf.data renders may race here harmlessly
            # (every thread builds the same tiles from the same seed).
            self._noise_tiles = tiles
        y, x = rng.integers(0, size, 2)
        plus, minus = self._noise_tiles[int(rng.integers(4))]
        image = cv2.add(image, plus[y:y + size, x:x + size])
        return cv2.subtract(image, minus[y:y + size, x:x + size])

    def _draw_eye(self, image, eye, appearance, thick):
        x0, y0 = np.floor(eye.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(eye.max(axis=0)).astype(int) + 3
        size = self.image_size
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        local = eye - np.array([x0, y0])
        roi = image[y0:y1, x0:x1]
        mask = np.zeros(roi.shape[:2], np.uint8)
        cv2.fillPoly(mask, [_pts(local)], 255, cv2.LINE_AA, _SHIFT)
        patch = roi.copy()
        cv2.fillPoly(patch, [_pts(local)], (235.0, 232.0, 225.0), cv2.LINE_AA, _SHIFT)
        width = np.linalg.norm(eye[3] - eye[0])
        iris_center = eye.mean(axis=0)
        radius = max(1, int(width * 0.24 * _ONE))
        cv2.circle(patch, _pts(iris_center - [x0, y0])[0, 0], radius, _colour(appearance.iris), -1,
                   cv2.LINE_AA, _SHIFT)
        cv2.circle(patch, _pts(iris_center - [x0, y0])[0, 0], radius // 2, (10.0, 10.0, 10.0), -1,
                   cv2.LINE_AA, _SHIFT)
        alpha = (mask.astype(np.float32) / 255.0)[..., None]
        roi[:] = (patch * alpha + roi * (1 - alpha)).astype(np.uint8)
        cv2.polylines(image, [_pts(eye)], True, (35.0, 25.0, 25.0), max(1, thick // 2 + 1), cv2.LINE_AA,
                      _SHIFT)

    def _light(self, image, appearance):
        if appearance.light_strength <= 0.01:
            return image
        # A directional light: gain 1 +- strength across the image, applied as a uint8 multiply
        # (gain stored in 1/128 units) on a 2x2 map resized bilinearly, which is a linear ramp.
        size = self.image_size
        c, s = np.cos(appearance.light_angle), np.sin(appearance.light_angle)
        corners = 1.0 + appearance.light_strength * np.array([[-c - s, c - s], [-c + s, c + s]])
        gain = cv2.resize((corners * 128).astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
        gain = cv2.cvtColor(np.clip(gain, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
        return cv2.multiply(image, gain, scale=1.0 / 128)

    def _make_occluder(self, rng, landmarks):
        """An occluder over part of the face: ('rect'|'ellipse', geometry, colour)."""
        lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
        extent = hi - lo
        center = lo + rng.uniform(0.1, 0.9, 2) * extent
        half = rng.uniform(0.15, 0.35, 2) * extent
        colour = rng.uniform(0, 255, 3)
        kind = "rect" if rng.random() < 0.5 else "ellipse"
        return kind, (center, half, float(rng.uniform(-30, 30))), colour

    def _draw_occluder(self, image, occluder):
        kind, (center, half, angle), colour = occluder
        if kind == "rect":
            box = cv2.boxPoints(((float(center[0]), float(center[1])), (2 * float(half[0]), 2 * float(half[1])), angle))
            cv2.fillPoly(image, [_pts(box)], _colour(colour), cv2.LINE_AA, _SHIFT)
        else:
            axes = (max(1, int(half[0] * _ONE)), max(1, int(half[1] * _ONE)))
            cv2.ellipse(image, _pts(center)[0, 0], axes, angle, 0, 360, _colour(colour), -1, cv2.LINE_AA, _SHIFT)

    @staticmethod
    def occluded(landmarks, occluder):
        """Boolean (68,) mask of landmarks covered by ``occluder`` (None: all False).

        Args:
            landmarks: (N, 2) pixel coordinates.
            occluder: the occluder tuple or None.

        Returns:
            (N,) bool array.

        Example:
            >>> bool(zoo.data.synthface.SynthFace.occluded(np.zeros((68, 2)), None).any())
            False
        """
        if occluder is None:
            return np.zeros(len(landmarks), bool)
        _, (center, half, angle), _ = occluder
        theta = np.deg2rad(angle)
        c, s = np.cos(theta), np.sin(theta)
        d = landmarks - np.asarray(center)
        u = d[:, 0] * c + d[:, 1] * s  # coordinates in the occluder's own frame
        v = -d[:, 0] * s + d[:, 1] * c
        if occluder[0] == "rect":
            return (np.abs(u) <= half[0]) & (np.abs(v) <= half[1])
        return (u / half[0]) ** 2 + (v / half[1]) ** 2 <= 1.0

    # ------------------------------------------------------------------ public API
    def sample(self, index):
        """Renders face number ``index`` (deterministic for ``(seed, index)``).

        Args:
            index: non-negative integer.

        Returns:
            ``zoo.data.Sample`` with ``image`` (H, W, 3) uint8 RGB, ``landmarks`` (68, 2) float32
            0-based, ``visibility`` (68,) float32 (0 where an occluder covers the point), ``box``
            (4,) float32 landmark bounding box x1, y1, x2, y2, ``meta`` with the pose.

        Example:
            >>> sample = zoo.data.synthface.SynthFace(image_size=128, seed=0).sample(0)
            >>> sample.visibility.shape
            (68,)
        """
        if int(index) < 0:
            raise ValueError(f"index must be >= 0. Received: index={index}")
        rng = np.random.default_rng([self.seed, int(index)])
        appearance = self._appearance(rng)
        pose = self._pose(rng)
        landmarks = self.landmarks_for(pose)
        occluder = self._make_occluder(rng, landmarks) if rng.random() < self.occlusion_probability else None
        blur = ("gaussian", float(rng.uniform(0.6, 2.0))) if rng.random() < self.blur_probability else None
        image = self.render(landmarks, appearance, rng, occluder, blur)
        visibility = (~self.occluded(landmarks, occluder)).astype(np.float32)
        return Sample(
            image=image,
            landmarks=landmarks,
            visibility=visibility,
            box=np.concatenate([landmarks.min(axis=0), landmarks.max(axis=0)]).astype(np.float32),
            meta={"source": "synthface", "seed": self.seed, "index": int(index), "angle": pose.angle,
                  "occluded": occluder is not None, "blurred": blur is not None},
        )

    def video(self, num_frames, seed=0):
        """Renders a video: smooth pose and expression, occlusion and blur events.

        One identity and background per video; centre, size, in-plane angle and shape
        coefficients follow smooth random trajectories (sums of a few slow sinusoids). An
        occluder may slide across the face for a stretch of frames; a motion-blur event may
        cover another stretch.

        Args:
            num_frames: number of frames (>= 1).
            seed: video seed (combined with the generator's seed).

        Returns:
            (frames (T, H, W, 3) uint8, landmarks (T, 68, 2) float32, occluded (T,) bool: an
            occluder covers at least one landmark in that frame). Per-frame visibility is
            available from ``video_samples``.

        Example:
            >>> frames, landmarks, occluded = zoo.data.synthface.SynthFace(128).video(4, seed=1)
        """
        samples = self.video_samples(num_frames, seed)
        return (
            np.stack([s.image for s in samples]),
            np.stack([s.landmarks for s in samples]),
            np.array([bool((s.visibility < 1).any()) for s in samples]),
        )

    def video_samples(self, num_frames, seed=0):
        """Like ``video`` but returns one ``Sample`` per frame (with visibility and box).

        Args:
            num_frames: number of frames (>= 1).
            seed: video seed.

        Returns:
            list of ``zoo.data.Sample``; ``meta`` holds ``frame``, ``occluded``, ``blurred``.

        Example:
            >>> samples = zoo.data.synthface.SynthFace(128).video_samples(3, seed=0)
            >>> [s.meta["frame"] for s in samples]
            [0, 1, 2]
        """
        if int(num_frames) < 1:
            raise ValueError(f"num_frames must be >= 1. Received: num_frames={num_frames}")
        num_frames = int(num_frames)
        rng = np.random.default_rng([self.seed, 1_000_003, int(seed)])
        appearance = self._appearance(rng)
        base = self._pose(rng)
        t = np.arange(num_frames, dtype=np.float64)

        def wander(amplitude, count=3):
            # Smooth trajectory: a few sinusoids with periods of 20-120 frames.
            periods = rng.uniform(20, 120, count)
            phases = rng.uniform(0, 2 * np.pi, count)
            weights = rng.uniform(0.3, 1.0, count)
            signal = (weights[:, None] * np.sin(2 * np.pi * t[None] / periods[:, None] + phases[:, None])).sum(0)
            return amplitude * signal / weights.sum()

        size = self.image_size
        dx, dy = wander(0.08 * size), wander(0.06 * size)
        dscale = np.exp(wander(0.12))
        dangle = wander(self.max_angle * 0.6)
        std = np.sqrt(self.shape_model.variances) * self.shape_scale
        dcoef = np.stack([wander(1.2 * s) for s in std], axis=1)

        occluder_span = blur_span = (0, 0)
        if num_frames >= 4 and rng.random() < max(self.occlusion_probability, 0.5):
            start = int(rng.integers(0, num_frames - 2))
            occluder_span = (start, int(min(num_frames, start + rng.integers(2, max(3, num_frames // 2)))))
        if num_frames >= 4 and rng.random() < max(self.blur_probability, 0.5):
            start = int(rng.integers(0, num_frames - 1))
            blur_span = (start, int(min(num_frames, start + rng.integers(1, max(2, num_frames // 4)))))
        occluder_template = None
        samples = []
        for frame in range(num_frames):
            pose = FacePose(
                center=(base.center[0] + dx[frame], base.center[1] + dy[frame]),
                radius=base.radius * dscale[frame],
                angle=float(np.clip(base.angle + dangle[frame], -self.max_angle, self.max_angle)),
                coefficients=base.coefficients * 0.7 + dcoef[frame],
            )
            landmarks = self.landmarks_for(pose)
            occluder = None
            if occluder_span[0] <= frame < occluder_span[1]:
                if occluder_template is None:
                    occluder_template = self._make_occluder(rng, landmarks)
                kind, (center, half, angle), colour = occluder_template
                # The occluder slides across the face over the event.
                progress = (frame - occluder_span[0]) / max(1, occluder_span[1] - occluder_span[0] - 1)
                shift = (progress - 0.5) * half * 1.5
                occluder = (kind, (center + shift, half, angle), colour)
            blur = None
            if blur_span[0] <= frame < blur_span[1]:
                blur = ("motion", float(rng.uniform(3, 9)), float(rng.uniform(0, 180)))
            frame_rng = np.random.default_rng([self.seed, 1_000_003, int(seed), frame])
            image = self.render(landmarks, appearance, frame_rng, occluder, blur)
            visibility = (~self.occluded(landmarks, occluder)).astype(np.float32)
            samples.append(Sample(
                image=image, landmarks=landmarks, visibility=visibility,
                box=np.concatenate([landmarks.min(axis=0), landmarks.max(axis=0)]).astype(np.float32),
                meta={"source": "synthface", "seed": self.seed, "video": int(seed), "frame": frame,
                      "occluded": bool((visibility < 1).any()), "blurred": blur is not None},
            ))
        return samples


def _apply_blur(image, blur):
    if blur[0] == "gaussian":
        return cv2.GaussianBlur(image, (0, 0), blur[1])
    length, angle = blur[1], np.deg2rad(blur[2])
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    d = np.array([np.cos(angle), np.sin(angle)]) * (length - 1) / 2
    cv2.line(kernel, _pts([c - d[0], c - d[1]])[0, 0], _pts([c + d[0], c + d[1]])[0, 0], 1.0, 1,
             cv2.LINE_AA, _SHIFT)
    return cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))


def dataset(image_size=256, seed=0, num_samples=None, with_metadata=False, num_parallel_calls=None,
            **synthface_kwargs):
    """A ``tf.data.Dataset`` of SynthFace faces, rendered in parallel inside ``map``.

    Args:
        image_size: side of the images.
        seed: generator seed; element ``i`` is ``SynthFace(seed=seed).sample(i)``.
        num_samples: number of faces; None for an endless stream.
        with_metadata: False yields ``(image, landmarks)``; True yields a dict with ``image``
            (H, W, 3) uint8, ``landmarks`` (68, 2) float32, ``visibility`` (68,) float32 and
            ``box`` (4,) float32, the form ``zoo.data.pipeline.make_dataset`` takes.
        num_parallel_calls: parallel renders (default ``tf.data.AUTOTUNE``); the order stays
            deterministic.
        **synthface_kwargs: passed to ``SynthFace``.

    Returns:
        ``tf.data.Dataset``.

    Example:
        >>> ds = zoo.data.synthface.dataset(image_size=128, num_samples=4)
        >>> image, landmarks = next(iter(ds))
    """
    import tensorflow as tf

    generator = SynthFace(image_size=image_size, seed=seed, **synthface_kwargs)
    size = generator.image_size

    def render(index):
        sample = generator.sample(int(index))
        return sample.image, sample.landmarks, sample.visibility, sample.box

    def render_tf(index):
        image, landmarks, visibility, box = tf.numpy_function(
            render, [index], [tf.uint8, tf.float32, tf.float32, tf.float32], stateful=False
        )
        image = tf.ensure_shape(image, (size, size, 3))
        landmarks = tf.ensure_shape(landmarks, (NUM_LANDMARKS, 2))
        if not with_metadata:
            return image, landmarks
        return {"image": image, "landmarks": landmarks,
                "visibility": tf.ensure_shape(visibility, (NUM_LANDMARKS,)),
                "box": tf.ensure_shape(box, (4,))}

    indices = tf.data.Dataset.range(num_samples) if num_samples is not None else tf.data.Dataset.range(2**62)
    return indices.map(render_tf, num_parallel_calls=num_parallel_calls or tf.data.AUTOTUNE,
                       deterministic=True)


def clip_dataset(clip_length, image_size=256, seed=0, num_clips=None, num_parallel_calls=None,
                 **synthface_kwargs):
    """A ``tf.data.Dataset`` of SynthFace video clips for ``make_clip_dataset``.

    Args:
        clip_length: frames per clip (T).
        image_size: side of the frames.
        seed: generator seed; clip ``i`` is ``SynthFace(seed=seed).video_samples(T, seed=i)``.
        num_clips: number of clips; None for an endless stream.
        num_parallel_calls: parallel renders (default ``tf.data.AUTOTUNE``).
        **synthface_kwargs: passed to ``SynthFace``.

    Returns:
        ``tf.data.Dataset`` of dicts: ``image`` (T, H, W, 3) uint8, ``landmarks`` (T, 68, 2),
        ``visibility`` (T, 68), ``box`` (T, 4).

    Example:
        >>> ds = zoo.data.synthface.clip_dataset(4, image_size=64, num_clips=2)
    """
    import tensorflow as tf

    if int(clip_length) < 1:
        raise ValueError(f"clip_length must be >= 1. Received: clip_length={clip_length}")
    generator = SynthFace(image_size=image_size, seed=seed, **synthface_kwargs)
    size, length = generator.image_size, int(clip_length)

    def render(index):
        samples = generator.video_samples(length, seed=int(index))
        return (np.stack([s.image for s in samples]), np.stack([s.landmarks for s in samples]),
                np.stack([s.visibility for s in samples]), np.stack([s.box for s in samples]))

    def render_tf(index):
        image, landmarks, visibility, box = tf.numpy_function(
            render, [index], [tf.uint8, tf.float32, tf.float32, tf.float32], stateful=False
        )
        return {"image": tf.ensure_shape(image, (length, size, size, 3)),
                "landmarks": tf.ensure_shape(landmarks, (length, NUM_LANDMARKS, 2)),
                "visibility": tf.ensure_shape(visibility, (length, NUM_LANDMARKS)),
                "box": tf.ensure_shape(box, (length, 4))}

    indices = tf.data.Dataset.range(num_clips) if num_clips is not None else tf.data.Dataset.range(2**62)
    return indices.map(render_tf, num_parallel_calls=num_parallel_calls or tf.data.AUTOTUNE,
                       deterministic=True)
