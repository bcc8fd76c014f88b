"""The quiet console (zoo._console): library notices hidden by default, --verbose shows them."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import zoo._console as console

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent

# Lines seen in `make demo`'s output before the console was quieted (TF 2.21, LiteRT 2.3,
# tf2onnx 1.17, ONNX Runtime 1.31).
_LIBRARY_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796179131.170941   18757 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors.",
    "I0000 00:00:1796179131.387608   18757 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    "TensorFlow with the appropriate compiler flags.",
    "W0000 00:00:1796179222.876337   18757 dataset.cc:997] Input of GeneratorDatasetOp::Dataset "
    "will not be optimized",
    "I1202 02:52:43.717228   18757 single_machine.cc:376] Starting new session",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    "\x1b[0;93m2026-12-02 02:52:43.823091110 [W:onnxruntime:Default, upsamplebase.h:252 "
    "UpsampleBase] `tf_half_pixel_for_nn` is deprecated since opset 13\x1b[m",
]
_KEPT_LINES = [
    "step      0  val NME 128.07%  FR@10% 100.00%",
    "export saved_model  demo_out/exports/saved_model/aheat1d_mobile_300w/1 (152.5 s)",
    "E0000 00:00:1796179131.170941   18757 kernel.cc:12] Invalid argument: a real error",
    "F1202 02:52:43.717228   18757 op.cc:9] Check failed: fatal",
    "W1202 02:50:03.200345 139694182378368 recipe.py:12] a Python warning of the zoo's own",
    "INFO: the zoo's own message",
    "Traceback (most recent call last):",
]


@pytest.mark.parametrize("line", _LIBRARY_LINES)
def test_library_notices_are_hidden(line):
    assert console.is_hidden(line) and console.is_hidden(line.encode() + b"\n")


@pytest.mark.parametrize("line", _KEPT_LINES)
def test_own_lines_and_errors_are_kept(line):
    assert not console.is_hidden(line)


@pytest.mark.parametrize("argv,main_file,expected", [
    (["python", "-m", "zoo.track", "in.mp4"], None, True),
    (["python", "-m", "zoo.demo"], None, True),
    (["python", "-X", "dev", "-mzoo.detect", "a.jpg"], None, True),
    (["python", "-m", "pytest", "tests"], None, False),
    (["python", "-c", "import zoo"], None, False),
    (["python", "recipes/train_300w.py"], str(REPO_ROOT / "recipes" / "train_300w.py"), True),
    (["python", "export/export.py"], str(REPO_ROOT / "export" / "export.py"), True),
    (["python", "datasets/prepare_300w.py"], str(REPO_ROOT / "datasets" / "prepare_300w.py"),
     True),
    (["python", "my_app.py"], "/somewhere/else/recipes/my_app.py", False),
    (["python", "my_app.py"], str(REPO_ROOT / "my_app.py"), False),
])
def test_entry_points_are_the_zoo_command_lines(argv, main_file, expected):
    assert console.is_entry_point(argv, main_file=main_file or "") == expected


def test_verbose_flag_and_environment(monkeypatch):
    monkeypatch.delenv("ZOO_VERBOSE", raising=False)
    assert console.wants_verbose(["--verbose"]) and console.wants_verbose(["--verbose=true"])
    assert not console.wants_verbose(["--noverbose", "--verbosity=1"])
    monkeypatch.setenv("ZOO_VERBOSE", "1")
    assert console.wants_verbose([])


_FILTER_PROBE = r"""
import os, sys
import zoo._console
zoo._console.quiet()
# What C++ writes (straight to fd 2) and what Python writes (sys.stderr), interleaved.
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
os.write(2, b"I0000 00:00:1796179131.170941   18757 port.cc:153] oneDNN custom operations are on.\n")
sys.stderr.write("\rtrain:  50%|#####     | 1/2"); sys.stderr.flush()
os.write(2, b"W0000 00:00:1796179222.876337   18757 dataset.cc:997] Input of GeneratorDatasetOp\n")
sys.stderr.write("\rtrain: 100%|##########| 2/2\n"); sys.stderr.flush()
os.write(2, b"E0000 00:00:1796179222.876337   18757 kernel.cc:1] a real error\n")
print("own line on stdout", flush=True)
sys.stderr.write("last line without a newline")
"""


def test_stderr_filter_drops_library_lines_and_keeps_the_rest():
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run([sys.executable, "-c", _FILTER_PROBE], env=env, capture_output=True,
                            timeout=60)  # bytes: text mode would turn the bar's \r into \n
    assert result.returncode == 0, result.stderr
    assert result.stderr == (b"\rtrain:  50%|#####     | 1/2\rtrain: 100%|##########| 2/2\n"
                             b"E0000 00:00:1796179222.876337   18757 kernel.cc:1] a real error\n"
                             b"last line without a newline")
    assert result.stdout == b"own line on stdout\n"


def _run_track_with_unknown_model(tmp_path, *extra):
    import cv2

    video = tmp_path / "in.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 64))
    writer.write(np.zeros((64, 64, 3), np.uint8))
    writer.release()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    for name in ("TF_CPP_MIN_LOG_LEVEL", "ZOO_VERBOSE"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "zoo.track", str(video), "--output", str(tmp_path / "out.mp4"),
         "--model", "no_such_tracker", *extra], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=600)


@pytest.mark.slow
def test_cli_hides_tensorflow_logs_unless_verbose(tmp_path):
    # zoo.track imports TensorFlow to load the tracker, then finds the model name unknown.
    quiet = _run_track_with_unknown_model(tmp_path)
    assert quiet.returncode != 0 and "no_such_tracker" in quiet.stderr  # the error shows
    assert not [line for line in quiet.stderr.splitlines() if console.is_hidden(line)], \
        quiet.stderr
    verbose = _run_track_with_unknown_model(tmp_path, "--verbose")
    assert verbose.returncode != 0 and "no_such_tracker" in verbose.stderr
    hidden = [line for line in verbose.stderr.splitlines() if console.is_hidden(line)]
    assert any("port.cc" in line or "absl::InitializeLog" in line for line in hidden), \
        verbose.stderr


def test_ced_plot_title_fits_its_figure(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    import zoo.metrics

    figures = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig",
                        lambda self, *a, **k: (figures.append(self), save(self, *a, **k))[1])
    title = "aheat1d_mobile_300w step 300 on 100 SynthFace test faces (synthetic), decode=refined"
    zoo.metrics.plot_ced({"model": np.array([0.03, 0.05, 0.2])}, tmp_path / "ced.png", title=title)
    figure = figures[0]
    renderer = figure.canvas.get_renderer()
    box = figure.axes[0].title.get_window_extent(renderer)
    assert 0 <= box.x0 and box.x1 <= figure.bbox.width and box.y1 <= figure.bbox.height
    assert figure.axes[0].title.get_text().replace("\n", " ") == title  # wrapped, not cut
