"""The recipes as a user runs them (subprocesses): SynthFace banner, config.json, resume,
a wrong --data_dir, the evaluation report and the k-fold search."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
TIMEOUT_S = 240
# A tiny version of the mobile preset so a few steps take seconds.
TINY = ["--model=aheat1d_mobile_300w",
        '--model_overrides={"width": 16, "hourglass_depth": 2, "head_channels": 8}',
        "--input_size=64", "--heatmap_length=128", "--batch_size=4", "--num_synthetic=16",
        "--num_val=8", "--log_every=1"]


def _run(script, *args):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2",
               CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    return subprocess.run([sys.executable, str(REPO_ROOT / "recipes" / script), *args],
                          env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.mark.slow
def test_train_300w_synthface_config_and_resume(tmp_path):
    out = tmp_path / "run"
    first = _run("train_300w.py", *TINY, "--steps=3", "--checkpoint_every=2", f"--output_dir={out}")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "TRAINING ON SYNTHFACE" in first.stdout
    config = json.loads((out / "config.json").read_text())
    # Paper settings of the 300W recipe plus the resolved preset sizes.
    assert config["gamma"] == 0.4 and config["learning_rate"] == 1e-4
    assert config["input_size"] == 64 and config["heatmap_length"] == 128
    assert config["model"] == "aheat1d_mobile_300w" and config["data_dir"] is None
    # Issue 11: the target sigma in input pixels (F / 64 at F = 64) and the decode method.
    assert config["sigma"] == 1.0 and config["decode"] == "refined"
    assert (out / "checkpoints" / "ckpt-3.index").exists()
    assert os.listdir(out / "logs")
    assert "val NME" in first.stdout
    # Started again with more steps: it continues from step 3.
    second = _run("train_300w.py", *TINY, "--steps=5", f"--output_dir={out}")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "at step 3 (of 5)" in second.stdout
    assert (out / "checkpoints" / "ckpt-5.index").exists()

    # The evaluation recipe writes the report and the CED plot for this run, here decoded by
    # the paper's argmax (Eq. 7) instead of the run's refined decoder.
    evaluation = _run("evaluate.py", f"--run_dir={out}", "--num_synthetic=8", "--decode=argmax")
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    report = json.loads((out / "eval" / "report.json").read_text())
    assert report["subsets"]["synthface"]["count"] == 8
    assert 0 < report["subsets"]["synthface"]["nme"]
    assert (out / "eval" / "ced.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "step 5" in report["title"] and "decode=argmax" in report["title"]


@pytest.mark.slow
def test_wrong_data_dir_stops_at_once(tmp_path):
    out = tmp_path / "run"
    completed = _run("train_300w.py", f"--data_dir={tmp_path / 'missing'}", f"--output_dir={out}")
    assert completed.returncode != 0
    assert "does not exist" in completed.stderr and "Expected layout for 300w" in completed.stderr
    assert "lfpw/trainset" in completed.stderr
    assert not out.exists()  # stopped before config, model or checkpoints


@pytest.mark.slow
def test_search_recipe_prints_table_and_choice(tmp_path):
    completed = _run("search.py", *TINY, "--grid=0.2,0.6", "--folds=2", "--steps=2",
                     f"--output_dir={tmp_path / 'search'}")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "fold1" in completed.stdout and "fold2" in completed.stdout
    chosen = [line for line in completed.stdout.splitlines() if line.startswith("chosen: gamma=")]
    assert len(chosen) == 1 and chosen[0].split("=")[1] in ("0.2", "0.6")


# Issue 11 item 9 / issue 12: the 2D baseline and its tracker train through the recipes (the
# training config no longer pushes 1D-only fields into every model).
TINY_2D = ['--model_overrides={"num_stacks": 1, "width": 16, "hourglass_depth": 1}',
           "--input_size=32", "--heatmap_length=16", "--batch_size=2", "--num_synthetic=4",
           "--num_val=2", "--log_every=1", "--steps=2", "--eval_every=0", "--image_every=0"]


@pytest.mark.slow
def test_train_300w_trains_the_2d_baseline(tmp_path):
    out = tmp_path / "fan2d"
    completed = _run("train_300w.py", "--model=fan2d_300w", *TINY_2D, f"--output_dir={out}")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "val NME" in completed.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "fan2d_300w" and config["heatmap_length"] == 16
    assert config["gamma"] is None and config["temporal_lambda"] is None  # not a 1D model
    assert config["decode"] == "quarter_offset"
    assert (out / "checkpoints" / "ckpt-2.index").exists()


@pytest.mark.slow
def test_train_300vw_trains_the_2d_baseline_tracker(tmp_path):
    out = tmp_path / "fan2d_tracker"
    completed = _run("train_300vw.py", "--model=fan2d_tracker_300vw", *TINY_2D,
                     "--clip_length=2", f"--output_dir={out}")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "TRAINING THE TRACKER ON SYNTHFACE VIDEOS" in completed.stdout
    assert "val NME" in completed.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "fan2d_tracker_300vw" and config["heatmap_length"] == 16
    assert config["temporal_lambda"] == 0.3 and config["gamma"] is None
    assert (out / "checkpoints" / "ckpt-2.index").exists()
