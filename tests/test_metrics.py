"""Tests for zoo.metrics against an independent plain-loop reimplementation of the protocol.

The reference functions below are written from the protocol's definition (per-image mean
point-to-point error over the normalising distance; CED on a 1e-4 grid; failure rate = share
above the threshold; AUC = Simpson/trapezoid integral of the CED over [0, t] divided by t) with
Python loops, not with zoo's code.
"""
import csv
import json
import math

import keras
import numpy as np
import pytest

from zoo import metrics, schemes

# ----------------------------------------------------------------------------- references


def _ref_nme(pred, gt, left, right):
    errors = []
    for p, g in zip(pred, gt):
        total = 0.0
        for (px, py), (gx, gy) in zip(p, g):
            total += math.sqrt((px - gx) ** 2 + (py - gy) ** 2)
        d = math.sqrt((g[left][0] - g[right][0]) ** 2 + (g[left][1] - g[right][1]) ** 2)
        errors.append(total / len(g) / d)
    return errors


def _ref_ced(errors, threshold, step=1e-4):
    xs, ys = [], []
    for k in range(int(round(threshold / step)) + 1):
        x = k * step
        xs.append(x)
        ys.append(sum(1 for e in errors if e <= x) / len(errors))
    return xs, ys


def _ref_simpson(xs, ys):
    n = len(xs) - 1
    assert n % 2 == 0  # 0.08 and 0.10 with step 1e-4 give 800 and 1000 intervals
    h = xs[1] - xs[0]
    total = ys[0] + ys[n]
    for i in range(1, n):
        total += (4 if i % 2 else 2) * ys[i]
    return total * h / 3.0


def _ref_trapezoid(xs, ys):
    return sum((xs[i + 1] - xs[i]) * (ys[i] + ys[i + 1]) / 2.0 for i in range(len(xs) - 1))


def _ref_failure_rate(errors, threshold):
    return sum(1 for e in errors if e > threshold) / len(errors)


# ----------------------------------------------------------------------------- real data


def _300w_test(fixtures_dir):
    path = fixtures_dir / "300w" / "hrnet_csv" / "face_landmarks_300w_test.csv"
    with open(path) as f:
        rows = list(csv.reader(f))[1:]
    names = [row[0] for row in rows]
    # HRNet CSVs hold the raw 1-based .pts values; convert to 0-based
    landmarks = np.array([[float(v) for v in row[4:]] for row in rows]).reshape(-1, 68, 2) - 1.0
    return names, landmarks


def _perturb(gt, seed, scheme):
    """Real landmarks plus Gaussian noise whose size varies per image (NME spread ~0..0.15)."""
    rng = np.random.default_rng(seed)
    # (AFLW: noise scaled by the landmark box; its protocol box sizes are not needed here)
    scale = metrics.normalizing_distance(gt, scheme, "box" if scheme == "aflw" else None)
    sigma = rng.uniform(0.002, 0.09, size=(gt.shape[0], 1, 1)) * scale[:, None, None]
    return gt + rng.normal(size=gt.shape) * sigma


@pytest.fixture(scope="module")
def perturbed_300w(fixtures_dir):
    names, gt = _300w_test(fixtures_dir)
    return names, _perturb(gt, 0, "300w"), gt


def test_nme_fr_auc_match_reference_on_300w(perturbed_300w):
    _, pred, gt = perturbed_300w
    assert gt.shape == (600, 68, 2)
    errors = metrics.nme(pred, gt, "300w")
    reference = _ref_nme(pred.tolist(), gt.tolist(), 36, 45)
    np.testing.assert_allclose(errors, reference, rtol=0, atol=1e-12)
    assert 0.02 < errors.mean() < 0.1 and errors.max() > 0.1  # a real spread around 0.08/0.10
    for threshold in (0.08, 0.10):
        xs, ys = _ref_ced(reference, threshold)
        x, y = metrics.ced(errors, threshold)
        np.testing.assert_allclose(x, xs, atol=1e-15)
        np.testing.assert_allclose(y, ys, atol=0)
        fr_reference = _ref_failure_rate(reference, threshold)
        assert abs(metrics.failure_rate(errors, threshold) - fr_reference) < 1e-12
        assert abs(metrics.auc(errors, threshold) - _ref_simpson(xs, ys) / threshold) < 1e-6
        assert abs(
            metrics.auc(errors, threshold, method="trapezoid") - _ref_trapezoid(xs, ys) / threshold
        ) < 1e-6
        # and the published PIPNet / STAR expression itself (np.arange grid + Simpson)
        from scipy import integrate

        grid = np.arange(0, threshold + 1e-4, 1e-4)
        fractions = np.array([np.count_nonzero(errors <= g) for g in grid]) / errors.size
        assert grid.size == len(xs)
        published = integrate.simpson(fractions, x=grid) / threshold
        assert abs(metrics.auc(errors, threshold) - published) < 1e-6
        assert abs(metrics.failure_rate(errors, threshold) - (1.0 - fractions[-1])) < 1e-12


def _mmpose_faces(fixtures_dir, name):
    data = json.loads((fixtures_dir / name / "mmpose" / f"test_{name}.json").read_text())
    faces = np.array([np.array(a["keypoints"]).reshape(-1, 3)[:, :2] for a in data["annotations"]])
    return faces, data["annotations"]


@pytest.mark.parametrize("name,pair", [("wflw", (60, 72)), ("cofw", (8, 9))])
def test_nme_other_schemes_match_reference(fixtures_dir, name, pair):
    gt, _ = _mmpose_faces(fixtures_dir, name)
    pred = _perturb(gt, 1, name)
    reference = _ref_nme(pred.tolist(), gt.tolist(), *pair)
    np.testing.assert_allclose(metrics.nme(pred, gt, name), reference, atol=1e-12)


def test_aflw_box_normaliser(fixtures_dir):
    gt, annotations = _mmpose_faces(fixtures_dir, "aflw")
    pred = _perturb(gt, 2, "aflw")
    box_size = np.array([a["box_size"] for a in annotations])
    mean_errors = [np.mean([math.dist(p, g) for p, g in zip(pp, gg)]) for pp, gg in zip(pred, gt)]
    # AFLW protocol: divide by the dataset's face box size, given explicitly
    np.testing.assert_allclose(metrics.nme(pred, gt, "aflw", normalizer=box_size),
                               np.array(mean_errors) / box_size, atol=1e-12)
    # "box" asked for by name: sqrt(w * h) of the landmarks' bounding box, or of given boxes
    w = gt[..., 0].max(1) - gt[..., 0].min(1)
    h = gt[..., 1].max(1) - gt[..., 1].min(1)
    np.testing.assert_allclose(metrics.nme(pred, gt, "aflw", normalizer="box"),
                               mean_errors / np.sqrt(w * h), atol=1e-12)
    # ... which is not the protocol's: the landmark box is smaller than AFLW's face box
    assert np.all(np.sqrt(w * h) < box_size)
    boxes = np.array([a["bbox"] for a in annotations], np.float64)  # x, y, w, h
    boxes[:, 2:] += boxes[:, :2]  # -> x1, y1, x2, y2
    expected = mean_errors / np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    np.testing.assert_allclose(metrics.nme(pred, gt, "aflw", boxes=boxes), expected, atol=1e-12)
    diagonal = np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    np.testing.assert_allclose(metrics.nme(pred, gt, "aflw", normalizer="diagonal", boxes=boxes),
                               mean_errors / diagonal, atol=1e-12)


def test_aflw_without_box_sizes_is_an_error(fixtures_dir):
    gt, annotations = _mmpose_faces(fixtures_dir, "aflw")
    pred = _perturb(gt, 2, "aflw")
    # The scheme's own normaliser is the face box: no silent landmark-box stand-in.
    for call in (lambda: metrics.nme(pred, gt, "aflw"),
                 lambda: metrics.normalizing_distance(gt, "aflw"),
                 lambda: metrics.report(pred, gt, "aflw", verbose=False),
                 lambda: metrics.nme_tensor(pred, gt, "aflw"),
                 lambda: metrics.NME("aflw")):
        with pytest.raises(ValueError, match=r"face-box size.*box_size.*Received: scheme='aflw'"):
            call()
    box_size = np.array([a["box_size"] for a in annotations])
    half = box_size[:, None] / 2.0
    centre = np.array([a["center"] for a in annotations], np.float64)
    square = np.concatenate([centre - half, centre + half], axis=1)
    # The box sizes as numbers, or the square face boxes, give the same protocol NME.
    np.testing.assert_allclose(metrics.nme(pred, gt, "aflw", boxes=square),
                               metrics.nme(pred, gt, "aflw", normalizer=box_size), atol=1e-12)
    row = metrics.report(pred, gt, "aflw", normalizer=box_size, verbose=False)["full"]
    assert row["nme"] == pytest.approx(metrics.nme(pred, gt, "aflw", normalizer=box_size).mean())


def test_interpupil_and_area_errors(perturbed_300w):
    _, pred, gt = perturbed_300w
    pred, gt = pred[:50], gt[:50]
    left = gt[:, 36:42].mean(1)
    right = gt[:, 42:48].mean(1)
    pupil = np.linalg.norm(left - right, axis=1)
    point = np.linalg.norm(pred - gt, axis=2)
    np.testing.assert_allclose(metrics.nme(pred, gt, "300w", normalizer="interpupil"),
                               point.mean(1) / pupil, atol=1e-12)
    interocular = np.linalg.norm(gt[:, 36] - gt[:, 45], axis=1)
    np.testing.assert_allclose(metrics.nme(pred, gt, "300w", indices=list(range(48, 68))),
                               point[:, 48:68].mean(1) / interocular, atol=1e-12)
    # explicit numbers
    np.testing.assert_allclose(metrics.nme(pred, gt, normalizer=2.0), point.mean(1) / 2.0)


def test_report_per_subset_and_area(perturbed_300w, capsys):
    names, pred, gt = perturbed_300w
    labels = ["indoor" if "Indoor" in n else "outdoor" for n in names]
    assert labels.count("indoor") == 300
    result = metrics.report(pred, gt, "300w", subsets=labels)
    printed = capsys.readouterr().out
    assert set(result) == {"full", "indoor", "outdoor"}
    errors = metrics.nme(pred, gt, "300w")
    indoor = np.array(labels) == "indoor"
    row = result["indoor"]
    assert row["count"] == 300
    assert row["nme"] == pytest.approx(errors[indoor].mean(), abs=1e-12)
    assert row["fr@0.08"] == pytest.approx(metrics.failure_rate(errors[indoor], 0.08), abs=1e-12)
    assert row["auc@0.1"] == pytest.approx(metrics.auc(errors[indoor], 0.1), abs=1e-12)
    assert set(row["areas"]) == {"eyes", "eyebrows", "nose", "mouth", "contour"}
    eyes = metrics.nme(pred, gt, "300w", indices=list(range(36, 48)))
    assert row["areas"]["eyes"] == pytest.approx(eyes[indoor].mean(), abs=1e-12)
    # the printed table is in percent
    assert f"{100 * result['full']['nme']:.2f}" in printed
    assert "NME[mouth]" in printed and "AUC@8%" in printed and "outdoor" in printed
    assert f"{100 * result['indoor']['fr@0.1']:.2f}" in printed
    by_dict = metrics.report(pred, gt, "300w", subsets={"in": indoor, "first": [0, 1, 2]},
                             verbose=False)
    assert by_dict["in"]["nme"] == pytest.approx(row["nme"], abs=1e-12)
    assert by_dict["first"]["count"] == 3
    with pytest.raises(ValueError, match="subsets"):
        metrics.report(pred, gt, "300w", subsets=["a"], verbose=False)


def test_ced_and_fr_edge_cases():
    x, y = metrics.ced(np.array([0.0, 0.05, 0.2]), threshold=0.1)
    assert x.size == 1001 and x[-1] == 0.1
    assert y[0] == pytest.approx(1 / 3) and y[-1] == pytest.approx(2 / 3)
    assert np.all(np.diff(y) >= 0)
    assert metrics.failure_rate(np.array([0.1, 0.1000001]), 0.1) == 0.5  # "> t" fails, "= t" passes
    assert metrics.auc(np.zeros(3), 0.08) == pytest.approx(1.0)
    assert metrics.auc(np.full(3, 0.5), 0.08) == 0.0
    # the grid ends at t exactly, also where np.arange(0, t + step, step) overshoots (0.05)
    assert metrics.ced(np.array([0.01]), 0.05)[0].size == 501


def test_plot_ced(tmp_path, perturbed_300w):
    import cv2

    _, pred, gt = perturbed_300w
    path = metrics.plot_ced({"noisy": metrics.nme(pred, gt, "300w"),
                             "clean": metrics.nme(gt + 0.5, gt, "300w")},
                            tmp_path / "ced.png", threshold=0.1, title="300W test")
    image = cv2.imread(path)
    assert image is not None and image.shape == (450, 600, 3)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 10  # curves and text were drawn
    with pytest.raises(ValueError, match="errors_by_name"):
        metrics.plot_ced({}, tmp_path / "x.png")


_BAD_CALLS = [
        (lambda g: metrics.nme(g[:, :67], g, "300w"), "68 landmarks"),
        (lambda g: metrics.nme(g, g[:, :, :1], None, normalizer=1.0), r"\(B, N, 2\)"),
        (lambda g: metrics.nme(g[0], g[0], "300w"), r"\(B, N, 2\)"),
        (lambda g: metrics.nme(g[:2], g[:3], "300w"), "same shape"),
        (lambda g: metrics.nme(np.where(g == g[0, 0, 0], np.nan, g), g, "300w"), "NaN"),
        (lambda g: metrics.nme(g, g, "ibug68"), "Unknown landmark scheme"),
        (lambda g: metrics.nme(g, g, "300w", normalizer="eyes"), "normalizer"),
        (lambda g: metrics.nme(g, g, None), "scheme"),
        (lambda g: metrics.nme(g, np.zeros_like(g), "300w"), "positive"),
        (lambda g: metrics.nme(g, g, "300w", normalizer=np.ones(7)), "normalizer"),
        (lambda g: metrics.nme(g, g, "300w", normalizer="box", boxes=np.ones((3, 3))), "boxes"),
        (lambda g: metrics.nme(g, g, "300w", indices=[70]), "indices"),
        (lambda g: metrics.nme(g, g, "aflw"), "19 landmarks"),
        (lambda g: metrics.auc(np.array([0.1]), threshold=0), "threshold"),
        (lambda g: metrics.auc(np.array([0.1]), method="simps"), "method"),
        (lambda g: metrics.ced(np.array([0.1]), step=0.5), "step"),
        (lambda g: metrics.failure_rate(np.array([np.nan]), 0.1), "finite"),
        (lambda g: metrics.failure_rate(np.zeros((2, 2)), 0.1), "1D"),
]


def test_bad_input(perturbed_300w):
    # one test for all cases: the conftest's per-test Keras teardown would dominate otherwise
    gt = perturbed_300w[2][:4]
    for call, message in _BAD_CALLS:
        with pytest.raises(ValueError, match=message):
            call(gt)


# ----------------------------------------------------------------------------- Keras metric


def test_keras_metric_running_mean(perturbed_300w):
    _, pred, gt = perturbed_300w
    pred, gt = pred[:20].astype("float32"), gt[:20].astype("float32")
    errors = metrics.nme(pred, gt, "300w")
    metric = metrics.NME("300w")
    metric.update_state(gt[:8], pred[:8])
    metric.update_state(gt[8:], pred[8:])
    assert float(metric.result()) == pytest.approx(errors.mean(), rel=1e-5)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    weights = np.arange(20, dtype="float32")
    metric.update_state(gt, pred, sample_weight=weights)
    weighted = (errors * weights).sum() / weights.sum()
    assert float(metric.result()) == pytest.approx(weighted, rel=1e-5)
    pupil = metrics.NME("300w", normalizer="interpupil")
    pupil.update_state(gt, pred)
    assert float(pupil.result()) == pytest.approx(
        metrics.nme(pred, gt, "300w", normalizer="interpupil").mean(), rel=1e-5)
    with pytest.raises(ValueError, match=r"\(B, 68, 2\)"):
        metric.update_state(gt[:, :10], pred[:, :10])
    with pytest.raises(ValueError, match="no codec"):
        metric.update_state(gt, {"x": pred})
    with pytest.raises(ValueError, match="normalizer"):
        metrics.NME("300w", normalizer="ears")
    with pytest.raises(ValueError, match="Unknown landmark scheme"):
        metrics.NME("68pt")


def test_keras_metric_serialization_and_fit(tmp_path):
    custom = schemes.Scheme("test_metric_pair", 2, (1, 0), "interocular", (0, 1), {"eyes": (0, 1)})
    for metric in (metrics.NME("wflw", name="nme_wflw"), metrics.NME(custom)):
        config = keras.saving.serialize_keras_object(metric)
        restored = keras.saving.deserialize_keras_object(config)
        assert isinstance(restored, metrics.NME)
        assert restored.get_config() == metric.get_config()
    assert restored._scheme == custom  # an unregistered scheme travels in the config

    inputs = keras.Input((4,))
    outputs = keras.layers.Reshape((68, 2))(keras.layers.Dense(136)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse", metrics=[metrics.NME("300w")])
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    y = np.random.default_rng(1).uniform(0, 100, size=(6, 68, 2)).astype("float32")
    logs = model.evaluate(x, y, batch_size=3, return_dict=True, verbose=0)
    expected = metrics.nme(model.predict(x, verbose=0), y, "300w").mean()
    assert logs["nme"] == pytest.approx(expected, rel=1e-4)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # the compiled metric is rebuilt from its config
    logs = loaded.evaluate(x, y, batch_size=3, return_dict=True, verbose=0)
    assert logs["nme"] == pytest.approx(expected, rel=1e-4)


def test_keras_metric_with_codec(perturbed_300w):
    import zoo.codecs

    gt = perturbed_300w[2][:3]
    # fit the faces into a 64 px input
    gt = (gt - gt.min(1, keepdims=True)) / np.ptp(gt, axis=1).max(1)[:, None, None] * 60 + 2
    codec = zoo.codecs.Heatmap1DCodec(input_size=64, heatmap_size=192)
    targets = [codec.encode(face.astype("float32")) for face in gt]
    batch = {k: np.stack([np.asarray(t[k]) for t in targets]) for k in ("x", "y")}
    stacked = {k: np.stack([np.zeros_like(v), v], axis=1) for k, v in batch.items()}  # (B, S, N, L)
    metric = metrics.NME("300w", codec=codec)
    metric.update_state(gt.astype("float32"), stacked)  # decodes the last stack
    decoded, _ = codec.decode(batch)
    expected = metrics.nme(np.asarray(decoded), gt, "300w").mean()
    assert float(metric.result()) == pytest.approx(expected, rel=1e-4, abs=1e-7)
    assert expected < 1e-3  # clean targets decode to the landmarks
    metric.reset_state()
    metric.update_state(batch, stacked)  # targets are decoded as well
    assert float(metric.result()) < 1e-3
    restored = metrics.NME.from_config(metric.get_config())
    assert restored.codec.get_config() == codec.get_config()
