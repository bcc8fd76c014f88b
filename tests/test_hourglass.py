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


def test_upsampling_is_nearest_2x_bit_exact():
    # Concatenations and reshapes (so that LiteRT's XNNPACK runs it) with the values of
    # UpSampling2D(2, "nearest"): out[i, j] = in[i // 2, j // 2], also at batch > 1.
    import keras

    from zoo.layers.hourglass import _upsample_nearest_2x

    x = np.random.default_rng(0).normal(size=(3, 4, 5, 6)).astype("float32")
    got = keras.ops.convert_to_numpy(_upsample_nearest_2x(x))
    want = keras.ops.convert_to_numpy(keras.layers.UpSampling2D(2, interpolation="nearest")(x))
    assert got.shape == (3, 8, 10, 6)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got[:, 5, 7], x[:, 2, 3])


def test_lite_stem_keeps_the_feature_size_and_costs_less():
    # stem="lite" (issue 13, the phone tracker): the same F/4 features, no full-resolution
    # block, so fewer weights; a bad name is refused with the allowed ones.
    small = dict(num_landmarks=5, input_size=32, num_stacks=1, width=16, hourglass_depth=2,
                 heatmap_length=24, head_channels=8, compress_steps=1)
    fan = zoo.models.build_aheat1d(**small)
    lite = zoo.models.build_aheat1d(**small, stem="lite")
    image = np.zeros((2, 32, 32, 3), "float32")
    assert tuple(lite(image)["x"].shape) == tuple(fan(image)["x"].shape) == (2, 1, 5, 24)
    assert lite.get_layer("stem_down").output.shape[1:3] == (8, 8)
    assert lite.count_params() < fan.count_params()
    with pytest.raises(ValueError, match=r"\('fan', 'lite'\). Received: stem='tiny'"):
        zoo.models.build_aheat1d(**small, stem="tiny")


def test_post_activated_block_contract_and_order():
    data = np.random.default_rng(3).normal(size=(2, 8, 8, 8)).astype("float32")
    run_layer_test(zoo.layers.MultiScaleResidualBlock, {"filters": 16, "preactivation": False},
                   data, expected_output_shape=(2, 8, 8, 16))
    block = zoo.layers.MultiScaleResidualBlock(16, preactivation=False)
    block.build((None, 8, 8, 8))
    # conv-BN-ReLU: each batch norm sits on its convolution's output channels.
    assert [tuple(n.gamma.shape) for n in block.norms] == [(8,), (4,), (4,)]
    assert tuple(block.skip_norm.gamma.shape) == (16,)
    # Every branch output is a ReLU (>= 0); the pre-activated block's are not.
    x = np.asarray(block(data))
    residual = np.asarray(block.skip_norm(block.skip_conv(data)))
    assert (x - residual).min() >= -1e-6
    assert zoo.layers.MultiScaleResidualBlock.from_config(block.get_config()).preactivation \
        is False


@pytest.mark.parametrize("preactivation, batch_norm_ops", [(True, True), (False, False)])
def test_post_activated_batch_norms_fold_into_the_convolutions(preactivation, batch_norm_ops):
    # Trained (non-identity) batch norms: pre-activated, each is a MUL and an ADD over the
    # feature map in the LiteRT graph; post-activated, the converter folds them all away.
    import keras

    from zoo.export import tflite

    inputs = keras.Input((16, 16, 3))  # the export takes an RGB image (cast from uint8)
    block = zoo.layers.MultiScaleResidualBlock(16, separable=True, preactivation=preactivation)
    # The export's signature wants a "landmarks" output: the block's map as (B, -1, 2) points.
    model = keras.Model(inputs, {"landmarks": keras.layers.Reshape((-1, 2))(block(inputs))})
    rng = np.random.default_rng(4)
    for norm in list(block.norms) + [block.skip_norm]:
        norm.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if i in (0, 3)
                          else rng.normal(0, 0.3, w.shape).astype("float32")
                          for i, w in enumerate(norm.get_weights())])
    counts = tflite.xnnpack_partitions(tflite.convert(model, "float32"))["op_counts"]
    counts.pop("CAST", None)
    assert ("MUL" in counts) is batch_norm_ops, counts
    if not preactivation:
        # Depth-wise + point-wise per branch, the 1x1 projection, one concatenation, one add;
        # batch norms folded and ReLUs fused into the convolutions (the rest of the graph is
        # the output reshape).
        assert {k: counts.get(k, 0) for k in ("DEPTHWISE_CONV_2D", "CONV_2D", "CONCATENATION",
                                              "ADD", "RELU", "MUL")} == {
            "DEPTHWISE_CONV_2D": 3, "CONV_2D": 4, "CONCATENATION": 1, "ADD": 1, "RELU": 0,
            "MUL": 0}, sorted(counts.items())
