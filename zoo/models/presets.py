"""The preset registry: named, complete model configurations (``zoo.create``).

A preset carries everything needed to build a model and to use its outputs: the architecture
and its config, the input size, the normalisation, the landmark scheme and the codec config
(timm's pretrained-config idea). Architectures are builder functions registered by name;
other modules (e.g. ``zoo.models.tracker``) add their own architectures and presets with
``register_architecture`` / ``register_preset`` when they are imported, and
``_ensure_registered`` imports them lazily the first time the registry is read.

Example:
    >>> import zoo
    >>> "aheat1d_300w" in zoo.list_models()
    True
    >>> model = zoo.create("aheat1d_mobile_300w")
"""
import copy
import dataclasses
import importlib
import inspect
from typing import Callable, Optional

_PRESETS = {}
_ARCHITECTURES = {}
# Builders of this package, resolved on first use (keeps ``import zoo`` light).
_BUILTIN_ARCHITECTURES = {
    "aheat1d": ("zoo.models.aheat1d", "build_aheat1d"),
    "fan2d": ("zoo.models.fan2d", "build_fan2d"),
}
# Modules that register more architectures/presets when imported.
_EXTENSION_MODULES = ("zoo.models.tracker",)
_extensions_loaded = False

IMAGENET_NORMALIZATION = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


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
            (``zoo.codecs.get(preset.codec)``).
        description: one line about the preset.
        weights_url: URL of trained weights, or None (no released weights yet).
        weights_sha256: sha256 of the weights file, or None.
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


def register_architecture(name, builder: Callable, overwrite=False):
    """Registers a model builder under ``name``.

    Args:
        name: architecture name used by presets.
        builder: a function ``builder(input_size=..., normalization=..., name=..., **config)``
            returning a ``keras.Model``.
        overwrite: replace an existing registration instead of raising.

    Example:
        >>> import zoo.models.presets as presets
        >>> import zoo.models.aheat1d
        >>> presets.register_architecture("my_aheat1d", zoo.models.aheat1d.build_aheat1d)
    """
    if not callable(builder):
        raise ValueError(f"`builder` must be callable. Received: builder={builder!r}")
    if not overwrite and (name in _ARCHITECTURES or name in _BUILTIN_ARCHITECTURES):
        raise ValueError(
            f"Architecture {name!r} is already registered (pass overwrite=True to replace it). "
            f"Received: name={name!r}"
        )
    _ARCHITECTURES[name] = builder


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
    """Imports the modules that register more architectures and presets (once)."""
    global _extensions_loaded
    if _extensions_loaded:
        return
    _extensions_loaded = True
    for module in _EXTENSION_MODULES:
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
    """Returns the builder registered as architecture ``name``."""
    _ensure_registered()
    if name in _ARCHITECTURES:
        return _ARCHITECTURES[name]
    if name in _BUILTIN_ARCHITECTURES:
        module, attribute = _BUILTIN_ARCHITECTURES[name]
        return getattr(importlib.import_module(module), attribute)
    allowed = sorted(set(_ARCHITECTURES) | set(_BUILTIN_ARCHITECTURES))
    raise ValueError(f"Unknown architecture. Allowed: {allowed}. Received: architecture={name!r}")


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
    builder = get_architecture(preset.architecture)
    kwargs = copy.deepcopy(preset.config)
    kwargs.update({"input_size": preset.input_size,
                   "normalization": copy.deepcopy(preset.normalization), "name": preset.name})
    allowed = sorted(set(inspect.signature(builder).parameters) - {"name"})
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(
            f"Unknown override(s) for architecture {preset.architecture!r}. Allowed: {allowed}. "
            f"Received: {', '.join(f'{k}={overrides[k]!r}' for k in unknown)}"
        )
    kwargs.update(copy.deepcopy(overrides))
    return builder(**kwargs)


def _codec_1d(input_size, heatmap_length):
    return {"class_name": "Heatmap1DCodec",
            "config": {"input_size": input_size, "heatmap_size": heatmap_length}}


def _aheat1d_config(num_landmarks, gamma=0.4, heatmap_length=768):
    # The paper's detector (Section 4.1, 5.1): 4 stacks of FAN hourglasses at width 256,
    # L = 3F = 768, gamma from cross-validation (0.4 on 300W, 0.5 on AFLW).
    return {"num_landmarks": num_landmarks, "num_stacks": 4, "width": 256, "hourglass_depth": 4,
            "heatmap_length": heatmap_length, "gamma": gamma, "head_channels": 128,
            "compress_steps": 3, "separable": False}


def _register_builtin_presets():
    paper = ("Paper detector (Yin et al. 2020, Sec. 4.1): 4-stack FAN hourglass, width 256, "
             "1D heatmaps L = 768 with co-attention")
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
    register_preset(Preset(
        name="aheat1d_mobile_300w", architecture="aheat1d",
        config={"num_landmarks": 68, "num_stacks": 1, "width": 32, "hourglass_depth": 3,
                "heatmap_length": 384, "gamma": 0.4, "head_channels": 16,
                "compress_steps": 2, "separable": True},
        input_size=128, normalization=dict(IMAGENET_NORMALIZATION), scheme="300w",
        codec=_codec_1d(128, 384),
        description="Phone-sized attentive 1D detector: 128 input, 1 hourglass stack of width "
                    "32 with depth-wise separable convolutions, L = 3F = 384, gamma 0.4; 1D "
                    "heads (CNN_1, co-attention, CNN_2) of 16 channels (32 before issue 7: "
                    "16 brings the tracker step under 2 ms per frame at 1 thread).",
        num_params=53984))


_register_builtin_presets()
