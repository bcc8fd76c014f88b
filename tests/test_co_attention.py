"""CoAttention (Eq. 9-10) against a plain numpy implementation written from the paper."""
import numpy as np
import pytest

import zoo
from contract import run_layer_test


def _softmax_rows(a):
    a = a - a.max(axis=-1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=-1, keepdims=True)


def _numpy_co_attention(dx, dy, p, q, gamma):
    """Eq. 9-10 channel by channel in float64, in the paper's own notation."""
    batch, m, n, channels = dx.shape
    out_x, out_y = np.zeros_like(dx, np.float64), np.zeros_like(dy, np.float64)
    for b in range(batch):
        for k in range(channels):
            d_x = dx[b, :, :, k].astype(np.float64)        # D^x_k, (m x n)
            d_y = dy[b, :, :, k].astype(np.float64).T      # D^y_k, (n x m): (D^y_k)^T is m x n
            d = q.shape[1]                                 # column number of P and Q
            w_yx = _softmax_rows(d_x @ q @ d_y / np.sqrt(d))        # Eq. 9, (m x m)
            w_xy = _softmax_rows(d_y.T @ p @ d_x.T / np.sqrt(d))    # Eq. 9, (m x m)
            out_x[b, :, :, k] = d_x + gamma * w_yx @ d_y.T          # Eq. 10
            out_y[b, :, :, k] = (d_y + gamma * (w_xy @ d_x).T).T    # Eq. 10, back to (m x n)
    return out_x, out_y


@pytest.mark.parametrize("gamma", [0.4, 1.0])
def test_matches_numpy_eq_9_10_with_random_p_q(gamma):
    rng = np.random.default_rng(1)
    dx = rng.normal(size=(2, 12, 5, 3)).astype("float32")
    dy = rng.normal(size=(2, 12, 5, 3)).astype("float32")
    layer = zoo.layers.CoAttention(gamma=gamma)
    layer.build([dx.shape, dy.shape])
    p = rng.normal(size=(5, 5)).astype("float32")
    q = rng.normal(size=(5, 5)).astype("float32")
    layer.p.assign(p)
    layer.q.assign(q)
    got_x, got_y = (np.asarray(t) for t in layer([dx, dy]))
    want_x, want_y = _numpy_co_attention(dx, dy, p, q, gamma)
    np.testing.assert_allclose(got_x, want_x, atol=1e-5, rtol=0)
    np.testing.assert_allclose(got_y, want_y, atol=1e-5, rtol=0)
    # The attentive term is really there (not a near-identity by accident).
    assert np.abs(got_x - dx).max() > 1e-2 and np.abs(got_y - dy).max() > 1e-2


def test_p_and_q_act_on_different_branches():
    rng = np.random.default_rng(2)
    dx, dy = (rng.normal(size=(1, 6, 4, 2)).astype("float32") for _ in range(2))
    layer = zoo.layers.CoAttention(gamma=0.5)
    layer([dx, dy])
    before_x, before_y = (np.asarray(t) for t in layer([dx, dy]))
    layer.p.assign(rng.normal(size=(4, 4)).astype("float32") * 3)
    after_x, after_y = (np.asarray(t) for t in layer([dx, dy]))
    np.testing.assert_array_equal(before_x, after_x)  # P only enters W^xy (the y output)
    assert np.abs(before_y - after_y).max() > 1e-3


def test_gamma_zero_returns_inputs_unchanged():
    rng = np.random.default_rng(3)
    dx, dy = (rng.normal(size=(2, 8, 4, 3)).astype("float32") for _ in range(2))
    layer = zoo.layers.CoAttention(gamma=0.0)
    out_x, out_y = layer([dx, dy])
    np.testing.assert_array_equal(np.asarray(out_x), dx)
    np.testing.assert_array_equal(np.asarray(out_y), dy)


def test_weights_named_p_q_of_shape_n_by_n():
    layer = zoo.layers.CoAttention(gamma=0.4)
    layer.build([(None, 16, 4, 8), (None, 16, 4, 8)])
    assert layer.p.path.endswith("p") and layer.q.path.endswith("q")
    assert tuple(layer.p.shape) == (4, 4) and tuple(layer.q.shape) == (4, 4)


def test_contract():
    rng = np.random.default_rng(4)
    data = [rng.normal(size=(2, 8, 4, 3)).astype("float32") for _ in range(2)]
    run_layer_test(zoo.layers.CoAttention, {"gamma": 0.4}, data,
                   expected_output_shape=[(2, 8, 4, 3), (2, 8, 4, 3)])


@pytest.mark.parametrize("gamma", [-0.1, float("nan"), "0.4", None])
def test_bad_gamma_raises(gamma):
    with pytest.raises(ValueError, match="Received: gamma="):
        zoo.layers.CoAttention(gamma=gamma)


def test_mismatched_inputs_raise():
    layer = zoo.layers.CoAttention(gamma=0.4)
    with pytest.raises(ValueError, match="Received: input_shape="):
        layer.build([(None, 8, 4, 3), (None, 8, 2, 3)])
