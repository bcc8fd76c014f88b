"""Every registered preset trains a few steps through the recipe path (issue 12 bar, issue 11
item 9), shrunk by its architecture's tiny config; the meta-test walks ``zoo.list_models()``.

Presets of the 68-point scheme go through the recipes' own code in-process: the flags of
``recipes/train_300w.py`` (image presets) or ``recipes/train_300vw.py`` (clip presets) parsed
by ``zoo.training.flags`` and ``run_recipe``, on SynthFace (no data folder). Presets of other
schemes (AFLW 19, COFW 29, WFLW 98 points) cannot train on SynthFace's 68 points through a
recipe without their dataset, so they train through the same ``zoo.training.tasks.train`` the
recipes call, on SynthFace faces with that many of the 68 points. The subprocess runs of the
recipe scripts themselves are in tests/test_recipes.py.
"""
import json

import numpy as np
import pytest
from absl import flags

import zoo
import zoo.schemes
from zoo.data.sample import Sample
from zoo.data.synthface import SynthFace
from zoo.models import presets
from zoo.training import config as config_lib
from zoo.training import data as data_lib
from zoo.training import tasks
from zoo.training.flags import config_from_flags, define_training_flags, run_recipe

SMALL = ["--steps=2", "--batch_size=2", "--num_synthetic=4", "--num_val=2", "--clip_length=2",
         "--log_every=1", "--checkpoint_every=2", "--eval_every=0", "--image_every=0"]


def _points(name):
    return zoo.schemes.get_scheme(zoo.get_preset(name).scheme).num_landmarks


def _recipe_config(name, output_dir):
    record = presets.find_architecture(name)
    # The recipe of the preset's task kind: train_300w.py or train_300vw.py defaults.
    defaults = config_lib.PAPER_DEFAULTS["300w" if record.task == "image" else "300vw"]
    flag_values = flags.FlagValues()
    holders = define_training_flags(defaults, flag_values)
    flag_values(["recipe", f"--model={name}", f"--output_dir={output_dir}",
                 f"--model_overrides={json.dumps(record.tiny_config)}", *SMALL])
    return config_from_flags(holders, defaults)


def _faces(num_landmarks, scheme, count, seed, size=64):
    """SynthFace faces keeping ``num_landmarks`` of their 68 points (with face-box sizes)."""
    generator = SynthFace(image_size=size, seed=seed)
    keep = np.linspace(0, 67, num_landmarks).round().astype(int)
    samples = []
    for index in range(count):
        face = generator.sample(index)
        points = np.asarray(face.landmarks, np.float32)[keep]
        box = np.concatenate([points.min(axis=0), points.max(axis=0)]).astype(np.float32)
        samples.append(Sample(image=np.asarray(face.image), landmarks=points, box=box,
                              meta={"box_size": float(np.sqrt(np.prod(box[2:] - box[:2])))}))
    return data_lib.SampleSource(samples, size, scheme)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in zoo.list_models() if _points(n) == 68])
def test_68_point_presets_train_through_the_recipe(name, tmp_path, capsys):
    config = _recipe_config(name, tmp_path / "run")
    result = run_recipe(config)
    assert result.step == 2 and all(np.isfinite(h["loss"]) for h in result.history)
    assert [e["step"] for e in result.evaluations] == [0, 2]
    assert all(np.isfinite(e["nme"]) for e in result.evaluations)
    written = json.loads((tmp_path / "run" / "config.json").read_text())
    assert written["model"] == name
    record = presets.find_architecture(name)
    for field in ("heatmap_length", "gamma", "temporal_lambda"):
        # Resolved for the architectures that take the field, None for the others.
        assert (written[field] is not None) == (field in record.train_fields), field
    assert "val NME" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in zoo.list_models() if _points(n) != 68])
def test_other_scheme_presets_train_through_the_recipe_trainer(name, tmp_path):
    preset = zoo.get_preset(name)
    record = presets.find_architecture(name)
    assert record.task == "image"
    config = config_lib.TrainConfig(
        model=name, dataset="synthface", output_dir=str(tmp_path / "run"), steps=2,
        batch_size=2, log_every=1, checkpoint_every=2, eval_every=0, image_every=0,
        augment=False, model_overrides=dict(record.tiny_config))
    size = record.tiny_config.get("input_size", preset.input_size)
    train = _faces(_points(name), preset.scheme, 4, seed=0, size=size)
    val = _faces(_points(name), preset.scheme, 2, seed=1, size=size)
    result, resolved, codec = tasks.train(config, progress=False, train_source=train,
                                          val_source=val)
    assert result.step == 2 and all(np.isfinite(h["loss"]) for h in result.history)
    assert all(np.isfinite(e["nme"]) for e in result.evaluations)
    assert type(codec).__name__ == preset.codec["class_name"]
    assert resolved.input_size == size
