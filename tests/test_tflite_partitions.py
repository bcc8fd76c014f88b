"""The shipped mobile exports run inside LiteRT's XNNPACK delegate (issue 13).

Before this change the mobile tracker step was 12 XNNPACK partitions with 47 of its 349 ops
outside the delegate (SELECT_V2, comparisons and casts of the decode, EXPAND_DIMS of the
refinement's 1D convolutions, the run-time-shaped reshape and strided slice that picked the
last stack, PACK of the landmarks). These tests assert the graph property, not a timing: the
only ops XNNPACK may leave out are named below with their reason, and every partition
boundary is one of them.
"""
import numpy as np
import pytest

import zoo
import zoo.export
import zoo.inference
from zoo.codecs import base
from zoo.codecs.heatmap_1d import decode_axis
from zoo.export import tflite

# The accurate mobile tracker and the phone tracker (lite stem, post-activated blocks).
TRACKERS = ["aheat1d_tracker_mobile_300vw", "aheat1d_tracker_lite_300vw"]
DETECTORS = ["aheat1d_mobile_300w", "aheat1d_lite_300w"]

# Ops XNNPACK may leave out, each with its reason. Nothing of the decode, the temporal
# refinement or the stack selection is allowed here.
ALLOWED_OUTSIDE = {
    # The uint8 frame -> float32 cast of the export signature: XNNPACK has no CAST; it runs
    # once before the first partition and does not split the graph.
    "CAST",
}
# Ops that XNNPACK never takes or that only come from run-time shapes, none allowed at all.
# RESIZE_NEAREST_NEIGHBOR: the hourglass' 2x upsampling is concatenations and reshapes now
# (zoo/layers/hourglass.py); each resize op split the graph into one more partition.
FORBIDDEN = {"RESIZE_NEAREST_NEIGHBOR", "SELECT_V2", "SELECT", "STRIDED_SLICE", "SHAPE", "PACK", "EXPAND_DIMS", "EQUAL",
             "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL", "LOGICAL_AND",
             "ONE_HOT", "GATHER", "ARG_MAX", "ARG_MIN"}


def _check_partitions(report):
    undelegated = sorted({name for _, name, _ in report["undelegated"]})
    assert set(undelegated) <= ALLOWED_OUTSIDE, report["undelegated"]
    assert not FORBIDDEN & set(report["op_counts"]), report["op_counts"]
    casts = [index for index, name, _ in report["undelegated"] if name == "CAST"]
    assert casts in ([], [0]), report["undelegated"]  # only the input cast, first
    assert report["num_partitions"] == 1, report  # the whole graph in one XNNPACK partition


@pytest.mark.slow
@pytest.mark.parametrize("tracker", TRACKERS)
def test_shipped_tracker_step_runs_in_xnnpack_and_matches_keras(tmp_path, tracker):
    stream, info = zoo.inference.load_tracker(tracker)
    assert info["weights"] != "random"
    # export_tflite refuses the file unless float32 LiteRT matches Keras at batch 1 and 2.
    result = zoo.export.export_tflite(stream.step_model, tmp_path / "step.tflite")
    report = tflite.xnnpack_partitions(result.path)
    _check_partitions(report)
    # The state carried over frames: two steps of LiteRT and Keras agree.
    runner = tflite.StreamingRunner(result.path, num_threads=1)
    frames = np.random.default_rng(0).integers(0, 256, (2, 1, 128, 128, 3), dtype=np.uint8)
    state = stream.initial_state(1)
    for frame in frames:
        got = runner.step(frame)
        want, state = stream.step(frame.astype("float32"), state)
        np.testing.assert_allclose(got["landmarks"], np.asarray(want["landmarks"]), atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("detector", DETECTORS)
def test_shipped_mobile_detector_export_runs_in_xnnpack(detector):
    # Trained weights, as shipped: the graph depends on them (zero batch-norm offsets of fresh
    # weights are folded away, trained ones are not).
    model = zoo.load(detector)
    assert model.weights != "random"
    _check_partitions(tflite.xnnpack_partitions(tflite.convert(model.keras_model, "float32")))


def test_partition_report_finds_an_op_left_out_of_xnnpack():
    # A comparison and a select between delegated ops: two partitions, both ops left out.
    import keras
    from keras import ops

    images = keras.Input((8, 8, 3), name="images")
    hidden = keras.layers.Conv2D(4, 3)(images)
    masked = ops.where(ops.greater(hidden, 0.0), hidden, 0.5 * hidden)
    model = keras.Model(images, {"landmarks": keras.layers.Conv2D(2, 1)(masked)})
    report = tflite.xnnpack_partitions(tflite.convert(model, "float32"))
    left_out = {name for _, name, _ in report["undelegated"]}
    assert {"GREATER", "SELECT_V2"} <= left_out
    assert "CONV_2D" not in left_out
    assert report["num_partitions"] == 2


def _reference_decode(heatmap, length, refine):
    """The decode before issue 13's rewrite (zoo.codecs.base helpers, with where/one-hot)."""
    from keras import ops

    position, peak = base.argmax_last(heatmap)
    if refine:
        left, right, interior = base.neighbours(heatmap, ops.cast(position, "int32"), length)
        position = position + base.log_parabola_offset(left, peak, right, interior)
    return position, peak


def _heatmaps():
    rng = np.random.default_rng(0)
    length = 64
    bins = np.arange(length, dtype="float32")
    centres = rng.uniform(-3, length + 3, (16, 7, 1))
    gaussians = np.exp(-0.5 * ((bins - centres) / 2.5) ** 2)
    edges = np.zeros((6, 7, length), "float32")
    edges[0, :, 0] = 1.0  # peak at the first bin
    edges[1, :, -1] = 1.0  # peak at the last bin
    edges[2] = 1.0  # flat: the first bin wins
    edges[3, :, 10:13] = 2.0  # a tie: the first of three
    edges[4] = -1.0  # below the log clamp everywhere
    edges[5, :, 20] = 1.0
    edges[5, :, 21] = 1.0  # two equal bins: curvature 0 on one side
    return [rng.normal(size=(16, 7, length)),
            gaussians,
            gaussians + rng.normal(scale=0.05, size=gaussians.shape),
            rng.integers(0, 3, (16, 7, length)),  # many ties
            rng.uniform(-1e-5, 1e-5, (16, 7, length)),  # tiny values, all below the clamp
            edges]


@pytest.mark.parametrize("refine", [False, True])
def test_arithmetic_decode_is_bit_exact_with_the_where_decode(refine):
    for heatmap in _heatmaps():
        heatmap = np.asarray(heatmap, "float32")
        want = _reference_decode(heatmap, heatmap.shape[-1], refine)
        got = decode_axis(heatmap, heatmap.shape[-1], refine)
        for name, a, b in zip(("position", "peak"), got, want):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)


def test_refinement_convolutions_without_expand_dims_match_conv1d():
    import keras

    from zoo.layers.temporal_refinement import conv_1d_as_conv_2d

    x = np.random.default_rng(1).normal(size=(3, 24, 5)).astype("float32")
    for kernel_size, strides, padding in ((4, 4, "same"), (4, 1, "same"), (3, 2, "same"),
                                          (1, 1, "valid"), (3, 1, "valid")):
        conv = keras.layers.Conv1D(6, kernel_size, strides=strides, padding=padding,
                                   activation="tanh")
        want = np.asarray(conv(x))
        np.testing.assert_allclose(np.asarray(conv_1d_as_conv_2d(x, conv)), want, atol=1e-6,
                                   err_msg=f"kernel {kernel_size}, stride {strides}, {padding}")
    with pytest.raises(ValueError, match="padding='causal'"):
        conv_1d_as_conv_2d(x, keras.layers.Conv1D(2, 3, padding="causal"))
