"""What the trainers read: the dataset readers by name, and the face and clip sources.

Image architectures train on faces (:func:`make_sources`), clip architectures on clips
(:func:`make_clip_sources`); ``zoo.training.image_trainer`` and ``zoo.training.clip_trainer``
pick them. Without a ``data_dir`` both are SynthFace.
"""
import os

import numpy as np

from zoo.training import data as data_lib

# Training and validation splits per dataset (the paper's protocols, Sec. 4).
SPLITS = {
    "300w": ("train", "full"),
    "aflw": ("train", "full"),
    "wflw": ("train", "test"),
    "cofw": ("train", "test"),
}
SCHEMES = {"300w": "300w", "aflw": "aflw", "wflw": "wflw", "cofw": "cofw", "synthface": "300w",
           "300vw": "300w"}
VAL_SPLIT_FILENAME = "val_split.txt"


def _cofw(readers, data_dir, split):
    return readers.read_cofw_mat(os.path.join(data_dir, f"COFW_{split}_color.mat"), split)


# The image reader of each dataset: ``reader(readers_module, data_dir, split)``.
READERS = {
    "300w": lambda readers, data_dir, split: readers.read_300w(data_dir, split),
    "aflw": lambda readers, data_dir, split: readers.read_aflw(data_dir, split),
    "wflw": lambda readers, data_dir, split: readers.read_wflw(data_dir, split),
    "cofw": _cofw,
}


def read_split(dataset, data_dir, split):
    """The faces of one split of an image dataset (``READERS``); prints the read report.

    Args:
        dataset: one of ``READERS``.
        data_dir: the dataset root.
        split: the reader's split name.

    Returns:
        list of ``zoo.data.Sample``.

    Example:
        >>> from zoo.training.sources import read_split
        >>> read_split("300vw", "/data", "train")
        Traceback (most recent call last):
        ...
        ValueError: No image reader for this dataset. Allowed: ['300w', 'aflw', 'cofw', 'wflw']. Received: dataset='300vw'
    """
    import zoo.data.readers as readers

    if dataset not in READERS:
        raise ValueError(f"No image reader for this dataset. Allowed: {sorted(READERS)}. "
                         f"Received: dataset={dataset!r}")
    samples, report = READERS[dataset](readers, data_dir, split)
    print(f"{dataset} {split}: {report.summary()}")
    return samples


def carve_validation(num_samples, fraction, seed):
    """Positions ``(train, val)`` of a fixed hold-out of ``fraction`` of ``num_samples`` faces.

    Example:
        >>> from zoo.training.sources import carve_validation
        >>> train, val = carve_validation(10, 0.2, seed=0)
        >>> len(train), len(val), sorted(set(train) | set(val)) == list(range(10))
        (8, 2, True)
    """
    count = max(1, int(round(num_samples * fraction)))
    if count >= num_samples:
        raise ValueError(f"val_fraction={fraction} leaves no training face of {num_samples}. "
                         f"Received: val_fraction={fraction}")
    order = np.random.default_rng(seed).permutation(num_samples)
    return np.sort(order[count:]), np.sort(order[:count])


def _sample_name(sample):
    return os.fspath(sample.image) if isinstance(sample.image, (str, os.PathLike)) else str(
        sample.meta.get("source", ""))


def make_sources(config):
    """Training and validation face sources for ``config`` (SynthFace when ``data_dir`` is None).

    With a ``data_dir`` and ``val_fraction > 0`` the validation faces are a fixed hold-out of
    the training split (listed in ``<output_dir>/val_split.txt``); with ``val_fraction == 0``
    they are (at most ``num_val`` of) the dataset's test split.

    Args:
        config: a resolved ``TrainConfig`` (``input_size`` set).

    Returns:
        ``(train_source, val_source)``.

    Example:
        >>> import zoo.training
        >>> from zoo.training.sources import make_sources
        >>> config = zoo.training.TrainConfig(dataset="synthface", input_size=64,
        ...                                   num_synthetic=4, num_val=2)
        >>> [len(source) for source in make_sources(config)]
        [4, 2]
    """
    if config.data_dir is None:
        train = data_lib.SynthFaceSource(config.input_size, seed=config.seed,
                                         num_samples=config.num_synthetic)
        val = data_lib.SynthFaceSource(config.input_size, seed=config.seed + 1_000,
                                       num_samples=config.num_val)
        return train, val
    train_split, val_split = SPLITS[config.dataset]
    scheme = SCHEMES[config.dataset]
    samples = read_split(config.dataset, config.data_dir, train_split)
    if config.val_fraction > 0:
        train_positions, val_positions = carve_validation(len(samples), config.val_fraction,
                                                          config.val_seed)
        train = data_lib.SampleSource([samples[i] for i in train_positions], config.input_size,
                                      scheme)
        val = data_lib.SampleSource([samples[i] for i in val_positions], config.input_size,
                                    scheme)
        os.makedirs(config.output_dir, exist_ok=True)
        with open(os.path.join(config.output_dir, VAL_SPLIT_FILENAME), "w",
                  encoding="utf-8") as handle:
            handle.write(f"# {len(val)} validation faces held out of {config.dataset} "
                         f"{train_split} ({len(samples)}), val_seed={config.val_seed}\n")
            handle.writelines(_sample_name(sample) + "\n" for sample in val.samples)
        print(f"validation: {len(val)} faces held out of {train_split} "
              f"(val_fraction={config.val_fraction}, val_seed={config.val_seed}); "
              f"training on {len(train)}")
        return train, val
    train = data_lib.SampleSource(samples, config.input_size, scheme)
    val = data_lib.SampleSource(read_split(config.dataset, config.data_dir, val_split),
                                config.input_size, scheme)
    if len(val) > config.num_val:
        positions = np.random.default_rng(config.seed).choice(len(val), config.num_val, replace=False)
        val = val.subset(np.sort(positions))
    return train, val


def make_clip_sources(config):
    """Training and validation clip sources (SynthFace videos when ``data_dir`` is None).

    With ``data_dir``: clips of ``config.clip_length`` consecutive frames of the 50 300-VW
    training videos (the paper's tracker data, Sec. 5.1), and at most ``num_val`` clips of the
    test videos (S1-S3) to validate on (as the detector recipes validate on the test sets).
    ``config.image_data_dir`` adds the 300W training images as static clips: an option of this
    zoo, off by default, not the paper's protocol (the paper uses 300W only for the detector
    inside the tracker, i.e. ``init_checkpoint``). With ``dataset="300w"`` (no 300-VW video at
    hand): the 300-W faces as synthetic-motion clips (``zoo.data.motion_clips``), training
    clips from the detector's training faces and validation clips from the same fixed
    validation faces the detector holds out (:func:`make_sources`, ``val_split.txt``).
    Without ``data_dir``: ``num_synthetic`` SynthFace training videos and ``num_val``
    validation videos of other seeds.

    Args:
        config: a resolved ``TrainConfig`` (``input_size`` set).

    Returns:
        ``(train_source, val_source)``.

    Example:
        >>> import zoo.training
        >>> from zoo.training.sources import make_clip_sources
        >>> config = zoo.training.TrainConfig(dataset="synthface", input_size=64, clip_length=2,
        ...                                   num_synthetic=4, num_val=2)
        >>> [len(source) for source in make_clip_sources(config)]
        [4, 2]
    """
    length = config.clip_length
    if config.data_dir is None:
        train = data_lib.SynthFaceClipSource(config.input_size, length, seed=config.seed,
                                             num_clips=config.num_synthetic)
        val = data_lib.SynthFaceClipSource(config.input_size, length, seed=config.seed + 1_000,
                                           num_clips=config.num_val)
        return train, val
    if config.dataset == "300w":
        # No 300-VW video: 300-W faces under synthetic motion, from the detector's own
        # training and (fixed, held-out) validation faces.
        from zoo.data import motion_clips

        faces, val_faces = make_sources(config)
        return motion_clips.training_sources(faces.samples, val_faces.samples, length,
                                             config.input_size, seed=config.seed)
    train = data_lib.VideoClipSource(config.data_dir, "train", length)
    print(f"300vw train: {len(train)} clips of {length} frames; {train.report.summary()}")
    if config.image_data_dir is not None:
        # Not the paper's protocol (it trains only the detector on 300W, Sec. 5.1): an opt-in
        # of this zoo that adds 300W images as static clips (no motion, no temporal signal).
        from zoo.data.readers import w300

        samples, report = w300.read_300w(config.image_data_dir, "train")
        if not samples:
            raise ValueError(f"No 300W training image under {config.image_data_dir} "
                             f"({report.summary()}). Received: image_data_dir="
                             f"{config.image_data_dir!r}")
        images = data_lib.StaticImageClipSource(samples, length)
        print(f"300w train images as static clips (--image_data_dir, not the paper's "
              f"protocol): {len(images)}; {report.summary()}")
        train = data_lib.ConcatClipSource([train, images])
    val = data_lib.VideoClipSource(config.data_dir, "test", length)
    if len(val) > config.num_val:
        positions = np.random.default_rng(config.seed).choice(len(val), config.num_val, replace=False)
        val = val.subset(np.sort(positions))
    return train, val


def clip_videos(source, max_bytes=256 * 2 ** 20):
    """``videos()`` -> the clips of ``source`` as ``(frames, landmarks)`` (full frames), for the
    tracking-protocol validation; held in memory when small, else read again at each call.

    Example:
        >>> from zoo.training.data import SynthFaceClipSource
        >>> from zoo.training.sources import clip_videos
        >>> frames, landmarks = next(iter(clip_videos(SynthFaceClipSource(64, 2, num_clips=1))()))
        >>> frames.shape[0], landmarks.shape
        (2, (2, 68, 2))
    """
    first_frames, _ = source.clip(0)
    if first_frames.nbytes * len(source) <= max_bytes:
        clips = [source.clip(position) for position in range(len(source))]
        return lambda: clips
    return lambda: (source.clip(position) for position in range(len(source)))
