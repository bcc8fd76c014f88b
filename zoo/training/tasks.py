"""What a recipe runs: ``train(config)`` for any preset, the k-fold runner, and the names the
recipes, the evaluation and older code import from here.

``train`` looks the preset's task kind up in its architecture record
(``zoo.models.presets.Architecture.task``) and hands the config to that kind's trainer:
``zoo.training.image_trainer.ImageTrainer`` (faces) or
``zoo.training.clip_trainer.ClipTrainer`` (clips). Each checks ``--data_dir`` before anything
else, prints the SynthFace banner when no data is given, resolves the preset through the one
path of ``zoo.training.resolve`` (model built first, codec fitted to it, losses from the
record), writes ``config.json`` next to the checkpoints and calls
:func:`zoo.training.loop.train_loop`. The module is split along those seams:

* ``zoo.training.resolve``: config -> model, codec, losses;
* ``zoo.training.sources``: the dataset readers, face and clip sources;
* ``zoo.training.trainer``: the shared training path and k-fold runner;
* ``zoo.training.image_trainer`` / ``zoo.training.clip_trainer``: one trainer per task kind;
* ``zoo.training.drawing``: TensorBoard images.

Example:
    >>> import zoo.training
    >>> from zoo.training import tasks
    >>> config, codec, overrides = tasks.resolve_model(zoo.training.TrainConfig(
    ...     model="fan2d_tracker_300vw", input_size=64, temporal_lambda=0.5))
    >>> overrides, config.heatmap_length, config.gamma, type(codec).__name__
    ({'input_size': 64, 'decay': 0.5}, 64, None, 'Heatmap2DCodec')
"""
from zoo.training.clip_trainer import (  # noqa: F401  (names of the older single module)
    ClipTrainer, init_detector, predict_clip_landmarks)
from zoo.training.drawing import draw_landmarks  # noqa: F401
from zoo.training.image_trainer import ImageTrainer, last_stack, predict_landmarks  # noqa: F401
from zoo.training.resolve import fit_codec, model_overrides, resolve  # noqa: F401
from zoo.training.sources import (  # noqa: F401
    SCHEMES, SPLITS, VAL_SPLIT_FILENAME, carve_validation, make_clip_sources, make_sources,
    read_split)
from zoo.training.sources import read_split as _read_split  # noqa: F401
from zoo.training.trainer import (  # noqa: F401
    make_optimizer_fn, resolve_augmentation, trainer_for)


def resolve_model(config):
    """``(config, codec, overrides)`` of :func:`zoo.training.resolve.resolve` (any preset).

    Args:
        config: a ``TrainConfig``.

    Returns:
        the resolved config (``input_size``, the architecture's fields, ``sigma``, ``decode``
        filled in), the codec fitted to the model, and the ``zoo.create`` overrides.

    Example:
        >>> import zoo.training
        >>> from zoo.training.tasks import resolve_model
        >>> config, codec, overrides = resolve_model(zoo.training.TrainConfig(
        ...     model="aheat1d_mobile_300w", heatmap_length=256))
        >>> config.gamma, codec.heatmap_size, overrides
        (0.4, 256, {'heatmap_length': 256})
    """
    run = resolve(config, build=False)
    return run.config, run.codec, run.overrides


def resolve_tracker(config):
    """:func:`resolve_model` for a clip preset; other presets raise ``ValueError``.

    Example:
        >>> import zoo.training
        >>> from zoo.training.tasks import resolve_tracker
        >>> config = zoo.training.PAPER_DEFAULTS["300vw"].replace(
        ...     model="aheat1d_tracker_mobile_300vw", temporal_lambda=0.3)
        >>> resolved, codec, overrides = resolve_tracker(config)
        >>> overrides["decay"], resolved.input_size
        (0.3, 128)
    """
    _check_task(config, "clip")
    return resolve_model(config)


def _check_task(config, task):
    from zoo.models import presets

    found = presets.find_architecture(config.model)
    if found is None or found.task != task:
        clips = [n for n in presets.list_models() if presets.find_architecture(n).task == task]
        raise ValueError(f"This needs a {task} preset. Allowed: {clips}. "
                         f"Received: model={config.model!r}")


def train(config, strategy=None, progress=True, callbacks=(), train_source=None, val_source=None):
    """Trains preset ``config.model`` with the trainer of its task kind; resumes from
    ``output_dir``.

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
        >>> from zoo.training import tasks
        >>> config = zoo.training.TrainConfig(
        ...     model="fan2d_300w", dataset="synthface", steps=1, batch_size=2, input_size=32,
        ...     heatmap_length=8, num_synthetic=2, num_val=2, eval_every=0, image_every=0,
        ...     output_dir="run", model_overrides={"num_stacks": 1, "width": 16,
        ...                                        "hourglass_depth": 1})
        >>> # a training run (15 s even this small); tests/test_preset_training.py trains each preset
        >>> result, resolved, codec = tasks.train(config, progress=False)  # doctest: +SKIP
        >>> result.step, resolved.gamma, codec.heatmap_size  # doctest: +SKIP
        (1, None, 8)
    """
    return trainer_for(config).train(config, strategy=strategy, progress=progress,
                                     callbacks=callbacks, train_source=train_source,
                                     val_source=val_source)


def train_tracker(config, **kwargs):
    """:func:`train` for a clip preset; other presets raise ``ValueError``."""
    _check_task(config, "clip")
    return train(config, **kwargs)


def make_fold_runner(config, parameter_to_field=None, strategy=None):
    """A ``train_and_evaluate(values, train_indices, val_indices)`` for k-fold search.

    The trainer of the preset's task kind (``Trainer.fold_runner``): the folds split faces for
    image presets, videos for clip presets.

    Args:
        config: the base ``TrainConfig``.
        parameter_to_field: map grid name -> config field (default ``{"gamma": "gamma",
            "lambda": "temporal_lambda"}``).
        strategy: optional strategy shared by the runs.

    Returns:
        ``(train_and_evaluate, num_units)``.

    Example:
        >>> import zoo.training
        >>> from zoo.training import tasks
        >>> config = zoo.training.TrainConfig(model="aheat1d_mobile_300w", dataset="synthface",
        ...                                   input_size=64, num_synthetic=6)
        >>> runner, num_faces = tasks.make_fold_runner(config)
        =...
        >>> num_faces
        6
    """
    return trainer_for(config).fold_runner(config, parameter_to_field=parameter_to_field,
                                           strategy=strategy)


def make_tracker_fold_runner(config, strategy=None):
    """:func:`make_fold_runner` for a clip preset (the lambda search)."""
    _check_task(config, "clip")
    return make_fold_runner(config, strategy=strategy)


__all__ = ["train", "train_tracker", "resolve_model", "resolve_tracker",
           "make_sources", "make_clip_sources", "predict_landmarks", "predict_clip_landmarks",
           "draw_landmarks", "init_detector", "make_fold_runner", "make_tracker_fold_runner",
           "trainer_for", "resolve"]
