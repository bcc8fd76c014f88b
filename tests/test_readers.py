"""Dataset readers against the real sample files in shared/fixtures and synthesised files."""
import csv
import json
import os
import shutil

import cv2
import numpy as np
import pytest

import zoo.schemes

from zoo.data import DataError, ReadReport, Sample
from zoo.data import readers
from zoo.data.readers import cofw, talking_face, vw300, w300, wflw
from zoo.data.readers.common import load_sample_image, skip_reason, to_rgb_uint8, write_pts

PTS_68 = "version: 1\nn_points:  68\n{\n" + "".join(f"{10 + i}.5 {20 + i}.25\n" for i in range(68)) + "}\n"


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- .pts


def test_every_fixture_pts_parses_with_68_points(fixtures_dir):
    paths = sorted(fixtures_dir.glob("300w/pts_images/*.pts"))
    paths += sorted(fixtures_dir.glob("menpo/*.pts")) + sorted(fixtures_dir.glob("300vw/*/annot/*.pts"))
    assert len(paths) == 11 + 3 + 4
    for path in paths:
        points = readers.read_pts(path, 68)
        assert points.shape == (68, 2) and points.dtype == np.float32
        assert np.all(np.isfinite(points))


def test_pts_is_one_based_on_disk_and_zero_based_in_memory(fixtures_dir):
    points = readers.read_pts(fixtures_dir / "300w/pts_images/18489332_4.pts")
    # First line of the file: "747.258354 725.181223".
    np.testing.assert_allclose(points[0], [746.258354, 724.181223], atol=1e-4)
    # "version: 1.0" and "n_points: 68" with one space (300-VW) parse as well.
    points = readers.read_pts(fixtures_dir / "300vw/401/annot/000731.pts")
    np.testing.assert_allclose(points[0], [353.326810, 276.170196], atol=1e-4)


def test_write_pts_round_trips(tmp_path):
    points = np.random.default_rng(0).uniform(0, 500, size=(68, 2)).astype(np.float32)
    write_pts(tmp_path / "a.pts", points)
    np.testing.assert_allclose(readers.read_pts(tmp_path / "a.pts", 68), points, atol=1e-5)


@pytest.mark.parametrize(
    "text, reason, line",
    [
        (PTS_68.replace("}\n", ""), "truncated file", 71),
        ("version: 1\nn_points:  68\n{\n10 20\n11 21\n", "truncated file", 5),
        (PTS_68.replace("n_points:  68", "n_points:  67"), "wrong point count", 2),
        (PTS_68.replace("12.5 22.25", "nan 22.25"), "non-finite coordinate", 6),
        (PTS_68.replace("12.5 22.25", "12.5 abc"), "bad point line", 6),
        (PTS_68.replace("12.5 22.25", "12.5"), "bad point line", 6),
        (PTS_68.replace("n_points:  68", "points 68"), "bad header", 2),
        ("", "truncated file", 1),
    ],
)
def test_malformed_pts_names_file_and_line(tmp_path, text, reason, line):
    path = _write(tmp_path / "bad.pts", text)
    with pytest.raises(DataError) as info:
        readers.read_pts(path)
    assert skip_reason(info.value) == reason
    assert info.value.path == str(path) and info.value.line == line
    assert f"{path}:{line}: {reason}" in str(info.value)


def test_pts_with_other_point_count_than_expected(tmp_path):
    path = _write(tmp_path / "a.pts", PTS_68)
    assert readers.read_pts(path).shape == (68, 2)
    with pytest.raises(DataError, match="wrong point count: expected 98"):
        readers.read_pts(path, 98)


# --------------------------------------------------------------------------- 300-W


def _csv(fixtures_dir, name):
    return fixtures_dir / "300w/hrnet_csv" / f"face_landmarks_300w_{name}.csv"


def test_hrnet_csvs_have_the_published_counts(fixtures_dir):
    counts = {}
    for name, expected in [("test", 600), ("valid", 689), ("valid_common", 554), ("valid_challenge", 135)]:
        samples, report = readers.read_hrnet_csv(_csv(fixtures_dir, name))
        assert len(samples) == expected and report.num_skipped == 0 and report.kept == expected
        counts[name] = samples
    subsets = {}
    for sample in counts["valid"] + counts["test"]:
        subsets[sample.meta["subset"]] = subsets.get(sample.meta["subset"], 0) + 1
    assert subsets == {
        "helen/testset": 330,
        "lfpw/testset": 224,
        "ibug": 135,
        "Test/01_Indoor": 300,
        "Test/02_Outdoor": 300,
    }
    names = lambda samples: {s.meta["image_name"] for s in samples}  # noqa: E731
    assert names(counts["valid"]) == names(counts["valid_common"]) | names(counts["valid_challenge"])
    assert len(w300.SPLIT_FOLDERS["train"]) == 3
    assert sum(w300.FOLDER_COUNTS[f] for f in w300.SPLIT_FOLDERS["train"]) == w300.SPLIT_COUNTS["train"] == 3148
    assert sum(w300.FOLDER_COUNTS[f] for f in w300.SPLIT_FOLDERS["full"]) == 689


def test_hrnet_center_and_scale_follow_from_the_one_based_landmarks(fixtures_dir):
    samples, _ = readers.read_hrnet_csv(_csv(fixtures_dir, "valid_challenge"))
    for sample in samples:
        raw = sample.landmarks.astype(np.float64) + 1.0  # back to the CSV's .pts values
        low, high = np.floor(raw.min(axis=0) + 1e-9), np.ceil(raw.max(axis=0) - 1e-9)
        np.testing.assert_allclose(np.asarray(sample.meta["center"]) + 1.0, (low + high) / 2, atol=1e-6)
        assert sample.meta["scale"] == pytest.approx(np.max(high - low) / 200.0, abs=1e-9)


def test_mmpose_json_agrees_with_hrnet_csv_rows(fixtures_dir):
    json_samples, report = readers.read_coco_json(
        fixtures_dir / "300w/mmpose/test_300w.json", num_points=68, one_based=True
    )
    assert len(json_samples) == 2 and report.num_skipped == 0
    csv_samples, _ = readers.read_hrnet_csv(_csv(fixtures_dir, "test"))
    by_name = {os.path.basename(s.meta["image_name"]): s for s in csv_samples}
    for sample in json_samples:
        row = by_name[os.path.basename(sample.image)]
        np.testing.assert_allclose(sample.landmarks, row.landmarks, atol=1e-4)
        np.testing.assert_allclose(sample.meta["center"], row.meta["center"], atol=1e-6)
        assert sample.meta["scale"] == pytest.approx(row.meta["scale"])
        assert load_sample_image(sample).shape[2] == 3  # the PNG loads as RGB


def test_malformed_hrnet_rows_are_skipped_and_counted(fixtures_dir, tmp_path):
    with open(_csv(fixtures_dir, "valid_challenge"), encoding="utf-8") as file:
        lines = file.read().splitlines()
    fields = lines[3].split(",")
    fields[10] = "nan"
    lines[3] = ",".join(fields)
    lines[5] = ",".join(lines[5].split(",")[:-2])
    lines[7] = lines[7].replace(",", ",x", 1)
    path = _write(tmp_path / "bad.csv", "\n".join(lines) + "\n")
    samples, report = readers.read_hrnet_csv(path)
    assert len(samples) == 132 and report.kept == 132
    assert dict(report.skipped) == {"non-finite coordinate": 1, "wrong column count": 1, "bad number": 1}
    assert any(f"{path}:6:" in example for example in report.examples)
    with pytest.raises(DataError, match="bad header"):
        readers.read_hrnet_csv(_write(tmp_path / "empty.csv", "a,b\n"))


def test_san_list_reads_boxes_and_pts(fixtures_dir):
    samples, report = readers.read_san_list(fixtures_dir / "300w/pts_images/DEBUG.lst")
    assert len(samples) == 10 and report.num_skipped == 0
    assert samples[0].image.endswith("9545523490_2.jpg")
    np.testing.assert_allclose(samples[0].box, [137.7288, 148.2849, 296.0698, 301.3478], atol=1e-4)
    np.testing.assert_allclose(
        samples[0].landmarks, readers.read_pts(fixtures_dir / "300w/pts_images/9545523490_2.pts"), atol=0
    )


def _make_300w_root(fixtures_dir, tmp_path, per_folder=2):
    """A 300-W folder layout filled with the real training pairs (copied, a few per folder)."""
    pairs = sorted(fixtures_dir.glob("300w/pts_images/[0-9]*.pts"))
    root = tmp_path / "300w"
    folders = ["lfpw/trainset", "helen/trainset", "afw", "lfpw/testset", "helen/testset", "ibug"]
    for number, folder in enumerate(folders):
        (root / folder).mkdir(parents=True)
        for pts in pairs[number % 5 * 2 : number % 5 * 2 + per_folder]:
            shutil.copy(pts, root / folder / pts.name)
            shutil.copy(pts.with_suffix(".jpg"), root / folder / (pts.stem + ".jpg"))
    return root


def test_300w_splits_from_folders_count_and_skip(fixtures_dir, tmp_path):
    root = _make_300w_root(fixtures_dir, tmp_path)
    with pytest.warns(UserWarning, match="published count is 3148"):
        samples, report = readers.read_300w(root, "train")
    assert len(samples) == 6 and report.num_skipped == 0
    assert {s.meta["subset"] for s in samples} == {"lfpw/trainset", "helen/trainset", "afw"}
    assert any("count differs: afw: 2" in e for e in report.examples)
    # A truncated .pts and an annotation without image are skipped and counted.
    victim = sorted((root / "ibug").glob("*.pts"))[0]
    victim.write_text(victim.read_text().rsplit("\n", 10)[0])
    os.remove(sorted((root / "helen/testset").glob("*.jpg"))[0])
    with pytest.warns(UserWarning):
        samples, report = readers.read_300w(root, "full")
    assert len(samples) == 4
    assert dict(report.skipped) == {"truncated file": 1, "missing image": 1}
    # The private test set folders are missing: counted, no warning about totals.
    samples, report = readers.read_300w(root, "test")
    assert samples == [] and report.skipped["missing folder"] == 2
    with pytest.raises(ValueError, match="Received: split=val"):
        readers.read_300w(root, "val")


# --------------------------------------------------------------------------- images


def test_images_of_every_layout_become_rgb_uint8(tmp_path, fixtures_dir):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 255, (20, 30), dtype=np.uint8)
    bgra = rng.integers(0, 255, (20, 30, 4), dtype=np.uint8)
    deep = rng.integers(0, 65535, (20, 30, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    cv2.imwrite(str(tmp_path / "bgra.png"), bgra)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    image = readers.load_image(tmp_path / "gray.png")
    assert image.shape == (20, 30, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[..., 0], gray)
    np.testing.assert_array_equal(readers.load_image(tmp_path / "bgra.png"), bgra[..., 2::-1])
    image = readers.load_image(tmp_path / "deep.png")
    np.testing.assert_array_equal(image, np.round(deep[..., ::-1] / 257.0).astype(np.uint8))
    assert readers.load_image(fixtures_dir / "menpo/takeo.ppm").shape == (225, 150, 3)
    _write(tmp_path / "broken.jpg", "not an image")
    with pytest.raises(DataError, match="broken.jpg: unreadable image"):
        readers.load_image(tmp_path / "broken.jpg")
    with pytest.raises(DataError, match="missing image"):
        readers.load_image(tmp_path / "absent.jpg")
    with pytest.raises(DataError, match="unsupported shape"):
        to_rgb_uint8(np.zeros([4, 4, 2], np.uint8))


def test_sample_checks_box_outside_image_and_nan(fixtures_dir):
    path = str(fixtures_dir / "300w/pts_images/test_1.jpg")
    landmarks = readers.read_pts(fixtures_dir / "300w/pts_images/test_1.pts")
    assert load_sample_image(Sample(path, landmarks)).dtype == np.uint8
    with pytest.raises(DataError, match="box outside image"):
        load_sample_image(Sample(path, landmarks, box=np.array([5000, 5000, 5100, 5100], np.float32)))
    with pytest.raises(DataError, match="non-finite coordinate"):
        load_sample_image(Sample(path, np.full([68, 2], np.nan, np.float32)))


# --------------------------------------------------------------------------- 300-VW


def test_300vw_pts_agree_with_mmpose_json_and_broken_frame_is_counted(fixtures_dir):
    root = fixtures_dir / "300vw"
    broken = readers.load_broken_frames(root / "broken_frames.json")
    assert len(broken) == 16 and sum(len(f) for f in broken.values()) == 2127
    report = ReadReport()
    frames = []
    for video in ("001", "401"):
        frames += list(readers.iter_300vw_video(root / video, broken, report))
    assert [(s.meta["video"], s.meta["frame"]) for s in frames] == [("001", 6), ("001", 9), ("401", 732)]
    assert report.kept == 3 and dict(report.skipped) == {"known broken frame": 1}
    json_samples, _ = readers.read_coco_json(root / "anno_300vw.json", num_points=68, one_based=True)
    for frame, annotated in zip(frames, json_samples):
        assert os.path.samefile(frame.image, annotated.image)
        np.testing.assert_allclose(frame.landmarks, annotated.landmarks, atol=1e-4)
    assert load_sample_image(frames[0]).shape == (720, 1280, 3)


def test_300vw_categories_have_the_standard_counts(fixtures_dir):
    counts = {name: len(videos) for name, videos in vw300.CATEGORIES.items()}
    assert counts == {"S1": 31, "S2": 19, "S3": 14}
    assert len(vw300.TEST_VIDEOS) == 64 == vw300.NUM_VIDEOS - vw300.CATEGORY_COUNTS["train"]
    assert len(set(vw300.ALL_VIDEOS)) == len(vw300.ALL_VIDEOS) == 114
    assert vw300.TEST_VIDEOS <= set(vw300.ALL_VIDEOS) and len(vw300.TRAIN_VIDEOS) == 50
    with pytest.warns(UserWarning, match="S1: 30 of 31 videos are missing"):
        assert readers.list_videos(fixtures_dir / "300vw", "S1") == ["401"]
    with pytest.warns(UserWarning, match="S2: 19 of 19"):
        assert readers.list_videos(fixtures_dir / "300vw", "S2") == []
    with pytest.warns(UserWarning, match="train: 49 of 50"):
        assert readers.list_videos(fixtures_dir / "300vw", "train") == ["001"]
    report = ReadReport()
    with pytest.warns(UserWarning):
        samples = list(readers.iter_300vw(fixtures_dir / "300vw", "test", report=report))
    assert len(samples) == 1 and samples[0].meta["category"] == "test"
    assert report.skipped["known broken frame"] == 1
    with pytest.raises(ValueError, match="Received: category=S4"):
        readers.list_videos(fixtures_dir / "300vw", "S4")


def test_300vw_frames_from_video_file(tmp_path):
    video_dir = tmp_path / "114"
    (video_dir / "annot").mkdir(parents=True)
    writer = cv2.VideoWriter(str(video_dir / "vid.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    assert writer.isOpened()
    for value in (0, 80, 160):
        writer.write(np.full([48, 64, 3], value, np.uint8))
    writer.release()
    for number in (1, 3, 5):
        _write(video_dir / "annot" / f"{number:06d}.pts", PTS_68)
    report = ReadReport()
    frames = list(readers.iter_300vw_video(video_dir, {"114": {1}}, report))
    assert [s.meta["frame"] for s in frames] == [3]
    assert frames[0].image.shape == (48, 64, 3) and abs(int(frames[0].image.mean()) - 160) <= 3
    assert dict(report.skipped) == {"known broken frame": 1, "missing frame": 1}


# --------------------------------------------------------------------------- WFLW


def _wflw_line(rng, flags, name="0--Parade/a.jpg"):
    coords = " ".join(f"{v:.6f}" for v in rng.uniform(-5, 300, 196))
    return f"{coords} 10 20 200 220 {' '.join(str(f) for f in flags)} {name}"


def test_wflw_subset_list_sample(fixtures_dir):
    path = fixtures_dir / "wflw/list_98pt_sample/list_98pt_test_largepose_first5.txt"
    samples, report = readers.read_wflw_list(path)
    assert len(samples) == 5 and report.num_skipped == 0
    assert all(s.landmarks.shape == (98, 2) and s.box is None for s in samples)
    first = open(path, encoding="utf-8").readline().split()
    np.testing.assert_allclose(samples[0].landmarks[0], [float(first[0]), float(first[1])])
    assert samples[0].image.endswith(first[-1])


def test_wflw_rect_attr_lines_attributes_and_subsets(tmp_path):
    rng = np.random.default_rng(1)
    lines = [
        _wflw_line(rng, [1, 0, 0, 0, 0, 1]),
        _wflw_line(rng, [0, 0, 1, 0, 0, 0]),
        _wflw_line(rng, [1, 1, 0, 0, 1, 0]),
        _wflw_line(rng, [0, 0, 0, 0, 0, 0])[:-30],  # truncated line
        _wflw_line(rng, [0, 0, 0, 2, 0, 0]),  # bad flag
    ]
    path = _write(tmp_path / "list_98pt_rect_attr_test.txt", "\n".join(lines) + "\n")
    samples, report = readers.read_wflw_list(path, image_dir=tmp_path / "WFLW_images")
    assert len(samples) == 3
    assert dict(report.skipped) == {"wrong column count": 1, "bad attribute flag": 1}
    assert any(f"{path}:4:" in e for e in report.examples)
    np.testing.assert_array_equal(samples[0].box, [10, 20, 200, 220])
    assert samples[2].meta["attributes"] == {
        "pose": 1, "expression": 1, "illumination": 0, "makeup": 0, "occlusion": 1, "blur": 0
    }
    assert [len(readers.wflw_subset(samples, a)) for a in wflw.ATTRIBUTES] == [2, 1, 1, 0, 1, 1]
    with pytest.raises(ValueError, match="Received: attribute=hat"):
        readers.wflw_subset(samples, "hat")
    assert sum(wflw.SUBSET_COUNTS[a] for a in wflw.ATTRIBUTES) == 3053


def test_wflw_mmpose_json(fixtures_dir):
    samples, report = readers.read_coco_json(fixtures_dir / "wflw/mmpose/test_wflw.json", num_points=98)
    assert len(samples) == 4 and report.num_skipped == 0
    assert len({s.image for s in samples}) == 2


# --------------------------------------------------------------------------- COFW


def _matlab_v73(path, keys, images, phis, boxes):
    """Writes a file in the COFW_*_color.mat v7.3 layout: arrays transposed, images by reference."""
    import h5py  # a hard dependency (setup.py): never skip
    with h5py.File(path, "w", userblock_size=512) as file:
        refs_group = file.create_group("#refs#")
        references = np.empty([1, len(images)], dtype=h5py.ref_dtype)
        for index, image in enumerate(images):
            dataset = refs_group.create_dataset(f"r{index}", data=np.asarray(image).T)
            references[0, index] = dataset.ref
        file.create_dataset(keys[0], data=references)
        file.create_dataset(keys[1], data=np.asarray(phis, np.float64).T)
        file.create_dataset(keys[2], data=np.asarray(boxes, np.float64).T)


def _cofw_faces(rng, count):
    images = [rng.integers(0, 255, (60, 50), dtype=np.uint8), rng.integers(0, 255, (40, 70, 3), dtype=np.uint8)]
    images = (images * count)[:count]
    xs, ys = rng.uniform(2, 40, (count, 29)), rng.uniform(2, 35, (count, 29))
    occlusion = rng.integers(0, 2, (count, 29)).astype(np.float64)
    phis = np.concatenate([xs, ys, occlusion], axis=1)
    boxes = np.tile([[3.0, 4.0, 30.0, 28.0]], (count, 1))
    return images, phis, boxes


def test_cofw_v73_mat_layout(tmp_path):
    rng = np.random.default_rng(2)
    images, phis, boxes = _cofw_faces(rng, 3)
    phis[2, 5] = np.nan
    path = tmp_path / "COFW_test_color.mat"
    _matlab_v73(path, ("IsT", "phisT", "bboxesT"), images, phis, boxes)
    samples, report = readers.read_cofw_mat(path)
    assert len(samples) == 2 and dict(report.skipped) == {"non-finite coordinate": 1}
    assert "phisT row 3" in report.examples[0]
    for index, sample in enumerate(samples):
        # [x1..x29, y1..y29, occ1..occ29], 1-based -> 0-based.
        np.testing.assert_allclose(sample.landmarks[:, 0], phis[index, :29] - 1, atol=1e-4)
        np.testing.assert_allclose(sample.landmarks[:, 1], phis[index, 29:58] - 1, atol=1e-4)
        np.testing.assert_array_equal(sample.visibility, 1 - phis[index, 58:])
        np.testing.assert_allclose(sample.box, [2, 3, 32, 31])
        assert sample.meta["index"] == index + 1
    assert samples[0].image.shape == (60, 50, 3)
    np.testing.assert_array_equal(samples[0].image[..., 1], images[0])
    np.testing.assert_array_equal(samples[1].image, images[1][..., ::-1])  # BGR-agnostic: stored RGB
    train = tmp_path / "COFW_train_color.mat"
    _matlab_v73(train, ("IsTr", "phisTr", "bboxesTr"), *_cofw_faces(rng, 2))
    assert len(readers.read_cofw_mat(train)[0]) == 2
    with pytest.raises(DataError, match="expected keys"):
        readers.read_cofw_mat(train, split="test")


def test_cofw_v5_mat_layout(tmp_path):
    import scipy.io as scipy_io  # a hard dependency (setup.py)
    images, phis, boxes = _cofw_faces(np.random.default_rng(3), 2)
    cell = np.empty([2, 1], dtype=object)
    cell[0, 0], cell[1, 0] = images
    scipy_io.savemat(tmp_path / "COFW_test_color.mat", {"IsT": cell, "phisT": phis, "bboxesT": boxes})
    samples, report = readers.read_cofw_mat(tmp_path / "COFW_test_color.mat")
    assert len(samples) == 2 and report.num_skipped == 0
    np.testing.assert_allclose(samples[1].landmarks[:, 1], phis[1, 29:58] - 1, atol=1e-4)


def test_cofw68_annotations_and_mmpose_cofw(fixtures_dir, tmp_path):
    import scipy.io as scipy_io  # a hard dependency (setup.py)
    folder = fixtures_dir / "cofw/cofw68_sample"
    samples, report = readers.read_cofw68(folder)
    assert [s.meta["index"] for s in samples] == [1, 2, 3, 421, 460] and report.num_skipped == 0
    raw = scipy_io.loadmat(folder / "421_points.mat")
    np.testing.assert_allclose(samples[3].landmarks, raw["Points"] - 1, atol=1e-4)
    np.testing.assert_array_equal(samples[3].visibility, 1 - raw["Occ"].ravel())
    assert all(s.landmarks.shape == (68, 2) and 0 < s.visibility.sum() < 68 for s in samples)
    json_samples, _ = readers.read_coco_json(
        fixtures_dir / "cofw/mmpose/test_cofw.json", num_points=29, occlusion_flags=True
    )
    assert [int(s.visibility.sum()) for s in json_samples] == [23, 20]
    # COFW-29 and COFW-68 annotate the same test faces (ids 1766/1805 = test faces 421/460):
    # eye corners, mouth corners and chin of both schemes lie within a few pixels.
    pairs_29_to_68 = [(8, 36), (9, 45), (10, 39), (11, 42), (22, 48), (23, 54), (28, 8)]
    for image_id, sample_68 in [(1766, samples[3]), (1805, samples[4])]:
        face_29 = [s for s in json_samples if s.meta["image_id"] == image_id][0]
        width = np.ptp(sample_68.landmarks[:, 0])
        for index_29, index_68 in pairs_29_to_68:
            distance = np.linalg.norm(face_29.landmarks[index_29] - sample_68.landmarks[index_68])
            assert distance < 0.08 * width, (image_id, index_29, index_68, distance)
    shutil.copy(folder / "1_points.mat", tmp_path / "1_points.mat")
    _write(tmp_path / "2_points.mat", "corrupt")
    samples, report = readers.read_cofw68(tmp_path)
    assert len(samples) == 1 and dict(report.skipped) == {"bad mat file": 1}


# --------------------------------------------------------------------------- AFLW


def test_aflw_mmpose_json_and_hrnet_csv_layout(fixtures_dir, tmp_path):
    json_samples, report = readers.read_coco_json(fixtures_dir / "aflw/mmpose/test_aflw.json", num_points=19)
    assert len(json_samples) == 2 and report.num_skipped == 0
    assert [s.meta["box_size"] for s in json_samples] == [362.0, 128.0]
    # Rebuild the HRNet AFLW CSV rows (image_name, scale, box_size, center_w, center_h, 19x(x,y)).
    header = ["image_name", "scale", "box_size", "center_w", "center_h"]
    header += [f"original_{i}_{c}" for i in range(19) for c in "xy"]
    rows = [header]
    for sample in json_samples:
        rows.append(
            [os.path.basename(sample.image), sample.meta["scale"], sample.meta["box_size"], *sample.meta["center"]]
            + sample.landmarks.ravel().tolist()
        )
    rows.append(rows[1][:-1])
    with open(tmp_path / "face_landmarks_aflw_test_frontal.csv", "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    samples, report = readers.read_aflw(tmp_path, "frontal", image_root=fixtures_dir / "aflw/mmpose")
    assert len(samples) == 2 and dict(report.skipped) == {"wrong column count": 1}
    assert any("count differs: 3 rows, published 1314" in e for e in report.examples)
    for sample, reference in zip(samples, json_samples):
        np.testing.assert_allclose(sample.landmarks, reference.landmarks, atol=1e-4)
        assert sample.meta["box_size"] == reference.meta["box_size"]
        assert sample.box[2] - sample.box[0] == pytest.approx(reference.meta["box_size"])
        assert load_sample_image(sample).ndim == 3


# --------------------------------------------------------------------------- Talking Face, dlib


def test_talking_face_layout(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "points").mkdir()
    for frame in range(3):
        _write(tmp_path / "points" / f"franck_{frame:05d}.pts", PTS_68)
        if frame != 1:
            cv2.imwrite(str(tmp_path / "images" / f"franck_{frame:05d}.jpg"), np.zeros([8, 8, 3], np.uint8))
    samples, report = readers.read_talking_face(tmp_path)
    assert [s.meta["frame"] for s in samples] == [0, 2]
    assert report.skipped["missing image"] == 1
    assert any("published 5000" in e for e in report.examples)
    np.testing.assert_allclose(samples[0].landmarks[0], [9.5, 19.25])
    common = readers.to_common_7(np.arange(136, dtype=np.float32).reshape(68, 2), "ibug")
    np.testing.assert_array_equal(common[:, 0], 2 * np.asarray(talking_face.COMMON_7_IBUG))
    assert talking_face.COMMON_7_IBUG == tuple(zoo.schemes.SHARED7_FROM_300W)
    with pytest.raises(ValueError, match="Received: scheme=x"):
        readers.to_common_7(np.zeros([68, 2]), "x")


def test_dlib_xml_counts(fixtures_dir):
    train, report = readers.read_dlib_xml(fixtures_dir / "dlib_faces/training_with_face_landmarks.xml")
    test, _ = readers.read_dlib_xml(fixtures_dir / "dlib_faces/testing_with_face_landmarks.xml")
    assert (len(train), len({s.image for s in train})) == (18, 4) and report.num_skipped == 0
    assert (len(test), len({s.image for s in test})) == (25, 5)
    first = train[0]
    np.testing.assert_array_equal(first.box, [194, 90, 231, 127])
    np.testing.assert_array_equal(first.landmarks[:2], [[201, 107], [201, 110]])
    _, report = readers.read_dlib_xml(fixtures_dir / "dlib_faces/training.xml")
    assert report.skipped["wrong point count"] == report.num_skipped > 0


def test_cofw_constants():
    assert cofw.SPLIT_COUNTS == {"train": 1345, "test": 507}
