"""Model builders and the preset registry."""
from zoo.models.aheat1d import build_aheat1d  # noqa: F401  (detector)
from zoo.models.tracker import build_aheat1d_tracker, build_fan2d_tracker, streaming  # noqa: F401  (tracker)
from zoo.models.fan2d import build_fan2d  # noqa: F401  (detector)
from zoo.models.presets import (  # noqa: F401  (detector)
    Preset, create, get_preset, list_models, register_architecture, register_preset)
