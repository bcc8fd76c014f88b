"""A small statistical shape model (mean + principal modes) of the 68-point iBUG face.

SynthFace draws its face shapes from this model. The model is fitted once with
``fit_shape_model`` (generalised Procrustes alignment, then PCA) and stored as a few KB in
``zoo/data/assets/shape_model_300w.npz``; only the mean, the modes and their variances are
stored, never the annotations themselves.

Provenance of the shipped file: fitted on the 1,289 faces of the 300-W test set (600) and the
300-W "full" validation set (689: HELEN test, LFPW test, iBUG) as HRNet CSV files. The 300-W
annotations are for non-commercial research only; what ships is a statistical summary
(68 mean points, 12 modes, 12 variances), not the annotations.

Re-fit (needs the CSV files, which are not part of the package):

    python -c "import zoo.data.shape_model as m; m.fit_and_save(
        ['../shared/fixtures/300w/hrnet_csv/face_landmarks_300w_test.csv',
         '../shared/fixtures/300w/hrnet_csv/face_landmarks_300w_valid.csv'])"
"""
import csv
import dataclasses
import os

import numpy as np

NUM_LANDMARKS = 68
DEFAULT_PATH = os.path.join(os.path.dirname(__file__), "assets", "shape_model_300w.npz")


@dataclasses.dataclass(frozen=True)
class ShapeModel:
    """Point distribution model: ``shape = mean + sum_k b_k * modes[k]``.

    Shapes live in a normalised frame: centred at the origin, each training shape scaled to a
    root-mean-square distance of 1 from its centroid (the mean's is about 0.98), eyes level
    (x to the right, y down as in images).

    Attributes:
        mean: (68, 2) float32 mean shape.
        modes: (K, 68, 2) float32 orthonormal principal modes (each flattened mode has norm 1).
        variances: (K,) float32 variance of each mode coefficient over the training shapes.
        source: short text saying what the model was fitted on.
        explained_variance_ratio: fraction of the aligned shapes' variance the modes keep.
    """

    mean: np.ndarray
    modes: np.ndarray
    variances: np.ndarray
    source: str = ""
    explained_variance_ratio: float = float("nan")

    @property
    def num_modes(self):
        return int(self.modes.shape[0])

    def shape(self, coefficients):
        """The shape for mode coefficients ``b`` (K,) (or fewer: the rest are zero).

        Args:
            coefficients: (k,) array, ``k <= num_modes``, in the units of the modes (not
                standard deviations).

        Returns:
            (68, 2) float32 shape in the normalised frame.

        Example:
            >>> model = zoo.data.shape_model.load_shape_model()
            >>> model.shape([0.0]).shape
            (68, 2)
        """
        coefficients = np.asarray(coefficients, np.float32).reshape(-1)
        if coefficients.size > self.num_modes:
            raise ValueError(
                f"At most {self.num_modes} coefficients. Received: "
                f"coefficients.size={coefficients.size}"
            )
        k = coefficients.size
        return self.mean + np.tensordot(coefficients, self.modes[:k], axes=1)

    def sample(self, rng, scale=1.0, clip=3.0):
        """Draws a random plausible shape: ``b_k ~ N(0, scale^2 * variances_k)``, clipped.

        Args:
            rng: a ``numpy.random.Generator``.
            scale: multiplier of the standard deviations (1.0 = the data's spread).
            clip: clip each coefficient at ``clip`` standard deviations.

        Returns:
            ((68, 2) float32 shape, (K,) float32 coefficients).

        Example:
            >>> import numpy as np
            >>> model = zoo.data.shape_model.load_shape_model()
            >>> shape, b = model.sample(np.random.default_rng(0))
        """
        std = np.sqrt(self.variances) * scale
        b = np.clip(rng.standard_normal(self.num_modes), -clip, clip) * std
        return self.shape(b).astype(np.float32), b.astype(np.float32)


def read_hrnet_csv(path):
    """Reads the landmarks of an HRNet-style CSV (image_name, scale, center_w, center_h, x0, y0...).

    Args:
        path: CSV file path.

    Returns:
        (M, N, 2) float32 array of landmarks.

    Example:
        >>> shapes = zoo.data.shape_model.read_hrnet_csv(
        ...     fixtures_dir / "300w" / "hrnet_csv" / "face_landmarks_300w_test.csv")
        >>> shapes.shape, shapes.dtype
        ((600, 68, 2), dtype('float32'))
    """
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        if len(header) < 6 or (len(header) - 4) % 2:
            raise ValueError(f"Not an HRNet landmark CSV. Received: header={header[:6]}...")
        for row in reader:
            if row:
                rows.append([float(v) for v in row[4:]])
    return np.asarray(rows, np.float32).reshape(len(rows), -1, 2)


def _normalise(shape):
    centred = shape - shape.mean(axis=0)
    return centred / np.sqrt((centred**2).sum(axis=1).mean())


def _align(shape, reference):
    """Orthogonal Procrustes: rotation of centred unit ``shape`` that best matches ``reference``."""
    u, _, vt = np.linalg.svd(shape.T @ reference)
    rotation = u @ vt
    if np.linalg.det(rotation) < 0:  # never reflect: a mirrored face swaps left and right
        u[:, -1] *= -1
        rotation = u @ vt
    return shape @ rotation


def fit_shape_model(shapes, num_modes=12, iterations=10):
    """Generalised Procrustes alignment then PCA.

    Args:
        shapes: (M, 68, 2) landmarks in any pixel frame.
        num_modes: number of principal modes kept.
        iterations: Procrustes iterations (converges in a few).

    Returns:
        A ``ShapeModel`` whose mean has level eyes (mean of points 36-41 and 42-47 on a
        horizontal line) and unit RMS radius.

    Example:
        >>> import numpy as np
        >>> shapes = np.random.default_rng(0).normal(size=(50, 68, 2))
        >>> model = zoo.data.shape_model.fit_shape_model(shapes, num_modes=4)
    """
    shapes = np.asarray(shapes, np.float64)
    if shapes.ndim != 3 or shapes.shape[1:] != (NUM_LANDMARKS, 2):
        raise ValueError(f"Expected (M, 68, 2) shapes. Received: shapes.shape={shapes.shape}")
    if not 1 <= num_modes <= min(shapes.shape[0] - 1, 2 * NUM_LANDMARKS):
        raise ValueError(f"num_modes must be in [1, M-1]. Received: num_modes={num_modes}")
    aligned = np.stack([_normalise(s) for s in shapes])
    reference = aligned[0]
    for _ in range(iterations):
        aligned = np.stack([_align(s, reference) for s in aligned])
        reference = _normalise(aligned.mean(axis=0))
    # Rotate the whole set so that the eyes of the mean are level.
    left, right = reference[36:42].mean(axis=0), reference[42:48].mean(axis=0)
    angle = np.arctan2(right[1] - left[1], right[0] - left[0])
    c, s = np.cos(-angle), np.sin(-angle)
    level = np.array([[c, s], [-s, c]])  # row-vector form of a rotation by -angle
    aligned = aligned @ level
    mean = aligned.mean(axis=0)
    flat = (aligned - mean).reshape(len(aligned), -1)
    _, singular, vt = np.linalg.svd(flat, full_matrices=False)
    variances = singular**2 / (len(flat) - 1)
    explained = float(variances[:num_modes].sum() / variances.sum())
    return ShapeModel(
        mean=mean.astype(np.float32),
        modes=vt[:num_modes].reshape(num_modes, NUM_LANDMARKS, 2).astype(np.float32),
        variances=variances[:num_modes].astype(np.float32),
        explained_variance_ratio=explained,
    )


def fit_and_save(csv_paths, path=DEFAULT_PATH, num_modes=12):
    """Fits the model on HRNet CSV files and writes the ``.npz`` asset.

    Args:
        csv_paths: list of HRNet CSV paths (68 points per row).
        path: output ``.npz`` path.
        num_modes: modes kept.

    Returns:
        The fitted ``ShapeModel``.

    Example:
        >>> csv = fixtures_dir / "300w" / "hrnet_csv" / "face_landmarks_300w_test.csv"
        >>> model = zoo.data.shape_model.fit_and_save([csv], "m.npz", num_modes=4)
        >>> zoo.data.shape_model.load_shape_model("m.npz").num_modes
        4
    """
    shapes = np.concatenate([read_hrnet_csv(p) for p in csv_paths])
    model = fit_shape_model(shapes, num_modes=num_modes)
    explained = model.explained_variance_ratio
    source = (
        f"Fitted on {len(shapes)} 300-W faces ({', '.join(os.path.basename(p) for p in csv_paths)}); "
        "300-W annotations are research-only (non-commercial); this file is a statistical "
        f"summary (mean, {num_modes} modes, variances) keeping {100 * explained:.1f}% of the "
        "variance of the Procrustes-aligned shapes."
    )
    np.savez_compressed(
        path, mean=model.mean, modes=model.modes, variances=model.variances, source=np.array(source),
        explained_variance_ratio=np.float32(explained),
    )
    return dataclasses.replace(model, source=source)


_CACHE = {}


def load_shape_model(path=DEFAULT_PATH):
    """Loads the shipped (or another) shape model ``.npz``.

    Args:
        path: ``.npz`` path; default the packaged 300-W model.

    Returns:
        ``ShapeModel``.

    Example:
        >>> model = zoo.data.shape_model.load_shape_model()
        >>> model.mean.shape
        (68, 2)
    """
    if path not in _CACHE:
        with np.load(path) as data:
            _CACHE[path] = ShapeModel(
                mean=data["mean"], modes=data["modes"], variances=data["variances"],
                source=str(data["source"]),
                explained_variance_ratio=float(data["explained_variance_ratio"]),
            )
    return _CACHE[path]
