"""Prints the decoding error of location reweighting, argmax and soft-argmax on score maps.

RDFN's location reweighting (``zoo.codecs.RDFNCodec(method="reweight")``: a reweighted
expectation ``sum w p / sum w`` with ``w = max(H - tau m, 0)^gamma`` in the ``(2r + 1)^2``
window around the peak) against plain argmax and soft-argmax (integral regression over the
whole map) on synthetic score maps shaped like a network's: a peak-1 Gaussian of one bin at a
random sub-bin position, optionally a weaker second mode (a distractor: an occluder, the other
eye) and Gaussian background noise. Mean and 95th-percentile error in input pixels at
F = 128, H = 32 (4 px bins), ``--count`` landmarks per condition (seeded).

    .venv/bin/python benchmarks/location_reweighting.py
    .venv/bin/python benchmarks/location_reweighting.py --count 2000 --radius 2 --power 1
"""
import argparse
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONDITIONS = (("clean", 0.0, 0.0), ("noise 0.05", 0.0, 0.05), ("noise 0.1", 0.0, 0.1),
              ("second mode 0.5", 0.5, 0.0), ("second mode 0.5 + noise 0.05", 0.5, 0.05),
              ("second mode 0.8 + noise 0.1", 0.8, 0.1))


def gaussian_maps(centres, size, sigma):
    """``(H, W, K)`` peak-1 Gaussians at continuous bin coordinates ``centres (K, 2)``."""
    grid = np.arange(size, dtype=np.float64)
    dx = grid[None, None, :] - centres[:, 0, None, None]
    dy = grid[None, :, None] - centres[:, 1, None, None]
    return np.transpose(np.exp(-(dx ** 2 + dy ** 2) / (2 * sigma ** 2)), (1, 2, 0))


def make_maps(count, size, distractor, noise, rng):
    """Score maps with the truth in bins, a distractor mode and noise."""
    truth = rng.uniform(4, size - 4, (count, 2))
    maps = gaussian_maps(truth, size, 1.0)
    if distractor:
        others = rng.uniform(2, size - 2, (count, 2))
        maps = maps + distractor * gaussian_maps(others, size, 1.5)
    if noise:
        maps = maps + rng.normal(0, noise, maps.shape)
    return maps[None].astype(np.float32), truth


def main(argv=None):
    import keras

    import zoo.codecs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--radius", type=int, default=3)
    parser.add_argument("--power", type=float, default=2.0)
    parser.add_argument("--threshold", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    input_size, size = 128, 32
    codec = zoo.codecs.RDFNCodec(input_size, size, radius=args.radius, power=args.power,
                                 threshold=args.threshold)
    methods = ("reweight", "argmax", "soft_argmax")
    rng = np.random.default_rng(args.seed)
    print(f"reweight: r = {args.radius}, gamma = {args.power}, tau = {args.threshold}; "
          f"F = {input_size}, H = {size}, {args.count} landmarks per row; error in px, mean / p95")
    print("| score maps | " + " | ".join(methods) + " |")
    print("|---" * (len(methods) + 1) + "|")
    results = {}
    for name, distractor, noise in CONDITIONS:
        maps, truth = make_maps(args.count, size, distractor, noise, rng)
        truth_px = (truth + 0.5) * input_size / size - 0.5
        cells = []
        for method in methods:
            coords, _ = codec.with_decode(method).decode({"heatmap": maps})
            error = np.linalg.norm(keras.ops.convert_to_numpy(coords)[0] - truth_px, axis=-1)
            results[(name, method)] = error
            cells.append(f"{error.mean():.3f} / {np.percentile(error, 95):.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return results


if __name__ == "__main__":
    main()
