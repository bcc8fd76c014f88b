"""The attentive 1D heatmap detector (Section 4.1, Fig. 2a of the paper)."""
import keras

from zoo import losses
from zoo.layers.heads_1d import Heatmap1DHeads, check_heatmap_length
from zoo.models.hourglass_backbone import (check_backbone_args, check_int, normalization_layer,
                                           stack_outputs, stacked_hourglass)
from zoo.models import presets


def build_aheat1d(num_landmarks=68, input_size=256, num_stacks=4, width=256, hourglass_depth=4,
                  heatmap_length=768, gamma=0.4, head_channels=128, compress_steps=3,
                  separable=False, normalization=None, stem="fan", preactivation=True,
                  name="aheat1d"):
    """Builds the attentive 1D heatmap detector's training model.

    Stacked hourglass (FAN) -> per stack: 1D heads (CNN_1^x / CNN_1^y, co-attention Eq. 9-10,
    CNN_2^x / CNN_2^y with the kernel = stride = M deconvolution). Every stack outputs x and y
    heatmaps (intermediate supervision, Eq. 11 summed over stacks); the last stack is used for
    inference (``zoo.models.inference.make_inference_model``).

    Args:
        num_landmarks: int, N (68 for 300W, 98 WFLW, 29 COFW, 19 AFLW).
        input_size: int, the face crop size F (256 in the paper); the features are F/4.
        num_stacks: int, hourglass stacks (4: FAN's setting; the paper only cites FAN [2]).
        width: int, channels of the backbone (256 in FAN), a multiple of 16.
        hourglass_depth: int, down-sampling levels of each hourglass (4 in FAN).
        heatmap_length: int, L; a multiple of the feature width F/4 (or a divisor of it).
            The paper uses 3F = 768 (Table 1: 64 ... 768).
        gamma: float >= 0, co-attention weight (Eq. 10); 0 switches co-attention off.
        head_channels: int, channels of CNN_1 and CNN_2.
        compress_steps: int, stride-2 convolutions of CNN_1 (the compressed axis keeps
            F/4 / 2**compress_steps positions).
        separable: bool, depth-wise separable 3x3 convolutions (mobile presets).
        normalization: dict ``{"mean": [3], "std": [3]}`` in [0, 1] units applied inside the
            model to the [0, 255] RGB input; default mean = std = 0.5.
        stem: ``"fan"`` (FAN's stem, as the paper's backbone) or ``"lite"`` (two stride-2
            convolutions and one block; this zoo's choice for the phone tracker, not the
            paper's): see ``zoo.models.hourglass_backbone.stacked_hourglass``.
        name: model name (presets use the preset name, so inference can find the preset).

    Returns:
        A ``keras.Model`` taking float32 RGB ``(B, F, F, 3)`` in [0, 255] and returning
        ``{"x": (B, S, N, L), "y": (B, S, N, L)}``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> model = zoo.models.build_aheat1d(num_landmarks=5, input_size=32, num_stacks=1,
        ...                                  width=16, hourglass_depth=2, heatmap_length=24,
        ...                                  head_channels=8, compress_steps=1)
        >>> outputs = model(np.zeros((1, 32, 32, 3), "float32"))
        >>> tuple(outputs["x"].shape)
        (1, 1, 5, 24)

    Reference:
        Yin et al., "Attentive One-Dimensional Heatmap Regression for Facial Landmark Detection
        and Tracking", ACM MM 2020, Section 4.1.
    """
    # Layers: validate first, so bad configs fail before any graph is built.
    check_int("num_landmarks", num_landmarks, 1)
    check_int("compress_steps", compress_steps, 0)
    feature_size = check_backbone_args(input_size, num_stacks, width, hourglass_depth)
    check_heatmap_length(heatmap_length, feature_size)
    if feature_size % 2 ** compress_steps:
        raise ValueError(
            f"The feature size input_size/4 = {feature_size} must be a multiple of "
            f"2**compress_steps. Received: compress_steps={compress_steps}"
        )
    if not isinstance(gamma, (int, float)) or isinstance(gamma, bool) or gamma < 0:
        raise ValueError(f"`gamma` must be a float >= 0. Received: gamma={gamma!r}")

    # Functional graph.
    images = keras.Input((input_size, input_size, 3), dtype="float32", name="images")
    features = stacked_hourglass(normalization_layer(normalization)(images), num_stacks, width,
                                 hourglass_depth, separable, stem=stem,
                                 preactivation=preactivation)
    heatmaps_x, heatmaps_y = [], []
    for stack, stack_features in enumerate(features):
        hx, hy = Heatmap1DHeads(num_landmarks, heatmap_length, channels=head_channels,
                                compress_steps=compress_steps, gamma=float(gamma),
                                separable=separable, name=f"heads1d_{stack}")(stack_features)
        heatmaps_x.append(hx)
        heatmaps_y.append(hy)
    outputs = {"x": stack_outputs(heatmaps_x, "x"), "y": stack_outputs(heatmaps_y, "y")}

    # Config: the model is a plain functional model; its name carries the preset name.
    return keras.Model(images, outputs, name=name)


# The registry record (zoo.models.presets.Architecture): what the rest of the zoo reads instead
# of comparing architecture or output names.
presets.register_architecture(presets.Architecture(
    name="aheat1d", builder=build_aheat1d, task="image",
    losses=losses.heatmap_losses,  # Eq. 11 on x and y (summed over stacks)
    codec={"class_name": "Heatmap1DCodec", "config": {}},
    tiny_config={"input_size": 32, "num_stacks": 1, "width": 16, "hourglass_depth": 1,
                 "heatmap_length": 32, "head_channels": 8, "compress_steps": 1},
    train_fields={"heatmap_length": "heatmap_length", "gamma": "gamma"},
    tracker="aheat1d_tracker",
    shape_probe={"num_stacks": 1, "width": 16, "head_channels": 8},
    description="Attentive 1D heatmap detector (Yin et al. 2020, Sec. 4.1)"), overwrite=True)
