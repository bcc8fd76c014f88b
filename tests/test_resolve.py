"""One resolution path (zoo.training.resolve) and one trainer per task kind (zoo.training.trainer):
the model is built first, the codec fitted to it, the 1D-only fields go only to the
architectures that take them."""
import json

import pytest

import zoo
import zoo.codecs
from zoo.models import presets
from zoo.training import config as config_lib
from zoo.training import resolve, tasks
from zoo.training.clip_trainer import ClipTrainer
from zoo.training.image_trainer import ImageTrainer
from zoo.training.trainer import trainer_for


def test_each_architecture_takes_only_its_fields():
    # The 2D baseline: L is its heatmap side, gamma and lambda do not apply.
    run = resolve.resolve(config_lib.TrainConfig(model="fan2d_300w", heatmap_length=32,
                                                 input_size=128), build=False)
    assert run.overrides == {"input_size": 128, "heatmap_size": 32}
    assert (run.config.heatmap_length, run.config.gamma, run.config.temporal_lambda) == (
        32, None, None)
    assert (type(run.codec).__name__, run.codec.input_size, run.codec.heatmap_size) == (
        "Heatmap2DCodec", 128, 32)
    for field, value in (("gamma", 0.4), ("temporal_lambda", 0.3)):
        with pytest.raises(ValueError, match=rf"`{field}` does not apply to architecture "
                                             rf"'fan2d'.*Allowed: \['heatmap_length'\]\. "
                                             rf"Received: {field}={value}"):
            resolve.resolve(config_lib.TrainConfig(model="fan2d_300w", **{field: value}))
    # The 1D detector fills gamma and L from its preset (the paper's values).
    run = resolve.resolve(config_lib.PAPER_DEFAULTS["aflw"], build=False)
    assert (run.config.gamma, run.config.heatmap_length, run.overrides) == (0.5, 768, {})
    with pytest.raises(ValueError, match="Received: temporal_lambda=0.3"):
        resolve.resolve(config_lib.TrainConfig(model="aheat1d_mobile_300w", temporal_lambda=0.3))
    # The 1D tracker: lambda is the decay of Eq. 13.
    run = resolve.resolve(config_lib.PAPER_DEFAULTS["300vw"].replace(
        model="aheat1d_tracker_mobile_300vw", temporal_lambda=0.5, gamma=0.2), build=False)
    assert run.overrides == {"decay": 0.5, "gamma": 0.2} and run.task == "clip"


def test_the_codec_is_fitted_to_the_built_model():
    config = config_lib.TrainConfig(model="aheat1d_mobile_300w", input_size=64,
                                    heatmap_length=128, decode="argmax", sigma=1.5)
    run = resolve.resolve(config)
    assert run.model.name == "aheat1d_mobile_300w"
    assert tuple(run.model.output["x"].shape) == (None, 1, 68, 128)
    codec = run.codec
    assert (codec.input_size, codec.heatmap_size, codec.sigma, codec.decode_method) == (
        64, 128, 1.5, "argmax")
    assert (run.config.input_size, run.config.sigma, run.config.decode) == (64, 1.5, "argmax")
    assert sorted(run.losses) == ["x", "y"]
    # The shape probe of the record fits the same codec without keeping a model.
    probed = resolve.resolve(config, build=False)
    assert probed.model is None and probed.codec == codec and probed.config == run.config
    # Resolving the resolved config again changes nothing (config.json reproduces the run).
    assert resolve.resolve(run.config, build=False).config == run.config


def _one_preset_per_architecture():
    chosen = {}
    for name in zoo.list_models():
        chosen.setdefault(zoo.get_preset(name).architecture, name)
    return sorted(chosen.values())


@pytest.mark.parametrize("name", _one_preset_per_architecture())
def test_the_shape_probe_fits_the_codec_of_the_full_model(name):
    """Every record's shape_probe keeps the output sizes: probed codec == built codec."""
    record = presets.find_architecture(name)
    config = config_lib.TrainConfig(model=name, model_overrides=dict(record.tiny_config))
    built = resolve.resolve(config)
    assert resolve.resolve(config, build=False).codec == built.codec
    assert built.codec == presets.model_codec(built.model, built.preset.codec)


def test_old_run_configs_drop_fields_their_architecture_does_not_take(tmp_path):
    # Before the records every config.json held gamma 0.4 and lambda 0.3, whatever the model.
    values = config_lib.TrainConfig(model="fan2d_300w", output_dir=str(tmp_path)).to_dict()
    values.update(gamma=0.4, temporal_lambda=0.3)
    (tmp_path / "config.json").write_text(json.dumps(values))
    old = config_lib.load_config(str(tmp_path))
    with pytest.raises(ValueError, match="does not apply"):
        resolve.resolve(old, build=False)
    assert resolve.resolve(resolve.applicable(old), build=False).config.gamma is None


def test_one_trainer_per_task_kind_from_the_record():
    assert isinstance(trainer_for("fan2d_300w"), ImageTrainer)
    assert isinstance(trainer_for(config_lib.TrainConfig(model="fan2d_tracker_300vw")),
                      ClipTrainer)
    kinds = {presets.get_architecture(a).task for a in presets.list_architectures()}
    assert kinds == set(presets.TASKS)
    for name in zoo.list_models():
        assert trainer_for(name).task == presets.find_architecture(name).task
    # A trainer refuses presets of the other kind, and datasets of the other kind.
    with pytest.raises(ValueError, match="Received: model='aheat1d_mobile_300w'"):
        tasks.train_tracker(config_lib.TrainConfig(model="aheat1d_mobile_300w",
                                                   dataset="synthface"))
    with pytest.raises(ValueError, match=r"Allowed: \['synthface', '300w', 'aflw', 'wflw', "
                                         r"'cofw'\]\. Received: dataset='300vw'"):
        tasks.train(config_lib.TrainConfig(model="fan2d_300w", dataset="300vw"))
