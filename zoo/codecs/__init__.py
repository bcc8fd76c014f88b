"""Codecs: landmarks in input-pixel coordinates <-> training targets.

Each codec implements the interface of :class:`zoo.codecs.Codec`: ``encode(landmarks (N, 2)) ->
dict`` (TF ops, usable in ``tf.data`` map), ``decode(batched dict) -> (coords (B, N, 2), scores
(B, N))`` (``keras.ops``, exportable), ``target_keys`` / ``target_ranks``, ``count_landmarks``
and ``fit_to(model)`` (its sizes read off a built model). The coordinate convention is
documented in ``zoo.codecs.base``.

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
from zoo.codecs.rdfn import RDFNCodec  # noqa: F401  (RDFN)
from zoo.codecs import base as _base

__all__ = ["Codec", "Heatmap1DCodec", "Heatmap2DCodec", "HIHCodec", "get", "serialize",
           "register_codec", "fit", "heatmap_output_names", "codec_for_outputs"]

register_codec = _base.register_codec


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
    unknown = sorted(set(identifier) - {"class_name", "config"})
    if unknown:
        raise ValueError("A serialized codec has the keys class_name and config. Allowed: "
                         f"['class_name', 'config']. Received: {unknown}")
    name = identifier["class_name"]
    if name not in _base._REGISTRY:
        raise ValueError(
            f"Unknown codec class_name. Allowed: {sorted(_base._REGISTRY)}. Received: "
            f"class_name={name!r}")
    config = dict(identifier.get("config") or {})
    try:
        return _base._REGISTRY[name].from_config(config)
    except (KeyError, TypeError) as error:  # a missing or unknown argument: name them
        raise ValueError(f"Bad config for codec {name}: {error}. Received: config={config!r}") \
            from None


def fit(identifier, model):
    """The codec ``identifier`` with its sizes fitted to ``model`` (``Codec.fit_to``).

    Args:
        identifier: a codec or its ``{"class_name", "config"}`` dict.
        model: a built model whose outputs the codec decodes.

    Returns:
        a codec instance.

    Example:
        >>> import zoo, zoo.codecs
        >>> model = zoo.create("aheat1d_mobile_300w", heatmap_length=256)
        >>> zoo.codecs.fit(zoo.get_preset("aheat1d_mobile_300w").codec, model).heatmap_size
        256
    """
    return get(identifier).fit_to(model)


def heatmap_output_names():
    """The target keys of every registered codec: the raw heatmap outputs of a model.

    Exports put these outputs on their ``heatmaps`` endpoint (``zoo.export.signatures``).

    Example:
        >>> import zoo.codecs
        >>> {"x", "y", "heatmap"} <= set(zoo.codecs.heatmap_output_names())
        True
    """
    names = []
    for cls in _base._REGISTRY.values():
        names.extend(key for key in cls.target_keys if key not in names)
    return tuple(names)


def codec_for_outputs(output_names):
    """The registered codec class whose ``target_keys`` are exactly ``output_names``.

    For models that are neither a preset nor a registered architecture (no codec recorded).

    Raises:
        ValueError: no or several registered codecs match.

    Example:
        >>> import zoo.codecs
        >>> zoo.codecs.codec_for_outputs(["y", "x"]).__name__
        'Heatmap1DCodec'
    """
    wanted = set(output_names)
    matches = [cls for cls in _base._REGISTRY.values() if set(cls.target_keys) == wanted]
    if len(matches) != 1:
        allowed = {name: list(cls.target_keys) for name, cls in _base._REGISTRY.items()}
        raise ValueError(f"{'No' if not matches else 'More than one'} registered codec decodes "
                         f"these outputs; pass codec=... Allowed: {allowed}. Received: "
                         f"output_names={sorted(wanted)}")
    return matches[0]
