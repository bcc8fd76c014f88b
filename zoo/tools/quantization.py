"""Representation (quantisation) error: how much NME each target representation loses by itself.

Reproduces the worked example of Section 3 of the 1D-heatmap paper (Eq. 3-5, floor
quantisation) and, given annotation files, encodes the true landmarks with each codec, decodes
them again and reports the NME (%) that the round trip alone costs.

Faces are cropped the way HRNet crops them: centre of the landmark box, side
``1.25 * 200 * scale`` with ``scale = max(box w, box h) / 200`` (HRNet's CSV ``scale``/``center``
columns when present), resized to ``input_size`` (256). NME is normalised by the inter-ocular
(outer eye corner) distance in the same crop frame.

Command (worked example only, then the 300W table)::

    python -m zoo.tools.quantization
    python -m zoo.tools.quantization ../shared/fixtures/300w/hrnet_csv/face_landmarks_300w_test.csv

Formats: HRNet CSV (``image_name,scale,center_w,center_h,x0,y0,...``), a ``.pts`` file or a
folder of them, an mmpose/COCO JSON (``annotations[].keypoints``), a WFLW ``list_98pt*.txt``,
COFW ``.mat`` (COFW-68 ``*_points.mat`` files or a folder of them, ``Points`` 68x2; the
HDF5 ``COFW_*_color.mat`` with ``phisT``/``phisTr``).
"""
import argparse
import csv
import json
import math
import os
import sys

import numpy as np

# Outer eye corners (0-based) per number of landmarks: 300W-68, WFLW-98, COFW-29.
EYE_CORNERS = {68: (36, 45), 98: (60, 72), 29: (8, 9)}


def floor_quantization_error(point, ratio):
    """Quantisation error E of Eq. 3-5: ``x = floor(p L/F)``, ``p' = x F/L``, ``E = |p - p'|``.

    Args:
        point: ``(p, q)`` in input pixels.
        ratio: ``L / F``.

    Returns:
        float, the Euclidean error E in input pixels.

    Example:
        >>> import zoo.tools.quantization as q
        >>> round(q.floor_quantization_error((142.84, 188.72), 0.5), 2)
        1.11
    """
    if not ratio > 0:
        raise ValueError(f"`ratio` (L/F) must be positive. Received: ratio={ratio!r}")
    p = np.asarray(point, dtype=np.float64)
    recovered = np.floor(p * ratio) / ratio  # Eq. 3 then Eq. 4
    return float(np.linalg.norm(p - recovered))  # Eq. 5


def hrnet_crop(landmarks, center=None, scale=None, input_size=256):
    """Maps landmarks into HRNet's face crop (side ``1.25 * 200 * scale`` -> ``input_size``).

    Args:
        landmarks: ``(N, 2)`` 0-based image coordinates.
        center: ``(x, y)`` crop centre (0-based); default the landmark box centre.
        scale: HRNet scale (box side / 200); default ``max(box w, box h) / 200``.
        input_size: crop side in pixels.

    Returns:
        ``(N, 2)`` float64 0-based crop coordinates.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    if center is None:
        center = (low + high) / 2.0
    if scale is None:
        scale = float((high - low).max()) / 200.0
    side = 1.25 * 200.0 * scale
    if not side > 0:
        raise ValueError(f"Degenerate face: the crop side must be positive. Received: "
                         f"scale={scale}")
    # The crop's centre lies at (input_size - 1) / 2 in 0-based pixel coordinates.
    return (landmarks - np.asarray(center, np.float64)) * (input_size / side) + (
        input_size - 1) / 2.0


def read_hrnet_csv(path):
    """HRNet CSV -> list of ``(landmarks (N, 2) 0-based, center 0-based, scale)``.

    HRNet's CSVs hold the 1-based ``.pts`` coordinates (its dataset code works in that frame);
    we subtract 1 from points and centre.
    """
    faces = []
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        if len(header) < 6 or header[1] != "scale":
            raise ValueError(f"Not an HRNet CSV (header {header[:4]}). Received: path={path}")
        for line_number, row in enumerate(reader, start=2):
            try:
                values = np.asarray(row[1:], dtype=np.float64)
            except ValueError:
                raise ValueError(f"Bad number on line {line_number}. Received: path={path}")
            points = values[3:].reshape(-1, 2) - 1.0
            faces.append((points, values[1:3] - 1.0, float(values[0])))
    return faces


def read_pts(path):
    """One ``.pts`` file (1-based) -> ``(N, 2)`` 0-based landmarks."""
    with open(path) as handle:
        text = handle.read()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError(f"No '{{ ... }}' point block in .pts file. Received: path={path}")
    values = np.asarray(text[start + 1:end].split(), dtype=np.float64)
    return values.reshape(-1, 2) - 1.0


def read_mmpose_json(path):
    """mmpose/COCO JSON -> list of ``(landmarks, center, scale)`` (keypoints are 0-based)."""
    with open(path) as handle:
        data = json.load(handle)
    faces = []
    for annotation in data["annotations"]:
        points = np.asarray(annotation["keypoints"], dtype=np.float64).reshape(-1, 3)[:, :2]
        faces.append((points, None, None))
    return faces


def read_wflw_list(path):
    """WFLW ``list_98pt*.txt``: 196 coordinates first on each line (0-based pixels)."""
    faces = []
    with open(path) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 196:
                faces.append((np.asarray(parts[:196], np.float64).reshape(98, 2), None, None))
    return faces


def read_cofw_mat(path):
    """COFW ``.mat``: COFW-68 ``Points`` (v5, 1-based) or HDF5 ``phisT``/``phisTr`` (COFW-29)."""
    try:
        import scipy.io

        data = scipy.io.loadmat(path)
        return [(np.asarray(data["Points"], np.float64) - 1.0, None, None)]
    except NotImplementedError:  # MATLAB v7.3 = HDF5
        import h5py

        with h5py.File(path, "r") as handle:
            key = "phisT" if "phisT" in handle else "phisTr"
            phis = np.asarray(handle[key]).T  # (M, 87): x1..x29, y1..y29, occ1..occ29
        return [(row[:58].reshape(2, -1).T - 1.0, None, None) for row in phis]


def read_annotations(path):
    """Reads any supported annotation file or folder -> list of ``(landmarks, center, scale)``.

    Raises:
        ValueError: unknown format or an empty result.
    """
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        faces = [(read_pts(os.path.join(path, n)), None, None) for n in names
                 if n.endswith(".pts")]
        if not faces:
            faces = [f for n in names if n.endswith(".mat")
                     for f in read_cofw_mat(os.path.join(path, n))]
    elif path.endswith(".csv"):
        faces = read_hrnet_csv(path)
    elif path.endswith(".pts"):
        faces = [(read_pts(path), None, None)]
    elif path.endswith(".json"):
        faces = read_mmpose_json(path)
    elif path.endswith(".txt"):
        faces = read_wflw_list(path)
    elif path.endswith(".mat"):
        faces = read_cofw_mat(path)
    else:
        raise ValueError(f"Unknown annotation format (use .csv, .pts, folder, .json, .txt, "
                         f".mat). Received: path={path}")
    if not faces:
        raise ValueError(f"No faces found. Received: path={path}")
    return faces


def default_codecs(input_size=256):
    """The representations of the README table, by row name."""
    from zoo import codecs

    f = input_size
    return {
        "2D 64 argmax": codecs.Heatmap2DCodec(f, f // 4, method="argmax"),
        "2D 64 + quarter offset": codecs.Heatmap2DCodec(f, f // 4, method="quarter_offset"),
        "2D 64 integral": codecs.Heatmap2DCodec(f, f // 4, method="integral"),
        "2D 128 argmax": codecs.Heatmap2DCodec(f, f // 2, method="argmax"),
        "1D 256 argmax": codecs.Heatmap1DCodec(f, f, refine=False),
        "1D 256 refined": codecs.Heatmap1DCodec(f, f),
        "1D 768 argmax": codecs.Heatmap1DCodec(f, 3 * f, refine=False),
        "1D 768 refined": codecs.Heatmap1DCodec(f, 3 * f),
        # The authors' HIH targets and decode (floored cell, decimal Gaussian on the nearest
        # decimal cell, argmax), and the zoo's continuous decimal target read by expectation.
        "HIH 64 int + 8x8 dec": codecs.HIHCodec(f, integer_size=f // 4, decimal_size=8),
        "HIH 64 + 8x8 continuous, expectation": codecs.HIHCodec(
            f, integer_size=f // 4, decimal_size=8, method="expectation",
            decimal_target="continuous"),
    }


def round_trip(codec, landmarks, batch_size=16):
    """Encodes ``(M, N, 2)`` landmarks with ``tf.data`` map, decodes in batches.

    Returns:
        ``(M, N, 2)`` float64 decoded landmarks.
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(np.asarray(landmarks, np.float32))
    dataset = dataset.map(codec.encode).batch(batch_size)
    decoded = [np.asarray(codec.decode(batch)[0], np.float64) for batch in dataset]
    return np.concatenate(decoded, axis=0)


def nme(predicted, target, eye_corners):
    """Per-face NME (fraction): mean point error / outer inter-ocular distance."""
    left, right = eye_corners
    distance = np.linalg.norm(target[:, left] - target[:, right], axis=-1)
    return np.linalg.norm(predicted - target, axis=-1).mean(axis=-1) / distance


def representation_errors(faces, codecs=None, input_size=256):
    """Mean NME (fraction) each codec loses on the cropped true landmarks.

    Args:
        faces: list of ``(landmarks, center, scale)`` from ``read_annotations``.
        codecs: dict name -> codec (default ``default_codecs(input_size)``).
        input_size: crop side in pixels.

    Returns:
        ``(errors, info)``: dict name -> mean NME fraction; info dict with counts.
    """
    num_landmarks = len(faces[0][0])
    if num_landmarks not in EYE_CORNERS:
        raise ValueError(f"No inter-ocular definition for {num_landmarks} landmarks (known: "
                         f"{sorted(EYE_CORNERS)}). Received: num_landmarks={num_landmarks}")
    crops = np.stack([hrnet_crop(p, c, s, input_size) for p, c, s in faces])
    codecs = default_codecs(input_size) if codecs is None else codecs
    errors = {name: float(nme(round_trip(codec, crops), crops,
                              EYE_CORNERS[num_landmarks]).mean())
              for name, codec in codecs.items()}
    outside = int(np.sum((crops < -0.5) | (crops > input_size - 0.5)))
    return errors, {"faces": len(faces), "landmarks": num_landmarks, "outside": outside}


def worked_example():
    """Lines reproducing Section 3's example (Eq. 3-5) for several L/F."""
    point = (142.84, 188.72)
    lines = [f"Worked example, Section 3 (floor quantisation, Eq. 3-5), point {point}:"]
    for ratio in (0.25, 0.5, 1.0, 2.0, 3.0):
        lines.append(f"  L/F = {ratio:<4}  E = {floor_quantization_error(point, ratio):.2f} px")
    return lines


def format_table(results):
    """Markdown table: one row per representation, one column per file."""
    names = list(next(iter(results.values()))[0])
    header = "| representation | " + " | ".join(
        f"{os.path.basename(label)} ({info['faces']} faces) NME %"
        for label, (_, info) in results.items()) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]
    for name in names:
        cells = " | ".join(f"{100 * errors[name]:.4f}" for errors, _ in results.values())
        lines.append(f"| {name} | {cells} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m zoo.tools.quantization",
        description="Worked example of Eq. 3-5 and the NME each representation loses.")
    parser.add_argument("annotations", nargs="*", help="annotation files or folders")
    parser.add_argument("--input_size", type=int, default=256)
    args = parser.parse_args(argv)
    print("\n".join(worked_example()))
    if not args.annotations:
        return 0
    results = {}
    for path in args.annotations:
        errors, info = representation_errors(read_annotations(path), input_size=args.input_size)
        results[path] = (errors, info)
        if info["outside"]:
            print(f"note: {info['outside']} landmark coordinates of {path} fall outside the "
                  f"{args.input_size} crop")
    print()
    print(f"NME (%) lost by the representation alone (crop {args.input_size}, HRNet crop, "
          f"inter-ocular normalisation):")
    print("\n".join(format_table(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
