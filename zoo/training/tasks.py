"""What a recipe runs: ``train(config)`` for a detector preset, its evaluation, the k-fold runner.

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


def make_sources(config):
    """Training and validation sources for ``config`` (SynthFace when ``data_dir`` is None)."""
    if config.data_dir is None:
        train = data_lib.SynthFaceSource(config.input_size, seed=config.seed,
                                         num_samples=config.num_synthetic)
        val = data_lib.SynthFaceSource(config.input_size, seed=config.seed + 1_000,
                                       num_samples=config.num_val)
        return train, val
    train_split, val_split = SPLITS[config.dataset]
    scheme = SCHEMES[config.dataset]
    train = data_lib.SampleSource(_read_split(config.dataset, config.data_dir, train_split),
                                  config.input_size, scheme)
    val = data_lib.SampleSource(_read_split(config.dataset, config.data_dir, val_split),
                                config.input_size, scheme)
    if len(val) > config.num_val:
        positions = np.random.default_rng(config.seed).choice(len(val), config.num_val, replace=False)
        val = val.subset(np.sort(positions))
    return train, val


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

    config, codec, overrides = _prepare(config)
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

    dataset = data_lib.training_dataset(train_source, codec, config.batch_size, seed=config.seed)
    result = loop.train_loop(
        model_fn, make_loss_fn(), dataset, steps=config.steps, output_dir=config.output_dir,
        strategy=strategy, learning_rate=config.learning_rate,
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


__all__ = ["train", "train_tracker", "resolve_model", "make_sources", "predict_landmarks", "draw_landmarks",
           "make_fold_runner"]


def train_tracker(config, strategy=None):
    """Tracker training (300VW + 300W, lambda of Eq. 13): NOT IMPLEMENTED YET.

    Raises:
        NotImplementedError: always; ``recipes/train_300vw.py`` stops here with this message.
    """
    raise NotImplementedError(
        "Tracker training (recipes/train_300vw.py) is not implemented yet: the loop, configs "
        "and flags are ready, the clip pipeline + zoo.models.tracker wiring is missing. "
        f"Received: model={config.model!r}, dataset={config.dataset!r}")
