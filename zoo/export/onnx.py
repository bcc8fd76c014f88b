"""ONNX export via tf2onnx (opset 18) from an ``ExportArchive`` SavedModel, run with onnxruntime.

TOOLCHAIN.md traps this module avoids: opset 18 (lower opsets mis-convert N-D x 2-D matmuls),
converting from the ExportArchive SavedModel's signature (named dict outputs become the ONNX
output names), explicit state inputs/outputs for trackers (ONNX drops ``stateful`` RNN updates).
The whole model is converted; nothing is dropped to make it convert. Metadata goes to the
model's ``metadata_props`` (``zoo_metadata``).
"""
import json
import os
import tempfile

import numpy as np

from zoo.export import _files, parity, signatures
from zoo.export import metadata as metadata_lib
from zoo.export.saved_model import ExportResult, default_parity_inputs, write_archive

OPSET = 18


def convert(model, io=None, opset=OPSET):
    """Converts a Keras model to an ``onnx.ModelProto`` (no checks, no metadata).

    Args:
        model: the Keras model (see ``zoo.export.signatures.describe``).
        io: ``describe(model)``, computed when None.
        opset: ONNX opset (18 is the highest tf2onnx 1.17 supports).

    Returns:
        ``onnx.ModelProto`` with the ``serving_default`` inputs and outputs, named.

    Example:
        >>> import zoo.export.onnx
        >>> import keras
        >>> images = keras.Input((8, 8, 3), name="images")  # a toy model: any image -> landmarks
        >>> model = keras.Model(images, {"landmarks": keras.layers.Reshape((2, 2))(
        ...     keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(images)))})
        >>> proto = zoo.export.onnx.convert(model)
        >>> [i.name for i in proto.graph.input], [o.name for o in proto.graph.output]
        (['images'], ['landmarks'])
    """
    import tf2onnx
    from tf2onnx import tf_loader

    io = io or signatures.describe(model)
    with tempfile.TemporaryDirectory() as tmp:
        saved = os.path.join(tmp, "saved_model")
        write_archive(model, io, saved, endpoints=["serving_default"])
        # The path of ``python -m tf2onnx.convert --saved-model``: freeze the signature, keep
        # its input/output names (tensors_to_rename maps "Identity:0" -> "landmarks").
        frozen, inputs, outputs, renames = tf_loader.from_saved_model(
            saved, None, None, signatures=["serving_default"], return_tensors_to_rename=True)
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen, name="serving_default", input_names=inputs, output_names=outputs,
            opset=opset, tensors_to_rename=renames)
    return proto


def run_onnx(model_path_or_proto, inputs, num_threads=None):
    """Runs an ONNX model with onnxruntime on named numpy inputs.

    Args:
        model_path_or_proto: ``.onnx`` path, serialised bytes, an ``onnx.ModelProto`` or an
            ``onnxruntime.InferenceSession``.
        inputs: dict name -> numpy array.
        num_threads: intra-op threads (None: onnxruntime's default).

    Returns:
        dict output name -> numpy array.

    Example:
        >>> import zoo.export, zoo.export.onnx
        >>> import keras
        >>> images = keras.Input((8, 8, 3), name="images")  # a toy model: any image -> landmarks
        >>> model = keras.Model(images, {"landmarks": keras.layers.Reshape((2, 2))(
        ...     keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(images)))})
        >>> proto = zoo.export.onnx.convert(model)  # or a ``.onnx`` path
        >>> zoo.export.run_onnx(proto, {"images": np.zeros((3, 8, 8, 3), np.uint8)})["landmarks"].shape
        (3, 2, 2)
    """
    import onnxruntime

    session = model_path_or_proto
    if not isinstance(session, onnxruntime.InferenceSession):
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
            options.inter_op_num_threads = 1
        source = model_path_or_proto
        if hasattr(source, "SerializeToString"):
            source = source.SerializeToString()
        elif isinstance(source, os.PathLike):
            source = os.fspath(source)
        session = onnxruntime.InferenceSession(source, options,
                                               providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    feed = {i.name: np.asarray(inputs[i.name]) for i in session.get_inputs()}
    return dict(zip(names, session.run(names, feed)))


def export_onnx(model, path, metadata=None, parity_inputs=None, atol=None,
                batch_sizes=(1, 2), opset=OPSET):
    """Exports a model to an ``.onnx`` file, checked against Keras before it is kept.

    Args:
        model: a Keras inference model or streaming step model.
        path: output ``.onnx`` path; must not exist.
        metadata: dict from ``zoo.export.build_metadata`` (built from the model when None).
        parity_inputs: dict name -> array with at least ``max(batch_sizes)`` rows.
        atol: tolerance(s) for ``zoo.export.parity.compare_outputs``.
        batch_sizes: the two batch sizes parity is checked at.
        opset: ONNX opset.

    Returns:
        ``zoo.export.saved_model.ExportResult``.

    Raises:
        FileExistsError: if ``path`` exists.
        zoo.export.ParityError: if an output differs from Keras beyond ``atol``.

    Example:
        >>> import zoo.export
        >>> import keras
        >>> images = keras.Input((8, 8, 3), name="images")  # a toy model: any image -> landmarks
        >>> model = keras.Model(images, {"landmarks": keras.layers.Reshape((2, 2))(
        ...     keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(images)))})
        >>> result = zoo.export.export_onnx(model, "toy.onnx")  # a landmark model: the same call
        >>> result.format, sorted(result.parity), zoo.export.read_metadata(result.path)["input_size"]
        ('onnx', ['batch1', 'batch2'], 8)
        >>> out = zoo.export.run_onnx(result.path, {"images": np.zeros((2, 8, 8, 3), np.uint8)})
        >>> out["landmarks"].shape
        (2, 2, 2)
    """
    import onnx

    path = os.fspath(path)
    _files.refuse_existing(path)
    io = signatures.describe(model)
    if metadata is None:
        metadata = metadata_lib.build_metadata(model)
    metadata = dict(metadata, format="onnx", opset=int(opset),
                    signatures={"serving_default": list(io.endpoints["serving_default"])})
    if parity_inputs is None:
        parity_inputs = default_parity_inputs(io, max(batch_sizes))
    parity_inputs = signatures.check_inputs(io, parity_inputs)

    proto = convert(model, io, opset)
    entry = proto.metadata_props.add()
    entry.key = metadata_lib.METADATA_NAME
    entry.value = json.dumps(metadata, sort_keys=True)
    onnx.checker.check_model(proto)
    keep = io.endpoints["serving_default"]
    report = {}
    for batch in parity.split_batches(parity_inputs, batch_sizes):
        size = len(batch[io.image_input])
        reference = signatures.keras_reference(model, io, batch)
        got = run_onnx(proto, batch)
        missing = set(keep) - set(got)
        if missing:
            raise parity.ParityError(f"ONNX lacks outputs {sorted(missing)}; has {sorted(got)}")
        report[f"batch{size}"] = parity.compare_outputs(
            {k: reference[k] for k in keep}, got, atol, what=f"ONNX at batch {size}")
    with _files.staging_dir(path) as staging:
        staged = os.path.join(staging, os.path.basename(path))
        onnx.save(proto, staged)
        _files.move_into_place(staged, path)
    return ExportResult(path=path, format="onnx", parity=report, metadata=metadata)
