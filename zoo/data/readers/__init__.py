"""Readers for the original dataset formats; all return 0-based ``zoo.data.Sample`` records.

One convention for the whole zoo: landmarks are ``(x, y)`` in 0-based pixel coordinates
(``docs/architecture.md``); the 1-based formats (``.pts``, HRNet's 300-W CSVs, MATLAB files)
are shifted on load. Dataset-level readers return ``(samples, report)``: malformed samples are
skipped and counted in a ``zoo.data.ReadReport`` (``report.summary()``), never dropped silently.

Example:
    >>> import zoo.data.readers
    >>> samples, report = zoo.data.readers.read_dlib_xml(
    ...     fixtures_dir / "dlib_faces" / "training_with_face_landmarks.xml")
    >>> print(report.summary())
    kept 18, skipped 0
    >>> samples[0].landmarks.shape
    (68, 2)
"""
from zoo.data.readers.aflw import read_aflw, read_aflw_csv  # noqa: F401
from zoo.data.readers.cofw import read_cofw68, read_cofw68_points, read_cofw_mat  # noqa: F401
from zoo.data.readers.common import (  # noqa: F401
    check_landmarks,
    load_image,
    load_sample_image,
    read_coco_json,
    read_pts,
    write_pts,
)
from zoo.data.readers.dlib_xml import read_dlib_xml  # noqa: F401
from zoo.data.readers.talking_face import read_talking_face, to_common_7  # noqa: F401
from zoo.data.readers.vw300 import iter_300vw, iter_300vw_video, list_videos, load_broken_frames  # noqa: F401
from zoo.data.readers.w300 import list_300w_split, read_300w, read_hrnet_csv, read_san_list  # noqa: F401
from zoo.data.readers.wflw import read_wflw, read_wflw_list, wflw_subset  # noqa: F401
