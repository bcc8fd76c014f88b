"""One resolution path for every architecture: config -> model -> codec fitted to it -> losses.

:func:`resolve` turns a ``TrainConfig`` into what a trainer, the evaluation and the exports
need, with no branch on the architecture: the preset's architecture record
(``zoo.models.presets.Architecture``) says which config fields it takes as overrides of its
preset's (paper) defaults (``train_fields``: ``heatmap_length``, ``gamma`` and
``temporal_lambda`` for the 1D tracker, ``heatmap_length`` only for the 2D baseline, ...), the
model is built first, and the preset's codec is fitted to the built model's sizes
(``Codec.fit_to``), with ``config.sigma`` / ``config.decode`` applied. A field set in the
config that the architecture does not take is an error; fields it does not take stay None in
the resolved config (and in ``config.json``).

Example:
    >>> import zoo.training
    >>> from zoo.training.resolve import resolve
    >>> run = resolve(zoo.training.TrainConfig(model="fan2d_300w", input_size=64))
    >>> run.config.heatmap_length, run.config.gamma, type(run.codec).__name__, run.task
    (64, None, 'Heatmap2DCodec', 'image')
"""
import copy
import dataclasses
from typing import Any

# TrainConfig fields that an architecture may take as builder overrides (its record's
# ``train_fields``): the 1D-heatmap paper's knobs, not fields every model receives.
TRAIN_FIELDS = ("heatmap_length", "gamma", "temporal_lambda")


@dataclasses.dataclass
class Resolved:
    """What :func:`resolve` gives a trainer.

    Attributes:
        config: the ``TrainConfig`` with every resolved value filled in (``input_size``, the
            architecture's ``train_fields``, ``sigma``, ``decode``), as ``config.json`` keeps it.
        preset: the ``Preset``.
        architecture: its ``Architecture`` record.
        overrides: the ``zoo.create`` overrides that rebuild the model.
        model: the built model (fresh weights), or None with ``build=False``.
        codec: the preset's codec fitted to the model.
        losses: ``{output key: per-example loss}`` from the record.
    """

    config: Any
    preset: Any
    architecture: Any
    overrides: dict
    model: Any
    codec: Any
    losses: dict

    @property
    def task(self):
        """``"image"`` or ``"clip"`` (the architecture's task kind)."""
        return self.architecture.task

    def build_model(self):
        """A new model of the resolved configuration (e.g. in a distribution scope)."""
        import zoo

        return zoo.create(self.config.model, **self.overrides)


def model_overrides(config, architecture):
    """The ``zoo.create`` overrides of ``config`` for ``architecture``.

    ``config.model_overrides`` plus ``input_size`` and every set ``train_fields`` entry mapped
    to its builder argument.

    Raises:
        ValueError: a ``TRAIN_FIELDS`` entry is set that the architecture does not take.

    Example:
        >>> import zoo.training
        >>> from zoo.models import presets
        >>> from zoo.training.resolve import model_overrides
        >>> model_overrides(zoo.training.TrainConfig(heatmap_length=128),
        ...                 presets.get_architecture("fan2d"))
        {'heatmap_size': 128}
    """
    overrides = copy.deepcopy(dict(config.model_overrides or {}))
    if config.input_size is not None:
        overrides["input_size"] = config.input_size
    for field in TRAIN_FIELDS:
        value = getattr(config, field)
        if value is None:
            continue
        if field not in architecture.train_fields:
            raise ValueError(
                f"`{field}` does not apply to architecture {architecture.name!r} (model "
                f"{config.model!r}). Allowed: {sorted(architecture.train_fields)}. "
                f"Received: {field}={value!r}")
        overrides[architecture.train_fields[field]] = value
    return overrides


def applicable(config):
    """``config`` with the ``TRAIN_FIELDS`` its architecture does not take set to None.

    For run folders whose ``config.json`` predates the architecture records (every run then
    recorded gamma 0.4 and lambda 0.3, whatever the model): loading such a run keeps working.

    Example:
        >>> import zoo.training
        >>> from zoo.training.resolve import applicable
        >>> old = zoo.training.TrainConfig(model="fan2d_300w", gamma=0.4, temporal_lambda=0.3)
        >>> applicable(old).gamma, applicable(old).temporal_lambda
        (None, None)
    """
    from zoo.models import presets

    record = presets.find_architecture(config.model)
    if record is None:
        return config
    return config.replace(**{field: None for field in TRAIN_FIELDS
                             if field not in record.train_fields})


def fit_codec(codec_config, model, sigma=None, decode=None):
    """The serialized codec ``codec_config`` fitted to ``model``, with ``sigma`` / ``decode``.

    ``sigma`` is in input pixels, so a preset's own sigma holds for any heatmap size; with
    another input size it falls back to the codec's default (``F / 64``, which scales with F;
    the codec's ``resized_defaults``, as every ``fit_to`` does); ``sigma`` given here wins.

    Args:
        codec_config: ``{"class_name", "config"}`` (a preset's codec).
        model: the built model.
        sigma: optional target sigma in input pixels (``--sigma``).
        decode: optional decode method (``--decode``, one of the codec's ``decode_methods``).

    Returns:
        The codec.

    Example:
        >>> import zoo
        >>> from zoo.training.resolve import fit_codec
        >>> model = zoo.create("aheat1d_mobile_300w", heatmap_length=256)
        >>> codec = fit_codec(zoo.get_preset("aheat1d_mobile_300w").codec, model, decode="argmax")
        >>> codec.heatmap_size, codec.sigma, codec.decode_method
        (256, 2.0, 'argmax')
    """
    import zoo.codecs

    registered = zoo.codecs.base.registered_codecs()
    name = codec_config.get("class_name")
    if name not in registered:
        raise ValueError(f"Unknown codec class_name. Allowed: {sorted(registered)}. "
                         f"Received: class_name={name!r}")
    codec = registered[name].from_model(model, **dict(codec_config.get("config") or {}))
    if sigma is not None:
        codec = type(codec).from_config({**codec.get_config(), "sigma": sigma})
    if decode is not None:
        codec = codec.with_decode(decode)
    return codec


def resolve(config, build=True):
    """Resolves ``config`` through its preset's architecture record (every task kind).

    Args:
        config: a ``zoo.training.TrainConfig``.
        build: build the model and keep it (``Resolved.model``); the codec is fitted to it.
            False fits the codec on the architecture's ``shape_probe`` of the model (same
            output sizes, built in a fraction of the time) and keeps no model.

    Returns:
        A :class:`Resolved`.

    Raises:
        ValueError: unknown preset, a config field the architecture does not take, a bad
            override or codec setting.

    Example:
        >>> import zoo.training
        >>> from zoo.training.resolve import resolve
        >>> run = resolve(zoo.training.TrainConfig(model="aheat1d_mobile_300w", input_size=64,
        ...                                        heatmap_length=128))
        >>> run.config.gamma, run.codec.heatmap_size, sorted(run.losses)
        (0.4, 128, ['x', 'y'])
    """
    import zoo
    from zoo.models import presets

    preset = zoo.get_preset(config.model)
    architecture = presets.get_architecture(preset.architecture)
    overrides = model_overrides(config, architecture)
    probe = {} if build else dict(architecture.shape_probe)
    model = zoo.create(config.model, **{**overrides, **probe})
    codec = fit_codec(preset.codec, model, sigma=config.sigma, decode=config.decode)
    losses = architecture.make_losses(codec)
    # What the model was built with: the preset's (paper) values patched by the overrides.
    built = {**preset.config, "input_size": preset.input_size, **overrides}
    filled = {field: built.get(argument)
              for field, argument in architecture.train_fields.items()}
    resolved = config.replace(input_size=int(zoo.codecs.base.model_input_size(model)),
                              sigma=getattr(codec, "sigma", None),
                              decode=getattr(codec, "decode_method", None), **filled)
    return Resolved(config=resolved, preset=preset, architecture=architecture,
                    overrides=overrides, model=model if build else None, codec=codec,
                    losses=losses)
