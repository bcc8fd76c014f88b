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
        >>> from zoo.training.data import SampleSource
        >>> # samples, report = zoo.data.readers.read_300w("/data/300w", "train")
        >>> # source = SampleSource(samples, 256, "300w")
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

    def arrays(self):
        if self._arrays is None:
            pairs = [self._crop(i) for i in range(len(self.samples))]
            self._arrays = (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
        return self._arrays


def training_dataset(source, codec, batch_size, seed=0):
    """Endless shuffled ``(images float32 (B, F, F, 3), codec targets)`` global batches.

    Args:
        source: a ``SynthFaceSource`` or ``SampleSource``.
        codec: a zoo codec (``encode`` runs inside ``map``).
        batch_size: global batch size.
        seed: shuffle seed (the face order is reshuffled every epoch).

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
    import tensorflow as tf

    dataset = source.element_dataset(shuffle_seed=seed)

    def encode(image, landmarks):
        return tf.cast(image, tf.float32), codec.encode(landmarks)

    dataset = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
