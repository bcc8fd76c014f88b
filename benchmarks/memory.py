"""Peak training memory of 1D vs 2D heatmap heads: the 1D-heatmap paper's central claim.

One training step (batch 10, input F = 256, backbone width 256, Adam, Eq. 11 loss) of the
attentive 1D detector at L = 64, 256, 768 and of the 2D FAN baseline at 64, 128, 256, each in a
fresh subprocess. Reported: output values per face (2NL for 1D, NL^2 for 2D) and the peak RSS
during the step minus the RSS after building the model and making the data (ru_maxrss, Linux
KiB; this includes tracing the training graph), and the peak of a second step after resetting
the kernel's peak-RSS mark (/proc/self/clear_refs; activations and gradients only), with ratios
to 1D-768.

    .venv/bin/python benchmarks/memory.py                 # 1 stack (default; fast on 2 cores)
    .venv/bin/python benchmarks/memory.py --stacks 4      # the paper's 4 stacks (slow on CPU)
    .venv/bin/python benchmarks/memory.py --configs 1D-768 2D-128   # a subset
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

CONFIGS = [("1D", 64), ("1D", 256), ("1D", 768), ("2D", 64), ("2D", 128), ("2D", 256)]


def _rss_kib(field="VmRSS"):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss():
    """Resets the kernel's peak-RSS mark (VmHWM) of this process (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def worker(kind, size, stacks, batch, num_landmarks, input_size, width, head_channels):
    """Builds one model, runs one training step, prints a JSON line with the memory figures."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import zoo.losses
    from zoo.models.aheat1d import build_aheat1d
    from zoo.models.fan2d import build_fan2d

    common = {"num_landmarks": num_landmarks, "input_size": input_size, "num_stacks": stacks,
              "width": width, "hourglass_depth": 4}
    rng = np.random.default_rng(0)
    if kind == "1D":
        model = build_aheat1d(heatmap_length=size, head_channels=head_channels, **common)
        targets = {key: rng.uniform(size=(batch, num_landmarks, size)).astype("float32")
                   for key in ("x", "y")}
    else:
        model = build_fan2d(heatmap_size=size, **common)
        targets = {"heatmap": rng.uniform(size=(batch, size, size, num_landmarks))
                   .astype("float32")}
    images = rng.uniform(0, 255, (batch, input_size, input_size, 3)).astype("float32")
    # Plain TF graph (no XLA), as the paper's TensorFlow 1.9 training.
    model.compile(optimizer="adam", loss=zoo.losses.detector_losses(model), jit_compile=False)
    baseline = _rss_kib()
    start = time.perf_counter()
    loss = model.train_on_batch(images, targets, return_dict=True)["loss"]
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Second step: the graph is traced already, so its peak is activations + gradients only.
    _reset_peak_rss()
    steady_baseline = _rss_kib()
    model.train_on_batch(images, targets)
    steady_peak = _rss_kib("VmHWM")
    print(json.dumps({"kind": kind, "size": size, "baseline_mib": baseline / 1024,
                      "peak_mib": peak / 1024, "step_mib": (peak - baseline) / 1024,
                      "second_step_mib": (steady_peak - steady_baseline) / 1024,
                      "seconds": seconds, "loss": float(loss),
                      "params": model.count_params()}))


def output_values(kind, size, num_landmarks):
    """Output values per face: 2NL for 1D heatmaps, NL^2 for 2D (Section 4 of the paper)."""
    return 2 * num_landmarks * size if kind == "1D" else num_landmarks * size * size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--landmarks", type=int, default=68)
    parser.add_argument("--input_size", type=int, default=256)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--head_channels", type=int, default=128,
                        help="channels of the 1D heads' CNN_1/CNN_2 (aheat1d presets: 128)")
    parser.add_argument("--configs", nargs="*", default=None,
                        help="subset such as 1D-768 2D-128 (default: all six)")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "SIZE"))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.stacks, args.batch, args.landmarks,
               args.input_size, args.width, args.head_channels)
        return

    rows = []
    configs = CONFIGS if not args.configs else [
        (c.split("-")[0], int(c.split("-")[1])) for c in args.configs]
    for kind, size in configs:
        command = [sys.executable, os.path.abspath(__file__), "--worker", kind, str(size),
                   "--stacks", str(args.stacks), "--batch", str(args.batch),
                   "--landmarks", str(args.landmarks), "--input_size", str(args.input_size),
                   "--width", str(args.width), "--head_channels", str(args.head_channels)]
        result = subprocess.run(command, capture_output=True, text=True)
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode or not lines:
            rows.append({"kind": kind, "size": size, "error": result.stderr.strip()[-300:]})
        else:
            rows.append(json.loads(lines[-1]))
        print(f"# done {kind}-{size}", file=sys.stderr, flush=True)

    reference = next(r for r in rows if (r["kind"], r["size"]) == ("1D", 768))
    print(f"Peak training memory, one step: batch {args.batch}, F {args.input_size}, "
          f"backbone width {args.width}, 1D head channels {args.head_channels}, "
          f"{args.stacks} hourglass stack(s) (the paper uses 4), N {args.landmarks}, Adam, "
          f"Eq. 11 loss, CPU, TF graph mode without XLA, each row a fresh process.")
    print()
    print("| heads | L | output values per face | vs 1D-768 | first step (MiB) | vs 1D-768 "
          "| second step (MiB) | vs 1D-768 | peak RSS (MiB) | first step time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ref_values = output_values("1D", 768, args.landmarks)
    for row in rows:
        values = output_values(row["kind"], row["size"], args.landmarks)
        if "error" in row:
            print(f"| {row['kind']} | {row['size']} | {values:,} | {values / ref_values:.2f} | "
                  f"failed: {row['error']!r} | | | | | |")
            continue
        ratio = row["step_mib"] / reference["step_mib"] if "step_mib" in reference else float("nan")
        ratio2 = (row["second_step_mib"] / reference["second_step_mib"]
                  if "second_step_mib" in reference else float("nan"))
        print(f"| {row['kind']} | {row['size']} | {values:,} | {values / ref_values:.2f} | "
              f"{row['step_mib']:.0f} | {ratio:.2f} | {row['second_step_mib']:.0f} | "
              f"{ratio2:.2f} | {row['peak_mib']:.0f} | {row['seconds']:.1f} |")


if __name__ == "__main__":
    main()
