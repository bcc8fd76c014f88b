"""Tests of zoo.layers.TemporalRefinement / TemporalRefinementCell (Eq. 13, tracker Sec. 4.2)."""
import keras
import numpy as np
import pytest
from keras import ops

from tests.contract import run_layer_test
from zoo.layers.temporal_refinement import TemporalRefinement, TemporalRefinementCell

TINY = dict(filters=4, kernel_size=3, downsample=2, output_initializer="glorot_uniform")


def _clips(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=shape).astype("float32")


def _stream(cell, clips):
    """Runs the explicit-state step form frame by frame; returns outputs and states (B, T, ...)."""
    state = cell.get_initial_state(batch_size=clips.shape[0])[0]
    outputs, states = [], []
    for t in range(clips.shape[1]):
        output, [state] = cell(clips[:, t], [state])
        outputs.append(ops.convert_to_numpy(output))
        states.append(ops.convert_to_numpy(state))
    return np.stack(outputs, axis=1), np.stack(states, axis=1)


@pytest.mark.parametrize("rank, shape", [(1, (2, 3, 5, 8)), (2, (2, 3, 8, 8, 5))])
def test_layer_contract(rank, shape):
    run_layer_test(TemporalRefinement, dict(decay=0.3, rank=rank, **TINY), _clips(shape),
                   expected_output_shape=shape)


def test_layer_contract_unrolled_with_state():
    layer_kwargs = dict(decay=0.3, unroll=True, return_state=True, **TINY)
    run_layer_test(TemporalRefinement, layer_kwargs, _clips((2, 3, 5, 8)),
                   expected_output_shape=[(2, 3, 5, 8), (2, 4, 4)])


@pytest.mark.parametrize("unroll", [False, True])
def test_clip_equals_step_by_step(unroll):
    clips = _clips((2, 6, 5, 16))
    layer = TemporalRefinement(decay=0.3, unroll=unroll, return_state=True, **TINY)
    sequence_out, last_state = layer(clips)
    step_out, step_states = _stream(layer.cell, clips)
    np.testing.assert_allclose(ops.convert_to_numpy(sequence_out), step_out, atol=1e-5, rtol=0)
    np.testing.assert_allclose(ops.convert_to_numpy(last_state), step_states[:, -1], atol=1e-5,
                               rtol=0)
    # The refinement is not a no-op with these weights (otherwise equality would be trivial).
    assert np.abs(step_out - clips).max() > 1e-3


def test_stateful_streaming_and_reset():
    clips = _clips((1, 8, 5, 16), seed=1)
    reference = TemporalRefinement(decay=0.3, **TINY)
    expected = ops.convert_to_numpy(reference(clips))
    streaming = TemporalRefinement(decay=0.3, stateful=True, **TINY)
    streaming.build((1, 1, 5, 16))
    streaming.set_weights(reference.get_weights())
    # Frame by frame through the stateful layer, state carried between calls.
    streamed = np.concatenate(
        [ops.convert_to_numpy(streaming(clips[:, t:t + 1])) for t in range(8)], axis=1)
    np.testing.assert_allclose(streamed, expected, atol=1e-5, rtol=0)
    # Without a reset the first frame sees the old video; one reset_state() call forgets it.
    again = ops.convert_to_numpy(streaming(clips[:, :1]))
    assert np.abs(again - expected[:, :1]).max() > 1e-4
    streaming.reset_state()
    np.testing.assert_allclose(ops.convert_to_numpy(streaming(clips[:, :1])), expected[:, :1],
                               atol=1e-6, rtol=0)


@pytest.mark.parametrize("rank, shape", [(1, (1, 7, 5, 16)), (2, (1, 7, 8, 8, 5))])
def test_decay_zero_removes_temporal_information(rank, shape):
    clips = _clips(shape, seed=2)
    changed = clips.copy()
    changed[:, :4] = _clips(changed[:, :4].shape, seed=3)  # different past, same frames 4..6
    for decay, depends in ((0.0, False), (0.3, True)):
        layer = TemporalRefinement(decay=decay, rank=rank, **TINY)
        out = ops.convert_to_numpy(layer(clips))
        out_changed = ops.convert_to_numpy(layer(changed))
        difference = np.abs(out[:, 4:] - out_changed[:, 4:]).max()
        if depends:
            assert difference > 1e-4, f"decay={decay}: frames 4.. ignore the past"
        else:
            assert difference < 1e-6, f"decay={decay}: frames 4.. depend on the past"


@pytest.mark.parametrize("decay", [0.0, 0.3, 1.0])
def test_identity_state_matches_closed_form_eq13(decay):
    clips = _clips((2, 50, 3, 6), seed=4)
    layer = TemporalRefinement(decay=decay, identity=True)
    out = ops.convert_to_numpy(layer(clips)).astype("float64")
    state = out - clips  # identity CNN_4: E_t + V_t
    u = clips.astype("float64")  # identity CNN_3: U_t = E_t
    for t in range(50):
        # Eq. 13: V_t = U_t + sum_{tau < t} lambda^(t - tau) U_tau.
        weights = decay ** np.arange(t, -1, -1, dtype="float64")
        closed_form = np.einsum("k,bknl->bnl", weights, u[:, :t + 1])
        np.testing.assert_allclose(state[:, t], closed_form, atol=1e-5 * (t + 1), rtol=1e-5)


def test_state_bounded_over_10000_streamed_frames():
    import tensorflow as tf

    decay = 0.9  # a slow decay: the bound 1/(1 - lambda) = 10 is far above |U| <= 1
    cell = TemporalRefinementCell(decay=decay, **TINY)
    cell.build((1, 5, 16))
    rng = np.random.default_rng(5)
    frames = rng.normal(0.0, 100.0, size=(10_000, 1, 5, 16)).astype("float32")

    @tf.function
    def stream(frames):
        # One step per frame, state carried from step to step (compiled scan, batch 1).
        def step(carry, frame):
            output, [state] = cell(frame, [carry[1]])
            return output, state
        initial = (tf.zeros((1, 5, 16)), cell.get_initial_state(batch_size=1)[0])
        return tf.scan(step, frames, initializer=initial)

    outputs, states = (value.numpy() for value in stream(tf.constant(frames)))
    assert states.shape == (10_000, 1) + cell.state_shape
    assert np.isfinite(outputs).all() and np.isfinite(states).all()
    max_abs = float(np.abs(states).max())
    max_norm = float(np.linalg.norm(states.reshape(10_000, -1), axis=1).max())
    size = np.prod(cell.state_shape)
    assert max_abs <= 1.0 / (1.0 - decay) + 1e-4
    assert max_norm <= np.sqrt(size) / (1.0 - decay) + 1e-3
    # The recursion accumulates: some entry went past the single-frame bound |U| <= 1.
    assert max_abs > 1.0


def test_fresh_layer_outputs_its_input():
    clips = _clips((2, 4, 5, 8))
    layer = TemporalRefinement(decay=0.3, filters=4)  # default zero-initialised CNN_4 output
    np.testing.assert_allclose(ops.convert_to_numpy(layer(clips)), clips, atol=0, rtol=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(decay=-0.1), "decay=-0.1"),
    (dict(decay=1.5), "decay=1.5"),
    (dict(decay="0.3"), "decay='0.3'"),
    (dict(rank=3), "rank=3"),
    (dict(filters=0), "filters=0"),
    (dict(downsample=0), "downsample=0"),
    (dict(identity=1), "identity=1"),
    (dict(unroll="yes"), "unroll='yes'"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"Received: {match}"):
        TemporalRefinement(**kwargs)


def test_bad_shapes():
    with pytest.raises(ValueError, match="divisible"):
        TemporalRefinement(kernel_size=4, downsample=4)(np.zeros((1, 2, 3, 6), "float32"))
    with pytest.raises(ValueError, match="Received: input_shape"):
        TemporalRefinement(rank=2)(np.zeros((1, 2, 3, 6), "float32"))


def test_state_shapes():
    cell = TemporalRefinementCell(filters=6, kernel_size=4, downsample=4)
    assert cell.compute_state_shape((None, 68, 64)) == (16, 6)
    cell_2d = TemporalRefinementCell(filters=6, downsample=2, rank=2)
    assert cell_2d.compute_state_shape((None, 16, 16, 68)) == (8, 8, 6)
    identity = TemporalRefinementCell(identity=True)
    assert identity.compute_state_shape((None, 68, 64)) == (68, 64)
    assert keras.saving.get_registered_object("zoo>TemporalRefinement") is TemporalRefinement


# ----------------------------------------------------------------------------- coverage of bins
# Issue 11, item 4: with kernel 3 and stride 4, CNN_3 never read bins 4i+3 and CNN_4 wrote only
# its bias there. Every bin must reach the state V_t, and every bin of E'_t must come from it.

def _bins_not_reaching_state(cell, heatmap):
    """Flat indices of the input bins whose perturbation (+-1) leaves ``V_t`` unchanged."""
    bins = heatmap.size
    batch = np.repeat(heatmap[None], 2 * bins + 1, axis=0)
    flat = batch.reshape(2 * bins + 1, -1)
    flat[1 + np.arange(bins), np.arange(bins)] += 1.0
    flat[1 + bins + np.arange(bins), np.arange(bins)] -= 1.0
    zeros = cell.get_initial_state(batch_size=len(batch), input_shape=batch.shape)[0]
    _, [state] = cell(batch, [zeros])
    state = ops.convert_to_numpy(state).reshape(len(batch), -1)
    change = np.maximum(np.abs(state[1:bins + 1] - state[0]).max(1),
                        np.abs(state[bins + 1:] - state[0]).max(1))
    return np.flatnonzero(change < 1e-6)


def _bins_not_written_from_state(cell, heatmap, num_states=8, seed=0):
    """Flat indices of the output bins that no change of ``V_{t-1}`` moves (a constant)."""
    batch = np.repeat(heatmap[None], num_states, axis=0)
    state_shape = (num_states,) + cell.compute_state_shape(batch.shape)
    previous = np.random.default_rng(seed).uniform(-3.0, 3.0, state_shape).astype("float32")
    refined, _ = cell(batch, [previous])
    refined = ops.convert_to_numpy(refined).reshape(num_states, -1)
    return np.flatnonzero(np.ptp(refined, axis=0) < 1e-6)


def _shrunk_preset_cells(name):
    """The refinement cells of a tracker preset with a tiny detector (5 landmarks), the
    preset's own kernel, stride and filters, and a non-zero CNN_4 output kernel."""
    import zoo

    detector = dict(input_size=32, num_stacks=1, width=16, hourglass_depth=2, num_landmarks=5,
                    refinement_initializer="glorot_uniform")
    if zoo.get_preset(name).architecture == "aheat1d_tracker":
        detector.update(heatmap_length=32, head_channels=8, compress_steps=1)
    else:
        detector.update(heatmap_size=16)
    keras.utils.set_random_seed(0)
    tracker = zoo.create(name, **detector)
    return {layer.name: layer.cell for layer in tracker.layers
            if isinstance(layer, TemporalRefinement)}


@pytest.mark.parametrize("name", ["aheat1d_tracker_300vw", "aheat1d_tracker_mobile_300vw",
                                  "fan2d_tracker_300vw"])
def test_tracker_presets_refine_every_bin(name):
    import zoo

    preset = zoo.get_preset(name)
    config = preset.config
    cells = _shrunk_preset_cells(name)
    assert sorted(cells) == (["refine_x", "refine_y"] if preset.architecture == "aheat1d_tracker"
                             else ["refine_heatmap"])
    for key, cell in cells.items():
        assert (cell.kernel_size, cell.downsample, cell.filters) == (
            config["refinement_kernel_size"], config["refinement_downsample"],
            config["refinement_filters"])
        heatmap_shape = (5, 32) if cell.rank == 1 else (16, 16, 5)
        heatmap = _clips(heatmap_shape, seed=7)
        assert _bins_not_reaching_state(cell, heatmap).tolist() == [], key
        assert _bins_not_written_from_state(cell, heatmap).tolist() == [], key


def test_blind_layout_is_detected_and_refused():
    # The layout the presets had (kernel 3, stride 4) now raises ...
    with pytest.raises(ValueError, match="Received: kernel_size=3, downsample=4"):
        TemporalRefinementCell(filters=8, kernel_size=3, downsample=4)
    # ... and the checks above find its blind bins: a cell whose CNN_3/CNN_4 convolutions are
    # swapped for kernel-3, stride-4 ones (what the presets built before) misses bins 4i+3.
    cell = TemporalRefinementCell(filters=8, kernel_size=4, downsample=4,
                                  output_initializer="glorot_uniform")
    cell.encoder_down = keras.layers.Conv1D(8, 3, strides=4, padding="same", activation="relu")
    cell.decoder_up = keras.layers.Conv1DTranspose(8, 3, strides=4, padding="same",
                                                   activation="relu")
    cell.kernel_size = 3  # the transposed convolution as a matmul, as the layer runs it
    keras.utils.set_random_seed(1)
    heatmap = _clips((5, 32), seed=8)
    blind = [4 * i + 3 for i in range(8)]
    assert _bins_not_reaching_state(cell, heatmap).tolist() == [
        landmark * 32 + b for landmark in range(5) for b in blind]
    assert _bins_not_written_from_state(cell, heatmap).tolist() == [
        landmark * 32 + b for landmark in range(5) for b in blind]
