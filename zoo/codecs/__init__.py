"""Codecs: landmarks in input-pixel coordinates <-> training targets.

Each codec has ``encode(landmarks (N, 2)) -> dict`` (TF ops, usable in ``tf.data`` map) and
``decode(batched dict) -> (coords (B, N, 2), scores (B, N))`` (``keras.ops``, exportable).
The coordinate convention is documented in ``zoo.codecs.base``.

Example:
    >>> import zoo.codecs
    >>> codec = zoo.codecs.get({"class_name": "Heatmap1DCodec",
    ...                         "config": {"input_size": 256, "heatmap_size": 768}})
    >>> zoo.codecs.serialize(codec)["class_name"]
    'Heatmap1DCodec'
"""
from zoo.codecs.base import Codec
from zoo.codecs.heatmap_1d import Heatmap1DCodec
from zoo.codecs.heatmap_2d import Heatmap2DCodec
from zoo.codecs.hih import HIHCodec
from zoo.codecs import base as _base

__all__ = ["Codec", "Heatmap1DCodec", "Heatmap2DCodec", "HIHCodec", "get", "serialize"]


def serialize(codec):
    """Codec -> ``{"class_name": ..., "config": {...}}`` (JSON-serialisable).

    Args:
        codec: a codec instance.

    Returns:
        dict with ``class_name`` and ``config``.

    Example:
        >>> import zoo.codecs
        >>> zoo.codecs.serialize(zoo.codecs.Heatmap2DCodec(256, 64))["config"]["heatmap_size"]
        64
    """
    if not isinstance(codec, Codec):
        raise ValueError(f"`codec` must be a zoo codec. Received: codec={codec!r}")
    return {"class_name": type(codec).__name__, "config": dict(codec.get_config())}


def get(identifier):
    """Returns a codec from a codec, or a ``{"class_name", "config"}`` dict.

    Args:
        identifier: a codec instance (returned as is) or the dict made by ``serialize``.

    Returns:
        a codec instance.

    Raises:
        ValueError: unknown class name or a malformed identifier.

    Example:
        >>> import zoo.codecs
        >>> zoo.codecs.get({"class_name": "HIHCodec", "config": {"input_size": 256}}).integer_size
        64
    """
    if isinstance(identifier, Codec):
        return identifier
    if not isinstance(identifier, dict) or "class_name" not in identifier:
        raise ValueError(
            "`identifier` must be a codec or a dict {'class_name': ..., 'config': ...}. "
            f"Received: identifier={identifier!r}")
    name = identifier["class_name"]
    if name not in _base._REGISTRY:
        raise ValueError(
            f"Unknown codec class_name; known: {sorted(_base._REGISTRY)}. Received: "
            f"class_name={name!r}")
    return _base._REGISTRY[name].from_config(dict(identifier.get("config", {})))
