"""Peak training memory of 1D vs 2D heatmap heads: the 1D-heatmap paper's central claim.

One training step (batch 10, input F = 256, backbone width 256, Adam, Eq. 11 loss) of the
attentive 1D detector (``zoo.models.build_aheat1d``) at L = 64, 256, 768 and of the 2D FAN
baseline (``zoo.models.build_fan2d``: heatmaps from full-width features at L x L) at 64, 128,
256. Both families are built and measured the same way, each configuration in a fresh
subprocess:

* tensor peak: TF's CPU device is switched to the BFC allocator (TF_CPU_ALLOCATOR_USE_BFC),
  the allocator GPUs use, whose exact byte counts ``tf.config.experimental.get_memory_info``
  reports; before each of ``--steps`` steps after the first, its peak is reset. The peak is
  what a GPU's memory limit sees (weights, Adam slots, activations, gradients, temporaries);
  "of it in the step" subtracts the bytes held right before the step. Both count tensor
  bytes (no allocator caching or page noise); the executor's op order still moves them by up
  to ~2% between steps (measured: 1598 vs 1630 MiB for 1D-768), so the median is shown.
* first step RSS: peak RSS during the first ``train_on_batch`` (graph tracing included)
  minus the RSS right before it (/proc/self/clear_refs resets the kernel's peak mark), and
  the process's peak RSS; noisy (+-100 MiB), kept as a cross-check.
* ``--repeats`` fresh processes per configuration; the table shows the median over them.

    .venv/bin/python benchmarks/memory.py                 # 1 stack (default; fast on 2 cores)
    .venv/bin/python benchmarks/memory.py --stacks 4      # the paper's 4 stacks (slow on CPU)
    .venv/bin/python benchmarks/memory.py --configs 1D-768 2D-128   # a subset
    .venv/bin/python benchmarks/memory.py --configs 1D-768 HIH-8    # HIH, 8x8 decimal map

``HIH-d`` measures ``zoo.models.build_hih`` (the authors' network: bottleneck hourglass of the
same width and depth, F/4 x F/4 integer heatmaps per stack, one d x d decimal head) trained
with its CSC loss; its "L" column is the decimal size d.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONFIGS = [("1D", 64), ("1D", 256), ("1D", 768), ("2D", 64), ("2D", 128), ("2D", 256)]


def rss_kib(field="VmRSS"):
    """Reads ``field`` (VmRSS, VmHWM, ...) of this process from /proc/self/status, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_rss():
    """Resets the kernel's peak-RSS mark (VmHWM) of this process to the current RSS (Linux 4.0+)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def measure_peak_mib(function):
    """Runs ``function()`` and returns ``(peak RSS during it - RSS right before it, seconds)``.

    Args:
        function: a callable taking no arguments.

    Returns:
        ``(mib, seconds)``: the memory the call added at its peak, in MiB, and its wall time.

    Example:
        >>> import numpy as np
        >>> mib, _ = measure_peak_mib(lambda: np.ones(64 * 2 ** 20 // 8).sum())
        >>> 50 < mib < 80
        True
    """
    reset_peak_rss()
    before = rss_kib()
    start = time.perf_counter()
    function()
    seconds = time.perf_counter() - start
    return (rss_kib("VmHWM") - before) / 1024, seconds


def output_values(kind, size, num_landmarks, input_size=256):
    """Output values per face: 2NL for 1D heatmaps, NL^2 for 2D (Section 4 of the paper),
    N ((F/4)^2 + d^2) for HIH (integer map + decimal map of side ``size`` = d).

    Example:
        >>> output_values("1D", 768, 68), output_values("2D", 64, 68), output_values("HIH", 8, 68)
        (104448, 278528, 282880)
    """
    if kind == "1D":
        return 2 * num_landmarks * size
    if kind == "2D":
        return num_landmarks * size * size
    if kind == "HIH":
        return num_landmarks * ((input_size // 4) ** 2 + size * size)
    raise ValueError(f"`kind` must be '1D', '2D' or 'HIH'. Received: kind={kind!r}")


def parse_config(text):
    """``"1D-768"`` -> ``("1D", 768)``."""
    kind, _, size = text.partition("-")
    if kind not in ("1D", "2D", "HIH") or not size.isdigit():
        raise ValueError(f"A config looks like 1D-768, 2D-128 or HIH-8. Received: "
                         f"config={text!r}")
    return kind, int(size)


def worker(kind, size, stacks, batch, num_landmarks, input_size, width, head_channels, steps):
    """Builds one model, runs 1 + ``steps`` training steps, prints a JSON line of figures."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # TF's CPU device then allocates tensors through the same BFC allocator as on a GPU, whose
    # exact byte counts (current / peak) tf.config.experimental.get_memory_info reports.
    os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"
    import numpy as np
    import tensorflow as tf

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
    elif kind == "HIH":
        import zoo.codecs
        from zoo.models.hih import build_hih

        model = build_hih(decimal_size=size, **common)
        side = input_size // 4
        targets = {"integer": rng.uniform(size=(batch, side, side, num_landmarks)),
                   "decimal": rng.uniform(size=(batch, size, size, num_landmarks))}
        targets = {key: value.astype("float32") for key, value in targets.items()}
    else:
        model = build_fan2d(heatmap_size=size, **common)
        targets = {"heatmap": rng.uniform(size=(batch, size, size, num_landmarks))
                   .astype("float32")}
    images = rng.uniform(0, 255, (batch, input_size, input_size, 3)).astype("float32")
    if kind == "HIH":  # the CSC loss: MSE on the integer maps + 0.05 KL on the decimal map
        codec = zoo.codecs.HIHCodec(input_size, input_size // 4, size)
        loss = zoo.losses.keras_losses(zoo.losses.hih_losses(codec))
    else:
        loss = zoo.losses.detector_losses(model)
    # Plain TF graph (no XLA), as the paper's TensorFlow 1.9 training.
    model.compile(optimizer="adam", loss=loss, jit_compile=False)
    losses = []

    def step():
        losses.append(float(model.train_on_batch(images, targets, return_dict=True)["loss"]))

    first_mib, first_seconds = measure_peak_mib(step)
    tensor_peaks, tensor_steps, rss_steps, seconds = [], [], [], []
    for _ in range(steps):
        tf.config.experimental.reset_memory_stats("CPU:0")
        before = tf.config.experimental.get_memory_info("CPU:0")["current"]
        mib, step_seconds = measure_peak_mib(step)
        peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
        tensor_peaks.append(peak / 2 ** 20)
        tensor_steps.append((peak - before) / 2 ** 20)
        rss_steps.append(mib)
        seconds.append(step_seconds)
    print(json.dumps({
        "kind": kind, "size": size, "first_step_mib": first_mib,
        "first_step_seconds": first_seconds,
        "tensor_peak_mib": statistics.median(tensor_peaks), "tensor_peak_mib_all": tensor_peaks,
        "tensor_step_mib": statistics.median(tensor_steps),
        "step_mib": statistics.median(rss_steps), "step_mib_all": rss_steps,
        "step_seconds": statistics.median(seconds),
        "max_rss_mib": _max_rss_mib(), "loss": losses[-1], "params": model.count_params()}))


def _max_rss_mib():
    """The process's peak RSS over its whole life (ru_maxrss; clear_refs does not reset it)."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summarize(runs):
    """Median of every numeric figure over the repeated runs of one configuration."""
    summary = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "size":
            summary[key] = statistics.median(run[key] for run in runs)
    summary["tensor_peak_mib_runs"] = [run["tensor_peak_mib"] for run in runs]
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--landmarks", type=int, default=68)
    parser.add_argument("--input_size", type=int, default=256)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--head_channels", type=int, default=128,
                        help="channels of the 1D heads' CNN_1/CNN_2 (aheat1d presets: 128)")
    parser.add_argument("--steps", type=int, default=3,
                        help="measured steps after the first (median taken)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="fresh processes per configuration (median taken)")
    parser.add_argument("--configs", nargs="*", default=None,
                        help="subset such as 1D-768 2D-128 (default: all six)")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "SIZE"))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.stacks, args.batch, args.landmarks,
               args.input_size, args.width, args.head_channels, args.steps)
        return

    configs = CONFIGS if not args.configs else [parse_config(c) for c in args.configs]
    rows = []
    for kind, size in configs:
        runs, error = [], None
        for repeat in range(args.repeats):
            command = [sys.executable, os.path.abspath(__file__), "--worker", kind, str(size),
                       "--stacks", str(args.stacks), "--batch", str(args.batch),
                       "--landmarks", str(args.landmarks), "--input_size", str(args.input_size),
                       "--width", str(args.width), "--head_channels", str(args.head_channels),
                       "--steps", str(args.steps)]
            result = subprocess.run(command, capture_output=True, text=True)
            lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
            if result.returncode or not lines:
                error = f"rc {result.returncode}: {result.stderr.strip()[-300:]}"
                break
            runs.append(json.loads(lines[-1]))
            print(f"# {kind}-{size} run {repeat + 1}: {lines[-1]}", file=sys.stderr, flush=True)
        rows.append({"kind": kind, "size": size, "error": error} if error else summarize(runs))

    reference = next((r for r in rows if (r["kind"], r["size"]) == ("1D", 768)
                      and not r.get("error")), None)
    print(f"Peak training memory of one Adam step with the Eq. 11 loss: {args.stacks} "
          f"hourglass stack(s) (the paper uses 4), batch {args.batch}, F {args.input_size}, "
          f"backbone width {args.width}, 1D head channels {args.head_channels}, "
          f"N {args.landmarks}; 2D = FAN head at L x L (full-width features upsampled, 1x1 conv "
          f"+ BN + ReLU, 1x1 conv to N). CPU (2 cores), TF graph mode without XLA, tensors "
          f"through TF's BFC allocator. 'tensor peak' = the allocator's peak during a step "
          f"(weights, Adam slots, activations, gradients; median over {args.steps} steps after "
          f"the first), 'of it in the step' = that peak minus the bytes held right before the "
          f"step; 'first step RSS' = peak RSS of the first step (tracing included) minus the "
          f"RSS before it; each configuration in {args.repeats} fresh process(es), median shown.")
    print()
    print("| heads | L | output values per face | vs 1D-768 | tensor peak (MiB) | vs 1D-768 "
          "| of it in the step (MiB) | vs 1D-768 | first step RSS (MiB) | peak RSS (MiB) "
          "| params | step time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    ref_values = output_values("1D", 768, args.landmarks)

    def ratio(row, key):
        return row[key] / reference[key] if reference else float("nan")

    for row in rows:
        values = output_values(row["kind"], row["size"], args.landmarks, args.input_size)
        if row.get("error"):
            print(f"| {row['kind']} | {row['size']} | {values:,} | {values / ref_values:.2f} | "
                  f"failed: {row['error']!r} | | | | | | | |")
            continue
        print(f"| {row['kind']} | {row['size']} | {values:,} | {values / ref_values:.2f} | "
              f"{row['tensor_peak_mib']:.0f} | {ratio(row, 'tensor_peak_mib'):.2f} | "
              f"{row['tensor_step_mib']:.0f} | {ratio(row, 'tensor_step_mib'):.2f} | "
              f"{row['first_step_mib']:.0f} | {row['max_rss_mib']:.0f} | {row['params']:,} | "
              f"{row['step_seconds']:.1f} |")


if __name__ == "__main__":
    main()
