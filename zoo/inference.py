"""Inference for people: ``zoo.load`` and ``zoo.FaceLandmarker``.

Most users never train. They load a model and point it at photos or a video:

* :func:`load` turns a preset name, a ``.keras`` file or a SavedModel export directory into a
  :class:`LandmarkModel` that knows its input size, codec, scheme and normalisation and maps
  face crops to landmarks. Preset weights are fetched with ``keras.utils.get_file`` from the
  preset's URL, checked against its sha256 and cached (:func:`fetch_weights`).
* :class:`FaceLandmarker` finds faces (OpenCV's bundled Haar cascades by default, no download;
  YuNet when given its ONNX file), crops each face to the model's input with the affine matrix
  of ``zoo.faces`` and maps the predicted landmarks back to image coordinates.
* :func:`load_tracker` gives the explicit-state streaming form of a tracker for video
  (``zoo.track``).

No trained weights are published yet (every preset has ``weights_url=None``): ``load(preset)``
then warns and returns randomly initialised weights; pass ``weights=`` (a ``.weights.h5`` or
``.keras`` file, or a URL with its sha256) to use a trained checkpoint.

Example:
    >>> import numpy as np, zoo
    >>> landmarker = zoo.FaceLandmarker("aheat1d_mobile_300w")  # doctest: +SKIP
    >>> faces = landmarker.detect(np.zeros((240, 320, 3), np.uint8))  # doctest: +SKIP
    >>> faces.landmarks.shape  # doctest: +SKIP
    (0, 68, 2)
"""
import dataclasses
import hashlib
import json
import os
import re
import urllib.parse
import warnings

import numpy as np

from zoo import faces as _faces

SIDECAR_SUFFIX = ".zoo.json"
WEIGHTS_CACHE_SUBDIR = "zoo_weights"
_URL_SCHEMES = ("http", "https", "ftp", "file")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


# ------------------------------------------------------------------------------ weights
def sha256_of(path, chunk_size=1 << 20):
    """Returns the hex sha256 of a file.

    Args:
        path: file path.
        chunk_size: bytes read at a time.

    Returns:
        64-character lowercase hex string.

    Example:
        >>> import zoo.inference  # doctest: +SKIP
        >>> zoo.inference.sha256_of("model.weights.h5")  # doctest: +SKIP
        '3f0c...'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_run_dir(path):
    """True for a training run folder (``config.json`` and ``checkpoints/`` from ``zoo.training``)."""
    return (isinstance(path, str) and os.path.isfile(os.path.join(path, "config.json"))
            and os.path.isdir(os.path.join(path, "checkpoints")))


def _run_weights_file(run_dir):
    """The newest ``.weights.h5`` / ``.keras`` file directly in a run folder, or None."""
    files = [os.path.join(run_dir, f) for f in os.listdir(run_dir)
             if f.endswith(".weights.h5") or f.endswith(".keras")]
    return max(files, key=os.path.getmtime) if files else None


def _create_for_run(run_dir):
    """The run's model (its preset with the run's overrides), weights not yet restored."""
    from zoo.models import presets
    from zoo.training.config import load_config
    from zoo.training.tasks import resolve_model

    config, codec, overrides = resolve_model(load_config(run_dir))
    return presets.create(config.model, **overrides), presets.get_preset(config.model), codec


def _is_url(value):
    return isinstance(value, str) and urllib.parse.urlparse(value).scheme in _URL_SCHEMES


def _check_sha256(sha256):
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise ValueError("`sha256` must be a 64-character hex string. "
                         f"Received: sha256={sha256!r}")
    return sha256.lower()


def fetch_weights(url, sha256, cache_dir=None):
    """Downloads a weights file once, checks its sha256 and returns the cached path.

    Uses ``keras.utils.get_file`` (cache in ``<cache_dir>/zoo_weights/``, default
    ``~/.keras/zoo_weights/``). A cached file with the right hash is reused without network
    access. On any failure nothing stays in the cache: ``get_file`` keeps a file whose hash
    does not match, so it is deleted here.

    Args:
        url: ``http(s)://``, ``ftp://`` or ``file://`` URL of a ``.weights.h5`` / ``.keras``
            file.
        sha256: the expected sha256 (64 hex characters).
        cache_dir: cache root (default: the Keras home, ``~/.keras``).

    Returns:
        Path of the verified file in the cache.

    Raises:
        ValueError: bad arguments, or the file's sha256 is not ``sha256`` (the message names
            the expected and actual hashes).
        OSError: the URL could not be read (offline, missing file, HTTP error).

    Example:
        >>> import zoo.inference  # doctest: +SKIP
        >>> path = zoo.inference.fetch_weights("file:///tmp/run/model.weights.h5",
        ...                                    sha256="3f0c...", cache_dir="/tmp/cache")
    """
    import keras

    if not _is_url(url):
        raise ValueError(f"`url` must be an {'/'.join(_URL_SCHEMES)} URL. Received: url={url!r}")
    sha256 = _check_sha256(sha256)
    fname = os.path.basename(urllib.parse.urlparse(url).path)
    if not fname:
        raise ValueError(f"`url` must end with a file name. Received: url={url!r}")
    cache_root = os.path.expanduser(cache_dir if cache_dir is not None
                                    else keras.config.keras_home())
    # get_file silently falls back to /tmp/.keras when the cache folder does not exist yet.
    os.makedirs(os.path.join(cache_root, WEIGHTS_CACHE_SUBDIR), exist_ok=True)
    target = os.path.join(cache_root, WEIGHTS_CACHE_SUBDIR, fname)
    try:
        path = keras.utils.get_file(fname=fname, origin=url, file_hash=sha256,
                                    hash_algorithm="sha256", cache_subdir=WEIGHTS_CACHE_SUBDIR,
                                    cache_dir=cache_root)
    except ValueError:
        actual = sha256_of(target) if os.path.isfile(target) else None
        if os.path.exists(target):
            os.remove(target)
        if actual is None:
            raise
        raise ValueError(
            f"The weights downloaded from {url} do not match their sha256; nothing was cached. "
            f"Expected: {sha256}. Received: actual sha256={actual}") from None
    except Exception as error:  # noqa: BLE001 - get_file raises a bare Exception when offline
        if os.path.exists(target):
            os.remove(target)
        raise OSError(f"Could not download weights (offline, or the URL is wrong?); nothing "
                      f"was cached. {error}. Received: url={url!r}") from error
    return path


def load_weights(model, weights, sha256=None, cache_dir=None):
    """Loads a checkpoint into a built model.

    Args:
        model: a ``keras.Model`` built with the checkpoint's architecture.
        weights: a local ``.weights.h5`` / ``.keras`` path, a training run folder (the
            newest ``.weights.h5`` / ``.keras`` file in it, else its latest TF checkpoint via
            ``zoo.training.loop.restore_model``), or a URL of a file (then
            ``sha256`` is required and the file is cached by :func:`fetch_weights`).
        sha256: expected sha256 of the file (required for URLs, checked for local files when
            given).
        cache_dir: cache root for URLs.

    Returns:
        The local path that was loaded (for a run folder: the folder and the step).

    Example:
        >>> import zoo, zoo.inference  # doctest: +SKIP
        >>> model = zoo.create("aheat1d_mobile_300w")  # doctest: +SKIP
        >>> zoo.inference.load_weights(model, "runs/mobile/best.weights.h5")  # doctest: +SKIP
    """
    weights = os.fspath(weights) if isinstance(weights, os.PathLike) else weights
    if not isinstance(weights, str) or not weights:
        raise ValueError(f"`weights` must be a path or URL. Received: weights={weights!r}")
    if is_run_dir(weights):
        saved = _run_weights_file(weights)
        if saved is not None:
            model.load_weights(saved)
            return saved
        from zoo.training.loop import restore_model

        step = restore_model(model, weights)
        return f"{weights} (checkpoint step {step})"
    if _is_url(weights):
        if sha256 is None:
            raise ValueError("Weights from a URL need their sha256 (`weights_sha256=`). "
                             f"Received: weights={weights!r}, sha256=None")
        path = fetch_weights(weights, sha256, cache_dir=cache_dir)
    else:
        path = weights
        if not os.path.isfile(path):
            raise ValueError(f"No weights file at this path. Received: weights={weights!r}")
        if sha256 is not None:
            actual = sha256_of(path)
            if actual != _check_sha256(sha256):
                raise ValueError(f"The weights file does not match its sha256. Expected: "
                                 f"{sha256.lower()}. Received: actual sha256={actual}")
    if not (path.endswith(".weights.h5") or path.endswith(".keras")):
        raise ValueError("Weights must be a `.weights.h5` or `.keras` file. "
                         f"Received: weights={weights!r}")
    # Keras 3 reads the weights of a `.keras` archive as well as of a `.weights.h5` file.
    model.load_weights(path)
    return path


# ------------------------------------------------------------------------------ models
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
                SavedModel takes uint8: floats are rounded).
            batch_size: crops per model call.

        Returns:
            dict ``{"landmarks": float32 (B, N, 2) 0-based crop pixels, "scores": float32
            (B, N)}`` (no batch axis for a single crop).

        Example:
            >>> import numpy as np, zoo
            >>> model = zoo.load("aheat1d_mobile_300w")  # doctest: +SKIP
            >>> model.predict(np.zeros((128, 128, 3), np.uint8))["landmarks"].shape  # doctest: +SKIP
            (68, 2)
        """
        crops = np.asarray(crops)
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


def _preset_or_none(name):
    from zoo.models import presets

    return presets.get_preset(name) if name in presets.list_models() else None


def _is_tracker(model):
    return any(layer.name == "frame_detector" for layer in model.layers)


def _from_keras(model, preset, source, weights, codec=None):
    """Wraps a training (or already inference) Keras model into a LandmarkModel."""
    from zoo.models.inference import make_inference_model

    if _is_tracker(model):
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
    """The preset's codec with the input and heatmap sizes of ``model``."""
    import copy

    codec = copy.deepcopy(preset.codec)
    codec["config"]["input_size"] = int(model.input.shape[1])
    if "x" in model.output:
        codec["config"]["heatmap_size"] = int(model.output["x"].shape[-1])
    elif "heatmap" in model.output:
        codec["config"]["heatmap_size"] = int(model.output["heatmap"].shape[2])
    return codec


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
        >>> import zoo, zoo.inference  # doctest: +SKIP
        >>> zoo.inference.save(zoo.create("aheat1d_mobile_300w"), "/tmp/m.keras")  # doctest: +SKIP
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
      else from the preset's ``weights_url`` (fetched, sha256-checked and cached), else they
      stay random with a warning (no weights are published yet).
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
        ValueError: unknown name, missing file, a file whose codec cannot be found, a bad
            hash.
        OSError: weights that cannot be downloaded.

    Example:
        >>> import numpy as np, zoo
        >>> model = zoo.load("aheat1d_mobile_300w")  # doctest: +SKIP
        >>> out = model.predict(np.zeros((1, 128, 128, 3), np.uint8))  # doctest: +SKIP
        >>> out["landmarks"].shape  # doctest: +SKIP
        (1, 68, 2)
    """
    import keras

    from zoo.models import presets

    if isinstance(name_or_path, os.PathLike):
        name_or_path = os.fspath(name_or_path)
    if not isinstance(name_or_path, str) or not name_or_path:
        raise ValueError("`name_or_path` must be a preset name or a path. "
                         f"Received: name_or_path={name_or_path!r}")
    if preset is not None:
        presets.get_preset(preset)  # raises for unknown names
    if is_run_dir(name_or_path):
        model, preset_object, codec = _create_for_run(name_or_path)
        source = load_weights(model, weights or name_or_path, weights_sha256, cache_dir)
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
        model = keras.saving.load_model(path, compile=False)
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
            load_weights(model, weights, weights_sha256, cache_dir)
        return _from_keras(model, preset_object, "keras", weights or path, codec=codec)
    if name_or_path not in presets.list_models():
        raise ValueError("Not a preset name and no such file or folder. Allowed names: "
                         f"{presets.list_models()}. Received: name_or_path={name_or_path!r}")
    preset_object = presets.get_preset(name_or_path)
    model = presets.create(name_or_path)
    if _is_tracker(model):
        raise ValueError("This preset is a tracker; use zoo.inference.load_tracker for video. "
                         f"Received: name_or_path={name_or_path!r}")
    source = _load_preset_weights(model, preset_object, weights, weights_sha256, cache_dir)
    return _from_keras(model, preset_object, "preset", source)


def _load_preset_weights(model, preset, weights, weights_sha256, cache_dir):
    """Loads given or published weights into ``model``; warns and returns "random" if none."""
    if weights is not None:
        return load_weights(model, weights, weights_sha256, cache_dir)
    if preset.weights_url:
        load_weights(model, preset.weights_url, preset.weights_sha256, cache_dir)
        return preset.weights_url
    warnings.warn(
        f"Preset {preset.name!r} has no published weights (weights_url is None): the model has "
        "RANDOM weights and its landmarks are meaningless. Pass weights=<.weights.h5/.keras "
        "path or URL> to load a trained checkpoint.", UserWarning, stacklevel=3)
    return "random"


def load_tracker(name_or_path, weights=None, weights_sha256=None, detector_weights=None,
                 cache_dir=None):
    """Loads a tracker as its explicit-state streaming model (``zoo.streaming``).

    Args:
        name_or_path: a tracker preset, a detector preset (wrapped into the 1D/2D tracker of
            Sec. 4.2 with a zero-initialised refinement, so it tracks exactly as the detector
            detects until trained), or a tracker ``.keras`` file.
        weights: tracker checkpoint (``.weights.h5`` / ``.keras`` path or URL).
        weights_sha256: sha256 of ``weights`` (required for URLs).
        detector_weights: detector checkpoint loaded into the tracker's detector.
        cache_dir: cache root for downloaded weights.

    Returns:
        ``(streaming, info)``: a ``zoo.models.tracker.Streaming`` and a dict with ``name``,
        ``input_size``, ``num_landmarks``, ``scheme``, ``weights``.

    Example:
        >>> import zoo.inference  # doctest: +SKIP
        >>> stream, info = zoo.inference.load_tracker("aheat1d_mobile_300w")  # doctest: +SKIP
        >>> state = stream.initial_state(1)  # doctest: +SKIP
    """
    import keras

    from zoo.models import presets, tracker as tracker_lib

    if isinstance(name_or_path, os.PathLike):
        name_or_path = os.fspath(name_or_path)
    if not isinstance(name_or_path, str) or not name_or_path:
        raise ValueError(f"`name_or_path` must be a preset name or a `.keras` path. "
                         f"Received: name_or_path={name_or_path!r}")
    codec = None
    if os.path.isfile(name_or_path):
        if not name_or_path.endswith(".keras"):
            raise ValueError(f"A tracker file must be `.keras`. Received: name_or_path={name_or_path!r}")
        model = keras.saving.load_model(name_or_path, compile=False)
        preset = _preset_or_none(model.name)
        source = name_or_path
    elif name_or_path in presets.list_models():
        preset = presets.get_preset(name_or_path)
        model = presets.create(name_or_path)
        source = "random"
    else:
        raise ValueError("Not a preset name and no such file. Allowed names: "
                         f"{presets.list_models()}. Received: name_or_path={name_or_path!r}")
    if not _is_tracker(model):
        detector = model
        if detector_weights is not None:
            load_weights(detector, detector_weights, None, cache_dir)
        if sorted(detector.output) == ["x", "y"]:
            model = tracker_lib.build_aheat1d_tracker(detector=detector,
                                                      name=f"{detector.name}_tracker")
        else:
            model = tracker_lib.build_fan2d_tracker(detector=detector,
                                                    name=f"{detector.name}_tracker")
        if preset is not None:
            codec = preset.codec
        if weights is not None:
            source = load_weights(model, weights, weights_sha256, cache_dir)
        elif detector_weights is not None:
            source = f"detector: {detector_weights}"
        elif source == "random" and preset is not None:
            source = _load_preset_weights(detector, preset, None, None, cache_dir)
    else:
        if detector_weights is not None:
            load_weights(model.get_layer("frame_detector").detector, detector_weights, None,
                         cache_dir)
            source = f"detector: {detector_weights}"
        if weights is not None:
            source = load_weights(model, weights, weights_sha256, cache_dir)
        elif source == "random" and preset is not None and detector_weights is None:
            source = _load_preset_weights(model, preset, None, None, cache_dir)
    stream = tracker_lib.streaming(model, codec=codec)
    step = stream.step_model
    info = {"name": preset.name if preset is not None else model.name,
            "input_size": int(step.input["frame"].shape[1]),
            "num_landmarks": int(step.output["landmarks"].shape[1]),
            "scheme": preset.scheme if preset is not None else None,
            "weights": source}
    return stream, info


# ------------------------------------------------------------------------------ faces
@dataclasses.dataclass
class Faces:
    """The faces found in one image, best face first.

    Attributes:
        landmarks: float32 ``(K, N, 2)`` 0-based image pixels (x, y).
        scores: float32 ``(K, N)`` per-landmark confidence.
        boxes: float32 ``(K, 4)`` the face boxes x1, y1, x2, y2 the crops were made from.
        crop_matrices: float64 ``(K, 2, 3)`` image -> crop affine matrices.
    """

    landmarks: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    crop_matrices: np.ndarray

    def __len__(self):
        return len(self.boxes)

    @property
    def face_scores(self):
        """float32 ``(K,)``: the mean landmark score of each face."""
        if len(self) == 0:
            return np.zeros((0,), np.float32)
        return self.scores.mean(axis=-1)


def make_face_detector(face_detector="haar"):
    """Returns a callable image -> (K, 4) boxes.

    Args:
        face_detector: ``"haar"`` (OpenCV's bundled cascades, ``zoo.faces.HaarFaceDetector``),
            a path to a YuNet ``.onnx`` file (``zoo.faces.YuNetFaceDetector``), or a callable
            taking an RGB uint8 image and returning ``(K, 4)`` boxes x1, y1, x2, y2.

    Returns:
        The detector callable.

    Example:
        >>> import zoo.inference
        >>> detector = zoo.inference.make_face_detector("haar")
    """
    if callable(face_detector):
        return face_detector
    if isinstance(face_detector, os.PathLike):
        face_detector = os.fspath(face_detector)
    if face_detector == "haar":
        return _faces.HaarFaceDetector()
    if isinstance(face_detector, str) and face_detector.endswith(".onnx"):
        return _faces.YuNetFaceDetector(face_detector)
    raise ValueError("`face_detector` must be 'haar', a YuNet .onnx path or a callable. "
                     f"Received: face_detector={face_detector!r}")


def _is_batch(images):
    if isinstance(images, (list, tuple)):
        return True
    array = np.asarray(images)
    return array.ndim == 4


class FaceLandmarker:
    """Finds faces in images and returns their landmarks in image coordinates.

    Each face box is made square, enlarged by ``margin`` (as in training crops), cropped to
    the model's input with ``zoo.faces.crop_face`` and the predicted landmarks are mapped back
    with the inverse affine matrix. All faces of all images go through the model as one batch.

    Args:
        model: a :class:`LandmarkModel` or anything :func:`load` takes (default
            ``"aheat1d_mobile_300w"``).
        face_detector: ``"haar"`` (default, offline), a YuNet ``.onnx`` path, or a callable
            image -> (K, 4) boxes.
        margin: crop side = ``max(box w, h) * (1 + margin)``.
        max_faces: keep at most this many faces per image (best first), None for all.
        weights, weights_sha256, cache_dir: passed to :func:`load` for a preset name.

    Example:
        >>> import numpy as np, zoo
        >>> landmarker = zoo.FaceLandmarker("aheat1d_mobile_300w")  # doctest: +SKIP
        >>> faces = landmarker.detect(np.zeros((120, 160), np.uint8),
        ...                           boxes=[[40, 20, 120, 100]])  # doctest: +SKIP
        >>> faces.landmarks.shape  # doctest: +SKIP
        (1, 68, 2)
    """

    def __init__(self, model="aheat1d_mobile_300w", face_detector="haar", margin=0.25,
                 max_faces=None, weights=None, weights_sha256=None, cache_dir=None):
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
            raise ValueError(f"`margin` must be a number >= 0. Received: margin={margin!r}")
        if max_faces is not None and (isinstance(max_faces, bool)
                                      or not isinstance(max_faces, int) or max_faces < 1):
            raise ValueError(f"`max_faces` must be None or a positive int. "
                             f"Received: max_faces={max_faces!r}")
        self.face_detector = make_face_detector(face_detector)
        if isinstance(model, LandmarkModel):
            if weights is not None:
                raise ValueError("`weights` is for a preset name, not a loaded model. "
                                 f"Received: weights={weights!r}")
            self.model = model
        else:
            self.model = load(model, weights=weights, weights_sha256=weights_sha256,
                              cache_dir=cache_dir)
        self.margin = float(margin)
        self.max_faces = max_faces

    def detect(self, image, boxes=None):
        """Landmarks of every face in one image or a batch of images.

        Args:
            image: one image ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` RGB or ``(H, W, 4)``
                RGBA (uint8, uint16 or float), or a batch: a list of such images or a
                ``(B, H, W, C)`` array.
            boxes: None (find faces with the face detector), or the face boxes x1, y1, x2,
                y2: ``(K, 4)`` for one image, a list of ``(K, 4)`` (or None) for a batch.

        Returns:
            :class:`Faces` for one image, a list of them for a batch.

        Example:
            >>> import numpy as np, zoo
            >>> landmarker = zoo.FaceLandmarker()  # doctest: +SKIP
            >>> [len(f) for f in landmarker.detect([np.zeros((64, 64, 3), np.uint8)] * 2)]  # doctest: +SKIP
            [0, 0]
        """
        batch = _is_batch(image)
        images = list(image) if batch else [image]
        if boxes is None:
            boxes = [None] * len(images)
        elif not batch:
            boxes = [boxes]
        elif len(boxes) != len(images):
            raise ValueError(f"`boxes` needs one entry per image ({len(images)}). "
                             f"Received: len(boxes)={len(boxes)}")
        rgb_images = [_faces.to_rgb_uint8(im) for im in images]
        size = self.model.input_size
        crops, matrices, kept_boxes = [], [], []
        for rgb, given in zip(rgb_images, boxes):
            if given is None:
                found = np.asarray(self.face_detector(rgb), np.float32).reshape(-1, 4)
            else:
                found = np.asarray(given, np.float32)
                if found.ndim == 1:
                    found = found[None]
                if found.ndim != 2 or found.shape[1] != 4:
                    raise ValueError(f"Each entry of `boxes` must be (K, 4) x1, y1, x2, y2. "
                                     f"Received: boxes.shape={found.shape}")
            if self.max_faces is not None:
                found = found[:self.max_faces]
            image_crops, image_matrices = [], []
            for box in found:
                crop, matrix = _faces.crop_face(rgb, box, size, self.margin)
                image_crops.append(crop)
                image_matrices.append(matrix)
            crops.extend(image_crops)
            matrices.append(np.asarray(image_matrices, np.float64).reshape(-1, 2, 3))
            kept_boxes.append(found)
        num = self.model.num_landmarks
        if crops:
            out = self.model.predict(np.stack(crops))
        else:
            out = {"landmarks": np.zeros((0, num, 2), np.float32),
                   "scores": np.zeros((0, num), np.float32)}
        results, start = [], 0
        for found, image_matrices in zip(kept_boxes, matrices):
            stop = start + len(found)
            landmarks = np.array([_faces.to_image_coordinates(points, matrix)
                                  for points, matrix in zip(out["landmarks"][start:stop],
                                                            image_matrices)],
                                 np.float32).reshape(-1, num, 2)
            results.append(Faces(landmarks=landmarks, scores=out["scores"][start:stop],
                                 boxes=found.astype(np.float32), crop_matrices=image_matrices))
            start = stop
        return results if batch else results[0]

    __call__ = detect
