"""zoo.training.train_loop under MirroredStrategy (2 logical CPUs) and MultiWorkerMirroredStrategy
(two local worker processes on 127.0.0.1).

Logical devices and TF_CONFIG must be set before TensorFlow initialises, so every distributed
run happens in a fresh subprocess; each is bounded in time.
"""
import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
TIMEOUT_S = 150

# A tiny regression model and fixed data: the same in every process, so runs can be compared.
WORKER = textwrap.dedent("""
    import json, os, sys
    strategy_name, output_dir, result_path = sys.argv[1:4]
    import zoo.training
    if strategy_name == "mirrored":
        zoo.training.split_cpu(2)
    strategy = zoo.training.make_strategy(strategy_name)
    import keras, numpy as np, tensorflow as tf

    def model_fn():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(8, activation="tanh")(inputs)
        return keras.Model(inputs, keras.layers.Dense(2)(hidden))

    def loss_fn(targets, outputs):
        return tf.reduce_mean(tf.square(targets - outputs), axis=-1)

    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = np.stack([x[:, 0] - x[:, 1], x[:, 2] * 0.5], axis=1).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8, drop_remainder=True).repeat()
    result = zoo.training.train_loop(model_fn, loss_fn, dataset, steps=4, output_dir=output_dir,
                                     strategy=strategy, learning_rate=0.05, checkpoint_every=2,
                                     log_every=1, progress=False)
    replicas = []
    for variable in result.model.trainable_variables:
        values = strategy.experimental_local_results(variable.value)
        replicas.append([np.asarray(v).tolist() for v in values])
    with open(result_path, "w") as handle:
        json.dump({"step": result.step, "replicas": replicas,
                   "num_replicas": strategy.num_replicas_in_sync,
                   "chief": zoo.training.is_chief(strategy),
                   "losses": [h["loss"] for h in result.history]}, handle)
""")


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["CUDA_VISIBLE_DEVICES"] = ""
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _run_single(tmp_path, strategy_name):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    result = tmp_path / f"{strategy_name}.json"
    completed = subprocess.run(
        [sys.executable, str(script), strategy_name, str(tmp_path / strategy_name), str(result)],
        env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(result.read_text())


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _assert_replicas_equal(result):
    for replicas in result["replicas"]:
        for other in replicas[1:]:
            np.testing.assert_allclose(other, replicas[0], rtol=0, atol=0)


def _weights(result):
    return [np.asarray(replicas[0]) for replicas in result["replicas"]]


@pytest.mark.slow
def test_mirrored_two_logical_cpus_matches_one_device(tmp_path):
    single = _run_single(tmp_path, "one_device")
    mirrored = _run_single(tmp_path, "mirrored")
    assert single["num_replicas"] == 1 and mirrored["num_replicas"] == 2
    assert mirrored["step"] == 4 and mirrored["chief"]
    _assert_replicas_equal(mirrored)
    # Loss divided by the global batch + summed gradients: 2 replicas x 4 == 1 device x 8.
    for a, b in zip(_weights(single), _weights(mirrored)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(single["losses"], mirrored["losses"], rtol=1e-4)
    # The loop trained: loss went down and weights moved.
    assert mirrored["losses"][-1] < mirrored["losses"][0]


@pytest.mark.slow
def test_multi_worker_two_local_processes(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            [sys.executable, str(script), "multi_worker", str(tmp_path / "mw"),
             str(tmp_path / f"worker{index}.json")],
            env=_env(TF_CONFIG=tf_config), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=TIMEOUT_S))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    workers = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)]
    assert [w["chief"] for w in workers] == [True, False]
    assert all(w["step"] == 4 and w["num_replicas"] == 2 for w in workers)
    # Synchronous training: both workers end with identical weights.
    for a, b in zip(_weights(workers[0]), _weights(workers[1])):
        np.testing.assert_allclose(a, b, rtol=0, atol=0)
    # Only the chief's checkpoints are kept; the non-chief's temporary folder is gone.
    checkpoints = sorted(os.listdir(tmp_path / "mw" / "checkpoints"))
    assert "ckpt-4.index" in checkpoints and ".worker_1" not in checkpoints
    single = _run_single(tmp_path, "one_device")
    for a, b in zip(_weights(single), _weights(workers[0])):
        np.testing.assert_allclose(a, b, atol=1e-5)


# ----------------------------------------------------------------------------- the real recipe

TINY = ["--model=aheat1d_mobile_300w",
        '--model_overrides={"width": 16, "hourglass_depth": 2, "head_channels": 8}',
        "--input_size=64", "--heatmap_length=128", "--batch_size=4", "--num_synthetic=16",
        "--num_val=4", "--steps=2", "--log_every=1"]


def _recipe(output_dir, *extra):
    return [sys.executable, str(REPO_ROOT / "recipes" / "train_300w.py"), *TINY,
            f"--output_dir={output_dir}", *extra]


@pytest.mark.slow
def test_recipe_under_mirrored_two_logical_cpus(tmp_path):
    completed = subprocess.run(_recipe(tmp_path / "run", "--strategy=mirrored", "--logical_cpus=2"),
                               env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (tmp_path / "run" / "checkpoints" / "ckpt-2.index").exists()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["strategy"] == "mirrored"


@pytest.mark.slow
def test_recipe_under_multi_worker_two_processes(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            _recipe(tmp_path / "run", "--strategy=multi_worker"), env=_env(TF_CONFIG=tf_config),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=TIMEOUT_S))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    # Only the chief prints the banner's run summary and keeps checkpoints.
    assert "val NME" in outputs[0][0] and "val NME" not in outputs[1][0]
    checkpoints = os.listdir(tmp_path / "run" / "checkpoints")
    assert "ckpt-2.index" in checkpoints and ".worker_1" not in checkpoints
