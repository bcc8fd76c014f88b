"""COFW: the 29-point ``COFW_{train,test}_color.mat`` files and the COFW-68 test annotations.

``COFW_train_color.mat`` (1345 faces) and ``COFW_test_color.mat`` (507 faces) are MATLAB
v7.3 (HDF5) files holding (MATLAB names and shapes):

* ``IsTr`` / ``IsT``: N x 1 cell of images (H x W grayscale or H x W x 3 colour, uint8);
* ``phisTr`` / ``phisT``: N x 87 double, ``[x1..x29, y1..y29, occ1..occ29]`` (all x's,
  then all y's, then occlusion flags, 1 = occluded), 1-based MATLAB pixel coordinates;
* ``bboxesTr`` / ``bboxesT``: N x 4 double face boxes ``[x, y, w, h]``.

HDF5 stores MATLAB arrays transposed (``phisT`` is an (87, N) dataset, an image an (W, H) or
(3, W, H) dataset behind an object reference); ``read_cofw_mat`` undoes that. Older v5
copies of the same files are read with SciPy.

COFW-68 (Ghiasi & Fowlkes) re-annotates the 507 test faces with the 68-point scheme:
``COFW68_Data/test_annotations/{i}_points.mat`` (MATLAB v5) with ``Points`` (68 x 2,
1-based) and ``Occ`` (1 x 68, 1 = occluded); file ``i`` is test face ``i`` (1-based).

Landmarks are returned 0-based (1 subtracted); visibility is ``1 - occlusion``.

References: Burgos-Artizzu et al., "Robust face landmark estimation under occlusion",
ICCV 2013; Ghiasi & Fowlkes, "Occlusion Coherence", arXiv:1506.08347.
"""
import os
import re

import numpy as np

from zoo.data.readers.common import box_xywh_to_xyxy, check_landmarks, collect, data_error, to_rgb_uint8
from zoo.data.sample import ReadReport, Sample

NUM_POINTS = 29
NUM_POINTS_68 = 68
SPLIT_COUNTS = {"train": 1345, "test": 507}
_KEYS = {"train": ("IsTr", "phisTr", "bboxesTr"), "test": ("IsT", "phisT", "bboxesT")}


def _read_hdf5(path, keys):
    import h5py  # noqa: PLC0415 (optional at import time)

    with h5py.File(path, "r") as file:
        images_key, phis_key, boxes_key = keys
        if images_key not in file or phis_key not in file:
            raise data_error("bad mat file", f"expected keys {keys}, found {sorted(file.keys())}", path)
        references = np.asarray(file[images_key]).ravel()
        # MATLAB column-major: the HDF5 dataset is the transpose of the MATLAB array.
        phis = np.asarray(file[phis_key], np.float64).T
        boxes = np.asarray(file[boxes_key], np.float64).T if boxes_key in file else None
        images = [np.asarray(file[reference]).T for reference in references]
    return images, phis, boxes


def _read_v5(path, keys):
    import scipy.io  # noqa: PLC0415

    content = scipy.io.loadmat(path)
    images_key, phis_key, boxes_key = keys
    if images_key not in content or phis_key not in content:
        raise data_error("bad mat file", f"expected keys {keys}", path)
    images = [np.asarray(image) for image in np.asarray(content[images_key]).ravel()]
    boxes = np.asarray(content[boxes_key], np.float64) if boxes_key in content else None
    return images, np.asarray(content[phis_key], np.float64), boxes


def read_cofw_mat(path, split=None):
    """Reads ``COFW_train_color.mat`` or ``COFW_test_color.mat`` (29 points + occlusion).

    Args:
        path: the ``.mat`` file (v7.3/HDF5, or v5).
        split: ``"train"`` or ``"test"`` (which keys to read); None guesses from the file name.

    Returns:
        ``(samples, report)``: ``Sample.image`` is the (H, W, 3) uint8 RGB image from the
        file (grayscale faces are converted), 29 0-based landmarks, visibility
        ``1 - occlusion``, box ``x1, y1, x2, y2``, ``meta["index"]`` the 1-based face index.

    Example:
        >>> # needs Caltech's COFW_test_color.mat (a 0.3 GB download; not among the fixtures)
        >>> samples, report = zoo.data.readers.read_cofw_mat("/data/cofw/COFW_test_color.mat")  # doctest: +SKIP
        >>> len(samples)  # doctest: +SKIP
        507
    """
    path = os.fspath(path)
    if split is None:
        split = "train" if "train" in os.path.basename(path).lower() else "test"
    if split not in _KEYS:
        raise ValueError(f"`split` must be 'train' or 'test'. Received: split={split}")
    if not os.path.isfile(path):
        raise data_error("missing annotation", "no such file", path)
    with open(path, "rb") as file:
        header = file.read(1024)
    is_hdf5 = b"\x89HDF\r\n\x1a\n" in header[:8] or header[512:520] == b"\x89HDF\r\n\x1a\n"
    images, phis, boxes = (_read_hdf5 if is_hdf5 else _read_v5)(path, _KEYS[split])
    if phis.ndim != 2 or phis.shape[1] != 3 * NUM_POINTS:
        raise data_error("bad mat file", f"{_KEYS[split][1]} has shape {phis.shape}, expected (N, 87)", path)
    if len(images) != len(phis) or (boxes is not None and len(boxes) != len(phis)):
        raise data_error("bad mat file", f"{len(images)} images for {len(phis)} annotations", path)

    def parse(index):
        where = f"{path}[{_KEYS[split][1]} row {index + 1}]"
        row = phis[index]
        # Layout [x1..x29, y1..y29, occ1..occ29]: x's first, not interleaved.
        points = np.stack([row[:NUM_POINTS], row[NUM_POINTS : 2 * NUM_POINTS]], axis=1)
        landmarks = check_landmarks(points - 1.0, NUM_POINTS, where)
        occlusion = row[2 * NUM_POINTS :]
        image = to_rgb_uint8(np.ascontiguousarray(images[index]), where)
        box = None
        if boxes is not None:
            box = box_xywh_to_xyxy(boxes[index]) - np.array([1, 1, 1, 1], np.float32)
        visibility = (occlusion < 0.5).astype(np.float32)
        meta = {"index": index + 1, "split": split, "source": f"{path}#{index + 1}"}
        return Sample(image, landmarks, visibility, box, meta)

    return collect(range(len(phis)), parse)


def read_cofw68_points(path):
    """Reads one COFW-68 ``{i}_points.mat`` file.

    Args:
        path: the ``.mat`` (MATLAB v5 with ``Points`` 68 x 2 and ``Occ`` 1 x 68).

    Returns:
        ``(landmarks (68, 2) float32 0-based, visibility (68,) float32)``.

    Example:
        >>> points, visibility = zoo.data.readers.read_cofw68_points(
        ...     fixtures_dir / "cofw" / "cofw68_sample" / "1_points.mat")
        >>> points.shape, visibility.shape, int(visibility.sum())
        ((68, 2), (68,), 52)
    """
    import scipy.io  # noqa: PLC0415

    path = os.fspath(path)
    try:
        content = scipy.io.loadmat(path)
    except Exception as error:  # scipy raises several types for corrupt files
        raise data_error("bad mat file", f"{type(error).__name__}: {error}", path) from error
    if "Points" not in content:
        raise data_error("bad mat file", "no 'Points' variable", path)
    landmarks = check_landmarks(np.asarray(content["Points"], np.float64) - 1.0, NUM_POINTS_68, path)
    occlusion = np.asarray(content.get("Occ", np.zeros([1, NUM_POINTS_68])), np.float64).ravel()
    if occlusion.shape != (NUM_POINTS_68,):
        raise data_error("bad mat file", f"'Occ' has {occlusion.size} values, expected 68", path)
    return landmarks, (occlusion < 0.5).astype(np.float32)


def read_cofw68(annotation_dir, cofw_test_mat=None, boxes=None):
    """Reads the COFW-68 test annotations, joined with the COFW test images when given.

    Args:
        annotation_dir: folder of ``{i}_points.mat`` (i = 1..507).
        cofw_test_mat: ``COFW_test_color.mat`` for the images and boxes, or None; then
            ``Sample.image`` is None and only the annotations are returned.
        boxes: optional (507, 4) ``[x, y, w, h]`` boxes (e.g. ``cofw68_test_bboxes.mat``);
            row ``i - 1`` belongs to file ``i``.

    Returns:
        ``(samples, report)`` sorted by index, ``meta["index"]`` the 1-based test index.

    Example:
        >>> samples, report = zoo.data.readers.read_cofw68(
        ...     fixtures_dir / "cofw" / "cofw68_sample")  # 5 of COFW68_Data/test_annotations
        >>> [sample.meta["index"] for sample in samples], samples[0].image
        ([1, 2, 3, 421, 460], None)
    """
    annotation_dir = os.fspath(annotation_dir)
    names = [n for n in os.listdir(annotation_dir) if re.fullmatch(r"\d+_points\.mat", n)]
    names.sort(key=lambda n: int(n.split("_")[0]))
    faces = {}
    report = ReadReport()
    if cofw_test_mat is not None:
        test_samples, test_report = read_cofw_mat(cofw_test_mat, "test")
        faces = {s.meta["index"]: s for s in test_samples}
        for reason, count in test_report.skipped.items():
            report.skipped[reason] += count

    def parse(name):
        index = int(name.split("_")[0])
        landmarks, visibility = read_cofw68_points(os.path.join(annotation_dir, name))
        face = faces.get(index)
        if cofw_test_mat is not None and face is None:
            raise data_error("missing image", f"no COFW test face {index}", os.fspath(cofw_test_mat))
        box = face.box if face is not None else None
        if boxes is not None:
            box = box_xywh_to_xyxy(np.asarray(boxes)[index - 1]) - 1.0
        image = face.image if face is not None else None
        meta = {"index": index, "annotation": os.path.join(annotation_dir, name), "source": f"cofw68#{index}"}
        return Sample(image, landmarks, visibility, box, meta)

    return collect(names, parse, report)
