"""landmark-zoo: facial landmark detection and tracking for Keras 3 / TensorFlow 2.

The top-level names are imported lazily so that ``import zoo`` stays fast and light.

Example:
    >>> import zoo
    >>> model = zoo.create("aheat1d_mobile_300w")
"""
import importlib

from zoo import _console

__version__ = "0.1.0"

# The zoo's command lines hide TensorFlow's C++ INFO/WARNING logs unless --verbose; this must
# run before anything imports TensorFlow, and every entry point imports zoo first.
_console.configure()

_LAZY = {
    "create": "zoo.models.presets",
    "list_models": "zoo.models.presets",
    "get_preset": "zoo.models.presets",
    "load": "zoo.inference",
    "FaceLandmarker": "zoo.inference",
    "streaming": "zoo.models.tracker",
    "schemes": "zoo.schemes",
    "metrics": "zoo.metrics",
    "losses": "zoo.losses",
    "codecs": "zoo.codecs",
    "layers": "zoo.layers",
    "models": "zoo.models",
    "data": "zoo.data",
    "export": "zoo.export",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    if module.__name__ == f"zoo.{name}":
        return module
    return getattr(module, name)


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
