"""Loading and saving landmark models: ``zoo.load``, ``zoo.inference.save``, ``LandmarkModel``.

:func:`load` turns a preset name, a ``.keras`` file, a ``.weights.h5`` file, a training run
folder or a SavedModel export folder into a :class:`LandmarkModel` that knows its input size,
codec, scheme and normalisation and maps face crops to landmarks. A preset's weights are the
trained ones it ships (``zoo/weights/``, sha256-checked, read offline) or publishes at a URL
(``zoo.weights.fetch_weights``); a preset without trained weights warns and stays random.

Example:
    >>> import numpy as np, zoo
    >>> model = zoo.load("aheat1d_mobile_300w")
    >>> model.predict(np.zeros((128, 128, 3), np.uint8))["landmarks"].shape
    (68, 2)
"""
import dataclasses
import json
import os
import zipfile

import numpy as np

from zoo import faces as _faces
from zoo import weights as _weights

SIDECAR_SUFFIX = ".zoo.json"


@dataclasses.dataclass
class LandmarkModel:
    """A ready landmark model: face crops ``(B, F, F, 3)`` -> landmarks in crop pixels.

    Built by :func:`load`. Whatever the source (preset, ``.keras``, SavedModel export), the
    same :meth:`predict` API and the information needed to use the outputs.

    Attributes:
        name: preset name (or the model's name when it has no preset).
        input_size: F, the square crop size.
        num_landmarks: N.
        scheme: landmark scheme name (``zoo.schemes.get_scheme``), or None if unknown.
        codec: serialized codec ``{"class_name", "config"}``.
        normalization: ``{"mean", "std"}`` applied inside the model (inputs are raw [0, 255]).
        source: ``"preset"``, ``"keras"``, ``"run"`` or ``"saved_model"``.
        weights: what the weights came from (path, URL, ``"random"`` or the export folder).
        keras_model: the Keras inference model (None for a SavedModel).
    """

    name: str
    input_size: int
    num_landmarks: int
    scheme: object
    codec: dict
    normalization: object
    source: str
    weights: str
    keras_model: object = None
    _function: object = dataclasses.field(default=None, repr=False)
    _input_name: str = dataclasses.field(default=None, repr=False)

    def predict(self, crops, batch_size=32):
        """Runs the model on face crops.

        Args:
            crops: ``(F, F, 3)`` or ``(B, F, F, 3)`` RGB, uint8 or float in [0, 255] (a
                SavedModel takes uint8: floats are rounded). Float crops whose values all lie
                in [0, 1] are refused: scale them by 255.
            batch_size: crops per model call.

        Returns:
            dict ``{"landmarks": float32 (B, N, 2) 0-based crop pixels, "scores": float32
            (B, N)}`` (no batch axis for a single crop).

        Example:
            >>> import numpy as np, zoo
            >>> model = zoo.load("aheat1d_mobile_300w")
            >>> model.predict(np.zeros((128, 128, 3), np.uint8))["landmarks"].shape
            (68, 2)
        """
        crops = np.asarray(crops)
        _faces.check_pixel_range(crops, "crops")
        single = crops.ndim == 3
        if single:
            crops = crops[None]
        expected = (self.input_size, self.input_size, 3)
        if crops.ndim != 4 or crops.shape[1:] != expected:
            raise ValueError(f"Expected crops of shape (B, {self.input_size}, {self.input_size}, "
                             f"3) or (F, F, 3). Received: crops.shape={crops.shape}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive int. Received: batch_size={batch_size!r}")
        landmarks, scores = [], []
        for start in range(0, len(crops), batch_size):
            out = self._run(crops[start:start + batch_size])
            landmarks.append(np.asarray(out["landmarks"], np.float32))
            scores.append(np.asarray(out["scores"], np.float32))
        if not landmarks:
            landmarks = [np.zeros((0, self.num_landmarks, 2), np.float32)]
            scores = [np.zeros((0, self.num_landmarks), np.float32)]
        result = {"landmarks": np.concatenate(landmarks), "scores": np.concatenate(scores)}
        return {k: v[0] for k, v in result.items()} if single else result

    __call__ = predict

    def _run(self, batch):
        if self.keras_model is not None:
            out = self.keras_model.predict_on_batch(batch.astype(np.float32))
            return {"landmarks": out["landmarks"], "scores": out["scores"]}
        import tensorflow as tf

        if batch.dtype != np.uint8:
            batch = np.clip(np.round(batch), 0, 255).astype(np.uint8)
        out = self._function(**{self._input_name: tf.constant(batch)})
        return {"landmarks": out["landmarks"].numpy(), "scores": out["scores"].numpy()}


def load_keras_file(path):
    """``keras.saving.load_model(path, compile=False)`` that says when the file is corrupt.

    Keras answers "File not found" for a file that exists but is not a zip archive (a
    truncated download, another format renamed); this names the problem instead.

    Args:
        path: an existing ``.keras`` file.

    Returns:
        The ``keras.Model``.

    Raises:
        ValueError: the file is corrupt, truncated or cannot be rebuilt.

    Example:
        >>> import zoo, zoo.loading
        >>> zoo.create("aheat1d_mobile_300w").save("model.keras")
        >>> zoo.loading.load_keras_file("model.keras").name
        'aheat1d_mobile_300w'
    """
    import keras

    size = os.path.getsize(path)
    if not zipfile.is_zipfile(path):
        raise ValueError("This .keras file is corrupt or truncated: it is not a zip archive "
                         f"(a .keras model is one). Received: path={path!r}, size={size} bytes")
    try:
        return keras.saving.load_model(path, compile=False)
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, json.JSONDecodeError) as error:
        raise ValueError(f"This .keras file is corrupt or truncated ({type(error).__name__}: "
                         f"{error}). Received: path={path!r}, size={size} bytes") from error
    except (ValueError, TypeError) as error:
        raise ValueError(
            "Could not rebuild the model of this .keras file: it is corrupt, or it holds "
            f"layers this version of the zoo does not know ({type(error).__name__}: "
            f"{str(error)[:500]}). Received: path={path!r}") from error


def _create_for_run(run_dir):
    """The run's model (its preset with the run's overrides), weights not yet restored."""
    from zoo.training import resolve
    from zoo.training.config import load_config

    run = resolve.resolve(resolve.applicable(load_config(run_dir)))
    return run.model, run.preset, run.codec


def _preset_or_none(name):
    from zoo.models import presets

    return presets.get_preset(name) if name in presets.list_models() else None


def _from_keras(model, preset, source, weights, codec=None):
    """Wraps a training (or already inference) Keras model into a LandmarkModel."""
    from zoo.models import presets
    from zoo.models.inference import make_inference_model

    if presets.is_clip_model(model):  # the registry says what a model is
        raise ValueError("This is a tracker (clips in, clips out); use "
                         "zoo.inference.load_tracker for video. "
                         f"Received: model.name={model.name!r}")
    outputs = model.output
    if isinstance(outputs, dict) and "landmarks" in outputs:
        inference = model
        if codec is None and preset is not None:
            codec = preset.codec
    else:
        if codec is None and preset is not None and model.name != preset.name:
            codec = _preset_codec_for(model, preset)
        inference = make_inference_model(model, codec=codec)
        if codec is None:
            codec = inference.get_layer("decoder").get_config().get("codec")
    codec = _codec_dict(codec)
    return LandmarkModel(
        name=preset.name if preset is not None else model.name,
        input_size=int(inference.input.shape[1]),
        num_landmarks=int(inference.output["landmarks"].shape[1]),
        scheme=preset.scheme if preset is not None else None,
        codec=codec,
        normalization=dict(preset.normalization) if preset is not None else None,
        source=source, weights=weights, keras_model=inference)


def _preset_codec_for(model, preset):
    """The preset's codec (a dict) with the input and heatmap sizes of ``model``."""
    from zoo.models import presets

    return _codec_dict(presets.model_codec(model, preset.codec))


def _codec_dict(codec):
    if codec is None or isinstance(codec, dict):
        return codec
    import zoo.codecs

    return zoo.codecs.serialize(codec)


def _resolve_saved_model_dir(path):
    """``<base>/<name>/<version>``, ``<base>/<name>`` (newest version) or ``<base>`` (one name)."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    for _ in range(2):
        versions = sorted((int(d) for d in os.listdir(path)
                           if d.isdigit() and os.path.isdir(os.path.join(path, d))))
        if versions:
            candidate = os.path.join(path, str(versions[-1]))
            if os.path.isfile(os.path.join(candidate, "saved_model.pb")):
                return candidate
        names = [d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))]
        if len(names) != 1:
            break
        path = os.path.join(path, names[0])
    raise ValueError("Expected a SavedModel export folder (<base>/<name>/<version> with "
                     f"saved_model.pb, as zoo.export writes it). Received: path={path!r}")


def _from_saved_model(path):
    import tensorflow as tf

    from zoo.export import read_metadata

    directory = _resolve_saved_model_dir(path)
    metadata = read_metadata(directory)
    if metadata.get("kind", "detector") != "detector":
        raise ValueError("zoo.load takes detector exports; this one is a "
                         f"{metadata.get('kind')!r}. Received: path={path!r}")
    loaded = tf.saved_model.load(directory)
    function = loaded.signatures["serving_default"]
    _, spec = function.structured_input_signature
    if len(spec) != 1:
        raise ValueError("Expected a SavedModel with one image input. "
                         f"Received: inputs={sorted(spec)}")
    input_name = next(iter(spec))
    name = metadata.get("preset") or os.path.basename(os.path.dirname(os.path.abspath(directory)))
    preset = _preset_or_none(name)
    if preset is not None:  # metadata written without the preset: fill in from the registry
        metadata.setdefault("scheme", preset.scheme)
        metadata.setdefault("codec_config", preset.codec)
        metadata.setdefault("normalization", preset.normalization)
    model = LandmarkModel(
        name=name, input_size=int(metadata["input_size"]),
        num_landmarks=int(metadata["num_landmarks"]), scheme=metadata.get("scheme"),
        codec=metadata.get("codec_config"), normalization=metadata.get("normalization"),
        source="saved_model", weights=directory, _function=function, _input_name=input_name)
    model._loaded = loaded  # keeps the variables of the signature alive
    return model


def _read_sidecar(path):
    sidecar = sidecar_path(path)
    if not os.path.isfile(sidecar):
        return None
    with open(sidecar, encoding="utf-8") as handle:
        return json.load(handle)


def sidecar_path(path):
    """The JSON sidecar next to a ``.keras`` file: ``model.keras`` -> ``model.zoo.json``."""
    path = os.fspath(path)
    return (path[:-len(".keras")] if path.endswith(".keras") else path) + SIDECAR_SUFFIX


def save(model, path, preset=None, codec=None):
    """Saves a model as ``.keras`` with a JSON sidecar naming its preset and codec.

    ``zoo.load(path)`` needs the codec: it takes it from the preset the model is named after
    (``zoo.create`` names models after their preset), from the sidecar written here, or from
    ``zoo.load(path, preset=...)``.

    Args:
        model: a training or inference ``keras.Model``.
        path: destination ending in ``.keras``.
        preset: preset name (default: the model's name when it is a preset).
        codec: codec or its dict (default: the preset's).

    Returns:
        The sidecar path.

    Example:
        >>> import zoo, zoo.inference
        >>> zoo.inference.save(zoo.create("aheat1d_mobile_300w"), "m.keras")
        'm.zoo.json'
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"`path` must end with `.keras`. Received: path={path!r}")
    preset_name = preset if preset is not None else model.name
    preset_object = _preset_or_none(preset_name)
    if preset is not None and preset_object is None:
        from zoo.models import presets

        presets.get_preset(preset)  # raises the registry's ValueError listing the names
    if codec is not None:
        codec = _codec_dict(codec)
    elif preset_object is not None:
        codec = (_preset_codec_for(model, preset_object)
                 if "landmarks" not in model.output else preset_object.codec)
    model.save(path)
    sidecar = sidecar_path(path)
    with open(sidecar, "w", encoding="utf-8") as handle:
        json.dump({"preset": preset_object.name if preset_object else None, "codec": codec},
                  handle, indent=2, sort_keys=True)
    return sidecar


def load(name_or_path, weights=None, weights_sha256=None, preset=None, cache_dir=None):
    """Loads a ready landmark model from a preset name, a ``.keras`` file or an export folder.

    * Preset name: builds ``zoo.create(name)``; the weights come from ``weights`` if given,
      else from the preset's trained weights (a file shipped in ``zoo/weights/``, read
      offline, or a URL fetched once and cached; either way refused unless its sha256 is the
      preset's), else they stay random with a warning that the preset has no trained weights.
    * ``.keras`` file: the codec comes from ``preset=``, else from the preset the model is
      named after, else from the JSON sidecar written by :func:`save`.
    * ``.weights.h5`` file: needs ``preset=`` (the architecture).
    * Training run folder (``config.json`` + ``checkpoints/``, written by ``zoo.training``
      and the recipes): the run's preset and overrides, its latest checkpoint.
    * Export folder written by ``zoo.export.export_saved_model``
      (``<base>/<name>/<version>``, or ``<base>/<name>`` for the newest version): loaded
      with ``tf.saved_model.load``; its metadata gives the input size and scheme.

    Args:
        name_or_path: preset name or path.
        weights: trained weights for a preset (local ``.weights.h5`` / ``.keras`` or URL).
        weights_sha256: sha256 of ``weights`` (required for URLs).
        preset: preset name for a ``.keras`` / ``.weights.h5`` file.
        cache_dir: cache root for downloaded weights (default ``~/.keras``).

    Returns:
        A :class:`LandmarkModel`.

    Raises:
        ValueError: unknown name, missing file, a corrupt ``.keras`` / weights file, a file
            whose codec cannot be found, a bad hash.
        OSError: weights that cannot be downloaded.

    Example:
        >>> import numpy as np, zoo
        >>> model = zoo.load("aheat1d_mobile_300w")
        >>> out = model.predict(np.zeros((1, 128, 128, 3), np.uint8))
        >>> out["landmarks"].shape
        (1, 68, 2)
    """
    return _load(name_or_path, weights, weights_sha256, preset, cache_dir, stacklevel=4)


def _load(name_or_path, weights=None, weights_sha256=None, preset=None, cache_dir=None,
          stacklevel=4):
    """:func:`load`, with the stack level of the no-trained-weights warning."""
    from zoo.models import presets

    if isinstance(name_or_path, os.PathLike):
        name_or_path = os.fspath(name_or_path)
    if not isinstance(name_or_path, str) or not name_or_path:
        raise ValueError("`name_or_path` must be a preset name or a path. "
                         f"Received: name_or_path={name_or_path!r}")
    if preset is not None:
        presets.get_preset(preset)  # raises for unknown names
    if _weights.is_run_dir(name_or_path):
        model, preset_object, codec = _create_for_run(name_or_path)
        source = _weights.load_weights(model, weights or name_or_path, weights_sha256, cache_dir)
        return _from_keras(model, preset_object, "run", source, codec=_codec_dict(codec))
    if os.path.isdir(name_or_path):
        if weights is not None:
            raise ValueError("An export folder holds its weights; `weights` is for presets. "
                             f"Received: weights={weights!r}")
        return _from_saved_model(name_or_path)
    if os.path.isfile(name_or_path):
        path = name_or_path
        if path.endswith(".weights.h5"):
            if preset is None:
                raise ValueError("A `.weights.h5` file needs `preset=` to know the "
                                 f"architecture. Received: name_or_path={path!r}, preset=None")
            return load(preset, weights=path, weights_sha256=weights_sha256, cache_dir=cache_dir)
        if not path.endswith(".keras"):
            raise ValueError("Expected a preset name, a `.keras` / `.weights.h5` file or an "
                             f"export folder. Received: name_or_path={path!r}")
        model = load_keras_file(path)
        sidecar = _read_sidecar(path) or {}
        preset_name = preset or (model.name if _preset_or_none(model.name) else None) \
            or sidecar.get("preset")
        preset_object = _preset_or_none(preset_name) if preset_name else None
        codec = sidecar.get("codec") if preset is None else None
        if preset_object is None and codec is None:
            raise ValueError(
                "Cannot tell the codec of this .keras model: its name is not a preset and it "
                f"has no {SIDECAR_SUFFIX} sidecar. Pass preset=... (one of "
                f"{presets.list_models()}). Received: name_or_path={path!r}, "
                f"model.name={model.name!r}")
        if weights is not None:
            _weights.load_weights(model, weights, weights_sha256, cache_dir)
        return _from_keras(model, preset_object, "keras", weights or path, codec=codec)
    if name_or_path not in presets.list_models():
        if os.sep in name_or_path or name_or_path.endswith((".keras", ".h5")):
            raise ValueError("No such file or folder. Expected a preset name, a `.keras` / "
                             "`.weights.h5` file, a training run folder or an export folder. "
                             f"Received: name_or_path={name_or_path!r}")
        raise ValueError("Not a preset name and no such file or folder. Allowed names: "
                         f"{presets.list_models()}. Received: name_or_path={name_or_path!r}")
    preset_object = presets.get_preset(name_or_path)
    model = presets.create(name_or_path)
    if presets.is_clip_model(model):
        raise ValueError("This preset is a tracker; use zoo.inference.load_tracker for video. "
                         f"Received: name_or_path={name_or_path!r}")
    source = _weights.load_preset_weights(model, preset_object, weights, weights_sha256,
                                          cache_dir, stacklevel=stacklevel)
    return _from_keras(model, preset_object, "preset", source)
