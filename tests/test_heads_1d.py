"""The 1D heads: CNN_1 -> co-attention -> CNN_2 -> deconvolution (kernel = stride = M)."""
import numpy as np
import pytest

import zoo
from contract import run_layer_test
from zoo.layers.heads_1d import check_heatmap_length

TINY = {"num_landmarks": 5, "heatmap_length": 24, "channels": 8, "compress_steps": 1,
        "gamma": 0.4}


def test_contract():
    data = np.random.default_rng(0).normal(size=(2, 8, 8, 16)).astype("float32")
    run_layer_test(zoo.layers.Heatmap1DHeads, TINY, data,
                   expected_output_shape=[(2, 5, 24), (2, 5, 24)])


@pytest.mark.parametrize("length", [64, 128, 256, 384, 512, 640, 768])
def test_table_1_lengths_at_feature_width_64(length):
    # Table 1: L = 64 ... 768 for a 256 input (64x64 features): M = L / 64.
    assert check_heatmap_length(length, 64) == (length // 64, 1)


def test_length_below_feature_width_compresses_the_kept_axis():
    assert check_heatmap_length(32, 64) == (1, 2)
    heads = zoo.layers.Heatmap1DHeads(**{**TINY, "heatmap_length": 4})
    hx, hy = heads(np.zeros((1, 8, 8, 16), "float32"))
    assert tuple(hx.shape) == (1, 5, 4) and tuple(hy.shape) == (1, 5, 4)


def test_deconvolution_kernel_equals_stride_m():
    heads = zoo.layers.Heatmap1DHeads(**TINY)
    heads.build((None, 8, 8, 16))
    deconv = heads.cnn2_x[-1]
    assert deconv.kernel_size == (3,) and deconv.strides == (3,)  # M = 24 / 8
    # CoAttention's P, Q are (n x n) with n = 8 / 2**compress_steps.
    assert tuple(heads.co_attention.p.shape) == (4, 4)


def test_each_bin_block_comes_from_one_kept_position():
    """Kernel = stride = M: the M bins of block j depend only on kept position j (x branch)."""
    heads = zoo.layers.Heatmap1DHeads(**{**TINY, "gamma": 0.0})
    heads.build((None, 8, 8, 16))
    deconv = heads.cnn2_x[-1]
    squeezed = np.random.default_rng(1).normal(size=(1, 8, 8)).astype("float32")
    base = np.asarray(deconv(squeezed))
    changed = squeezed.copy()
    changed[0, 2] += 1.0
    difference = np.abs(np.asarray(deconv(changed)) - base).max(axis=-1)[0]
    assert np.all(difference[6:9] > 0) and np.all(difference[:6] == 0) \
        and np.all(difference[9:] == 0)


def test_x_heatmaps_follow_x_and_y_heatmaps_follow_y():
    """With gamma = 0, a change in one image column moves only its x bins."""
    heads = zoo.layers.Heatmap1DHeads(**{**TINY, "gamma": 0.0})
    data = np.random.default_rng(2).normal(size=(1, 8, 8, 16)).astype("float32")
    base_x, base_y = (np.asarray(t) for t in heads(data))
    changed = data.copy()
    changed[0, :, 5] += 5.0  # column x = 5, every row
    new_x, new_y = (np.asarray(t) for t in heads(changed))
    moved_x = np.abs(new_x - base_x).max(axis=1)[0]  # per bin
    # x-branch: CNN_1^x has 3x3 kernels, so columns 4-6 (bins 12..20) may change, no others.
    assert moved_x[15:18].max() > 0
    assert moved_x[:12].max() == 0 and moved_x[21:].max() == 0
    assert np.abs(new_y - base_y).max() > 0  # every row changed, so y moves too


@pytest.mark.parametrize("kwargs, shape, match", [
    ({"heatmap_length": 20}, (None, 8, 8, 16), "Received: heatmap_length=20"),
    ({"heatmap_length": 3}, (None, 8, 8, 16), "Received: heatmap_length=3"),
    ({"compress_steps": 4}, (None, 8, 8, 16), "Received: input_shape="),
    ({}, (None, 8, 6, 16), "Received: input_shape="),
    ({"gamma": -1.0}, (None, 8, 8, 16), "Received: gamma=-1.0"),
    ({"num_landmarks": 0}, None, "Received: num_landmarks=0"),
])
def test_bad_arguments_raise(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        heads = zoo.layers.Heatmap1DHeads(**{**TINY, **kwargs})
        heads.build(shape)


@pytest.mark.parametrize("kernel, stride, padding", [(3, 3, "valid"), (3, 4, "same"), (4, 4, "same")])
def test_transpose_conv_as_matmul_equals_the_layer(kernel, stride, padding):
    # The exported graphs compute CNN_2's / CNN_4's transposed convolutions as one matmul with
    # static shapes (XNNPACK runs it); it must be the same function as the Keras layer.
    import keras

    from zoo.layers.heads_1d import transpose_conv_1d_as_matmul

    layer = keras.layers.Conv1DTranspose(5, kernel, strides=stride, padding=padding,
                                         activation="relu", bias_initializer="glorot_uniform")
    x = np.random.default_rng(3).normal(size=(2, 6, 8)).astype("float32")
    reference = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(transpose_conv_1d_as_matmul(x, layer)), reference, atol=1e-5)
    bad = keras.layers.Conv1DTranspose(5, 5, strides=4, padding="same")
    bad.build((None, 6, 8))
    with pytest.raises(ValueError, match="Received: layer="):
        transpose_conv_1d_as_matmul(x, bad)
