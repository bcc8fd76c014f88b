"""Property-based tests (Hypothesis) of the codec round trips and the metrics.

Codecs: for any face of N points inside the crop (away from the border, where a Gaussian is
cut by the crop and the error is the crop's, not the codec's), ``decode(encode(p))`` is ``p``
within each codec's sub-pixel bound, at any crop size and heatmap ratio the codec accepts.
Metrics: NME is invariant to moving and scaling both faces together, is ``|d| / d_io`` for a
constant offset ``d``, and is zero only on the ground truth; failure rate, CED and AUC stay in
[0, 1] and move the right way with the threshold. Example counts keep all fuzz tests well
inside two minutes in CI (``ZOO_FUZZ_EXAMPLES`` scales them for a deeper run).
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import zoo.metrics
from zoo.codecs import Heatmap1DCodec, Heatmap2DCodec, HIHCodec

_SCALE = int(os.environ.get("ZOO_FUZZ_EXAMPLES", 60)) / 60
_CODEC_SETTINGS = dict(max_examples=max(1, int(15 * _SCALE)), deadline=None, derandomize=True,
                       database=None, suppress_health_check=[HealthCheck.too_slow])
_METRIC_SETTINGS = dict(max_examples=max(1, int(60 * _SCALE)), deadline=None, derandomize=True,
                        database=None)


@st.composite
def faces(draw, size, num_points=(1, 12), margin=0.15):
    """(N, 2) float32 points inside the central part of a ``size`` crop."""
    n = draw(st.integers(*num_points))
    low, high = margin * size, (1 - margin) * size - 1
    values = draw(st.lists(st.floats(low, high, allow_nan=False), min_size=2 * n,
                           max_size=2 * n))
    return np.asarray(values, np.float32).reshape(n, 2)


def _round_trip(codec, points):
    targets = codec.encode(points)
    coords, scores = codec.decode({k: v[None] for k, v in targets.items()})
    return np.asarray(coords)[0], np.asarray(scores)[0]


# (factory(size) -> codec, max round-trip error per axis in input pixels as a function of size)
_CODECS = {
    "1d_refined": (lambda size, ratio: Heatmap1DCodec(size, size * ratio), lambda s, r: 2e-3),
    "1d_argmax": (lambda size, ratio: Heatmap1DCodec(size, size * ratio, refine=False),
                  lambda s, r: 0.5 / r + 1e-3),
    # sigma 1.5 bins, as in test_codecs (a narrower peak leaves the parabola too few values)
    "2d_parabola": (lambda size, ratio: Heatmap2DCodec(size, size // 2, sigma=3 * size / 64,
                                                       method="parabola"),
                    lambda s, r: 2e-2),
    "2d_argmax": (lambda size, ratio: Heatmap2DCodec(size, size, method="argmax"),
                  lambda s, r: 0.5 + 1e-3),
    "hih_authors": (lambda size, ratio: HIHCodec(size, integer_size=size // 4, decimal_size=8),
                    lambda s, r: 4 / 8 + 1e-3),
}


@pytest.mark.parametrize("name", sorted(_CODECS))
def test_codec_round_trip_is_sub_pixel_for_any_face(name):
    factory, bound = _CODECS[name]

    @settings(**_CODEC_SETTINGS)
    @given(size=st.sampled_from([32, 64, 96]), ratio=st.sampled_from([1, 2, 3]),
           data=st.data())
    def run(size, ratio, data):
        codec = factory(size, ratio)
        points = data.draw(faces(size))
        coords, scores = _round_trip(codec, points)
        assert coords.shape == points.shape and scores.shape == (len(points),)
        assert np.all(np.isfinite(coords)) and np.all(np.isfinite(scores))
        error = np.abs(coords - points).max()
        assert error <= bound(size, ratio), (codec, points, coords, error)
        assert np.all(scores > 0.3) and np.all(scores <= 1.0 + 1e-5)

    run()


@settings(**_METRIC_SETTINGS)
@given(data=st.data(), shift=st.tuples(st.floats(-500, 500), st.floats(-500, 500)),
       scale=st.floats(0.05, 20.0))
def test_nme_is_invariant_to_moving_and_scaling_both_faces(data, shift, scale):
    gt = data.draw(faces(256, num_points=(68, 68), margin=0.0)).astype(np.float64)[None]
    pred = gt + data.draw(faces(16, num_points=(68, 68), margin=0.0)).astype(np.float64)[None]
    assume(np.linalg.norm(gt[0, 36] - gt[0, 45]) > 5.0)  # the normaliser is not degenerate
    base = zoo.metrics.nme(pred, gt, scheme="300w")
    moved = zoo.metrics.nme(pred * scale + shift, gt * scale + shift, scheme="300w")
    np.testing.assert_allclose(moved, base, rtol=1e-6, atol=1e-9)
    assert base[0] >= 0 and zoo.metrics.nme(gt, gt, scheme="300w")[0] == 0.0


@settings(**_METRIC_SETTINGS)
@given(data=st.data(), offset=st.tuples(st.floats(-30, 30), st.floats(-30, 30)))
def test_nme_of_a_constant_offset_is_its_length_over_the_interocular_distance(data, offset):
    gt = data.draw(faces(256, num_points=(68, 68), margin=0.0)).astype(np.float64)[None]
    interocular = np.linalg.norm(gt[0, 36] - gt[0, 45])
    assume(interocular > 5.0)
    nme = zoo.metrics.nme(gt + np.asarray(offset), gt, scheme="300w")[0]
    np.testing.assert_allclose(nme, np.hypot(*offset) / interocular, rtol=1e-9, atol=1e-12)


@settings(**_METRIC_SETTINGS)
@given(errors=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=50),
       low=st.floats(0.01, 0.2), extra=st.floats(0.001, 0.2))
def test_failure_rate_ced_and_auc_are_fractions_that_move_with_the_threshold(errors, low, extra):
    errors = np.asarray(errors)
    high = low + extra
    fr_low, fr_high = (zoo.metrics.failure_rate(errors, t) for t in (low, high))
    assert 0.0 <= fr_high <= fr_low <= 1.0
    assert fr_low == pytest.approx(np.mean(errors > low))
    for threshold in (low, high):
        area = zoo.metrics.auc(errors, threshold, step=threshold / 100)
        assert -1e-9 <= area <= 1.0 + 1e-9
        x, y = zoo.metrics.ced(errors, threshold, step=threshold / 100)
        assert np.all(np.diff(x) > 0) and np.all(np.diff(y) >= 0)
        assert 0.0 <= y[0] and y[-1] <= 1.0
        assert y[-1] == pytest.approx(1.0 - zoo.metrics.failure_rate(errors, threshold))
    # a better method (every error smaller) never has a smaller AUC
    assert zoo.metrics.auc(errors / 2, high, step=high / 100) >= \
        zoo.metrics.auc(errors, high, step=high / 100) - 1e-9


@settings(**_METRIC_SETTINGS)
@given(values=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                 st.just(float("nan"))), min_size=1, max_size=8))
def test_metrics_refuse_non_finite_input_with_a_value_error(values):
    errors = np.asarray(values, np.float64)
    bad = not np.all(np.isfinite(errors) & (errors >= 0))
    try:
        zoo.metrics.failure_rate(errors)
    except ValueError as error:
        assert bad and "Received: errors[" in str(error)
    else:
        assert not bad
