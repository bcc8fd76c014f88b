"""WFLW: the 98-point lists with face rectangle and attribute flags, and the test subsets.

Expected layout under ``root``::

    root/WFLW_images/<event folder>/<image>.jpg
    root/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_train.txt  (7500 lines)
    root/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_test.txt   (2500 lines)
    root/WFLW_annotations/list_98pt_test/list_98pt_test_{largepose,expression,
        illumination,makeup,occlusion,blur}.txt  (and list_98pt_test.txt)

Line formats (from the WFLW READMEs):

* ``list_98pt_rect_attr_*.txt``: 196 coordinates ``x0 y0 ... x97 y97``, the detection
  rectangle as **corners** ``x_min y_min x_max y_max``, 6 flags (pose, expression,
  illumination, make-up, occlusion, blur; 1 = the attribute is present), the image path:
  207 fields.
* ``list_98pt_test*.txt``: 196 coordinates and the image path: 197 fields.

WFLW's coordinates are used as they are (0-based pixel coordinates; WFLW was annotated with
0-based tools, unlike the MATLAB-made 1-based ``.pts``); they can be negative (points off the
image). One image can have several lines (one per face).

Reference: Wu et al., "Look at Boundary: A Boundary-Aware Face Alignment Algorithm", CVPR 2018.
"""
import os

import numpy as np

from zoo.data.readers.common import check_landmarks, collect, data_error, parse_numbers
from zoo.data.sample import Sample

NUM_POINTS = 98
ATTRIBUTES = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")
# The name each attribute's subset list carries: list_98pt_test_<name>.txt.
SUBSET_FILES = {
    "pose": "largepose",
    "expression": "expression",
    "illumination": "illumination",
    "makeup": "makeup",
    "occlusion": "occlusion",
    "blur": "blur",
}
# Lines (faces) per published list.
SUBSET_COUNTS = {
    "train": 7500,
    "test": 2500,
    "pose": 326,
    "expression": 314,
    "illumination": 698,
    "makeup": 206,
    "occlusion": 736,
    "blur": 773,
}


def read_wflw_list(path, image_dir=None):
    """Reads a WFLW annotation list (either the 207-field or the 197-field format).

    Args:
        path: the ``.txt`` list.
        image_dir: folder the image paths are relative to (``WFLW_images``); default the
            list's folder.

    Returns:
        ``(samples, report)``. With the 207-field format, ``box`` is the rectangle
        ``x_min, y_min, x_max, y_max`` and ``meta["attributes"]`` maps each name in
        ``ATTRIBUTES`` to 0/1; with the 197-field format, ``box`` is None. Malformed lines
        are skipped and counted.

    Example:
        >>> samples, report = zoo.data.readers.read_wflw_list(  # the 197-field format
        ...     fixtures_dir / "wflw" / "list_98pt_sample" / "list_98pt_test_largepose_first5.txt",
        ...     image_dir="WFLW_images")
        >>> len(samples), samples[0].landmarks.shape, samples[0].box
        (5, (98, 2), None)
        >>> samples[0].image
        'WFLW_images/2--Demonstration/2_Demonstration_Political_Rally_2_424.jpg'
    """
    path = os.fspath(path)
    image_dir = os.path.dirname(path) if image_dir is None else os.fspath(image_dir)
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError as error:
        raise data_error("missing annotation", str(error), path) from error

    def parse(numbered_line):
        line, text = numbered_line
        fields = text.split()
        if len(fields) not in (2 * NUM_POINTS + 1, 2 * NUM_POINTS + 11):
            raise data_error(
                "wrong column count", f"expected 197 or 207 fields, found {len(fields)}", path, line
            )
        numbers = parse_numbers(fields[:-1], path, line)
        landmarks = check_landmarks(numbers[: 2 * NUM_POINTS], NUM_POINTS, path, line)
        meta = {"image_name": fields[-1], "line": line}
        box = None
        if len(numbers) > 2 * NUM_POINTS:
            box = numbers[2 * NUM_POINTS : 2 * NUM_POINTS + 4].astype(np.float32)
            if not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
                raise data_error("bad box", f"{box.tolist()}", path, line)
            flags = numbers[2 * NUM_POINTS + 4 :]
            if not np.all(np.isin(flags, (0.0, 1.0))):
                raise data_error("bad attribute flag", f"{flags.tolist()}", path, line)
            meta["attributes"] = {name: int(v) for name, v in zip(ATTRIBUTES, flags)}
        return Sample(os.path.join(image_dir, fields[-1]), landmarks, None, box, meta)

    return collect([(i + 1, t) for i, t in enumerate(lines) if t.strip()], parse)


def wflw_subset(samples, attribute):
    """The samples whose attribute flag is 1 (the WFLW test subsets, made from the test list).

    Args:
        samples: samples from a 207-field list (``read_wflw_list``).
        attribute: one of ``ATTRIBUTES``.

    Returns:
        list of ``Sample``; on the full test list the lengths are ``SUBSET_COUNTS``.

    Example:
        >>> # needs the 207-field attribute list of WFLW (the fixtures hold the 197-field format only)
        >>> blur = zoo.data.readers.wflw_subset(test_samples, "blur")  # doctest: +SKIP
    """
    if attribute not in ATTRIBUTES:
        raise ValueError(f"`attribute` must be one of {ATTRIBUTES}. Received: attribute={attribute}")
    subset = []
    for sample in samples:
        if "attributes" not in sample.meta:
            raise ValueError(
                "`samples` must come from a list with attribute flags (207 fields). "
                f"Received: a sample without attributes ({sample.image})"
            )
        if sample.meta["attributes"][attribute]:
            subset.append(sample)
    return subset


def read_wflw(root, subset="train"):
    """Reads a WFLW split from the standard layout (module docstring).

    Args:
        root: WFLW root holding ``WFLW_images`` and ``WFLW_annotations``.
        subset: ``train``, ``test`` or an attribute name (``pose``, ..., ``blur``) for the
            test subset selected by that flag.

    Returns:
        ``(samples, report)``.

    Example:
        >>> # needs the WFLW dataset (WFLW_images and WFLW_annotations; not among the fixtures)
        >>> samples, report = zoo.data.readers.read_wflw("/data/wflw", "test")  # doctest: +SKIP
    """
    if subset not in SUBSET_COUNTS:
        raise ValueError(f"`subset` must be one of {sorted(SUBSET_COUNTS)}. Received: subset={subset}")
    part = "train" if subset == "train" else "test"
    list_path = os.path.join(
        root, "WFLW_annotations", "list_98pt_rect_attr_train_test", f"list_98pt_rect_attr_{part}.txt"
    )
    samples, report = read_wflw_list(list_path, os.path.join(root, "WFLW_images"))
    if subset in ATTRIBUTES:
        samples = wflw_subset(samples, subset)
        report.kept = len(samples)
    for sample in samples:
        sample.meta["subset"] = subset
    return samples, report
