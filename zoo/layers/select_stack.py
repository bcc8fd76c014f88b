"""Selects one stack of a stacked-hourglass output (the last one, for inference)."""
import keras


@keras.saving.register_keras_serializable(package="zoo")
class SelectStack(keras.layers.Layer):
    """Picks stack ``index`` from a ``(B, S, ...)`` training output, giving ``(B, ...)``.

    Args:
        index: int, the stack (default -1: the last stack, the one used for inference).
        **kwargs: standard layer arguments.

    Returns:
        The tensor ``inputs[:, index]``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> layer = zoo.layers.SelectStack()
        >>> tuple(layer(np.zeros((2, 4, 68, 768), "float32")).shape)
        (2, 68, 768)
    """

    def __init__(self, index=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(index, int) or isinstance(index, bool):
            raise ValueError(f"`index` must be an int. Received: index={index!r}")
        self.index = index

    def build(self, input_shape):
        stacks = input_shape[1]
        if len(input_shape) < 3 or (stacks is not None
                                    and not -stacks <= self.index < stacks):
            raise ValueError(
                f"SelectStack needs a (B, S, ...) input with -S <= index < S. "
                f"Received: input_shape={tuple(input_shape)}, index={self.index}")

    def call(self, inputs):
        return inputs[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])

    def get_config(self):
        config = super().get_config()
        config.update({"index": self.index})
        return config
