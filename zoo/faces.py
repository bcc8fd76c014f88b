"""Face finding and face crops for inference (numpy + OpenCV, no TensorFlow).

A landmark model sees a square face crop of its input size. This module reads image files and
turns any image a user has (grayscale, RGB, RGBA, 8 or 16 bit, float in [0, 255]) into RGB
uint8, finds faces with a detector that
needs no download (OpenCV's bundled Haar cascade) or with a YuNet ONNX file the user passes, and
crops a face to the model's input with the affine matrix that maps predictions back.

Example:
    >>> import numpy as np, zoo.faces
    >>> image = np.zeros((240, 320, 3), np.uint8)
    >>> crop, matrix = zoo.faces.crop_face(image, [100, 60, 200, 180], size=128)
    >>> crop.shape
    (128, 128, 3)
"""
import os

import cv2
import numpy as np


IMAGE_READ_FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH  # applies EXIF orientation


def read_image(path):
    """Reads an image file as (H, W, 3) RGB uint8 (gray, 16-bit and EXIF-rotated photos too).

    Args:
        path: ``str`` or ``os.PathLike`` of a JPEG, PNG, BMP, TIFF, WebP, PPM... file.

    Returns:
        (H, W, 3) uint8 RGB array.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is empty, truncated, corrupt or not an image.

    Example:
        >>> import cv2, zoo.faces
        >>> cv2.imwrite("photo.png", np.zeros((480, 640, 3), np.uint8))
        True
        >>> zoo.faces.read_image("photo.png").shape
        (480, 640, 3)
    """
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"Expected an image path. Received: path={path!r}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        what = "a folder, not an image file" if os.path.isdir(path) else "no such file"
        raise FileNotFoundError(f"Expected an image file: {what}. Received: path={path!r}")
    # np.fromfile + imdecode also copes with non-ASCII paths, which cv2.imread does not.
    buffer = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(buffer, IMAGE_READ_FLAGS) if buffer.size else None
    if image is None:
        raise ValueError("Cannot decode an image from this file (empty, truncated, corrupt or "
                         f"not an image format OpenCV reads). Received: path={path!r}, "
                         f"size={buffer.size} bytes")
    return to_rgb_uint8(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def check_pixel_range(image, name="image"):
    """Refuses float pixels outside [0, 255], NaN / inf, and float images in [0, 1].

    The zoo's models take pixels in [0, 255]. A float image whose values all lie in [0, 1]
    (with some above 0) is almost surely a [0, 1]-scaled image; read as [0, 255] it would be
    black, so it is refused instead of guessed: multiply it by 255 (or pass uint8).

    Args:
        image: an array (integer arrays pass unchecked).
        name: the argument's name for messages.

    Raises:
        ValueError: NaN / inf, values outside [0, 255], or a float image in [0, 1].

    Example:
        >>> import numpy as np, zoo.faces
        >>> zoo.faces.check_pixel_range(np.full((2, 2, 3), 200.0))
    """
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.floating) or image.size == 0:
        return
    if not np.all(np.isfinite(image)):
        raise ValueError(f"Expected finite pixel values in `{name}`. Received: NaN or inf")
    low, high = float(image.min()), float(image.max())
    if low < -0.5 or high > 255.5:
        raise ValueError(f"Expected float pixels in [0, 255] in `{name}`. Received: "
                         f"range=[{low:.4g}, {high:.4g}]")
    if 0.0 < high <= 1.0:
        raise ValueError(
            f"Expected float pixels in [0, 255] in `{name}`, but all values lie in [0, 1] "
            "(a [0, 1]-scaled image?): multiply by 255 or pass uint8. Received: "
            f"dtype={image.dtype}, range=[{low:.4g}, {high:.4g}]")


def to_rgb_uint8(image):
    """Converts an image to (H, W, 3) RGB uint8.

    Args:
        image: (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA array; uint8, uint16 (scaled
            by 1/257) or float in [0, 255] (rounded). A float image in [0, 1] is refused
            (``check_pixel_range``): it would read as black.

    Returns:
        (H, W, 3) uint8 array.

    Raises:
        ValueError: for anything that is not an image (the message says what was received).

    Example:
        >>> import numpy as np, zoo.faces
        >>> zoo.faces.to_rgb_uint8(np.zeros((4, 5), np.uint8)).shape
        (4, 5, 3)
    """
    if isinstance(image, (str, os.PathLike)):
        raise ValueError("Expected an image array; read files with zoo.faces.read_image (or "
                         f"pass the path to FaceLandmarker.detect). Received: image={image!r}")
    original = image
    image = np.asarray(image)
    if image.dtype == object:
        raise ValueError("Expected an image array of numbers. "
                         f"Received: type={type(original).__name__}, dtype=object")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)):
        raise ValueError(
            "Expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4). "
            f"Received: shape={image.shape}")
    if image.size == 0:
        raise ValueError(f"Expected a non-empty image. Received: shape={image.shape}")
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif np.issubdtype(image.dtype, np.floating):
        check_pixel_range(image)
        image = np.clip(image, 0, 255).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(
            f"Expected uint8, uint16 or float pixels. Received: dtype={image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[-1] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    return image


def crop_matrix(box, size, margin=0.25):
    """The affine matrix (2, 3) from image to a square crop around a face box.

    Args:
        box: x1, y1, x2, y2 of the face in image pixels.
        size: side of the output crop in pixels.
        margin: the crop's side is max(box width, box height) * (1 + margin).

    Returns:
        float64 (2, 3) matrix M with crop = M @ [x, y, 1].
    """
    x1, y1, x2, y2 = [float(v) for v in box]
    if not (x2 > x1 and y2 > y1):
        raise ValueError(f"Expected a box x1 < x2, y1 < y2. Received: box={list(box)}")
    side = max(x2 - x1, y2 - y1) * (1.0 + margin)
    scale = size / side
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    # Pixel centres are integers: the crop's centre (size - 1) / 2 sits on the box centre.
    return np.array([[scale, 0.0, (size - 1) / 2.0 - scale * cx],
                     [0.0, scale, (size - 1) / 2.0 - scale * cy]])


def crop_face(image, box, size, margin=0.25):
    """Crops a square face region resized to ``size``.

    Returns:
        (crop (size, size, 3) uint8, matrix (2, 3) image -> crop).
    """
    image = to_rgb_uint8(image)
    matrix = crop_matrix(box, size, margin)
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return crop, matrix


def to_image_coordinates(points, matrix):
    """Maps (..., N, 2) crop coordinates back to the image with the inverse of ``matrix``."""
    inverse = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    points = np.asarray(points, np.float64)
    return points @ inverse[:, :2].T + inverse[:, 2]


# Haar detection -> the face's 68-point landmark box, per cascade: the landmark box's centre
# offset (x, y) and its width and height, as fractions of the detection's side, in the searched
# (rotated) image. The profile cascade's x offset is for faces turned as it finds them; the
# mirrored pass mirrors it. Medians over the faces of the 300-W *training* split (every 8th of
# ``read_300w(root, "train")``, 252 faces; 236 / 232 / 133 of them found by the unrotated
# default / alt2 / profile passes), as ``benchmarks/face_boxes.py`` fits and prints them
# (never fitted on test faces or fixture photos). The frontal squares sit high: the landmark
# box's centre is 0.14 of their side lower, and the box is 0.84 of their side wide and tall.
HAAR_TO_LANDMARK_BOX = {
    "haarcascade_frontalface_default.xml": (0.000, 0.143, 0.838, 0.829),
    "haarcascade_frontalface_alt2.xml": (-0.005, 0.143, 0.850, 0.833),
    "haarcascade_profileface.xml": (-0.115, 0.153, 0.745, 0.743),
}


class HaarFaceDetector:
    """OpenCV's bundled Haar cascades: no download, works offline.

    The frontal cascades (``default`` and ``alt2``) miss tilted heads, so the image is also
    searched rotated by each angle in ``angles``. They also miss heads turned far aside, which
    the profile cascade finds, searching the image and its mirror image (a head turned either
    way); as it also fires more often on things that are not faces, by default
    (``profile="fallback"``) it searches only images where the frontal passes find no face.
    Every raw detection (a square) is mapped to an estimate of the face's 68-point landmark box
    with its cascade's calibration (:data:`HAAR_TO_LANDMARK_BOX`, fitted on 300-W training
    faces) and rotated back into the image; the estimates are merged by non-maximum
    suppression. So the boxes are landmark boxes (brows to chin, ear to ear): the box a landmark
    model's training crop is made from. The score of a face is the number of raw detections
    that support it (OpenCV's neighbour count, summed over the passes).

    Args:
        angles: in-plane rotations (degrees) to search.
        max_side: large images are searched at this longest side (boxes are scaled back).
        min_size_fraction: smallest face side as a fraction of the shorter image side.
        min_neighbors: OpenCV's ``minNeighbors`` for each frontal pass (it keeps groups of
            more than this many raw hits).
        iou_threshold: boxes overlapping more than this are one face.
        profile: ``"fallback"`` (profile passes where the frontal ones find nothing),
            ``"always"`` or ``"never"``.
        profile_min_neighbors: ``minNeighbors`` of the profile passes. Higher than the frontal
            passes': on 300-W training crops 4 keeps half of the spurious profile detections
            of 2 and all but one of the faces the profile passes add to the frontal ones.
        calibrated: map detections to landmark boxes (False: the cascades' own squares).
        calibration: ``{cascade file: (dx, dy, width, height)}`` (default
            :data:`HAAR_TO_LANDMARK_BOX`).

    Example:
        >>> import numpy as np, zoo.faces
        >>> detector = zoo.faces.HaarFaceDetector()
        >>> detector(np.zeros((120, 160, 3), np.uint8)).shape
        (0, 4)
    """

    _CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml")
    _PROFILE = "haarcascade_profileface.xml"
    PROFILE_MODES = ("fallback", "always", "never")

    def __init__(self, angles=(0.0, -20.0, 20.0), max_side=640, min_size_fraction=0.05,
                 min_neighbors=3, iou_threshold=0.3, profile="fallback",
                 profile_min_neighbors=4, calibrated=True, calibration=None):
        for name, value in (("min_neighbors", min_neighbors),
                            ("profile_min_neighbors", profile_min_neighbors)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"`{name}` must be an int >= 0. Received: {name}={value!r}")
        if profile not in self.PROFILE_MODES:
            raise ValueError(f"Unknown `profile` mode. Allowed: {list(self.PROFILE_MODES)}. "
                             f"Received: profile={profile!r}")
        self._cascades = {}
        for name in self._CASCADES + ((self._PROFILE,) if profile != "never" else ()):
            path = os.path.join(cv2.data.haarcascades, name)
            cascade = cv2.CascadeClassifier(path)
            if cascade.empty():
                raise RuntimeError(f"OpenCV's Haar cascade could not be loaded from {path}")
            self._cascades[name] = cascade
        self.angles = tuple(angles)
        self.max_side = max_side
        self.min_size_fraction = min_size_fraction
        self.min_neighbors = min_neighbors
        self.iou_threshold = iou_threshold
        self.profile = profile
        self.profile_min_neighbors = profile_min_neighbors
        self.calibrated = bool(calibrated)
        self.calibration = dict(HAAR_TO_LANDMARK_BOX if calibration is None else calibration)

    def _prepare(self, image):
        """``(equalised gray image at search scale, scale)``."""
        gray = cv2.cvtColor(to_rgb_uint8(image), cv2.COLOR_RGB2GRAY)
        scale = min(1.0, self.max_side / max(gray.shape))
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return cv2.equalizeHist(gray), scale

    def raw_detections(self, image, angles=None, passes=None):
        """The detections of each pass before calibration and merging.

        Args:
            image: any image ``to_rgb_uint8`` takes.
            angles: rotations to search (default ``self.angles``).
            passes: ``(cascade file, mirrored)`` pairs (default: the frontal cascades, and
                the profile cascade both ways unless ``profile="never"``).

        Returns:
            list of dicts ``cascade``, ``mirrored``, ``angle``, ``centre`` (x, y) and ``side``
            of the square in the searched (rotated) image in full-resolution pixels,
            ``neighbours``, ``back`` ((2, 3): searched image -> image).

        Example:
            >>> import numpy as np, zoo.faces
            >>> zoo.faces.HaarFaceDetector().raw_detections(np.zeros((64, 64), np.uint8))
            []
        """
        if passes is None:
            passes = [(name, False) for name in self._CASCADES]
            if self._PROFILE in self._cascades:
                passes += [(self._PROFILE, False), (self._PROFILE, True)]
        return self._search(*self._prepare(image), self.angles if angles is None else angles,
                            passes)

    def _search(self, gray, scale, angles, passes):
        height, width = gray.shape
        min_side = max(20, int(min(height, width) * self.min_size_fraction))
        detections = []
        for angle in angles:
            rotation = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)
            rotated = gray if angle == 0 else cv2.warpAffine(gray, rotation, (width, height))
            # Searched image -> image, both in full-resolution pixels.
            inverse = cv2.invertAffineTransform(rotation)
            back = np.concatenate([inverse[:, :2], inverse[:, 2:] / scale], axis=1)
            for name, mirrored in passes:
                neighbours = (self.profile_min_neighbors if name == self._PROFILE
                              else self.min_neighbors)
                searched = np.ascontiguousarray(rotated[:, ::-1]) if mirrored else rotated
                found, counts = self._cascades[name].detectMultiScale2(
                    searched, scaleFactor=1.1, minNeighbors=neighbours,
                    minSize=(min_side, min_side))
                for (x, y, w, h), n in zip(np.reshape(found, (-1, 4)), np.ravel(counts)):
                    centre_x = x + w / 2.0
                    if mirrored:  # pixel edges: x in the mirror image is width - x here
                        centre_x = width - centre_x
                    detections.append({
                        "cascade": name, "mirrored": bool(mirrored), "angle": float(angle),
                        "centre": np.array([centre_x, y + h / 2.0]) / scale,
                        "side": (w + h) / 2.0 / scale, "neighbours": float(n), "back": back})
        return detections

    def _to_box(self, detection, calibrated=None):
        """A raw detection as x1, y1, x2, y2 in the image (a landmark box when calibrated)."""
        side, (x, y) = detection["side"], detection["centre"]
        box_width = box_height = 1.0
        if self.calibrated if calibrated is None else calibrated:
            dx, dy, box_width, box_height = self.calibration[detection["cascade"]]
            x += (-dx if detection["mirrored"] else dx) * side
            y += dy * side
        back = detection["back"]
        centre = back[:, :2] @ np.array([x, y]) + back[:, 2]
        half_width, half_height = box_width * side / 2.0, box_height * side / 2.0
        return [centre[0] - half_width, centre[1] - half_height,
                centre[0] + half_width, centre[1] + half_height]

    def detect_with_scores(self, image):
        """Returns (boxes (K, 4) float32 x1, y1, x2, y2; scores (K,)), best first."""
        gray, scale = self._prepare(image)
        frontal = [(name, False) for name in self._CASCADES]
        profile = [(self._PROFILE, False), (self._PROFILE, True)]
        passes = {"always": frontal + profile, "fallback": frontal,
                  "never": frontal}[self.profile]
        detections = self._search(gray, scale, self.angles, passes)
        if not detections and self.profile == "fallback":  # a second pass: turned heads
            detections = self._search(gray, scale, self.angles, profile)
        if not detections:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        # Faces are grouped by the cascades' own squares (as before calibration: the same
        # faces), each reported as the support-weighted mean of its calibrated boxes.
        squares = np.array([self._to_box(detection, calibrated=False)
                            for detection in detections])
        boxes = np.array([self._to_box(detection) for detection in detections])
        scores = np.array([detection["neighbours"] for detection in detections])
        boxes, scores = _merge_boxes(squares, scores, self.iou_threshold, outputs=boxes)
        return boxes.astype(np.float32), scores.astype(np.float32)

    def __call__(self, image):
        """Returns (K, 4) float32 boxes x1, y1, x2, y2, most supported face first."""
        return self.detect_with_scores(image)[0]


def fit_haar_box_calibration(images, landmarks, detector=None):
    """Fits :data:`HAAR_TO_LANDMARK_BOX`: each cascade's detection -> landmark box, as medians.

    Every image is searched unrotated by every pass of ``detector``; a detection is the face's
    when its centre lies within 0.3 of the landmark box's side from the box centre and its side
    is 0.6-1.8 times the box's. For those, the landmark box's centre offset (x mirrored for the
    mirrored profile pass) and its width and height are divided by the detection's side; the
    medians are the calibration.

    Args:
        images: RGB images, one face each (e.g. 300-W *training* crops).
        landmarks: ``(N, 2)`` landmarks of each image's face.
        detector: a :class:`HaarFaceDetector` (default: ``HaarFaceDetector(profile="always")``).

    Returns:
        ``{cascade: {"box": (dx, dy, width, height), "faces": faces with a detection,
        "detections": matched detections}}``.

    Example:
        >>> import zoo.faces
        >>> # table = zoo.faces.fit_haar_box_calibration(images, landmarks)
    """
    detector = detector or HaarFaceDetector(profile="always")
    matched = {}
    for index, (image, points) in enumerate(zip(images, landmarks)):
        points = np.asarray(points, np.float64)
        low, high = points.min(0), points.max(0)
        centre, (width, height) = (low + high) / 2.0, high - low
        side = max(width, height)
        for detection in detector.raw_detections(image, angles=(0.0,)):
            offset = centre - detection["centre"]
            ratio = detection["side"] / side
            if np.all(np.abs(offset) < 0.3 * side) and 0.6 < ratio < 1.8:
                sign = -1.0 if detection["mirrored"] else 1.0
                matched.setdefault(detection["cascade"], []).append(
                    (index, sign * offset[0] / detection["side"], offset[1] / detection["side"],
                     width / detection["side"], height / detection["side"]))
    table = {}
    for name, rows in sorted(matched.items()):
        rows = np.array(rows)
        table[name] = {"box": tuple(float(v) for v in np.median(rows[:, 1:], axis=0)),
                       "faces": len(set(rows[:, 0].astype(int))), "detections": len(rows)}
    return table


def _iou(box, boxes):
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(box) + area(boxes) - inter)


def _merge_boxes(boxes, scores, iou_threshold, outputs=None):
    """Greedy NMS that sums the scores of the boxes each kept box absorbs and averages them.

    ``outputs`` (one row per box, default ``boxes``): what is averaged over each group, the
    groups being made from ``boxes``.
    """
    order = np.argsort(-scores)
    outputs = boxes if outputs is None else np.asarray(outputs)
    boxes, scores, outputs = boxes[order], scores[order], outputs[order]
    used = np.zeros(len(boxes), bool)
    merged, merged_scores = [], []
    for i in range(len(boxes)):
        if used[i]:
            continue
        group = (~used) & (_iou(boxes[i], boxes) > iou_threshold)
        group[i] = True
        used |= group
        weights = scores[group][:, None]
        merged.append((outputs[group] * weights).sum(0) / weights.sum())
        merged_scores.append(scores[group].sum())
    merged, merged_scores = np.array(merged), np.array(merged_scores)
    order = np.argsort(-merged_scores)
    return merged[order], merged_scores[order]


class YuNetFaceDetector:
    """OpenCV's YuNet face detector from an ONNX file the user provides
    (``face_detection_yunet_2023mar.onnx`` from the OpenCV model zoo).

    Args:
        model_path: path of the ONNX file.
        score_threshold: minimum detection score.
    """

    def __init__(self, model_path, score_threshold=0.7):
        if not os.path.isfile(model_path):
            raise ValueError(f"YuNet model file not found. Received: model_path={model_path!r}")
        self.model_path = model_path
        self.score_threshold = score_threshold
        self._detector = cv2.FaceDetectorYN.create(model_path, "", (320, 320), score_threshold)

    def __call__(self, image):
        image = to_rgb_uint8(image)
        self._detector.setInputSize((image.shape[1], image.shape[0]))
        _, faces = self._detector.detect(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if faces is None:
            return np.zeros((0, 4), np.float32)
        boxes = np.stack([faces[:, 0], faces[:, 1], faces[:, 0] + faces[:, 2],
                          faces[:, 1] + faces[:, 3]], axis=1).astype(np.float32)
        return boxes[np.argsort(-faces[:, -1])]
