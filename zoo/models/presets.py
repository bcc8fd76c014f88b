"""The registry: architectures (one record each) and presets (``zoo.create``).

Two kinds of entries, after KerasHub's presets and mmpose's registries:

* An :class:`Architecture` record says everything the zoo needs to know about a model family,
  so that no other module compares architecture or output names: its builder, its task kind
  (``"image"``: faces in, heatmaps out; ``"clip"``: clips ``(B, T, F, F, 3)`` in), the losses it
  trains with (built from its codec), the ``TrainConfig`` fields it takes as builder overrides,
  a tiny config for the meta-tests, its default codec, and the clip architecture that wraps it
  into a tracker. Each model module registers its own record when it is imported.
* A :class:`Preset` is a named, complete model configuration: the architecture and its config,
  the input size, the normalisation, the landmark scheme and the codec config (timm's
  pretrained-config idea).

Registering a new architecture (its module is listed in ``_MODEL_MODULES`` so that the registry
imports it on first use; a module of your own just has to be imported before use)::

    from zoo.models import presets

    presets.register_architecture(presets.Architecture(
        name="hih",                       # Preset.architecture refers to it
        builder=build_hih,                # builder(input_size=, normalization=, name=, **config)
        task="image",                     # or "clip" for trackers
        losses=hih_losses,                # losses(codec) -> {output key: fn(y_true, y_pred) -> (B,)}
        codec={"class_name": "HIHCodec", "config": {}},   # for models that are not a preset
        tiny_config={"input_size": 32, "num_stacks": 1},  # seconds-sized, for the meta-tests
        train_fields={"heatmap_length": "integer_size"},  # TrainConfig field -> builder argument
        tracker=None,                     # name of the clip architecture that wraps it, if any
        shape_probe={"num_stacks": 1}))   # same output sizes, builds fast (codec fitting)
    presets.register_preset(presets.Preset(name="hih_300w", architecture="hih", ...))

The older form ``register_architecture("name", builder)`` still works: it registers a record
with the defaults (an image architecture trained with Eq. 11 on every codec target).

The lookups that replace name checks elsewhere: :func:`get_architecture` (by name),
:func:`find_architecture` (of a preset name or a model), :func:`model_task` (image or clip),
:func:`is_clip_model` (is it a tracker?),
:func:`model_codec` (a model's codec fitted to its sizes) and :func:`wrap_in_tracker`.

Example:
    >>> import zoo
    >>> "aheat1d_300w" in zoo.list_models()
    True
    >>> model = zoo.create("aheat1d_mobile_300w")
    >>> zoo.models.presets.model_task(model), zoo.models.presets.get_architecture("aheat1d").tracker
    ('image', 'aheat1d_tracker')
"""
import copy
import dataclasses
import importlib
import inspect
from typing import Callable, Optional

TASKS = ("image", "clip")
_PRESETS = {}
_ARCHITECTURES = {}
# Modules that register architectures (and presets) when imported; read on first use so that
# ``import zoo`` stays light.
_MODEL_MODULES = ("zoo.models.aheat1d", "zoo.models.fan2d", "zoo.models.tracker",
                  "zoo.models.hih", "zoo.models.rdfn")
_modules_loaded = False

IMAGENET_NORMALIZATION = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


@dataclasses.dataclass(frozen=True)
class Architecture:
    """Everything the zoo knows about one model family (one record per architecture).

    Args:
        name: the architecture name (``Preset.architecture``).
        builder: ``builder(input_size=..., normalization=..., name=..., **config)`` returning
            a ``keras.Model`` with dict outputs named by its codec's ``target_keys`` (image
            models: ``(B, S, ...)`` per stack; clip models: ``(B, T, ...)`` per frame). A clip
            builder also takes ``detector=`` (a built image model) to wrap it.
        task: ``"image"`` (face crops in) or ``"clip"`` (clips ``(B, T, F, F, 3)`` in); picks
            the trainer, the data and the evaluation protocol.
        losses: ``losses(codec) -> {output key: fn(y_true, y_pred) -> (B,)}`` (``zoo.losses``),
            covering exactly the codec's ``target_keys``; None: Eq. 11 on every target for
            image architectures (``zoo.losses.heatmap_losses``), Eq. 14 for clip ones
            (``zoo.losses.tracking_losses``).
        codec: the codec of models that are not a preset, ``{"class_name": ..., "config":
            {...}}`` without the sizes (``Codec.from_model`` reads them off the model); None:
            the registered codec whose target keys are the model's outputs.
        tiny_config: builder overrides that make every preset of this architecture a
            seconds-sized model (the registry meta-tests use it).
        train_fields: ``{TrainConfig field: builder argument}``: the training config's fields
            this architecture takes as overrides of its preset (e.g. ``{"gamma": "gamma"}``);
            any other such field set in a config is an error.
        tracker: name of the clip architecture whose builder wraps this image architecture
            (``wrap_in_tracker``), or None.
        shape_probe: builder overrides that leave one example's output shapes unchanged but
            build in a fraction of the time (fewer stacks, fewer channels); resolving a
            training config without keeping the model fits the codec on such a probe
            (``zoo.training.resolve``). Empty: the full model is built.
        description: one line.

    Example:
        >>> from zoo.models import presets
        >>> record = presets.get_architecture("fan2d")
        >>> record.task, record.train_fields
        ('image', {'heatmap_length': 'heatmap_size'})
    """

    name: str
    builder: Callable
    task: str = "image"
    losses: Optional[Callable] = None
    codec: Optional[dict] = None
    tiny_config: dict = dataclasses.field(default_factory=dict)
    train_fields: dict = dataclasses.field(default_factory=dict)
    tracker: Optional[str] = None
    shape_probe: dict = dataclasses.field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"`name` must be a non-empty string. Received: name={self.name!r}")
        if not callable(self.builder):
            raise ValueError(f"`builder` must be callable. Received: builder={self.builder!r}")
        if self.task not in TASKS:
            raise ValueError(f"Unknown task kind. Allowed: {list(TASKS)}. Received: "
                             f"task={self.task!r}")
        if self.losses is not None and not callable(self.losses):
            raise ValueError("`losses` must be None or a callable losses(codec) -> dict. "
                             f"Received: losses={self.losses!r}")
        if self.codec is not None and (not isinstance(self.codec, dict)
                                       or "class_name" not in self.codec):
            raise ValueError("`codec` must be None or {'class_name': ..., 'config': {...}}. "
                             f"Received: codec={self.codec!r}")
        for field in ("tiny_config", "train_fields", "shape_probe"):
            if not isinstance(getattr(self, field), dict):
                raise ValueError(f"`{field}` must be a dict. Received: "
                                 f"{field}={getattr(self, field)!r}")
        if self.tracker is not None and not isinstance(self.tracker, str):
            raise ValueError(f"`tracker` must be None or an architecture name. Received: "
                             f"tracker={self.tracker!r}")
        parameters = self.parameters()
        if parameters is not None:
            for field in ("tiny_config", "shape_probe"):
                unknown = sorted(set(getattr(self, field)) - set(parameters))
                if unknown:
                    raise ValueError(f"`{field}` names arguments the builder lacks. Allowed: "
                                     f"{parameters}. Received: {unknown}")
            unknown = sorted(set(self.train_fields.values()) - set(parameters))
            if unknown:
                raise ValueError(f"`train_fields` maps to arguments the builder lacks. "
                                 f"Allowed: {parameters}. Received: {unknown}")

    def parameters(self):
        """The builder's keyword arguments (without ``name``), or None for ``**kwargs`` only."""
        signature = inspect.signature(self.builder)
        names = [name for name, parameter in signature.parameters.items()
                 if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
                 and name != "name"]
        if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()) and not names:
            return None
        return sorted(names)

    def __call__(self, **kwargs):
        """Builds a model (the record stands for its builder, as ``get_architecture`` did)."""
        return self.builder(**kwargs)

    def make_losses(self, codec):
        """The per-output losses for ``codec``, checked to cover exactly its targets.

        Args:
            codec: the (fitted) codec of the model.

        Returns:
            ``{output key: fn(y_true, y_pred) -> (B,)}``.

        Example:
            >>> import zoo.codecs
            >>> from zoo.models import presets
            >>> codec = zoo.codecs.Heatmap1DCodec(64, 128)
            >>> sorted(presets.get_architecture("aheat1d").make_losses(codec))
            ['x', 'y']
        """
        import zoo.losses

        make = self.losses or (zoo.losses.heatmap_losses if self.task == "image"
                               else zoo.losses.tracking_losses)
        losses = make(codec)
        if not isinstance(losses, dict) or set(losses) != set(codec.target_keys):
            raise ValueError(
                f"The losses of architecture {self.name!r} must cover exactly its codec's "
                f"targets. Allowed: {sorted(codec.target_keys)}. Received: "
                f"losses={sorted(losses) if isinstance(losses, dict) else losses!r}")
        return losses


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named model configuration.

    Args:
        name: the preset name, also the built model's name.
        architecture: a registered architecture name (``"aheat1d"``, ``"fan2d"``, ...).
        config: the architecture builder's keyword arguments (without ``input_size``,
            ``normalization`` and ``name``, which come from the preset).
        input_size: the face crop size F (square input F x F x 3, RGB in [0, 255]).
        normalization: ``{"mean": [3], "std": [3]}`` in [0, 1] units, applied inside the model.
        scheme: the landmark scheme name (``zoo.schemes.get_scheme``).
        codec: the serialized codec, ``{"class_name": ..., "config": {...}}``
            (``zoo.codecs.get(preset.codec)``); its sizes are fitted to the built model
            (``model_codec``).
        description: one line about the preset.
        weights_url: the trained weights: a file name in the package's ``zoo/weights/``
            folder (shipped, read offline), a URL (downloaded once and cached), or None (no
            trained weights: loading warns and the weights stay random). See ``zoo.weights``.
        weights_sha256: sha256 of the weights file (required with ``weights_url``: a file
            that does not match is refused), or None.
        num_params: parameter count of the built model (checked by tests/test_presets.py).

    Example:
        >>> import zoo
        >>> zoo.get_preset("aheat1d_300w").config["heatmap_length"]
        768
    """

    name: str
    architecture: str
    config: dict
    input_size: int
    normalization: dict
    scheme: str
    codec: dict
    description: str = ""
    weights_url: Optional[str] = None
    weights_sha256: Optional[str] = None
    num_params: Optional[int] = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"`name` must be a non-empty string. Received: name={self.name!r}")
        if not isinstance(self.config, dict):
            raise ValueError(f"`config` must be a dict. Received: config={self.config!r}")
        if not isinstance(self.codec, dict) or set(self.codec) != {"class_name", "config"}:
            raise ValueError(
                "`codec` must be a serialized codec {'class_name': ..., 'config': {...}}. "
                f"Received: codec={self.codec!r}"
            )
        for key in ("input_size", "normalization", "name"):
            if key in self.config:
                raise ValueError(
                    f"`{key}` belongs to the preset, not to `config`. "
                    f"Received: config={self.config!r}"
                )

    def to_dict(self):
        """Returns the preset as a JSON-serialisable dict (deep copy)."""
        return copy.deepcopy(dataclasses.asdict(self))


def register_architecture(architecture, builder: Optional[Callable] = None, overwrite=False,
                          **fields):
    """Registers an :class:`Architecture` record.

    Args:
        architecture: an ``Architecture``, or (older form) its name together with ``builder``
            and optional record ``fields``.
        builder: with a name: the builder function.
        overwrite: replace an existing registration instead of raising.
        **fields: with a name: further ``Architecture`` fields (``task``, ``losses``, ...).

    Returns:
        The registered record.

    Example:
        >>> import zoo.models.aheat1d
        >>> from zoo.models import presets
        >>> record = presets.register_architecture("my_aheat1d", zoo.models.aheat1d.build_aheat1d)
        >>> record.task
        'image'
    """
    if isinstance(architecture, Architecture):
        if builder is not None or fields:
            raise ValueError("Pass either an Architecture or a name with builder and fields. "
                             f"Received: builder={builder!r}, fields={sorted(fields)}")
        record = architecture
    else:
        record = Architecture(name=architecture, builder=builder, **fields)
    if not overwrite and record.name in _ARCHITECTURES:
        raise ValueError(
            f"Architecture {record.name!r} is already registered (pass overwrite=True to "
            f"replace it). Received: name={record.name!r}")
    _ARCHITECTURES[record.name] = record
    return record


def register_preset(preset: Preset, overwrite=False):
    """Adds a preset to the registry.

    Args:
        preset: a ``zoo.models.presets.Preset``.
        overwrite: replace an existing preset of the same name instead of raising.

    Example:
        >>> import dataclasses, zoo
        >>> from zoo.models import presets
        >>> small = dataclasses.replace(presets.get_preset("aheat1d_300w"), name="my_small",
        ...                             config={**presets.get_preset("aheat1d_300w").config,
        ...                                     "num_stacks": 1})
        >>> presets.register_preset(small)
    """
    if not isinstance(preset, Preset):
        raise ValueError(f"`preset` must be a Preset. Received: preset={preset!r}")
    if preset.name in _PRESETS and not overwrite:
        raise ValueError(
            f"Preset {preset.name!r} is already registered (pass overwrite=True to replace it). "
            f"Received: preset.name={preset.name!r}"
        )
    _PRESETS[preset.name] = preset


def _ensure_registered():
    """Imports the modules that register architectures and presets (once)."""
    global _modules_loaded
    if _modules_loaded:
        return
    _modules_loaded = True
    for module in _MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:  # a real import error inside the module: surface it
                raise


def list_models():
    """Returns the sorted names of all registered presets.

    Example:
        >>> import zoo
        >>> zoo.list_models()[:2]
        ['aheat1d_300w', 'aheat1d_aflw']
    """
    _ensure_registered()
    return sorted(_PRESETS)


def list_architectures():
    """Returns the sorted names of all registered architectures.

    Example:
        >>> from zoo.models import presets
        >>> {"aheat1d", "fan2d", "aheat1d_tracker"} <= set(presets.list_architectures())
        True
    """
    _ensure_registered()
    return sorted(_ARCHITECTURES)


def get_preset(name):
    """Returns the ``Preset`` registered as ``name``.

    Raises:
        ValueError: for an unknown name (the message lists the known ones).

    Example:
        >>> import zoo
        >>> zoo.get_preset("aheat1d_300w").scheme
        '300w'
    """
    _ensure_registered()
    if name not in _PRESETS:
        raise ValueError(f"Unknown preset. Allowed: {sorted(_PRESETS)}. Received: name={name!r}")
    return _PRESETS[name]


def get_architecture(name):
    """Returns the :class:`Architecture` record registered as ``name``.

    The record is callable like its builder (``get_architecture(name)(**kwargs)``).

    Raises:
        ValueError: for an unknown name.

    Example:
        >>> from zoo.models import presets
        >>> presets.get_architecture("aheat1d_tracker").task
        'clip'
    """
    _ensure_registered()
    if name not in _ARCHITECTURES:
        raise ValueError(f"Unknown architecture. Allowed: {sorted(_ARCHITECTURES)}. "
                         f"Received: architecture={name!r}")
    return _ARCHITECTURES[name]


def find_architecture(preset_or_model):
    """The architecture record of a preset name, a ``Preset`` or a model; None if unknown.

    A model is looked up by its name: a preset's model carries the preset name
    (``zoo.create``), a model of a bare builder the architecture name (``build_aheat1d``
    names it ``"aheat1d"``).

    Example:
        >>> import zoo
        >>> zoo.models.presets.find_architecture("fan2d_300w").name
        'fan2d'
    """
    _ensure_registered()
    if isinstance(preset_or_model, Preset):
        return get_architecture(preset_or_model.architecture)
    name = preset_or_model if isinstance(preset_or_model, str) else getattr(
        preset_or_model, "name", None)
    if name in _PRESETS:
        return get_architecture(_PRESETS[name].architecture)
    return _ARCHITECTURES.get(name)


def model_task(model):
    """The task kind of a model, ``"image"`` or ``"clip"``: where every module looks it up.

    From the model's architecture record (:func:`find_architecture`); for a model the
    registry does not know, from its input (a clip model takes ``(B, T, F, F, 3)``).

    Example:
        >>> import zoo
        >>> zoo.models.presets.model_task(zoo.create("aheat1d_tracker_mobile_300vw"))
        'clip'
    """
    record = find_architecture(model)
    if record is not None:
        return record.task
    inputs = model.input
    first = next(iter(inputs.values())) if isinstance(inputs, dict) else (
        inputs[0] if isinstance(inputs, (list, tuple)) else inputs)
    return "clip" if len(first.shape) == 5 else "image"


def is_clip_model(model_or_name):
    """True for a clip model (a tracker: clips ``(B, T, F, F, 3)`` in), False for an image model.

    The one place the library asks whether something is a tracker: its architecture record's
    ``task`` (:func:`model_task` for a model, which falls back to the input rank for a model the
    registry does not know).

    Args:
        model_or_name: a Keras model, a preset name or :class:`Preset`, or an architecture name.

    Returns:
        A bool.

    Raises:
        ValueError: for a name that is neither a preset nor an architecture.

    Example:
        >>> from zoo.models import presets
        >>> presets.is_clip_model("aheat1d_tracker_mobile_300vw"), presets.is_clip_model("fan2d")
        (True, False)
        >>> presets.is_clip_model(zoo.create("aheat1d_mobile_300w"))
        False
    """
    if isinstance(model_or_name, (str, Preset)):
        record = find_architecture(model_or_name)
        if record is None:
            raise ValueError("Not a preset or architecture name. Allowed: "
                             f"{sorted(list_models() + list_architectures())}. "
                             f"Received: model_or_name={model_or_name!r}")
        return record.task == "clip"
    return model_task(model_or_name) == "clip"


def model_codec(model, codec=None):
    """The codec that decodes ``model``, with its sizes fitted to the model.

    Args:
        model: a built training model (dict outputs).
        codec: optional codec (or its dict) to fit; default the model's preset's codec (found
            by the model's name), else its architecture's ``codec``, else the registered
            codec whose target keys are the model's outputs.

    Returns:
        A codec instance.

    Example:
        >>> import zoo
        >>> model = zoo.create("aheat1d_mobile_300w", input_size=64, heatmap_length=128)
        >>> codec = zoo.models.presets.model_codec(model)
        >>> codec.input_size, codec.heatmap_size
        (64, 128)
    """
    import zoo.codecs

    if codec is not None:
        return zoo.codecs.get(codec).fit_to(model)
    name = getattr(model, "name", None)
    if name in list_models():
        return zoo.codecs.get(get_preset(name).codec).fit_to(model)
    record = find_architecture(model)
    if record is not None and record.codec is not None:
        cls = zoo.codecs.base.registered_codecs().get(record.codec["class_name"])
        if cls is None:
            raise ValueError(f"Architecture {record.name!r} names an unregistered codec. "
                             f"Allowed: {sorted(zoo.codecs.base.registered_codecs())}. "
                             f"Received: class_name={record.codec['class_name']!r}")
        return cls.from_model(model, **dict(record.codec.get("config") or {}))
    outputs = [key for key in model.output if key in zoo.codecs.heatmap_output_names()]
    return zoo.codecs.codec_for_outputs(outputs).from_model(model)


def wrap_in_tracker(detector, **kwargs):
    """Wraps a built image model into the tracker of its architecture (``tracker`` field).

    Args:
        detector: a built image model whose architecture the registry knows
            (:func:`find_architecture`).
        **kwargs: arguments of the clip architecture's builder (``name``, ``decay``, ...).

    Returns:
        The clip model (the detector's weights are shared).

    Example:
        >>> import zoo
        >>> detector = zoo.create("aheat1d_mobile_300w", input_size=32, width=16,
        ...                       hourglass_depth=1, heatmap_length=32, head_channels=8,
        ...                       compress_steps=1)
        >>> tracker = zoo.models.presets.wrap_in_tracker(detector, name="mobile_tracker")
        >>> zoo.models.presets.model_task(tracker)
        'clip'
    """
    record = find_architecture(detector)
    if record is None or record.tracker is None:
        trackers = sorted(name for name, r in _ARCHITECTURES.items() if r.task == "clip")
        raise ValueError(
            "No tracker architecture is registered for this model (its name is neither a "
            "preset nor an architecture with a `tracker`). Build the tracker directly. "
            f"Allowed: {trackers}. Received: model.name={getattr(detector, 'name', None)!r}")
    return get_architecture(record.tracker).builder(detector=detector, **kwargs)


def create(name, **overrides):
    """Builds the training model of preset ``name``.

    Args:
        name: a preset name from ``zoo.list_models()``.
        **overrides: patches to the architecture config (e.g. ``num_stacks=1``); also
            ``input_size`` and ``normalization``.

    Returns:
        A ``keras.Model`` named ``name`` (so ``zoo.models.inference.make_inference_model``
        finds its preset).

    Raises:
        ValueError: unknown preset, unknown override key, or a bad configuration.

    Example:
        >>> import zoo
        >>> model = zoo.create("aheat1d_300w", num_stacks=1)
        >>> tuple(model.output["x"].shape)
        (None, 1, 68, 768)
    """
    preset = get_preset(name)
    record = get_architecture(preset.architecture)
    kwargs = copy.deepcopy(preset.config)
    kwargs.update({"input_size": preset.input_size,
                   "normalization": copy.deepcopy(preset.normalization), "name": preset.name})
    allowed = record.parameters()
    if allowed is not None:
        unknown = sorted(set(overrides) - set(allowed))
        if unknown:
            raise ValueError(
                f"Unknown override(s) for architecture {preset.architecture!r}. Allowed: "
                f"{allowed}. Received: {', '.join(f'{k}={overrides[k]!r}' for k in unknown)}"
            )
    kwargs.update(copy.deepcopy(overrides))
    return record.builder(**kwargs)


def _codec_1d(input_size, heatmap_length):
    return {"class_name": "Heatmap1DCodec",
            "config": {"input_size": input_size, "heatmap_size": heatmap_length}}


def _aheat1d_config(num_landmarks, gamma=0.4, heatmap_length=768):
    # The paper's detector (Section 4.1, 5.1): L = 3F = 768 and gamma from cross-validation
    # (0.4 on 300W, 0.5 on AFLW) are the paper's. 4 stacks of width 256 (depth 4) are FAN's
    # settings: the paper only cites FAN [2] for its stacked hourglass. Heads of 128 channels
    # and 3 compression steps are this zoo's choice (the paper gives neither).
    return {"num_landmarks": num_landmarks, "num_stacks": 4, "width": 256, "hourglass_depth": 4,
            "heatmap_length": heatmap_length, "gamma": gamma, "head_channels": 128,
            "compress_steps": 3, "separable": False}


def _register_builtin_presets():
    paper = ("Paper detector (Yin et al. 2020, Sec. 4.1): 1D heatmaps L = 3F = 768 with "
             "co-attention (paper) on a stacked hourglass with FAN's settings, 4 stacks of "
             "width 256 (the paper only cites FAN)")
    for name, num_landmarks, gamma, scheme, extra, params in (
            ("aheat1d_300w", 68, 0.4, "300w", "gamma 0.4 (paper, 300W)", 30370528),
            ("aheat1d_aflw", 19, 0.5, "aflw", "gamma 0.5 (paper, AFLW)", 29768024),
            ("aheat1d_wflw", 98, 0.4, "wflw", "gamma 0.4 (300W's value; the paper has no WFLW "
             "experiment)", 30739408),
            ("aheat1d_cofw", 29, 0.4, "cofw", "gamma 0.4 (300W's value; the paper has no COFW "
             "experiment)", 29890984)):
        register_preset(Preset(
            name=name, architecture="aheat1d", config=_aheat1d_config(num_landmarks, gamma),
            input_size=256, normalization=dict(IMAGENET_NORMALIZATION), scheme=scheme,
            codec=_codec_1d(256, 768), description=f"{paper}; {extra}.", num_params=params))
    register_preset(Preset(
        name="fan2d_300w", architecture="fan2d",
        config={"num_landmarks": 68, "num_stacks": 4, "width": 256, "hourglass_depth": 4,
                "heatmap_size": 64, "separable": False},
        input_size=256, normalization=dict(IMAGENET_NORMALIZATION), scheme="300w",
        codec={"class_name": "Heatmap2DCodec",
               "config": {"input_size": 256, "heatmap_size": 64}},
        description="2D baseline (FAN, Bulat & Tzimiropoulos 2017): 4 stacks, width 256, "
                    "64x64 heatmaps (the paper's Table 1 2D detector).",
        num_params=23820240))
    # The phone presets: 128 px crops, L = 3F = 384, one separable hourglass.
    mobile = {"num_landmarks": 68, "num_stacks": 1, "width": 128, "hourglass_depth": 3,
              "heatmap_length": 384, "gamma": 0.4, "head_channels": 32, "compress_steps": 2,
              "separable": True}

    def phone(config):
        return dict(architecture="aheat1d", config=config, input_size=128,
                    normalization=dict(IMAGENET_NORMALIZATION), scheme="300w",
                    codec=_codec_1d(128, 384))

    register_preset(Preset(
        name="aheat1d_mobile_300w", **phone(dict(mobile)),
        description="Phone-sized attentive 1D detector: 128 input, 1 hourglass stack of width "
                    "128 with depth-wise separable convolutions, L = 3F = 384, gamma 0.4; 1D "
                    "heads (CNN_1, co-attention, CNN_2) of 32 channels. Widened from 32/16 "
                    "(54 k parameters) in issue 13: at 54 k it plateaued at 7.4 % NME on real "
                    "faces; trained weights ship with the package (300-W, non-commercial).",
        num_params=287400,
        # Trained on 2,012 real 300-W faces (issue 13): /work/runs/mobile_v2 step 15000.
        weights_url="aheat1d_mobile_300w.weights.h5",
        weights_sha256="8185e34fc5b9a7432c1b2fec8db94810e853c675fb8a49b81c084ae54569d10f"))

    register_preset(Preset(
        name="aheat1d_lite_300w", **phone({**mobile, "width": 48, "head_channels": 16,
                                           "stem": "lite", "preactivation": False}),
        description="The phone tracker's detector (issue 13): aheat1d_mobile_300w's design "
                    "(128 input, 1 separable hourglass, L = 3F = 384, gamma 0.4, 1D heads "
                    "with co-attention) at width 48 with 16-channel heads, the lite stem (two "
                    "stride-2 convolutions instead of FAN's 7x7 convolution and "
                    "full-resolution block) and conv-BN-ReLU blocks (batch norms fold into "
                    "the convolutions at export); neither is the paper's. 17.5 M MACs against "
                    "the mobile detector's 127 M, sized for a tracker step no slower than "
                    "MediaPipe's face_landmark.tflite.",
        num_params=68352,
        # Trained on 2,012 real 300-W faces (issue 13): /work/runs/lite48post step 14000.
        weights_url="aheat1d_lite_300w.weights.h5",
        weights_sha256="c4e9deb78f110f44b63958a87ed7d84b234161d03eaf09dff2a9228ddf4ca62f"))


_register_builtin_presets()
