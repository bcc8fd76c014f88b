"""Model builders and the preset registry."""
from zoo.models.aheat1d import build_aheat1d  # noqa: F401  (detector)
from zoo.models.tracker import build_aheat1d_tracker, build_fan2d_tracker, streaming  # noqa: F401  (tracker)
from zoo.models.fan2d import build_fan2d  # noqa: F401  (detector)
from zoo.models.hih import build_hih  # noqa: F401  (HIH)
from zoo.models.rdfn import build_rdfn  # noqa: F401  (RDFN)
from zoo.models.presets import (  # noqa: F401  (the registry)
    Architecture, Preset, create, find_architecture, get_architecture, get_preset,
    is_clip_model, list_architectures, list_models, model_codec, model_task,
    register_architecture, register_preset, wrap_in_tracker)
