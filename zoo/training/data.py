"""Training/validation face sources for the recipes: a dataset folder, or SynthFace.

A source is a list of faces that can be indexed (for k-fold splits), turned into a batched
``tf.data`` of ``(images, targets)`` with a codec, and read into numpy arrays for evaluation.
``check_data_dir`` stops a wrong ``--data_dir`` at once, with the layout the reader expects.
"""
import os

import numpy as np

SYNTHETIC_BANNER = """\
================================================================================
 NO --data_dir GIVEN: TRAINING ON SYNTHFACE (synthetic faces with exact 68 points)
 This shows the whole path (data -> training -> NME -> export); the numbers are NOT
 comparable with the paper. Pass --data_dir=/path/to/{dataset} for a real run.
================================================================================"""

SYNTHETIC_VIDEO_BANNER = """\
================================================================================
 NO --data_dir GIVEN: TRAINING THE TRACKER ON SYNTHFACE VIDEOS (synthetic faces,
 smooth motion, occlusion and blur, exact 68 points)
 This shows the whole path (clips -> Eq. 14 training -> video NME -> export); the
 numbers are NOT comparable with the paper. Pass --data_dir=/path/to/{dataset} for a real run.
================================================================================"""

# The layouts the readers in zoo/data/readers expect (see each reader's module docstring).
EXPECTED_LAYOUTS = {
    "300w": """\
  <data_dir>/lfpw/trainset/*.png + *.pts, <data_dir>/helen/trainset/*.jpg + *.pts,
  <data_dir>/afw/*.jpg + *.pts                      (training: 3148 faces)
  <data_dir>/lfpw/testset, helen/testset, ibug      (common 554 / challenging 135)
  (zoo.data.readers.w300)""",
    "aflw": """\
  <data_dir>/face_landmarks_aflw_train.csv, face_landmarks_aflw_test.csv,
  <data_dir>/face_landmarks_aflw_test_frontal.csv   (HRNet's AFLW-19 lists)
  <data_dir>/flickr/0/image00002.jpg ...            (the AFLW images)
  (zoo.data.readers.aflw)""",
    "wflw": """\
  <data_dir>/WFLW_images/<event folder>/<image>.jpg
  <data_dir>/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt
  <data_dir>/WFLW_annotations/list_98pt_test/list_98pt_test_*.txt
  (zoo.data.readers.wflw)""",
    "cofw": """\
  <data_dir>/COFW_train_color.mat, <data_dir>/COFW_test_color.mat   (29 points)
  (zoo.data.readers.cofw)""",
    "300vw": """\
  <data_dir>/001/vid.avi + <data_dir>/001/annot/000001.pts ...   (114 videos, or imgs/*.jpg)
  (zoo.data.readers.vw300)""",
}


def expected_layout(dataset):
    """The folder layout ``dataset``'s reader expects, as text for error messages.

    Args:
        dataset: ``"300w"``, ``"aflw"``, ``"wflw"``, ``"cofw"`` or ``"300vw"``.

    Returns:
        str.

    Example:
        >>> import zoo.training.data
        >>> "afw" in zoo.training.data.expected_layout("300w")
        True
    """
    if dataset not in EXPECTED_LAYOUTS:
        raise ValueError(f"dataset must be one of {sorted(EXPECTED_LAYOUTS)}. Received: dataset={dataset!r}")
    return EXPECTED_LAYOUTS[dataset]


def _layout_found(dataset, data_dir):
    """Returns a description of what is missing, or None if the layout looks right."""
    join = os.path.join
    if dataset == "300w":
        from zoo.data.readers import w300

        found = [f for f in w300.SPLIT_FOLDERS["train"] if w300._resolve_folder(data_dir, f)]
        if not found:
            return "none of the training folders " + ", ".join(w300.SPLIT_FOLDERS["train"])
        has_pts = any(name.endswith(".pts") for f in found
                      for name in os.listdir(w300._resolve_folder(data_dir, f)))
        return None if has_pts else "no .pts files in " + ", ".join(found)
    if dataset == "aflw":
        from zoo.data.readers import aflw

        path = join(data_dir, aflw.SPLIT_FILES["train"])
        return None if os.path.isfile(path) else f"the annotation list {aflw.SPLIT_FILES['train']}"
    if dataset == "wflw":
        relative = "WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_train.txt"
        missing = [p for p in (relative, "WFLW_images") if not os.path.exists(join(data_dir, p))]
        return ", ".join(missing) or None
    if dataset == "cofw":
        return None if os.path.isfile(join(data_dir, "COFW_train_color.mat")) else "COFW_train_color.mat"
    if dataset == "300vw":
        videos = [d for d in os.listdir(data_dir) if os.path.isdir(join(data_dir, d, "annot"))]
        return None if videos else "video folders <id>/annot/*.pts (with vid.avi or imgs/)"
    raise ValueError(f"dataset must be one of {sorted(EXPECTED_LAYOUTS)}. Received: dataset={dataset!r}")


def check_data_dir(dataset, data_dir):
    """Stops at once when ``data_dir`` is missing, empty or not in ``dataset``'s layout.

    Runs no TensorFlow and reads no annotation, so a wrong flag fails before any model is built.

    Args:
        dataset: ``"300w"``, ``"aflw"``, ``"wflw"``, ``"cofw"`` or ``"300vw"``.
        data_dir: the folder given with ``--data_dir``.

    Raises:
        ValueError: naming the folder, what is wrong, and the expected layout.

    Example:
        >>> import zoo.training.data
        >>> zoo.training.data.check_data_dir("300w", "/nonexistent")
        Traceback (most recent call last):
        ...
        ValueError: --data_dir=/nonexistent does not exist. ...
    """
    layout = expected_layout(dataset)
    if not os.path.isdir(data_dir):
        problem = "does not exist" if not os.path.exists(data_dir) else "is not a folder"
    elif not os.listdir(data_dir):
        problem = "is empty"
    else:
        missing = _layout_found(dataset, data_dir)
        problem = None if missing is None else f"does not hold the {dataset} layout: missing {missing}"
    if problem:
        raise ValueError(f"--data_dir={data_dir} {problem}. Expected layout for {dataset}:\n"
                         f"{layout}\nReceived: data_dir={data_dir}")


class SynthFaceSource:
    """SynthFace faces ``index`` in ``indices`` of ``SynthFace(image_size, seed)``.

    The faces are rendered at the model's input size, so they need no crop.

    Args:
        image_size: F.
        seed: SynthFace seed.
        indices: face indices (default ``range(num_samples)``).
        num_samples: number of faces when ``indices`` is None.

    Example:
        >>> from zoo.training.data import SynthFaceSource
        >>> source = SynthFaceSource(64, seed=0, num_samples=4)
        >>> images, landmarks = source.arrays()
        >>> images.shape, landmarks.shape
        ((4, 64, 64, 3), (4, 68, 2))
    """

    scheme = "300w"

    def __init__(self, image_size, seed=0, indices=None, num_samples=None):
        if indices is None:
            if not isinstance(num_samples, int) or num_samples < 1:
                raise ValueError(f"num_samples must be a positive integer. Received: num_samples={num_samples!r}")
            indices = np.arange(num_samples)
        self.image_size = int(image_size)
        self.seed = int(seed)
        self.indices = np.asarray(indices, np.int64)
        self._arrays = None

    def __len__(self):
        return len(self.indices)

    def subset(self, positions):
        return SynthFaceSource(self.image_size, self.seed, self.indices[np.asarray(positions)])

    def _render(self, index):
        from zoo.data.synthface import SynthFace

        if not hasattr(self, "_generator"):
            self._generator = SynthFace(image_size=self.image_size, seed=self.seed)
        sample = self._generator.sample(int(index))
        return sample.image, sample.landmarks

    def element_dataset(self, shuffle_seed=None):
        """Endless ``tf.data`` of ``(image uint8 (F, F, 3), landmarks (N, 2))``.

        The cheap index list is shuffled (each epoch anew) before the faces are rendered, so
        the first batch does not wait for a shuffle buffer of rendered faces.
        """
        import tensorflow as tf

        size = self.image_size
        # SynthFace fills its noise tiles lazily and not thread-safely; render one face here so
        # the parallel map below only reads them.
        self._render(self.indices[0])

        def render(index):
            image, landmarks = tf.numpy_function(self._render, [index], [tf.uint8, tf.float32],
                                                 stateful=False)
            return tf.ensure_shape(image, (size, size, 3)), tf.ensure_shape(landmarks, (68, 2))

        indices = tf.data.Dataset.from_tensor_slices(self.indices)
        if shuffle_seed is not None:
            indices = indices.shuffle(len(self.indices), seed=shuffle_seed,
                                      reshuffle_each_iteration=True)
        return indices.repeat().map(render, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    # The rendered image is already the face crop: the pipeline keeps it whole.
    crop_from = "image"

    def raw_element_dataset(self, shuffle_seed=None):
        """Endless ``tf.data`` of dicts ``image``, ``landmarks`` for ``zoo.data.pipeline``."""
        return self.element_dataset(shuffle_seed).map(
            lambda image, landmarks: {"image": image, "landmarks": landmarks})

    def arrays(self):
        """All faces as numpy ``(images uint8 (B, F, F, 3), landmarks float32 (B, N, 2))``."""
        if self._arrays is None:
            pairs = [self._render(i) for i in self.indices]
            self._arrays = (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
        return self._arrays


class SampleSource:
    """Faces from a reader's ``Sample`` list, cropped square around the face to ``image_size``.

    Args:
        samples: list of ``zoo.data.Sample``.
        image_size: F.
        scheme: the samples' landmark scheme name.

    Example:
        >>> from zoo.data.synthface import SynthFace
        >>> from zoo.training.data import SampleSource
        >>> samples = [SynthFace(image_size=96, seed=0).sample(i) for i in range(2)]
        >>> images, landmarks = SampleSource(samples, 64, "300w").arrays()
        >>> images.shape, landmarks.shape
        ((2, 64, 64, 3), (2, 68, 2))
    """

    def __init__(self, samples, image_size, scheme):
        if not samples:
            raise ValueError("The reader returned no samples. Received: samples=[]")
        self.samples = list(samples)
        self.image_size = int(image_size)
        self.scheme = scheme
        self.num_landmarks = int(self.samples[0].landmarks.shape[0])
        self._arrays = None

    def __len__(self):
        return len(self.samples)

    def subset(self, positions):
        return SampleSource([self.samples[int(i)] for i in positions], self.image_size, self.scheme)

    def _crop(self, position):
        from zoo.data.readers.common import load_sample_image
        from zoo.data.tfrecord import crop_face

        sample = self.samples[int(position)]
        image = load_sample_image(sample)
        crop, points, _ = crop_face(image, sample.landmarks, box=sample.box, size=self.image_size)
        return crop, points.astype(np.float32)

    def element_dataset(self, shuffle_seed=None):
        """Endless ``tf.data`` of ``(crop uint8 (F, F, 3), landmarks (N, 2))``, shuffled by index."""
        import tensorflow as tf

        size, count = self.image_size, self.num_landmarks

        def crop(position):
            image, landmarks = tf.numpy_function(self._crop, [position], [tf.uint8, tf.float32],
                                                 stateful=False)
            return tf.ensure_shape(image, (size, size, 3)), tf.ensure_shape(landmarks, (count, 2))

        indices = tf.data.Dataset.range(len(self.samples))
        if shuffle_seed is not None:
            indices = indices.shuffle(len(self.samples), seed=shuffle_seed,
                                      reshuffle_each_iteration=True)
        return indices.repeat().map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    # The pipeline crops the square around the face box (or landmark box) with margin 0.25,
    # the same crop as ``crop_face`` gives validation, in one warp with the augmentation.
    crop_from = "box"

    def _load(self, position):
        from zoo.data.readers.common import load_sample_image

        sample = self.samples[int(position)]
        image = load_sample_image(sample)
        box = sample.box
        if box is None:
            box = np.concatenate([sample.landmarks.min(0), sample.landmarks.max(0)])
        return image, sample.landmarks.astype(np.float32), np.asarray(box, np.float32)

    def raw_element_dataset(self, shuffle_seed=None):
        """Endless ``tf.data`` of whole images with ``landmarks`` and ``box`` (shuffled by index),
        for ``zoo.data.pipeline`` to crop and augment in one warp."""
        import tensorflow as tf

        count = self.num_landmarks

        def load(position):
            image, landmarks, box = tf.numpy_function(
                self._load, [position], [tf.uint8, tf.float32, tf.float32], stateful=False)
            return {"image": tf.ensure_shape(image, (None, None, 3)),
                    "landmarks": tf.ensure_shape(landmarks, (count, 2)),
                    "box": tf.ensure_shape(box, (4,))}

        indices = tf.data.Dataset.range(len(self.samples))
        if shuffle_seed is not None:
            indices = indices.shuffle(len(self.samples), seed=shuffle_seed,
                                      reshuffle_each_iteration=True)
        return indices.repeat().map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def arrays(self):
        if self._arrays is None:
            pairs = [self._crop(i) for i in range(len(self.samples))]
            self._arrays = (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
        return self._arrays


def training_dataset(source, codec, batch_size, seed=0, augment=True, scheme=None):
    """Endless shuffled ``(images float32 (B, F, F, 3), codec targets)`` global batches.

    Each face is cropped and augmented in one warp by ``zoo.data.pipeline.make_dataset``
    (rotation, scale, shift, horizontal flip with the scheme's permutation, colour, blur,
    occlusion), with fresh random parameters every epoch; ``augment=False`` gives the plain crop.

    Args:
        source: a ``SynthFaceSource`` or ``SampleSource``.
        codec: a zoo codec (``encode`` runs inside ``map``).
        batch_size: global batch size.
        seed: shuffle and augmentation seed (the face order is reshuffled every epoch).
        augment: True (``AugmentConfig()`` defaults), False, or a
            ``zoo.data.transforms.AugmentConfig``.
        scheme: landmark scheme name for flips; default ``source.scheme``.

    Returns:
        ``tf.data.Dataset``.

    Example:
        >>> import zoo.codecs
        >>> from zoo.training.data import SynthFaceSource, training_dataset
        >>> codec = zoo.codecs.Heatmap1DCodec(64, 128)
        >>> ds = training_dataset(SynthFaceSource(64, num_samples=4), codec, batch_size=2)
        >>> images, targets = next(iter(ds))
        >>> tuple(targets["x"].shape)
        (2, 68, 128)
    """
    from zoo.data import pipeline

    # Shuffled by index before loading (shuffle=0 below): no buffer of decoded images.
    elements = source.raw_element_dataset(shuffle_seed=seed)
    return pipeline.make_dataset(
        elements, codec, scheme or source.scheme, input_size=source.image_size,
        batch_size=batch_size, augment=augment, training=True, crop_from=source.crop_from,
        margin=0.25, shuffle=0, seed=seed)


# ----------------------------------------------------------------------------- clip sources
# Trackers train on clips ``(T, F, F, 3)`` (paper Sec. 5: 300-VW training videos); a clip
# source lists clips that can be indexed (for k-fold splits by clip or by video) and turns
# them into a ``tf.data`` of clip dicts for ``zoo.data.pipeline.make_clip_dataset``.


class SynthFaceClipSource:
    """SynthFace videos as clips: clip ``i`` is ``SynthFace(image_size, seed).video_samples(T, i)``.

    Each clip is its own short video (one identity, smooth motion, occlusion and blur events),
    so every clip is independent and k-fold splits by clip do not leak.

    Args:
        image_size: side of the rendered frames (the crop is then cut by the pipeline).
        clip_length: T.
        seed: SynthFace seed.
        indices: clip indices (default ``range(num_clips)``).
        num_clips: number of clips when ``indices`` is None.

    Example:
        >>> from zoo.training.data import SynthFaceClipSource
        >>> source = SynthFaceClipSource(64, clip_length=3, num_clips=2)
        >>> frames, landmarks = source.clip(0)
        >>> frames.shape, landmarks.shape
        ((3, 64, 64, 3), (3, 68, 2))
    """

    scheme = "300w"

    def __init__(self, image_size, clip_length, seed=0, indices=None, num_clips=None):
        if isinstance(clip_length, bool) or not isinstance(clip_length, int) or clip_length < 1:
            raise ValueError(f"clip_length must be a positive integer. Received: clip_length={clip_length!r}")
        if indices is None:
            if isinstance(num_clips, bool) or not isinstance(num_clips, int) or num_clips < 1:
                raise ValueError(f"num_clips must be a positive integer. Received: num_clips={num_clips!r}")
            indices = np.arange(num_clips)
        self.image_size = int(image_size)
        self.clip_length = int(clip_length)
        self.seed = int(seed)
        self.indices = np.asarray(indices, np.int64)

    def __len__(self):
        return len(self.indices)

    def subset(self, positions):
        return SynthFaceClipSource(self.image_size, self.clip_length, self.seed,
                                   self.indices[np.asarray(positions, np.int64)])

    def _generator(self):
        from zoo.data.synthface import SynthFace

        if not hasattr(self, "_synthface"):
            self._synthface = SynthFace(image_size=self.image_size, seed=self.seed)
        return self._synthface

    def _render(self, position):
        samples = self._generator().video_samples(self.clip_length, seed=int(self.indices[position]))
        return (np.stack([s.image for s in samples]), np.stack([s.landmarks for s in samples]),
                np.stack([s.visibility for s in samples]).astype(np.float32))

    def clip(self, position):
        """Clip at ``position``: ``(frames uint8 (T, H, W, 3), landmarks float32 (T, 68, 2))``."""
        frames, landmarks, _ = self._render(position)
        return frames, landmarks

    def element_dataset(self, shuffle_seed=None, repeat=True):
        """``tf.data`` of clip dicts ``image (T, H, W, 3)``, ``landmarks``, ``visibility``."""
        import tensorflow as tf

        size, length = self.image_size, self.clip_length
        self._render(0)  # fills SynthFace's lazy tiles before the parallel map reads them

        def render(position):
            image, landmarks, visibility = tf.numpy_function(
                self._render, [position], [tf.uint8, tf.float32, tf.float32], stateful=False)
            return {"image": tf.ensure_shape(image, (length, size, size, 3)),
                    "landmarks": tf.ensure_shape(landmarks, (length, 68, 2)),
                    "visibility": tf.ensure_shape(visibility, (length, 68))}

        return _index_dataset(len(self), shuffle_seed, repeat).map(
            render, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _index_dataset(count, shuffle_seed, repeat):
    """Positions ``0..count-1``, shuffled anew each epoch; cheap to shuffle (before any render)."""
    import tensorflow as tf

    positions = tf.data.Dataset.range(count)
    if shuffle_seed is not None:
        positions = positions.shuffle(count, seed=shuffle_seed, reshuffle_each_iteration=True)
    return positions.repeat() if repeat else positions


def _consecutive_runs(numbers):
    """Splits sorted frame numbers into runs of consecutive numbers."""
    runs, current = [], []
    for number in numbers:
        if current and number != current[-1] + 1:
            runs.append(current)
            current = []
        current.append(number)
    if current:
        runs.append(current)
    return runs


class VideoClipSource:
    """Clips of ``T`` consecutive annotated frames of 300-VW videos (``zoo.data.readers.vw300``).

    Every annotation is read (and checked) up front; unreadable ones and the known broken
    frames are skipped and counted in ``report``, and a clip never spans a skipped frame.
    Frame images are read when a clip is loaded: from ``imgs/NNNNNN.*`` when present, else
    from ``vid.avi`` (seek to the clip's first frame, then read T frames).

    Args:
        root: the 300-VW root (``<root>/<video>/annot/*.pts``).
        category: ``"train"`` (the 50 training videos), ``"S1"``, ``"S2"``, ``"S3"`` or
            ``"test"``.
        clip_length: T.
        shift: frames between clip starts inside a run (default T: non-overlapping).
        broken_frames: passed to ``zoo.data.readers.vw300`` (default
            ``<root>/broken_frames.json`` when present).

    Attributes:
        clips: list of ``(video, [frame numbers], landmarks (T, 68, 2))``.
        report: the ``zoo.data.ReadReport`` of the annotations.

    Example:
        >>> import warnings
        >>> from zoo.training.data import VideoClipSource
        >>> with warnings.catch_warnings():  # the fixtures hold 2 of the 114 videos
        ...     warnings.simplefilter("ignore")
        ...     source = VideoClipSource(fixtures_dir / "300vw", "S1", clip_length=2,
        ...                              broken_frames={})  # frame 731 is on the broken list
        >>> [(video, frames, points.shape) for video, frames, points in source.clips]
        [('401', [731, 732], (2, 68, 2))]
    """

    scheme = "300w"

    def __init__(self, root, category, clip_length, shift=None, broken_frames=None, clips=None,
                 report=None):
        if isinstance(clip_length, bool) or not isinstance(clip_length, int) or clip_length < 1:
            raise ValueError(f"clip_length must be a positive integer. Received: clip_length={clip_length!r}")
        self.root = os.fspath(root)
        self.category = category
        self.clip_length = int(clip_length)
        if clips is None:
            clips, report = self._read(shift, broken_frames)
        self.clips = list(clips)
        self.report = report
        if not self.clips:
            raise ValueError(
                f"No clip of {clip_length} consecutive annotated frames in 300-VW {category} "
                f"under {self.root} ({report.summary() if report else 'no report'}). "
                f"Received: clip_length={clip_length}")

    def _read(self, shift, broken_frames):
        from zoo.data.readers import vw300
        from zoo.data.readers.common import read_pts, skip_reason
        from zoo.data.sample import DataError, ReadReport

        if broken_frames is None and os.path.isfile(os.path.join(self.root, "broken_frames.json")):
            broken_frames = os.path.join(self.root, "broken_frames.json")
        if isinstance(broken_frames, (str, os.PathLike)):
            broken_frames = vw300.load_broken_frames(broken_frames)
        report, clips = ReadReport(), []
        step = int(shift or self.clip_length)
        for video in vw300.list_videos(self.root, self.category):
            broken = (broken_frames or {}).get(video, set())
            landmarks = {}
            for number, path in vw300._annotated_frames(os.path.join(self.root, video)):
                if number in broken:
                    report.skip("known broken frame", f"{video}/{number:06d}")
                    continue
                try:
                    landmarks[number] = read_pts(path, vw300.NUM_POINTS)
                except DataError as error:
                    report.skip(skip_reason(error), str(error))
                    continue
                report.kept += 1
            for run in _consecutive_runs(sorted(landmarks)):
                for start in range(0, len(run) - self.clip_length + 1, step):
                    numbers = run[start:start + self.clip_length]
                    clips.append((video, numbers, np.stack([landmarks[n] for n in numbers])))
        return clips, report

    def __len__(self):
        return len(self.clips)

    @property
    def videos(self):
        """The video id of every clip (for k-fold splits by video)."""
        return [video for video, _, _ in self.clips]

    def subset(self, positions):
        return VideoClipSource(self.root, self.category, self.clip_length,
                               clips=[self.clips[int(i)] for i in positions], report=self.report)

    def _frames(self, video, numbers):
        from zoo.data.readers.common import find_image, load_image

        folder = os.path.join(self.root, video)
        paths = [find_image(os.path.join(folder, "imgs", f"{n:06d}")) for n in numbers]
        if all(paths):
            return [load_image(p) for p in paths]
        import cv2

        avi = os.path.join(folder, "vid.avi")
        capture = cv2.VideoCapture(avi)
        try:
            # Annotation k is video frame k (1-based): seek to index k - 1.
            capture.set(cv2.CAP_PROP_POS_FRAMES, numbers[0] - 1)
            frames = []
            for number in numbers:
                ok, frame = capture.read()
                if not ok:
                    raise ValueError(f"{avi} has no frame {number} (and {folder}/imgs has no "
                                     f"{number:06d}.*). Received: frame={number}")
                frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            return frames
        finally:
            capture.release()

    def clip(self, position):
        """Clip at ``position``: ``(frames uint8 (T, H, W, 3), landmarks float32 (T, 68, 2))``."""
        video, numbers, landmarks = self.clips[int(position)]
        return np.stack(self._frames(video, numbers)), landmarks.astype(np.float32)

    def element_dataset(self, shuffle_seed=None, repeat=True):
        """``tf.data`` of clip dicts ``image (T, H, W, 3)`` (full frames) and ``landmarks``."""
        return _clip_element_dataset(self, shuffle_seed, repeat)


class StaticImageClipSource:
    """Still images as clips: clip ``i`` is image ``i`` repeated ``T`` times.

    An option of this zoo (``--image_data_dir``), off by default and not the paper's protocol:
    the paper uses its 300W images only to train the detector inside the tracker and trains
    the tracker on 300-VW videos (Sec. 5.1). A still image is a clip without motion (the
    refinement learns that a static face should stay put), and the clip pipeline gives all T
    copies one augmentation.

    Args:
        samples: ``zoo.data.Sample`` list (``image`` a path or an RGB array; 68 landmarks).
        clip_length: T.

    Example:
        >>> import numpy as np
        >>> from zoo.data import Sample
        >>> from zoo.training.data import StaticImageClipSource
        >>> face = Sample(np.zeros((40, 40, 3), np.uint8), np.full((68, 2), 20.0, np.float32))
        >>> frames, landmarks = StaticImageClipSource([face], clip_length=3).clip(0)
        >>> frames.shape, landmarks.shape
        ((3, 40, 40, 3), (3, 68, 2))
    """

    scheme = "300w"

    def __init__(self, samples, clip_length):
        if isinstance(clip_length, bool) or not isinstance(clip_length, int) or clip_length < 1:
            raise ValueError(f"clip_length must be a positive integer. Received: clip_length={clip_length!r}")
        self.samples = list(samples)
        if not self.samples:
            raise ValueError("StaticImageClipSource needs at least one sample. Received: samples=[]")
        self.clip_length = int(clip_length)

    def __len__(self):
        return len(self.samples)

    def subset(self, positions):
        return StaticImageClipSource([self.samples[int(i)] for i in positions], self.clip_length)

    def clip(self, position):
        """``(frames uint8 (T, H, W, 3), landmarks float32 (T, N, 2))``: one image, T times."""
        from zoo.data.readers.common import load_image

        sample = self.samples[int(position)]
        image = load_image(sample.image) if isinstance(sample.image, (str, os.PathLike)) \
            else np.asarray(sample.image, np.uint8)
        landmarks = np.asarray(sample.landmarks, np.float32)
        return (np.repeat(image[None], self.clip_length, axis=0),
                np.repeat(landmarks[None], self.clip_length, axis=0))

    def element_dataset(self, shuffle_seed=None, repeat=True):
        """``tf.data`` of clip dicts ``image (T, H, W, 3)`` and ``landmarks``."""
        return _clip_element_dataset(self, shuffle_seed, repeat)


class ConcatClipSource:
    """Several clip sources as one (e.g. 300-VW videos + 300W static clips), indexable.

    Args:
        sources: clip sources with the same ``clip_length`` and scheme.

    Example:
        >>> from zoo.training.data import ConcatClipSource, SynthFaceClipSource
        >>> both = ConcatClipSource([SynthFaceClipSource(32, 2, num_clips=2),
        ...                          SynthFaceClipSource(32, 2, seed=1, num_clips=3)])
        >>> len(both)
        5
    """

    def __init__(self, sources):
        self.sources = list(sources)
        if not self.sources:
            raise ValueError("ConcatClipSource needs at least one source. Received: sources=[]")
        lengths = {source.clip_length for source in self.sources}
        schemes = {source.scheme for source in self.sources}
        if len(lengths) != 1 or len(schemes) != 1:
            raise ValueError("ConcatClipSource needs sources of one clip length and scheme. "
                             f"Received: clip_length={sorted(lengths)}, scheme={sorted(schemes)}")
        self.clip_length = lengths.pop()
        self.scheme = schemes.pop()
        self._offsets = np.cumsum([0] + [len(source) for source in self.sources])

    def __len__(self):
        return int(self._offsets[-1])

    def _locate(self, position):
        position = int(position)
        if not 0 <= position < len(self):
            raise ValueError(f"position must be in [0, {len(self)}). Received: position={position}")
        index = int(np.searchsorted(self._offsets, position, side="right") - 1)
        return self.sources[index], position - int(self._offsets[index])

    def clip(self, position):
        source, local = self._locate(position)
        frames, landmarks = source.clip(local)
        return frames, np.asarray(landmarks, np.float32)

    def subset(self, positions):
        positions = np.asarray(positions, np.int64)
        parts = []
        for index, source in enumerate(self.sources):
            inside = positions[(positions >= self._offsets[index]) &
                               (positions < self._offsets[index + 1])]
            if len(inside):
                parts.append(source.subset(inside - self._offsets[index]))
        return ConcatClipSource(parts)

    def element_dataset(self, shuffle_seed=None, repeat=True):
        """``tf.data`` of clip dicts ``image (T, H, W, 3)`` and ``landmarks``, all sources mixed."""
        return _clip_element_dataset(self, shuffle_seed, repeat)


def _clip_element_dataset(source, shuffle_seed, repeat):
    """Clip dicts of any source with ``clip(position)`` (frames of any size)."""
    import tensorflow as tf

    length = source.clip_length

    def load(position):
        image, landmarks = tf.numpy_function(source.clip, [position], [tf.uint8, tf.float32],
                                             stateful=False)
        return {"image": tf.ensure_shape(image, (length, None, None, 3)),
                "landmarks": tf.ensure_shape(landmarks, (length, 68, 2))}

    return _index_dataset(len(source), shuffle_seed, repeat).map(
        load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


TRACKING_DRIFT_CORRELATION = 0.8
CLIP_CROPS = ("tracking", "clip")


def tracking_crop_boxes(landmarks, seed, jitter, correlation=TRACKING_DRIFT_CORRELATION):
    """Per-frame square boxes ``(T, 4)`` as a tracker crops a clip: from the previous frame.

    A tracker crops frame t around its own prediction for frame t-1 (``python -m zoo.track``;
    the tracking protocol of ``zoo.evaluation``). In training the prediction is stood in for
    by the ground truth of frame t-1 (frame 0: its own, the first frame's crop coming from the
    ground truth as in the evaluation), moved and scaled by a drift ``e_t`` that follows a
    stationary AR(1) process over the clip (``e_0 = 0``, ``e_t = rho e_{t-1} +
    sqrt(1 - rho^2) jitter n_t``): the tracker's error is smooth in time. So the face moves in
    the crop as much as it moves between frames, plus the error.

    Args:
        landmarks: ``(T, N, 2)`` ground truth in image pixels (TF tensor).
        seed: ``(2,)`` int stateless seed.
        jitter: standard deviation of the drift: centre shift as a fraction of the landmark
            box's longer side (per axis) and log scale.
        correlation: rho, the frame-to-frame correlation of the drift.

    Returns:
        float32 ``(T, 4)`` square boxes ``x1, y1, x2, y2`` (the pipeline adds the margin).

    Example:
        >>> import numpy as np, tensorflow as tf
        >>> from zoo.training.data import tracking_crop_boxes
        >>> points = np.stack([np.array([[0.0, 0.0], [10.0, 10.0]]) + t for t in range(3)])
        >>> boxes = tracking_crop_boxes(tf.constant(points, tf.float32), [1, 2], jitter=0.0)
        >>> boxes.numpy()[:, 0].tolist()  # frame t sits in frame t-1's box
        [0.0, 0.0, 1.0]
    """
    import tensorflow as tf

    from zoo.data import transforms

    landmarks = tf.convert_to_tensor(landmarks, tf.float32)
    length = landmarks.shape[0]
    box = transforms.landmark_box(landmarks)
    box = tf.concat([box[:1], box[:-1]], axis=0)  # frame t uses frame t-1's landmarks
    center = 0.5 * (box[:, :2] + box[:, 2:])
    side = tf.reduce_max(box[:, 2:] - box[:, :2], axis=-1)
    noise = tf.random.stateless_normal((length, 3), tf.cast(seed, tf.int64)[:2])
    drift, drifts = tf.zeros((3,)), [tf.zeros((3,))]
    for t in range(1, length):
        drift = correlation * drift + float(np.sqrt(1.0 - correlation ** 2)) * noise[t]
        drifts.append(drift)
    drift = float(jitter) * tf.stack(drifts)
    side = side * tf.exp(drift[:, 2])
    center = center + drift[:, :2] * side[:, None]
    half = 0.5 * side[:, None]
    return tf.concat([center - half, center + half], axis=-1)


def clip_training_dataset(source, codec, input_size, batch_size, seed=0, augment=True,
                          crop="tracking", crop_jitter=0.03):
    """Endless shuffled ``(clips float32 (B, T, F, F, 3), targets {key: (B, T, ...)})`` batches.

    Crops follow the tracking protocol by default (``crop="tracking"``): frame t is cropped
    around frame t-1's landmarks with a smooth random drift (:func:`tracking_crop_boxes`), as
    the tracker crops from its previous prediction; ``crop="clip"`` cuts one crop for the whole
    clip (the union of its landmark boxes). One augmentation per clip on top
    (``zoo.data.pipeline.make_clip_dataset``); the codec encodes every frame.

    Args:
        source: a clip source (``SynthFaceClipSource``, ``VideoClipSource``, ...).
        codec: a zoo codec.
        input_size: F.
        batch_size: global batch size (clips).
        seed: shuffle, drift and augmentation seed.
        augment: passed to ``make_clip_dataset``.
        crop: ``"tracking"`` or ``"clip"``.
        crop_jitter: drift of the tracking crops (``TrainConfig.crop_jitter``).

    Returns:
        ``tf.data.Dataset``.

    Example:
        >>> import zoo.codecs
        >>> from zoo.training.data import SynthFaceClipSource, clip_training_dataset
        >>> codec = zoo.codecs.Heatmap1DCodec(64, 128)
        >>> ds = clip_training_dataset(SynthFaceClipSource(64, 3, num_clips=4), codec, 64, 2)
        >>> clips, targets = next(iter(ds))
        >>> tuple(clips.shape), tuple(targets["x"].shape)
        ((2, 3, 64, 64, 3), (2, 3, 68, 128))
    """
    import tensorflow as tf

    from zoo.data import pipeline

    if crop not in CLIP_CROPS:
        raise ValueError(f"Unknown clip crop. Allowed: {list(CLIP_CROPS)}. Received: "
                         f"crop={crop!r}")
    # Shuffled by index before loading (shuffle=0 below): a buffer of full-resolution clips
    # would hold gigabytes.
    elements = source.element_dataset(shuffle_seed=seed, repeat=True)
    crop_from = "landmarks"
    if crop == "tracking":
        # Drift seeds from their own stream (the pipeline's augmentation draws from `seed`).
        randoms = tf.data.Dataset.random(seed=seed + 104_729)

        def add_boxes(element, random):
            seeds = tf.stack([random, tf.bitwise.right_shift(random, 32)])
            return {**element, "box": tracking_crop_boxes(element["landmarks"], seeds,
                                                          crop_jitter)}

        elements = tf.data.Dataset.zip(elements, randoms).map(
            add_boxes, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        crop_from = "frame_box"
    return pipeline.make_clip_dataset(
        elements, codec, source.scheme, clip_length=source.clip_length, input_size=input_size,
        batch_size=batch_size, augment=augment, training=True, crop_from=crop_from,
        shuffle=0, seed=seed)


def clip_arrays(source, input_size, margin=0.25):
    """Every clip of ``source`` cropped per frame around its landmarks, for validation.

    Args:
        source: a clip source.
        input_size: F.
        margin: crop margin (as ``zoo.data.tfrecord.crop_face``).

    Returns:
        ``(clips uint8 (C, T, F, F, 3), landmarks float32 (C, T, N, 2))`` in crop pixels.

    Example:
        >>> from zoo.training.data import SynthFaceClipSource, clip_arrays
        >>> clips, points = clip_arrays(SynthFaceClipSource(64, 2, num_clips=2), 64)
        >>> clips.shape
        (2, 2, 64, 64, 3)
    """
    from zoo.data.tfrecord import crop_face

    clips, points = [], []
    for position in range(len(source)):
        frames, landmarks = source.clip(position)
        crops = [crop_face(frame, marks, size=input_size, margin=margin)
                 for frame, marks in zip(frames, landmarks)]
        clips.append(np.stack([c[0] for c in crops]))
        points.append(np.stack([c[1] for c in crops]).astype(np.float32))
    return np.stack(clips), np.stack(points)
