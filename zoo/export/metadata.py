"""Model metadata that travels with every exported file.

One JSON object (scheme, input size, normalisation, landmark count, codec config and the
decode method it uses, zoo version, signatures) is stored

* in a SavedModel as ``<version>/assets.extra/zoo_metadata.json`` (the folder TF Serving keeps
  for extra files next to a model),
* in a ``.tflite`` file as a named entry ``zoo_metadata`` of the flatbuffer's ``Model.metadata``
  list (one extra buffer holding the UTF-8 JSON; LiteRT ignores metadata names it does not know),
* in an ``.onnx`` file as the ``metadata_props`` entry ``zoo_metadata``.

``read_metadata(path)`` reads it back from any of the three.
"""
import json
import os

import numpy as np

METADATA_NAME = "zoo_metadata"
SAVED_MODEL_METADATA_PATH = os.path.join("assets.extra", METADATA_NAME + ".json")


def _preset_field(preset, *names):
    for name in names:
        if preset is None:
            return None
        value = preset.get(name) if isinstance(preset, dict) else getattr(preset, name, None)
        if value is not None:
            return value
    return None


def _jsonable(value):
    """Converts numpy scalars/arrays and tuples inside ``value`` to plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return _jsonable({k: v for k, v in vars(value).items() if not k.startswith("_")})
    return value


def build_metadata(model=None, preset=None, kind=None, **overrides):
    """Builds the metadata dictionary that is embedded in every export.

    Fields of the preset are overridden by what the model itself shows (its input size,
    landmark count and decoder codec), which is overridden by ``overrides``.

    Args:
        model: optional Keras model; gives ``input_size`` (from its 4-D image input) and
            ``num_landmarks`` (from a ``landmarks`` output).
        preset: optional ``zoo.models.presets.Preset`` (or a dict with the same field names):
            gives ``name``, ``scheme``, ``input_size``, ``normalization``, ``codec_config``.
        kind: ``"detector"`` or ``"tracker_step"``; inferred from the model's inputs when None
            (a model with inputs besides the image is a streaming step model).
        **overrides: any further JSON-serialisable fields.

    Returns:
        A JSON-serialisable dict with at least ``zoo_version``, ``kind``, ``input_size``,
        ``num_landmarks``, ``input_dtype``, ``landmark_coordinates``; with a codec also
        ``decode``, the decode method of the graph (``codec.decode_method``: 1D ``"argmax"``
        is the paper's Eq. 7, ``"refined"`` adds the log-parabola fit; 2D ``"argmax"``,
        ``"quarter_offset"``, ``"parabola"``, ``"integral"``).

    Example:
        >>> import zoo.export.metadata
        >>> meta = zoo.export.metadata.build_metadata(None, kind="detector", input_size=256,
        ...                                           num_landmarks=68, scheme="300w_68")
        >>> meta["num_landmarks"]
        68
    """
    import zoo

    metadata = {
        "zoo_version": zoo.__version__,
        "kind": kind,
        "input_dtype": "uint8",
        "input_range": [0, 255],
        "input_layout": "NHWC RGB",
        # The exported graph normalises inside (architecture.md: the model holds its
        # Rescaling/Normalization layer), so callers feed raw uint8 pixels.
        "landmark_coordinates": "0-based pixels of the input crop (x, y); the centre of the "
                                "top-left pixel is (0, 0)",
    }
    if preset is not None:
        for key, names in {
            "preset": ("name",),
            "architecture": ("architecture",),
            "scheme": ("scheme", "scheme_name"),
            "input_size": ("input_size",),
            "normalization": ("normalization", "normalisation"),
            "codec_config": ("codec_config", "codec"),
            "num_landmarks": ("num_landmarks",),
        }.items():
            value = _preset_field(preset, *names)
            if value is not None:
                metadata[key] = _jsonable(value)
        config = _preset_field(preset, "config") or {}
        if "num_landmarks" in config:
            metadata["num_landmarks"] = int(config["num_landmarks"])
    if model is not None:
        from zoo.export import signatures

        io = signatures.describe(model)
        metadata["input_size"] = int(io.image_size)
        metadata["inputs"] = {spec.name: [None if d is None else int(d) for d in spec.shape]
                              for spec in io.input_specs()}
        metadata["outputs"] = list(io.output_names)
        if "landmarks" in io.output_shapes:
            metadata["num_landmarks"] = int(io.output_shapes["landmarks"][-2])
        if kind is None:
            metadata["kind"] = "tracker_step" if len(io.input_names) > 1 else "detector"
        # The decoder inside the model knows the codec it really uses (a preset built with
        # overrides decodes with the model's sizes, not the preset's).
        for layer in model.layers:
            if hasattr(layer, "codec") and isinstance(getattr(layer, "codec"), dict):
                metadata["codec_config"] = _jsonable(layer.codec)
                break
    if "codec_config" in metadata:
        import zoo.codecs

        try:
            method = zoo.codecs.get(metadata["codec_config"]).decode_method
        except (ValueError, TypeError):
            method = None  # an incomplete codec config (no sizes): nothing to record
        if method is not None:
            metadata["decode"] = method
    metadata.update(_jsonable(overrides))
    if metadata["kind"] is None:
        metadata["kind"] = "detector"
    json.dumps(metadata)  # Fails here, not inside a converter, if something is not JSON.
    return metadata


def embed_tflite_metadata(tflite_bytes, metadata):
    """Returns ``tflite_bytes`` with ``metadata`` added as the named entry ``zoo_metadata``.

    Args:
        tflite_bytes: a serialised LiteRT flatbuffer.
        metadata: a JSON-serialisable dict.

    Returns:
        The new flatbuffer as ``bytes``; an existing ``zoo_metadata`` entry is replaced.

    Example:
        >>> import zoo.export.metadata, zoo.export.tflite
        >>> import keras
        >>> images = keras.Input((8, 8, 3), name="images")  # a toy model: any image -> landmarks
        >>> model = keras.Model(images, {"landmarks": keras.layers.Reshape((2, 2))(
        ...     keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(images)))})
        >>> data = zoo.export.metadata.embed_tflite_metadata(zoo.export.tflite.convert(model),
        ...                                                  {"num_landmarks": 2})
        >>> with open("m.tflite", "wb") as file:
        ...     _ = file.write(data)
        >>> zoo.export.read_metadata("m.tflite")
        {'num_landmarks': 2}
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_bytes))
    payload = json.dumps(metadata, sort_keys=True).encode("utf-8")
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(payload, dtype=np.uint8).copy()
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    kept = [m for m in (model.metadata or []) if _decode_name(m.name) != METADATA_NAME]
    model.metadata = kept + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _decode_name(name):
    return name.decode("utf-8") if isinstance(name, bytes) else name


def read_tflite_metadata(tflite_bytes):
    """Reads the ``zoo_metadata`` entry of a LiteRT flatbuffer, or None if it has none."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(bytearray(tflite_bytes), 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if _decode_name(entry.Name()) == METADATA_NAME:
            data = model.Buffers(entry.Buffer()).DataAsNumpy()
            return json.loads(bytes(data).decode("utf-8"))
    return None


def read_metadata(path):
    """Reads the zoo metadata of an exported SavedModel folder, ``.tflite`` or ``.onnx`` file.

    Args:
        path: a SavedModel version folder (``<base>/<name>/<version>``), a ``.tflite`` file or
            an ``.onnx`` file.

    Returns:
        The metadata dict written by the export.

    Raises:
        ValueError: if the path does not exist or holds no zoo metadata.

    Example:
        >>> import zoo.export
        >>> import keras
        >>> images = keras.Input((8, 8, 3), name="images")  # a toy model: any image -> landmarks
        >>> model = keras.Model(images, {"landmarks": keras.layers.Reshape((2, 2))(
        ...     keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(images)))})
        >>> result = zoo.export.export_onnx(model, "toy.onnx")  # or a SavedModel / .tflite
        >>> metadata = zoo.export.read_metadata("toy.onnx")
        >>> metadata["format"], metadata["input_size"], metadata["outputs"]
        ('onnx', 8, ['landmarks'])
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        file = os.path.join(path, SAVED_MODEL_METADATA_PATH)
        if not os.path.isfile(file):
            raise ValueError(f"No {SAVED_MODEL_METADATA_PATH} in the SavedModel folder. "
                             f"Received: path={path}")
        with open(file, encoding="utf-8") as handle:
            return json.load(handle)
    if not os.path.isfile(path):
        raise ValueError(f"No such export. Received: path={path}")
    if path.endswith(".onnx"):
        import onnx

        model = onnx.load(path, load_external_data=False)
        for prop in model.metadata_props:
            if prop.key == METADATA_NAME:
                return json.loads(prop.value)
        raise ValueError(f"The ONNX file has no {METADATA_NAME!r} metadata_props entry. "
                         f"Received: path={path}")
    with open(path, "rb") as handle:
        metadata = read_tflite_metadata(handle.read())
    if metadata is None:
        raise ValueError(f"The LiteRT file has no {METADATA_NAME!r} metadata entry. "
                         f"Received: path={path}")
    return metadata
