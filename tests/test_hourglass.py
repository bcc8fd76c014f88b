"""FAN's multi-scale residual block and the hourglass module."""
import numpy as np
import pytest

import zoo
from contract import run_layer_test


def test_residual_block_contract_with_projection():
    data = np.random.default_rng(0).normal(size=(2, 8, 8, 8)).astype("float32")
    run_layer_test(zoo.layers.MultiScaleResidualBlock, {"filters": 16}, data,
                   expected_output_shape=(2, 8, 8, 16))


def test_residual_block_branch_widths_and_identity_skip():
    block = zoo.layers.MultiScaleResidualBlock(16)
    block.build((None, 8, 8, 16))
    # Bulat & Tzimiropoulos 2017: three chained 3x3 convs of F/2, F/4, F/4 channels.
    assert [tuple(c.kernel.shape) for c in block.convs] == [(3, 3, 16, 8), (3, 3, 8, 4),
                                                             (3, 3, 4, 4)]
    assert block.skip_conv is None  # same width: identity skip
    # With zeroed conv kernels the block is exactly the identity (out = concat(0) + x).
    for conv in block.convs:
        conv.kernel.assign(np.zeros(conv.kernel.shape, "float32"))
    data = np.random.default_rng(1).normal(size=(1, 8, 8, 16)).astype("float32")
    np.testing.assert_allclose(np.asarray(block(data)), data, atol=1e-6)


def test_hourglass_contract():
    # Depth 1 keeps the traced training step small; depth 3 is exercised below.
    data = np.random.default_rng(2).normal(size=(2, 4, 4, 16)).astype("float32")
    run_layer_test(zoo.layers.Hourglass, {"filters": 16, "depth": 1}, data,
                   expected_output_shape=(2, 4, 4, 16))


def test_hourglass_sees_the_whole_map():
    """The pooled branch gives every output pixel a view of far-away input pixels."""
    hourglass = zoo.layers.Hourglass(16, depth=3)
    data = np.random.default_rng(3).normal(size=(1, 16, 16, 16)).astype("float32")
    changed = data.copy()
    changed[0, 0, 0] += 10.0
    difference = np.abs(np.asarray(hourglass(changed)) - np.asarray(hourglass(data)))
    # A 3x3-only path would need 5 chained convs per level to reach (15, 15) from (0, 0).
    assert difference[0, 15, 15].max() > 1e-6


def test_separable_hourglass_has_fewer_weights():
    dense = zoo.layers.Hourglass(32, depth=2)
    separable = zoo.layers.Hourglass(32, depth=2, separable=True)
    dense.build((None, 8, 8, 32))
    separable.build((None, 8, 8, 32))
    assert separable.count_params() < dense.count_params() / 3


@pytest.mark.parametrize("kwargs, shape, match", [
    ({"filters": 16, "depth": 0}, None, "Received: depth=0"),
    ({"filters": 16, "depth": 2}, (None, 6, 6, 16), "Received: input_shape="),
    ({"filters": 16, "depth": 1}, (None, 8, 8, 8), "Received: input_shape="),
    ({"filters": 10, "depth": 1}, None, "Received: filters=10"),
])
def test_bad_arguments_raise(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        layer = zoo.layers.Hourglass(**kwargs)
        layer.build(shape)
