"""Loading trackers for video: ``zoo.inference.load_tracker`` (used by ``python -m zoo.track``).

A tracker runs as its explicit-state streaming step model (``zoo.models.tracker.streaming``:
frame + state in, landmarks + state out, Sec. 4.2, Eq. 13). Its weights are the tracker
preset's trained ones (shipped in ``zoo/weights/`` or published, sha256-checked), or a given
checkpoint; a detector preset is wrapped into its tracker with a zero-initialised refinement
and its own trained weights, so it tracks exactly as the detector detects.

Example:
    >>> import zoo.trackers
    >>> stream, info = zoo.trackers.load_tracker("aheat1d_mobile_300w")
    >>> state = stream.initial_state(1)
"""
import os

from zoo import weights as _weights
from zoo.loading import _preset_or_none, load_keras_file


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
        >>> import zoo.inference
        >>> stream, info = zoo.inference.load_tracker("aheat1d_mobile_300w")
        >>> state = stream.initial_state(1)
    """
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
        model = load_keras_file(name_or_path)
        preset = _preset_or_none(model.name)
        source = name_or_path
    elif name_or_path in presets.list_models():
        preset = presets.get_preset(name_or_path)
        model = presets.create(name_or_path)
        source = "random"
    else:
        raise ValueError("Not a preset name and no such file. Allowed names: "
                         f"{presets.list_models()}. Received: name_or_path={name_or_path!r}")
    if not presets.is_clip_model(model):
        detector = model
        if detector_weights is not None:
            _weights.load_weights(detector, detector_weights, None, cache_dir)
        # The tracker of the detector's architecture, as the registry records it.
        model = presets.wrap_in_tracker(detector, name=f"{detector.name}_tracker")
        if preset is not None:
            codec = preset.codec
        if weights is not None:
            source = _weights.load_weights(model, weights, weights_sha256, cache_dir)
        elif detector_weights is not None:
            source = f"detector: {detector_weights}"
        elif source == "random" and preset is not None:
            source = _weights.load_preset_weights(detector, preset, None, None, cache_dir)
    else:
        if detector_weights is not None:
            _weights.load_weights(model.get_layer("frame_detector").detector, detector_weights,
                                  None, cache_dir)
            source = f"detector: {detector_weights}"
        if weights is not None:
            source = _weights.load_weights(model, weights, weights_sha256, cache_dir)
        elif source == "random" and preset is not None and detector_weights is None:
            source = _weights.load_preset_weights(model, preset, None, None, cache_dir)
    stream = tracker_lib.streaming(model, codec=codec)
    step = stream.step_model
    info = {"name": preset.name if preset is not None else model.name,
            "input_size": int(step.input["frame"].shape[1]),
            "num_landmarks": int(step.output["landmarks"].shape[1]),
            "scheme": preset.scheme if preset is not None else None,
            "weights": source}
    return stream, info
