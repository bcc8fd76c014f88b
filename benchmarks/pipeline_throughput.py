"""Throughput of the full training pipeline (source, crop, augment, 1D targets, batch).

Measures images per second of ``zoo.data.pipeline.make_dataset`` at input size F (default 256)
with full augmentation (``AugmentConfig()``: rotation, scale, translation, flip, colour, blur,
occlusion) and ``Heatmap1DCodec(F, L)`` targets (default L = 768), batch 10, for two sources:

* ``synthface``: SynthFace renders every face on the fly (OpenCV, inside ``tf.numpy_function``);
* ``jpeg``: a few hundred JPEG face crops (rendered once, encoded into memory) decoded per step.

Each configuration runs in a fresh subprocess pinned to 1 or 2 CPU cores with
``os.sched_setaffinity`` and a tf.data private thread pool of the same size. Besides wall-clock
images/s, it prints images per CPU-second of the process (user + system time), which is the
per-core rate and is less sensitive to other jobs sharing the machine; the load average at the
start of each run is printed too.

Usage:
    .venv/bin/python benchmarks/pipeline_throughput.py
    .venv/bin/python benchmarks/pipeline_throughput.py --seconds 20 --cores 1 2 --sources jpeg synthface
"""
import argparse
import json
import os
import subprocess
import sys
import time


def _measure(source, cores, input_size, heatmap_size, batch_size, seconds, augment):
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import cv2
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(cores)
    tf.config.threading.set_inter_op_parallelism_threads(cores)
    cv2.setNumThreads(1)
    import zoo.codecs
    from zoo.data import pipeline, synthface, transforms

    codec = zoo.codecs.Heatmap1DCodec(input_size=input_size, heatmap_size=heatmap_size)
    if source == "synthface":
        data = synthface.dataset(image_size=input_size, seed=0, with_metadata=True)
    else:
        face = synthface.SynthFace(image_size=int(input_size * 1.25), seed=0)
        samples = [face.sample(i) for i in range(300)]
        encoded = [cv2.imencode(".jpg", cv2.cvtColor(s.image, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes() for s in samples]
        data = tf.data.Dataset.from_tensor_slices({
            "image": encoded,
            "landmarks": np.stack([s.landmarks for s in samples]),
            "visibility": np.stack([s.visibility for s in samples]),
            "box": np.stack([s.box for s in samples]),
        }).repeat()
    config = transforms.AugmentConfig() if augment else False
    ds = pipeline.make_dataset(data, codec, "300w", input_size=input_size, batch_size=batch_size,
                               augment=config, seed=None, shuffle=0 if source == "synthface" else 300,
                               num_threads=cores)
    iterator = iter(ds)
    for _ in range(5):  # warm-up: tracing, thread pools, autotune
        next(iterator)
    start_wall, start_cpu = time.perf_counter(), os.times()
    count = 0
    while time.perf_counter() - start_wall < seconds:
        images, targets = next(iterator)
        count += int(images.shape[0])
    wall = time.perf_counter() - start_wall
    end_cpu = os.times()
    cpu = (end_cpu.user - start_cpu.user) + (end_cpu.system - start_cpu.system)
    return {"images": count, "wall_s": wall, "cpu_s": cpu, "load": os.getloadavg()[0]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", default=["jpeg", "synthface"])
    parser.add_argument("--cores", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--input_size", type=int, default=256)
    parser.add_argument("--heatmap_size", type=int, default=768)
    parser.add_argument("--batch_size", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--no_augment", action="store_true")
    parser.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        source, cores = args._child.split(":")
        result = _measure(source, int(cores), args.input_size, args.heatmap_size, args.batch_size,
                          args.seconds, not args.no_augment)
        print("RESULT " + json.dumps(result))
        return
    print(f"pipeline throughput: F={args.input_size}, 1D targets L={args.heatmap_size}, batch "
          f"{args.batch_size}, augmentation {'off' if args.no_augment else 'full'}, "
          f"{args.seconds:.0f} s per run, machine cores {os.cpu_count()}")
    print("| source    | cores | images/s (wall) | images/s per core (wall) | images per CPU-s | load avg |")
    print("|-----------|-------|-----------------|--------------------------|------------------|----------|")
    for source in args.sources:
        for cores in args.cores:
            command = [sys.executable, __file__, "--_child", f"{source}:{cores}"] + [
                a for a in sys.argv[1:] if not a.startswith("--_child")]
            output = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = [l for l in output.stdout.splitlines() if l.startswith("RESULT ")]
            if not lines:
                print(f"| {source:9s} | {cores:5d} | failed: {output.stderr.strip().splitlines()[-1:]} |")
                continue
            r = json.loads(lines[-1][len("RESULT "):])
            rate = r["images"] / r["wall_s"]
            print(f"| {source:9s} | {cores:5d} | {rate:15.1f} | {rate / cores:24.1f} | "
                  f"{r['images'] / max(r['cpu_s'], 1e-9):16.1f} | {r['load']:8.2f} |", flush=True)


if __name__ == "__main__":
    main()
