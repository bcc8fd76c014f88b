"""What a recipe runs: ``train(config)`` for a detector preset, ``train_tracker(config)`` for a
tracker preset (clips, Eq. 14), their evaluation, the k-fold runners (gamma, lambda).

``train`` checks ``--data_dir`` before anything else, prints the SynthFace banner when no data is
given, resolves the preset (F, L, gamma), writes ``config.json`` next to the checkpoints and
calls :func:`zoo.training.loop.train_loop` with a validation-NME ``eval_fn`` and TensorBoard
images of predicted landmarks.
"""
import os

import numpy as np

from zoo.training import data as data_lib
from zoo.training.config import save_config

# Training and validation splits per dataset (the paper's protocols, Sec. 4).
SPLITS = {
    "300w": ("train", "full"),
    "aflw": ("train", "full"),
    "wflw": ("train", "test"),
    "cofw": ("train", "test"),
}
SCHEMES = {"300w": "300w", "aflw": "aflw", "wflw": "wflw", "cofw": "cofw", "synthface": "300w",
           "300vw": "300w"}


def _read_split(dataset, data_dir, split):
    import zoo.data.readers as readers

    if dataset == "300w":
        samples, report = readers.read_300w(data_dir, split)
    elif dataset == "aflw":
        samples, report = readers.read_aflw(data_dir, split)
    elif dataset == "wflw":
        samples, report = readers.read_wflw(data_dir, split)
    elif dataset == "cofw":
        samples, report = readers.read_cofw_mat(
            os.path.join(data_dir, f"COFW_{split}_color.mat"), split)
    else:
        raise ValueError(f"No image reader for this dataset. Received: dataset={dataset!r}")
    print(f"{dataset} {split}: {report.summary()}")
    return samples


def _preset_field(preset, name, default=None):
    if isinstance(preset, dict):
        return preset.get(name, default)
    return getattr(preset, name, default)


def resolve_model(config):
    """The preset's codec and the model overrides for ``config`` (F, L, gamma).

    Args:
        config: a ``TrainConfig``.

    Returns:
        ``(config, codec, overrides)``: the config with ``input_size`` / ``heatmap_length``
        filled in from the preset when they were None, the codec for those sizes, and the
        keyword overrides for ``zoo.create``.

    Example:
        >>> import zoo.training
        >>> from zoo.training.tasks import resolve_model
        >>> # config, codec, overrides = resolve_model(zoo.training.TrainConfig())
    """
    import zoo
    import zoo.codecs

    preset = zoo.get_preset(config.model)
    codec_config = dict(_preset_field(preset, "codec") or {})
    codec_values = dict(codec_config.get("config", {}))
    input_size = config.input_size or int(codec_values.get("input_size") or _preset_field(preset, "input_size"))
    heatmap_length = config.heatmap_length or int(codec_values.get("heatmap_size") or input_size * 3)
    resized = (input_size != codec_values.get("input_size")
               or heatmap_length != codec_values.get("heatmap_size"))
    codec_values.update(input_size=input_size, heatmap_size=heatmap_length)
    if resized:
        codec_values.pop("sigma", None)  # recomputed for the new L / F ratio
    codec = zoo.codecs.get({"class_name": codec_config.get("class_name", "Heatmap1DCodec"),
                            "config": codec_values})
    overrides = dict(config.model_overrides or {})
    overrides.update(input_size=input_size, heatmap_length=heatmap_length, gamma=config.gamma)
    config = config.replace(input_size=input_size, heatmap_length=heatmap_length)
    return config, codec, overrides


def make_loss_fn():
    """Per-example Eq. 11 loss for stacked dict outputs (``x`` + ``y``, summed over stacks).

    Returns:
        ``loss_fn(targets, outputs) -> (B,)``.

    Example:
        >>> import numpy as np
        >>> from zoo.training.tasks import make_loss_fn
        >>> targets = {"x": np.zeros((2, 3, 8), "float32"), "y": np.zeros((2, 3, 8), "float32")}
        >>> outputs = {k: np.ones((2, 1, 3, 8), "float32") for k in "xy"}
        >>> make_loss_fn()(targets, outputs).shape
        TensorShape([2])
    """
    import importlib

    losses = importlib.import_module("zoo.losses")

    def loss_fn(targets, outputs):
        # Eq. 11: the x and y terms added, each summed over landmarks, bins and stacks.
        return sum(losses.heatmap_regression_loss(targets[key], outputs[key]) for key in targets)

    return loss_fn


def last_stack(outputs):
    """``{"x": (B, S, N, L), ...}`` -> ``{"x": (B, N, L), ...}`` (the stack used for inference)."""
    return {key: value[:, -1] for key, value in outputs.items()}


def predict_landmarks(model, codec, images, batch_size=16):
    """Runs ``model`` on uint8/float images and decodes the last stack to pixel landmarks.

    Args:
        model: a training model (stacked dict outputs).
        codec: its codec.
        images: ``(B, F, F, 3)`` in [0, 255].
        batch_size: inference batch.

    Returns:
        float32 numpy ``(B, N, 2)``.

    Example:
        >>> from zoo.training.tasks import predict_landmarks
        >>> # landmarks = predict_landmarks(model, codec, images)
    """
    import keras

    results = []
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start:start + batch_size], np.float32)
        outputs = model(batch, training=False)
        outputs = {k: keras.ops.cast(v, "float32") for k, v in outputs.items()}
        coords, _ = codec.decode(last_stack(outputs))
        results.append(keras.ops.convert_to_numpy(coords))
    return np.concatenate(results).astype(np.float32)


def draw_landmarks(images, predicted, truth=None, max_images=4):
    """uint8 images with predicted (green) and ground-truth (red) points, for TensorBoard."""
    import cv2

    drawn = []
    for index in range(min(max_images, len(images))):
        image = np.ascontiguousarray(images[index]).copy()
        radius = max(1, image.shape[0] // 128)
        if truth is not None:
            for x, y in truth[index]:
                cv2.circle(image, (int(round(x)), int(round(y))), radius, (255, 0, 0), -1)
        for x, y in predicted[index]:
            cv2.circle(image, (int(round(x)), int(round(y))), radius, (0, 255, 0), -1)
        drawn.append(image)
    return np.stack(drawn)


VAL_SPLIT_FILENAME = "val_split.txt"


def carve_validation(num_samples, fraction, seed):
    """Positions ``(train, val)`` of a fixed hold-out of ``fraction`` of ``num_samples`` faces.

    Example:
        >>> from zoo.training.tasks import carve_validation
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
    """Training and validation sources for ``config`` (SynthFace when ``data_dir`` is None).

    With a ``data_dir`` and ``val_fraction > 0`` the validation faces are a fixed hold-out of
    the training split (listed in ``<output_dir>/val_split.txt``); with ``val_fraction == 0``
    they are (at most ``num_val`` of) the dataset's test split.
    """
    if config.data_dir is None:
        train = data_lib.SynthFaceSource(config.input_size, seed=config.seed,
                                         num_samples=config.num_synthetic)
        val = data_lib.SynthFaceSource(config.input_size, seed=config.seed + 1_000,
                                       num_samples=config.num_val)
        return train, val
    train_split, val_split = SPLITS[config.dataset]
    scheme = SCHEMES[config.dataset]
    samples = _read_split(config.dataset, config.data_dir, train_split)
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
    val = data_lib.SampleSource(_read_split(config.dataset, config.data_dir, val_split),
                                config.input_size, scheme)
    if len(val) > config.num_val:
        positions = np.random.default_rng(config.seed).choice(len(val), config.num_val, replace=False)
        val = val.subset(np.sort(positions))
    return train, val


def make_optimizer_fn(config):
    """Adam at ``config.learning_rate``, constant (paper) or with cosine decay over the run."""
    if config.lr_schedule == "constant":
        return None

    def optimizer_fn():
        import keras

        schedule = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.steps, alpha=0.01)
        return keras.optimizers.Adam(schedule)

    return optimizer_fn


def resolve_augmentation(config):
    """``config`` with ``augmentation`` filled in with every resolved range (or None when off)."""
    import dataclasses

    augment = config.augment_config()
    if augment is None:
        return config.replace(augmentation=None), None
    values = dataclasses.asdict(augment)
    values["occlusion_size"] = list(values["occlusion_size"])
    return config.replace(augmentation=values), augment


def _prepare(config):
    """Checks the data folder, prints the banner, resolves the preset. No TensorFlow work."""
    if config.dataset == "300vw":
        raise ValueError("Use zoo.training.tasks.train_tracker for 300vw. Received: dataset='300vw'")
    if config.data_dir is not None:
        data_lib.check_data_dir(config.dataset, config.data_dir)
    else:
        print(data_lib.SYNTHETIC_BANNER.format(dataset=config.dataset))
    return resolve_model(config)


def train(config, strategy=None, progress=True, callbacks=(), train_source=None, val_source=None):
    """Trains the detector preset ``config.model`` as configured; resumes from ``output_dir``.

    Args:
        config: a ``zoo.training.TrainConfig``.
        strategy: a ``tf.distribute.Strategy``; default ``make_strategy(config.strategy)``.
        progress: tqdm bar on the chief.
        callbacks: passed to ``train_loop`` (``fn(step, loss)``).
        train_source / val_source: override the sources (k-fold search); default from config.

    Returns:
        ``(TrainResult, resolved_config, codec)``.

    Example:
        >>> import zoo.training
        >>> config = zoo.training.TrainConfig(model="aheat1d_mobile_300w", dataset="synthface",
        ...                                   steps=2, output_dir="/tmp/zoo_doc_run")
        >>> # result, config, codec = zoo.training.tasks.train(config)
    """
    import zoo
    from zoo.training import loop

    if is_tracker(config.model):
        return train_tracker(config, strategy=strategy, progress=progress, callbacks=callbacks,
                             train_source=train_source, val_source=val_source)
    config, codec, overrides = _prepare(config)
    config, augment = resolve_augmentation(config)
    strategy = strategy or loop.make_strategy(config.strategy)
    if train_source is None or val_source is None:
        sources = make_sources(config)
        train_source = train_source or sources[0]
        val_source = val_source or sources[1]
    if loop.is_chief(strategy):
        save_config(config, config.output_dir)
    scheme = getattr(val_source, "scheme", SCHEMES[config.dataset])
    val_images, val_landmarks = val_source.arrays()

    def model_fn():
        return zoo.create(config.model, **overrides)

    def eval_fn(model):
        import zoo.metrics

        predicted = predict_landmarks(model, codec, val_images)
        errors = zoo.metrics.nme(predicted, val_landmarks, scheme=scheme)
        return {"nme": float(np.mean(errors)),
                "failure_rate": float(zoo.metrics.failure_rate(errors, 0.1))}

    def image_fn(model):
        predicted = predict_landmarks(model, codec, val_images[:4])
        return draw_landmarks(val_images[:4], predicted, val_landmarks[:4])

    dataset = data_lib.training_dataset(train_source, codec, config.batch_size, seed=config.seed,
                                        augment=augment or False)
    result = loop.train_loop(
        model_fn, make_loss_fn(), dataset, steps=config.steps, output_dir=config.output_dir,
        strategy=strategy, learning_rate=config.learning_rate,
        optimizer_fn=make_optimizer_fn(config),
        checkpoint_every=config.checkpoint_every, log_every=config.log_every, eval_fn=eval_fn,
        eval_every=config.eval_every, image_fn=image_fn, image_every=config.image_every,
        mixed_precision=config.mixed_precision, progress=progress, callbacks=callbacks)
    for evaluation in result.evaluations:
        print(f"step {evaluation['step']:6d}  val NME {100 * evaluation['nme']:.2f}%  "
              f"FR@10% {100 * evaluation['failure_rate']:.2f}%")
    return result, config, codec


def make_fold_runner(config, parameter_to_field=None, strategy=None):
    """A ``train_and_evaluate(values, train_indices, val_indices)`` for k-fold search.

    Each call trains ``config.replace(**values)`` from scratch on the training-set faces at
    ``train_indices`` for ``config.steps`` steps (its own folder under ``config.output_dir``)
    and returns the mean NME on the faces at ``val_indices``.

    Args:
        config: the base ``TrainConfig``.
        parameter_to_field: map grid name -> config field (default ``{"gamma": "gamma",
            "lambda": "temporal_lambda"}``).
        strategy: optional strategy shared by the runs.

    Returns:
        ``(train_and_evaluate, num_samples)``.

    Example:
        >>> import zoo.training
        >>> # runner, n = zoo.training.tasks.make_fold_runner(config)
        >>> # zoo.training.cross_validation.search({"gamma": [0.2, 0.4]}, 2, runner, n)
    """
    if is_tracker(config.model):
        return make_tracker_fold_runner(config, strategy=strategy)
    mapping = parameter_to_field or {"gamma": "gamma", "lambda": "temporal_lambda"}
    resolved, _, _ = _prepare(config)
    train_source, _ = make_sources(resolved)
    counter = {"fold": 0}

    def train_and_evaluate(values, train_indices, val_indices):
        fields = {mapping.get(name, name): value for name, value in values.items()}
        tag = "_".join(f"{name}{value:g}" for name, value in values.items())
        counter["fold"] += 1
        run_dir = os.path.join(config.output_dir, f"{tag}_run{counter['fold']}")
        run_config = resolved.replace(output_dir=run_dir, eval_every=0, image_every=0, **fields)
        result, _, _ = train(run_config, strategy=strategy, progress=False,
                             train_source=train_source.subset(train_indices),
                             val_source=train_source.subset(val_indices))
        return result.evaluations[-1]["nme"]

    return train_and_evaluate, len(train_source)



# ----------------------------------------------------------------------------- trackers
# Paper Sec. 5: the tracker (detector on every frame + temporal refinement, Eq. 13) is trained
# on clips of the 300-VW training videos with the Eq. 14 loss over all frames; its detector
# starts from the trained 300W detector; lambda is chosen by 10-fold cross validation.

TRACKER_ARCHITECTURES = ("aheat1d_tracker", "fan2d_tracker")
TRACKER_DATASETS = ("300vw", "synthface")


def is_tracker(model_name):
    """True when ``model_name`` is a tracker preset (``zoo.create`` builds a clip model).

    Example:
        >>> from zoo.training.tasks import is_tracker
        >>> is_tracker("aheat1d_tracker_mobile_300vw"), is_tracker("aheat1d_mobile_300w")
        (True, False)
    """
    import zoo

    return _preset_field(zoo.get_preset(model_name), "architecture") in TRACKER_ARCHITECTURES


def resolve_tracker(config):
    """The tracker preset's codec and ``zoo.create`` overrides for ``config``.

    Like :func:`resolve_model`, plus ``decay`` = ``config.temporal_lambda`` (lambda of Eq. 13).
    For the 2D tracker ``config.heatmap_length`` is the heatmap side (``heatmap_size``) and
    gamma does not apply.

    Args:
        config: a ``TrainConfig`` whose ``model`` is a tracker preset.

    Returns:
        ``(config, codec, overrides)`` with ``input_size`` / ``heatmap_length`` resolved.

    Example:
        >>> import zoo.training
        >>> from zoo.training.tasks import resolve_tracker
        >>> config = zoo.training.PAPER_DEFAULTS["300vw"].replace(model="aheat1d_tracker_mobile_300vw")
        >>> resolved, codec, overrides = resolve_tracker(config)
        >>> overrides["decay"], resolved.input_size
        (0.3, 128)
    """
    import zoo
    import zoo.codecs

    if not is_tracker(config.model):
        raise ValueError("Tracker training needs a tracker preset (aheat1d_tracker_300vw, "
                         "aheat1d_tracker_mobile_300vw, fan2d_tracker_300vw). "
                         f"Received: model={config.model!r}")
    preset = zoo.get_preset(config.model)
    two_d = _preset_field(preset, "architecture") == "fan2d_tracker"
    codec_config = dict(_preset_field(preset, "codec") or {})
    codec_values = dict(codec_config.get("config", {}))
    input_size = config.input_size or int(codec_values["input_size"])
    heatmap_length = config.heatmap_length or int(codec_values["heatmap_size"])
    if (input_size, heatmap_length) != (codec_values.get("input_size"), codec_values.get("heatmap_size")):
        codec_values.pop("sigma", None)  # recomputed for the new sizes
    codec_values.update(input_size=input_size, heatmap_size=heatmap_length)
    codec = zoo.codecs.get({"class_name": codec_config["class_name"], "config": codec_values})
    overrides = dict(config.model_overrides or {})
    overrides.update(input_size=input_size, decay=config.temporal_lambda)
    if two_d:
        overrides["heatmap_size"] = heatmap_length
    else:
        overrides.update(heatmap_length=heatmap_length, gamma=config.gamma)
    return config.replace(input_size=input_size, heatmap_length=heatmap_length), codec, overrides


def _prepare_tracker(config):
    """Checks model, dataset and data folder, prints the banner, resolves the preset."""
    if config.dataset not in TRACKER_DATASETS:
        raise ValueError(f"Trackers train on 300vw (or SynthFace videos without data). "
                         f"Received: dataset={config.dataset!r}")
    resolved = resolve_tracker(config)
    if config.data_dir is not None:
        data_lib.check_data_dir("300vw", config.data_dir)
    else:
        print(data_lib.SYNTHETIC_VIDEO_BANNER.format(dataset=config.dataset))
    return resolved


def make_clip_sources(config):
    """Training and validation clip sources (SynthFace videos when ``data_dir`` is None).

    With ``data_dir``: clips of ``config.clip_length`` consecutive frames of the 50 300-VW
    training videos (plus the 300W training images as static clips when
    ``config.image_data_dir`` is set, as in the paper), and at most ``num_val`` clips of the test videos (S1-S3) to validate on
    (as the detector recipes validate on the test sets). Without: ``num_synthetic`` SynthFace
    training videos and ``num_val`` validation videos of other seeds.

    Args:
        config: a resolved ``TrainConfig`` (``input_size`` set).

    Returns:
        ``(train_source, val_source)``.

    Example:
        >>> import zoo.training
        >>> from zoo.training.tasks import make_clip_sources
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
    train = data_lib.VideoClipSource(config.data_dir, "train", length)
    print(f"300vw train: {len(train)} clips of {length} frames; {train.report.summary()}")
    if config.image_data_dir is not None:
        # Paper Sec. 5: the tracker trains on 300W + 300VW; 300W images become static clips.
        from zoo.data.readers import w300

        samples, report = w300.read_300w(config.image_data_dir, "train")
        if not samples:
            raise ValueError(f"No 300W training image under {config.image_data_dir} "
                             f"({report.summary()}). Received: image_data_dir="
                             f"{config.image_data_dir!r}")
        images = data_lib.StaticImageClipSource(samples, length)
        print(f"300w train images as static clips: {len(images)}; {report.summary()}")
        train = data_lib.ConcatClipSource([train, images])
    val = data_lib.VideoClipSource(config.data_dir, "test", length)
    if len(val) > config.num_val:
        positions = np.random.default_rng(config.seed).choice(len(val), config.num_val, replace=False)
        val = val.subset(np.sort(positions))
    return train, val


def _frames_first(outputs):
    """``{key: (B, T, ...)}`` -> ``{key: (B*T, ...)}`` (every frame decoded by the image codec)."""
    import keras

    return {key: keras.ops.reshape(keras.ops.cast(value, "float32"), (-1,) + tuple(value.shape[2:]))
            for key, value in outputs.items()}


def predict_clip_landmarks(model, codec, clips, batch_size=4):
    """Runs a tracker on whole clips and decodes every frame.

    Args:
        model: a tracker training model (``(B, T, F, F, 3)`` -> ``{key: (B, T, ...)}``).
        codec: its codec.
        clips: ``(C, T, F, F, 3)`` in [0, 255].
        batch_size: clips per call.

    Returns:
        float32 numpy ``(C, T, N, 2)``.

    Example:
        >>> from zoo.training.tasks import predict_clip_landmarks
        >>> # landmarks = predict_clip_landmarks(tracker, codec, clips)
    """
    import keras

    results = []
    for start in range(0, len(clips), batch_size):
        batch = np.asarray(clips[start:start + batch_size], np.float32)
        coords, _ = codec.decode(_frames_first(model(batch, training=False)))
        coords = keras.ops.convert_to_numpy(coords)
        results.append(coords.reshape(batch.shape[:2] + coords.shape[1:]))
    return np.concatenate(results).astype(np.float32)


def _is_checkpoint_prefix(path):
    return os.path.isfile(path + ".index")


def _restore_detector(detector, prefix):
    """Restores ``detector`` from a run checkpoint of ``train_loop``; refuses incomplete ones."""
    import tensorflow as tf

    from zoo.training import loop

    names = [name for name, _ in tf.train.list_variables(prefix)]
    stored = [n for n in names if n.startswith("model/variable_")]
    if not stored:
        # Checkpoints of the loop before it saved every variable (Keras 3 object graphs miss
        # nested layers): restoring them would leave most of the detector random.
        raise ValueError(
            f"The checkpoint {prefix} does not hold the detector's variables by position "
            "(model/variable_NNNNN): it was written by an older train_loop whose checkpoints "
            "miss nested layers. Train the detector again, or pass a .weights.h5 / .keras file. "
            f"Received: init_checkpoint={prefix}")
    variables = loop.model_variables(detector)
    if len(stored) != len(variables):
        raise ValueError(
            f"The checkpoint {prefix} holds {len(stored)} model variables, the tracker's "
            f"detector has {len(variables)}: not the same architecture.")
    # Positions follow the architecture, so the tracker's detector (same builder, same
    # arguments) lines up with the detector run's model.
    status = tf.train.Checkpoint(model=variables).restore(prefix)
    status.expect_partial().assert_existing_objects_matched()


def init_detector(tracker, init_checkpoint):
    """Loads a trained detector into the tracker's detector (shared with its frame layer).

    Formats of ``init_checkpoint``:

    * a detector run folder of ``recipes/train_300w.py`` (``config.json`` +
      ``checkpoints/``): its latest checkpoint;
    * a checkpoint prefix of such a run (``.../checkpoints/ckpt-5000``);
    * a Keras weights file ``*.weights.h5`` (``detector.save_weights``) or a whole model
      ``*.keras`` (``detector.save``).

    The detector architecture must equal the tracker's (same preset and overrides); a
    mismatch raises naming both.

    Args:
        tracker: a model from ``zoo.create(<tracker preset>)``.
        init_checkpoint: one of the formats above.

    Returns:
        The path that was loaded.

    Example:
        >>> import zoo
        >>> from zoo.training.tasks import init_detector
        >>> # tracker = zoo.create("aheat1d_tracker_300vw")
        >>> # init_detector(tracker, "runs/aheat1d_300w")
    """
    import keras
    import tensorflow as tf

    from zoo.models.tracker import FRAME_DETECTOR_NAME
    from zoo.training import loop

    detector = tracker.get_layer(FRAME_DETECTOR_NAME).detector
    path = os.fspath(init_checkpoint)
    run_note = ""
    if os.path.isdir(path):
        from zoo.training.config import CONFIG_FILENAME, load_config

        if os.path.isfile(os.path.join(path, CONFIG_FILENAME)):
            run = load_config(path)
            run_note = (f" The run trained model={run.model!r}, input_size={run.input_size}, "
                        f"heatmap_length={run.heatmap_length}, "
                        f"model_overrides={run.model_overrides}.")
        prefix = tf.train.latest_checkpoint(os.path.join(path, loop.CHECKPOINT_SUBDIR))
        if prefix is None:
            raise ValueError("init_checkpoint must be a detector run folder with checkpoints/ "
                             "(recipes/train_300w.py), a checkpoint prefix, a .weights.h5 or a "
                             f".keras file. Received: init_checkpoint={path}")
        path = prefix
    try:
        if _is_checkpoint_prefix(path):
            _restore_detector(detector, path)
        elif path.endswith(".weights.h5"):
            detector.load_weights(path)
        elif path.endswith(".keras"):
            detector.set_weights(keras.saving.load_model(path, compile=False).get_weights())
        else:
            raise ValueError("init_checkpoint must be a detector run folder, a checkpoint prefix "
                             "(ckpt-N), a .weights.h5 or a .keras file. "
                             f"Received: init_checkpoint={init_checkpoint}")
    except (AssertionError, tf.errors.InvalidArgumentError, ValueError) as error:
        if "init_checkpoint" in str(error):
            raise
        raise ValueError(
            f"The detector in {path} does not fit the tracker's detector "
            f"({tracker.name}, input {detector.input_shape[1:]}).{run_note} Pass the same "
            f"--model_overrides/--input_size/--heatmap_length as the detector run. "
            f"Received: init_checkpoint={init_checkpoint} ({error})") from error
    return path


def train_tracker(config, strategy=None, progress=True, callbacks=(), train_source=None,
                  val_source=None):
    """Trains a tracker preset on clips (300-VW, or SynthFace videos), resuming from ``output_dir``.

    The paper's recipe (Sec. 5): ``config.model`` (default ``aheat1d_tracker_300vw``) with
    lambda = ``config.temporal_lambda`` (Eq. 13, paper 0.3) and gamma = ``config.gamma``; its
    detector initialised from ``config.init_checkpoint`` (see :func:`init_detector` for the
    formats) and frozen when ``overrides["freeze_detector"]`` is set (``--freeze_detector``);
    clips of ``config.clip_length`` frames with one augmentation per clip; the Eq. 14 loss
    (``TrackingLoss``: squared error summed over frames, landmarks and bins, both axes); the
    same :func:`zoo.training.loop.train_loop` as the detectors (strategies, checkpoints and
    resume, TensorBoard), validating the per-frame NME on held-out clips.

    Args:
        config: a ``zoo.training.TrainConfig`` with a tracker preset and dataset ``"300vw"``
            (``data_dir`` None trains on SynthFace videos, with a banner) or ``"synthface"``.
        strategy: a ``tf.distribute.Strategy``; default ``make_strategy(config.strategy)``.
        progress: tqdm bar on the chief.
        callbacks: passed to ``train_loop``.
        train_source / val_source: override the clip sources (k-fold search).

    Returns:
        ``(TrainResult, resolved_config, codec)``.

    Example:
        >>> import zoo.training
        >>> config = zoo.training.PAPER_DEFAULTS["300vw"].replace(
        ...     model="aheat1d_tracker_mobile_300vw", steps=2, output_dir="/tmp/zoo_doc_tracker")
        >>> # result, config, codec = zoo.training.tasks.train_tracker(config)
    """
    import zoo
    import zoo.metrics
    from zoo.models.tracker import TrackingLoss
    from zoo.training import loop

    config, codec, overrides = _prepare_tracker(config)
    if overrides.get("freeze_detector") and not config.init_checkpoint:
        print("WARNING: freeze_detector without --init_checkpoint keeps a randomly initialised "
              "detector fixed; pass the 300W detector run with --init_checkpoint.")
    strategy = strategy or loop.make_strategy(config.strategy)
    if train_source is None or val_source is None:
        sources = make_clip_sources(config)
        train_source = train_source or sources[0]
        val_source = val_source or sources[1]
    if loop.is_chief(strategy):
        save_config(config, config.output_dir)
    scheme = getattr(val_source, "scheme", "300w")
    val_clips, val_landmarks = data_lib.clip_arrays(val_source, config.input_size)
    flat_landmarks = val_landmarks.reshape((-1,) + val_landmarks.shape[2:])

    def model_fn():
        import keras

        # The same initial weights for every run of a seed: the k-fold grid points then
        # differ only in their hyper-parameter.
        keras.utils.set_random_seed(config.seed)
        tracker = zoo.create(config.model, **overrides)
        if config.init_checkpoint:
            loaded = init_detector(tracker, config.init_checkpoint)
            if loop.is_chief(strategy):
                print(f"Detector initialised from {loaded}.")
        return tracker

    loss = TrackingLoss(reduction=None)

    def loss_fn(targets, outputs):
        # Eq. 14: sum over frames t, landmarks n and bins, for every output (x and y).
        return sum(loss(targets[key], outputs[key]) for key in targets)

    def eval_fn(model):
        predicted = predict_clip_landmarks(model, codec, val_clips)
        errors = zoo.metrics.nme(predicted.reshape(flat_landmarks.shape), flat_landmarks,
                                 scheme=scheme)
        return {"nme": float(np.mean(errors)),
                "failure_rate": float(zoo.metrics.failure_rate(errors, 0.1))}

    def image_fn(model):
        clips = val_clips[:1]
        predicted = predict_clip_landmarks(model, codec, clips)[0]
        return draw_landmarks(clips[0], predicted, val_landmarks[0])

    dataset = data_lib.clip_training_dataset(train_source, codec, config.input_size,
                                             config.batch_size, seed=config.seed)
    result = loop.train_loop(
        model_fn, loss_fn, dataset, steps=config.steps, output_dir=config.output_dir,
        strategy=strategy, learning_rate=config.learning_rate,
        checkpoint_every=config.checkpoint_every, log_every=config.log_every, eval_fn=eval_fn,
        eval_every=config.eval_every, image_fn=image_fn, image_every=config.image_every,
        mixed_precision=config.mixed_precision, progress=progress, callbacks=callbacks)
    for evaluation in result.evaluations:
        print(f"step {evaluation['step']:6d}  val NME {100 * evaluation['nme']:.2f}% "
              f"(per frame)  FR@10% {100 * evaluation['failure_rate']:.2f}%")
    return result, config, codec


def make_tracker_fold_runner(config, strategy=None):
    """``train_and_evaluate(values, train_indices, val_indices)`` for the lambda search.

    The folds split *videos* of the 300-VW training set (clips of one video never fall on
    both sides), or SynthFace clips (each its own video). Each call trains the tracker with
    ``temporal_lambda = values["lambda"]`` (and ``gamma`` if given) from scratch for
    ``config.steps`` steps and returns the per-frame mean NME on the held-out clips.

    Args:
        config: the base ``TrainConfig`` (a tracker preset).
        strategy: optional strategy shared by the runs.

    Returns:
        ``(train_and_evaluate, num_units)``: the number of videos (or SynthFace clips) split.

    Example:
        >>> import zoo.training
        >>> # runner, n = zoo.training.tasks.make_tracker_fold_runner(config)
        >>> # zoo.training.cross_validation.search({"lambda": [0.1, 0.3]}, 10, runner, n)
    """
    mapping = {"lambda": "temporal_lambda", "gamma": "gamma"}
    resolved, _, _ = _prepare_tracker(config)
    train_source, _ = make_clip_sources(resolved)
    if isinstance(train_source, data_lib.VideoClipSource):
        videos = sorted(set(train_source.videos))
        clip_videos = np.array([videos.index(v) for v in train_source.videos])

        def positions(units):
            return np.flatnonzero(np.isin(clip_videos, units))
        num_units = len(videos)
    else:
        def positions(units):
            return np.asarray(units)
        num_units = len(train_source)
    counter = {"fold": 0}

    def train_and_evaluate(values, train_indices, val_indices):
        fields = {mapping.get(name, name): value for name, value in values.items()}
        tag = "_".join(f"{name}{value:g}" for name, value in values.items())
        counter["fold"] += 1
        run_dir = os.path.join(config.output_dir, f"{tag}_run{counter['fold']}")
        run_config = resolved.replace(output_dir=run_dir, eval_every=0, image_every=0, **fields)
        result, _, _ = train_tracker(run_config, strategy=strategy, progress=False,
                                     train_source=train_source.subset(positions(train_indices)),
                                     val_source=train_source.subset(positions(val_indices)))
        return result.evaluations[-1]["nme"]

    return train_and_evaluate, num_units


__all__ = ["train", "train_tracker", "resolve_model", "resolve_tracker", "is_tracker",
           "make_sources", "make_clip_sources", "predict_landmarks", "predict_clip_landmarks",
           "draw_landmarks", "init_detector", "make_fold_runner", "make_tracker_fold_runner"]
