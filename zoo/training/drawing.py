"""Predicted landmarks drawn on validation faces, for TensorBoard."""
import numpy as np


def draw_landmarks(images, predicted, truth=None, max_images=4):
    """uint8 images with predicted (green) and ground-truth (red) points, for TensorBoard.

    Args:
        images: ``(B, F, F, 3)`` uint8 faces.
        predicted: ``(B, N, 2)`` predicted landmarks in pixels.
        truth: optional ``(B, N, 2)`` ground truth.
        max_images: at most this many images.

    Returns:
        uint8 ``(min(B, max_images), F, F, 3)``.

    Example:
        >>> from zoo.training.drawing import draw_landmarks
        >>> drawn = draw_landmarks(np.zeros((1, 32, 32, 3), np.uint8), np.full((1, 1, 2), 16.0))
        >>> drawn.shape, drawn[0, 16, 16].tolist()
        ((1, 32, 32, 3), [0, 255, 0])
    """
    import cv2

    drawn = []
    for index in range(min(max_images, len(images))):
        image = np.ascontiguousarray(images[index]).copy()
        radius = max(1, image.shape[0] // 128)
        if truth is not None:
            for x, y in truth[index]:
                cv2.circle(image, (int(round(x)), int(round(y))), radius, (255, 0, 0), -1)
        for x, y in predicted[index]:
            cv2.circle(image, (int(round(x)), int(round(y))), radius, (0, 255, 0), -1)
        drawn.append(image)
    return np.stack(drawn)
