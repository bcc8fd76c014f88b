"""The trainer shared by every task kind: resolve, data, ``train_loop``, validation, k-fold runs.

A :class:`Trainer` runs one task kind (``zoo.models.presets.TASKS``): ``ImageTrainer`` trains
image architectures on faces (``zoo.training.image_trainer``), ``ClipTrainer`` clip
architectures on clips (``zoo.training.clip_trainer``). :func:`trainer_for` picks the one of a
config's preset from its architecture record, so no trainer branches on an architecture: the
model, its codec (fitted to the built model) and its losses come from
:func:`zoo.training.resolve.resolve`.

Example:
    >>> import zoo.training
    >>> from zoo.training.trainer import trainer_for
    >>> type(trainer_for(zoo.training.TrainConfig(model="fan2d_tracker_300vw"))).__name__
    'ClipTrainer'
"""
import dataclasses
import os

from zoo.training.config import save_config


def resolve_augmentation(config):
    """``config`` with ``augmentation`` filled in with every resolved range (or None when off).

    Example:
        >>> import zoo.training
        >>> from zoo.training.trainer import resolve_augmentation
        >>> config, augment = resolve_augmentation(zoo.training.TrainConfig(augment=False))
        >>> config.augmentation, augment
        (None, None)
    """
    augment = config.augment_config()
    if augment is None:
        return config.replace(augmentation=None), None
    values = dataclasses.asdict(augment)
    values["occlusion_size"] = list(values["occlusion_size"])
    return config.replace(augmentation=values), augment


def make_optimizer_fn(config):
    """Adam at ``config.learning_rate``, constant (paper: None, the loop's Adam) or with cosine
    decay to 1 % over the run.

    Example:
        >>> import zoo.training
        >>> from zoo.training.trainer import make_optimizer_fn
        >>> make_optimizer_fn(zoo.training.TrainConfig()) is None
        True
    """
    if config.lr_schedule == "constant":
        return None

    def optimizer_fn():
        import keras

        schedule = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.steps, alpha=0.01)
        return keras.optimizers.Adam(schedule)

    return optimizer_fn


def _is_checkpoint_prefix(path):
    return os.path.isfile(path + ".index")


def _restore_checkpoint(model, prefix, owner):
    """Restores ``model`` from a run checkpoint of ``train_loop``; refuses incomplete ones."""
    import tensorflow as tf

    from zoo.training import loop

    names = [name for name, _ in tf.train.list_variables(prefix)]
    stored = [n for n in names if n.startswith("model/variable_")]
    if not stored:
        # Checkpoints of the loop before it saved every variable (Keras 3 object graphs miss
        # nested layers): restoring them would leave most of the model random.
        raise ValueError(
            f"The checkpoint {prefix} does not hold the model's variables by position "
            "(model/variable_NNNNN): it was written by an older train_loop whose checkpoints "
            "miss nested layers. Train again, or pass a .weights.h5 / .keras file. "
            f"Received: init_checkpoint={prefix}")
    variables = loop.model_variables(model)
    if len(stored) != len(variables):
        raise ValueError(
            f"The checkpoint {prefix} holds {len(stored)} model variables, {owner} has "
            f"{len(variables)}: not the same architecture.")
    # Positions follow the architecture, so a model of the same builder and arguments (e.g.
    # a tracker's detector) lines up with the run's model.
    status = tf.train.Checkpoint(model=variables).restore(prefix)
    status.expect_partial().assert_existing_objects_matched()


def init_weights(model, init_checkpoint, owner=None):
    """Loads trained weights into ``model`` before training (fine-tuning, or a tracker's
    detector); a resumed run's own checkpoint is restored over them afterwards.

    Formats of ``init_checkpoint``:

    * a run folder of a recipe (``config.json`` + ``checkpoints/``): its latest checkpoint;
    * a checkpoint prefix of such a run (``.../checkpoints/ckpt-5000``);
    * a Keras weights file ``*.weights.h5`` (``model.save_weights``, e.g. the shipped
      ``zoo/weights/aheat1d_mobile_300w.weights.h5``) or a whole model ``*.keras``.

    The architecture must equal ``model``'s (same preset and overrides); a mismatch raises
    naming both.

    Args:
        model: the freshly built Keras model to fill.
        init_checkpoint: one of the formats above.
        owner: how errors name ``model`` (default: the model's name).

    Returns:
        The path that was loaded.

    Example:
        >>> import zoo
        >>> from zoo.models import presets
        >>> from zoo.training.trainer import init_weights
        >>> tiny = presets.get_architecture("aheat1d").tiny_config
        >>> trained = zoo.create("aheat1d_mobile_300w", **tiny)
        >>> trained.save_weights("trained.weights.h5")
        >>> model = zoo.create("aheat1d_mobile_300w", **tiny)
        >>> init_weights(model, "trained.weights.h5")
        'trained.weights.h5'
        >>> all((a == b).all() for a, b in zip(model.get_weights(), trained.get_weights()))
        True
    """
    import keras
    import tensorflow as tf

    from zoo.training import loop

    owner = owner or f"the model ({model.name}"
    owner = owner if owner.endswith(")") else owner + f", input {model.input_shape[1:]})"
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
            raise ValueError("init_checkpoint must be a run folder with checkpoints/ "
                             "(recipes/train_300w.py), a checkpoint prefix, a .weights.h5 or a "
                             f".keras file. Received: init_checkpoint={path}")
        path = prefix
    try:
        if _is_checkpoint_prefix(path):
            _restore_checkpoint(model, path, owner)
        elif path.endswith(".weights.h5"):
            model.load_weights(path)
        elif path.endswith(".keras"):
            model.set_weights(keras.saving.load_model(path, compile=False).get_weights())
        else:
            raise ValueError("init_checkpoint must be a run folder, a checkpoint prefix "
                             "(ckpt-N), a .weights.h5 or a .keras file. "
                             f"Received: init_checkpoint={init_checkpoint}")
    except (AssertionError, tf.errors.InvalidArgumentError, ValueError) as error:
        if "init_checkpoint" in str(error):
            raise
        raise ValueError(
            f"The model in {path} does not fit {owner}.{run_note} Pass the same "
            f"--model_overrides/--input_size/--heatmap_length as the run that made them. "
            f"Received: init_checkpoint={init_checkpoint} ({error})") from error
    return path


class Trainer:
    """Trains the presets of one task kind; subclasses say how its data and validation go.

    Subclasses set ``task`` and ``datasets`` and implement :meth:`check_data`,
    :meth:`make_sources`, :meth:`make_dataset`, :meth:`make_validation`, :meth:`fold_units`
    and :meth:`describe`; :meth:`prepare_model` and :meth:`check_run` are optional hooks.
    """

    task = None
    datasets = ()

    # Hooks ---------------------------------------------------------------------------------
    def check_data(self, config):
        """Checks ``config.dataset`` / ``data_dir`` (and prints the SynthFace banner)."""
        raise NotImplementedError

    def make_sources(self, config):
        """``(train_source, val_source)`` of a resolved config."""
        raise NotImplementedError

    def make_dataset(self, source, codec, config, augment):
        """The endless ``tf.data`` of ``(inputs, targets)`` global batches."""
        raise NotImplementedError

    def make_validation(self, val_source, codec, config):
        """``(eval_fn(model) -> {name: float}, image_fn(model) -> uint8 images)``."""
        raise NotImplementedError

    def fold_units(self, train_source):
        """``(positions(units) -> source positions, number of units)`` for k-fold splits."""
        raise NotImplementedError

    def describe(self, evaluation):
        """One printed line for an evaluation dict of ``train_loop``."""
        raise NotImplementedError

    def prepare_model(self, model, config, chief):
        """Called on every freshly built model (e.g. to load a trained detector)."""
        return model

    def check_run(self, run):
        """Called with the :class:`zoo.training.resolve.Resolved` run before training."""

    # The shared path -----------------------------------------------------------------------
    def check_dataset(self, config):
        if config.dataset not in self.datasets:
            raise ValueError(
                f"{self.task.capitalize()} architectures (model {config.model!r}) train on "
                f"these datasets. Allowed: {list(self.datasets)}. "
                f"Received: dataset={config.dataset!r}")

    def resolve(self, config, build=False, check_data=True):
        """Checks the data first (no TensorFlow work before), then resolves the preset."""
        from zoo.training import resolve

        if check_data:
            self.check_data(config)
        run = resolve.resolve(config, build=build)
        if run.task != self.task:
            raise ValueError(
                f"{type(self).__name__} trains {self.task} architectures; model "
                f"{config.model!r} is a {run.task} architecture ({run.architecture.name!r}). "
                f"Received: model={config.model!r}")
        return run

    def train(self, config, strategy=None, progress=True, callbacks=(), train_source=None,
              val_source=None):
        """Trains ``config.model`` as configured; resumes from ``config.output_dir``.

        Args:
            config: a ``zoo.training.TrainConfig``.
            strategy: a ``tf.distribute.Strategy``; default ``make_strategy(config.strategy)``.
            progress: tqdm bar on the chief.
            callbacks: passed to ``train_loop`` (``fn(step, loss)``).
            train_source / val_source: override the sources (k-fold search).

        Returns:
            ``(TrainResult, resolved_config, codec)``.
        """
        import keras

        import zoo.losses
        from zoo.training import loop

        self.check_data(config)  # a wrong folder stops before TensorFlow or any model
        strategy = strategy or loop.make_strategy(config.strategy)
        # The model is built once, where train_loop would build it (strategy scope, precision
        # policy; the seed gives every run of a seed the same initial weights, so k-fold grid
        # points differ only in their hyper-parameter), and the codec is fitted to it.
        with loop._policy(config.mixed_precision), strategy.scope():
            keras.utils.set_random_seed(config.seed)
            run = self.resolve(config, build=True, check_data=False)
        config, augment = resolve_augmentation(run.config)
        self.check_run(run)
        if train_source is None or val_source is None:
            sources = self.make_sources(config)
            train_source = train_source or sources[0]
            val_source = val_source or sources[1]
        chief = loop.is_chief(strategy)
        if chief:
            save_config(config, config.output_dir)
        eval_fn, image_fn = self.make_validation(val_source, run.codec, config)

        built = [run.model]

        def model_fn():
            if built:
                model = built.pop()
            else:
                keras.utils.set_random_seed(config.seed)
                model = run.build_model()
            return self.prepare_model(model, config, chief)

        dataset = self.make_dataset(train_source, run.codec, config, augment)
        result = loop.train_loop(
            model_fn, zoo.losses.per_example_loss(run.losses), dataset, steps=config.steps,
            output_dir=config.output_dir, strategy=strategy, learning_rate=config.learning_rate,
            optimizer_fn=make_optimizer_fn(config), checkpoint_every=config.checkpoint_every,
            log_every=config.log_every, eval_fn=eval_fn, eval_every=config.eval_every,
            image_fn=image_fn, image_every=config.image_every,
            mixed_precision=config.mixed_precision, progress=progress, callbacks=callbacks)
        for evaluation in result.evaluations:
            print(self.describe(evaluation))
        return result, config, run.codec

    def fold_runner(self, config, parameter_to_field=None, strategy=None):
        """A ``train_and_evaluate(values, train_indices, val_indices)`` for k-fold search.

        Each call trains ``config.replace(**values)`` from scratch on the training units at
        ``train_indices`` (faces, or videos of clips) for ``config.steps`` steps (its own
        folder under ``config.output_dir``) and returns the mean validation NME on the units
        at ``val_indices``.

        Args:
            config: the base ``TrainConfig``.
            parameter_to_field: map grid name -> config field (default ``{"gamma": "gamma",
                "lambda": "temporal_lambda"}``).
            strategy: optional strategy shared by the runs.

        Returns:
            ``(train_and_evaluate, num_units)``.
        """
        mapping = parameter_to_field or {"gamma": "gamma", "lambda": "temporal_lambda"}
        resolved = self.resolve(config).config
        train_source, _ = self.make_sources(resolved)
        positions, num_units = self.fold_units(train_source)
        counter = {"fold": 0}

        def train_and_evaluate(values, train_indices, val_indices):
            fields = {mapping.get(name, name): value for name, value in values.items()}
            tag = "_".join(f"{name}{value:g}" for name, value in values.items())
            counter["fold"] += 1
            run_dir = os.path.join(config.output_dir, f"{tag}_run{counter['fold']}")
            run_config = resolved.replace(output_dir=run_dir, eval_every=0, image_every=0,
                                          **fields)
            result, _, _ = self.train(
                run_config, strategy=strategy, progress=False,
                train_source=train_source.subset(positions(train_indices)),
                val_source=train_source.subset(positions(val_indices)))
            return result.evaluations[-1]["nme"]

        return train_and_evaluate, num_units


def trainer_for(config_or_model):
    """The trainer of a config's (or a preset name's) task kind, from its architecture record.

    Args:
        config_or_model: a ``TrainConfig`` or a preset name.

    Returns:
        ``ImageTrainer()`` or ``ClipTrainer()``.
    """
    from zoo.models import presets
    from zoo.training.clip_trainer import ClipTrainer
    from zoo.training.image_trainer import ImageTrainer

    name = getattr(config_or_model, "model", config_or_model)
    trainers = {ImageTrainer.task: ImageTrainer, ClipTrainer.task: ClipTrainer}
    task = presets.get_architecture(presets.get_preset(name).architecture).task
    return trainers[task]()
