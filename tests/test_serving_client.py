"""The TF Serving client: REST request/response format, against a local REST stand-in.

No TF Serving model server can be installed here (TOOLCHAIN.md), so a small HTTP server that
answers ``/v1/models/<name>:predict`` in TF Serving's columnar format by running the exported
SavedModel checks the client's protocol end to end (not TF Serving itself).
"""
import http.server
import json
import threading

import numpy as np
import pytest

import zoo.export
import zoo.faces
import zoo.serving_client as client_lib
from export_contract import tiny_detector
from zoo.export import signatures


def test_rest_url_and_body():
    assert client_lib.rest_url("http://h:8501/", "m") == "http://h:8501/v1/models/m:predict"
    body = client_lib.rest_body(np.full((8, 8, 3), 7, np.uint8), signature_name="heatmaps")
    assert body["signature_name"] == "heatmaps"
    assert np.asarray(body["inputs"]["images"]).shape == (1, 8, 8, 3)
    json.dumps(body)
    with pytest.raises(ValueError, match="Received: shape="):
        client_lib.rest_body(np.zeros((8, 6, 3), np.uint8))
    with pytest.raises(ValueError, match="Received: model_name="):
        client_lib.rest_url("http://h", "")


def test_parse_rest_response_formats():
    columnar = client_lib.parse_rest_response('{"outputs": {"landmarks": [[[1, 2]]], "scores": [[0.5]]}}')
    assert columnar["landmarks"].shape == (1, 1, 2)
    rows = client_lib.parse_rest_response({"predictions": [{"scores": [0.1]}, {"scores": [0.2]}]})
    np.testing.assert_allclose(rows["scores"], [[0.1], [0.2]])
    with pytest.raises(ValueError, match="Received: error="):
        client_lib.parse_rest_response({"error": "bad input"})


def _serve(saved_model_path, model_name):
    import tensorflow as tf

    loaded = tf.saved_model.load(saved_model_path)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.path == f"/v1/models/{model_name}:predict", self.path
            outputs = zoo.export.run_saved_model(
                loaded, {k: np.asarray(v, np.uint8) for k, v in body["inputs"].items()},
                body.get("signature_name", "serving_default"))
            data = json.dumps({"outputs": {k: v.tolist() for k, v in outputs.items()}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_predict_boxes_on_a_real_image(tmp_path, fixtures_dir):
    model = tiny_detector()
    exported = zoo.export.export_saved_model(model, str(tmp_path), "tiny", version=1)
    server = _serve(exported.path, "tiny")
    try:
        client = client_lib.ServingClient(f"http://127.0.0.1:{server.server_port}", "tiny",
                                          input_size=32)
        import cv2

        image = cv2.cvtColor(cv2.imread(str(fixtures_dir / "300w/pts_images/test_1.jpg")),
                             cv2.COLOR_BGR2RGB)
        boxes = np.array([[80, 60, 200, 190], [10, 10, 90, 100]], np.float32)
        landmarks, scores = client.predict_boxes(image, boxes)
        heatmaps = client.predict_crops(client.crops(image, boxes)[0], "heatmaps")
    finally:
        server.shutdown()
    assert landmarks.shape == (2, 5, 2) and scores.shape == (2, 5)
    assert heatmaps["x"].shape == (2, 5, 16)
    # The same crops run through Keras and mapped back with the crop matrices.
    crops, matrices = client.crops(image, boxes)
    reference = signatures.keras_reference(model, signatures.describe(model), {"images": crops})
    expected = np.stack([zoo.faces.to_image_coordinates(p, m)
                         for p, m in zip(reference["landmarks"], matrices)])
    scale = np.array([(b[2] - b[0]) * 1.25 / 32 for b in boxes])[:, None, None]
    np.testing.assert_allclose(landmarks, expected, atol=1e-2 * scale.max(), rtol=0)
    # Landmarks land inside each face's crop region of the image.
    for points, box in zip(landmarks, boxes):
        side = max(box[2] - box[0], box[3] - box[1]) * 1.25
        centre = (box[:2] + box[2:]) / 2
        assert np.all(np.abs(points - centre) <= side / 2 + 1)


def test_grpc_request():
    pytest.importorskip("tensorflow_serving.apis",
                        reason="tensorflow-serving-api not installed (pulls in the full "
                               "tensorflow wheel; see TOOLCHAIN.md)")
    request = client_lib.grpc_request(np.zeros((1, 8, 8, 3), np.uint8), "m", version=2)
    assert request.model_spec.name == "m" and request.model_spec.version.value == 2
    assert list(request.inputs["images"].tensor_shape.dim)[1].size == 8
