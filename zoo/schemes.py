"""Landmark schemes as data: point counts, flip permutations, NME normalisers, facial areas.

A *scheme* says what the N landmarks of a dataset mean. Everything that depends on the
meaning of an index (horizontal-flip augmentation, the NME normaliser, per-area errors,
drawing) reads it from here, so a new dataset only needs a new `Scheme`.

All indices are **0-based**. "Left"/"right" in comments are image sides (the subject's right
eye is on the image left).

Built-in schemes:

| name      | points | normaliser                        | used by                     |
|-----------|--------|-----------------------------------|-----------------------------|
| `300w`    | 68     | interocular, outer eye corners 36/45 | 300W, 300VW, Talking Face, Menpo-68 |
| `wflw`    | 98     | interocular, outer eye corners 60/72 | WFLW                      |
| `cofw`    | 29     | interocular, points 8/9 (outer eye corners) | COFW              |
| `aflw`    | 19     | box (face box size, SAN/HRNet protocol) | AFLW-19               |
| `shared7` | 7      | interocular, points 0/3 (outer eye corners) | 300VW vs Talking Face |

Example:
    >>> import zoo.schemes
    >>> scheme = zoo.schemes.get_scheme("300w")
    >>> scheme.num_landmarks, scheme.normalizer_indices
    (68, (36, 45))
    >>> custom = zoo.schemes.Scheme(
    ...     name="my_5pt", num_landmarks=5, flip_permutation=(1, 0, 2, 4, 3),
    ...     normalizer="interocular", normalizer_indices=(0, 1),
    ...     areas={"eyes": (0, 1), "nose": (2,), "mouth": (3, 4)},
    ...     connections=((3, 4),))
    >>> zoo.schemes.register_scheme(custom)
    >>> zoo.schemes.get_scheme("my_5pt").num_landmarks
    5
"""
import dataclasses
from typing import Mapping, Optional, Tuple

import numpy as np

NORMALIZERS = ("interocular", "interpupil", "box", "diagonal")
"""Normaliser kinds understood by `zoo.metrics.nme` (see its docstring)."""

SHARED7_FROM_300W = (36, 39, 42, 45, 30, 48, 54)
"""Indices into the 68-point (300W) scheme of the 7 landmarks that 300VW and Talking Face
share for evaluation: outer/inner corners of both eyes, nose tip, both mouth corners, in the
order of the `shared7` scheme. Use `landmarks68[..., SHARED7_FROM_300W, :]` to convert."""


class _FrozenAreas(dict):
    """A read-only dict (area name -> index tuple) that still pickles and deep-copies."""

    def _read_only(self, *args, **kwargs):
        raise TypeError("Scheme.areas is read-only; build a new Scheme instead")

    __setitem__ = __delitem__ = __ior__ = _read_only
    update = pop = popitem = clear = setdefault = _read_only

    def __reduce__(self):
        return (_FrozenAreas, (dict(self),))

    def __hash__(self):
        return hash(tuple(sorted(self.items())))


@dataclasses.dataclass(frozen=True)
class Scheme:
    """What the landmarks of one dataset mean.

    Args:
        name: registry name, e.g. `"300w"`.
        num_landmarks: N, the number of points.
        flip_permutation: tuple of N ints. After mirroring the image horizontally
            (x -> W - 1 - x), index `i` of the flipped face takes landmark
            `flip_permutation[i]`: `flipped = mirrored[flip_permutation]`. Must be a
            permutation and an involution (applying it twice is the identity).
        normalizer: default NME normaliser: `"interocular"` (distance between the two points
            in `normalizer_indices`), `"interpupil"` (distance between the eye centres, the
            means of the two `eye_groups`), `"box"` (sqrt(w * h) of the face box) or
            `"diagonal"` (diagonal of the face box).
        normalizer_indices: the 2 points whose distance is the interocular normaliser, or
            None when the scheme has no such pair (required for `"interocular"`).
        areas: facial area name -> tuple of indices, for per-area errors (`eyes`,
            `eyebrows`, `nose`, `mouth`, `contour` where the scheme has them).
        connections: tuple of `(i, j)` index pairs drawn as lines by `zoo.draw`.
        eye_groups: None, or a pair of index tuples (image-left eye, image-right eye) whose
            means are the eye centres used by the `"interpupil"` normaliser.

    Raises:
        ValueError: naming the problem (permutation of the wrong length, not a permutation,
            not an involution, index out of range, unknown normaliser, ...).

    Example:
        >>> import zoo.schemes
        >>> s = zoo.schemes.Scheme("pair", 2, (1, 0), "interocular", (0, 1), {"eyes": (0, 1)})
        >>> s.flip_permutation
        (1, 0)
    """

    name: str
    num_landmarks: int
    flip_permutation: Tuple[int, ...]
    normalizer: str = "interocular"
    normalizer_indices: Optional[Tuple[int, int]] = None
    areas: Mapping[str, Tuple[int, ...]] = dataclasses.field(default_factory=dict, hash=False)
    connections: Tuple[Tuple[int, int], ...] = ()
    eye_groups: Optional[Tuple[Tuple[int, ...], Tuple[int, ...]]] = None

    def __post_init__(self):
        set_ = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(
                "Scheme name must be a non-empty string. "
                f"Received: name={self.name!r}"
            )
        if isinstance(self.num_landmarks, bool) or not isinstance(
            self.num_landmarks, (int, np.integer)
        ) or self.num_landmarks < 1:
            raise ValueError(
                f"Scheme {self.name!r}: num_landmarks must be a positive int. "
                f"Received: num_landmarks={self.num_landmarks!r}"
            )
        n = int(self.num_landmarks)
        set_("num_landmarks", n)

        def check_index(what, index):
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise ValueError(
                    f"Scheme {self.name!r}: {what} must hold ints. Received: {what} index={index!r}"
                )
            if not 0 <= index < n:
                raise ValueError(
                    f"Scheme {self.name!r}: {what} index out of range [0, {n}). "
                    f"Received: {what} index={index}"
                )
            return int(index)

        perm = tuple(check_index("flip_permutation", i) for i in self.flip_permutation)
        if len(perm) != n:
            raise ValueError(
                f"Scheme {self.name!r}: flip_permutation must have num_landmarks={n} entries. "
                f"Received: len(flip_permutation)={len(perm)}"
            )
        if len(set(perm)) != n:
            duplicates = sorted({i for i in perm if perm.count(i) > 1})
            raise ValueError(
                f"Scheme {self.name!r}: flip_permutation is not a permutation (repeated "
                f"indices). Received: flip_permutation repeats {duplicates}"
            )
        broken = [i for i in range(n) if perm[perm[i]] != i]
        if broken:
            raise ValueError(
                f"Scheme {self.name!r}: flip_permutation is not an involution (flipping twice "
                f"must give the identity). Received: flip_permutation[flip_permutation[i]] != i "
                f"for i={broken}"
            )
        set_("flip_permutation", perm)

        if self.normalizer not in NORMALIZERS:
            raise ValueError(
                f"Scheme {self.name!r}: normalizer must be one of {NORMALIZERS}. "
                f"Received: normalizer={self.normalizer!r}"
            )
        if self.normalizer_indices is not None:
            pair = tuple(check_index("normalizer_indices", i) for i in self.normalizer_indices)
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ValueError(
                    f"Scheme {self.name!r}: normalizer_indices must be 2 distinct ints. "
                    f"Received: normalizer_indices={self.normalizer_indices!r}"
                )
            set_("normalizer_indices", pair)
        elif self.normalizer == "interocular":
            raise ValueError(
                f"Scheme {self.name!r}: normalizer='interocular' needs normalizer_indices. "
                "Received: normalizer_indices=None"
            )

        areas = {}
        for area, indices in dict(self.areas).items():
            indices = tuple(check_index(f"areas[{area!r}]", i) for i in indices)
            if not indices:
                raise ValueError(
                    f"Scheme {self.name!r}: area {area!r} is empty. Received: areas[{area!r}]=()"
                )
            areas[area] = indices
        set_("areas", _FrozenAreas(areas))

        connections = []
        for pair in self.connections:
            pair = tuple(check_index("connections", i) for i in pair)
            if len(pair) != 2:
                raise ValueError(
                    f"Scheme {self.name!r}: connections must be index pairs. "
                    f"Received: connection={pair!r}"
                )
            connections.append(pair)
        set_("connections", tuple(connections))

        if self.eye_groups is not None:
            groups = tuple(
                tuple(check_index("eye_groups", i) for i in group) for group in self.eye_groups
            )
            if len(groups) != 2 or not all(groups):
                raise ValueError(
                    f"Scheme {self.name!r}: eye_groups must be 2 non-empty index tuples. "
                    f"Received: eye_groups={self.eye_groups!r}"
                )
            set_("eye_groups", groups)
        elif self.normalizer == "interpupil":
            raise ValueError(
                f"Scheme {self.name!r}: normalizer='interpupil' needs eye_groups. "
                "Received: eye_groups=None"
            )

    def get_config(self):
        """JSON-serialisable dict of all fields; `Scheme.from_config` rebuilds the scheme.

        Returns:
            dict with lists in place of tuples.

        Example:
            >>> import zoo.schemes
            >>> s = zoo.schemes.get_scheme("cofw")
            >>> zoo.schemes.Scheme.from_config(s.get_config()) == s
            True
        """
        return {
            "name": self.name,
            "num_landmarks": self.num_landmarks,
            "flip_permutation": list(self.flip_permutation),
            "normalizer": self.normalizer,
            "normalizer_indices": (
                None if self.normalizer_indices is None else list(self.normalizer_indices)
            ),
            "areas": {area: list(indices) for area, indices in self.areas.items()},
            "connections": [list(pair) for pair in self.connections],
            "eye_groups": None if self.eye_groups is None else [list(g) for g in self.eye_groups],
        }

    @classmethod
    def from_config(cls, config):
        """Rebuilds a scheme from `get_config()` (validated like any new scheme)."""
        return cls(**config)

    def flip(self, landmarks, width):
        """Mirrors landmarks horizontally and reorders them with `flip_permutation`.

        Args:
            landmarks: (..., N, 2) array of 0-based (x, y) pixel coordinates.
            width: image width W; x becomes W - 1 - x (0-based pixel centres).

        Returns:
            numpy array of the same shape: the landmarks of the mirrored image.

        Example:
            >>> import numpy as np, zoo.schemes
            >>> s = zoo.schemes.get_scheme("aflw")
            >>> s.flip(np.zeros((19, 2)), width=10)[0]
            array([9., 0.])
        """
        landmarks = np.asarray(landmarks)
        if landmarks.ndim < 2 or landmarks.shape[-2:] != (self.num_landmarks, 2):
            raise ValueError(
                f"Scheme {self.name!r}: landmarks must have shape (..., {self.num_landmarks}, 2). "
                f"Received: landmarks.shape={landmarks.shape}"
            )
        mirrored = landmarks.copy()
        mirrored[..., 0] = (width - 1) - mirrored[..., 0]
        return mirrored[..., list(self.flip_permutation), :]


def _pairs_to_permutation(n, pairs):
    perm = list(range(n))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


def _chain(indices, closed=False):
    indices = list(indices)
    pairs = list(zip(indices[:-1], indices[1:]))
    if closed:
        pairs.append((indices[-1], indices[0]))
    return tuple(pairs)


def _r(a, b):
    """Inclusive range a..b as a tuple."""
    return tuple(range(a, b + 1))


# --- 300W / iBUG 68 (same flip pairs as HRNet / mmpose `flip_indices`) ---------------------
_PAIRS_300W = (
    [(i, 16 - i) for i in range(8)]  # jaw line 0..16, 8 = chin
    + [(17 + i, 26 - i) for i in range(5)]  # eyebrows 17..21 <-> 26..22
    + [(31, 35), (32, 34)]  # nostrils; nose bridge 27..30 and 33 stay
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lip; 51, 57 stay
    + [(60, 64), (61, 63), (65, 67)]  # inner lip; 62, 66 stay
)
SCHEME_300W = Scheme(
    name="300w",
    num_landmarks=68,
    flip_permutation=_pairs_to_permutation(68, _PAIRS_300W),
    normalizer="interocular",
    normalizer_indices=(36, 45),
    areas={
        "contour": _r(0, 16),
        "eyebrows": _r(17, 26),
        "nose": _r(27, 35),
        "eyes": _r(36, 47),
        "mouth": _r(48, 67),
    },
    connections=(
        _chain(_r(0, 16)) + _chain(_r(17, 21)) + _chain(_r(22, 26)) + _chain(_r(27, 30))
        + _chain(_r(31, 35)) + ((30, 33),) + _chain(_r(36, 41), True) + _chain(_r(42, 47), True)
        + _chain(_r(48, 59), True) + _chain(_r(60, 67), True)
    ),
    eye_groups=(_r(36, 41), _r(42, 47)),
)

# --- WFLW 98 ---------------------------------------------------------------------------------
_PAIRS_WFLW = (
    [(i, 32 - i) for i in range(16)]  # contour 0..32, 16 = chin
    + [(33 + i, 46 - i) for i in range(5)]  # upper eyebrow edges 33..37 <-> 46..42
    + [(38 + i, 50 - i) for i in range(4)]  # lower eyebrow edges 38..41 <-> 50..47
    + [(55, 59), (56, 58)]  # nostrils; bridge 51..54 and 57 stay
    + [(60 + i, 72 - i) for i in range(5)]  # eyes 60..64 <-> 72..68
    + [(65 + i, 75 - i) for i in range(3)]  # eyes 65..67 <-> 75..73
    + [(76, 82), (77, 81), (78, 80), (83, 87), (84, 86)]  # outer lip; 79, 85 stay
    + [(88, 92), (89, 91), (93, 95)]  # inner lip; 90, 94 stay
    + [(96, 97)]  # pupils
)
SCHEME_WFLW = Scheme(
    name="wflw",
    num_landmarks=98,
    flip_permutation=_pairs_to_permutation(98, _PAIRS_WFLW),
    normalizer="interocular",
    normalizer_indices=(60, 72),
    areas={
        "contour": _r(0, 32),
        "eyebrows": _r(33, 50),
        "nose": _r(51, 59),
        "eyes": _r(60, 75) + (96, 97),
        "mouth": _r(76, 95),
    },
    connections=(
        _chain(_r(0, 32)) + _chain(_r(33, 41), True) + _chain(_r(42, 50), True)
        + _chain(_r(51, 54)) + _chain(_r(55, 59)) + ((54, 57),) + _chain(_r(60, 67), True)
        + _chain(_r(68, 75), True) + _chain(_r(76, 87), True) + _chain(_r(88, 95), True)
    ),
    eye_groups=(_r(60, 67), _r(68, 75)),
)

# --- COFW 29 (Burgos-Artizzu et al.; same flip pairs as HRNet / mmpose) ----------------------
# 0/1 outer brow corners, 2/3 inner brow corners, 4-5 / 6-7 brow top and bottom middles,
# 8/9 outer eye corners, 10/11 inner eye corners, 12-13 / 14-15 eyelid top and bottom,
# 16/17 pupils, 18/19 nose wings, 20 nose tip, 21 below the nose, 22/23 mouth corners,
# 24-25 upper lip top/bottom, 26-27 lower lip top/bottom, 28 chin.
_PAIRS_COFW = [(0, 1), (2, 3), (4, 6), (5, 7), (8, 9), (10, 11), (12, 14), (13, 15), (16, 17),
               (18, 19), (22, 23)]
SCHEME_COFW = Scheme(
    name="cofw",
    num_landmarks=29,
    flip_permutation=_pairs_to_permutation(29, _PAIRS_COFW),
    normalizer="interocular",
    normalizer_indices=(8, 9),
    areas={
        "eyebrows": _r(0, 7),
        "eyes": _r(8, 17),
        "nose": _r(18, 21),
        "mouth": _r(22, 27),
        "contour": (28,),
    },
    connections=(
        (0, 4), (4, 2), (2, 5), (5, 0), (1, 6), (6, 3), (3, 7), (7, 1),
        (8, 12), (12, 10), (10, 13), (13, 8), (9, 14), (14, 11), (11, 15), (15, 9),
        (18, 20), (20, 19), (18, 21), (21, 19),
        (22, 24), (24, 23), (23, 27), (27, 22), (25, 26),
    ),
    eye_groups=((8, 10, 12, 13, 16), (9, 11, 14, 15, 17)),
)

# --- AFLW 19 (SAN / HRNet; same flip pairs as HRNet / mmpose) --------------------------------
# 0-2 / 3-5 eyebrows, 6-8 / 9-11 eyes (corner, centre, corner), 12-14 nose (wing, tip, wing),
# 15-17 mouth (corner, centre, corner), 18 chin.
_PAIRS_AFLW = [(0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9), (12, 14), (15, 17)]
SCHEME_AFLW = Scheme(
    name="aflw",
    num_landmarks=19,
    flip_permutation=_pairs_to_permutation(19, _PAIRS_AFLW),
    normalizer="box",
    normalizer_indices=None,
    areas={
        "eyebrows": _r(0, 5),
        "eyes": _r(6, 11),
        "nose": _r(12, 14),
        "mouth": _r(15, 17),
        "contour": (18,),
    },
    connections=_chain(_r(0, 2)) + _chain(_r(3, 5)) + _chain(_r(6, 8)) + _chain(_r(9, 11))
    + _chain(_r(12, 14)) + _chain(_r(15, 17)),
    eye_groups=((6, 7, 8), (9, 10, 11)),
)

# --- 7 landmarks shared by 300VW and Talking Face (order of SHARED7_FROM_300W) ---------------
SCHEME_SHARED7 = Scheme(
    name="shared7",
    num_landmarks=7,
    flip_permutation=(3, 2, 1, 0, 4, 6, 5),
    normalizer="interocular",
    normalizer_indices=(0, 3),
    areas={"eyes": (0, 1, 2, 3), "nose": (4,), "mouth": (5, 6)},
    connections=((0, 1), (2, 3), (5, 6)),
    eye_groups=((0, 1), (2, 3)),
)

_REGISTRY = {}


def register_scheme(scheme, overwrite=False):
    """Adds a scheme to the registry so `get_scheme(scheme.name)` finds it.

    Args:
        scheme: a `zoo.schemes.Scheme`.
        overwrite: replace an existing scheme of the same name (otherwise ValueError).

    Returns:
        None.

    Example:
        >>> import zoo.schemes
        >>> zoo.schemes.register_scheme(zoo.schemes.Scheme(
        ...     "two_eyes", 2, (1, 0), "interocular", (0, 1), {"eyes": (0, 1)}))
    """
    if not isinstance(scheme, Scheme):
        raise ValueError(
            "register_scheme expects a zoo.schemes.Scheme. "
            f"Received: scheme={scheme!r}"
        )
    if scheme.name in _REGISTRY and not overwrite and _REGISTRY[scheme.name] != scheme:
        raise ValueError(
            f"A different scheme named {scheme.name!r} is already registered; pass "
            f"overwrite=True to replace it. Received: scheme.name={scheme.name!r}"
        )
    _REGISTRY[scheme.name] = scheme


def get_scheme(name):
    """Returns the registered scheme called `name` (a `Scheme` is returned unchanged).

    Args:
        name: `"300w"`, `"wflw"`, `"cofw"`, `"aflw"`, `"shared7"` or a registered custom name
            (case-insensitive for the built-ins), or a `Scheme`.

    Returns:
        The `zoo.schemes.Scheme`.

    Raises:
        ValueError: for an unknown name, listing the known ones.

    Example:
        >>> import zoo.schemes
        >>> zoo.schemes.get_scheme("wflw").normalizer_indices
        (60, 72)
    """
    if isinstance(name, Scheme):
        return name
    if isinstance(name, str):
        if name in _REGISTRY:
            return _REGISTRY[name]
        if name.lower() in _REGISTRY:
            return _REGISTRY[name.lower()]
    raise ValueError(f"Unknown landmark scheme. Known: {list_schemes()}. Received: name={name!r}")


def list_schemes():
    """Names of all registered schemes, sorted.

    Returns:
        list of str.

    Example:
        >>> import zoo.schemes
        >>> "300w" in zoo.schemes.list_schemes()
        True
    """
    return sorted(_REGISTRY)


for _scheme in (SCHEME_300W, SCHEME_WFLW, SCHEME_COFW, SCHEME_AFLW, SCHEME_SHARED7):
    register_scheme(_scheme)
del _scheme
