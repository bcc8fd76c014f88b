"""What the export CLIs start from: a preset name or a ``.keras`` file, and SynthFace data.

``exportable_model`` turns a training model into the model that is exported: a detector into
its inference model (``zoo.models.inference.make_inference_model``: images -> landmarks, scores,
x, y) and a tracker into its streaming step model (``zoo.streaming(tracker).step_model``:
frame + explicit state -> landmarks, scores, heatmaps, new state).
"""
import numpy as np

from zoo.export import metadata as metadata_lib


def _decoder_codec(model):
    """The codec of the model's decoding layer (``HeatmapDecoder``), or None."""
    import zoo.codecs

    for layer in model.layers:
        if isinstance(getattr(layer, "codec", None), dict):
            return zoo.codecs.get(layer.codec)
    return None


def exportable_model(model, decode=None):
    """The model to export for a training model (inference model or streaming step model).

    Args:
        model: a detector or tracker training model (``zoo.create(...)``), or a model that
            already has a ``landmarks`` output (returned as it is).
        decode: decode method of the exported graph (one of the codec's
            ``decode_methods``: 1D ``"argmax"`` (the paper's Eq. 7) or ``"refined"``; 2D
            ``"argmax"``, ``"quarter_offset"``, ``"parabola"``, ``"integral"``); None: the
            preset's. A model that already decodes must already use it.

    Returns:
        ``(model, kind)`` with kind ``"detector"`` or ``"tracker_step"``.

    Example:
        >>> import zoo, zoo.export.sources
        >>> model, kind = zoo.export.sources.exportable_model(zoo.create("aheat1d_mobile_300w"),
        ...                                                   decode="argmax")
        >>> kind, sorted(model.output)
        ('detector', ['landmarks', 'scores', 'x', 'y'])
    """
    import keras

    import zoo.codecs

    if not isinstance(model, keras.Model):
        raise ValueError(f"Expected a keras.Model. Received: model={model!r}")
    outputs = model.output if isinstance(model.output, dict) else {}
    if "landmarks" in outputs:
        inputs = model.input
        kind = "tracker_step" if isinstance(inputs, dict) and len(inputs) > 1 else "detector"
        codec = _decoder_codec(model)
        if decode is not None and (codec is None or codec.decode_method != decode):
            raise ValueError(
                "The model already decodes its heatmaps "
                f"({None if codec is None else codec.decode_method}); export its training model "
                f"to choose the decode method. Received: decode={decode!r}")
        return model, kind
    from zoo.models import presets

    if presets.is_clip_model(model):  # the registry says what a model is
        import zoo

        stream = zoo.streaming(model)
        if decode is not None:
            codec = zoo.codecs.get(stream.codec).with_decode(decode)
            stream = zoo.streaming(model, codec=zoo.codecs.serialize(codec))
        return stream.step_model, "tracker_step"
    from zoo.models import inference

    exported = inference.make_inference_model(model)
    if decode is not None:
        codec = _decoder_codec(exported).with_decode(decode)
        exported = inference.make_inference_model(model, codec=zoo.codecs.serialize(codec))
    return exported, "detector"


def load(preset=None, keras_file=None, decode=None, **overrides):
    """Builds (preset) or loads (``.keras``) a model and returns it ready to export.

    Args:
        preset: a preset name of ``zoo.list_models()``.
        keras_file: path of a saved ``.keras`` model (its name finds its preset, if any).
        decode: decode method of the export (see :func:`exportable_model`); the metadata
            records it as ``decode``. None: the preset's.
        **overrides: passed to ``zoo.create`` with a preset.

    Returns:
        ``(exportable model, metadata dict)``.

    Raises:
        ValueError: unless exactly one of ``preset`` and ``keras_file`` is given.

    Example:
        >>> import zoo.export.sources
        >>> model, meta = zoo.export.sources.load(preset="aheat1d_mobile_300w")
        >>> meta["preset"], meta["num_landmarks"]
        ('aheat1d_mobile_300w', 68)
    """
    import os

    import zoo
    import zoo.layers  # noqa: F401  (registers the zoo's layers, so a fresh process can load)

    if (preset is None) == (keras_file is None):
        raise ValueError("Give exactly one of preset and keras_file. "
                         f"Received: preset={preset!r}, keras_file={keras_file!r}")
    if preset is not None:
        model = zoo.create(preset, **overrides)
        preset_obj = zoo.get_preset(preset)
    else:
        from zoo.loading import load_keras_file  # says "corrupt", where Keras says "not found"

        if not os.path.isfile(keras_file):
            raise ValueError(f"No .keras file at this path. Received: keras_file={keras_file!r}")
        model = load_keras_file(keras_file)
        try:
            preset_obj = zoo.get_preset(model.name)
        except (ValueError, KeyError, ImportError, AttributeError):
            preset_obj = None
    exported, kind = exportable_model(model, decode=decode)
    meta = metadata_lib.build_metadata(exported, preset=preset_obj, kind=kind)
    return exported, meta


def synthface_set(image_size, num_samples, seed):
    """SynthFace faces with known landmarks, for calibration and NME evaluation.

    Args:
        image_size: crop size ``F`` of the model.
        num_samples: number of faces.
        seed: generator seed (use different seeds for calibration and evaluation so the
            evaluation set is held out).

    Returns:
        ``(images (B, F, F, 3) uint8, landmarks (B, 68, 2) float32)``.

    Example:
        >>> import zoo.export.sources
        >>> images, landmarks = zoo.export.sources.synthface_set(64, 2, seed=1)
        >>> images.shape, landmarks.shape
        ((2, 64, 64, 3), (2, 68, 2))
    """
    from zoo.data.synthface import SynthFace

    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int. Received: num_samples={num_samples!r}")
    generator = SynthFace(image_size=image_size, seed=seed)
    samples = [generator.sample(i) for i in range(num_samples)]
    images = np.stack([np.asarray(s.image, np.uint8) for s in samples])
    landmarks = np.stack([np.asarray(s.landmarks, np.float32) for s in samples])
    return images, landmarks


def _with_state(model, io, images):
    """Named inputs for ``images``; a step model's state is its state after one frame."""
    from zoo.export import signatures

    inputs = {io.image_input: images}
    states = [n for n in io.input_names if n != io.image_input]
    if states:
        zeros = {n: np.zeros((len(images),) + tuple(io.input_shapes[n][1:]), "float32")
                 for n in states}
        warm = signatures.keras_reference(model, io, dict(inputs, **zeros))
        inputs.update({n: warm[signatures.exported_output_name(n, io.input_names)]
                       for n in states})
    return inputs


def quantization_data(model, metadata, quantization, num_calibration=200, num_eval=100,
                      calibration_seed=1000, eval_seed=2000):
    """Calibration and held-out evaluation data for a LiteRT export, from SynthFace.

    The calibration faces (``calibration_seed``) and the evaluation faces (``eval_seed``) come
    from different seeds, so the NME check runs on faces the quantiser never saw. A step
    model's state input is its state after one frame of the same face.

    Args:
        model: the exportable model.
        metadata: its metadata (``input_size``, ``num_landmarks``).
        quantization: the LiteRT variant; float32 needs nothing.
        num_calibration: faces for full-int8 calibration.
        num_eval: faces for the NME check.
        calibration_seed: SynthFace seed of the calibration set.
        eval_seed: SynthFace seed of the evaluation set.

    Returns:
        dict with ``representative_data`` and ``eval_data`` for ``zoo.export.export_tflite``
        (``eval_data`` is None when the model does not predict the 68 SynthFace points; the
        export then compares with Keras predictions instead).
    """
    from zoo.export import signatures

    if quantization == "float32":
        return {}
    io = signatures.describe(model)
    size = io.image_size
    kwargs = {"representative_data": None, "eval_data": None}
    if quantization == "int8":
        images, _ = synthface_set(size, num_calibration, calibration_seed)
        calibration = _with_state(model, io, images)
        kwargs["representative_data"] = [
            {k: v[i:i + 1] for k, v in calibration.items()} for i in range(len(images))]
    images, landmarks = synthface_set(size, num_eval, eval_seed)
    inputs = _with_state(model, io, images)
    if metadata.get("num_landmarks") == landmarks.shape[1]:
        kwargs["eval_data"] = (inputs, landmarks)
    else:
        kwargs["parity_inputs"] = inputs
    return kwargs
