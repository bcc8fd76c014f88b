"""LiteRT (TFLite) export: float32, float16, dynamic-range int8 and full-integer int8.

Converted with ``tf.lite.TFLiteConverter.from_saved_model`` from an ``ExportArchive``
SavedModel (TOOLCHAIN.md: converting from ``tf.saved_model.save`` leaves variables
uninitialised), signature ``serving_default`` with named inputs/outputs, and run with
``ai_edge_litert.interpreter.Interpreter``. A streaming step model (``zoo.streaming``) exports
the same way: its state is an explicit input and output tensor, so an app calls the signature
once per frame and feeds the returned state back (``zoo.export.tflite.StreamingRunner``).
"""
import contextlib
import os
import re
import tempfile
import warnings

import numpy as np

from zoo.export import _files, parity, signatures
from zoo.export import metadata as metadata_lib
from zoo.export.saved_model import ExportResult, default_parity_inputs, write_archive

QUANTIZATIONS = ("float32", "float16", "dynamic_int8", "int8")


def convert(model, quantization="float32", representative_data=None, io=None, float_layers=None):
    """Converts a Keras model to LiteRT flatbuffer bytes (no checks, no metadata).

    Args:
        model: the Keras model (see ``zoo.export.signatures.describe``).
        quantization: one of ``"float32"``, ``"float16"`` (float16 weights),
            ``"dynamic_int8"`` (int8 weights, float activations) or ``"int8"`` (full-integer:
            int8 weights and activations, calibrated on ``representative_data``).
        representative_data: for ``"int8"``: an iterable (or a callable returning one) of dicts
            name -> array with batch 1, a few hundred faces like the ones served.
        io: ``describe(model)``, computed when None.
        float_layers: for ``"int8"``: names of Keras layers whose ops (and every op after them)
            stay float32 inside the same flatbuffer ("mixed int8", like MediaPipe's float
            ops). None keeps every ``zoo.layers.HeatmapDecoder`` in float32: the decode's
            argmax compares the heatmap with its own maximum, and int8 gives the two different
            scales, so the requantised maximum can exceed every bin and no bin matches
            (``decode_float_layers``). ``()`` quantises everything.

    Returns:
        The flatbuffer as ``bytes``.

    Example:
        >>> import zoo.export.tflite
        >>> import keras
        >>> images = keras.Input((8, 8, 3), name="images")  # a toy model: any image -> landmarks
        >>> model = keras.Model(images, {"landmarks": keras.layers.Reshape((2, 2))(
        ...     keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(images)))})
        >>> data = zoo.export.tflite.convert(model, "float16")
        >>> data[4:8]  # the LiteRT flatbuffer identifier
        b'TFL3'
    """
    import tensorflow as tf

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}. "
                         f"Received: quantization={quantization!r}")
    if quantization == "int8" and representative_data is None:
        raise ValueError("Full-integer int8 needs representative_data to calibrate on. "
                         "Received: representative_data=None")
    io = io or signatures.describe(model)
    with tempfile.TemporaryDirectory() as tmp:
        saved = os.path.join(tmp, "saved_model")
        write_archive(model, io, saved, endpoints=["serving_default"])
        converter = tf.lite.TFLiteConverter.from_saved_model(
            saved, signature_keys=["serving_default"])
        if quantization != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantization == "int8":
            def generator():
                data = representative_data() if callable(representative_data) else \
                    representative_data
                for sample in data:
                    # Dicts keyed by input name (TOOLCHAIN.md: positional order follows
                    # TFLite's input order, not Keras').
                    yield signatures.check_inputs(io, sample)

            converter.representative_dataset = generator
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if float_layers is None:
                float_layers = decode_float_layers(model)
            if isinstance(float_layers, str) or not all(
                    isinstance(name, str) for name in float_layers):
                raise ValueError("float_layers must be a list of layer names. "
                                 f"Received: float_layers={float_layers!r}")
            with _calibrator_warning_silenced():
                if float_layers:
                    return _mixed_int8(converter, float_layers)
                return converter.convert()
        return converter.convert()


@contextlib.contextmanager
def _calibrator_warning_silenced():
    """Hides the "tf.lite.Interpreter is deprecated" warning of TF's own calibrator.

    The converter's calibration step (``tensorflow/lite/python/optimize/calibrator.py``)
    constructs ``tf.lite.Interpreter`` internally; the zoo itself runs every model with
    ``ai_edge_litert``, so the warning would point users at code they cannot change.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated",
                                category=UserWarning)
        yield


def decode_float_layers(model):
    """Names of the layers that full-int8 export keeps in float32: the heatmap decoders.

    Args:
        model: a Keras model (nested models are searched too).

    Returns:
        A sorted list of layer names (empty when the model has no ``HeatmapDecoder``).

    Example:
        >>> import zoo.export.tflite
        >>> import zoo.models.inference
        >>> tiny = zoo.models.presets.get_architecture("aheat1d").tiny_config  # 32 px, seconds
        >>> model = zoo.models.inference.make_inference_model(
        ...     zoo.create("aheat1d_mobile_300w", **tiny))
        >>> zoo.export.tflite.decode_float_layers(model)
        ['decoder']
    """
    from zoo.layers.heatmap_decoder import HeatmapDecoder

    names, stack = set(), [model]
    while stack:
        layer = stack.pop()
        if isinstance(layer, HeatmapDecoder):
            names.add(layer.name)
        stack.extend(getattr(layer, "layers", []))
    return sorted(names)


def _float_tensors(flatbuffer_model, float_layers):
    """Indices of the tensors made by the ``float_layers`` ops and by every op after them."""
    pattern = re.compile("|".join(rf"(^|/){re.escape(name)}(_\d+)?/" for name in float_layers))
    subgraph = flatbuffer_model.subgraphs[0]
    names = [t.name.decode() if isinstance(t.name, bytes) else str(t.name)
             for t in subgraph.tensors]
    marked = set()
    # Operators are stored in execution order, so one pass finds everything downstream.
    for op in subgraph.operators:
        outputs = [int(t) for t in op.outputs if t >= 0]
        if any(pattern.search(names[t]) for t in outputs) or \
                any(int(t) in marked for t in op.inputs if t >= 0):
            marked.update(outputs)
    return marked, names


def _mixed_int8(converter, float_layers):
    """Full-int8 with the ops of ``float_layers`` (and after them) left in float32.

    Calibrates only (``_experimental_calibrate_only``), removes the calibration statistics of
    the float tensors and quantises with ``mlir_quantize(denylisted_nodes=...)``, the call
    ``tf.lite.experimental.QuantizationDebugger`` makes for selective quantisation. The
    denylist alone is not enough in TF 2.21: same-scale ops such as ``REDUCE_MAX`` keep their
    int8 form (and a requantisation to their own calibrated scale) while their statistics
    exist, which is the very error the float decode is there to avoid.
    """
    from tensorflow.lite.python import convert as tflite_convert
    from tensorflow.lite.tools import flatbuffer_utils

    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    flat = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    marked, names = _float_tensors(flat, float_layers)
    if not marked:
        raise ValueError(f"No LiteRT op belongs to the layers kept in float32. "
                         f"Received: float_layers={list(float_layers)!r}")
    for index in marked:
        flat.subgraphs[0].tensors[index].quantization = None
    calibrated = bytes(flatbuffer_utils.convert_object_to_bytearray(flat))
    return tflite_convert.mlir_quantize(
        calibrated, disable_per_channel=converter._experimental_disable_per_channel,
        denylisted_nodes=sorted(names[i] for i in marked))


def make_interpreter(model_path_or_bytes, num_threads=None):
    """An ``ai_edge_litert`` interpreter for a file path or flatbuffer bytes."""
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model_path_or_bytes, (bytes, bytearray)):
        return Interpreter(model_content=bytes(model_path_or_bytes), num_threads=num_threads)
    return Interpreter(model_path=os.fspath(model_path_or_bytes), num_threads=num_threads)


def xnnpack_partitions(model_path_or_bytes, num_threads=1):
    """How LiteRT's XNNPACK delegate splits a model: its partitions and the ops left out.

    Every op the delegate does not take runs in LiteRT's own kernels, and each one between
    delegated ops ends a partition (a separate XNNPACK subgraph, with a copy across each
    boundary). MediaPipe's ``face_landmark.tflite`` is one partition with every op inside.
    After ``allocate_tensors`` the interpreter's node list holds the model's ops followed by
    one ``DELEGATE`` node per partition; an op is delegated when one of its outputs leaves a
    delegate node or when the ops reading its outputs are delegated together with it.

    Args:
        model_path_or_bytes: ``.tflite`` path or flatbuffer bytes.
        num_threads: interpreter threads (the partitioning does not depend on it).

    Returns:
        dict with ``num_ops`` (ops of the model), ``num_partitions`` (XNNPACK delegate
        nodes), ``op_counts`` (``{op name: count}``) and ``undelegated`` (a list of
        ``(op index, op name, first output tensor name)`` of the ops run outside XNNPACK).

    Example:
        >>> import zoo.export.tflite
        >>> # needs a tracker step .tflite (half a minute to convert); tests/test_tflite_partitions.py
        >>> report = zoo.export.tflite.xnnpack_partitions("tracker_step.tflite")  # doctest: +SKIP
        >>> report["num_partitions"], [op for _, op, _ in report["undelegated"]]  # doctest: +SKIP
        (1, ['CAST'])
    """
    import collections

    interpreter = make_interpreter(model_path_or_bytes, num_threads)
    interpreter.allocate_tensors()  # applies the default XNNPACK delegate
    # Private but stable accessors of the LiteRT Python interpreter (also used by its own
    # tests); the public API does not list delegate nodes.
    details = interpreter._get_ops_details()
    model_ops = [op for op in details if op["op_name"] != "DELEGATE"]
    delegates = [op for op in details if op["op_name"] == "DELEGATE"]
    delegate_outputs = {int(t) for op in delegates for t in op["outputs"]}
    delegate_inputs = {int(t) for op in delegates for t in op["inputs"]}
    graph_outputs = {int(d["index"]) for d in interpreter.get_output_details()}
    readers = collections.defaultdict(list)
    for op in model_ops:
        for tensor in op["inputs"]:
            readers[int(tensor)].append(op["index"])
    # Ops are stored in execution order, so the readers of an op's outputs are decided first.
    delegated = {}
    for op in reversed(model_ops):
        outputs = [int(t) for t in op["outputs"] if t >= 0]
        if any(t in delegate_outputs for t in outputs):
            delegated[op["index"]] = True
        elif any(t in delegate_inputs or t in graph_outputs for t in outputs):
            delegated[op["index"]] = False
        else:  # read only inside one partition (delegated) or only by ops left out
            following = [delegated[r] for t in outputs for r in readers[t]]
            delegated[op["index"]] = bool(following) and following[0]
    names = {int(d["index"]): d["name"] for d in interpreter.get_tensor_details()}
    return {
        "num_ops": len(model_ops),
        "num_partitions": len(delegates),
        "op_counts": dict(collections.Counter(op["op_name"] for op in model_ops)),
        "undelegated": [(op["index"], op["op_name"], names.get(int(op["outputs"][0]), ""))
                        for op in model_ops if not delegated[op["index"]]],
    }


def run_tflite(model_path_or_bytes, inputs, num_threads=None, signature="serving_default"):
    """Runs a LiteRT model's signature on named numpy inputs.

    Args:
        model_path_or_bytes: ``.tflite`` path, flatbuffer bytes, or an existing
            ``ai_edge_litert`` Interpreter.
        inputs: dict name -> numpy array (any batch size; the runner resizes).
        num_threads: interpreter threads (None: LiteRT's default).
        signature: signature key.

    Returns:
        dict output name -> numpy array.

    Example:
        >>> import zoo.export
        >>> import keras
        >>> images = keras.Input((8, 8, 3), name="images")  # a toy model: any image -> landmarks
        >>> model = keras.Model(images, {"landmarks": keras.layers.Reshape((2, 2))(
        ...     keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(images)))})
        >>> data = zoo.export.tflite.convert(model)  # or a ``.tflite`` path
        >>> out = zoo.export.run_tflite(data, {"images": np.zeros((3, 8, 8, 3), np.uint8)})
        >>> out["landmarks"].shape
        (3, 2, 2)
    """
    interpreter = model_path_or_bytes
    if isinstance(model_path_or_bytes, (str, os.PathLike, bytes, bytearray)):
        interpreter = make_interpreter(model_path_or_bytes, num_threads)
    runner = interpreter.get_signature_runner(signature)
    return {k: np.array(v) for k, v in runner(**inputs).items()}


class StreamingRunner:
    """Frame-by-frame tracking with an exported step model (state kept between calls).

    Args:
        model_path_or_bytes: ``.tflite`` of a streaming step model.
        num_threads: interpreter threads.
        initial_state: optional dict state name -> array (batch 1); zeros when None.

    Example:
        >>> import zoo.export
        >>> # needs a tracker step .tflite (half a minute to convert); tests/test_export_tflite.py
        >>> tracker = zoo.export.StreamingRunner("tracker.tflite", num_threads=1)  # doctest: +SKIP
        >>> for frame in crops:  # (F, F, 3) uint8  # doctest: +SKIP
        ...     out = tracker.step(frame[None])
        ...     print(out["landmarks"][0])
    """

    def __init__(self, model_path_or_bytes, num_threads=None, initial_state=None):
        self.interpreter = make_interpreter(model_path_or_bytes, num_threads)
        self.runner = self.interpreter.get_signature_runner("serving_default")
        details = self.runner.get_input_details()
        outputs = self.runner.get_output_details()
        states = [n for n, d in details.items() if d["dtype"] != np.uint8]
        images = [n for n, d in details.items() if d["dtype"] == np.uint8]
        if len(images) != 1:
            raise ValueError("Expected one uint8 frame input. "
                             f"Received: inputs={sorted(details)}")
        self.image_input = images[0]
        self.state_shapes = {n: tuple(details[n]["shape"][1:]) for n in states}
        self.pairs = {}
        for name in states:
            match = [c for c in (f"new_{name}", name) if c in outputs]
            if not match:
                raise ValueError(f"No output carries the next value of state {name!r}. "
                                 f"Received: outputs={sorted(outputs)}")
            self.pairs[name] = match[0]
        self.initial_state = initial_state
        self.reset()

    def reset(self):
        """Starts a new track (state back to ``initial_state`` or zeros)."""
        if self.initial_state is not None:
            self.state = {k: np.asarray(v, np.float32) for k, v in self.initial_state.items()}
        else:
            self.state = {n: np.zeros((1,) + s, np.float32) for n, s in self.state_shapes.items()}

    def step(self, frame):
        """Runs one frame ``(1, F, F, 3)`` uint8; returns every output and updates the state."""
        frame = np.asarray(frame)
        if frame.ndim == 3:
            frame = frame[None]
        out = self.runner(**{self.image_input: frame.astype(np.uint8)}, **self.state)
        out = {k: np.array(v) for k, v in out.items()}
        self.state = {name: out[key] for name, key in self.pairs.items()}
        return out


def export_tflite(model, path, quantization="float32", metadata=None, parity_inputs=None,
                  representative_data=None, eval_data=None, atol=None,
                  max_nme_increase=parity.DEFAULT_MAX_NME_INCREASE, batch_sizes=(1, 2),
                  float_layers=None):
    """Exports a model to a ``.tflite`` file, checked against Keras before it is kept.

    float32 is compared with Keras output by output at two batch sizes (``atol``). The
    quantised variants are judged by NME: on ``eval_data`` (held-out inputs with known
    landmarks) ``NME(export) - NME(Keras)`` must be at most ``max_nme_increase``; without
    ``eval_data`` the Keras predictions on ``parity_inputs`` stand in for the ground truth
    (a stricter bound). The metadata is embedded in the file (``zoo.export.read_metadata``).

    Args:
        model: a Keras inference model or streaming step model.
        path: output ``.tflite`` path; must not exist.
        quantization: ``"float32"``, ``"float16"``, ``"dynamic_int8"`` or ``"int8"``.
        metadata: dict from ``zoo.export.build_metadata`` (built from the model when None).
        parity_inputs: dict name -> array with at least ``max(batch_sizes)`` rows.
        representative_data: calibration data for ``"int8"`` (see ``convert``).
        eval_data: optional ``(inputs, landmarks)``: dict name -> array and (B, N, 2)
            ground truth, for the NME check of quantised exports.
        atol: tolerance(s) for the float32 comparison.
        max_nme_increase: largest NME increase allowed for quantised exports (a fraction).
        batch_sizes: the two batch sizes parity is checked at.
        float_layers: for ``"int8"``: layers kept in float32 (see ``convert``; None: the
            heatmap decoders).

    Returns:
        ``zoo.export.saved_model.ExportResult``.

    Raises:
        FileExistsError: if ``path`` exists.
        zoo.export.ParityError: if the check fails (nothing is written).

    Example:
        >>> import zoo.export
        >>> import zoo.models.inference
        >>> tiny = zoo.models.presets.get_architecture("aheat1d").tiny_config  # 32 px, seconds
        >>> model = zoo.models.inference.make_inference_model(
        ...     zoo.create("aheat1d_mobile_300w", **tiny))
        >>> result = zoo.export.export_tflite(model, "mobile.tflite")  # float32, checked
        >>> result.format, sorted(result.parity)
        ('tflite', ['batch1', 'batch2'])
        >>> out = zoo.export.run_tflite(result.path, {"images": np.zeros((1, 32, 32, 3), np.uint8)})
        >>> out["landmarks"].shape, zoo.export.read_metadata(result.path)["num_landmarks"]
        ((1, 68, 2), 68)
    """
    path = os.fspath(path)
    _files.refuse_existing(path)
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}. "
                         f"Received: quantization={quantization!r}")
    io = signatures.describe(model)
    if metadata is None:
        metadata = metadata_lib.build_metadata(model)
    metadata = dict(metadata, format="tflite", quantization=quantization,
                    signatures={"serving_default": list(io.endpoints["serving_default"])})
    if parity_inputs is None:
        parity_inputs = default_parity_inputs(io, max(batch_sizes))
    parity_inputs = signatures.check_inputs(io, parity_inputs)

    data = convert(model, quantization, representative_data, io, float_layers)
    data = metadata_lib.embed_tflite_metadata(data, metadata)
    report = {}
    keep = io.endpoints["serving_default"]
    if quantization == "float32":
        for batch in parity.split_batches(parity_inputs, batch_sizes):
            size = len(batch[io.image_input])
            reference = signatures.keras_reference(model, io, batch)
            got = run_tflite(data, batch)
            report[f"batch{size}"] = parity.compare_outputs(
                {k: reference[k] for k in keep}, got, atol,
                what=f"float32 LiteRT at batch {size}")
    else:
        if eval_data is not None:
            inputs, target = eval_data
            inputs = signatures.check_inputs(io, inputs)
        else:
            inputs, target = parity_inputs, None
        reference = signatures.keras_reference(model, io, inputs)["landmarks"]
        got = run_tflite(data, inputs)["landmarks"]
        report["nme"] = parity.check_nme_change(
            reference, got, target, max_nme_increase, what=f"{quantization} LiteRT")
    with _files.staging_dir(path) as staging:
        staged = os.path.join(staging, os.path.basename(path))
        with open(staged, "wb") as handle:
            handle.write(data)
        _files.move_into_place(staged, path)
    return ExportResult(path=path, format="tflite", parity=report, metadata=metadata)
