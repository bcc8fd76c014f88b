"""Shared pieces of the dataset readers: ``.pts`` parsing, image loading, checks, COCO JSON.

Coordinate convention (the whole zoo, ``docs/architecture.md``): landmarks are ``(x, y)`` in
**0-based** pixel coordinates, the centre of the top-left pixel is ``(0, 0)``. The iBUG
``.pts`` files (300-W, 300-VW, menpo, Talking Face) and the MATLAB formats (COFW) are
**1-based**; their readers subtract 1 on load. Formats that store raw ``.pts`` values
(HRNet CSVs of 300-W, mmpose's 300-W/300-VW JSON) are 1-based as well.

Every error about one sample is a ``zoo.data.DataError`` that names the file (and line), and
carries a short ``reason`` attribute; dataset-level readers catch it, count it in a
``zoo.data.ReadReport`` under that reason and go on.
"""
import json
import os
import re

import cv2
import numpy as np

from zoo.data.sample import DataError, ReadReport, Sample

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff")

_HEADER_N_POINTS = re.compile(r"^\s*n_points\s*:\s*(\d+)\s*$")
_HEADER_VERSION = re.compile(r"^\s*version\s*:\s*[\d.]+\s*$")


def data_error(reason, detail, path=None, line=None):
    """A ``DataError`` whose message starts with ``reason`` and which carries ``.reason``.

    Args:
        reason: short category used as the skip-count key, e.g. ``"wrong point count"``.
        detail: the specific problem.
        path, line: where (line is 1-based).

    Returns:
        ``zoo.data.DataError`` (to raise).

    Example:
        >>> str(zoo.data.readers.common.data_error("truncated file", "no '}'", "a.pts", 70))
        "a.pts:70: truncated file: no '}'"
    """
    error = DataError(f"{reason}: {detail}", path=path, line=line)
    error.reason = reason
    return error


def parse_numbers(fields, path=None, line=None):
    """``fields`` (strings) as a float64 array, or a ``"bad number"`` ``DataError``.

    Example:
        >>> parse_numbers(["1", "2.5"])
        array([1. , 2.5])
    """
    try:
        return np.asarray([float(v) for v in fields], np.float64)
    except ValueError as error:
        raise data_error("bad number", str(error), path, line) from error


def skip_reason(error):
    """The skip-count key of an error raised while reading a sample.

    Example:
        >>> zoo.data.readers.common.skip_reason(zoo.data.readers.common.data_error("bad box", "x"))
        'bad box'
    """
    return getattr(error, "reason", type(error).__name__)


def check_landmarks(landmarks, num_points=None, path=None, line=None, allow_nan=False):
    """Validates an (N, 2) landmark array; returns it as float32.

    Args:
        landmarks: array-like reshaped to (-1, 2).
        num_points: expected N, or None to accept any.
        path, line: for the error message.
        allow_nan: accept NaN (missing points) instead of raising.

    Returns:
        (N, 2) float32.

    Raises:
        DataError: wrong point count or non-finite values.

    Example:
        >>> zoo.data.readers.common.check_landmarks([[1, 2], [3, 4]], num_points=2).shape
        (2, 2)
    """
    array = np.asarray(landmarks, dtype=np.float64)
    if array.size % 2 or (array.ndim == 2 and array.shape[1] != 2):
        raise data_error("bad landmark shape", f"shape {array.shape}", path, line)
    array = array.reshape(-1, 2)
    if num_points is not None and len(array) != num_points:
        raise data_error("wrong point count", f"expected {num_points}, found {len(array)}", path, line)
    bad = ~np.isfinite(array)
    if allow_nan:
        bad &= ~np.isnan(array)
    if bad.any():
        index = int(np.argwhere(bad.any(axis=1))[0][0])
        raise data_error("non-finite coordinate", f"point {index} is {array[index].tolist()}", path, line)
    return array.astype(np.float32)


def read_pts(path, num_points=None):
    """Reads an iBUG ``.pts`` file into 0-based (N, 2) float32 landmarks.

    Accepts the header variants found in the wild (``version: 1`` / ``1.0``, any spacing
    around ``n_points:``); the file's values are 1-based, so 1 is subtracted.

    Args:
        path: the ``.pts`` file.
        num_points: expected number of points (e.g. 68), or None to trust the header.

    Returns:
        (N, 2) float32, 0-based pixel coordinates.

    Raises:
        DataError: naming the file and line, for a missing/bad header, a non-numeric or
            short line, a truncated file (fewer points than ``n_points`` or no closing
            brace), NaN/inf values, or a point count other than ``num_points``.

    Example:
        >>> zoo.data.readers.common.write_pts("face.pts", np.zeros((68, 2)))
        >>> points = zoo.data.readers.read_pts("face.pts", 68)
        >>> points.shape
        (68, 2)
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            lines = file.read().splitlines()
    except OSError as error:
        raise data_error("missing annotation", str(error), path) from error
    # Skip blank lines but remember the 1-based line numbers for messages.
    numbered = [(i + 1, text.strip()) for i, text in enumerate(lines) if text.strip()]
    position = 0
    if position < len(numbered) and _HEADER_VERSION.match(numbered[position][1]):
        position += 1
    if position >= len(numbered):
        raise data_error("truncated file", "no 'n_points' header", path, len(lines) or 1)
    line_number, text = numbered[position]
    match = _HEADER_N_POINTS.match(text)
    if not match:
        raise data_error("bad header", f"expected 'n_points: <int>', found {text!r}", path, line_number)
    declared = int(match.group(1))
    header_line = line_number
    position += 1
    if position >= len(numbered) or numbered[position][1] != "{":
        where = numbered[position][0] if position < len(numbered) else len(lines)
        raise data_error("bad header", "expected '{' after n_points", path, where)
    position += 1
    values = []
    closed = False
    for line_number, text in numbered[position:]:
        if text == "}":
            closed = True
            break
        fields = text.split()
        if len(fields) != 2:
            raise data_error("bad point line", f"expected 'x y', found {text!r}", path, line_number)
        try:
            point = [float(fields[0]), float(fields[1])]
        except ValueError as error:
            raise data_error("bad point line", f"not a number in {text!r}", path, line_number) from error
        if not np.all(np.isfinite(point)):
            raise data_error("non-finite coordinate", f"{text!r}", path, line_number)
        values.append(point)
    last_line = numbered[-1][0] if numbered else 1
    if len(values) < declared and not closed:
        raise data_error(
            "truncated file", f"n_points is {declared} but the file ends after {len(values)}", path, last_line
        )
    if not closed:
        raise data_error("truncated file", "no closing '}'", path, last_line)
    if len(values) != declared:
        raise data_error(
            "wrong point count", f"n_points is {declared} but {len(values)} points follow", path, header_line
        )
    if num_points is not None and declared != num_points:
        raise data_error("wrong point count", f"expected {num_points}, file has {declared}", path, header_line)
    # The .pts convention is 1-based (MATLAB): subtract 1 to get 0-based pixel centres.
    return np.asarray(values, np.float32).reshape(-1, 2) - 1.0


def write_pts(path, landmarks):
    """Writes 0-based (N, 2) landmarks as a 1-based iBUG ``.pts`` file (inverse of ``read_pts``).

    Example:
        >>> zoo.data.readers.common.write_pts("a.pts", [[0.0, 1.0], [2.0, 3.0]])
        >>> zoo.data.readers.read_pts("a.pts", 2).tolist()
        [[0.0, 1.0], [2.0, 3.0]]
    """
    landmarks = np.asarray(landmarks, np.float64).reshape(-1, 2) + 1.0
    with open(path, "w", encoding="utf-8") as file:
        file.write(f"version: 1\nn_points: {len(landmarks)}\n{{\n")
        for x, y in landmarks:
            file.write(f"{x:.6f} {y:.6f}\n")
        file.write("}\n")


def to_rgb_uint8(image, path=None):
    """Converts a decoded OpenCV image (BGR order) of any common layout to RGB uint8.

    Handles grayscale ``(H, W)`` / ``(H, W, 1)``, BGR, BGRA (alpha dropped), 16-bit
    (scaled by 255/65535) and float images in [0, 1].

    Args:
        image: array from ``cv2.imread(..., cv2.IMREAD_UNCHANGED)``.
        path: for error messages.

    Returns:
        (H, W, 3) uint8 RGB.

    Example:
        >>> import cv2
        >>> p = str(fixtures_dir / "menpo" / "takeo.ppm")
        >>> rgb = zoo.data.readers.common.to_rgb_uint8(cv2.imread(p, cv2.IMREAD_UNCHANGED))
        >>> rgb.shape, rgb.dtype
        ((225, 150, 3), dtype('uint8'))
    """
    if image is None or image.size == 0:
        raise data_error("unreadable image", "OpenCV could not decode it", path)
    if image.dtype == np.uint16:
        image = np.round(image.astype(np.float32) * (255.0 / 65535.0)).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise data_error("unreadable image", f"unsupported pixel type {image.dtype}", path)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    raise data_error("unreadable image", f"unsupported shape {image.shape}", path)


def load_image(path):
    """Loads an image file as (H, W, 3) uint8 RGB (grayscale, RGBA and 16-bit converted).

    Args:
        path: image file.

    Returns:
        (H, W, 3) uint8 RGB array.

    Raises:
        DataError: the file is missing or cannot be decoded (the message names it).

    Example:
        >>> image = zoo.data.readers.load_image(fixtures_dir / "300w" / "pts_images" / "test_1.jpg")
        >>> image.shape, image.dtype
        ((960, 1280, 3), dtype('uint8'))
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise data_error("missing image", "no such file", path)
    # np.fromfile + imdecode also copes with non-ASCII paths, which cv2.imread does not.
    buffer = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    return to_rgb_uint8(image, path)


def find_image(stem_path):
    """The image next to an annotation: same path without extension, any image extension.

    Returns:
        The path, or None when there is none.

    Example:
        >>> zoo.data.readers.common.find_image("afw/134212_1.pts")  # -> "afw/134212_1.jpg"
    """
    base = os.path.splitext(os.fspath(stem_path))[0]
    for extension in IMAGE_EXTENSIONS + tuple(e.upper() for e in IMAGE_EXTENSIONS):
        if os.path.isfile(base + extension):
            return base + extension
    return None


def check_box_in_image(box, image_shape, path=None):
    """Raises ``DataError`` when the face box does not overlap the image at all.

    A box partly outside the image is normal (faces at the border; the crop pads black).

    Args:
        box: (4,) x1, y1, x2, y2.
        image_shape: (H, W, ...).
        path: for the error message.

    Example:
        >>> zoo.data.readers.common.check_box_in_image([10, 10, 50, 50], (100, 100, 3))
    """
    height, width = image_shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    if not np.all(np.isfinite([x1, y1, x2, y2])) or x2 <= x1 or y2 <= y1:
        raise data_error("bad box", f"box {[x1, y1, x2, y2]} is empty or not finite", path)
    # The image covers [-0.5, W - 0.5] x [-0.5, H - 0.5].
    if x2 < -0.5 or y2 < -0.5 or x1 > width - 0.5 or y1 > height - 0.5:
        raise data_error(
            "box outside image", f"box {[x1, y1, x2, y2]} does not overlap the {width}x{height} image", path
        )


def load_sample_image(sample):
    """The RGB uint8 image of a ``Sample`` (loaded from its path, or its frame array), checked.

    Checks that landmarks are finite and that the face box (or landmark box) overlaps the
    image; raises ``DataError`` otherwise.

    Args:
        sample: ``zoo.data.Sample``.

    Returns:
        (H, W, 3) uint8 RGB.

    Example:
        >>> samples, report = zoo.data.readers.read_san_list(
        ...     fixtures_dir / "300w" / "pts_images" / "DEBUG.lst")
        >>> image = zoo.data.readers.load_sample_image(samples[0])
        >>> image.shape
        (426, 640, 3)
    """
    if isinstance(sample.image, (str, os.PathLike)):
        path = os.fspath(sample.image)
        image = load_image(path)
    else:
        path = sample.meta.get("source")
        image = np.asarray(sample.image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            image = to_rgb_uint8(image, path)
    landmarks = check_landmarks(sample.landmarks, path=path)
    box = sample.box
    if box is None:
        box = np.concatenate([landmarks.min(axis=0), landmarks.max(axis=0)])
    check_box_in_image(box, image.shape, path)
    return image


def box_xywh_to_xyxy(box):
    """``[x, y, w, h]`` -> ``[x1, y1, x2, y2]`` float32.

    Example:
        >>> zoo.data.readers.common.box_xywh_to_xyxy([1, 2, 3, 4])
        array([1., 2., 4., 6.], dtype=float32)
    """
    x, y, w, h = (float(v) for v in box)
    return np.array([x, y, x + w, y + h], np.float32)


def read_coco_json(path, image_dir=None, num_points=None, one_based=False, occlusion_flags=False, dataset=""):
    """Reads an mmpose-style COCO keypoint JSON (as in mmpose's face test data).

    Args:
        path: the JSON file.
        image_dir: folder of ``file_name``; default the JSON's folder.
        num_points: expected keypoints per face, or None.
        one_based: the stored coordinates are 1-based (mmpose's 300-W and 300-VW JSON keep
            the raw ``.pts`` values) and 1 is subtracted.
        occlusion_flags: the third keypoint value is a COCO flag with 2 = visible and
            1 = occluded (mmpose's COFW); otherwise visibility is None.
        dataset: stored in ``meta["dataset"]``.

    Returns:
        ``(samples, report)``; the box is the JSON ``bbox`` (x, y, w, h) as x1, y1, x2, y2 and
        ``center``/``scale``/``box_size`` (when present) go to ``meta``.

    Example:
        >>> samples, report = zoo.data.readers.read_coco_json(
        ...     fixtures_dir / "300w" / "mmpose" / "test_300w.json", one_based=True)
        >>> len(samples), samples[0].landmarks.shape, samples[0].meta["scale"]
        (2, (68, 2), 2.385)
    """
    path = os.fspath(path)
    image_dir = os.path.dirname(path) if image_dir is None else os.fspath(image_dir)
    try:
        with open(path, encoding="utf-8") as file:
            content = json.load(file)
    except (OSError, json.JSONDecodeError) as error:
        raise data_error("unreadable annotation", str(error), path) from error
    images = {image["id"]: image for image in content.get("images", [])}
    samples, report = [], ReadReport()
    for index, annotation in enumerate(content.get("annotations", [])):
        try:
            image = images.get(annotation.get("image_id"))
            if image is None:
                raise data_error("missing image", f"annotation {index} names unknown image_id", path)
            keypoints = np.asarray(annotation["keypoints"], np.float64).reshape(-1, 3)
            where = f"{path}[annotations][{index}]"
            landmarks = check_landmarks(keypoints[:, :2], num_points, where)
            if one_based:
                landmarks = landmarks - 1.0
            visibility = None
            if occlusion_flags:
                visibility = (keypoints[:, 2] >= 2).astype(np.float32)
            box = box_xywh_to_xyxy(annotation["bbox"]) if "bbox" in annotation else None
            meta = {"dataset": dataset, "image_id": annotation.get("image_id")}
            for key in ("center", "scale", "box_size"):
                if key in annotation:
                    meta[key] = annotation[key]
            if one_based and "center" in meta:
                meta["center"] = [float(v) - 1.0 for v in meta["center"]]
            samples.append(
                Sample(os.path.join(image_dir, image["file_name"]), landmarks, visibility, box, meta)
            )
        except (DataError, KeyError, ValueError, TypeError) as error:
            report.skip(skip_reason(error) if isinstance(error, DataError) else "malformed annotation", str(error))
    report.kept = len(samples)
    return samples, report


def collect(items, parse, report=None):
    """Applies ``parse`` to each item; ``DataError`` skips the item and counts it.

    Args:
        items: iterable.
        parse: function item -> ``Sample`` (or None to drop silently because the caller
            already counted it).
        report: ``ReadReport`` to fill; a new one if None.

    Returns:
        ``(samples, report)``.

    Example:
        >>> from zoo.data.readers.common import read_pts
        >>> from zoo.data import Sample
        >>> paths = sorted((fixtures_dir / "300w" / "pts_images").glob("*.pts"))
        >>> samples, report = zoo.data.readers.common.collect(
        ...     paths, lambda p: Sample(str(p.with_suffix(".jpg")), read_pts(p)))
        >>> print(report.summary())
        kept 11, skipped 0
    """
    report = ReadReport() if report is None else report
    samples = []
    for item in items:
        try:
            sample = parse(item)
        except DataError as error:
            report.skip(skip_reason(error), str(error))
            continue
        if sample is not None:
            samples.append(sample)
    report.kept += len(samples)
    return samples, report
