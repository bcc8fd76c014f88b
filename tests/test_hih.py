"""HIH: layers, builder, presets (shapes, the authors' parameter counts), the CSC loss."""
import numpy as np
import pytest

import zoo
import zoo.codecs
import zoo.losses
from contract import run_layer_test, run_model_test
from zoo.layers import HIHHourglass, HIHResidual
from zoo.models import hih as hih_lib
from zoo.models import presets
from zoo.models.inference import make_inference_model

HIH_PRESETS = [name for name in zoo.list_models()
               if presets.get_preset(name).architecture == "hih"]
TINY = dict(input_size=64, width=16, hourglass_depth=1, decimal_size=4, decimal_channels=8)


def _images(model, batch=2, seed=0):
    size = model.input.shape[1]
    return np.random.default_rng(seed).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def test_presets_are_registered():
    assert {"hih_wflw", "hih_cofw", "hih_300w", "hih_t_wflw", "hih_s_wflw",
            "hih_mobile_300w"} <= set(HIH_PRESETS)
    record = presets.get_architecture("hih")
    assert record.task == "image" and record.tracker is None
    for name, stacks, landmarks in (("hih_wflw", 4, 98), ("hih_cofw", 4, 29),
                                    ("hih_300w", 4, 68), ("hih_t_wflw", 1, 98),
                                    ("hih_s_wflw", 2, 98)):
        preset = zoo.get_preset(name)
        assert preset.config["num_stacks"] == stacks
        assert preset.config["num_landmarks"] == landmarks
        assert (preset.input_size, preset.config["width"], preset.config["hourglass_depth"],
                preset.config["upsampling"]) == (256, 256, 4, "bilinear")
        codec = zoo.codecs.get(preset.codec)
        assert (codec.integer_size, codec.decimal_size, codec.integer_sigma,
                codec.decimal_sigma, codec.method) == (64, 8, 1.5, 1.0, "argmax")
    mobile = zoo.get_preset("hih_mobile_300w")
    assert (mobile.input_size, mobile.config["width"], mobile.config["num_stacks"]) == (128, 64, 1)


@pytest.mark.parametrize("filters,channels_in", [(16, 16), (32, 8)], ids=["identity", "skip"])
def test_residual_contract(filters, channels_in):
    data = np.random.default_rng(0).normal(size=(2, 8, 8, channels_in)).astype("float32")
    model = run_layer_test(HIHResidual, {"filters": filters}, data,
                           expected_output_shape=(2, 8, 8, filters))
    block = model.layers[-1]
    assert (block.skip_conv is None) == (filters == channels_in)


def test_hourglass_contract_and_upsampling():
    data = np.random.default_rng(0).normal(size=(2, 8, 8, 16)).astype("float32")
    run_layer_test(HIHHourglass, {"filters": 16, "depth": 2, "upsampling": "bilinear"}, data,
                   expected_output_shape=(2, 8, 8, 16))
    with pytest.raises(ValueError, match="Received: upsampling='cubic'"):
        HIHHourglass(16, 2, upsampling="cubic")


def test_tiny_model_contract_with_the_csc_loss():
    model = hih_lib.build_hih(num_landmarks=5, num_stacks=2, **TINY)
    assert {k: tuple(v.shape) for k, v in model.output.items()} == {
        "integer": (None, 2, 16, 16, 5), "decimal": (None, 1, 4, 4, 5)}
    codec = zoo.models.model_codec(model)
    assert (codec.integer_size, codec.decimal_size) == (16, 4)
    run_model_test(model, _images(model),
                   loss=zoo.losses.keras_losses(zoo.losses.hih_losses(codec)), atol=1e-5)


def test_inference_model_decodes_the_last_stack():
    model = hih_lib.build_hih(num_landmarks=5, num_stacks=2, **TINY)
    inference = make_inference_model(model)
    images = _images(model)
    out = inference(images)
    assert tuple(out["landmarks"].shape) == (2, 5, 2)
    assert tuple(out["integer"].shape) == (2, 16, 16, 5)
    assert tuple(out["decimal"].shape) == (2, 4, 4, 5)
    raw = model(images)
    coords, scores = zoo.models.model_codec(model).decode(
        {"integer": raw["integer"][:, -1], "decimal": raw["decimal"][:, -1]})
    np.testing.assert_allclose(np.asarray(out["landmarks"]), np.asarray(coords), atol=1e-5)
    np.testing.assert_allclose(np.asarray(out["scores"]), np.asarray(scores), atol=1e-6)


def test_decimal_head_reaches_the_decimal_size():
    # 64 -> max-pool 31 -> 16 -> 8 (two down-blocks), as the authors' HIH_head.
    assert hih_lib.decimal_head_steps(64, 8) == 2
    assert hih_lib.decimal_head_steps(32, 8) == 1
    assert hih_lib.decimal_head_steps(64, 4) == 3
    assert hih_lib.decimal_head_steps(64, 16) == 1
    for size, decimal in ((64, 32), (64, 6), (16, 8), (64, 64)):
        with pytest.raises(ValueError, match=f"Received: decimal_size={decimal}"):
            hih_lib.decimal_head_steps(size, decimal)


@pytest.mark.parametrize("kwargs,match", [
    ({"width": 12}, "width=12"),
    ({"input_size": 68}, "input_size=68"),  # not a multiple of 4 * 2**depth = 8
    ({"decimal_size": 8}, "decimal_size=8"),  # 16 / 8 = 2: the head cannot reach it
    ({"init_stddev": -1.0}, "init_stddev=-1.0"),
    ({"batch_norm_momentum": 1.5}, "batch_norm_momentum=1.5"),
    ({"upsampling": "area"}, "upsampling='area'"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hih_lib.build_hih(num_landmarks=5, **{**TINY, **kwargs})


def _numpy_csc(integer_true, integer_pred, decimal_true, decimal_logits):
    """The authors' loss in plain numpy: MSELoss(mean) + 0.05 * kl_div(mean), softmax labels."""
    stacks = integer_pred.shape[1]
    mse = np.mean((integer_pred - np.repeat(integer_true[:, None], stacks, 1)) ** 2)
    # (B, 1, d, d, N) -> rows of d * d classes, as SoftKLLoss views (B, 1, N, d, d).
    batch, _, d, _, n = decimal_logits.shape
    logits = decimal_logits.transpose(0, 1, 4, 2, 3).reshape(-1, d * d).astype(np.float64)
    labels = decimal_true.transpose(0, 3, 1, 2).reshape(-1, d * d).astype(np.float64)
    p = np.exp(labels) / np.exp(labels).sum(-1, keepdims=True)
    log_q = logits - logits.max(-1, keepdims=True)
    log_q = log_q - np.log(np.exp(log_q).sum(-1, keepdims=True))
    kl = np.sum(p * (np.log(p) - log_q)) / (batch * n * d * d)
    return mse + 0.05 * kl


def test_csc_loss_equals_numpy():
    rng = np.random.default_rng(4)
    codec = zoo.codecs.HIHCodec(64, integer_size=16, decimal_size=4)
    points = rng.uniform(4, 60, (3, 5, 2)).astype("float32")
    targets = [codec.encode(p) for p in points]
    integer_true = np.stack([t["integer"].numpy() for t in targets])
    decimal_true = np.stack([t["decimal"].numpy() for t in targets])
    integer_pred = rng.normal(size=(3, 2, 16, 16, 5)).astype("float32")
    decimal_logits = (3 * rng.normal(size=(3, 1, 4, 4, 5))).astype("float32")
    expected = _numpy_csc(integer_true, integer_pred, decimal_true, decimal_logits)
    losses = zoo.losses.hih_losses(codec)
    per_example = zoo.losses.per_example_loss(losses)(
        {"integer": integer_true, "decimal": decimal_true},
        {"integer": integer_pred, "decimal": decimal_logits})
    assert per_example.shape == (3,)
    np.testing.assert_allclose(float(np.mean(per_example)), expected, rtol=0, atol=1e-5)
    keras_total = sum(float(loss(t, p)) for loss, t, p in zip(
        zoo.losses.keras_losses(losses).values(),
        (integer_true, decimal_true), (integer_pred, decimal_logits)))
    np.testing.assert_allclose(keras_total, expected, rtol=0, atol=1e-5)
    # The KL term is 0 at logits equal to the targets up to a constant.
    zero = zoo.losses.hih_decimal_loss(decimal_true, decimal_true[:, None] + 2.0)
    np.testing.assert_allclose(np.asarray(zero), 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="HIH codec"):
        zoo.losses.hih_losses(zoo.codecs.Heatmap2DCodec(64, 16))


@pytest.mark.slow
@pytest.mark.parametrize("name", HIH_PRESETS)
def test_every_hih_preset_passes_the_model_contract_when_shrunk(name):
    # (The registry meta-test of tests/test_presets.py runs every preset at 1 stack; here the
    # multi-stack presets keep 2 stacks, so the stacked integer output is checked too.)
    stacks = min(2, zoo.get_preset(name).config["num_stacks"])
    shrunk = dict(TINY, input_size=32, decimal_size=2, hourglass_depth=1, num_stacks=stacks)
    model = zoo.create(name, **shrunk)
    assert model.name == name
    codec = zoo.models.model_codec(model)
    run_model_test(model, _images(model),
                   loss=zoo.losses.keras_losses(zoo.losses.hih_losses(codec)), atol=1e-5)


@pytest.mark.slow
def test_hih_wflw_shapes_and_the_authors_parameter_count():
    model = zoo.create("hih_wflw")
    # Channels last: integer (B, S, 64, 64, 98), decimal logits (B, 1, 8, 8, 98); the
    # inference model's last stack is (B, 64, 64, 98) and (B, 8, 8, 98).
    assert tuple(model.output["integer"].shape) == (None, 4, 64, 64, 98)
    assert tuple(model.output["decimal"].shape) == (None, 1, 8, 8, 98)
    counts = hih_lib.parameter_counts(model)
    # The authors count 22.68 M (with the unused skip convs), about 18.96 M without them.
    assert abs(counts["authors"] / hih_lib.AUTHORS_PARAMS_HIH_B - 1) < 0.02
    assert abs(counts["trainable"] / hih_lib.AUTHORS_PARAMS_HIH_B_WITHOUT_UNUSED_SKIPS - 1) < 0.02
    assert counts["all"] == zoo.get_preset("hih_wflw").num_params == model.count_params()


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in HIH_PRESETS if n != "hih_wflw"])
def test_full_presets_build_with_their_parameter_counts(name):
    model = zoo.create(name)
    preset = zoo.get_preset(name)
    size = preset.input_size // 4
    assert tuple(model.output["integer"].shape) == (
        None, preset.config["num_stacks"], size, size, preset.config["num_landmarks"])
    assert model.count_params() == preset.num_params


def test_trains_a_few_steps_through_the_zoo_training_loop(tmp_path):
    """SynthFace faces -> augmented crops -> HIHCodec targets (in tf.data) -> the CSC loss of
    the architecture record -> zoo.training.train_loop: the loss falls over a few steps."""
    from zoo.training import loop
    from zoo.training.data import SynthFaceSource, training_dataset

    overrides = dict(TINY, num_stacks=2)
    model = zoo.create("hih_mobile_300w", **overrides)
    codec = zoo.models.model_codec(model)
    losses = presets.get_architecture("hih").make_losses(codec)
    dataset = training_dataset(SynthFaceSource(64, num_samples=4), codec, batch_size=2)
    images, targets = next(iter(dataset))
    assert tuple(targets["integer"].shape) == (2, 16, 16, 68)
    assert tuple(targets["decimal"].shape) == (2, 4, 4, 68)
    seen = []
    result = loop.train_loop(lambda: zoo.create("hih_mobile_300w", **overrides),
                             zoo.losses.per_example_loss(losses), dataset, steps=6,
                             output_dir=str(tmp_path), learning_rate=1e-3, progress=False,
                             callbacks=[lambda step, loss: seen.append(float(loss))])
    assert result.step == 6 and len(seen) == 6 and np.all(np.isfinite(seen))
    assert np.mean(seen[-2:]) < np.mean(seen[:2])
