"""benchmarks/reproduce.py (issue 16): the run plan, the cache, the tables' arithmetic, and every
code path end to end at the tiny ``smoke`` scale on a few real fixture faces."""
import glob
import json
import os
import sys

import numpy as np
import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "benchmarks")
sys.path.insert(0, BENCHMARKS)
import reproduce  # noqa: E402


def test_every_table_names_variants_that_exist_at_every_scale():
    for scale in reproduce.SCALES.values():
        specs = reproduce.variants(scale)
        for table in reproduce.TABLES:
            for name in reproduce.table_runs(table, scale):
                assert name == "search" or name in specs, (table, name)
        lengths = [spec["fields"]["heatmap_length"] for name, spec in specs.items()
                   if name.startswith("1d_") and name not in ("1d_3F_gamma0", "1d_3F_searched")]
        f = scale.input_size
        assert lengths == [f // 4, f // 2, f, 3 * f // 2, 2 * f, 5 * f // 2, 3 * f]
    full = reproduce.SCALES["full"]
    assert len(full.seeds) >= 3 and full.input_size == 128 and full.width == 64
    with pytest.raises(ValueError, match="Allowed: .*Received: table='nope'"):
        reproduce.table_runs("nope", full)


def test_plan_runs_trackers_after_their_detector_and_shares_runs(tmp_path):
    scale = reproduce.SCALES["quick"]
    first, second = reproduce.plan(["temporal", "hih", "coattention"], scale, (0, 1), "/data",
                                   str(tmp_path / "work"), str(tmp_path / "results"))
    names = [(job["name"], job["seed"]) for job in first]
    assert len(names) == len(set(names))  # 1d_3F serves three tables, trained once per seed
    assert {("1d_3F", 0), ("1d_3F", 1), ("search", 0), ("2d_0.25F", 1)} <= set(names)
    assert {(job["name"], job["seed"]) for job in second} == {
        ("tracker_lambda0", 0), ("tracker_lambda0", 1), ("tracker_lambda0.3", 0),
        ("tracker_lambda0.3", 1), ("1d_3F_searched", 0), ("1d_3F_searched", 1)}
    # Trackers start from their seed's detector; the searched run waits for its seed's search
    # result only (no checkpoint, so a fresh clone with the search cached trains nothing else).
    for job in second:
        if job["name"] == "1d_3F_searched":
            assert job["after"] == "search" and "detector" not in job
        else:
            assert job["detector"] == "1d_3F" and "after" not in job


def test_the_search_choice_trains_its_gamma_or_reuses_the_run_that_has_it(tmp_path):
    scale = reproduce.SCALES["full"]
    results = str(tmp_path)
    spec = reproduce.variants(scale)["1d_3F_searched"]
    reproduce.write_json(reproduce.result_path(results, scale, "1d_3F", 0),
                         _result(scale, "1d_3F", 0, 4.0))
    for seed, gamma in ((0, 0.4), (1, 0.2)):
        reproduce.write_json(reproduce.result_path(results, scale, "search", seed),
                             {"name": "search", "seed": seed, "gamma": gamma})
    job = {"name": "1d_3F_searched", "spec": spec, "seed": 0,
           "result_path": reproduce.result_path(results, scale, "1d_3F_searched", 0)}
    reused = reproduce.searched_spec(job)
    assert reused["same_as"] == "1d_3F" and reused["scores"]["refined"]["nme"] == 4.0
    assert reused["name"] == "1d_3F_searched" and reused["gamma"] == 0.4
    job.update(seed=1, result_path=reproduce.result_path(results, scale, "1d_3F_searched", 1))
    trained = reproduce.searched_spec(job)
    assert "same_as" not in trained and trained["fields"]["gamma"] == 0.2
    assert trained["fields"]["heatmap_length"] == 3 * scale.input_size


def test_target_width_table_scales_sigma_with_f_and_compares_to_the_default(tmp_path):
    smoke, full = reproduce.SCALES["smoke"], reproduce.SCALES["full"]
    assert reproduce.variants(smoke)["2d_0.25F_sigma8"]["fields"]["sigma"] == 8 * 32 / 128
    assert reproduce.variants(full)["2d_0.25F_sigma8"]["fields"]["sigma"] == 8.0
    assert "sigma" not in reproduce.variants(full)["2d_0.25F"]["fields"]  # the zoo's default
    results = str(tmp_path)
    for seed in range(3):
        for name, nme in (("2d_0.25F", 100.0), ("2d_0.25F_sigma8", 50.0 + seed)):
            reproduce.write_json(reproduce.result_path(results, full, name, seed),
                                 _result(full, name, seed, nme, decode="quarter_offset"))
    text = reproduce.format_tables(["targets"], full, (0, 1, 2), results)
    rows = [line for line in text.splitlines() if line.startswith("| 2D")]
    assert len(rows) == len(reproduce.TARGET_SIGMAS)
    assert "sigma 2 px (F/64, the default) | 100.00 ± 0.00 | 3 | baseline" in rows[0]
    assert "sigma 8 px | 51.00 ± 1.00 | 3 | -49.0 % |" in rows[-1]
    assert "(not run)" in rows[1]


def _result(scale, name, seed, nme, decode="refined", **extra):
    return dict({"name": name, "seed": seed, "scale": scale.name, "params": 1000,
                 "peak_rss_mib": 100.0 + seed, "scores": {decode: {"nme": nme}}}, **extra)


def test_tables_show_mean_spread_seeds_and_relative_change(tmp_path):
    scale = reproduce.SCALES["full"]
    results = str(tmp_path)
    for seed, (off, on) in enumerate([(5.0, 4.0), (6.0, 5.0), (7.0, 6.0)]):
        reproduce.write_json(reproduce.result_path(results, scale, "1d_3F_gamma0", seed),
                             _result(scale, "1d_3F_gamma0", seed, off))
        reproduce.write_json(reproduce.result_path(results, scale, "1d_3F", seed),
                             _result(scale, "1d_3F", seed, on))
    reproduce.write_json(reproduce.result_path(results, scale, "search", 0),
                         {"name": "search", "seed": 0, "gamma": 0.4})
    reproduce.write_json(reproduce.result_path(results, scale, "1d_3F_searched", 0),
                         dict(_result(scale, "1d_3F", 0, 4.0), same_as="1d_3F", gamma=0.4))
    text = reproduce.format_tables(["coattention"], scale, (0, 1, 2), results)
    lines = [line for line in text.splitlines() if line.startswith("| 1D") or "k-fold" in line]
    # gamma 0: 6.00 +- 1.00 over 3 seeds; gamma 0.4: 5.00, -16.7 % against gamma 0.
    assert lines[0].endswith("| 6.00 ± 1.00 | 3 | baseline |")
    assert lines[1].endswith("| 5.00 ± 1.00 | 3 | -16.7 % |")
    # The search picked 0.4 on seed 0: that seed's gamma-0.4 run, 4.00 (-33.3 %).
    assert "gamma [0.4]" in lines[2] and lines[2].endswith("| 4.00 | 1 | -33.3 % |")
    assert "(not run)" in reproduce.format_tables(["hih"], scale, (0, 1, 2), results)


@pytest.fixture
def face_root(tmp_path, fixtures_dir):
    """A 300-W layout of real fixture faces: 8 training (afw) and 3 test (helen/testset)."""
    root = tmp_path / "300w"
    pairs = sorted(glob.glob(os.path.join(fixtures_dir, "300w", "pts_images", "*.pts")))
    assert len(pairs) >= 11
    for index, pts in enumerate(pairs[:11]):
        folder = root / ("afw" if index < 8 else os.path.join("helen", "testset"))
        folder.mkdir(parents=True, exist_ok=True)
        for path in (pts, pts[:-4] + ".jpg"):
            os.symlink(path, folder / os.path.basename(path))
    return root


@pytest.mark.slow
def test_smoke_scale_trains_evaluates_caches_and_resumes(tmp_path, face_root, capsys):
    args = ["--data_dir", str(face_root), "--scale", "smoke", "--table", "temporal",
            "robustness", "--work_dir", str(tmp_path / "work"), "--results_dir",
            str(tmp_path / "results"), "--jobs", "2"]
    text = reproduce.main(args)
    printed = capsys.readouterr().out
    assert "FAILED" not in printed
    stored = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "results" / "smoke"
                                                               / "*.json")))
    assert stored == ["1d_3F_seed0.json", "loose_1d_seed0.json", "loose_rdfn_seed0.json",
                      "tracker_lambda0.3_seed0.json", "tracker_lambda0_seed0.json"]
    with open(tmp_path / "results" / "smoke" / "tracker_lambda0.3_seed0.json") as handle:
        tracker = json.load(handle)
    assert tracker["steps"] == 1 and tracker["test_count"] == 2
    assert np.isfinite(tracker["scores"]["tracking"]["nme"]) and tracker["peak_rss_mib"] > 0
    with open(tmp_path / "results" / "smoke" / "loose_rdfn_seed0.json") as handle:
        rdfn = json.load(handle)
    assert set(rdfn["robustness"]) == {"ideal", "shift 25%", "scale 1.35"}
    assert rdfn["spec"]["fields"]["augmentation"] == reproduce.LOOSE_BOXES
    # Every row of both tables has a number (one seed: no spread).
    rows = [line for line in text.splitlines() if line.startswith("| ")
            and not line.startswith(("| variant", "| model"))]
    assert "(not run)" not in text and len(rows) == 4
    # Cached: a second call trains nothing and prints the same tables.
    assert reproduce.main(args) == text
    assert "nothing to train: all 5 run(s) cached" in capsys.readouterr().out


def test_full_scale_commands_name_their_dataset_and_existing_recipes():
    root = os.path.dirname(BENCHMARKS)
    rows = reproduce.full_scale_commands({"300w": "/here/300w"})
    assert {dataset for _, dataset, _ in rows} == {"300w", "aflw", "300vw", "wflw", "cofw"}
    for what, dataset, command in rows:
        script = command.split()[1]
        assert os.path.isfile(os.path.join(root, script)), command
        assert (f"--data_dir=/here/300w" if dataset == "300w"
                else f"--data_dir=/data/{dataset}") in command


def test_robustness_plot_averages_the_cached_seeds(tmp_path, monkeypatch):
    scale = reproduce.SCALES["quick"]
    results = str(tmp_path)
    conditions = ["ideal"] + [f"shift {s:.0%}" for s in scale.shifts] + [
        f"scale {k:.2f}" for k in scale.scales]
    for seed, base in ((0, 10.0), (1, 20.0)):
        reproduce.write_json(
            reproduce.result_path(results, scale, "loose_1d", seed),
            {"name": "loose_1d", "seed": seed, "robustness": {
                c: {"nme": base + i, "faces": 30} for i, c in enumerate(conditions)}})
    import robustness

    drawn = {}
    monkeypatch.setattr(robustness, "plot",
                        lambda means, shifts, scales, path: drawn.update(means=means, path=path))
    path = str(tmp_path / "robust.png")
    assert reproduce.plot_robustness(scale, (0, 1), results, path) == path
    # Only the model with results is drawn, as the mean of its two seeds, labelled with them.
    (label, means), = drawn["means"].items()
    assert label.endswith("(2 seeds)") and drawn["path"] == path
    assert means["ideal"]["nme"] == 15.0 and means[conditions[-1]]["nme"] == 15.0 + 4
