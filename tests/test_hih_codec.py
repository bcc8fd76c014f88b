"""HIHCodec: the authors' targets and decode (checked against a numpy port of their code), the
expectation decode, the CSC soft labels, on real 300-W landmarks."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

import zoo.codecs
from zoo.codecs import HIHCodec
from zoo.codecs.hih import soft_labels
from zoo.tools import quantization

DATA_300W = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "300w")


# ---- an independent numpy port of the authors' code ----------------------------------------
# lib/dataset/gen_heads.py (gen_heat, gen_woo_head, gen_afc_head, gen_hih_head) and
# lib/dataset/decode_heads.py (decode_woo_head, decode_hih_head) of
# github.com/starhiking/HeatmapInHeatmap, loops and all; only torch is replaced by numpy.

def _gen_heat(sigma):
    tmp_size = sigma * 3
    size = 2 * tmp_size + 1
    x = np.arange(0, size, 1, dtype=np.float32)
    y = x[:, np.newaxis]
    x0 = y0 = size // 2
    return np.exp(- ((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma ** 2))


def _gen_woo_head(target_w_size, heat, heatmap_size, sigma):
    target_map = np.zeros((target_w_size.shape[0], heatmap_size, heatmap_size), np.float32)
    tmp_size = sigma * 3
    is_sigma_int = sigma % 1 < 1e-6
    for i in range(target_w_size.shape[0]):
        pt, pt_map = target_w_size[i], target_map[i]
        if is_sigma_int:
            ul = np.array([round(pt[0] - tmp_size), round(pt[1] - tmp_size)], dtype=int)
            br = np.array([round(pt[0] + tmp_size), round(pt[1] + tmp_size)], dtype=int)
        else:
            ul = np.array([pt[0] - tmp_size, pt[1] - tmp_size], dtype=int)
            br = np.array([pt[0] + tmp_size, pt[1] + tmp_size], dtype=int)
        if ul[0] >= pt_map.shape[1] or ul[1] >= pt_map.shape[0] or br[0] < 0 or br[1] < 0:
            continue
        br += 1
        g_x = max(0, -ul[0]), min(br[0], pt_map.shape[1]) - ul[0]
        g_y = max(0, -ul[1]), min(br[1], pt_map.shape[0]) - ul[1]
        pt_x = max(0, ul[0]), min(br[0], pt_map.shape[1])
        pt_y = max(0, ul[1]), min(br[1], pt_map.shape[0])
        pt_map[pt_y[0]:pt_y[1], pt_x[0]:pt_x[1]] = heat[g_y[0]:g_y[1], g_x[0]:g_x[1]]
    return target_map


def official_targets(landmarks, input_size=256, heatmap_size=64, offset_size=8,
                     heatmap_sigma=1.5, offset_sigma=1.0):
    """gen_hih_head on ``target_w_size = normalised landmark * heatmap_size``.

    The authors' labels are normalised to [0, 1]; the pixel-edge normalisation (p + 0.5) / F
    is the codec's documented reading of it. float32 as theirs (``pts_array`` is float32).
    """
    scale = np.float32(heatmap_size / input_size)
    target_w_size = (np.asarray(landmarks, np.float32) + np.float32(0.5)) * scale
    target_int = np.clip(np.floor(target_w_size), 0, heatmap_size - 1)
    offset_float = target_w_size - target_int
    target_map = _gen_woo_head(target_int, _gen_heat(heatmap_sigma), heatmap_size,
                               heatmap_sigma)
    offset_map = _gen_woo_head(offset_float * offset_size, _gen_heat(offset_sigma), offset_size,
                               offset_sigma)
    return target_map, offset_map  # (N, S, S), (N, d, d)


def _decode_woo_head(maps):
    flat = maps.reshape(maps.shape[0], maps.shape[1], -1)
    index, peak = flat.argmax(-1), flat.max(-1)
    preds = np.stack([index % maps.shape[3], index // maps.shape[3]], -1).astype(np.float64)
    return preds * (peak > 0)[..., None]


def official_decode(target_maps, offset_maps, input_size=256):
    """decode_hih_head (``(B, N, S, S)``, ``(B, N, d, d)``) mapped back to input pixels."""
    heatmap_size, offset_size = target_maps.shape[-1], offset_maps.shape[-1]
    preds = _decode_woo_head(target_maps) + _decode_woo_head(offset_maps) / offset_size
    return preds * input_size / heatmap_size - 0.5


# ---- real landmarks -------------------------------------------------------------------------

def _fixture_crops(fixtures_dir, name="face_landmarks_300w_test.csv", input_size=256):
    faces = quantization.read_annotations(os.path.join(fixtures_dir, "300w", "hrnet_csv", name))
    return np.stack([quantization.hrnet_crop(p, c, s, input_size)
                     for p, c, s in faces]).astype(np.float32)


def _data_crops(input_size=256):
    """The 300-W training labels of ../shared/data/300w, HRNet-cropped (no images read)."""
    folders = [os.path.join(DATA_300W, *parts) for parts in
               (("afw",), ("helen", "trainset"), ("lfpw", "trainset"))]
    crops = []
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            if name.endswith(".pts"):
                points = quantization.read_pts(os.path.join(folder, name))  # 0-based
                crops.append(quantization.hrnet_crop(points, None, None, input_size))
    return np.stack(crops).astype(np.float32)


def _nme_percent(predicted, target):
    return 100 * quantization.nme(predicted, target, quantization.EYE_CORNERS[68]).mean()


def test_targets_and_decode_match_the_authors_code_on_real_300w(fixtures_dir):
    crops = _fixture_crops(fixtures_dir)  # 600 faces, 300-W test
    codec = HIHCodec(256)  # the authors' settings: 64 x 64, sigma 1.5; 8 x 8, sigma 1.0
    # Their kernel placement truncates towards zero, which moves the integer peak for floored
    # cells below 3 sigma (see the next test); HRNet crops keep every landmark above them.
    floored = np.floor((crops + 0.5) / 4)
    assert floored.min() >= 5
    dataset = tf.data.Dataset.from_tensor_slices(crops).map(codec.encode).batch(100)
    decoded, worst = [], 0.0
    for start, batch in zip(range(0, len(crops), 100), dataset):
        reference_int, reference_dec = [], []
        for face in crops[start:start + 100]:
            target_map, offset_map = official_targets(face)
            reference_int.append(target_map)
            reference_dec.append(offset_map)
        reference_int = np.stack(reference_int)  # (B, N, S, S)
        reference_dec = np.stack(reference_dec)
        ours_int = np.transpose(batch["integer"].numpy(), (0, 3, 1, 2))
        ours_dec = np.transpose(batch["decimal"].numpy(), (0, 3, 1, 2))
        worst = max(worst, np.abs(ours_int - reference_int).max(),
                    np.abs(ours_dec - reference_dec).max())
        coords, _ = codec.decode(batch)
        np.testing.assert_allclose(np.asarray(coords),
                                   official_decode(reference_int, reference_dec), atol=1e-4)
        decoded.append(np.asarray(coords))
    assert worst < 1e-6
    # The official representation loses about 0.16 % NME (512-cell quantiser, 0.5 px cells).
    official = _nme_percent(np.concatenate(decoded), crops)
    assert 0.05 < official < 0.3


@pytest.mark.parametrize("source", ["fixtures", "data"])
def test_expectation_decode_round_trip_loses_under_0_05_percent(source, fixtures_dir):
    if source == "data":
        if not os.path.isdir(DATA_300W):
            pytest.skip(f"no 300-W training labels at {DATA_300W} (research-only data)")
        crops = _data_crops()
    else:
        crops = _fixture_crops(fixtures_dir)
    codec = HIHCodec(256, method="expectation", decimal_target="continuous")
    decoded = quantization.round_trip(codec, crops, batch_size=100)
    errors = _nme_percent(decoded, crops)
    assert errors < 0.05, f"{errors:.4f} % NME on {len(crops)} faces"
    # The authors' argmax decode on the same continuous targets is the quantiser again.
    argmax = quantization.round_trip(codec.with_decode("argmax"), crops, batch_size=100)
    assert _nme_percent(argmax, crops) > 5 * errors


def test_expectation_also_helps_on_the_authors_rounded_targets(fixtures_dir):
    crops = _fixture_crops(fixtures_dir)[:100]
    rounded = HIHCodec(256, method="expectation")
    error = np.abs(quantization.round_trip(rounded, crops) - crops)
    # The rounded target holds the nearest decimal cell only: half a cell (0.25 px), also for
    # fractions that round to the cell past the map, which the argmax clips to the last cell.
    assert error.max() <= 0.25 + 1e-3
    assert np.abs(quantization.round_trip(HIHCodec(256), crops) - crops).max() > 0.26


def test_peak_sits_on_the_floored_cell_also_below_3_sigma():
    # Cell 2 (input pixels 8..11 at stride 4): the authors' int() placement puts the peak on
    # cell 3; the codec keeps it on the floored cell (a documented deviation).
    point = np.array([[9.7, 130.2]], np.float32)
    ours = HIHCodec(256).encode(point)["integer"].numpy()[..., 0]
    theirs, _ = official_targets(point)
    assert np.unravel_index(ours.argmax(), ours.shape) == (32, 2)
    assert np.unravel_index(theirs[0].argmax(), theirs[0].shape) == (32, 3)
    # Away from the border both are the same map.
    far = np.array([[40.3, 130.2]], np.float32)
    np.testing.assert_allclose(HIHCodec(256).encode(far)["integer"].numpy()[..., 0],
                               official_targets(far)[0][0], atol=1e-6)


def test_kernel_windows_are_the_authors():
    codec = HIHCodec(256)
    targets = codec.encode(np.array([[130.0, 130.0]], np.float32))
    row = targets["integer"].numpy()[32, :, 0]  # (130 + 0.5) / 4 = 32.6: cell 32
    # sigma 1.5 cuts at floor(-4.5) .. floor(4.5) = -5 .. 4.
    assert np.flatnonzero(row).tolist() == list(range(27, 37))
    np.testing.assert_allclose(row[32 + 4], np.exp(-16 / 4.5), rtol=1e-6)
    # decimal: c = 0.625 * 8 = 5 -> the 7-cell window 2 .. 8 cut by the 8-cell map.
    assert np.flatnonzero(targets["decimal"].numpy()[5, :, 0]).tolist() == [2, 3, 4, 5, 6, 7]


def test_expectation_reads_logits_up_to_a_constant():
    codec = HIHCodec(64, integer_size=16, method="expectation", decimal_target="continuous")
    points = np.random.default_rng(3).uniform(6, 58, (10, 2)).astype(np.float32)
    targets = {k: v.numpy()[None] for k, v in codec.encode(points).items()}
    shifted = dict(targets, decimal=targets["decimal"] * 1.0 - 3.7)
    a, _ = codec.decode(targets)
    b, _ = codec.decode(shifted)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-4)
    np.testing.assert_allclose(np.asarray(a)[0], points, atol=0.01)


def test_soft_labels_are_a_softmax_over_the_cells():
    values = np.random.default_rng(0).uniform(size=(2, 8, 8, 3)).astype(np.float32)
    labels = np.asarray(soft_labels(values))
    flat = values.transpose(0, 3, 1, 2).reshape(2, 3, 64)
    expected = np.exp(flat) / np.exp(flat).sum(-1, keepdims=True)
    np.testing.assert_allclose(labels.transpose(0, 3, 1, 2).reshape(2, 3, 64), expected,
                               atol=1e-6)
    np.testing.assert_allclose(HIHCodec(256).soft_labels(values), labels)


def test_config_decode_switch_and_fit_to():
    codec = HIHCodec(256, method="expectation", decimal_target="continuous", num_landmarks=68)
    restored = zoo.codecs.get(json.loads(json.dumps(zoo.codecs.serialize(codec))))
    assert restored == codec
    assert codec.decode_methods == ("argmax", "expectation")
    assert codec.with_decode("argmax").method == "argmax"
    fitted = codec.fit_to({"integer": (None, 2, 32, 32, 68), "decimal": (None, 1, 8, 8, 68)},
                          input_size=128)
    assert (fitted.input_size, fitted.integer_size, fitted.decimal_size) == (128, 32, 8)
    assert fitted.decimal_target == "continuous" and fitted.method == "expectation"


@pytest.mark.parametrize("factory,match", [
    (lambda: HIHCodec(256, method="softargmax"), r"Allowed: \('argmax', 'expectation'\)"),
    (lambda: HIHCodec(256, decimal_target="centred"), "decimal_target='centred'"),
    (lambda: HIHCodec(256, decimal_size=1), "decimal_size=1"),
    (lambda: HIHCodec(256, integer_size=48), "integer_size=48"),
    (lambda: HIHCodec.from_config({"input_size": 256, "sigma": 2}), "sigma=2"),
])
def test_bad_arguments_raise(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()
