r"""Latency per frame of exported models on this CPU, side by side with MediaPipe's landmarks.

Exports each preset through ``zoo.export`` (so every timed file passed its parity check), then
times batch-1 inference: LiteRT (``ai_edge_litert`` Interpreter, XNNPACK) float32 / float16 /
dynamic-range int8 / full-int8, ONNX (onnxruntime) and the SavedModel (TF runtime, in a
subprocess so its thread count can be set), at 1 and 2 threads. MediaPipe's
``face_landmark.tflite`` is timed in the same run when it is found (``mediapipe==0.10.21``
installed, or ``--mediapipe_model``). Prints one markdown table: median and p90 ms per frame,
and at 1 thread the median CPU time of the calling thread (the latency without the waits for
a core that a loaded shared machine adds). LiteRT rows also give the XNNPACK delegate's
partitions and the ops it leaves out (``zoo.export.tflite.xnnpack_partitions``); MediaPipe's
model is one partition with every op inside.

    python benchmarks/latency.py --presets=aheat1d_mobile_300w,aheat1d_tracker_mobile_300vw \
        --mediapipe_model=/tmp/mpwheel/x/mediapipe/modules/face_landmark/face_landmark.tflite

``benchmarks/peers.py --mediapipe_wheel=<mediapipe-0.10.21 wheel>`` extracts the model from the
wheel (``pip download --no-deps mediapipe==0.10.21``, nothing installed) and runs this script.

Every row is timed in one process and the trials are interleaved (``--trials``), so rows of
one run compare fairly on a loaded machine; the load average is printed with the table.
``--keep_dir`` keeps the exported files and ``--tflite_files=label=path,...`` times earlier
exports in the same run (a before/after table).

Quantised files are judged by NME, which random weights fail by nature: pass trained models
(``--keras_files=preset=path.keras``) for meaningful checks. A quantised LiteRT file whose
check fails is still timed (its ops and speed do not depend on the weights), converted without
the check and marked "refused by NME check" in the table.

A tracker preset (``aheat1d_tracker_mobile_300vw``) is timed as its streaming step model
(frame + state -> landmarks + state), one call per video frame: the whole shipped step,
detector, temporal refinement and the 1D decode (argmax + log-parabola, ``landmarks``
output) included. MediaPipe's ``face_landmark.tflite`` outputs raw landmark coordinates
with no decode, so its row times less work than a tracker step. Presets with shipped weights
are exported with them (``--noshipped_weights``: random weights).
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

_PRESETS = flags.DEFINE_list("presets", ["aheat1d_mobile_300w", "aheat1d_tracker_mobile_300vw"],
                             "Preset names (zoo.list_models()), or 'all'. Tracker presets are "
                             "timed as their streaming step model.")
_FORMATS = flags.DEFINE_list(
    "formats", ["tflite_float32", "tflite_float16", "tflite_dynamic_int8", "tflite_int8",
                "onnx", "saved_model"], "Formats to time.")
_THREADS = flags.DEFINE_list("threads", ["1", "2"], "Thread counts.")
_RUNS = flags.DEFINE_integer("runs", 200, "Timed runs per model and thread count.")
_WARMUP = flags.DEFINE_integer("warmup", 20, "Untimed runs first.")
_TRIALS = flags.DEFINE_integer("trials", 1, "Repeat the whole timing this often (interleaved); "
                               "the reported median/p90 pool all trials.")
_NUM_CALIBRATION = flags.DEFINE_integer("num_calibration", 64, "SynthFace faces for int8.")
_NUM_EVAL = flags.DEFINE_integer("num_eval", 32, "SynthFace faces for the NME check.")
_MEDIAPIPE_MODEL = flags.DEFINE_string("mediapipe_model", None,
                                       "Path of face_landmark.tflite (default: from the "
                                       "mediapipe package when installed).")
_TFLITE_FILES = flags.DEFINE_list(
    "tflite_files", [], "Extra LiteRT files timed in the same run, as label=path (e.g. an "
    "earlier version's export kept with --keep_dir, for a before/after table on one loaded "
    "machine).")
_KEEP_DIR = flags.DEFINE_string("keep_dir", None, "Write the exported files here and keep "
                                "them (default: a temporary folder, deleted).")
_OVERRIDES = flags.DEFINE_list("overrides", [], "key=value architecture overrides for every "
                                "preset (JSON values), e.g. separable=false.")
_KERAS_FILES = flags.DEFINE_list(
    "keras_files", [], "Trained models for presets, as preset=path.keras (e.g. one saved by "
    "benchmarks/int8_nme.py --save): their quantised exports are judged on real NME.")
_SHIPPED_WEIGHTS = flags.DEFINE_bool(
    "shipped_weights", True, "Export presets that ship trained weights (zoo/weights/) with "
    "them, as users get them; --noshipped_weights keeps random weights (without "
    "--overrides only).")
_SAVED_MODEL_WORKER = flags.DEFINE_string("saved_model_worker", None, "Internal.")


def _stats(times_ms):
    return float(np.median(times_ms)), float(np.percentile(times_ms, 90))


def _time(call, runs, warmup, cpu_times=None):
    """Wall-clock ms of ``runs`` calls; also appends this thread's CPU ms to ``cpu_times``.

    At 1 thread LiteRT/XNNPACK and onnxruntime compute in the calling thread, so its CPU
    time is the latency without the waits for a core that a loaded, shared machine adds
    (the wall-clock median is then mostly queueing); at 2 threads it misses the worker.
    """
    for _ in range(warmup):
        call()
    times = np.empty(runs)
    cpu = np.empty(runs)
    for i in range(runs):
        start_cpu = time.thread_time()
        start = time.perf_counter()
        call()
        times[i] = (time.perf_counter() - start) * 1e3
        cpu[i] = (time.thread_time() - start_cpu) * 1e3
    if cpu_times is not None:
        cpu_times.append(cpu)
    return times


def _example_inputs(details, rng):
    """Batch-1 inputs for interpreter input details (uint8 images, zero state, float images)."""
    feeds = []
    for detail in details:
        shape = [1 if d < 0 else int(d) for d in detail["shape_signature"]]
        shape[0] = 1
        if detail["dtype"] == np.uint8:
            feeds.append((detail["index"], rng.integers(0, 256, shape, dtype=np.uint8)))
        elif len(shape) == 4 and shape[-1] == 3:
            feeds.append((detail["index"], rng.uniform(0, 1, shape).astype(detail["dtype"])))
        else:
            feeds.append((detail["index"], np.zeros(shape, detail["dtype"])))
    return feeds


def tflite_timer(path, threads):
    """A zero-argument callable running one batch-1 inference (set inputs + invoke)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=threads)
    details = interpreter.get_input_details()
    feeds = _example_inputs(details, np.random.default_rng(0))
    for (index, value), detail in zip(feeds, details):
        if list(detail["shape"]) != list(value.shape):
            interpreter.resize_tensor_input(index, value.shape)
    interpreter.allocate_tensors()

    def call():
        for index, value in feeds:
            interpreter.set_tensor(index, value)
        interpreter.invoke()

    return call


def onnx_timer(path, threads):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {}
    for item in session.get_inputs():
        shape = [1 if not isinstance(d, int) else d for d in item.shape]
        if item.type == "tensor(uint8)":
            feed[item.name] = rng.integers(0, 256, shape, dtype=np.uint8)
        else:
            feed[item.name] = np.zeros(shape, np.float32)
    return lambda: session.run(None, feed)


def saved_model_worker(path, threads, runs, warmup):
    """Runs in a subprocess: TF's thread pools are fixed before the first op."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    function = tf.saved_model.load(path).signatures["serving_default"]
    _, spec = function.structured_input_signature
    feed = {}
    for name, item in spec.items():
        shape = [1] + list(item.shape[1:])
        feed[name] = tf.zeros(shape, item.dtype)
    print(json.dumps(_time(lambda: function(**feed), runs, warmup).tolist()))


def saved_model_times(path, threads, runs, warmup):
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), f"--saved_model_worker={path}",
         f"--threads={threads}", f"--runs={runs}", f"--warmup={warmup}"],
        capture_output=True, text=True, check=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")).stdout
    return np.asarray(json.loads(out.strip().splitlines()[-1]))


def find_mediapipe_model():
    if _MEDIAPIPE_MODEL.value:
        return _MEDIAPIPE_MODEL.value
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "modules", "face_landmark",
                        "face_landmark.tflite")
    return path if os.path.isfile(path) else None


def load(preset):
    """(label, exportable model, metadata) of a preset (a tracker gives its step model)."""
    import zoo
    import zoo.weights
    from zoo.export import sources

    trained = dict(item.split("=", 1) for item in _KERAS_FILES.value)
    if preset in trained:
        model, metadata = sources.load(keras_file=trained[preset])
        label = preset + " (trained)"
    elif not _OVERRIDES.value and _SHIPPED_WEIGHTS.value and \
            zoo.weights.has_trained_weights(zoo.get_preset(preset)):
        # The shipped artifact: trained weights change the graph, not only its numbers (the
        # converter drops the adds of zero-initialised batch-norm offsets and biases, so a
        # random-weight export has fewer ops than the shipped one).
        from zoo.export import metadata as metadata_lib

        trained_model = zoo.create(preset)
        zoo.weights.load_preset_weights(trained_model, zoo.get_preset(preset))
        model, kind = sources.exportable_model(trained_model)
        metadata = metadata_lib.build_metadata(model, preset=zoo.get_preset(preset), kind=kind)
        label = preset + " (shipped weights)"
    else:
        overrides = {k: json.loads(v)
                     for k, v in (item.split("=", 1) for item in _OVERRIDES.value)}
        model, metadata = sources.load(preset=preset, **overrides)
        label = preset
    label += " (step)" if metadata["kind"] == "tracker_step" else ""
    return label, model, metadata


REFUSED = []


def export_all(preset, formats, directory):
    """Exports one preset to every requested format; returns [(label, format, path, params)]."""
    import zoo.export
    from zoo.export import sources

    label, model, metadata = load(preset)
    stem = preset
    refused = REFUSED
    params = model.count_params()
    rows = []
    for fmt in formats:
        start = time.perf_counter()
        try:
            if fmt.startswith("tflite_"):
                quantization = fmt[len("tflite_"):]
                data = sources.quantization_data(model, metadata, quantization,
                                                 _NUM_CALIBRATION.value, _NUM_EVAL.value)
                result = zoo.export.export_tflite(
                    model, os.path.join(directory, f"{stem}_{quantization}.tflite"),
                    quantization=quantization, metadata=metadata, **data)
            elif fmt == "onnx":
                result = zoo.export.export_onnx(model, os.path.join(directory, f"{stem}.onnx"),
                                                metadata=metadata)
            elif fmt == "saved_model":
                result = zoo.export.export_saved_model(model, directory, stem, 1,
                                                       metadata=metadata)
            else:
                raise ValueError(f"Unknown format. Received: format={fmt}")
        except zoo.export.ParityError as error:
            # The export refused to write the file. A quantised file of random weights fails
            # its NME check by nature (the weights do not change its ops or its speed), so
            # such a file is converted again without the check and timed, marked as refused.
            print(f"REFUSED {label} {fmt}: {error}", file=sys.stderr)
            refused.append(f"{label} {fmt}: {error}")
            if not fmt.startswith("tflite_") or fmt == "tflite_float32":
                continue
            path = os.path.join(directory, f"{stem}_{fmt[len('tflite_'):]}_unchecked.tflite")
            with open(path, "wb") as handle:
                handle.write(zoo.export.tflite.convert(
                    model, fmt[len("tflite_"):], data.get("representative_data")))
            rows.append((label, fmt, path, params, "refused by NME check, timed for speed"))
            continue
        nme = result.parity.get("nme")
        note = (f"NME {100 * nme['nme_reference']:.2f} -> {100 * nme['nme_candidate']:.2f}"
                if nme else "parity ok")
        print(f"exported {label} {fmt} in {time.perf_counter() - start:.0f} s ({note})",
              file=sys.stderr)
        rows.append((label, fmt, result.path, params, note))
    return rows


def partitions_cell(fmt, path):
    """``"K (n: OP, ...)"`` for a LiteRT file: XNNPACK partitions and the ops it leaves out."""
    if not fmt.startswith("tflite"):
        return "-"
    from zoo.export import tflite

    report = tflite.xnnpack_partitions(path)
    outside = sorted({name for _, name, _ in report["undelegated"]})
    return (f"{report['num_partitions']} ({len(report['undelegated'])} of {report['num_ops']}"
            + (f": {', '.join(outside)}" if outside else "") + ")")


def _size_mb(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path)
                   for f in fs) / 1e6
    return os.path.getsize(path) / 1e6


def main(argv):
    del argv
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # TF's export INFO lines would bury the table
    threads = [int(t) for t in _THREADS.value]
    if _SAVED_MODEL_WORKER.value:
        saved_model_worker(_SAVED_MODEL_WORKER.value, threads[0], _RUNS.value, _WARMUP.value)
        return
    import zoo

    presets = zoo.list_models() if _PRESETS.value == ["all"] else _PRESETS.value
    with tempfile.TemporaryDirectory() as temporary:
        directory = _KEEP_DIR.value or temporary
        os.makedirs(directory, exist_ok=True)
        rows = []
        for preset in presets:
            rows += export_all(preset, _FORMATS.value, directory)
        for item in _TFLITE_FILES.value:
            label, _, path = item.partition("=")
            if not path or not os.path.isfile(path):
                raise ValueError(f"--tflite_files takes label=path of existing files. "
                                 f"Received: {item!r}")
            rows.append((label, "tflite (file)", path, None, "given file"))
        mediapipe = find_mediapipe_model()
        if mediapipe:
            rows.append(("mediapipe face_landmark (468 pts)", "tflite (fp16 weights)", mediapipe,
                         None, "reference"))
        else:
            print("MediaPipe face_landmark.tflite not found (install mediapipe==0.10.21 or pass "
                  "--mediapipe_model); its row is left out.", file=sys.stderr)
        load_start = os.getloadavg()
        times = {(i, t): [] for i in range(len(rows)) for t in threads}
        cpu_times = {i: [] for i in range(len(rows))}
        for _ in range(_TRIALS.value):
            for i, (_, fmt, path, _, _) in enumerate(rows):
                for t in threads:
                    if fmt == "saved_model":
                        times[i, t].append(saved_model_times(path, t, _RUNS.value, _WARMUP.value))
                    elif fmt == "onnx":
                        times[i, t].append(_time(onnx_timer(path, t), _RUNS.value, _WARMUP.value,
                                                 cpu_times[i] if t == 1 else None))
                    else:
                        times[i, t].append(_time(tflite_timer(path, t), _RUNS.value,
                                                 _WARMUP.value, cpu_times[i] if t == 1 else None))
        header = "| model | format | params | size MB | XNNPACK partitions (ops outside) | " + \
            " | ".join(f"{t} thr median ms | {t} thr p90 ms" for t in threads) + \
            " | 1 thr CPU median ms | check |"
        print(header)
        print("|" + "---|" * (header.count("|") - 1))
        for i, (name, fmt, path, params, note) in enumerate(rows):
            cells = []
            for t in threads:
                median, p90 = _stats(np.concatenate(times[i, t]))
                cells += [f"{median:.2f}", f"{p90:.2f}"]
            cells.append(f"{np.median(np.concatenate(cpu_times[i])):.2f}" if cpu_times[i]
                         else "-")
            print(f"| {name} | {fmt} | {params if params is not None else '-'} | "
                  f"{_size_mb(path):.2f} | {partitions_cell(fmt, path)} | " + " | ".join(cells)
                  + f" | {note} |")
        for line in REFUSED:
            print(f"refused by its parity check (a quantised LiteRT one timed unchecked, "
                  f"for speed only): {line}")
        print(f"\n{_RUNS.value} runs x {_TRIALS.value} trial(s) after {_WARMUP.value} warm-up "
              f"runs, batch 1, {os.cpu_count()} CPUs; load average (1, 5, 15 min) at the "
              f"start of the timing: {', '.join(f'{x:.1f}' for x in load_start)}, at the end: "
              f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    app.run(main)
