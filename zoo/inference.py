"""Inference for people: ``zoo.load``, ``zoo.FaceLandmarker`` and ``load_tracker``, in one place.

Most users never train. They load a model and point it at photos or a video. This module
gathers the inference API; the code lives along its seams:

* ``zoo.weights``: the trained weights the package ships (``zoo/weights/*.weights.h5``, read
  offline), downloads (``fetch_weights``: ``keras.utils.get_file``, cached), sha256 checks
  (a file that does not match is refused) and ``load_weights``.
* ``zoo.loading``: :func:`load` (a preset name, ``.keras`` / ``.weights.h5`` file, training
  run folder or SavedModel export -> a :class:`LandmarkModel` that knows its input size,
  codec, scheme and normalisation) and :func:`save` (``.keras`` + a JSON sidecar).
* ``zoo.trackers``: :func:`load_tracker`, the explicit-state streaming form of a tracker for
  video (``python -m zoo.track``).
* ``zoo.landmarker``: :class:`FaceLandmarker` finds faces (OpenCV's bundled Haar cascades by
  default, no download; YuNet when given its ONNX file), crops each face with the affine
  matrix of ``zoo.faces`` and maps the predicted landmarks back to image coordinates;
  :func:`flip_average` (its default ``flip_test=True``) averages each crop's prediction with
  its mirror's.

A preset without trained weights (``weights_url=None``) warns when loaded and keeps random
weights; pass ``weights=`` (a ``.weights.h5`` or ``.keras`` file, a run folder, or a URL with
its sha256) to use a trained checkpoint.

Example:
    >>> import numpy as np, zoo
    >>> landmarker = zoo.FaceLandmarker("aheat1d_mobile_300w")
    >>> faces = landmarker.detect(np.zeros((240, 320, 3), np.uint8))
    >>> faces.landmarks.shape
    (0, 68, 2)
"""
from zoo.landmarker import (DEFAULT_MODEL, FaceLandmarker, Faces, flip_average, flip_scheme,
                             make_face_detector)
from zoo.loading import SIDECAR_SUFFIX, LandmarkModel, load, load_keras_file, save, sidecar_path
from zoo.trackers import load_tracker
from zoo.weights import (WEIGHTS_CACHE_SUBDIR, fetch_weights, is_run_dir, load_preset_weights,
                         load_weights, sha256_of)

__all__ = [
    "DEFAULT_MODEL", "FaceLandmarker", "Faces", "LandmarkModel", "SIDECAR_SUFFIX",
    "WEIGHTS_CACHE_SUBDIR", "fetch_weights", "flip_average", "flip_scheme", "is_run_dir",
    "load", "load_keras_file",
    "load_preset_weights", "load_tracker", "load_weights", "make_face_detector", "save",
    "sha256_of", "sidecar_path",
]
