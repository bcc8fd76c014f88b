"""Trained weights: the files shipped inside the package, downloads, and their sha256 checks.

This folder holds the trained weights that ship with the zoo (``*.weights.h5``, each at most
5 MB, listed in ``README.md`` with their terms) and the code that finds, checks and loads
weights:

* A preset names its weights in ``weights_url`` with their ``weights_sha256``. A value with a
  URL scheme (``https://``, ``file://``...) is downloaded once into the Keras cache
  (:func:`fetch_weights`); a plain file name is a file of this folder
  (``zoo/weights/<name>``, :func:`shipped_path`), read without network access; an absolute
  path is read as it is. Either way the file's sha256 must match the preset's, else it is
  refused (a corrupted or swapped file never loads silently).
* :func:`load_weights` loads a local file, a URL or a training run folder into a model.
* :func:`load_preset_weights` loads what a preset ships, or warns that the preset has no
  trained weights (its landmarks are then meaningless).

Weights trained on 300-W (every shipped file so far) are for non-commercial research use only:
"All the annotations are provided for research purposes ONLY (NO commercial products)".

Example:
    >>> import zoo.weights
    >>> zoo.weights.has_trained_weights(zoo.get_preset("aheat1d_300w"))
    False
"""
import hashlib
import os
import re
import urllib.parse
import warnings

WEIGHTS_DIR = os.path.dirname(os.path.abspath(__file__))
WEIGHTS_CACHE_SUBDIR = "zoo_weights"
MAX_SHIPPED_BYTES = 5_000_000  # issue 13: each shipped file at most 5 MB
WEIGHTS_SUFFIXES = (".weights.h5", ".keras")
TERMS_300W = ("trained on 300-W: non-commercial research use only (the 300-W annotations are "
              "\"provided for research purposes ONLY (NO commercial products)\")")
_URL_SCHEMES = ("http", "https", "ftp", "file")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def sha256_of(path, chunk_size=1 << 20):
    """Returns the hex sha256 of a file.

    Args:
        path: file path.
        chunk_size: bytes read at a time.

    Returns:
        64-character lowercase hex string.

    Example:
        >>> import zoo.weights
        >>> _ = open("model.weights.h5", "wb").write(b"weights")
        >>> zoo.weights.sha256_of("model.weights.h5")[:12]
        '9a129038d9a0'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_url(value):
    """True for an ``http(s)://``, ``ftp://`` or ``file://`` URL string."""
    return isinstance(value, str) and urllib.parse.urlparse(value).scheme in _URL_SCHEMES


def check_sha256(sha256):
    """Returns ``sha256`` in lowercase; raises ValueError unless it is 64 hex characters."""
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise ValueError("`sha256` must be a 64-character hex string. "
                         f"Received: sha256={sha256!r}")
    return sha256.lower()


def is_run_dir(path):
    """True for a training run folder (``config.json`` and ``checkpoints/`` from ``zoo.training``)."""
    path = os.fspath(path) if isinstance(path, os.PathLike) else path
    return (isinstance(path, str) and os.path.isfile(os.path.join(path, "config.json"))
            and os.path.isdir(os.path.join(path, "checkpoints")))


def _run_weights_file(run_dir):
    """The newest ``.weights.h5`` / ``.keras`` file directly in a run folder, or None."""
    files = [os.path.join(run_dir, f) for f in os.listdir(run_dir) if f.endswith(WEIGHTS_SUFFIXES)]
    return max(files, key=os.path.getmtime) if files else None


def shipped_path(name):
    """The path of a weights file shipped in the package (``zoo/weights/<name>``).

    Args:
        name: a file name (no folders), e.g. ``"aheat1d_mobile_300w.weights.h5"``.

    Returns:
        The absolute path (the file may not exist).

    Example:
        >>> import os, zoo.weights
        >>> os.path.basename(zoo.weights.shipped_path("m.weights.h5"))
        'm.weights.h5'
    """
    if not isinstance(name, str) or not name or os.path.basename(name) != name:
        raise ValueError("A shipped weights file is named by its file name in zoo/weights/. "
                         f"Received: name={name!r}")
    return os.path.join(WEIGHTS_DIR, name)


def resolve(weights_url):
    """Where a preset's ``weights_url`` points: ``("url", url)`` or ``("file", local path)``.

    Args:
        weights_url: a URL, a file name in ``zoo/weights/``, or an absolute path.

    Returns:
        ``(kind, location)``.

    Example:
        >>> import zoo.weights
        >>> zoo.weights.resolve("https://example.org/m.weights.h5")[0]
        'url'
        >>> zoo.weights.resolve("m.weights.h5")[1] == zoo.weights.shipped_path("m.weights.h5")
        True
    """
    if is_url(weights_url):
        return "url", weights_url
    if isinstance(weights_url, str) and os.path.isabs(weights_url):
        return "file", weights_url
    return "file", shipped_path(weights_url)


def has_trained_weights(preset):
    """True when ``preset`` names trained weights (``weights_url``)."""
    return bool(getattr(preset, "weights_url", None))


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
        >>> import hashlib, pathlib, keras, zoo.weights
        >>> keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save_weights(
        ...     "model.weights.h5")
        >>> url = pathlib.Path("model.weights.h5").resolve().as_uri()  # file:///.../model.weights.h5
        >>> sha256 = hashlib.sha256(pathlib.Path("model.weights.h5").read_bytes()).hexdigest()
        >>> path = zoo.weights.fetch_weights(url, sha256=sha256, cache_dir="cache")
        Downloading data from file://...
        >>> path
        'cache/zoo_weights/model.weights.h5'
        >>> zoo.weights.fetch_weights(url, sha256=sha256, cache_dir="cache") == path  # cached
        True
    """
    import keras

    if not is_url(url):
        raise ValueError(f"`url` must be an {'/'.join(_URL_SCHEMES)} URL. Received: url={url!r}")
    sha256 = check_sha256(sha256)
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


def verify_file(path, sha256):
    """Raises ValueError unless the local file ``path`` has the sha256 ``sha256``.

    Example:
        >>> import zoo.weights
        >>> _ = open("m.weights.h5", "wb").write(b"weights")
        >>> zoo.weights.verify_file("m.weights.h5", zoo.weights.sha256_of("m.weights.h5"))
    """
    expected = check_sha256(sha256)
    actual = sha256_of(path)
    if actual != expected:
        raise ValueError(
            "The weights file does not match its sha256 (corrupted, truncated or replaced): "
            f"refused. Expected: {expected}. Received: actual sha256={actual}, path={path!r}")


def _load_into(model, path, shown):
    """``model.load_weights(path)`` with errors that say what is wrong with the file."""
    try:
        # Keras 3 reads the weights of a `.keras` archive as well as of a `.weights.h5` file.
        model.load_weights(path)
    except OSError as error:  # h5py / zipfile: not an HDF5 file, truncated
        raise ValueError(f"The weights file is corrupt or truncated ({error}). "
                         f"Received: weights={shown!r}") from error
    except (ValueError, KeyError) as error:
        raise ValueError(
            "The weights file does not fit this model's architecture (a checkpoint of another "
            f"preset or other overrides?): {error}. Received: weights={shown!r}, "
            f"model.name={model.name!r}") from error


def load_weights(model, weights, sha256=None, cache_dir=None):
    """Loads a checkpoint into a built model.

    Args:
        model: a ``keras.Model`` built with the checkpoint's architecture.
        weights: a local ``.weights.h5`` / ``.keras`` path, a training run folder (the
            newest ``.weights.h5`` / ``.keras`` file in it, else its latest TF checkpoint via
            ``zoo.training.loop.restore_model``), or a URL of a file (then
            ``sha256`` is required and the file is cached by :func:`fetch_weights`).
        sha256: expected sha256 of the file (required for URLs, checked for local files when
            given: a file that does not match is refused).
        cache_dir: cache root for URLs.

    Returns:
        The local path that was loaded (for a run folder: the folder and the step).

    Raises:
        ValueError: no such file, not a weights file, a sha256 mismatch, a corrupt file, or
            weights of another architecture.

    Example:
        >>> import zoo, zoo.weights
        >>> model = zoo.create("aheat1d_mobile_300w")
        >>> model.save_weights("best.weights.h5")
        >>> zoo.weights.load_weights(model, "best.weights.h5")
        'best.weights.h5'
    """
    weights = os.fspath(weights) if isinstance(weights, os.PathLike) else weights
    if not isinstance(weights, str) or not weights:
        raise ValueError(f"`weights` must be a path or URL. Received: weights={weights!r}")
    if is_run_dir(weights):
        saved = _run_weights_file(weights)
        if saved is not None:
            _load_into(model, saved, saved)
            return saved
        from zoo.training.loop import restore_model

        step = restore_model(model, weights)
        return f"{weights} (checkpoint step {step})"
    if is_url(weights):
        if sha256 is None:
            raise ValueError("Weights from a URL need their sha256 (`weights_sha256=`). "
                             f"Received: weights={weights!r}, sha256=None")
        path = fetch_weights(weights, sha256, cache_dir=cache_dir)
    else:
        path = weights
        if not os.path.isfile(path):
            raise ValueError(f"No weights file at this path. Received: weights={weights!r}")
        if sha256 is not None:
            verify_file(path, sha256)
    if not path.endswith(WEIGHTS_SUFFIXES):
        raise ValueError("Weights must be a `.weights.h5` or `.keras` file. "
                         f"Received: weights={weights!r}")
    _load_into(model, path, weights)
    return path


def load_preset_weights(model, preset, weights=None, weights_sha256=None, cache_dir=None,
                        stacklevel=3):
    """Loads given, shipped or published weights into ``model``, or warns that there are none.

    Args:
        model: the model ``zoo.create(preset.name)`` built.
        preset: its ``zoo.models.presets.Preset``.
        weights: explicit weights (anything :func:`load_weights` takes), or None for the
            preset's own.
        weights_sha256: sha256 of ``weights``.
        cache_dir: cache root for downloads.
        stacklevel: of the warning.

    Returns:
        What was loaded (a path or URL), or ``"random"`` (with a ``UserWarning``) when the
        preset has no trained weights.

    Raises:
        ValueError: the preset's file is missing or does not match its sha256.

    Example:
        >>> import zoo, zoo.weights
        >>> model = zoo.create("aheat1d_mobile_300w")
        >>> zoo.weights.load_preset_weights(model, zoo.get_preset("aheat1d_mobile_300w"))
        '.../zoo/weights/aheat1d_mobile_300w.weights.h5'
    """
    if weights is not None:
        return load_weights(model, weights, weights_sha256, cache_dir)
    if has_trained_weights(preset):
        if not preset.weights_sha256:
            raise ValueError(f"Preset {preset.name!r} names weights without their sha256. "
                             f"Received: weights_url={preset.weights_url!r}, "
                             "weights_sha256=None")
        kind, location = resolve(preset.weights_url)
        if kind == "file" and not os.path.isfile(location):
            raise ValueError(
                f"Preset {preset.name!r} ships weights that are missing from this install "
                f"(an incomplete checkout or package?). Received: path={location!r}")
        load_weights(model, location, preset.weights_sha256, cache_dir)
        return location
    warnings.warn(
        f"Preset {preset.name!r} has no trained weights (weights_url is None): the model has "
        "RANDOM weights and its landmarks are meaningless. Pass weights=<.weights.h5/.keras "
        "path or URL> to load a trained checkpoint.", UserWarning, stacklevel=stacklevel)
    return "random"
