"""tf.data training/evaluation pipelines: crop, augment, encode targets, batch.

``make_dataset`` turns a source of faces into batches ``(images (B, F, F, 3) float32 in
[0, 255], targets)`` ready for ``model.fit``; ``targets`` is the dict the codec's ``encode``
returns, batched. ``make_clip_dataset`` does the same for video clips with one augmentation per
clip and targets stacked ``(B, T, ...)``.

Sources (each element one face, or one clip for ``make_clip_dataset``):

* a ``tf.data.Dataset`` of tuples ``(image, landmarks[, visibility[, box]])`` or of dicts with
  keys ``image``, ``landmarks`` and optional ``visibility``, ``box``, ``crop_matrix`` (the dicts
  of ``zoo.data.tfrecord.parse_example``: the record's ``box`` is in original-image pixels and
  is mapped into the stored crop through ``crop_matrix``; the returned matrices then map the
  *original* image to the network input). ``image`` is uint8 ``(H, W, 3)`` or an encoded
  JPEG/PNG string;
* ``zoo.data.synthface.dataset(..., with_metadata=True)`` / ``clip_dataset(...)``;
* a list of ``zoo.data.Sample`` (images as arrays or file paths).

Per element (all TF ops, inside a parallel ``map``): square crop from the box or the landmark
box enlarged by ``margin``; random rotation/scale/translation/flip composed with the crop into
one affine warp; landmarks through the same matrix and, on a flip, reordered with the scheme's
``flip_permutation``; colour jitter, blur, occlusion (``zoo.data.transforms``); ``codec.encode``.
Random numbers are stateless and drawn from ``tf.data.Dataset.random(seed)``, so a seeded
pipeline gives the same batches on every run, whatever the parallelism.

Example:
    >>> import zoo.codecs, zoo.data.synthface, zoo.data.pipeline
    >>> codec = zoo.codecs.Heatmap1DCodec(input_size=256, heatmap_size=768)
    >>> source = zoo.data.synthface.dataset(image_size=256, num_samples=20, with_metadata=True)
    >>> train = zoo.data.pipeline.make_dataset(source, codec, "300w", batch_size=10)
    >>> images, targets = next(iter(train))
    >>> images.shape, targets["x"].shape
    (TensorShape([10, 256, 256, 3]), TensorShape([10, 68, 768]))
"""
import numpy as np
import tensorflow as tf

from zoo.data import transforms
from zoo.data.sample import Sample
from zoo.data.transforms import AugmentConfig

CROP_MODES = ("box", "landmarks", "image", "frame_box")


def _resolve_scheme(scheme):
    if scheme is None or not isinstance(scheme, str):
        return scheme
    import zoo.schemes

    return zoo.schemes.get_scheme(scheme)


def _resolve_augment(augment, training):
    if not training or augment is False or augment is None:
        return None
    if augment is True:
        return AugmentConfig()
    if isinstance(augment, AugmentConfig):
        return augment
    raise ValueError(f"augment must be a bool or an AugmentConfig. Received: augment={augment!r}")


def _decode(image):
    if image.dtype == tf.string:
        return tf.io.decode_image(image, channels=3, expand_animations=False)
    if image.dtype != tf.uint8:
        return tf.cast(tf.clip_by_value(tf.cast(image, tf.float32), 0.0, 255.0), tf.uint8)
    return image


def _standardise(element):
    """Tuple or dict element -> dict(image, landmarks, visibility, box, source_matrix)."""
    if isinstance(element, dict):
        if "image" not in element or "landmarks" not in element:
            raise ValueError(
                "A dict source element needs 'image' and 'landmarks'. Received: keys="
                f"{sorted(element)}")
        image, landmarks = element["image"], element["landmarks"]
        visibility, box = element.get("visibility"), element.get("box")
        source_matrix = element.get("crop_matrix")
    elif isinstance(element, (tuple, list)):
        if not 2 <= len(element) <= 4:
            raise ValueError(
                "A tuple source element is (image, landmarks[, visibility[, box]]). Received: "
                f"len(element)={len(element)}")
        image, landmarks = element[0], element[1]
        visibility = element[2] if len(element) > 2 else None
        box = element[3] if len(element) > 3 else None
        source_matrix = None
    else:
        raise ValueError(f"Source elements must be tuples or dicts. Received: element={element!r}")
    image = _decode(image)
    landmarks = tf.cast(landmarks, tf.float32)
    if visibility is None:
        visibility = tf.ones(tf.shape(landmarks)[:-1], tf.float32)
    visibility = tf.cast(visibility, tf.float32)
    if source_matrix is None:
        source_matrix = tf.constant([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        if box is None:
            box = transforms.landmark_box(landmarks)
    elif box is None:
        box = transforms.landmark_box(landmarks)
    else:
        # A record's box is in original-image pixels: map its corners into the stored crop.
        corners = tf.reshape(tf.cast(box, tf.float32), [-1, 2, 2])
        corners = transforms.transform_landmarks(corners, tf.cast(source_matrix, tf.float32))
        box = tf.reshape(tf.concat([tf.reduce_min(corners, -2), tf.reduce_max(corners, -2)], -1),
                         tf.shape(box))
    return {"image": image, "landmarks": landmarks, "visibility": visibility,
            "box": tf.cast(box, tf.float32), "source_matrix": tf.cast(source_matrix, tf.float32)}


def samples_to_dataset(samples):
    """A ``tf.data.Dataset`` of standard dicts from a list of ``zoo.data.Sample``.

    Args:
        samples: list of ``Sample`` whose ``image`` is a uint8 array or an image file path.
            All samples must have the same number of landmarks.

    Returns:
        ``tf.data.Dataset`` of dicts with ``image``, ``landmarks``, ``visibility``, ``box``.

    Example:
        >>> face = zoo.data.synthface.SynthFace(image_size=64)
        >>> ds = zoo.data.pipeline.samples_to_dataset([face.sample(i) for i in range(3)])
    """
    samples = list(samples)
    if not samples or not all(isinstance(s, Sample) for s in samples):
        raise ValueError(f"Expected a non-empty list of zoo.data.Sample. Received: samples={samples[:2]!r}")
    _check_samples(samples)
    landmarks = np.stack([np.asarray(s.landmarks, np.float32) for s in samples])
    visibility = np.stack([
        np.ones(len(s.landmarks), np.float32) if s.visibility is None else np.asarray(s.visibility, np.float32)
        for s in samples])
    box = np.stack([
        np.concatenate([np.min(s.landmarks, 0), np.max(s.landmarks, 0)]).astype(np.float32)
        if s.box is None else np.asarray(s.box, np.float32) for s in samples])
    columns = {"landmarks": landmarks, "visibility": visibility, "box": box}
    if all(isinstance(s.image, (str, bytes)) or hasattr(s.image, "__fspath__") for s in samples):
        columns["path"] = np.array([str(s.image) for s in samples])
        return tf.data.Dataset.from_tensor_slices(columns).map(
            lambda e: {"image": tf.io.decode_image(tf.io.read_file(e["path"]), channels=3,
                                                    expand_animations=False),
                       "landmarks": e["landmarks"], "visibility": e["visibility"], "box": e["box"]},
            num_parallel_calls=tf.data.AUTOTUNE)
    images = [np.asarray(s.image) for s in samples]
    if all(im.shape == images[0].shape for im in images):
        columns["image"] = np.stack(images).astype(np.uint8)
        return tf.data.Dataset.from_tensor_slices(columns)

    def generate():
        for im, lm, vis, bx in zip(images, landmarks, visibility, box):
            yield {"image": im.astype(np.uint8), "landmarks": lm, "visibility": vis, "box": bx}

    n = landmarks.shape[1]
    return tf.data.Dataset.from_generator(generate, output_signature={
        "image": tf.TensorSpec((None, None, 3), tf.uint8),
        "landmarks": tf.TensorSpec((n, 2), tf.float32),
        "visibility": tf.TensorSpec((n,), tf.float32),
        "box": tf.TensorSpec((4,), tf.float32)})


def _check_samples(samples):
    """Fails early, naming the sample, on what would otherwise break inside ``tf.data``."""
    import os

    from zoo.data.readers.common import check_box_in_image, check_landmarks, data_error

    num_landmarks = None
    for index, sample in enumerate(samples):
        is_path = isinstance(sample.image, (str, bytes, os.PathLike))
        where = f"samples[{index}]" + (f" ({os.fsdecode(sample.image)})" if is_path else "")
        landmarks = check_landmarks(sample.landmarks, path=where)  # shape, NaN / inf
        if num_landmarks is None:
            num_landmarks = len(landmarks)
        elif len(landmarks) != num_landmarks:
            raise data_error("wrong point count", f"expected {num_landmarks} (as samples[0]), "
                             f"found {len(landmarks)}", where)
        if is_path and not os.path.isfile(sample.image):
            raise data_error("missing image", "no such file", where)
        if not is_path and np.ndim(sample.image) in (2, 3):  # one image (not a clip)
            box = sample.box if sample.box is not None else np.concatenate(
                [landmarks.min(0), landmarks.max(0)])
            check_box_in_image(box, np.shape(sample.image), where)


def _as_dataset(source):
    if isinstance(source, tf.data.Dataset):
        return source
    if isinstance(source, (list, tuple)) and source and isinstance(source[0], Sample):
        return samples_to_dataset(source)
    received = f"an empty {type(source).__name__}" if isinstance(source, (list, tuple)) \
        and not source else type(source).__name__
    raise ValueError(
        "source must be a tf.data.Dataset or a non-empty list of zoo.data.Sample. Received: "
        f"source={received}")


class _Processor:
    """The per-element work of ``make_dataset``/``make_clip_dataset`` (one traced function)."""

    def __init__(self, codec, scheme, input_size, augment, crop_from, margin, return_metadata, clip):
        if crop_from not in CROP_MODES:
            raise ValueError(f"crop_from must be one of {CROP_MODES}. Received: crop_from={crop_from!r}")
        if crop_from == "frame_box" and not clip:
            raise ValueError("crop_from='frame_box' (one crop per frame) is for clips "
                             "(make_clip_dataset). Received: crop_from='frame_box'")
        if margin < 0:
            raise ValueError(f"margin must be >= 0. Received: margin={margin}")
        if int(input_size) < 8:
            raise ValueError(f"input_size must be >= 8. Received: input_size={input_size}")
        self.codec = codec
        self.scheme = scheme
        self.input_size = int(input_size)
        self.augment = augment
        self.crop_from = crop_from
        self.margin = float(margin)
        self.return_metadata = return_metadata
        self.clip = clip
        self.permutation = None if scheme is None else [int(i) for i in scheme.flip_permutation]
        if augment is not None and augment.flip_probability > 0 and self.permutation is None:
            raise ValueError(
                "Horizontal flips need the scheme's flip_permutation: pass scheme= (e.g. '300w') "
                "or set AugmentConfig(flip_probability=0). Received: scheme=None")

    def _crop(self, element):
        image, landmarks, box = element["image"], element["landmarks"], element["box"]
        if self.crop_from == "image":
            shape = tf.cast(tf.shape(image), tf.float32)
            height, width = shape[-3], shape[-2]
            center = tf.stack([(width - 1.0) / 2.0, (height - 1.0) / 2.0])
            return transforms.crop_matrix(center, tf.maximum(height, width), self.input_size)
        if self.crop_from == "landmarks":
            box = transforms.landmark_box(landmarks)
        if self.crop_from == "frame_box":  # clips: frame t cropped from its own box (a tracker)
            center, size = transforms.square_box(box, self.margin)
            return tf.stack([transforms.crop_matrix(center[t], size[t], self.input_size)
                             for t in range(box.shape[0])])
        if self.clip:  # one crop for the whole clip: the union of the per-frame boxes
            box = tf.concat([tf.reduce_min(box[:, :2], 0), tf.reduce_max(box[:, 2:], 0)], 0)
        center, size = transforms.square_box(box, self.margin)
        return transforms.crop_matrix(center, size, self.input_size)

    def __call__(self, element, random_seed):
        element = _standardise(element)
        num_landmarks = element["landmarks"].shape[-2]
        if self.scheme is not None and num_landmarks is not None and num_landmarks != self.scheme.num_landmarks:
            raise ValueError(
                f"The scheme {self.scheme.name!r} has {self.scheme.num_landmarks} landmarks but the "
                f"source has {num_landmarks}. Received: landmarks.shape={element['landmarks'].shape}")
        matrix = self._crop(element)
        landmarks, visibility = element["landmarks"], element["visibility"]
        params = None
        if self.augment is not None:
            seed = tf.stack([random_seed, tf.bitwise.right_shift(random_seed, 32)])
            params = transforms.draw_parameters(self.augment, seed, self.input_size,
                                                flip_allowed=self.permutation is not None)
            if transforms.perturbs_box(self.augment):  # a loose face box (RDFN's setting)
                matrix = transforms.compose(transforms.box_perturbation_matrix(
                    self.augment, seed, self.input_size, self.margin), matrix)
            matrix = transforms.compose(transforms.augmentation_matrix(
                self.input_size, params["angle"], params["scale"], params["shift"], params["flip"]), matrix)
        if matrix.shape.rank == 3:  # one matrix per frame ("frame_box")
            image = tf.stack([transforms.warp(element["image"][t], matrix[t], self.input_size)
                              for t in range(matrix.shape[0])])
        else:
            image = transforms.warp(element["image"], matrix, self.input_size)
        crop_landmarks = transforms.transform_landmarks(landmarks, matrix)
        if params is not None and self.permutation is not None:
            # Mirrored coordinates come from the matrix; the permutation swaps left/right names.
            flipped = transforms.flip_landmarks(crop_landmarks, self.permutation)
            flipped_visibility = transforms.flip_landmarks(visibility[..., None], self.permutation)[..., 0]
            crop_landmarks = tf.where(params["flip"], flipped, crop_landmarks)
            visibility = tf.where(params["flip"], flipped_visibility, visibility)
        if params is not None:
            image, visibility = transforms.photometric(image, params, self.augment, crop_landmarks, visibility)
        if self.clip:
            frames = [self.codec.encode(crop_landmarks[t]) for t in range(crop_landmarks.shape[0])]
            targets = {key: tf.stack([f[key] for f in frames]) for key in frames[0]}
        else:
            targets = self.codec.encode(crop_landmarks)
        if not self.return_metadata:
            return image, targets
        full_matrix = transforms.compose(matrix, element["source_matrix"])
        metadata = {
            "landmarks": crop_landmarks,
            "visibility": visibility,
            "matrix": full_matrix,
            "image_landmarks": transforms.to_image_coordinates(landmarks, element["source_matrix"]),
            "flipped": params["flip"] if params is not None else tf.constant(False),
        }
        return image, targets, metadata


def _build(source, processor, batch_size, training, cache, shuffle, seed, num_parallel_calls,
           prefetch, drop_remainder, repeat, num_threads):
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1. Received: batch_size={batch_size}")
    dataset = _as_dataset(source)
    if cache:
        dataset = dataset.cache(cache if isinstance(cache, str) else "")
    if shuffle is None:
        shuffle = 1000 if training else 0
    if shuffle:
        dataset = dataset.shuffle(int(shuffle), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip(dataset, randoms)
    dataset = dataset.map(processor, num_parallel_calls=num_parallel_calls,
                          deterministic=seed is not None or not training)
    if drop_remainder is None:
        drop_remainder = bool(training)
    dataset = dataset.batch(int(batch_size), drop_remainder=drop_remainder)
    if prefetch:
        dataset = dataset.prefetch(prefetch)
    if num_threads:
        options = tf.data.Options()
        options.threading.private_threadpool_size = int(num_threads)
        dataset = dataset.with_options(options)
    return dataset


def make_dataset(source, codec, scheme=None, input_size=256, batch_size=10, augment=True, training=True,
                 crop_from="box", margin=0.25, cache=False, shuffle=None, seed=0, return_metadata=False,
                 num_parallel_calls=tf.data.AUTOTUNE, prefetch=tf.data.AUTOTUNE, drop_remainder=None,
                 repeat=False, num_threads=None):
    """Batches of cropped, augmented faces and their codec targets.

    Args:
        source: see the module docstring (tf.data.Dataset of tuples/dicts, or list of Samples).
        codec: a codec object (``zoo.codecs``); its ``encode`` makes the targets.
        scheme: ``zoo.schemes.Scheme`` or its name; needed for flips (``flip_permutation``).
        input_size: crop side ``F``.
        batch_size: faces per batch.
        augment: True (default ``AugmentConfig``), False, or an ``AugmentConfig``; ignored
            (no augmentation) when ``training`` is False.
        training: shuffling, augmentation and ``drop_remainder`` default on.
        crop_from: ``"box"`` (the source's box, or the landmark box when absent),
            ``"landmarks"`` (landmark box) or ``"image"`` (the whole image, e.g. records that
            are already face crops).
        margin: square crop side = ``max(w, h) * (1 + margin)`` of the box.
        cache: False, True (in memory) or a file path; caches the decoded source before
            augmentation.
        shuffle: shuffle buffer (default 1000 when training, else none).
        seed: seed for shuffling and augmentation (None: nondeterministic, fastest).
        return_metadata: also return a dict with ``landmarks`` (crop pixels, after flips),
            ``visibility``, ``matrix`` (image -> crop ``(2, 3)``, for
            ``zoo.data.transforms.to_image_coordinates``), ``image_landmarks`` and ``flipped``.
            Elements are then ``(images, targets, metadata)``: for evaluation loops, not ``fit``.
        num_parallel_calls: ``map`` parallelism.
        prefetch: prefetch buffer (0 disables).
        drop_remainder: default ``training``.
        repeat: repeat the source forever.
        num_threads: size of a private tf.data thread pool (None: the shared one).

    Returns:
        ``tf.data.Dataset`` of ``(images (B, F, F, 3) float32 in [0, 255], targets dict)``
        (plus ``metadata`` when asked).

    Example:
        >>> codec = zoo.codecs.Heatmap1DCodec(input_size=128, heatmap_size=384)
        >>> source = zoo.data.synthface.dataset(image_size=128, num_samples=8, with_metadata=True)
        >>> ds = zoo.data.pipeline.make_dataset(source, codec, "300w", input_size=128, batch_size=4)
    """
    scheme = _resolve_scheme(scheme)
    processor = _Processor(codec, scheme, input_size, _resolve_augment(augment, training), crop_from,
                           margin, return_metadata, clip=False)
    return _build(source, processor, batch_size, training, cache, shuffle, seed, num_parallel_calls,
                  prefetch, drop_remainder, repeat, num_threads)


def make_clip_dataset(source, codec, scheme=None, clip_length=None, input_size=256, batch_size=2,
                      augment=True, training=True, crop_from="box", margin=0.25, cache=False,
                      shuffle=None, seed=0, return_metadata=False, num_parallel_calls=tf.data.AUTOTUNE,
                      prefetch=tf.data.AUTOTUNE, drop_remainder=None, repeat=False, num_threads=None):
    """Batches of video clips ``(B, T, F, F, 3)`` with one crop and one augmentation per clip.

    Args:
        source: ``tf.data.Dataset`` whose elements are clips: dicts (or tuples) with ``image``
            ``(T, H, W, 3)`` uint8, ``landmarks`` ``(T, N, 2)``, optional ``visibility`` ``(T, N)``
            and ``box`` ``(T, 4)`` (e.g. ``zoo.data.synthface.clip_dataset`` or
            ``clips_from_frames``).
        codec: codec; targets are stacked per frame: ``{"x": (B, T, N, L), ...}``.
        scheme: scheme or name (flips).
        clip_length: T; checked against the source when given.
        input_size, batch_size, augment, training, crop_from, margin, cache, shuffle, seed,
        return_metadata, num_parallel_calls, prefetch, drop_remainder, repeat, num_threads: as in
            ``make_dataset``; the crop is the union of the clip's boxes, the matrix ``(2, 3)`` is
            shared by all frames; ``crop_from="frame_box"`` crops every frame from its own
            ``box`` instead (a tracker's crop, e.g. around the previous frame's landmarks:
            matrices ``(T, 2, 3)``), with the clip's one augmentation on top.

    Returns:
        ``tf.data.Dataset`` of ``(clips (B, T, F, F, 3) float32, targets (B, T, ...))``.

    Example:
        >>> codec = zoo.codecs.Heatmap1DCodec(input_size=64, heatmap_size=192)
        >>> clips = zoo.data.synthface.clip_dataset(4, image_size=64, num_clips=4)
        >>> ds = zoo.data.pipeline.make_clip_dataset(clips, codec, "300w", clip_length=4, input_size=64)
    """
    scheme = _resolve_scheme(scheme)
    source = _as_dataset(source)
    spec = source.element_spec
    landmark_spec = spec["landmarks"] if isinstance(spec, dict) else spec[1]
    if landmark_spec.shape.rank != 3:
        raise ValueError(
            "Clip sources need landmarks (T, N, 2). Received: landmarks shape "
            f"{landmark_spec.shape}")
    length = landmark_spec.shape[0]
    if length is None:
        raise ValueError("Clip sources need a static clip length T. Received: T=None")
    if clip_length is not None and int(clip_length) != length:
        raise ValueError(f"The source's clips have T={length}. Received: clip_length={clip_length}")
    processor = _Processor(codec, scheme, input_size, _resolve_augment(augment, training), crop_from,
                           margin, return_metadata, clip=True)
    return _build(source, processor, batch_size, training, cache, shuffle, seed, num_parallel_calls,
                  prefetch, drop_remainder, repeat, num_threads)


def clips_from_frames(frames, clip_length, shift=None):
    """Cuts one video's consecutive frames into clips of ``clip_length``.

    Args:
        frames: ``tf.data.Dataset`` of one video's frames in order (dicts or tuples as in
            ``make_dataset``; frame images must share one size).
        clip_length: T.
        shift: frames between clip starts (default T: non-overlapping).

    Returns:
        ``tf.data.Dataset`` of clip dicts with ``image (T, H, W, 3)``, ``landmarks (T, N, 2)``,
        ``visibility (T, N)``, ``box (T, 4)``; the incomplete tail is dropped.

    Example:
        >>> samples = zoo.data.synthface.SynthFace(64).video_samples(8)
        >>> clips = zoo.data.pipeline.clips_from_frames(zoo.data.pipeline.samples_to_dataset(samples), 4)
    """
    if int(clip_length) < 1:
        raise ValueError(f"clip_length must be >= 1. Received: clip_length={clip_length}")
    standard = frames.map(lambda *e: {k: v for k, v in _standardise(e[0] if len(e) == 1 else e).items()
                                      if k != "source_matrix"})
    return standard.window(int(clip_length), shift=int(shift or clip_length), drop_remainder=True).flat_map(
        lambda w: tf.data.Dataset.zip(w).batch(int(clip_length), drop_remainder=True))
