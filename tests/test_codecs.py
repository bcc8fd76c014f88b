"""Codecs: round trips, Eq. 12, validation, config, tf.data, the HeatmapDecoder layer, export."""
import json
import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo.codecs
from zoo.codecs import Heatmap1DCodec, Heatmap2DCodec, HIHCodec
from zoo.layers import HeatmapDecoder
from zoo.tools import quantization

from contract import run_layer_test

RNG = np.random.default_rng(7)
# Random points away from the border (a Gaussian cut by the border is not a representation
# error but a crop problem), in a 64-pixel input.
POINTS = RNG.uniform(10.0, 53.0, size=(20, 2)).astype("float32")


def _round_trip(codec, points):
    targets = codec.encode(points)
    coords, scores = codec.decode({k: v[None] for k, v in targets.items()})
    return np.asarray(coords)[0], np.asarray(scores)[0]


# (codec, max per-axis round-trip error in input pixels): all sub-pixel.
ROUND_TRIPS = [
    (Heatmap1DCodec(64, 192), 1e-3),  # refined: exact up to float32
    (Heatmap1DCodec(64, 64), 1e-3),
    (Heatmap1DCodec(64, 192, refine=False), 64 / 192 / 2 + 1e-4),  # argmax: half a bin
    (Heatmap2DCodec(64, 64, method="argmax"), 0.5 + 1e-4),
    # sigma in input pixels: 3 px = 1.5 bins of these 32 x 32 maps (the default F / 64 = 1 px
    # would be half a bin here, too narrow for a peak value above 0.5 between bins).
    (Heatmap2DCodec(64, 32, sigma=3.0, method="parabola"), 1e-3),
    (Heatmap2DCodec(64, 32, sigma=3.0, method="integral"), 1e-2),
    (Heatmap2DCodec(64, 64, method="quarter_offset"), 0.25 + 1e-4),
    # The authors' HIH decode: half a decimal cell, a whole one where the fraction rounds to
    # the cell past the 8-cell map (argmax on the last cell; see zoo.codecs.hih).
    (HIHCodec(64, integer_size=16, decimal_size=8), 64 / 16 / 8 + 1e-4),
    (HIHCodec(64, integer_size=16, decimal_size=8, method="expectation"), 64 / 16 / 8 / 2 + 1e-3),
    (HIHCodec(64, integer_size=16, decimal_size=8, method="expectation",
              decimal_target="continuous"), 1e-2),
]


@pytest.mark.parametrize("codec,tolerance", ROUND_TRIPS, ids=lambda v: repr(v)[:60])
def test_round_trip_is_sub_pixel(codec, tolerance):
    coords, scores = _round_trip(codec, POINTS)
    assert coords.shape == (20, 2) and scores.shape == (20,)
    assert np.abs(coords - POINTS).max() <= tolerance
    assert np.all(scores > 0.5) and np.all(scores <= 1.0 + 1e-6)


def test_argmax_error_reaches_half_bin_and_refinement_removes_it():
    # Just past a 1D bin edge (edges at k * F / L - 0.5 = k / 3 - 0.5): argmax is ~half a bin
    # (1/6 pixel) off.
    points = np.array([[10.0 + 1 / 3 - 0.5 + 0.01, 20.0]], "float32")
    argmax, _ = _round_trip(Heatmap1DCodec(64, 192, refine=False), points)
    refined, _ = _round_trip(Heatmap1DCodec(64, 192), points)
    assert np.abs(argmax - points).max() > 0.15
    assert np.abs(refined - points).max() < 1e-3


def test_targets_follow_the_bin_centre_convention():
    # sigma = 2 input pixels = 6 bins of a 192-bin axis over 64 pixels.
    codec = Heatmap1DCodec(input_size=64, heatmap_size=192, sigma=2.0)
    assert codec.sigma_bins == 6.0
    # Input coordinate of bin j's centre: (j + 0.5) * F / L - 0.5; a landmark there gives a
    # target whose maximum is exactly 1 at bin j.
    j = 100
    p = (j + 0.5) * 64 / 192 - 0.5
    targets = codec.encode(np.array([[p, p]], "float32"))
    x = np.asarray(targets["x"])[0]
    assert x.argmax() == j
    np.testing.assert_allclose(x[j], 1.0, atol=1e-6)
    np.testing.assert_allclose(x[j + 2], np.exp(-4 / (2 * 36)), atol=1e-6)


def test_1d_targets_are_the_marginals_of_the_2d_target():
    # Eq. 12: h^x* = sum_y H*(x, y), normalised to a continuous peak of 1.
    one_d = Heatmap1DCodec(64, 32, sigma=3.0)  # input pixels: 1.5 bins at L / F = 1/2
    two_d = Heatmap2DCodec(64, 32, sigma=3.0)
    assert one_d.sigma_bins == two_d.sigma_bins == 1.5
    points = POINTS[:4]
    heatmap = np.asarray(two_d.encode(points)["heatmap"])  # (H, W, N)
    vectors = one_d.encode(points)
    v = (points[:, 1] + 0.5) * 32 / 64 - 0.5
    y_norm = np.exp(-(np.arange(32)[None] - v[:, None]) ** 2 / (2 * 1.5 ** 2)).sum(1)
    marginal_x = heatmap.sum(axis=0).T / y_norm[:, None]
    np.testing.assert_allclose(np.asarray(vectors["x"]), marginal_x, atol=1e-5)


def test_encode_runs_in_tf_data_map_and_graph_mode():
    for codec in (Heatmap1DCodec(64, 192), Heatmap2DCodec(64, 16), HIHCodec(64, 16, 4)):
        dataset = tf.data.Dataset.from_tensor_slices(POINTS[None].repeat(3, 0)).map(
            codec.encode).batch(3)
        batch = next(iter(dataset))
        eager = codec.encode(POINTS)
        for key, value in eager.items():
            assert batch[key].shape == (3,) + tuple(value.shape)
            np.testing.assert_allclose(batch[key][1], value, atol=1e-6)
        coords, _ = codec.decode(batch)
        assert coords.shape == (3, 20, 2)


def test_decode_traces_in_tf_function_with_unknown_batch():
    codec = Heatmap1DCodec(64, 192)
    spec = {"x": tf.TensorSpec([None, 20, 192]), "y": tf.TensorSpec([None, 20, 192])}
    decode = tf.function(lambda outputs: codec.decode(outputs), input_signature=[spec])
    targets = codec.encode(POINTS)
    coords, scores = decode({k: v[None] for k, v in targets.items()})
    assert np.abs(np.asarray(coords)[0] - POINTS).max() < 1e-3


@pytest.mark.parametrize("bad", [np.zeros((5, 3)), np.zeros((5,)), np.zeros((2, 5, 2))],
                         ids=["cols3", "rank1", "rank3"])
def test_wrong_shape_raises(bad):
    with pytest.raises(ValueError, match=r"shape \(N, 2\).*Received: landmarks.shape"):
        Heatmap1DCodec(64, 64).encode(bad.astype("float32"))


def test_num_landmarks_mismatch_raises():
    with pytest.raises(ValueError, match="68 rows.*Received"):
        Heatmap2DCodec(64, 16, num_landmarks=68).encode(POINTS)


def test_nan_raises_eagerly_and_in_tf_data():
    points = POINTS.copy()
    points[3, 1] = np.nan
    for codec in (Heatmap1DCodec(64, 64), Heatmap2DCodec(64, 16), HIHCodec(64, 16)):
        with pytest.raises(ValueError, match="NaN"):
            codec.encode(points)
    dataset = tf.data.Dataset.from_tensor_slices(points[None]).map(Heatmap1DCodec(64, 64).encode)
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN"):
        next(iter(dataset))


@pytest.mark.parametrize("factory,match", [
    (lambda: Heatmap1DCodec(256, 767), "heatmap_size=767"),
    (lambda: Heatmap2DCodec(256, 60), "heatmap_size=60"),
    (lambda: HIHCodec(256, integer_size=48), "integer_size=48"),
    (lambda: Heatmap1DCodec(256, 0), "heatmap_size=0"),
    (lambda: Heatmap1DCodec(256, 768, sigma=-1), "sigma=-1"),
    (lambda: Heatmap2DCodec(256, 64, method="softargmax"), "method='softargmax'"),
    (lambda: Heatmap1DCodec(256, 768, refine="yes"), "refine='yes'"),
    (lambda: zoo.codecs.get({"class_name": "SimCCCodec", "config": {}}), "SimCCCodec"),
    (lambda: zoo.codecs.get("heatmap"), "identifier='heatmap'"),
])
def test_bad_arguments_raise_value_error(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_decode_rejects_bad_outputs():
    codec = Heatmap1DCodec(64, 192)
    with pytest.raises(ValueError, match="keys"):
        codec.decode({"heatmap": np.zeros((1, 4, 4, 2), "float32")})
    with pytest.raises(ValueError, match="rank 3"):
        codec.decode({"x": np.zeros((2, 192), "float32"), "y": np.zeros((2, 192), "float32")})
    with pytest.raises(ValueError, match="length 192"):
        codec.decode({"x": np.zeros((1, 2, 64), "float32"), "y": np.zeros((1, 2, 64), "float32")})


@pytest.mark.parametrize("codec", [Heatmap1DCodec(256, 768, num_landmarks=68),
                                   Heatmap2DCodec(256, 64, sigma=2.0, method="integral",
                                                  integral_beta=10.0),
                                   HIHCodec(256, 64, 4, 1.0, 0.5)], ids=repr)
def test_config_round_trip_through_json(codec):
    config = json.loads(json.dumps(zoo.codecs.serialize(codec)))
    restored = zoo.codecs.get(config)
    assert type(restored) is type(codec)
    assert restored.get_config() == codec.get_config()
    assert type(codec).from_config(codec.get_config()) == codec
    assert zoo.codecs.get(codec) is codec


def test_scores_drop_on_a_flat_prediction():
    codec = Heatmap1DCodec(64, 64)
    flat = {"x": np.full((1, 2, 64), 0.1, "float32"), "y": np.full((1, 2, 64), 0.1, "float32")}
    _, scores = codec.decode(flat)
    np.testing.assert_allclose(np.asarray(scores), 0.1, atol=1e-6)


def test_quarter_offset_moves_towards_the_larger_neighbour():
    heatmap = np.zeros((1, 8, 8, 1), "float32")
    heatmap[0, 3, 4, 0], heatmap[0, 3, 5, 0], heatmap[0, 2, 4, 0] = 1.0, 0.5, 0.3
    coords, scores = Heatmap2DCodec(8, 8, method="quarter_offset").decode({"heatmap": heatmap})
    np.testing.assert_allclose(np.asarray(coords)[0, 0], [4.25, 2.75], atol=1e-6)
    np.testing.assert_allclose(np.asarray(scores)[0, 0], 1.0)


# ---- real landmarks (300W, HRNet crop to 256) ------------------------------------------------

def test_real_300w_round_trip_bars(fixtures_dir):
    path = os.path.join(fixtures_dir, "300w", "hrnet_csv", "face_landmarks_300w_valid_challenge.csv")
    faces = quantization.read_annotations(path)
    codecs = {"1d768": Heatmap1DCodec(256, 768), "2d64": Heatmap2DCodec(256, 64, method="argmax"),
              "hih": HIHCodec(256)}
    errors, info = quantization.representation_errors(faces, codecs)
    assert info["faces"] == 135 and info["landmarks"] == 68
    assert errors["1d768"] <= 0.0002  # at most 0.02 % NME
    assert 0.009 <= errors["2d64"] <= 0.016
    assert errors["hih"] < errors["2d64"] / 4


# ---- HeatmapDecoder layer -------------------------------------------------------------------

LAYER_CASES = [
    (Heatmap1DCodec(32, 96), {"x": (2, 3, 96), "y": (2, 3, 96)}),
    (Heatmap2DCodec(32, 8), {"heatmap": (2, 8, 8, 3)}),
    (HIHCodec(32, 8, 4), {"integer": (2, 8, 8, 3), "decimal": (2, 4, 4, 3)}),
]


def _random_inputs(shapes):
    rng = np.random.default_rng(0)
    return {k: rng.uniform(0, 1, size=s).astype("float32") for k, s in shapes.items()}


@pytest.mark.parametrize("codec,shapes", LAYER_CASES, ids=lambda v: type(v).__name__)
def test_heatmap_decoder_contract(codec, shapes):
    run_layer_test(HeatmapDecoder, {"codec": zoo.codecs.serialize(codec)},
                   _random_inputs(shapes),
                   expected_output_shape={"landmarks": (2, 3, 2), "scores": (2, 3)},
                   run_training=False)


def test_heatmap_decoder_matches_codec_and_takes_last_stack():
    codec = Heatmap1DCodec(32, 96)
    layer = HeatmapDecoder(codec)
    targets = codec.encode(POINTS[:3] / 2)
    single = {k: np.asarray(v)[None] for k, v in targets.items()}
    stacked = {k: np.stack([np.zeros_like(v), v], axis=1) for k, v in single.items()}
    out = layer(stacked)
    coords, scores = codec.decode(single)
    np.testing.assert_allclose(np.asarray(out["landmarks"]), np.asarray(coords), atol=1e-6)
    np.testing.assert_allclose(np.asarray(out["landmarks"])[0], POINTS[:3] / 2, atol=1e-3)
    assert layer.compute_output_shape({k: v.shape for k, v in stacked.items()}) == {
        "landmarks": (1, 3, 2), "scores": (1, 3)}
    with pytest.raises(ValueError, match="codec"):
        HeatmapDecoder({"class_name": "Nope"})


@pytest.mark.parametrize("codec,shapes", LAYER_CASES, ids=lambda v: type(v).__name__)
def test_heatmap_decoder_exports_to_tflite_and_onnx(codec, shapes):
    import tf2onnx
    import onnxruntime
    from ai_edge_litert.interpreter import Interpreter

    inputs = {k: keras.Input(shape=s[1:], name=k) for k, s in shapes.items()}
    model = keras.Model(inputs, HeatmapDecoder(codec)(inputs))
    # Clean targets of real points plus noise, so the argmax is unique and refinement active.
    points = np.array([[9.3, 17.9], [15.2, 20.6], [22.1, 12.4]], "float32")
    targets = codec.encode(points)
    data = {k: np.repeat(np.asarray(v)[None], 2, 0) for k, v in targets.items()}
    expected = model(data)
    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        runner = Interpreter(model_content=converter.convert()).get_signature_runner()
        lite = runner(**data)
        lite_values = sorted(lite.values(), key=lambda a: a.ndim)
        np.testing.assert_allclose(lite_values[1], np.asarray(expected["landmarks"]), atol=1e-4)
        np.testing.assert_allclose(lite_values[0], np.asarray(expected["scores"]), atol=1e-5)
    spec = tuple(tf.TensorSpec((None,) + s[1:], tf.float32, name=k) for k, s in shapes.items())
    onnx_model, _ = tf2onnx.convert.from_function(
        tf.function(lambda *a: model(dict(zip(shapes, a)))), input_signature=spec, opset=18)
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString())
    names = [o.name for o in session.get_outputs()]
    results = dict(zip(names, session.run(None, {k: data[k] for k in shapes})))
    by_rank = sorted(results.values(), key=lambda a: a.ndim)
    np.testing.assert_allclose(by_rank[1], np.asarray(expected["landmarks"]), atol=1e-4)
    np.testing.assert_allclose(by_rank[0], np.asarray(expected["scores"]), atol=1e-5)
    # Sanity: the exported decoder still finds the points (coarsest case: 4-pixel bins with
    # the quarter offset, at most a quarter bin = 1 pixel off).
    assert np.abs(np.asarray(expected["landmarks"])[0] - points).max() <= 1.0 + 1e-4
