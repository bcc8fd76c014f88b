"""The registry: architecture records and presets. The meta-tests walk every registered preset
and architecture (as timm's tests walk ``list_models()``), so a new one cannot skip them: each
preset is shrunk with its architecture's tiny config and fitted with its own losses on targets
its own codec encodes."""
import dataclasses

import keras
import numpy as np
import pytest

import zoo
import zoo.codecs
import zoo.losses
from contract import run_model_test
from zoo.models import presets

REQUIRED = ("aheat1d_300w", "aheat1d_aflw", "aheat1d_wflw", "aheat1d_cofw", "fan2d_300w",
            "aheat1d_mobile_300w", "aheat1d_tracker_300vw", "aheat1d_tracker_mobile_300vw",
            "fan2d_tracker_300vw")


def _inputs_for(model, seed=0, batch=2):
    shape = tuple(batch if d is None else d for d in model.input.shape[:1]) + tuple(
        2 if d is None else d for d in model.input.shape[1:])
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def encoded_targets(model, codec, num_landmarks, seed=0, batch=2):
    """Random landmarks inside the crop, encoded by ``codec`` for every example (and frame)."""
    leading = (batch,) if presets.model_task(model) == "image" else (
        batch, model.input.shape[1] or 2)
    size = codec.input_size
    rng = np.random.default_rng(seed)
    landmarks = rng.uniform(0.2 * size, 0.8 * size, leading + (num_landmarks, 2)).astype("float32")
    flat = landmarks.reshape((-1, num_landmarks, 2))
    encoded = [codec.encode(points) for points in flat]
    return {key: np.stack([np.asarray(e[key]) for e in encoded]).reshape(
        leading + tuple(np.asarray(encoded[0][key]).shape)) for key in codec.target_keys}


def test_required_presets_are_registered():
    assert set(REQUIRED) <= set(zoo.list_models())
    assert zoo.list_models() == sorted(zoo.list_models())
    assert {"aheat1d", "fan2d", "aheat1d_tracker", "fan2d_tracker"} <= set(
        presets.list_architectures())


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
    import zoo.schemes

    preset = zoo.get_preset(name)
    assert preset.architecture in presets.list_architectures()
    codec = zoo.codecs.get(preset.codec)  # rebuilds from the serialized dict
    assert codec.input_size == preset.input_size
    scheme = zoo.schemes.get_scheme(preset.scheme)
    assert scheme.num_landmarks == preset.config["num_landmarks"]
    assert set(preset.normalization) == {"mean", "std"}
    assert preset.description
    assert preset.to_dict()["name"] == name


@pytest.mark.parametrize("architecture", presets.list_architectures())
def test_every_architecture_record_is_complete(architecture):
    from zoo.training import resolve

    record = presets.get_architecture(architecture)
    assert record.name == architecture and record.task in presets.TASKS
    assert record.tiny_config, "a tiny config for the meta-tests"
    assert set(record.tiny_config) <= set(record.parameters())
    assert set(record.train_fields) <= set(resolve.TRAIN_FIELDS)
    if record.codec is not None:
        assert record.codec["class_name"] in zoo.codecs.base.registered_codecs()
    if record.tracker is not None:
        assert record.task == "image"
        assert presets.get_architecture(record.tracker).task == "clip"
    assert any(zoo.get_preset(n).architecture == architecture for n in zoo.list_models()), \
        "every architecture has a preset the meta-tests shrink"


@pytest.mark.parametrize("name", zoo.list_models())
def test_losses_cover_exactly_the_codec_targets(name):
    """Each preset's losses: one per codec target, one finite value per example."""
    record = presets.find_architecture(name)
    model = zoo.create(name, **record.tiny_config)
    codec = presets.model_codec(model)
    losses = record.make_losses(codec)
    assert set(losses) == set(codec.target_keys) <= set(model.output)
    targets = encoded_targets(model, codec, zoo.get_preset(name).config["num_landmarks"])
    outputs = model(_inputs_for(model), training=False)
    total = keras.ops.convert_to_numpy(
        zoo.losses.per_example_loss(losses)(targets, dict(outputs)))
    assert total.shape == (2,) and np.all(np.isfinite(total)) and np.all(total > 0)


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_preset_passes_the_contract_when_shrunk(name):
    """The contract (config, shapes, .keras save/load, one fit step with the architecture's own
    losses on codec-encoded targets) for every preset, shrunk by its architecture's record."""
    record = presets.find_architecture(name)
    model = zoo.create(name, **record.tiny_config)
    assert model.name == name  # inference finds the preset by the model's name
    assert presets.model_task(model) == record.task
    codec = presets.model_codec(model)
    assert type(codec).__name__ == zoo.get_preset(name).codec["class_name"]
    targets = encoded_targets(model, codec, zoo.get_preset(name).config["num_landmarks"])
    run_model_test(model, _inputs_for(model), atol=1e-5, targets=targets,
                   loss=zoo.losses.keras_losses(record.make_losses(codec)))


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
@pytest.mark.parametrize("name", [n for n in REQUIRED if "tracker" not in n
                                  and n != "aheat1d_mobile_300w"])
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
    tiny = presets.get_architecture("aheat1d").tiny_config
    model = zoo.create("aheat1d_300w", **{**tiny, "gamma": 0.0})
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
    with pytest.raises(ValueError, match=r"Allowed: \[.*'aheat1d'.*Received: architecture="):
        presets.get_architecture("nope")


def _tiny_builder(calls):
    tiny = presets.get_architecture("aheat1d").tiny_config

    def builder(input_size, normalization, name, num_landmarks=3):
        calls.append((input_size, name, num_landmarks))
        return zoo.models.build_aheat1d(
            num_landmarks=num_landmarks, input_size=input_size, normalization=normalization,
            name=name, **{k: v for k, v in tiny.items() if k != "input_size"})

    return builder


@pytest.fixture
def scratch_registry():
    """Registrations made by a test are removed afterwards."""
    architectures, preset_names = set(presets._ARCHITECTURES), set(presets._PRESETS)
    yield
    for name in set(presets._ARCHITECTURES) - architectures:
        presets._ARCHITECTURES.pop(name)
    for name in set(presets._PRESETS) - preset_names:
        presets._PRESETS.pop(name)


def test_register_an_architecture_record_and_its_preset(scratch_registry):
    base = zoo.get_preset("aheat1d_300w")
    with pytest.raises(ValueError, match="already registered"):
        presets.register_preset(base)
    calls = []
    record = presets.register_architecture(presets.Architecture(
        name="test_builder", builder=_tiny_builder(calls), tiny_config={"num_landmarks": 2},
        codec={"class_name": "Heatmap1DCodec", "config": {}}, tracker="aheat1d_tracker"))
    assert presets.get_architecture("test_builder") is record and record.task == "image"
    with pytest.raises(ValueError, match="already registered"):
        presets.register_architecture(record)
    presets.register_preset(dataclasses.replace(base, name="test_custom",
                                                architecture="test_builder",
                                                config={"num_landmarks": 4}, input_size=32))
    model = zoo.create("test_custom")
    assert calls == [(32, "test_custom", 4)] and model.name == "test_custom"
    assert "test_custom" in zoo.list_models()
    assert presets.find_architecture(model) is record
    # A codec fitted to the model; the record's default Eq. 11 losses on its targets.
    codec = presets.model_codec(model)
    assert (codec.input_size, codec.heatmap_size) == (32, 32)
    assert sorted(record.make_losses(codec)) == ["x", "y"]
    # Its tracker wraps it.
    tracker = presets.wrap_in_tracker(model, name="test_custom_tracker", clip_length=2,
                                      refinement_downsample=2)
    assert presets.model_task(tracker) == "clip" and tuple(tracker.input.shape)[:2] == (None, 2)


def test_register_architecture_older_form_still_works(scratch_registry):
    calls = []
    record = presets.register_architecture("test_old_form", _tiny_builder(calls))
    assert isinstance(record, presets.Architecture) and record.task == "image"
    model = presets.get_architecture("test_old_form")(input_size=32, normalization=None,
                                                      name="built")
    assert calls == [(32, "built", 3)] and model.name == "built"
    presets.register_architecture("test_old_form", _tiny_builder(calls), overwrite=True,
                                  task="clip")
    assert presets.get_architecture("test_old_form").task == "clip"


def test_bad_records_and_losses_raise():
    builder = zoo.models.build_fan2d
    with pytest.raises(ValueError, match=r"Allowed: \['image', 'clip'\]. Received: task='video'"):
        presets.Architecture(name="bad", builder=builder, task="video")
    with pytest.raises(ValueError, match=r"Received: \['depth'\]"):
        presets.Architecture(name="bad", builder=builder, tiny_config={"depth": 1})
    with pytest.raises(ValueError, match=r"Received: \['heatmap_length'\]"):
        presets.Architecture(name="bad", builder=builder,
                             train_fields={"heatmap_length": "heatmap_length"})
    record = presets.Architecture(name="bad", builder=builder,
                                  losses=lambda codec: {"x": zoo.losses.heatmap_regression_loss})
    with pytest.raises(ValueError, match=r"Allowed: \['heatmap'\]. Received: losses=\['x'\]"):
        record.make_losses(zoo.codecs.Heatmap2DCodec(32, 16))


def test_task_and_codec_of_models_the_registry_does_not_know():
    images = keras.Input((32, 32, 3))
    heatmaps = keras.layers.Reshape((1, 5, 16))(
        keras.layers.Dense(80)(keras.layers.GlobalAveragePooling2D()(images)))
    model = keras.Model(images, {"x": heatmaps, "y": heatmaps}, name="unknown_model")
    assert presets.find_architecture(model) is None
    assert presets.model_task(model) == "image"
    codec = presets.model_codec(model)  # the registered codec of outputs {x, y}
    assert (type(codec).__name__, codec.input_size, codec.heatmap_size) == (
        "Heatmap1DCodec", 32, 16)
    clips = keras.Input((3, 32, 32, 3))
    assert presets.model_task(keras.Model(clips, clips, name="unknown_clip")) == "clip"
    with pytest.raises(ValueError, match="Received: model.name='unknown_model'"):
        presets.wrap_in_tracker(model)


def test_bad_preset_fields_raise():
    base = zoo.get_preset("aheat1d_300w")
    with pytest.raises(ValueError, match="Received: codec="):
        dataclasses.replace(base, codec={"name": "x"})
    with pytest.raises(ValueError, match="Received: config="):
        dataclasses.replace(base, config={**base.config, "input_size": 64})
