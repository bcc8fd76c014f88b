"""Every heatmap resolution of the 1D paper's Table 1 (L = 64 ... 768 at F = 256) builds,
encodes, decodes and trains; sigma is one width in input pixels for all of them."""
import os

import numpy as np
import pytest

import zoo
import zoo.codecs
import zoo.losses
from zoo.codecs import Heatmap1DCodec, Heatmap2DCodec
from zoo.tools import quantization

TABLE1_LENGTHS = (64, 128, 256, 384, 512, 640, 768)
F = 256


@pytest.fixture(scope="module")
def real_crops(fixtures_dir):
    """135 real 300W faces (iBUG) in HRNet's 256 crop, only points inside the crop."""
    path = os.path.join(fixtures_dir, "300w", "hrnet_csv", "face_landmarks_300w_valid_challenge.csv")
    crops = np.stack([quantization.hrnet_crop(p, c, s, F)
                      for p, c, s in quantization.read_annotations(path)]).astype(np.float32)
    inside = np.all((crops > 0.0) & (crops < F - 1.0), axis=(1, 2))
    return crops[inside]


def _round_trip(codec, crops):
    return quantization.round_trip(codec, crops)


@pytest.mark.parametrize("length", TABLE1_LENGTHS)
def test_1d_codec_round_trips_real_landmarks_at_every_table1_length(real_crops, length):
    assert len(real_crops) > 100
    refined = Heatmap1DCodec(F, length)
    argmax = refined.with_decode("argmax")
    assert (refined.decode_method, argmax.decode_method) == ("refined", "argmax")
    # One target width in the image for every L: 4 px = F / 64, sigma * L / F bins.
    assert refined.sigma == 4.0 and refined.sigma_bins == pytest.approx(4.0 * length / F)
    error_refined = np.abs(_round_trip(refined, real_crops) - real_crops)
    error_argmax = np.abs(_round_trip(argmax, real_crops) - real_crops)
    assert error_refined.max() < 2e-3  # exact up to float32
    # Eq. 7: the nearest bin, at most half a bin (F / 2L pixels) off per axis, and on real
    # (continuous) landmarks the mean error is close to a quarter bin.
    assert error_argmax.max() <= F / (2 * length) + 1e-3
    assert 0.8 * F / (4 * length) < error_argmax.mean() < 1.2 * F / (4 * length)


def test_argmax_error_falls_with_length_as_in_table1(real_crops):
    errors = [np.linalg.norm(_round_trip(Heatmap1DCodec(F, L, refine=False), real_crops)
                             - real_crops, axis=-1).mean() for L in TABLE1_LENGTHS]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors


def test_lengths_off_the_quarter_grid_are_still_refused():
    for bad in (767, 320 + 1, 96 + 1):
        with pytest.raises(ValueError, match=f"heatmap_size={bad}"):
            Heatmap1DCodec(F, bad)
    Heatmap1DCodec(F, 192)  # 3F / 4 is on the grid
    with pytest.raises(ValueError, match="heatmap_size=384"):
        Heatmap2DCodec(F, 384)  # the 2D codec keeps whole ratios (its L stops at 128-256)


def _target_width_pixels(profile, length):
    """Standard deviation of a 1D target profile, in input pixels."""
    centres = (np.arange(length) + 0.5) * F / length - 0.5
    weights = profile / profile.sum()
    mean = (weights * centres).sum()
    return float(np.sqrt((weights * (centres - mean) ** 2).sum()))


def test_default_sigma_is_the_same_image_width_for_every_codec_and_length():
    point = np.array([[120.3, 131.7]], np.float32)
    widths = {}
    for length in TABLE1_LENGTHS:
        widths[f"1d{length}"] = _target_width_pixels(
            np.asarray(Heatmap1DCodec(F, length).encode(point)["x"])[0], length)
    for size in (64, 128):
        heatmap = np.asarray(Heatmap2DCodec(F, size).encode(point)["heatmap"])[..., 0]
        widths[f"2d{size}"] = _target_width_pixels(heatmap.sum(axis=0), size)
    # Sampled at one bin or finer, a Gaussian keeps its spread: 4 px at every L, 1D and 2D.
    for name, width in widths.items():
        assert width == pytest.approx(4.0, abs=1e-3), (name, width)
    # A preset or --sigma still sets its own width, in pixels whatever L.
    assert _target_width_pixels(np.asarray(Heatmap1DCodec(F, 768, sigma=2.0).encode(point)["x"])[0],
                                768) == pytest.approx(2.0, abs=1e-3)


@pytest.mark.parametrize("length", TABLE1_LENGTHS)
def test_detector_builds_at_every_table1_length(length):
    # The paper's F = 256 (features 64 wide, so M = L / 64 = 1 ... 12); a narrow backbone keeps
    # the build quick, the 1D heads are the paper's layout.
    model = zoo.create("aheat1d_300w", heatmap_length=length, num_stacks=1, width=16,
                       hourglass_depth=1, head_channels=8)
    assert tuple(model.output["x"].shape) == (None, 1, 68, length)
    assert tuple(model.output["y"].shape) == (None, 1, 68, length)
    outputs = model(np.zeros((1, F, F, 3), "float32"), training=False)
    coords, _ = Heatmap1DCodec(F, length).decode({key: outputs[key][:, -1] for key in ("x", "y")})
    assert tuple(coords.shape) == (1, 68, 2)


@pytest.mark.parametrize("length", (384, 640))
def test_detector_trains_and_decodes_at_the_lengths_once_refused(real_crops, length):
    import keras
    import tensorflow as tf

    model = zoo.create("aheat1d_300w", heatmap_length=length, num_stacks=1, width=16,
                       hourglass_depth=1, head_channels=8)
    codec = Heatmap1DCodec(F, length)
    landmarks = real_crops[:2]
    targets = [codec.encode(points) for points in landmarks]
    batch = {key: tf.stack([t[key] for t in targets])[:, None] for key in ("x", "y")}
    images = np.random.default_rng(0).uniform(0, 255, (2, F, F, 3)).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=zoo.losses.detector_losses(model))
    history = model.fit(images, batch, epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    outputs = model(images, training=False)
    coords, scores = codec.decode({key: outputs[key][:, -1] for key in ("x", "y")})
    assert tuple(coords.shape) == (2, 68, 2) and np.all(np.isfinite(np.asarray(coords)))
    # Decoding the training targets recovers the real landmarks at this L.
    clean, _ = codec.decode({key: batch[key][:, 0] for key in ("x", "y")})
    np.testing.assert_allclose(np.asarray(clean), landmarks, atol=2e-3)
