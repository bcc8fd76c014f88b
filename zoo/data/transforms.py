"""Graph-mode image/landmark transforms for the tf.data pipelines (TF ops only).

Geometry is carried as one affine matrix ``(2, 3)`` from image to crop coordinates (the
convention of ``docs/architecture.md``: the centre of the top-left pixel is ``(0, 0)``), so
crop + rotation + scale + translation + horizontal flip is a single warp
(``tf.raw_ops.ImageProjectiveTransformV3``) and landmarks follow through the same matrix.
``to_image_coordinates`` applies the inverse to take predictions back to the image.

Photometric augmentations (colour jitter, Gaussian blur, a random occluding rectangle) work on
float32 images in ``[0, 255]``; they take their random numbers as arguments so that one draw
can be shared by all frames of a clip.

Example:
    >>> import numpy as np
    >>> matrix = zoo.data.transforms.crop_matrix([100.0, 80.0], 64.0, output_size=256)
    >>> points = zoo.data.transforms.transform_landmarks(np.array([[100.0, 80.0]], "float32"), matrix)
    >>> zoo.data.transforms.to_image_coordinates(points, matrix).numpy().round(3).tolist()
    [[100.0, 80.0]]
"""
import dataclasses
import math

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Random augmentation ranges (defaults follow the common 300-W recipe of HRNet/ADNet).

    Args:
        rotation: max in-plane rotation in degrees (uniform in ``[-rotation, rotation]``).
        scale: max relative scale change (uniform in ``[1 - scale, 1 + scale]``).
        translation: max shift as a fraction of the crop size (per axis).
        flip_probability: chance of a horizontal flip (needs a scheme's flip_permutation).
        brightness: max additive brightness change in grey levels.
        contrast: max relative contrast change.
        saturation: max relative saturation change.
        hue: max hue rotation in degrees.
        grayscale_probability: chance of removing colour.
        blur_probability: chance of a Gaussian blur.
        blur_sigma: max blur standard deviation in pixels (kernel radius ``ceil(2 * sigma)``).
        occlusion_probability: chance of an occluding rectangle.
        occlusion_size: (min, max) side of the rectangle as a fraction of the crop.
        mark_occluded: set the visibility of landmarks under the rectangle to 0.
        box_shift: loose face boxes (off by default): max shift of the crop's box centre per
            axis, as a fraction of the box side (uniform in ``[-box_shift, box_shift]``;
            0.25 = the +-25 % of RDFN's robustness setting). See ``box_perturbation_matrix``.
        box_scale: ``(min, max)`` factor on the box side (uniform; ``(1, 1)`` = off; e.g.
            ``(0.75, 1.35)``): > 1 takes a larger box, so the face looks smaller.

    Example:
        >>> config = zoo.data.transforms.AugmentConfig(rotation=15.0, flip_probability=0.0)
    """

    rotation: float = 30.0
    scale: float = 0.25
    translation: float = 0.05
    flip_probability: float = 0.5
    brightness: float = 32.0
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 10.0
    grayscale_probability: float = 0.05
    blur_probability: float = 0.2
    blur_sigma: float = 1.5
    occlusion_probability: float = 0.3
    occlusion_size: tuple = (0.1, 0.4)
    mark_occluded: bool = True
    box_shift: float = 0.0
    box_scale: tuple = (1.0, 1.0)

    def __post_init__(self):
        for name in ("rotation", "scale", "translation", "brightness", "contrast", "saturation",
                     "hue", "blur_sigma"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0. Received: {name}={getattr(self, name)}")
        for name in ("flip_probability", "grayscale_probability", "blur_probability",
                     "occlusion_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]. Received: {name}={getattr(self, name)}")
        if self.scale >= 1.0:
            raise ValueError(f"scale must be < 1. Received: scale={self.scale}")
        low, high = self.occlusion_size
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(
                f"occlusion_size must satisfy 0 < min <= max <= 1. Received: occlusion_size={self.occlusion_size}")
        if not 0.0 <= self.box_shift <= 1.0:
            raise ValueError(f"box_shift must be in [0, 1]. Received: box_shift={self.box_shift}")
        object.__setattr__(self, "box_scale", tuple(float(v) for v in self.box_scale))
        low, high = self.box_scale
        if not 0.0 < low <= high:
            raise ValueError(
                f"box_scale must satisfy 0 < min <= max. Received: box_scale={self.box_scale}")

    @classmethod
    def none(cls):
        """A config that changes nothing (useful to test the crop alone).

        Returns:
            ``AugmentConfig`` with every range and probability at 0.

        Example:
            >>> zoo.data.transforms.AugmentConfig.none().rotation
            0.0
        """
        return cls(rotation=0.0, scale=0.0, translation=0.0, flip_probability=0.0, brightness=0.0,
                   contrast=0.0, saturation=0.0, hue=0.0, grayscale_probability=0.0,
                   blur_probability=0.0, occlusion_probability=0.0)

    @classmethod
    def geometric(cls, **overrides):
        """Only the geometric part (rotation, scale, translation, flip) of the defaults.

        Args:
            **overrides: fields to change.

        Returns:
            ``AugmentConfig``.

        Example:
            >>> zoo.data.transforms.AugmentConfig.geometric(rotation=10.0).blur_probability
            0.0
        """
        values = dict(brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0,
                      grayscale_probability=0.0, blur_probability=0.0, occlusion_probability=0.0)
        values.update(overrides)
        return cls(**values)


# ---------------------------------------------------------------------------- geometry
def _as_float(x):
    return tf.cast(tf.convert_to_tensor(x), tf.float32)


def landmark_box(landmarks):
    """Tight box ``(x1, y1, x2, y2)`` around landmarks ``(..., N, 2)``.

    Args:
        landmarks: float tensor ``(..., N, 2)``.

    Returns:
        float32 tensor ``(..., 4)``.

    Example:
        >>> zoo.data.transforms.landmark_box([[1.0, 2.0], [3.0, 5.0]]).numpy().tolist()
        [1.0, 2.0, 3.0, 5.0]
    """
    landmarks = _as_float(landmarks)
    return tf.concat([tf.reduce_min(landmarks, axis=-2), tf.reduce_max(landmarks, axis=-2)], axis=-1)


def square_box(box, margin=0.25):
    """Centre and side of the square crop around ``box`` enlarged by ``margin``.

    Args:
        box: float tensor ``(4,)`` ``x1, y1, x2, y2``.
        margin: relative enlargement: side ``= max(w, h) * (1 + margin)``.

    Returns:
        ``(center (2,), size ())`` float32 tensors.

    Example:
        >>> center, size = zoo.data.transforms.square_box([0.0, 0.0, 10.0, 20.0], margin=0.5)
        >>> center.numpy().tolist(), float(size)
        ([5.0, 10.0], 30.0)
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0. Received: margin={margin}")
    box = _as_float(box)
    center = 0.5 * (box[..., :2] + box[..., 2:])
    size = tf.reduce_max(box[..., 2:] - box[..., :2], axis=-1) * (1.0 + margin)
    return center, tf.maximum(size, 1.0)


def crop_matrix(center, size, output_size):
    """Affine ``(2, 3)`` taking the square ``center +- size / 2`` to an ``output_size`` crop.

    With pixel centres at integers, the square's edges ``center +- size / 2`` map to the crop's
    edges ``-0.5`` and ``output_size - 0.5``:
    ``x' = (x - cx) * output_size / size + (output_size - 1) / 2``.

    Args:
        center: ``(2,)`` crop centre in image pixels.
        size: side of the square in image pixels.
        output_size: side of the crop in pixels.

    Returns:
        float32 tensor ``(2, 3)``.

    Example:
        >>> m = zoo.data.transforms.crop_matrix([50.0, 50.0], 100.0, 100)
        >>> m.numpy().tolist()
        [[1.0, 0.0, -0.5], [0.0, 1.0, -0.5]]
    """
    center, size = _as_float(center), _as_float(size)
    k = float(output_size) / size
    offset = (float(output_size) - 1.0) / 2.0
    zero = tf.zeros_like(k)
    return tf.stack([
        tf.stack([k, zero, offset - k * center[0]]),
        tf.stack([zero, k, offset - k * center[1]]),
    ])


def to_3x3(matrix):
    """``(..., 2, 3)`` affine -> ``(..., 3, 3)`` homogeneous matrix."""
    matrix = _as_float(matrix)
    last = tf.broadcast_to(tf.constant([0.0, 0.0, 1.0]), tf.concat([tf.shape(matrix)[:-2], [1, 3]], 0))
    return tf.concat([matrix, last], axis=-2)


def compose(*matrices):
    """Affine composition: ``compose(a, b)`` applies ``b`` first, then ``a``.

    Args:
        *matrices: ``(2, 3)`` (or batched ``(..., 2, 3)``) affine matrices.

    Returns:
        float32 ``(..., 2, 3)``.

    Example:
        >>> shift = [[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]]
        >>> float(zoo.data.transforms.compose(shift, shift).numpy()[0, 2])
        4.0
    """
    result = to_3x3(matrices[-1])
    for matrix in reversed(matrices[:-1]):
        result = tf.linalg.matmul(to_3x3(matrix), result)
    return result[..., :2, :]


def invert_affine(matrix):
    """Inverse of an affine ``(..., 2, 3)`` matrix (closed form, works batched).

    Args:
        matrix: float ``(..., 2, 3)``.

    Returns:
        float32 ``(..., 2, 3)``.

    Example:
        >>> m = zoo.data.transforms.crop_matrix([10.0, 20.0], 4.0, 8)
        >>> zoo.data.transforms.compose(m, zoo.data.transforms.invert_affine(m)).numpy().round(6).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    m = _as_float(matrix)
    a, b, c = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    d, e, f = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    ic = -(ia * c + ib * f)
    if_ = -(id_ * c + ie * f)
    return tf.stack([tf.stack([ia, ib, ic], -1), tf.stack([id_, ie, if_], -1)], -2)


def transform_landmarks(landmarks, matrix):
    """Applies an affine ``(..., 2, 3)`` to landmarks ``(..., N, 2)``.

    Args:
        landmarks: float ``(..., N, 2)``.
        matrix: float ``(2, 3)`` or ``(..., 2, 3)`` with matching leading axes.

    Returns:
        float32 ``(..., N, 2)``.

    Example:
        >>> zoo.data.transforms.transform_landmarks([[1.0, 1.0]], [[2.0, 0.0, 1.0], [0.0, 2.0, 0.0]]).numpy().tolist()
        [[3.0, 2.0]]
    """
    landmarks, matrix = _as_float(landmarks), _as_float(matrix)
    linear = matrix[..., :2]
    offset = matrix[..., 2]
    return tf.linalg.matmul(landmarks, linear, transpose_b=True) + offset[..., None, :]


def to_image_coordinates(landmarks, matrix):
    """Inverse transform: crop (or network input) coordinates back to image coordinates.

    Args:
        landmarks: ``(N, 2)`` or ``(B, N, 2)`` predictions in crop pixels.
        matrix: the image -> crop matrix ``(2, 3)`` or ``(B, 2, 3)`` the pipeline returned.

    Returns:
        float32 tensor like ``landmarks``, in image pixels.

    Example:
        >>> m = zoo.data.transforms.crop_matrix([100.0, 80.0], 64.0, 256)
        >>> zoo.data.transforms.to_image_coordinates([[127.5, 127.5]], m).numpy().tolist()
        [[100.0, 80.0]]
    """
    return transform_landmarks(landmarks, invert_affine(matrix))


def augmentation_matrix(output_size, angle=0.0, scale=1.0, shift=(0.0, 0.0), flip=False):
    """Crop-space augmentation: rotate/scale about the crop centre, shift, then mirror.

    ``x' = R(angle) * scale * (x - c) + c + shift`` with ``c = (F - 1) / 2``; with ``flip``
    ``x' -> F - 1 - x'`` (mirror about the crop's vertical centre line).

    Args:
        output_size: crop side ``F``.
        angle: rotation in degrees (positive turns the content clockwise on screen, as y points
            down).
        scale: zoom factor (> 1 enlarges the face).
        shift: ``(dx, dy)`` in crop pixels.
        flip: bool (tensor) horizontal mirror.

    Returns:
        float32 ``(2, 3)``.

    Example:
        >>> m = zoo.data.transforms.augmentation_matrix(256, flip=True)
        >>> m.numpy().tolist()
        [[-1.0, 0.0, 255.0], [0.0, 1.0, 0.0]]
    """
    theta = _as_float(angle) * (math.pi / 180.0)
    scale = _as_float(scale)
    shift = _as_float(shift)
    c = (float(output_size) - 1.0) / 2.0
    cos, sin = tf.cos(theta) * scale, tf.sin(theta) * scale
    # Rotation about c: x' = cos*(x-c) - sin*(y-c) + c + dx, y' = sin*(x-c) + cos*(y-c) + c + dy.
    row0 = tf.stack([cos, -sin, c - cos * c + sin * c + shift[0]])
    row1 = tf.stack([sin, cos, c - sin * c - cos * c + shift[1]])
    mirror = tf.where(tf.cast(flip, tf.bool), -1.0, 1.0)
    row0 = tf.stack([mirror * row0[0], mirror * row0[1],
                     mirror * row0[2] + (1.0 - mirror) * 0.5 * (float(output_size) - 1.0)])
    return tf.stack([row0, row1])


def warp(image, matrix, output_size, interpolation="BILINEAR", fill_value=0.0):
    """Resamples ``image`` into an ``output_size`` crop through the image->crop ``matrix``.

    One ``ImageProjectiveTransformV3`` call (the kernel maps each output pixel through the
    inverse matrix and samples bilinearly, pixel centres at integers, like our landmarks).

    Args:
        image: ``(H, W, C)`` or ``(T, H, W, C)`` tensor (uint8 or float32).
        matrix: image -> crop ``(2, 3)`` (shared by all frames).
        output_size: crop side.
        interpolation: ``"BILINEAR"`` or ``"NEAREST"``.
        fill_value: value outside the image.

    Returns:
        float32 ``(F, F, C)`` or ``(T, F, F, C)``.

    Example:
        >>> import numpy as np
        >>> image = np.zeros((100, 100, 3), "uint8")
        >>> m = zoo.data.transforms.crop_matrix([50.0, 50.0], 80.0, 64)
        >>> zoo.data.transforms.warp(image, m, 64).shape
        TensorShape([64, 64, 3])
    """
    image = tf.convert_to_tensor(image)
    batched = image.shape.rank == 4
    images = image if batched else image[None]
    if images.dtype not in (tf.uint8, tf.float32):
        images = tf.cast(images, tf.float32)
    inverse = invert_affine(matrix)  # the kernel wants output -> input
    transform = tf.concat([tf.reshape(inverse, [6]), tf.zeros([2])], axis=0)[None]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transform,
        output_shape=tf.constant([int(output_size), int(output_size)], tf.int32),
        fill_value=tf.constant(fill_value, tf.float32),
        interpolation=interpolation,
        fill_mode="CONSTANT",
    )
    out = tf.cast(out, tf.float32)
    return out if batched else out[0]


def flip_landmarks(landmarks, permutation):
    """Reorders mirrored landmarks with a scheme's ``flip_permutation`` (last-but-one axis).

    ``flipped[i] = mirrored[permutation[i]]`` (``zoo.schemes.Scheme`` convention). The mirror of
    the coordinates themselves is part of the warp matrix (``augmentation_matrix(flip=True)``).

    Args:
        landmarks: ``(..., N, 2)`` (or ``(..., N)`` visibility with ``axis=-1`` semantics: pass
            ``landmarks[..., None]``).
        permutation: N ints.

    Returns:
        the reordered tensor.

    Example:
        >>> zoo.data.transforms.flip_landmarks([[0.0, 0.0], [1.0, 1.0]], [1, 0]).numpy().tolist()
        [[1.0, 1.0], [0.0, 0.0]]
    """
    return tf.gather(tf.convert_to_tensor(landmarks), tf.constant(list(permutation), tf.int32), axis=-2)


# ---------------------------------------------------------------------------- photometric
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def colour_matrix(saturation=1.0, hue=0.0, grayscale=False):
    """3x3 RGB matrix for a saturation factor and a hue rotation (degrees), as one YIQ rotation.

    Args:
        saturation: chroma factor (0 = grey).
        hue: hue rotation in degrees.
        grayscale: bool tensor, forces saturation 0.

    Returns:
        float32 ``(3, 3)`` to right-multiply row RGB vectors: ``rgb' = rgb @ M``.

    Example:
        >>> (zoo.data.transforms.colour_matrix().numpy().round(5) + 0.0).tolist()[0]
        [1.0, 0.0, 0.0]
    """
    saturation = tf.where(tf.cast(grayscale, tf.bool), 0.0, _as_float(saturation))
    theta = _as_float(hue) * (math.pi / 180.0)
    cos, sin = tf.cos(theta) * saturation, tf.sin(theta) * saturation
    one, zero = tf.ones_like(cos), tf.zeros_like(cos)
    # Column-vector form on YIQ: keep Y, rotate and scale the (I, Q) chroma plane.
    yiq = tf.stack([tf.stack([one, zero, zero]), tf.stack([zero, cos, -sin]), tf.stack([zero, sin, cos])])
    column = tf.constant(_YIQ_TO_RGB, tf.float32) @ yiq @ tf.constant(_RGB_TO_YIQ, tf.float32)
    return tf.transpose(column)


def adjust_colour(image, brightness=0.0, contrast=1.0, matrix=None):
    """Colour jitter on float ``[0, 255]`` images: colour matrix, contrast about the mean, brightness.

    Args:
        image: float32 ``(..., H, W, 3)``.
        brightness: added grey levels.
        contrast: factor about the mean intensity (per image/clip).
        matrix: optional ``(3, 3)`` from ``colour_matrix``.

    Returns:
        float32 image clipped to ``[0, 255]``.

    Example:
        >>> import numpy as np
        >>> image = np.full((2, 2, 3), 100.0, "float32")
        >>> float(zoo.data.transforms.adjust_colour(image, brightness=10.0)[0, 0, 0])
        110.0
    """
    image = _as_float(image)
    if matrix is not None:
        image = tf.tensordot(image, matrix, axes=[[image.shape.rank - 1], [0]])
    mean = tf.reduce_mean(image)
    image = (image - mean) * contrast + mean + brightness
    return tf.clip_by_value(image, 0.0, 255.0)


def gaussian_blur(image, sigma, max_sigma):
    """Separable Gaussian blur with a traced ``sigma`` and a fixed radius ``ceil(2 * max_sigma)``.

    Args:
        image: float32 ``(H, W, C)`` or ``(T, H, W, C)``.
        sigma: standard deviation in pixels (scalar tensor, > 0).
        max_sigma: Python float that sets the kernel radius.

    Returns:
        the blurred image (same shape; borders use edge-reflection padding).

    Example:
        >>> import numpy as np
        >>> image = np.zeros((9, 9, 1), "float32"); image[4, 4] = 1.0
        >>> round(float(tf.reduce_sum(zoo.data.transforms.gaussian_blur(image, 1.0, 1.0))), 4)
        1.0
    """
    image = _as_float(image)
    batched = image.shape.rank == 4
    images = image if batched else image[None]
    radius = max(1, int(math.ceil(2.0 * max_sigma)))
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(taps / tf.maximum(_as_float(sigma), 1e-3)))
    kernel = kernel / tf.reduce_sum(kernel)
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        height, width = tf.shape(images)[1], tf.shape(images)[2]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    # Separable filter as a weighted sum of shifted slices: on CPU this is about 4x faster than
    # depthwise_conv2d for these small kernels.
    rows = kernel[0] * padded[:, :, 0:width]
    for tap in range(1, 2 * radius + 1):
        rows += kernel[tap] * padded[:, :, tap:tap + width]
    out = kernel[0] * rows[:, 0:height]
    for tap in range(1, 2 * radius + 1):
        out += kernel[tap] * rows[:, tap:tap + height]
    return out if batched else out[0]


def occlusion_rectangle(output_size, center, size):
    """Integer pixel box ``(x1, y1, x2, y2)`` (exclusive end) of an occluder.

    Args:
        output_size: crop side.
        center: ``(2,)`` centre in crop pixels.
        size: ``(2,)`` width and height in pixels.

    Returns:
        float32 ``(4,)`` box, clipped to the crop.

    Example:
        >>> zoo.data.transforms.occlusion_rectangle(10, [5.0, 5.0], [4.0, 2.0]).numpy().tolist()
        [3.0, 4.0, 7.0, 6.0]
    """
    center, size = _as_float(center), _as_float(size)
    low = tf.round(center - 0.5 * size)
    high = low + tf.round(size)
    low = tf.clip_by_value(low, 0.0, float(output_size))
    high = tf.clip_by_value(high, 0.0, float(output_size))
    return tf.concat([low, high], axis=0)


def occlude(image, box, colour):
    """Fills pixel box ``(x1, y1, x2, y2)`` (exclusive end) of ``(..., H, W, 3)`` with ``colour``.

    Args:
        image: float32 ``(H, W, 3)`` or ``(T, H, W, 3)``.
        box: float ``(4,)`` from ``occlusion_rectangle``.
        colour: float ``(3,)``.

    Returns:
        the occluded image.

    Example:
        >>> import numpy as np
        >>> out = zoo.data.transforms.occlude(np.zeros((4, 4, 3), "float32"), [1.0, 1.0, 3.0, 2.0], [9.0, 9.0, 9.0])
        >>> out.numpy()[..., 0].tolist()[1]
        [0.0, 9.0, 9.0, 0.0]
    """
    image = _as_float(image)
    height, width = tf.shape(image)[-3], tf.shape(image)[-2]
    xs = tf.cast(tf.range(width), tf.float32)
    ys = tf.cast(tf.range(height), tf.float32)
    inside_x = (xs >= box[0]) & (xs < box[2])
    inside_y = (ys >= box[1]) & (ys < box[3])
    mask = inside_y[:, None, None] & inside_x[None, :, None]
    return tf.where(mask, tf.reshape(_as_float(colour), [1, 1, 3]), image)


def inside_box(landmarks, box):
    """Boolean ``(..., N)``: landmark pixel (rounded) inside the pixel box ``(x1, y1, x2, y2)``.

    Args:
        landmarks: ``(..., N, 2)``.
        box: ``(4,)`` with exclusive end.

    Returns:
        bool tensor ``(..., N)``.

    Example:
        >>> zoo.data.transforms.inside_box([[2.0, 2.0], [9.0, 9.0]], [0.0, 0.0, 4.0, 4.0]).numpy().tolist()
        [True, False]
    """
    p = tf.round(_as_float(landmarks))
    box = _as_float(box)
    return (p[..., 0] >= box[0]) & (p[..., 0] < box[2]) & (p[..., 1] >= box[1]) & (p[..., 1] < box[3])


# ---------------------------------------------------------------------------- random draws
NUM_RANDOM = 16


def draw_parameters(config, seed, output_size, flip_allowed=True):
    """Draws every random augmentation parameter from one stateless seed.

    Args:
        config: ``AugmentConfig``.
        seed: int ``(2,)`` tensor for ``tf.random.stateless_uniform``.
        output_size: crop side (for pixel quantities).
        flip_allowed: False disables flips (no scheme permutation available).

    Returns:
        dict of scalar/small float32 tensors: ``angle, scale, shift (2,), flip (bool),
        brightness, contrast, saturation, hue, grayscale (bool), blur (bool), blur_sigma,
        occlude (bool), occluder_center (2,), occluder_size (2,), occluder_colour (3,)``.

    Example:
        >>> params = zoo.data.transforms.draw_parameters(
        ...     zoo.data.transforms.AugmentConfig(), tf.constant([0, 1]), 256)
    """
    u = tf.random.stateless_uniform([NUM_RANDOM + 3], seed=seed)
    size = float(output_size)

    def sym(value, limit):  # uniform in [-limit, limit]
        return (2.0 * value - 1.0) * limit

    flip = u[3] < config.flip_probability if flip_allowed else tf.constant(False)
    low, high = config.occlusion_size
    return {
        "angle": sym(u[0], config.rotation),
        "scale": 1.0 + sym(u[1], config.scale),
        "shift": tf.stack([sym(u[2], config.translation * size), sym(u[15], config.translation * size)]),
        "flip": flip,
        "brightness": sym(u[4], config.brightness),
        "contrast": 1.0 + sym(u[5], config.contrast),
        "saturation": 1.0 + sym(u[6], config.saturation),
        "hue": sym(u[7], config.hue),
        "grayscale": u[8] < config.grayscale_probability,
        "blur": u[9] < config.blur_probability,
        "blur_sigma": 0.3 + u[10] * tf.maximum(config.blur_sigma - 0.3, 0.0),
        "occlude": u[11] < config.occlusion_probability,
        "occluder_center": tf.stack([u[12], u[13]]) * size,
        "occluder_size": (low + (high - low) * tf.stack([u[14], u[16]])) * size,
        "occluder_colour": tf.stack([u[17], u[18], u[NUM_RANDOM]]) * 255.0,
    }


def perturbs_box(config):
    """Whether ``config`` jitters the crop box (``box_shift`` or ``box_scale`` set)."""
    return config.box_shift > 0 or tuple(config.box_scale) != (1.0, 1.0)


def box_perturbation_matrix(config, seed, output_size, margin=0.25):
    """Crop-space matrix of a loose face box: the box shifted and rescaled at random.

    The crop of side ``F`` holds the face box of side ``b = F / (1 + margin)`` around its
    centre ``c``. A loose box moves its centre by ``d * b`` (``d`` uniform in
    ``[-box_shift, box_shift]`` per axis) and scales its side by ``k`` (uniform in
    ``box_scale``); cropping that box instead is ``x' = (x - c - d b) / k + c``. The draw uses
    its own stream (``stateless_fold_in(seed, 1)``), so turning it on leaves every other
    augmentation parameter as it was.

    Args:
        config: ``AugmentConfig``.
        seed: int ``(2,)`` tensor (the augmentation seed).
        output_size: crop side ``F``.
        margin: the crop's margin around the box.

    Returns:
        float32 ``(2, 3)`` to compose after the crop matrix.

    Example:
        >>> config = zoo.data.transforms.AugmentConfig(box_shift=0.25, box_scale=(0.75, 1.35))
        >>> m = zoo.data.transforms.box_perturbation_matrix(config, tf.constant([0, 1]), 128)
        >>> tuple(m.shape)
        (2, 3)
    """
    u = tf.random.stateless_uniform([3], seed=tf.random.experimental.stateless_fold_in(
        tf.cast(seed, tf.int64), 1))
    side = float(output_size) / (1.0 + float(margin))
    shift = (2.0 * u[:2] - 1.0) * config.box_shift * side
    low, high = (float(v) for v in config.box_scale)
    factor = low + (high - low) * u[2]
    return augmentation_matrix(output_size, 0.0, 1.0 / factor, -shift / factor)


def photometric(image, params, config, landmarks=None, visibility=None):
    """Colour jitter, blur and occlusion with drawn ``params`` (one draw for all frames).

    Args:
        image: float32 ``(H, W, 3)`` or ``(T, H, W, 3)`` in ``[0, 255]``.
        params: from ``draw_parameters``.
        config: ``AugmentConfig``.
        landmarks: optional ``(..., N, 2)`` crop landmarks (for ``mark_occluded``).
        visibility: optional ``(..., N)`` float visibility, updated for occluded points.

    Returns:
        ``(image, visibility)``.

    Example:
        >>> import numpy as np
        >>> config = zoo.data.transforms.AugmentConfig()
        >>> params = zoo.data.transforms.draw_parameters(config, tf.constant([0, 1]), 8)
        >>> image, _ = zoo.data.transforms.photometric(np.zeros((8, 8, 3), "float32"), params, config)
    """
    if config.saturation or config.hue or config.grayscale_probability:
        matrix = colour_matrix(params["saturation"], params["hue"], params["grayscale"])
    else:
        matrix = None
    if matrix is not None or config.brightness or config.contrast:
        image = adjust_colour(image, params["brightness"], params["contrast"], matrix)
    if config.blur_probability > 0 and config.blur_sigma > 0:
        image = tf.cond(params["blur"],
                        lambda: gaussian_blur(image, params["blur_sigma"], config.blur_sigma),
                        lambda: image)
    if config.occlusion_probability > 0:
        size = image.shape[-2]
        box = occlusion_rectangle(size, params["occluder_center"], params["occluder_size"])
        box = tf.where(params["occlude"], box, tf.zeros([4]))  # empty box: nothing covered
        image = tf.cond(params["occlude"], lambda: occlude(image, box, params["occluder_colour"]),
                        lambda: image)
        if visibility is not None and landmarks is not None and config.mark_occluded:
            covered = inside_box(landmarks, box)
            visibility = tf.where(covered, tf.zeros_like(visibility), visibility)
    return image, visibility
