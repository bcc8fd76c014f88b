"""Prints NME as the face box gets worse (shifted, rescaled, real Haar boxes) and plots it.

Robustness to imperfect face boxes (issue 15, RDFN's point): each model crops every test face
with ``zoo.FaceLandmarker`` (square crop of the box enlarged by ``--margin``, as in training,
landmarks mapped back to the image) from

* the ideal box: the tight box of the ground-truth landmarks (what training crops from);
* the ideal box **shifted** by ``s`` of its side on both axes (``s`` in ``--shifts``, 0-25 %),
  towards each of the 4 diagonal directions (``--directions 4``; 8 adds the 4 axis directions
  at ``s`` on one axis), NME averaged over the directions;
* the ideal box **scaled** by ``k`` about its centre (``k`` in ``--scales``, 0.75-1.35);
* **Haar boxes**: OpenCV's cascades (``zoo.faces.HaarFaceDetector``) on the whole photo, the
  detection that overlaps the ground-truth box most (IoU >= ``--min_iou``); faces without one
  are counted and left out of that column.

NME is the inter-ocular one (outer eye corners, 300-W's normaliser), in percent, on the same
faces for every model. ``growth`` is the worst perturbed NME minus the ideal one. Models are
given as ``[label=]spec`` with spec a training run folder, a ``.keras`` file, an export folder,
a preset name (random weights: for testing), or ``preset@weights.weights.h5``.

    # The HELEN half of 300-W's common test subset (330 faces):
    .venv/bin/python benchmarks/robustness.py --data_dir ../shared/data/300w \
        --models rdfn=runs/rdfn_small aheat1d=runs/aheat1d_mobile --plot robustness.png
    # Any folder of image + .pts pairs, a few faces:
    .venv/bin/python benchmarks/robustness.py --faces_dir ../shared/fixtures/300w/pts_images \
        --limit 3 --models rdfn_small_300w --plot /tmp/robustness.png
"""
import argparse
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEFAULT_SHIFTS = (0.05, 0.10, 0.15, 0.20, 0.25)
DEFAULT_SCALES = (0.75, 0.85, 1.15, 1.25, 1.35)


def read_faces(data_dir=None, split="common", subset="helen", faces_dir=None, limit=None):
    """Test faces as ``(image paths, landmarks (K, 68, 2))`` (0-based pixels).

    Args:
        data_dir: a 300-W root for ``zoo.data.readers.read_300w(data_dir, split)``.
        split: the 300-W split.
        subset: keep samples whose folder starts with this (``"helen"``: the HELEN half of
            ``common``); None keeps all.
        faces_dir: instead, a folder of ``NAME.jpg`` / ``.png`` + ``NAME.pts`` pairs.
        limit: keep the first ``limit`` faces.

    Returns:
        ``(paths, landmarks)``.
    """
    from zoo.data.readers import common, read_300w

    if (data_dir is None) == (faces_dir is None):
        raise ValueError("Pass exactly one of data_dir and faces_dir. "
                         f"Received: data_dir={data_dir!r}, faces_dir={faces_dir!r}")
    if faces_dir is not None:
        paths, points = [], []
        for name in sorted(os.listdir(faces_dir)):
            if not name.endswith(".pts"):
                continue
            image = common.find_image(os.path.join(faces_dir, name[:-4]))
            if image is None:
                continue
            paths.append(image)
            points.append(common.read_pts(os.path.join(faces_dir, name), 68))
    else:
        samples, report = read_300w(data_dir, split)
        print(f"300-W {split}: {report.summary()}", flush=True)
        samples = [s for s in samples
                   if subset is None or str(s.meta.get("subset", "")).startswith(subset)]
        paths = [str(s.image) for s in samples]
        points = [np.asarray(s.landmarks, np.float32) for s in samples]
    if limit is not None:
        paths, points = paths[:limit], points[:limit]
    if not paths:
        raise ValueError(f"No faces found. Received: data_dir={data_dir!r}, "
                         f"faces_dir={faces_dir!r}, subset={subset!r}")
    return paths, np.stack(points).astype(np.float32)


def parse_model_spec(spec):
    """``[label=]target[@weights]`` -> ``(label, target, weights)``."""
    label, _, target = spec.rpartition("=") if "=" in spec else ("", "", spec)
    target, _, weights = target.partition("@")
    label = label or os.path.basename(os.path.normpath(target)) or target
    return label, target, weights or None


def load_model(spec):
    """A ``zoo.loading.LandmarkModel`` and its label from a model spec."""
    import zoo

    label, target, weights = parse_model_spec(spec)
    if weights is not None:
        return label, zoo.load(target, weights=weights)
    return label, zoo.load(target)


def shifted_box(box, shift, direction):
    """``box`` moved by ``shift`` of its side along the unit-step ``direction`` ``(dx, dy)``."""
    x1, y1, x2, y2 = box
    side_x, side_y = x2 - x1, y2 - y1
    dx, dy = direction[0] * shift * side_x, direction[1] * shift * side_y
    return np.array([x1 + dx, y1 + dy, x2 + dx, y2 + dy], np.float32)


def scaled_box(box, scale):
    """``box`` scaled by ``scale`` about its centre."""
    x1, y1, x2, y2 = box
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2 * scale, (y2 - y1) / 2 * scale
    return np.array([cx - hw, cy - hh, cx + hw, cy + hh], np.float32)


def directions(count):
    """The shift directions: 4 diagonals, then (for 8) the 4 axis directions."""
    diagonal = [(1, 1), (-1, 1), (-1, -1), (1, -1)]
    axes = [(1, 0), (0, 1), (-1, 0), (0, -1)]
    if count not in (4, 8):
        raise ValueError(f"`directions` must be 4 or 8. Allowed: [4, 8]. Received: directions={count}")
    return diagonal if count == 4 else diagonal + axes


def haar_boxes(images, truth_boxes, min_iou=0.3):
    """The Haar detection that best overlaps each ground-truth box (None where none does)."""
    from zoo import faces

    detector = faces.HaarFaceDetector()
    chosen = []
    for image, truth in zip(images, truth_boxes):
        found = np.asarray(detector(image), np.float32).reshape(-1, 4)
        if len(found) == 0:
            chosen.append(None)
            continue
        overlaps = faces._iou(truth, found)
        best = int(np.argmax(overlaps))
        chosen.append(found[best] if overlaps[best] >= min_iou else None)
    return chosen


def conditions(truth_boxes, shifts, scales, num_directions, haar=None):
    """``{condition name: [box per face (or None), ...] or list of such lists}``.

    Shift conditions hold one list of boxes per direction (averaged later).
    """
    table = {"ideal": [list(truth_boxes)]}
    for shift in shifts:
        table[f"shift {shift:.0%}"] = [[shifted_box(b, shift, d) for b in truth_boxes]
                                       for d in directions(num_directions)]
    for scale in scales:
        table[f"scale {scale:.2f}"] = [[scaled_box(b, scale) for b in truth_boxes]]
    if haar is not None:
        table["Haar"] = [haar]
    return table


def evaluate(landmarker, images, truth, table, scheme="300w"):
    """NME (percent) per condition: mean over faces (and shift directions) with a box.

    Returns:
        ``{condition: {"nme": float, "faces": int}}``.
    """
    import zoo.metrics

    results = {}
    for name, variants in table.items():
        errors = []
        for boxes in variants:
            kept = [i for i, box in enumerate(boxes) if box is not None]
            if not kept:
                continue
            found = landmarker.detect([images[i] for i in kept],
                                      boxes=[np.asarray(boxes[i])[None] for i in kept])
            predicted = np.stack([f.landmarks[0] for f in found])
            errors.append(zoo.metrics.nme(predicted, truth[kept], scheme=scheme))
        count = len(errors[0]) if errors else 0
        nme = float(np.mean(np.concatenate(errors)) * 100) if errors else float("nan")
        results[name] = {"nme": nme, "faces": count}
    return results


def growth(results):
    """Worst perturbed NME minus the ideal NME (the Haar column included)."""
    worst = max(v["nme"] for k, v in results.items() if k != "ideal" and np.isfinite(v["nme"]))
    return worst - results["ideal"]["nme"]


def format_table(all_results, total_faces):
    names = list(next(iter(all_results.values())))
    header = "| model | " + " | ".join(names) + " | growth |"
    lines = [header, "|---" * (len(names) + 2) + "|"]
    for label, results in all_results.items():
        cells = [f"{results[n]['nme']:.2f}" for n in names]
        if "Haar" in results:
            cells[names.index("Haar")] += f" ({results['Haar']['faces']}/{total_faces})"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {growth(results):+.2f} |")
    return "\n".join(lines)


def plot(all_results, shifts, scales, path):
    """Two panels: NME vs box shift, NME vs box scale; Haar as a dashed line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for index, (label, results) in enumerate(all_results.items()):
        colour = f"C{index}"
        left.plot([0.0] + [100 * s for s in shifts],
                  [results["ideal"]["nme"]] + [results[f"shift {s:.0%}"]["nme"] for s in shifts],
                  "o-", color=colour, label=label)
        points = sorted([(1.0, results["ideal"]["nme"])]
                        + [(k, results[f"scale {k:.2f}"]["nme"]) for k in scales])
        right.plot([k for k, _ in points], [v for _, v in points], "o-", color=colour,
                   label=label)
        if "Haar" in results and np.isfinite(results["Haar"]["nme"]):
            for axis in (left, right):
                axis.axhline(results["Haar"]["nme"], color=colour, linestyle="--", linewidth=1)
    left.set_xlabel("box shift (% of its side, both axes)")
    right.set_xlabel("box scale")
    left.set_ylabel("NME (%, inter-ocular)")
    left.set_title("shifted boxes (dashed: Haar boxes)")
    right.set_title("scaled boxes")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def run(models, paths, truth, shifts=DEFAULT_SHIFTS, scales=DEFAULT_SCALES, num_directions=4,
        margin=0.25, use_haar=True, min_iou=0.3, plot_path=None, json_path=None):
    """Evaluates every model on every box condition; prints and returns the results.

    Args:
        models: model specs (see the module docstring).
        paths: image paths; truth: ``(K, 68, 2)`` landmarks.
        shifts, scales, num_directions, margin, use_haar, min_iou: the conditions.
        plot_path: PNG to write (None: no plot). json_path: JSON to write (None: none).

    Returns:
        ``{label: {condition: {"nme", "faces"}}}``.
    """
    import zoo
    from zoo import faces

    images = [faces.read_image(path) for path in paths]
    truth_boxes = [np.concatenate([t.min(0), t.max(0)]).astype(np.float32) for t in truth]
    haar = None
    if use_haar:
        start = time.time()
        haar = haar_boxes(images, truth_boxes, min_iou)
        print(f"Haar boxes: {sum(b is not None for b in haar)}/{len(haar)} faces found "
              f"({time.time() - start:.1f} s)", flush=True)
    table = conditions(truth_boxes, shifts, scales, num_directions, haar)
    all_results = {}
    for spec in models:
        label, model = load_model(spec)
        # One crop from each (perturbed) box: refine=0, or re-cropping would hide the box error.
        # flip_test=False: one pass, as every figure of this table was measured.
        landmarker = zoo.FaceLandmarker(model, margin=margin, refine=0, flip_test=False)
        start = time.time()
        all_results[label] = evaluate(landmarker, images, truth, table, scheme="300w")
        print(f"{label}: {model.name}, {len(paths)} faces, {time.time() - start:.1f} s",
              flush=True)
    print(format_table(all_results, len(paths)))
    if plot_path:
        plot(all_results, shifts, scales, plot_path)
        print(f"plot: {plot_path}")
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump(all_results, handle, indent=1)
    return all_results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", required=True,
                        help="[label=]run dir | .keras | export dir | preset[@weights]")
    parser.add_argument("--data_dir", default=None, help="300-W root (read_300w)")
    parser.add_argument("--split", default="common")
    parser.add_argument("--subset", default="helen",
                        help="keep faces whose folder starts with this ('' keeps all)")
    parser.add_argument("--faces_dir", default=None, help="a folder of image + .pts pairs")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--shifts", type=float, nargs="*", default=list(DEFAULT_SHIFTS))
    parser.add_argument("--scales", type=float, nargs="*", default=list(DEFAULT_SCALES))
    parser.add_argument("--directions", type=int, default=4)
    parser.add_argument("--margin", type=float, default=0.25)
    parser.add_argument("--no_haar", action="store_true")
    parser.add_argument("--min_iou", type=float, default=0.3)
    parser.add_argument("--plot", default="robustness.png")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    paths, truth = read_faces(args.data_dir, args.split, args.subset or None, args.faces_dir,
                              args.limit)
    return run(args.models, paths, truth, args.shifts, args.scales, args.directions,
               args.margin, not args.no_haar, args.min_iou, args.plot, args.json)


if __name__ == "__main__":
    main()
