"""RDFN (issue 15): sampler, region boxes, fusions, location reweighting, codec, losses, model
contract, exports and FaceLandmarker on a photo."""
import json

import numpy as np
import pytest
import scipy.ndimage

import zoo
import zoo.codecs
import zoo.layers
import zoo.losses
from contract import run_layer_test, run_model_test
from zoo.layers import region_ops
from zoo.models import presets

TINY = presets.get_architecture("rdfn").tiny_config if "rdfn" in presets.list_architectures() \
    else None


def _tiny(name="rdfn_small_300w", **extra):
    return zoo.create(name, **{**TINY, **extra})


def _codec_for(model):
    return presets.model_codec(model)


def _numpy(value):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


# ------------------------------------------------------------------------------ the sampler
def _reference_crop(features, box, size):
    """scipy bilinear sampling with zero padding at the half-pixel positions of the box."""
    height, width = features.shape[:2]
    x0, y0, x1, y1 = box
    xs = (x0 + (np.arange(size) + 0.5) / size * (x1 - x0)) * width - 0.5
    ys = (y0 + (np.arange(size) + 0.5) / size * (y1 - y0)) * height - 0.5
    grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([scipy.ndimage.map_coordinates(features[..., c], [grid_y, grid_x], order=1,
                                                   mode="grid-constant", cval=0.0)
                     for c in range(features.shape[-1])], -1)


def test_region_sampler_matches_bilinear_sampling_with_zero_padding():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(3, 12, 12, 4)).astype("float32")
    boxes = np.array([[0.2, 0.1, 0.7, 0.9], [-0.2, -0.1, 0.6, 0.5], [0.5, 0.55, 1.3, 1.2]],
                     "float32")
    out = _numpy(zoo.layers.RegionSampler(9)([features, boxes]))
    for feature, box, got in zip(features, boxes, out):
        np.testing.assert_allclose(got, _reference_crop(feature, box, 9), atol=1e-5)


def test_region_sampler_full_box_is_identity_and_paste_inverts_crop():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    whole = np.tile(np.array([[0.0, 0.0, 1.0, 1.0]], "float32"), (2, 1))
    np.testing.assert_allclose(_numpy(zoo.layers.RegionSampler(8)([features, whole])), features,
                               atol=1e-6)
    # A box on the grid lines, at the same resolution: crop then paste restores the box's cells
    # and puts zeros elsewhere.
    box = np.tile(np.array([[0.25, 0.5, 0.75, 1.0]], "float32"), (2, 1))
    crop = _numpy(zoo.layers.RegionSampler((4, 4))([features, box]))
    np.testing.assert_allclose(crop, features[:, 4:8, 2:6], atol=1e-6)
    pasted = _numpy(zoo.layers.RegionSampler(8, mode="paste")([crop, box]))
    np.testing.assert_allclose(pasted[:, 4:8, 2:6], features[:, 4:8, 2:6], atol=1e-6)
    mask = np.ones((8, 8), bool)
    mask[4:8, 2:6] = False
    assert np.abs(pasted[:, mask]).max() < 1e-6


def test_region_sampler_selects_squares_and_enlarges_a_region():
    features = np.random.default_rng(2).normal(size=(1, 16, 16, 2)).astype("float32")
    boxes = np.array([[[0.0, 0.0, 1.0, 1.0], [0.25, 0.375, 0.5, 0.625]]], "float32")  # (B, R, 4)
    got = _numpy(zoo.layers.RegionSampler(6, region=1, margin=0.5, square=True)(
        [features, boxes]))
    # Square already; side 0.25 * 1.5 around (0.375, 0.5).
    expected = _reference_crop(features[0], [0.1875, 0.3125, 0.5625, 0.6875], 6)
    np.testing.assert_allclose(got[0], expected, atol=1e-5)


@pytest.mark.parametrize("mode,shape", [("crop", (2, 16, 16, 4)), ("paste", (2, 6, 6, 4))])
def test_region_sampler_contract(mode, shape):
    features = np.random.default_rng(3).normal(size=shape).astype("float32")
    boxes = np.array([[0.1, 0.2, 0.8, 0.9], [0.3, 0.3, 0.6, 0.7]], "float32")
    run_layer_test(zoo.layers.RegionSampler, {"output_size": (6, 5), "mode": mode},
                   [features, boxes], expected_output_shape=(2, 6, 5, 4), run_training=False)


def test_region_sampler_bad_arguments():
    with pytest.raises(ValueError, match="Received: mode='warp'"):
        zoo.layers.RegionSampler(4, mode="warp")
    with pytest.raises(ValueError, match="Received: output_size=0"):
        zoo.layers.RegionSampler(0)
    with pytest.raises(ValueError, match="Received: margin=-0.1"):
        zoo.layers.RegionSampler(4, margin=-0.1)


# ------------------------------------------------------------------------------ location reweighting
def _gaussian_maps(centres, size, sigma):
    grid = np.arange(size, dtype="float32")
    maps = [np.exp(-((grid[None] - x) ** 2 + (grid[:, None] - y) ** 2) / (2 * sigma ** 2))
            for x, y in centres]
    return np.stack(maps, -1)[None].astype("float32")  # (1, H, W, K)


def test_location_reweighting_special_cases_and_subpixel_gaussians():
    rng = np.random.default_rng(0)
    centres = rng.uniform(5, 27, (8, 2))
    maps = _gaussian_maps(centres, 32, 1.0)
    x, y, peak = (_numpy(v)[0] for v in region_ops.location_reweighting(maps))
    np.testing.assert_allclose(np.stack([x, y], -1), centres, atol=2e-3)
    np.testing.assert_allclose(peak, maps[0].reshape(-1, 8).max(0), atol=1e-6)
    # radius 0 is argmax.
    x0, y0, _ = (_numpy(v)[0] for v in region_ops.location_reweighting(maps, radius=0))
    flat = maps[0].reshape(-1, 8).argmax(0)
    np.testing.assert_array_equal(np.stack([x0, y0], -1), np.stack([flat % 32, flat // 32], -1))
    # No window, power 1, no threshold: relu soft-argmax over the whole map.
    noisy = maps + rng.normal(0, 0.05, maps.shape).astype("float32")
    xs, ys, _ = (_numpy(v)[0] for v in region_ops.location_reweighting(
        noisy, radius=None, power=1.0))
    weights = np.maximum(noisy[0], 0).reshape(-1, 8)
    weights /= weights.sum(0)
    grid_y, grid_x = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    np.testing.assert_allclose(xs, grid_x.reshape(-1) @ weights, atol=1e-3)
    np.testing.assert_allclose(ys, grid_y.reshape(-1) @ weights, atol=1e-3)
    # A map with no positive value falls back to its argmax cell.
    xn, yn, _ = (_numpy(v)[0, 0] for v in region_ops.location_reweighting(
        -np.ones((1, 4, 4, 1), "float32")))
    assert (xn, yn) == (0.0, 0.0)


def _decode_errors(codec_methods, maps, truth):
    errors = {}
    for method, codec in codec_methods.items():
        coords, _ = codec.decode({"heatmap": maps})
        errors[method] = float(np.linalg.norm(_numpy(coords) - truth, axis=-1).mean())
    return errors


def test_location_reweighting_beats_argmax_and_soft_argmax_on_noisy_score_maps():
    """Score maps like a network's: a Gaussian peak, a weaker second mode, background noise.

    Argmax is quantised to the bin grid; soft-argmax is pulled towards the second mode and
    the map centre by the mass outside the peak; the reweighted expectation around the peak
    is neither. Mean error in input pixels over 200 landmarks.
    """
    rng = np.random.default_rng(0)
    codec = zoo.codecs.RDFNCodec(input_size=128, heatmap_size=32)
    size, count = 32, 200
    truth_bins = rng.uniform(6, 26, (count, 2))
    distractors = rng.uniform(3, 29, (count, 2))
    maps = _gaussian_maps(truth_bins, size, 1.0)[0]
    maps = maps + 0.5 * _gaussian_maps(distractors, size, 1.5)[0]
    maps = maps + rng.normal(0, 0.05, maps.shape)
    maps = maps.reshape(1, size, size, count).astype("float32")
    truth = ((truth_bins + 0.5) * 128 / size - 0.5)[None]
    errors = _decode_errors({m: codec.with_decode(m) for m in ("reweight", "argmax",
                                                                "soft_argmax")}, maps, truth)
    assert errors["reweight"] < 0.5 * errors["argmax"], errors
    assert errors["reweight"] < 0.2 * errors["soft_argmax"], errors


# ------------------------------------------------------------------------------ region boxes
def test_region_boxes_prior_centre_bump_and_sizes():
    layer = zoo.layers.RegionBoxes(prior_sizes=[0.8, 0.3], center_prior=0.0)
    centres = _gaussian_maps([(4.3, 10.6), (12.0, 3.5)], 16, 1.5)
    log_sizes = np.zeros((1, 16, 16, 4), "float32")
    log_sizes[..., 2] = np.log(2.0)  # region 1, x: twice the prior width
    boxes = _numpy(layer([centres, log_sizes]))[0]
    centre = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    np.testing.assert_allclose(centre, (np.array([[4.3, 10.6], [12.0, 3.5]]) + 0.5) / 16,
                               atol=2e-3)
    np.testing.assert_allclose(boxes[:, 2:] - boxes[:, :2], [[0.8, 0.8], [0.6, 0.3]], atol=1e-5)
    # Zero heads (a fresh network): the prior boxes, centred (within one window cell).
    fresh = _numpy(zoo.layers.RegionBoxes([0.8, 0.3])(
        [np.zeros((1, 16, 16, 2), "float32"), np.zeros((1, 16, 16, 4), "float32")]))[0]
    np.testing.assert_allclose(fresh[:, 2:] - fresh[:, :2], [[0.8, 0.8], [0.3, 0.3]], atol=1e-5)
    assert np.abs(0.5 * (fresh[:, :2] + fresh[:, 2:]) - 0.5).max() < 1 / 16


def test_region_boxes_contract():
    rng = np.random.default_rng(4)
    inputs = [rng.uniform(0, 1, (2, 8, 8, 3)).astype("float32"),
              rng.normal(0, 0.1, (2, 8, 8, 6)).astype("float32")]
    run_layer_test(zoo.layers.RegionBoxes, {"prior_sizes": [0.8, 0.3, 0.3], "radius": 2},
                   inputs, expected_output_shape=(2, 3, 4), run_training=False)
    with pytest.raises(ValueError, match="Received: prior_sizes=\\[\\]"):
        zoo.layers.RegionBoxes([])
    with pytest.raises(ValueError, match="Received: threshold=1.0"):
        zoo.layers.RegionBoxes([0.5], threshold=1.0)


# ------------------------------------------------------------------------------ fusions
def test_cross_task_fusion_contract_and_attention_weighting():
    rng = np.random.default_rng(5)
    inputs = [rng.normal(size=(2, 8, 8, 8)).astype("float32"),
              rng.normal(size=(2, 8, 8, 5)).astype("float32")]
    model = run_layer_test(zoo.layers.CrossTaskFusion, {"filters": 12, "reduction": 4,
                                                         "spatial_kernel": 3},
                           inputs, expected_output_shape=(2, 8, 8, 12))
    layer = [l for l in model.layers if isinstance(l, zoo.layers.CrossTaskFusion)][0]
    # The region features matter: changing them changes the fused output.
    changed = [inputs[0], inputs[1] + 1.0]
    assert not np.allclose(_numpy(layer(inputs)), _numpy(layer(changed)))
    with pytest.raises(ValueError, match="Received: spatial_kernel=4"):
        zoo.layers.CrossTaskFusion(8, spatial_kernel=4)


def test_within_task_fusion_contract_and_gradient_reaches_every_block():
    import tensorflow as tf

    data = np.random.default_rng(6).normal(size=(2, 8, 8, 8)).astype("float32")
    run_layer_test(zoo.layers.WithinTaskFusion, {"filters": 8, "num_blocks": 2,
                                                  "scales": (1, 2, 4)},
                   data, expected_output_shape=(2, 8, 8, 8), atol=1e-5)
    layer = zoo.layers.WithinTaskFusion(8, num_blocks=3, scales=(1, 2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(data, training=True)))
    grads = tape.gradient(loss, layer.trainable_weights)
    named = {w.path: g for w, g in zip(layer.trainable_weights, grads)}
    for block in range(3):
        kernel = [g for path, g in named.items() if f"b{block}_s2_conv" in path][0]
        assert float(tf.reduce_max(tf.abs(kernel))) > 0, block
    with pytest.raises(ValueError, match="Received: scales"):
        zoo.layers.WithinTaskFusion(8, scales=(1, 1))
    with pytest.raises(ValueError, match="multiples of every scale"):
        zoo.layers.WithinTaskFusion(8, scales=(1, 3))(np.zeros((1, 8, 8, 8), "float32"))


# ------------------------------------------------------------------------------ codec
def _real_landmarks(fixtures_dir):
    path = sorted((fixtures_dir / "300w" / "pts_images").glob("*.pts"))[0]
    lines = path.read_text().splitlines()
    start = lines.index("{") + 1
    return np.array([[float(v) for v in line.split()] for line in lines[start:start + 68]],
                    "float32") - 1.0


def _to_crop(points, size, margin=0.25):
    low, high = points.min(0), points.max(0)
    side = (high - low).max() * (1 + margin)
    return ((points - (low + high) / 2) * size / side + (size - 1) / 2).astype("float32")


@pytest.mark.parametrize("input_size,heatmap_size", [(256, 64), (128, 32)])
def test_codec_round_trip_is_sub_pixel_on_real_landmarks(fixtures_dir, input_size, heatmap_size):
    landmarks = _to_crop(_real_landmarks(fixtures_dir), input_size)
    codec = zoo.codecs.RDFNCodec(input_size, heatmap_size)
    targets = codec.encode(landmarks)
    coords, scores = codec.decode({k: v[None] for k, v in targets.items()})
    assert np.abs(_numpy(coords)[0] - landmarks).max() < 0.01  # pixels
    assert _numpy(scores).min() > 0.5


def test_codec_region_targets(fixtures_dir):
    landmarks = _to_crop(_real_landmarks(fixtures_dir), 256)
    codec = zoo.codecs.RDFNCodec(256, 64, region_margin=0.1)
    assert codec.regions == ("face", "contour", "eyebrows", "nose", "eyes", "mouth")
    targets = {k: _numpy(v) for k, v in codec.encode(landmarks).items()}
    boxes = targets["region_boxes"]
    assert boxes.shape == (6, 4) and targets["region_heatmap"].shape == (64, 64, 6)
    points = (landmarks + 0.5) / 256
    scheme = zoo.schemes.get_scheme("300w")
    for name, box in zip(codec.regions, boxes):
        members = points if name == "face" else points[list(scheme.areas[name])]
        low, high = members.min(0), members.max(0)
        extent = np.maximum(high - low, 0.1 * (points.max(0) - points.min(0)).max())
        np.testing.assert_allclose(box[:2], (low + high) / 2 - 0.6 * extent, atol=1e-5)
        np.testing.assert_allclose(box[2:], (low + high) / 2 + 0.6 * extent, atol=1e-5)
    # Each region heatmap peaks at its box centre (region grid 64 over the input).
    x, y, _ = region_ops.location_reweighting(targets["region_heatmap"][None])
    centres = (np.stack([_numpy(x)[0], _numpy(y)[0]], -1) + 0.5) / 64
    np.testing.assert_allclose(centres, 0.5 * (boxes[:, :2] + boxes[:, 2:]), atol=1e-3)
    np.testing.assert_allclose(_numpy(codec.decode_regions(boxes[None]))[0], boxes * 256 - 0.5,
                               atol=1e-4)


def test_codec_config_registry_fit_and_errors():
    codec = zoo.codecs.RDFNCodec(256, 64, scheme="cofw", regions=("face", "eyes"))
    restored = zoo.codecs.get(json.loads(json.dumps(zoo.codecs.serialize(codec))))
    assert restored == codec and hash(restored) == hash(codec)
    assert restored.with_decode("argmax").decode_method == "argmax"
    assert restored.sigma == 4.0 and restored.region_sigma == 8.0  # one bin, two region cells
    fitted = codec.fit_to({"heatmap": (None, 2, 32, 32, 29), "region_heatmap": (None, 1, 16, 16, 2),
                           "region_boxes": (None, 1, 2, 4)}, input_size=64)
    assert (fitted.input_size, fitted.heatmap_size, fitted.region_heatmap_size) == (64, 32, 16)
    assert fitted.sigma == 2.0  # still one bin of the fitted map
    with pytest.raises(ValueError, match="Received: regions=\\('face', 'ears'\\)"):
        zoo.codecs.RDFNCodec(256, 64, regions=("face", "ears"))
    with pytest.raises(ValueError, match="Received: method='mean'"):
        zoo.codecs.RDFNCodec(256, 64, method="mean")
    with pytest.raises(ValueError, match="Received: num_landmarks=19"):
        zoo.codecs.RDFNCodec(256, 64, num_landmarks=19)
    with pytest.raises(ValueError, match="Received: radius=-1"):
        zoo.codecs.RDFNCodec(256, 64, radius=-1)
    with pytest.raises(ValueError, match="landmarks.shape"):
        codec.encode(np.zeros((68, 2), "float32"))


# ------------------------------------------------------------------------------ losses
def test_rdfn_losses_match_numpy_and_cover_the_codec():
    codec = zoo.codecs.RDFNCodec(128, 32)
    record = presets.get_architecture("rdfn")
    losses = record.make_losses(codec)
    assert set(losses) == set(codec.target_keys)
    rng = np.random.default_rng(0)
    true, pred = rng.uniform(0, 1, (3, 6, 4)), rng.uniform(0, 1, (3, 1, 6, 4))
    got = _numpy(zoo.losses.rdfn_region_box_loss(true.astype("float32"), pred.astype("float32")))
    np.testing.assert_allclose(got, 10.0 * np.abs(pred[:, 0] - true).sum((1, 2)), rtol=1e-5)
    heat_true, heat_pred = rng.uniform(size=(3, 8, 8, 6)), rng.uniform(size=(3, 1, 8, 8, 6))
    np.testing.assert_allclose(
        _numpy(losses["region_heatmap"](heat_true.astype("float32"), heat_pred.astype("float32"))),
        ((heat_pred[:, 0] - heat_true) ** 2).sum((1, 2, 3)), rtol=1e-5)
    with pytest.raises(ValueError, match="Received: target_keys"):
        zoo.losses.rdfn_losses(zoo.codecs.Heatmap2DCodec(128, 32))


# ------------------------------------------------------------------------------ model
def test_presets_are_registered_with_their_schemes():
    for name, landmarks, scheme in (("rdfn_300w", 68, "300w"), ("rdfn_aflw", 19, "aflw"),
                                    ("rdfn_cofw", 29, "cofw"), ("rdfn_small_300w", 68, "300w")):
        preset = zoo.get_preset(name)
        codec = zoo.codecs.get(preset.codec)
        assert (preset.architecture, preset.scheme, codec.scheme) == ("rdfn", scheme, scheme)
        assert preset.config["num_landmarks"] == landmarks
        assert preset.config["num_regions"] == codec.num_regions
        assert preset.description
    assert zoo.get_preset("rdfn_small_300w").input_size == 128


def test_tiny_model_contract_with_its_own_losses_and_targets():
    model = _tiny()
    assert model.name == "rdfn_small_300w"
    codec = _codec_for(model)
    assert (codec.input_size, codec.heatmap_size, codec.region_heatmap_size) == (32, 8, 8)
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    losses = zoo.losses.keras_losses(presets.get_architecture("rdfn").make_losses(codec))
    run_model_test(model, images, loss=losses, atol=1e-5)


def test_the_detected_face_box_decides_where_the_score_maps_go():
    """A fresh model pools the prior face box; a smaller detected box confines the maps."""
    model = _tiny(heatmap_size=16)
    images = np.random.default_rng(1).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    out = model(images)
    boxes = _numpy(out["region_boxes"])[0, 0]
    np.testing.assert_allclose(boxes[0, 2:] - boxes[0, :2], [0.8, 0.8], atol=1e-5)
    assert np.abs(_numpy(out["heatmap"])).max() > 0
    # Region 0's log-size bias = log(0.5): the face box side becomes 0.4, the pooled box
    # (square, +10 %) 0.44 around the centre, so the pasted maps vanish outside it.
    layer = model.get_layer("region_log_sizes")
    kernel, bias = layer.get_weights()
    bias[:2] = np.log(0.5)
    layer.set_weights([kernel, bias])
    out = model(images)
    face = _numpy(out["region_boxes"])[0, 0, 0]
    np.testing.assert_allclose(face[2:] - face[:2], [0.4, 0.4], atol=1e-5)
    pooled = _numpy(region_ops.square_boxes(face, 0.1))
    heatmap = _numpy(out["heatmap"])[0, 0]  # (16, 16, N)
    cells = (np.arange(16) + 0.5) / 16
    # A cell gets weight only when its centre is within one region-frame cell of the box.
    reach = (pooled[2] - pooled[0]) / 8
    outside_x = (cells < pooled[0] - reach) | (cells > pooled[2] + reach)
    outside_y = (cells < pooled[1] - reach) | (cells > pooled[3] + reach)
    assert outside_x.sum() >= 6 and outside_y.sum() >= 6
    assert np.abs(heatmap[:, outside_x]).max() == 0.0
    assert np.abs(heatmap[outside_y]).max() == 0.0
    assert np.abs(heatmap[~outside_y][:, ~outside_x]).max() > 0


@pytest.mark.slow
def test_rdfn_300w_builds_and_passes_the_contract():
    model = zoo.create("rdfn_300w")
    assert tuple(model.output["heatmap"].shape) == (None, 2, 64, 64, 68)
    assert tuple(model.output["region_boxes"].shape) == (None, 1, 6, 4)
    assert model.count_params() == zoo.get_preset("rdfn_300w").num_params
    codec = _codec_for(model)
    images = np.random.default_rng(0).uniform(0, 255, (2, 256, 256, 3)).astype("float32")
    losses = zoo.losses.keras_losses(presets.get_architecture("rdfn").make_losses(codec))
    run_model_test(model, images, loss=losses, atol=1e-4)


@pytest.mark.slow
def test_paper_presets_build_with_their_shapes():
    for name, landmarks in (("rdfn_aflw", 19), ("rdfn_cofw", 29), ("rdfn_small_300w", 68)):
        model = zoo.create(name)
        size = zoo.get_preset(name).config["heatmap_size"]
        stacks = zoo.get_preset(name).config["num_stacks"]
        assert tuple(model.output["heatmap"].shape) == (None, stacks, size, size, landmarks)
        assert model.count_params() == zoo.get_preset(name).num_params, name


def test_bad_builder_arguments():
    with pytest.raises(ValueError, match="Received: pool_region=6"):
        zoo.models.build_rdfn(pool_region=6)
    with pytest.raises(ValueError, match="Received: input_size=40"):
        zoo.models.build_rdfn(input_size=40, region_depth=2)
    with pytest.raises(ValueError, match="Received: region_prior_sizes"):
        zoo.models.build_rdfn(region_prior_sizes=[0.8])
