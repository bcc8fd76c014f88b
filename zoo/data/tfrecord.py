"""Sharded TFRecords of face crops: the layout, the writer and ``parse_example`` for tf.data.

Record layout (one ``tf.train.Example`` per face; every key is always present):

| key                | type          | contents                                                     |
|--------------------|---------------|--------------------------------------------------------------|
| ``image/encoded``  | bytes         | the face crop, RGB, encoded as JPEG or PNG                   |
| ``image/format``   | bytes         | ``b"jpeg"`` or ``b"png"``                                    |
| ``image/height``   | int64         | crop height in pixels (the crop is square: height == width)  |
| ``image/width``    | int64         | crop width in pixels                                         |
| ``image/path``     | bytes         | path of the original image (or video) the crop was cut from  |
| ``landmarks``      | float32 (2N,) | ``x0, y0, x1, y1, ...`` in **0-based crop pixel coordinates**|
| ``visibility``     | float32 (N,)  | 1 visible, 0 occluded (all 1 when the dataset has no flags)  |
| ``has_visibility`` | int64         | 1 when the dataset annotates occlusion, else 0               |
| ``num_landmarks``  | int64         | N                                                            |
| ``crop_matrix``    | float32 (6,)  | row-major ``(2, 3)`` affine map image -> crop coordinates    |
| ``box``            | float32 (4,)  | face box ``x1, y1, x2, y2`` in original image pixels         |
| ``dataset``        | bytes         | e.g. ``b"300w"``, ``b"wflw"``                                |
| ``scheme``         | bytes         | landmark scheme name, e.g. ``b"300w_68"`` (``zoo.schemes``)  |
| ``subset``         | bytes         | e.g. ``b"train"``, ``b"common"``, ``b"challenging"``         |
| ``meta``           | bytes         | JSON object: the reader's ``Sample.meta`` (attributes, ...)  |

Coordinates follow ``docs/architecture.md``: the centre of the top-left pixel is ``(0, 0)``.
``landmarks_image = inverse(crop_matrix) @ [x_crop, y_crop, 1]``; ``landmarks`` in the record
are exactly ``crop_matrix @ [x_image, y_image, 1]``.

Shards are named ``{prefix}-{index:05d}-of-{count:05d}.tfrecord`` and samples are dealt to
them round-robin; a ``{prefix}.json`` sidecar holds the sample count, the scheme and the
skip report of the run that wrote them.

Example:
    >>> import tensorflow as tf
    >>> import zoo.data.tfrecord
    >>> files = tf.io.gfile.glob("/data/tfrecords/300w_train-*.tfrecord")
    >>> dataset = tf.data.TFRecordDataset(files).map(zoo.data.tfrecord.parse_example)
"""
import json
import os

import cv2
import numpy as np
import tensorflow as tf

from zoo.data.sample import DataError, ReadReport

SHARD_PATTERN = "{prefix}-{index:05d}-of-{count:05d}.tfrecord"

FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/format": tf.io.FixedLenFeature([], tf.string),
    "image/height": tf.io.FixedLenFeature([], tf.int64),
    "image/width": tf.io.FixedLenFeature([], tf.int64),
    "image/path": tf.io.FixedLenFeature([], tf.string),
    "landmarks": tf.io.VarLenFeature(tf.float32),
    "visibility": tf.io.VarLenFeature(tf.float32),
    "has_visibility": tf.io.FixedLenFeature([], tf.int64),
    "num_landmarks": tf.io.FixedLenFeature([], tf.int64),
    "crop_matrix": tf.io.FixedLenFeature([6], tf.float32),
    "box": tf.io.FixedLenFeature([4], tf.float32),
    "dataset": tf.io.FixedLenFeature([], tf.string),
    "scheme": tf.io.FixedLenFeature([], tf.string),
    "subset": tf.io.FixedLenFeature([], tf.string),
    "meta": tf.io.FixedLenFeature([], tf.string),
}


def landmark_box(landmarks):
    """Tight box ``x1, y1, x2, y2`` around the finite landmarks.

    Args:
        landmarks: (N, 2) array.

    Returns:
        (4,) float32 array.

    Example:
        >>> zoo.data.tfrecord.landmark_box(np.array([[1.0, 2.0], [3.0, 5.0]]))
        array([1., 2., 3., 5.], dtype=float32)
    """
    landmarks = np.asarray(landmarks, np.float32)
    finite = landmarks[np.all(np.isfinite(landmarks), axis=1)]
    if len(finite) == 0:
        raise ValueError(f"No finite landmark to box. Received: landmarks={landmarks!r}")
    return np.concatenate([finite.min(axis=0), finite.max(axis=0)]).astype(np.float32)


def square_crop_matrix(box, size=256, margin=0.25):
    """Affine ``(2, 3)`` map from image to a square crop around ``box``.

    The crop square has side ``(1 + margin) * max(box width, box height)`` and the box's
    centre. Its edges ``[-0.5, size - 0.5]`` (pixel-centre convention) are the square's edges.

    Args:
        box: (4,) ``x1, y1, x2, y2`` in image pixels.
        size: crop side in pixels (> 0).
        margin: extra fraction of the box side added around it (>= 0). 0.25 matches HRNet's
            ``1.25 * scale`` crop of the landmark box.

    Returns:
        (2, 3) float64 matrix ``M`` with ``crop = M @ [x, y, 1]``.

    Example:
        >>> m = zoo.data.tfrecord.square_crop_matrix([0, 0, 99, 99], size=100, margin=0.0)
    """
    if size <= 0:
        raise ValueError(f"`size` must be positive. Received: size={size}")
    if margin < 0:
        raise ValueError(f"`margin` must be >= 0. Received: margin={margin}")
    x1, y1, x2, y2 = (float(v) for v in box)
    side = (1.0 + margin) * max(x2 - x1, y2 - y1)
    if not np.isfinite(side) or side <= 0:
        raise ValueError(f"The box must have a positive finite size. Received: box={box}")
    scale = size / side
    left = (x1 + x2) / 2.0 - side / 2.0
    top = (y1 + y2) / 2.0 - side / 2.0
    # Continuous coordinates: the square's left edge `left` goes to the crop's left edge -0.5
    # (pixel i covers [i - 0.5, i + 0.5]), so the box centre lands on (size - 1) / 2.
    return np.array([[scale, 0.0, -scale * left - 0.5], [0.0, scale, -scale * top - 0.5]])


def apply_affine(matrix, points):
    """Maps (N, 2) points with a (2, 3) affine matrix.

    Example:
        >>> zoo.data.tfrecord.apply_affine(np.eye(2, 3), [[1.0, 2.0]])
        array([[1., 2.]])
    """
    points = np.asarray(points, np.float64)
    return points @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def crop_face(image, landmarks, box=None, size=256, margin=0.25):
    """Cuts a square face crop and moves the landmarks into it.

    Args:
        image: (H, W, 3) uint8 RGB.
        landmarks: (N, 2) 0-based image pixel coordinates.
        box: (4,) face box ``x1, y1, x2, y2``; None uses the landmark box.
        size: crop side in pixels.
        margin: see ``square_crop_matrix``.

    Returns:
        ``(crop (size, size, 3) uint8, landmarks (N, 2) float32 in crop pixels,
        matrix (2, 3) float32 image -> crop)``. Areas outside the image are black.

    Example:
        >>> import zoo.data.readers
        >>> samples, report = zoo.data.readers.read_san_list(
        ...     fixtures_dir / "300w" / "pts_images" / "DEBUG.lst")
        >>> image = zoo.data.readers.load_sample_image(samples[0])
        >>> crop, points, matrix = zoo.data.tfrecord.crop_face(image, samples[0].landmarks)
        >>> crop.shape, points.shape, matrix.shape
        ((256, 256, 3), (68, 2), (2, 3))
    """
    if box is None:
        box = landmark_box(landmarks)
    matrix = square_crop_matrix(box, size=size, margin=margin)
    # Shrinking by more than 2x with bilinear sampling aliases: halve the image first.
    image_for_warp, warp_matrix = image, matrix.copy()
    while warp_matrix[0, 0] < 0.5 and min(image_for_warp.shape[:2]) > 2 * size:
        image_for_warp = cv2.pyrDown(image_for_warp)
        # pyrDown's output pixel i is centred on input pixel 2i: x_image = 2 * x_half.
        warp_matrix = warp_matrix @ np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0, 0, 1]])
    crop = cv2.warpAffine(
        image_for_warp,
        warp_matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    points = apply_affine(matrix, landmarks).astype(np.float32)
    return crop, points, matrix.astype(np.float32)


def _bytes(value):
    if isinstance(value, str):
        value = value.encode("utf-8")
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _floats(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(values).tolist()))


def _int(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def serialize_example(
    crop,
    landmarks,
    matrix,
    box,
    visibility=None,
    image_path="",
    dataset="",
    scheme="",
    subset="",
    meta=None,
    image_format="jpeg",
    jpeg_quality=95,
):
    """Encodes one face crop and its annotation as a serialized ``tf.train.Example``.

    Args:
        crop: (S, S, 3) uint8 RGB face crop.
        landmarks: (N, 2) crop pixel coordinates.
        matrix: (2, 3) image -> crop affine matrix.
        box: (4,) face box in original image pixels.
        visibility: (N,) 1 visible / 0 occluded, or None (stored as all ones).
        image_path, dataset, scheme, subset: strings stored as they are.
        meta: JSON-serialisable dict (numpy values are converted).
        image_format: ``"jpeg"`` or ``"png"``.
        jpeg_quality: 1..100.

    Returns:
        bytes.

    Example:
        >>> import zoo.data.readers
        >>> samples, report = zoo.data.readers.read_san_list(
        ...     fixtures_dir / "300w" / "pts_images" / "DEBUG.lst")
        >>> image = zoo.data.readers.load_sample_image(samples[0])
        >>> crop, points, matrix = zoo.data.tfrecord.crop_face(image, samples[0].landmarks, size=128)
        >>> record = zoo.data.tfrecord.serialize_example(crop, points, matrix, samples[0].box,
        ...                                              dataset="300w")
        >>> type(record)
        <class 'bytes'>
    """
    if image_format not in ("jpeg", "png"):
        raise ValueError(f"`image_format` must be 'jpeg' or 'png'. Received: image_format={image_format}")
    crop = np.asarray(crop)
    if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3:
        raise ValueError(f"`crop` must be (H, W, 3) uint8. Received: crop.shape={crop.shape}, dtype={crop.dtype}")
    landmarks = np.asarray(landmarks, np.float32).reshape(-1, 2)
    num_landmarks = len(landmarks)
    has_visibility = visibility is not None
    if visibility is None:
        visibility = np.ones([num_landmarks], np.float32)
    visibility = np.asarray(visibility, np.float32).ravel()
    if len(visibility) != num_landmarks:
        raise ValueError(
            f"`visibility` needs one value per landmark ({num_landmarks}). "
            f"Received: visibility.shape={visibility.shape}"
        )
    bgr = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
    if image_format == "jpeg":
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    else:
        ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise DataError(f"could not encode the crop as {image_format}", path=image_path)
    feature = {
        "image/encoded": _bytes(encoded.tobytes()),
        "image/format": _bytes(image_format),
        "image/height": _int(crop.shape[0]),
        "image/width": _int(crop.shape[1]),
        "image/path": _bytes(str(image_path)),
        "landmarks": _floats(landmarks),
        "visibility": _floats(visibility),
        "has_visibility": _int(has_visibility),
        "num_landmarks": _int(num_landmarks),
        "crop_matrix": _floats(np.asarray(matrix, np.float32).reshape(6)),
        "box": _floats(np.asarray(box, np.float32).reshape(4)),
        "dataset": _bytes(dataset),
        "scheme": _bytes(scheme),
        "subset": _bytes(subset),
        "meta": _bytes(json.dumps(meta or {}, default=_json_default, sort_keys=True)),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_example(serialized):
    """Parses one serialized record into a dict of tensors (usable in ``tf.data`` ``map``).

    Args:
        serialized: scalar string tensor.

    Returns:
        dict with ``image`` (H, W, 3) uint8, ``landmarks`` (N, 2) float32 crop pixels,
        ``visibility`` (N,) float32, ``has_visibility`` bool, ``crop_matrix`` (2, 3) float32,
        ``box`` (4,) float32, and the string tensors ``image_path``, ``dataset``, ``scheme``,
        ``subset``, ``meta`` (JSON text).

    Example:
        >>> import zoo.data.readers
        >>> samples, report = zoo.data.readers.read_san_list(
        ...     fixtures_dir / "300w" / "pts_images" / "DEBUG.lst")
        >>> image = zoo.data.readers.load_sample_image(samples[0])
        >>> crop, points, matrix = zoo.data.tfrecord.crop_face(image, samples[0].landmarks, size=128)
        >>> record = zoo.data.tfrecord.serialize_example(crop, points, matrix, samples[0].box,
        ...                                              dataset="300w")
        >>> with zoo.data.tfrecord.ShardWriter("tfr", "300w_train", 1) as writer:
        ...     writer.write(record)
        >>> files = tf.io.gfile.glob("tfr/300w_train-*.tfrecord")
        >>> ds = tf.data.TFRecordDataset(files).map(zoo.data.tfrecord.parse_example)
        >>> parsed = next(iter(ds))
        >>> tuple(parsed["image"].shape), tuple(parsed["landmarks"].shape), parsed["dataset"].numpy()
        ((128, 128, 3), (68, 2), b'300w')
    """
    parsed = tf.io.parse_single_example(serialized, FEATURES)
    image = tf.io.decode_image(parsed["image/encoded"], channels=3, expand_animations=False)
    height = tf.cast(parsed["image/height"], tf.int32)
    width = tf.cast(parsed["image/width"], tf.int32)
    image = tf.ensure_shape(tf.reshape(image, tf.stack([height, width, 3])), [None, None, 3])
    landmarks = tf.reshape(tf.sparse.to_dense(parsed["landmarks"]), [-1, 2])
    return {
        "image": image,
        "landmarks": landmarks,
        "visibility": tf.sparse.to_dense(parsed["visibility"]),
        "has_visibility": tf.cast(parsed["has_visibility"], tf.bool),
        "crop_matrix": tf.reshape(parsed["crop_matrix"], [2, 3]),
        "box": parsed["box"],
        "image_path": parsed["image/path"],
        "dataset": parsed["dataset"],
        "scheme": parsed["scheme"],
        "subset": parsed["subset"],
        "meta": parsed["meta"],
    }


def shard_paths(output_dir, prefix, num_shards):
    """The shard file names ``ShardWriter`` uses, in order.

    Example:
        >>> zoo.data.tfrecord.shard_paths("/tmp", "300w_train", 2)[0]
        '/tmp/300w_train-00000-of-00002.tfrecord'
    """
    return [
        os.path.join(output_dir, SHARD_PATTERN.format(prefix=prefix, index=i, count=num_shards))
        for i in range(num_shards)
    ]


class ShardWriter:
    """Writes serialized records round-robin into ``num_shards`` TFRecord files.

    Args:
        output_dir: folder (created if missing).
        prefix: file name prefix, e.g. ``"300w_train"``.
        num_shards: number of files (>= 1).

    Example:
        >>> import os
        >>> record = zoo.data.tfrecord.serialize_example(
        ...     np.zeros((8, 8, 3), np.uint8), np.zeros((68, 2)), np.eye(2, 3), [0, 0, 8, 8])
        >>> with zoo.data.tfrecord.ShardWriter("out", "300w_train", 2) as writer:
        ...     for _ in range(3):
        ...         writer.write(record)
        >>> sorted(os.listdir("out"))
        ['300w_train-00000-of-00002.tfrecord', '300w_train-00001-of-00002.tfrecord']
    """

    def __init__(self, output_dir, prefix, num_shards=1):
        if num_shards < 1:
            raise ValueError(f"`num_shards` must be >= 1. Received: num_shards={num_shards}")
        os.makedirs(output_dir, exist_ok=True)
        self.paths = shard_paths(output_dir, prefix, num_shards)
        self._writers = [tf.io.TFRecordWriter(path) for path in self.paths]
        self.count = 0

    def write(self, record):
        self._writers[self.count % len(self._writers)].write(record)
        self.count += 1

    def close(self):
        for writer in self._writers:
            writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _encode_sample(sample, dataset, scheme, subset, size, margin, crop_box, image_format):
    """One sample -> ``(record, None)`` or ``(None, (reason, detail))``."""
    from zoo.data.readers.common import load_sample_image, skip_reason  # noqa: PLC0415

    path = sample.image
    if not isinstance(path, (str, os.PathLike)):
        path = sample.meta.get("source", "")
    try:
        image = load_sample_image(sample)
        box = sample.box if crop_box == "box" and sample.box is not None else None
        crop, points, matrix = crop_face(image, sample.landmarks, box, size, margin)
        record = serialize_example(
            crop,
            points,
            matrix,
            sample.box if sample.box is not None else landmark_box(sample.landmarks),
            visibility=sample.visibility,
            image_path=str(path),
            dataset=dataset,
            scheme=scheme,
            subset=subset,
            meta=sample.meta,
            image_format=image_format,
        )
    except DataError as error:  # the message already names the file
        return None, (skip_reason(error), str(error))
    except (ValueError, cv2.error) as error:
        return None, ("crop failed", f"{path}: {error}")
    return record, None


def _chunks(iterable, length):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == length:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_samples(
    samples,
    output_dir,
    prefix,
    dataset,
    scheme,
    subset,
    report=None,
    num_shards=1,
    size=256,
    margin=0.25,
    crop_box="landmarks",
    image_format="jpeg",
    progress=True,
    total=None,
    num_workers=1,
):
    """Loads, crops and writes samples to sharded TFRecords; bad samples are skipped and counted.

    Args:
        samples: iterable of ``zoo.data.Sample`` (a generator is consumed lazily).
        output_dir, prefix, num_shards: see ``ShardWriter``.
        dataset, scheme, subset: strings stored in every record.
        report: a ``zoo.data.ReadReport`` to add skips to (the reader's report, so one summary
            covers reading and writing); a new one if None. ``kept`` becomes the number of
            records written.
        size, margin: crop size and margin (``square_crop_matrix``).
        crop_box: ``"landmarks"`` (crop around the landmark box, the HRNet convention) or
            ``"box"`` (around the dataset's face box, falling back to landmarks when absent).
        image_format: ``"jpeg"`` or ``"png"``.
        progress: show a tqdm progress bar.
        total: number of samples for the progress bar (``len(samples)`` when available).
        num_workers: threads decoding and cropping (OpenCV releases the GIL); records are
            written in input order whatever the value.

    Returns:
        The ``ReadReport``.

    Example:
        >>> import zoo.data.readers
        >>> samples, report = zoo.data.readers.read_san_list(  # 10 real 300-W training faces
        ...     fixtures_dir / "300w" / "pts_images" / "DEBUG.lst")
        >>> report = zoo.data.tfrecord.write_samples(samples, "tfr", "300w_train", "300w",
        ...                                          "300w", "train", report=report, size=64,
        ...                                          progress=False)
        >>> print(report.summary())
        kept 10, skipped 0
        >>> import os
        >>> sorted(os.listdir("tfr"))
        ['300w_train-00000-of-00001.tfrecord', '300w_train.json']
    """
    if crop_box not in ("landmarks", "box"):
        raise ValueError(f"`crop_box` must be 'landmarks' or 'box'. Received: crop_box={crop_box}")
    if num_workers < 1:
        raise ValueError(f"`num_workers` must be >= 1. Received: num_workers={num_workers}")
    if report is None:
        report = ReadReport()
    if hasattr(samples, "__len__") and len(samples) == 0:
        # An empty split (a wrong dataset root) is an error, not a set of empty shards.
        first = f"; first skip: {report.examples[0]}" if report.examples else ""
        raise ValueError(
            f"No faces to write for {prefix!r}: the reader kept none "
            f"({'; '.join(line.strip() for line in report.summary().splitlines())}{first}). "
            "Expected: at least one sample (check the dataset root). Received: samples=[]")
    if total is None and hasattr(samples, "__len__"):
        total = len(samples)
    bar = None
    if progress:
        import tqdm  # noqa: PLC0415

        bar = tqdm.tqdm(total=total, desc=prefix, unit="face")

    def encode(sample):
        return _encode_sample(sample, dataset, scheme, subset, size, margin, crop_box, image_format)

    import concurrent.futures  # noqa: PLC0415

    with ShardWriter(output_dir, prefix, num_shards) as writer, concurrent.futures.ThreadPoolExecutor(
        num_workers
    ) as pool:
        # Bounded chunks keep memory flat for generators of decoded video frames.
        for chunk in _chunks(samples, 4 * num_workers):
            for record, skipped in pool.map(encode, chunk):
                if record is None:
                    report.skip(*skipped)
                else:
                    writer.write(record)
                if bar is not None:
                    bar.update(1)
        count = writer.count
    if bar is not None:
        bar.close()
    report.kept = count
    with open(os.path.join(output_dir, f"{prefix}.json"), "w", encoding="utf-8") as file:
        json.dump(
            {
                "files": [os.path.basename(p) for p in writer.paths],
                "num_examples": count,
                "dataset": dataset,
                "scheme": scheme,
                "subset": subset,
                "size": size,
                "margin": margin,
                "crop_box": crop_box,
                "skipped": dict(report.skipped),
                "skip_examples": report.examples,
            },
            file,
            indent=2,
        )
    return report


def make_dataset(file_pattern, shuffle_files=False, seed=None):
    """A ``tf.data.Dataset`` of parsed records from the shards matching ``file_pattern``.

    Args:
        file_pattern: glob, e.g. ``"/data/tfr/300w_train-*.tfrecord"``.
        shuffle_files: shuffle the shard order and interleave them.
        seed: shuffle seed.

    Returns:
        ``tf.data.Dataset`` of ``parse_example`` dicts.

    Example:
        >>> import zoo.data.readers
        >>> samples, report = zoo.data.readers.read_san_list(
        ...     fixtures_dir / "300w" / "pts_images" / "DEBUG.lst")
        >>> _ = zoo.data.tfrecord.write_samples(samples[:2], "tfr", "300w_train", "300w", "300w",
        ...                                     "train", size=64, progress=False)
        >>> ds = zoo.data.tfrecord.make_dataset("tfr/300w_train-*.tfrecord")
        >>> [tuple(example["image"].shape) for example in ds]
        [(64, 64, 3), (64, 64, 3)]
    """
    files = sorted(tf.io.gfile.glob(file_pattern))
    if not files:
        raise ValueError(f"No file matches the pattern. Received: file_pattern={file_pattern}")
    file_dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files:
        file_dataset = file_dataset.shuffle(len(files), seed=seed)
    records = file_dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not shuffle_files,
    )
    return records.map(parse_example, num_parallel_calls=tf.data.AUTOTUNE)
