"""A small client for a zoo model served by TF Serving (REST and gRPC).

The SavedModel from ``zoo.export.export_saved_model`` has a ``serving_default`` signature
taking uint8 face crops ``images (B, F, F, 3)`` and returning ``landmarks (B, N, 2)`` in crop
pixels and ``scores (B, N)``. This module crops a face from an image and a box
(``zoo.faces.crop_face``), builds the REST body (or the gRPC ``PredictRequest``), and maps
the answer back to image pixels.

Example:
    >>> import numpy as np, zoo.serving_client
    >>> client = zoo.serving_client.ServingClient("http://localhost:8501", "aheat1d_mobile_300w",
    ...                                           input_size=256)
    >>> body = client.rest_body(np.zeros((1, 256, 256, 3), np.uint8))
    >>> sorted(body)
    ['inputs', 'signature_name']
"""
import json
import urllib.request

import numpy as np

from zoo import faces


def _check_crops(crops, input_size=None):
    crops = np.asarray(crops)
    if crops.ndim == 3:
        crops = crops[None]
    if crops.ndim != 4 or crops.shape[-1] != 3 or crops.shape[1] != crops.shape[2]:
        raise ValueError(f"Expected square RGB crops (B, F, F, 3). Received: shape={crops.shape}")
    if input_size is not None and crops.shape[1] != input_size:
        raise ValueError(f"Expected crops of size {input_size}. Received: shape={crops.shape}")
    if crops.dtype != np.uint8:
        crops = np.clip(np.round(crops), 0, 255).astype(np.uint8)
    return crops


def rest_url(base_url, model_name, version=None, verb="predict"):
    """The TF Serving REST URL ``<base>/v1/models/<name>[/versions/<v>]:<verb>``.

    Args:
        base_url: e.g. ``"http://localhost:8501"``.
        model_name: served model name.
        version: optional version number.
        verb: ``"predict"`` (or ``"classify"``/``"regress"``, unused here).

    Returns:
        The URL string.

    Example:
        >>> import zoo.serving_client
        >>> zoo.serving_client.rest_url("http://localhost:8501", "mobile", 2)
        'http://localhost:8501/v1/models/mobile/versions/2:predict'
    """
    if not model_name:
        raise ValueError(f"model_name must be non-empty. Received: model_name={model_name!r}")
    path = f"{base_url.rstrip('/')}/v1/models/{model_name}"
    if version is not None:
        path += f"/versions/{int(version)}"
    return f"{path}:{verb}"


def rest_body(crops, signature_name="serving_default", input_name="images", input_size=None):
    """The JSON body of a TF Serving REST predict request (columnar ``inputs`` format).

    Args:
        crops: uint8 ``(B, F, F, 3)`` or one ``(F, F, 3)`` face crop.
        signature_name: ``"serving_default"`` (landmarks, scores) or ``"heatmaps"``.
        input_name: the signature's input name.
        input_size: optional expected ``F``.

    Returns:
        A dict ready for ``json.dumps``.

    Example:
        >>> import numpy as np, zoo.serving_client
        >>> body = zoo.serving_client.rest_body(np.zeros((2, 4, 4, 3), np.uint8))
        >>> np.asarray(body["inputs"]["images"]).shape
        (2, 4, 4, 3)
    """
    crops = _check_crops(crops, input_size)
    return {"signature_name": signature_name, "inputs": {input_name: crops.tolist()}}


def parse_rest_response(response):
    """Parses a TF Serving REST predict answer into numpy arrays.

    Args:
        response: the decoded JSON (dict) or its text. TF Serving answers the columnar format
            with ``{"outputs": {name: nested list}}`` (or a bare list for a single output) and
            the row format with ``{"predictions": [{name: ...}, ...]}``.

    Returns:
        dict output name -> float32 array (batch first).

    Raises:
        ValueError: on an ``{"error": ...}`` answer or an unknown layout.
    """
    if isinstance(response, (str, bytes)):
        response = json.loads(response)
    if not isinstance(response, dict):
        raise ValueError(f"Expected a JSON object. Received: response={type(response).__name__}")
    if "error" in response:
        raise ValueError(f"TF Serving returned an error. Received: error={response['error']!r}")
    if "outputs" in response:
        outputs = response["outputs"]
        if not isinstance(outputs, dict):
            outputs = {"output": outputs}
        return {k: np.asarray(v, np.float32) for k, v in outputs.items()}
    if "predictions" in response:
        rows = response["predictions"]
        if rows and isinstance(rows[0], dict):
            return {k: np.asarray([row[k] for row in rows], np.float32) for k in rows[0]}
        return {"output": np.asarray(rows, np.float32)}
    raise ValueError(f"Expected 'outputs' or 'predictions'. Received: keys={sorted(response)}")


def grpc_request(crops, model_name, signature_name="serving_default", input_name="images",
                 version=None):
    """A ``tensorflow_serving.apis.predict_pb2.PredictRequest`` for face crops.

    Needs ``tensorflow-serving-api`` (install it with ``--no-deps`` next to ``tensorflow-cpu``,
    see TOOLCHAIN.md); send it with ``prediction_service_pb2_grpc.PredictionServiceStub``.

    Args:
        crops: uint8 ``(B, F, F, 3)`` face crops.
        model_name: served model name.
        signature_name: signature to call.
        input_name: the signature's input name.
        version: optional version number.

    Returns:
        The ``PredictRequest``.

    Raises:
        ImportError: if ``tensorflow-serving-api`` is not installed.
    """
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    request.inputs[input_name].CopyFrom(tf.make_tensor_proto(_check_crops(crops), tf.uint8))
    return request


class ServingClient:
    """Landmarks for faces in an image from a TF Serving REST endpoint.

    Args:
        base_url: TF Serving REST address, e.g. ``"http://localhost:8501"``.
        model_name: served model name (the ``<model_name>`` folder of the export).
        input_size: the model's crop size ``F`` (``zoo.export.read_metadata(...)["input_size"]``).
        version: optional version; the newest when None.
        margin: crop margin around the face box (as ``zoo.faces.crop_face``).
        timeout: HTTP timeout in seconds.

    Example:
        >>> import zoo.serving_client
        >>> client = zoo.serving_client.ServingClient("http://localhost:8501",
        ...                                           "aheat1d_mobile_300w", input_size=256)
        >>> client.url
        'http://localhost:8501/v1/models/aheat1d_mobile_300w:predict'
        >>> image = np.zeros((240, 320, 3), np.uint8)
        >>> crops, matrices = client.crops(image, [[100, 60, 220, 200]])  # what predict_boxes posts
        >>> crops.shape, matrices.shape
        ((1, 256, 256, 3), (1, 2, 3))
        >>> # needs a running TF Serving (tests/test_serving_client.py serves a fake one)
        >>> landmarks, scores = client.predict_boxes(image, [[100, 60, 220, 200]])  # doctest: +SKIP
    """

    def __init__(self, base_url, model_name, input_size, version=None, margin=0.25, timeout=30.0):
        if not isinstance(input_size, int) or input_size < 1:
            raise ValueError(f"input_size must be a positive int. Received: input_size={input_size!r}")
        self.base_url = base_url
        self.model_name = model_name
        self.input_size = input_size
        self.version = version
        self.margin = margin
        self.timeout = timeout

    @property
    def url(self):
        """The predict URL."""
        return rest_url(self.base_url, self.model_name, self.version)

    def rest_body(self, crops, signature_name="serving_default"):
        """The REST body for crops of this model's size (see ``rest_body``)."""
        return rest_body(crops, signature_name, input_size=self.input_size)

    def crops(self, image, boxes):
        """Face crops and their image -> crop matrices for boxes ``(K, 4)`` x1, y1, x2, y2."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        pairs = [faces.crop_face(image, box, self.input_size, self.margin) for box in boxes]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def post(self, body):
        """POSTs a REST body and returns the parsed outputs."""
        request = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            return parse_rest_response(answer.read())

    def predict_crops(self, crops, signature_name="serving_default"):
        """Runs crops ``(B, F, F, 3)`` uint8; returns the output dict (landmarks in crop pixels)."""
        return self.post(self.rest_body(crops, signature_name))

    def predict_boxes(self, image, boxes):
        """Landmarks in image pixels for face boxes in an image.

        Args:
            image: an image (anything ``zoo.faces.to_rgb_uint8`` takes).
            boxes: ``(K, 4)`` face boxes x1, y1, x2, y2.

        Returns:
            ``(landmarks (K, N, 2) in image pixels, scores (K, N))``.
        """
        crops, matrices = self.crops(image, boxes)
        outputs = self.predict_crops(crops)
        landmarks = np.stack([faces.to_image_coordinates(points, matrix)
                              for points, matrix in zip(outputs["landmarks"], matrices)])
        return landmarks.astype(np.float32), outputs["scores"]
