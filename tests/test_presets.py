"""The preset registry; a meta-test walks every registered preset (a new one cannot skip it)."""
import inspect

import numpy as np
import pytest

import zoo
import zoo.losses
from contract import run_model_test
from zoo.models import presets

# Shrinks any preset to a seconds-sized model; only the keys its builder takes are used.
TINY = {"input_size": 32, "num_stacks": 1, "width": 16, "hourglass_depth": 1,
        "heatmap_length": 32, "head_channels": 8, "compress_steps": 1, "heatmap_size": 16,
        "clip_length": 2}
REQUIRED = ("aheat1d_300w", "aheat1d_aflw", "aheat1d_wflw", "aheat1d_cofw", "fan2d_300w",
            "aheat1d_mobile_300w")


def _tiny_overrides(name):
    builder = presets.get_architecture(presets.get_preset(name).architecture)
    accepted = inspect.signature(builder).parameters
    return {key: value for key, value in TINY.items() if key in accepted}


def _inputs_for(model, seed=0):
    shape = tuple(2 if d is None else d for d in model.input.shape)
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def test_required_presets_are_registered():
    assert set(REQUIRED) <= set(zoo.list_models())
    assert zoo.list_models() == sorted(zoo.list_models())


def test_paper_config():
    preset = zoo.get_preset("aheat1d_300w")
    assert (preset.architecture, preset.input_size, preset.scheme) == ("aheat1d", 256, "300w")
    config = preset.config
    assert (config["num_stacks"], config["width"], config["heatmap_length"], config["gamma"],
            config["num_landmarks"]) == (4, 256, 768, 0.4, 68)
    aflw = zoo.get_preset("aheat1d_aflw")
    assert (aflw.config["num_landmarks"], aflw.config["gamma"]) == (19, 0.5)
    assert zoo.get_preset("aheat1d_wflw").config["num_landmarks"] == 98
    assert zoo.get_preset("aheat1d_cofw").config["num_landmarks"] == 29


@pytest.mark.parametrize("name", zoo.list_models())
def test_preset_is_complete(name):
    import zoo.codecs
    import zoo.schemes

    preset = zoo.get_preset(name)
    codec = zoo.codecs.get(preset.codec)  # rebuilds from the serialized dict
    assert codec.input_size == preset.input_size
    scheme = zoo.schemes.get_scheme(preset.scheme)
    assert scheme.num_landmarks == preset.config["num_landmarks"]
    assert set(preset.normalization) == {"mean", "std"}
    assert preset.description
    assert preset.to_dict()["name"] == name


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_preset_passes_the_contract_when_shrunk(name):
    """The whole contract (config, shapes, one fit step, .keras save/load) for every preset."""
    model = zoo.create(name, **_tiny_overrides(name))
    assert model.name == name  # inference finds the preset by the model's name
    run_model_test(model, _inputs_for(model), atol=1e-5)
    codec_keys = {"Heatmap1DCodec": {"x", "y"}, "Heatmap2DCodec": {"heatmap"}}
    keys = codec_keys.get(zoo.get_preset(name).codec["class_name"])
    if keys is not None:
        assert keys <= set(model.output)


@pytest.mark.slow
def test_mobile_preset_full_contract_and_inference():
    from zoo.models.inference import make_inference_model

    model = zoo.create("aheat1d_mobile_300w")
    assert tuple(model.output["x"].shape) == (None, 1, 68, 384)
    images = _inputs_for(model)
    run_model_test(model, images, loss=zoo.losses.detector_losses(model), atol=1e-5)
    out = make_inference_model(model)(images)
    assert tuple(out["landmarks"].shape) == (2, 68, 2) and tuple(out["x"].shape) == (2, 68, 384)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in REQUIRED if n != "aheat1d_mobile_300w"])
def test_full_presets_build_with_their_shapes_and_parameter_counts(name):
    preset = zoo.get_preset(name)
    model = zoo.create(name)
    n = preset.config["num_landmarks"]
    if preset.architecture == "aheat1d":
        for key in ("x", "y"):  # last stack: (B, N, L) = (B, 68, 768) for aheat1d_300w
            assert tuple(model.output[key].shape) == (None, 4, n, 768)
    else:
        assert tuple(model.output["heatmap"].shape) == (None, 4, 64, 64, n)
    assert preset.num_params == model.count_params()


def test_overrides_patch_the_architecture_config():
    model = zoo.create("aheat1d_300w", **{**_tiny_overrides("aheat1d_300w"), "gamma": 0.0})
    attention = [layer.co_attention for layer in model.layers
                 if isinstance(layer, zoo.layers.Heatmap1DHeads)]
    assert [a.gamma for a in attention] == [0.0]
    assert zoo.get_preset("aheat1d_300w").config["gamma"] == 0.4  # the preset is untouched


def test_unknown_names_and_overrides_raise():
    with pytest.raises(ValueError, match=r"Allowed: \[.*'aheat1d_300w'.*Received: name='nope'"):
        zoo.create("nope")
    with pytest.raises(ValueError, match="Received: depth=3"):
        zoo.create("aheat1d_300w", depth=3)
    with pytest.raises(ValueError, match="Received: heatmap_length=100"):
        zoo.create("aheat1d_300w", heatmap_length=100)
    with pytest.raises(ValueError, match="Received: gamma=-0.1"):
        zoo.create("aheat1d_300w", gamma=-0.1)
    with pytest.raises(ValueError, match="Received: architecture="):
        presets.get_architecture("nope")


def test_register_preset_and_architecture():
    import dataclasses

    base = zoo.get_preset("aheat1d_300w")
    with pytest.raises(ValueError, match="already registered"):
        presets.register_preset(base)
    calls = []

    def builder(input_size, normalization, name, num_landmarks=3):
        calls.append((input_size, name, num_landmarks))
        return zoo.models.build_aheat1d(num_landmarks=num_landmarks, input_size=input_size,
                                        **{k: TINY[k] for k in ("num_stacks", "width",
                                                                "hourglass_depth",
                                                                "heatmap_length",
                                                                "head_channels",
                                                                "compress_steps")},
                                        normalization=normalization, name=name)

    presets.register_architecture("test_builder", builder, overwrite=True)
    custom = dataclasses.replace(base, name="test_custom", architecture="test_builder",
                                 config={"num_landmarks": 4}, input_size=32)
    presets.register_preset(custom, overwrite=True)
    try:
        model = zoo.create("test_custom")
        assert calls == [(32, "test_custom", 4)] and model.name == "test_custom"
        assert "test_custom" in zoo.list_models()
    finally:
        presets._PRESETS.pop("test_custom")
        presets._ARCHITECTURES.pop("test_builder")


def test_bad_preset_fields_raise():
    import dataclasses

    base = zoo.get_preset("aheat1d_300w")
    with pytest.raises(ValueError, match="Received: codec="):
        dataclasses.replace(base, codec={"name": "x"})
    with pytest.raises(ValueError, match="Received: config="):
        dataclasses.replace(base, config={**base.config, "input_size": 64})
