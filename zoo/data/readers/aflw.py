"""AFLW-19: the SAN/HRNet protocol (19 points; train 20000, full test 4386, frontal test 1314).

The protocol's annotation lists are HRNet's CSVs, expected under ``root``::

    root/face_landmarks_aflw_train.csv          20000 rows
    root/face_landmarks_aflw_test.csv            4386 rows  (AFLW-Full)
    root/face_landmarks_aflw_test_frontal.csv    1314 rows  (AFLW-Frontal)
    root/flickr/0/image00002.jpg ...            (the AFLW images; ``image_name`` is relative)

Columns (HRNet ``lib/datasets/aflw.py``): ``image_name, scale, box_size, center_w,
center_h, x0, y0, ..., x18, y18``: 5 + 38 = 43. Unlike 300-W, ``center``/``scale`` come from
AFLW's own face box (``scale = box_size / 200``) and ``box_size`` is the NME normaliser
(``meta["box_size"]``).

Coordinate origin: AFLW's annotations come from its SQLite database in 0-based pixel
coordinates and the protocol files keep them; they are used as they are (``one_based=False``).

References: Koestinger et al., "Annotated Facial Landmarks in the Wild", BeFIT 2011;
Dong et al., "Style Aggregated Network for Facial Landmark Detection", CVPR 2018.
"""
import csv
import os

import numpy as np

from zoo.data.readers.common import check_landmarks, collect, data_error, parse_numbers
from zoo.data.sample import Sample

NUM_POINTS = 19
SPLIT_FILES = {
    "train": "face_landmarks_aflw_train.csv",
    "full": "face_landmarks_aflw_test.csv",
    "frontal": "face_landmarks_aflw_test_frontal.csv",
}
SPLIT_COUNTS = {"train": 20000, "full": 4386, "frontal": 1314}


def read_aflw_csv(path, image_root=None, one_based=False):
    """Reads an HRNet AFLW CSV.

    Args:
        path: the CSV.
        image_root: folder ``image_name`` is relative to; default the CSV's folder.
        one_based: subtract 1 from the coordinates (see the module docstring).

    Returns:
        ``(samples, report)``; ``box`` is the square ``center +- box_size / 2`` and ``meta``
        holds ``box_size`` (the NME normaliser), ``center`` and ``scale``.

    Example:
        >>> # needs HRNet's AFLW CSVs (AFLW's research licence; not among the test fixtures)
        >>> samples, report = zoo.data.readers.read_aflw_csv("face_landmarks_aflw_test.csv")  # doctest: +SKIP
    """
    path = os.fspath(path)
    image_root = os.path.dirname(path) if image_root is None else os.fspath(image_root)
    try:
        with open(path, encoding="utf-8", newline="") as file:
            rows = list(csv.reader(file))
    except OSError as error:
        raise data_error("missing annotation", str(error), path) from error
    expected = 5 + 2 * NUM_POINTS
    if not rows or len(rows[0]) != expected or rows[0][0] != "image_name":
        raise data_error("bad header", f"expected {expected} columns starting with 'image_name'", path, 1)
    offset = 1.0 if one_based else 0.0

    def parse(numbered_row):
        line, row = numbered_row
        if len(row) != expected:
            raise data_error("wrong column count", f"expected {expected}, found {len(row)}", path, line)
        numbers = parse_numbers(row[1:], path, line)
        scale, box_size = numbers[0], numbers[1]
        center = numbers[2:4] - offset
        if not np.all(np.isfinite(numbers[:4])) or box_size <= 0:
            raise data_error("bad box", f"box_size={box_size}, center={numbers[2:4].tolist()}", path, line)
        landmarks = check_landmarks(numbers[4:] - offset, NUM_POINTS, path, line)
        half = box_size / 2.0
        box = np.array([center[0] - half, center[1] - half, center[0] + half, center[1] + half], np.float32)
        meta = {"box_size": float(box_size), "center": center.tolist(), "scale": float(scale), "image_name": row[0]}
        return Sample(os.path.join(image_root, row[0]), landmarks, None, box, meta)

    return collect([(i + 1, r) for i, r in enumerate(rows) if i > 0 and r], parse)


def read_aflw(root, split="train", image_root=None):
    """Reads an AFLW-19 split (``train``, ``full`` or ``frontal``) from HRNet's CSVs.

    Args:
        root: folder holding the CSVs (``SPLIT_FILES``).
        split: ``train``, ``full`` or ``frontal``.
        image_root: folder of the images; default ``root``.

    Returns:
        ``(samples, report)``; a note lands in the report's examples when the row count
        differs from ``SPLIT_COUNTS``.

    Example:
        >>> # needs the AFLW dataset and HRNet's CSVs (research licence; not among the fixtures)
        >>> samples, report = zoo.data.readers.read_aflw("/data/aflw", "frontal")  # doctest: +SKIP
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"`split` must be one of {sorted(SPLIT_FILES)}. Received: split={split}")
    samples, report = read_aflw_csv(os.path.join(root, SPLIT_FILES[split]), image_root or root)
    total = len(samples) + report.num_skipped
    if total != SPLIT_COUNTS[split]:
        report.examples.append(f"count differs: {total} rows, published {SPLIT_COUNTS[split]}")
    for sample in samples:
        sample.meta["subset"] = split
    return samples, report
