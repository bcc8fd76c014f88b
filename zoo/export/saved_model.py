"""SavedModel export for TF Serving.

Written in the versioned layout TF Serving loads, ``<export_dir_base>/<model_name>/<version>/``,
through ``keras.export.ExportArchive`` (functions returning dicts give named outputs), with the
signatures of ``zoo.export.signatures``: ``serving_default`` (uint8 ``images`` -> ``landmarks``,
``scores``) and ``heatmaps`` (uint8 ``images`` -> ``x``, ``y``). The metadata goes to
``<version>/assets.extra/zoo_metadata.json``.
"""
import dataclasses
import json
import os

import numpy as np

from zoo.export import _files, parity, signatures
from zoo.export import metadata as metadata_lib


@dataclasses.dataclass
class ExportResult:
    """What an export wrote and how closely it matched Keras.

    Attributes:
        path: the written folder or file.
        format: ``"saved_model"``, ``"tflite"`` or ``"onnx"``.
        parity: per batch size and endpoint, the max |diff| per output (or NME figures).
        metadata: the embedded metadata.
    """

    path: str
    format: str
    parity: dict
    metadata: dict


def default_parity_inputs(io, batch=2, seed=0):
    """Random named inputs for parity checks: uint8 images, standard-normal other inputs.

    Args:
        io: ``zoo.export.signatures.describe(model)``.
        batch: number of rows.
        seed: random seed.

    Returns:
        dict name -> numpy array.
    """
    rng = np.random.default_rng(seed)
    inputs = {}
    for name in io.input_names:
        shape = (batch,) + tuple(io.input_shapes[name][1:])
        if name == io.image_input:
            inputs[name] = rng.integers(0, 256, shape, dtype=np.uint8)
        else:
            inputs[name] = rng.normal(size=shape).astype(io.input_dtypes[name])
    return inputs


def write_archive(model, io, directory, endpoints=None, batch_size=None):
    """Writes an ``ExportArchive`` SavedModel with the zoo endpoints to ``directory``.

    Args:
        model: the Keras model.
        io: ``signatures.describe(model)``.
        directory: output folder (must not exist or be empty).
        endpoints: endpoint names to write (default: all of ``io.endpoints``).
        batch_size: fixed batch size or None (dynamic).
    """
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    for endpoint in endpoints or io.endpoints:
        archive.add_endpoint(endpoint, signatures.make_endpoint(model, io, endpoint, batch_size))
    archive.write_out(directory, verbose=False)


def run_saved_model(path, inputs, endpoint="serving_default"):
    """Runs one signature of a SavedModel on named numpy inputs.

    Args:
        path: SavedModel folder.
        inputs: dict name -> numpy array.
        endpoint: signature name.

    Returns:
        dict output name -> numpy array.

    Example:
        >>> import zoo.export
        >>> import keras
        >>> images = keras.Input((8, 8, 3), name="images")  # a toy model: any image -> landmarks
        >>> model = keras.Model(images, {"landmarks": keras.layers.Reshape((2, 2))(
        ...     keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(images)))})
        >>> result = zoo.export.export_saved_model(model, "exports", "toy", version=1)
        >>> out = zoo.export.run_saved_model("exports/toy/1",
        ...                                  {"images": np.zeros((3, 8, 8, 3), np.uint8)})
        >>> out["landmarks"].shape
        (3, 2, 2)
    """
    import tensorflow as tf

    loaded = path if not isinstance(path, (str, os.PathLike)) else tf.saved_model.load(path)
    function = loaded.signatures[endpoint]
    _, spec = function.structured_input_signature
    feed = {k: tf.constant(np.asarray(v), dtype=spec[k].dtype) for k, v in inputs.items()}
    return {k: v.numpy() for k, v in function(**feed).items()}


def export_saved_model(model, export_dir_base, model_name, version=1, metadata=None,
                       parity_inputs=None, atol=None, batch_sizes=(1, 2)):
    """Exports a model as a TF Serving SavedModel, checked against Keras before it is kept.

    The export is written to a temporary folder next to the target, both signatures are run
    at two batch sizes and compared with the Keras model, and only then is the folder renamed
    to ``<export_dir_base>/<model_name>/<version>``. An existing version folder is an error
    before any work; a failed parity check leaves nothing behind.

    Args:
        model: a Keras inference model (``zoo.models.inference.make_inference_model``) or a
            streaming step model (``zoo.streaming``).
        export_dir_base: base folder TF Serving is pointed at (``--model_base_path`` is
            ``<export_dir_base>/<model_name>``).
        model_name: the served model name.
        version: positive integer version.
        metadata: dict from ``zoo.export.build_metadata`` (built from the model when None).
        parity_inputs: dict name -> array with at least ``max(batch_sizes)`` rows; random
            uint8 images when None.
        atol: tolerance(s) for ``zoo.export.parity.compare_outputs``.
        batch_sizes: the two batch sizes parity is checked at.

    Returns:
        ``zoo.export.saved_model.ExportResult``.

    Raises:
        FileExistsError: if the version folder exists.
        zoo.export.ParityError: if an output differs from Keras beyond ``atol``.

    Example:
        >>> import zoo, zoo.export
        >>> import keras
        >>> images = keras.Input((8, 8, 3), name="images")  # a toy model: any image -> landmarks
        >>> model = keras.Model(images, {"landmarks": keras.layers.Reshape((2, 2))(
        ...     keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(images)))})
        >>> result = zoo.export.export_saved_model(model, "exports", "toy", version=1)
        >>> result.path, sorted(result.parity)  # zoo inference models add a "heatmaps" endpoint
        ('exports/toy/1', ['batch1/serving_default', 'batch2/serving_default'])
    """
    import tensorflow as tf

    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise ValueError(f"version must be a positive integer. Received: version={version!r}")
    if not model_name or os.sep in str(model_name) or str(model_name).startswith("."):
        raise ValueError(f"model_name must be a plain folder name. Received: model_name={model_name!r}")
    target = os.path.join(os.fspath(export_dir_base), str(model_name), str(int(version)))
    _files.refuse_existing(target)
    io = signatures.describe(model)
    if metadata is None:
        metadata = metadata_lib.build_metadata(model)
    metadata = dict(metadata, format="saved_model",
                    signatures={k: list(v) for k, v in io.endpoints.items()})
    if parity_inputs is None:
        parity_inputs = default_parity_inputs(io, max(batch_sizes))
    parity_inputs = signatures.check_inputs(io, parity_inputs)
    batches = parity.split_batches(parity_inputs, batch_sizes)

    with _files.staging_dir(target) as staging:
        export_dir = os.path.join(staging, "export")
        write_archive(model, io, export_dir)
        extra = os.path.join(export_dir, metadata_lib.SAVED_MODEL_METADATA_PATH)
        os.makedirs(os.path.dirname(extra), exist_ok=True)
        with open(extra, "w", encoding="utf-8") as handle:
            json.dump(metadata, handle, indent=2, sort_keys=True)
        loaded = tf.saved_model.load(export_dir)
        report = {}
        for batch in batches:
            reference = signatures.keras_reference(model, io, batch)
            for endpoint in io.endpoints:
                got = run_saved_model(loaded, batch, endpoint)
                report[f"batch{len(batch[io.image_input])}/{endpoint}"] = parity.compare_outputs(
                    reference, got, atol, what=f"SavedModel {endpoint} at batch "
                                               f"{len(batch[io.image_input])}")
        del loaded
        _files.move_into_place(export_dir, target)
    return ExportResult(path=target, format="saved_model", parity=report, metadata=metadata)
