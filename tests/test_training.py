"""zoo.training: configs, the custom loop (resume, mixed precision, TensorBoard), k-fold search,
data sources and the --data_dir check."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo.training
from zoo.training import config as config_lib
from zoo.training import cross_validation, data as data_lib, loop, resolve


def _model_fn():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(hidden))


def _loss_fn(targets, outputs):
    return tf.reduce_mean(tf.square(targets - outputs), axis=-1)


def _dataset():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = np.stack([x[:, 0] - x[:, 1], 0.5 * x[:, 2]], axis=1).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8, drop_remainder=True).repeat()


def _weights(model):
    return [keras.ops.convert_to_numpy(v) for v in model.weights]


# ----------------------------------------------------------------------------- config


def test_config_round_trip_and_paper_defaults(tmp_path):
    config = config_lib.PAPER_DEFAULTS["300w"].replace(steps=7, data_dir="/data/300w")
    path = config_lib.save_config(config, tmp_path)
    assert json.loads(open(path).read())["steps"] == 7
    assert config_lib.load_config(tmp_path) == config
    paper = config_lib.TrainConfig()
    assert (paper.batch_size, paper.learning_rate) == (10, 1e-4)
    # gamma is the preset's (the paper's value per dataset), resolved into config.json.
    assert config_lib.PAPER_DEFAULTS["300w"].gamma is None
    assert resolve.resolve(config_lib.PAPER_DEFAULTS["300w"], build=False).config.gamma == 0.4
    assert resolve.resolve(config_lib.PAPER_DEFAULTS["aflw"], build=False).config.gamma == 0.5
    assert config_lib.PAPER_DEFAULTS["300vw"].temporal_lambda == 0.3
    with pytest.raises(dataclasses_frozen_error()):
        config.steps = 3


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


@pytest.mark.parametrize("changes, message", [
    ({"strategy": "horovod"}, "strategy="),
    ({"batch_size": 0}, "batch_size=0"),
    ({"gamma": 1.5}, "gamma=1.5"),
    ({"dataset": "ms1m"}, "dataset="),
    ({"learning_rate": -1.0}, "learning_rate=-1.0"),
])
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        config_lib.TrainConfig(**changes)


def test_load_config_unknown_field(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"steps": 3, "epochs": 9}))
    with pytest.raises(ValueError, match="epochs"):
        config_lib.load_config(tmp_path)


# ----------------------------------------------------------------------------- loop


def test_loop_trains_and_writes_tensorboard(tmp_path):
    def image_fn(model):
        return np.full((2, 8, 8, 3), 200, np.uint8)

    calls = []
    result = zoo.training.train_loop(
        _model_fn, _loss_fn, _dataset(), steps=30, output_dir=str(tmp_path), learning_rate=0.05,
        checkpoint_every=10, log_every=5, eval_fn=lambda m: {"score": len(calls) + 1.0},
        eval_every=10, image_fn=image_fn, progress=False,
        callbacks=[lambda step, loss: calls.append(step)])
    assert result.step == 30 and result.start_step == 0 and result.restored_from is None
    assert calls == list(range(1, 31))
    assert [h["step"] for h in result.history] == [5, 10, 15, 20, 25, 30]
    assert result.history[-1]["loss"] < 0.5 * result.history[0]["loss"]
    assert [e["step"] for e in result.evaluations] == [0, 10, 20, 30]
    checkpoints = os.listdir(tmp_path / "checkpoints")
    assert {"ckpt-20.index", "ckpt-30.index"} <= set(checkpoints)
    # TensorBoard event file holds the loss scalars and the PNG image summary.
    event_files = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "logs") for f in fs]
    tags = {}
    for event in tf.compat.v1.train.summary_iterator(event_files[0]):
        for value in event.summary.value:
            tags.setdefault(value.tag, []).append((event.step, value))
    assert [s for s, _ in tags["train/loss"]] == [5, 10, 15, 20, 25, 30]
    assert tags["train/loss"][0][1].metadata.plugin_data.plugin_name == "scalars"
    image = tags["val/predicted_landmarks"][-1][1]
    assert image.metadata.plugin_data.plugin_name == "images"
    png = tf.make_ndarray(image.tensor)[2]
    np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), np.full((8, 8, 3), 200, np.uint8))


class _Killed(Exception):
    pass


def test_killed_run_resumes_from_checkpoint(tmp_path):
    def kill_at_seven(step, loss):
        if step == 7:
            raise _Killed()

    with pytest.raises(_Killed):
        zoo.training.train_loop(_model_fn, _loss_fn, _dataset(), steps=12, output_dir=str(tmp_path),
                                learning_rate=0.05, checkpoint_every=5, progress=False,
                                callbacks=[kill_at_seven])
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-5")
    # The weights of checkpoint 5, read independently of the loop.
    reference = _model_fn()
    assert zoo.training.restore_model(reference, str(tmp_path)) == 5
    # Started again with the same total: it restores and has nothing left to do, so the model
    # is exactly the checkpoint.
    same = zoo.training.train_loop(_model_fn, _loss_fn, _dataset(), steps=5,
                                   output_dir=str(tmp_path), progress=False)
    assert same.start_step == 5 and same.step == 5 and same.restored_from.endswith("ckpt-5")
    for a, b in zip(_weights(same.model), _weights(reference)):
        np.testing.assert_array_equal(a, b)
    assert int(same.optimizer.iterations.numpy()) == 5
    # Started again to 12: the step count continues at 6.
    steps_seen = []
    result = zoo.training.train_loop(_model_fn, _loss_fn, _dataset(), steps=12,
                                     output_dir=str(tmp_path), learning_rate=0.05,
                                     checkpoint_every=5, progress=False,
                                     callbacks=[lambda step, loss: steps_seen.append(step)],
                                     eval_fn=lambda model: {"nme": 0.0})
    assert result.start_step == 5 and result.step == 12 and steps_seen == list(range(6, 13))
    assert [e["step"] for e in result.evaluations] == [12]  # no step-0 evaluation on a resume
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-12")
    assert int(result.optimizer.iterations.numpy()) == 12


def test_resume_restores_optimizer_moments(tmp_path):
    first = zoo.training.train_loop(_model_fn, _loss_fn, _dataset(), steps=5,
                                    output_dir=str(tmp_path), learning_rate=0.05, progress=False)
    moments = [keras.ops.convert_to_numpy(v) for v in first.optimizer.variables]
    again = zoo.training.train_loop(_model_fn, _loss_fn, _dataset(), steps=5,
                                    output_dir=str(tmp_path), learning_rate=0.05, progress=False)
    restored = [keras.ops.convert_to_numpy(v) for v in again.optimizer.variables]
    assert len(moments) == len(restored) > 2
    assert any(np.abs(m).sum() > 0 for m in moments[2:])
    for a, b in zip(moments, restored):
        np.testing.assert_array_equal(a, b)


def test_mixed_precision_runs_and_restores_policy(tmp_path):
    assert keras.mixed_precision.global_policy().name == "float32"
    x, y = next(iter(_dataset().unbatch().batch(64)))

    def full_loss(model):
        outputs = keras.ops.cast(model(x), "float32")
        return {"loss": float(np.mean(keras.ops.convert_to_numpy(_loss_fn(y, outputs))))}

    result = zoo.training.train_loop(_model_fn, _loss_fn, _dataset(), steps=20,
                                     output_dir=str(tmp_path), learning_rate=0.02,
                                     mixed_precision=True, eval_fn=full_loss, progress=False)
    assert result.model.layers[-1].dtype_policy.name == "mixed_float16"
    assert result.model.layers[-1].kernel.dtype == "float32"  # master weights stay float32
    assert isinstance(result.optimizer, keras.optimizers.LossScaleOptimizer)
    assert result.evaluations[-1]["loss"] < 0.7 * result.evaluations[0]["loss"]
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": -1}, "steps=-1"),
    ({"steps": 2, "checkpoint_every": 0}, "checkpoint_every=0"),
    ({"steps": 2, "log_every": 0}, "log_every=0"),
])
def test_loop_rejects_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.training.train_loop(_model_fn, _loss_fn, _dataset(), output_dir=str(tmp_path),
                                progress=False, **kwargs)


def test_make_strategy_and_chief():
    strategy = zoo.training.make_strategy("one_device")
    assert strategy.num_replicas_in_sync == 1 and zoo.training.is_chief(strategy)
    with pytest.raises(ValueError, match="name='parameter_server'"):
        zoo.training.make_strategy("parameter_server")


def test_write_images_rejects_float():
    with pytest.raises(ValueError, match="images must be uint8"):
        loop.write_images("x", np.zeros((1, 4, 4, 3), np.float32))


# ----------------------------------------------------------------------------- k-fold search


def test_kfold_indices_partition():
    folds = cross_validation.kfold_indices(23, 4, seed=3)
    validation = np.concatenate([v for _, v in folds])
    assert sorted(validation.tolist()) == list(range(23))
    for train, val in folds:
        assert not set(train) & set(val) and len(train) + len(val) == 23
    with pytest.raises(ValueError, match="k=1"):
        cross_validation.kfold_indices(10, 1)
    with pytest.raises(ValueError, match="num_samples=3"):
        cross_validation.kfold_indices(3, 4)


def test_search_picks_lowest_mean_and_prints_table():
    seen_folds = []

    def error(values, train, val):
        seen_folds.append(tuple(val))
        # Smallest at gamma 0.4; fold-dependent noise that does not change the order.
        return abs(values["gamma"] - 0.4) + 0.001 * len(val)

    printed = []
    result = cross_validation.search({"gamma": [0.2, 0.4, 0.6]}, 2, error, num_samples=9,
                                     print_fn=printed.append)
    assert result.best == {"gamma": 0.4}
    assert result.best_error == pytest.approx(0.001 * 4.5)
    # The same two folds for every grid point.
    assert len(set(seen_folds)) == 2 and len(seen_folds) == 6
    assert "chosen: gamma=0.4" in printed[0] and "<- chosen" in printed[0]
    assert len(result.rows) == 3 and len(result.rows[0]["fold_errors"]) == 2


def test_search_over_two_parameters():
    def error(values, train, val):
        return (values["gamma"] - 0.5) ** 2 + (values["lambda"] - 0.3) ** 2

    result = cross_validation.search({"gamma": [0.4, 0.5], "lambda": [0.2, 0.3]}, 2, error,
                                     num_samples=4, print_fn=None)
    assert result.best == {"gamma": 0.5, "lambda": 0.3} and len(result.rows) == 4


def test_search_rejects_empty_grid():
    with pytest.raises(ValueError, match="gamma=\\[\\]"):
        cross_validation.search({"gamma": []}, 2, lambda *a: 0.0, num_samples=4)


# ----------------------------------------------------------------------------- data


@pytest.mark.parametrize("dataset", ["300w", "aflw", "wflw", "cofw", "300vw"])
def test_wrong_data_dir_says_expected_layout(tmp_path, dataset):
    with pytest.raises(ValueError, match="does not exist") as missing:
        data_lib.check_data_dir(dataset, str(tmp_path / "nowhere"))
    assert f"Expected layout for {dataset}:" in str(missing.value)
    assert data_lib.expected_layout(dataset) in str(missing.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="is empty"):
        data_lib.check_data_dir(dataset, str(empty))
    wrong = tmp_path / "wrong"
    (wrong / "photos").mkdir(parents=True)
    (wrong / "photos" / "a.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match=f"does not hold the {dataset} layout"):
        data_lib.check_data_dir(dataset, str(wrong))


def test_300w_layout_accepted(fixtures_dir, tmp_path):
    root = tmp_path / "300w"
    (root / "afw").mkdir(parents=True)
    pts = sorted((fixtures_dir / "300w" / "pts_images").glob("*.pts"))[0]
    (root / "afw" / pts.name).write_bytes(pts.read_bytes())
    jpg = pts.with_suffix(".jpg")
    (root / "afw" / jpg.name).write_bytes(jpg.read_bytes())
    data_lib.check_data_dir("300w", str(root))  # does not raise


def test_synthface_source_and_training_dataset():
    import zoo.codecs

    source = data_lib.SynthFaceSource(64, seed=0, num_samples=6)
    images, landmarks = source.arrays()
    assert images.shape == (6, 64, 64, 3) and images.dtype == np.uint8
    assert landmarks.shape == (6, 68, 2)
    assert np.all((landmarks > -0.5) & (landmarks < 63.5))
    subset = source.subset([4, 1])
    np.testing.assert_array_equal(subset.arrays()[1], landmarks[[4, 1]])
    codec = zoo.codecs.Heatmap1DCodec(64, 128)
    batch_images, targets = next(iter(data_lib.training_dataset(source, codec, batch_size=3,
                                                                augment=False)))
    assert batch_images.shape == (3, 64, 64, 3) and batch_images.dtype == tf.float32
    # Unaugmented, each target is the encoding of one of the source's faces.
    decoded, _ = codec.decode({k: v for k, v in targets.items()})
    decoded = keras.ops.convert_to_numpy(decoded)
    distances = np.abs(decoded[:, None] - landmarks[None]).max(axis=(2, 3))
    assert np.all(distances.min(axis=1) < 0.1)


def _nested_model_fn():
    # Weights and batch-norm statistics live in a nested model, as in the hourglass detectors.
    keras.utils.set_random_seed(0)
    inner_inputs = keras.Input((6,))
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(8)(inner_inputs))
    inner = keras.Model(inner_inputs, keras.layers.Activation("tanh")(hidden), name="inner")
    inputs = keras.Input((6,))
    return keras.Model(inputs, keras.layers.Dense(2)(inner(inputs)))


def test_checkpoint_restores_nested_weights_and_batchnorm_statistics(tmp_path):
    trained = zoo.training.train_loop(_nested_model_fn, _loss_fn, _dataset(), steps=6,
                                      output_dir=str(tmp_path), learning_rate=0.05,
                                      checkpoint_every=6, progress=False).model
    fresh = _nested_model_fn()
    assert any(not np.array_equal(a, b) for a, b in zip(_weights(fresh), _weights(trained)))
    assert zoo.training.restore_model(fresh, str(tmp_path)) == 6
    assert len(fresh.weights) == len(trained.weights) == 8  # 2 dense x 2 + BN x 4
    for a, b in zip(_weights(fresh), _weights(trained)):
        np.testing.assert_array_equal(a, b)


def test_synthface_refuses_a_preset_of_another_scheme(tmp_path):
    # SynthFace draws 68-point faces: a 19-point AFLW preset asks for its dataset instead of
    # failing on shapes in validation.
    from zoo.training import tasks
    from zoo.training.config import TrainConfig

    config = TrainConfig(model="aheat1d_aflw", dataset="aflw", output_dir=str(tmp_path / "r"),
                         steps=1, batch_size=2, num_synthetic=2, num_val=2, eval_every=0,
                         model_overrides={"num_stacks": 1, "width": 16, "hourglass_depth": 1,
                                          "head_channels": 8, "compress_steps": 1},
                         input_size=32, heatmap_length=32)
    with pytest.raises(ValueError, match=r"draws 68-point faces; 'aheat1d_aflw' predicts 19 "
                                         r"landmarks .*Received: model='aheat1d_aflw'"):
        tasks.train(config, progress=False)
