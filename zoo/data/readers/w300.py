"""300-W: the iBUG folders of ``.pts`` files, the standard splits, HRNet CSVs and SAN lists.

Expected layout under ``root`` (as unpacked from the iBUG downloads)::

    root/lfpw/trainset/*.png + *.pts      811     root/lfpw/testset/*   224
    root/helen/trainset/*.jpg + *.pts    2000     root/helen/testset/*  330
    root/afw/*.jpg + *.pts                337     root/ibug/*           135
    root/300W/01_Indoor/*.png + *.pts     300     root/300W/02_Outdoor/* 300
    (the private test set may also be ``root/Test/0x_...`` as in HRNet's CSVs, or
    ``root/01_Indoor``)

Standard splits: ``train`` 3148 = lfpw train + helen train + afw; ``common`` 554 = lfpw test +
helen test; ``challenging`` 135 = ibug; ``full`` 689 = common + challenging; ``test`` 600 =
the private 300-W test set (Indoor + Outdoor, 300 each).

Landmarks are 0-based (``.pts`` and the HRNet CSV values are 1-based and get 1 subtracted).

Reference: Sagonas et al., "300 Faces In-the-Wild Challenge", ICCVW 2013.
"""
import csv
import os
import warnings

import numpy as np

from zoo.data.readers.common import (check_landmarks, collect, data_error, find_image,
                                     parse_numbers, read_pts)
from zoo.data.sample import ReadReport, Sample

NUM_POINTS = 68

SPLIT_FOLDERS = {
    "train": ("lfpw/trainset", "helen/trainset", "afw"),
    "common": ("lfpw/testset", "helen/testset"),
    "challenging": ("ibug",),
    "full": ("lfpw/testset", "helen/testset", "ibug"),
    "test": ("300W/01_Indoor", "300W/02_Outdoor"),
    "indoor": ("300W/01_Indoor",),
    "outdoor": ("300W/02_Outdoor",),
}

SPLIT_COUNTS = {
    "train": 3148,
    "common": 554,
    "challenging": 135,
    "full": 689,
    "test": 600,
    "indoor": 300,
    "outdoor": 300,
}

FOLDER_COUNTS = {
    "lfpw/trainset": 811,
    "helen/trainset": 2000,
    "afw": 337,
    "lfpw/testset": 224,
    "helen/testset": 330,
    "ibug": 135,
    "300W/01_Indoor": 300,
    "300W/02_Outdoor": 300,
}

# Other names the private test set is unpacked under.
_ALIASES = {
    "300W/01_Indoor": ("300W/01_Indoor", "Test/01_Indoor", "01_Indoor"),
    "300W/02_Outdoor": ("300W/02_Outdoor", "Test/02_Outdoor", "02_Outdoor"),
}


def _resolve_folder(root, folder):
    for candidate in _ALIASES.get(folder, (folder,)):
        path = os.path.join(root, candidate)
        if os.path.isdir(path):
            return path
    return None


def list_300w_split(root, split, report=None):
    """Lists the ``(image_path, pts_path)`` pairs of a standard 300-W split.

    Missing folders and images are counted in the report; when the folders are all present
    but the number of annotated images differs from the published count (``SPLIT_COUNTS``)
    a warning is issued and noted in the report.

    Args:
        root: the 300-W root folder.
        split: one of ``SPLIT_FOLDERS`` (``train``, ``common``, ``challenging``, ``full``,
            ``test``, ``indoor``, ``outdoor``).
        report: ``zoo.data.ReadReport`` to add to, or None.

    Returns:
        ``(pairs, report)``; pairs sorted by path. ``pts_path`` files are not parsed here.

    Example:
        >>> pairs, report = zoo.data.readers.list_300w_split("/data/300w", "common")
    """
    if split not in SPLIT_FOLDERS:
        raise ValueError(f"`split` must be one of {sorted(SPLIT_FOLDERS)}. Received: split={split}")
    report = ReadReport() if report is None else report
    pairs = []
    all_present = True
    for folder in SPLIT_FOLDERS[split]:
        path = _resolve_folder(root, folder)
        if path is None:
            all_present = False
            report.skip("missing folder", os.path.join(root, folder))
            continue
        found = 0
        for name in sorted(os.listdir(path)):
            if not name.endswith(".pts"):
                continue
            pts_path = os.path.join(path, name)
            image_path = find_image(pts_path)
            if image_path is None:
                report.skip("missing image", pts_path)
                continue
            pairs.append((image_path, pts_path))
            found += 1
        if found != FOLDER_COUNTS[folder]:
            note = f"{folder}: {found} annotated images, published count {FOLDER_COUNTS[folder]}"
            report.examples.append(f"count differs: {note}")
    if all_present and len(pairs) != SPLIT_COUNTS[split]:
        warnings.warn(
            f"300-W split {split!r} has {len(pairs)} images under {root}, "
            f"the published count is {SPLIT_COUNTS[split]}",
            stacklevel=2,
        )
    return pairs, report


def read_300w(root, split):
    """Reads a standard 300-W split from the original folders.

    Args:
        root: the 300-W root folder (layout in the module docstring).
        split: ``train``, ``common``, ``challenging``, ``full``, ``test``, ``indoor`` or
            ``outdoor``.

    Returns:
        ``(samples, report)``: one ``Sample`` per image with 68 0-based landmarks, no
        visibility, ``box=None`` (use the landmark box) and ``meta`` with ``subset`` (the
        folder) and ``split``; bad ``.pts`` files are skipped and counted.

    Example:
        >>> import os
        >>> os.makedirs("300w")  # a root with afw/ only: 11 real training faces of the fixtures
        >>> os.symlink(fixtures_dir / "300w" / "pts_images", os.path.join("300w", "afw"))
        >>> samples, report = zoo.data.readers.read_300w("300w", "train")
        >>> print(report.summary())
        kept 11, skipped 2
               2  missing folder
        >>> samples[0].meta["subset"], samples[0].landmarks.shape
        ('afw', (68, 2))
    """
    pairs, report = list_300w_split(root, split)

    def parse(pair):
        image_path, pts_path = pair
        landmarks = read_pts(pts_path, NUM_POINTS)
        folder = os.path.relpath(os.path.dirname(image_path), root).replace(os.sep, "/")
        return Sample(image_path, landmarks, None, None, {"subset": folder, "split": split, "annotation": pts_path})

    return collect(pairs, parse, report)


def read_hrnet_csv(path, image_root=None, num_points=NUM_POINTS):
    """Reads an HRNet face CSV (``face_landmarks_300w_*.csv``; WFLW's share the layout).

    Columns: ``image_name, scale, center_w, center_h, x0, y0, ..., x{N-1}, y{N-1}``. The
    coordinates are the raw 1-based ``.pts`` values; 1 is subtracted. HRNet's crop is
    ``center +- 1.25 * 200 * scale / 2``; ``box`` here is ``center +- 200 * scale / 2``
    (the square landmark box), and ``meta`` keeps ``center`` (0-based) and ``scale``.

    Args:
        path: CSV file.
        image_root: folder the ``image_name`` paths are relative to (the 300-W root);
            default the CSV's folder.
        num_points: points per row (68 for 300-W, 98 for WFLW).

    Returns:
        ``(samples, report)``; malformed rows (wrong column count, non-numbers, NaN) are
        skipped and counted with the file and line in the report's examples.

    Example:
        >>> samples, report = zoo.data.readers.read_hrnet_csv(
        ...     fixtures_dir / "300w" / "hrnet_csv" / "face_landmarks_300w_valid_common.csv",
        ...     image_root="/data/300w")
        >>> len(samples), samples[0].image, samples[0].meta["scale"]
        (554, '/data/300w/helen/testset/296814969_3.jpg', 1.505)
    """
    path = os.fspath(path)
    image_root = os.path.dirname(path) if image_root is None else os.fspath(image_root)
    try:
        with open(path, encoding="utf-8", newline="") as file:
            rows = list(csv.reader(file))
    except OSError as error:
        raise data_error("missing annotation", str(error), path) from error
    if not rows or not rows[0] or rows[0][0] != "image_name":
        raise data_error("bad header", "expected a first column 'image_name'", path, 1)
    expected = 4 + 2 * num_points
    if len(rows[0]) != expected:
        raise data_error("bad header", f"expected {expected} columns, found {len(rows[0])}", path, 1)

    def parse(numbered_row):
        line, row = numbered_row
        if len(row) != expected:
            raise data_error("wrong column count", f"expected {expected}, found {len(row)}", path, line)
        numbers = parse_numbers(row[1:], path, line)
        scale, center = numbers[0], numbers[1:3] - 1.0
        if not np.all(np.isfinite(numbers[:3])) or scale <= 0:
            raise data_error("bad box", f"scale={scale}, center={numbers[1:3].tolist()}", path, line)
        landmarks = check_landmarks(numbers[3:] - 1.0, num_points, path, line)
        half = 100.0 * scale
        box = np.array([center[0] - half, center[1] - half, center[0] + half, center[1] + half], np.float32)
        name = row[0]
        meta = {"subset": os.path.dirname(name), "center": center.tolist(), "scale": float(scale), "image_name": name}
        return Sample(os.path.join(image_root, name), landmarks, None, box, meta)

    return collect([(i + 1, row) for i, row in enumerate(rows) if i > 0 and row], parse)


def read_san_list(path, image_root=None, num_points=NUM_POINTS):
    """Reads a SAN/SBR list (``image pts x1 y1 x2 y2`` per line, e.g. ``DEBUG.lst``).

    Paths are relative to ``image_root`` (default the list's folder); when a path does not
    exist there, the file of the same name next to the list is used (lists often carry
    the prefix of the machine they were made on).

    Args:
        path: the list file.
        image_root: folder the paths are relative to.
        num_points: points per ``.pts`` file.

    Returns:
        ``(samples, report)`` with the list's face box as ``box``.

    Example:
        >>> samples, report = zoo.data.readers.read_san_list(
        ...     fixtures_dir / "300w" / "pts_images" / "DEBUG.lst")
        >>> len(samples), samples[0].box
        (10, array([137.7288, 148.2849, 296.0698, 301.3478], dtype=float32))
    """
    path = os.fspath(path)
    list_dir = os.path.dirname(path)
    image_root = list_dir if image_root is None else os.fspath(image_root)
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError as error:
        raise data_error("missing annotation", str(error), path) from error
    except UnicodeDecodeError as error:
        raise data_error("unreadable annotation", str(error), path) from error

    def locate(relative):
        candidate = os.path.normpath(os.path.join(image_root, relative))
        if os.path.exists(candidate):
            return candidate
        return os.path.join(list_dir, os.path.basename(relative))

    def parse(numbered_line):
        line, text = numbered_line
        fields = text.split()
        if len(fields) != 6:
            raise data_error("wrong column count", f"expected 6 fields, found {len(fields)}", path, line)
        try:
            box = np.asarray([float(v) for v in fields[2:]], np.float32)
        except ValueError as error:
            raise data_error("bad number", str(error), path, line) from error
        if not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
            raise data_error("bad box", f"{box.tolist()}", path, line)
        landmarks = read_pts(locate(fields[1]), num_points)
        return Sample(locate(fields[0]), landmarks, None, box, {"list": path, "line": line})

    return collect([(i + 1, t) for i, t in enumerate(lines) if t.strip()], parse)
