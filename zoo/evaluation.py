"""Paper-style evaluation report of a trained run: NME per subset, FR, AUC, per-area NME, CED PNG.

The protocols (paper Sec. 4): 300W common / challenging / full (inter-ocular NME); AFLW full /
frontal (face-size NME); WFLW test and its six attribute subsets; COFW test. With no data
folder the run is evaluated on held-out SynthFace faces (and the report says so).

Example:
    >>> import zoo.evaluation
    >>> # report = zoo.evaluation.evaluate_run("demo_out/run", output_dir="demo_out/eval")
"""
import json
import os


# Subsets each dataset is reported on, and the reader split that holds them.
PROTOCOLS = {
    "300w": (("common", "common"), ("challenging", "challenging"), ("full", "full")),
    "aflw": (("full", "full"), ("frontal", "frontal")),
    "wflw": (("test", "test"), ("pose", "pose"), ("expression", "expression"),
             ("illumination", "illumination"), ("makeup", "makeup"),
             ("occlusion", "occlusion"), ("blur", "blur")),
    "cofw": (("test", "test"),),
}


def load_run(run_dir):
    """Rebuilds the model of a training run folder and loads its latest checkpoint.

    Args:
        run_dir: the ``output_dir`` of a training run (holds ``config.json`` and checkpoints).

    Returns:
        ``(model, codec, config, step)``.

    Example:
        >>> import zoo.evaluation
        >>> # model, codec, config, step = zoo.evaluation.load_run("runs/aheat1d_300w")
    """
    import zoo
    from zoo.training import config as config_lib
    from zoo.training import loop, tasks

    config = config_lib.load_config(run_dir)
    config, codec, overrides = tasks.resolve_model(config)
    model = zoo.create(config.model, **overrides)
    step = loop.restore_model(model, run_dir)
    return model, codec, config, step


def evaluate_detector(model, codec, images, landmarks, scheme, subsets=None, boxes=None):
    """Predicts, decodes and scores a set of face crops.

    Args:
        model: a training model (stacked dict outputs; the last stack is scored).
        codec: its codec.
        images: ``(B, F, F, 3)`` crops in [0, 255].
        landmarks: ``(B, N, 2)`` ground truth in crop pixels.
        scheme: landmark scheme name (normaliser and areas).
        subsets: optional ``zoo.metrics.report`` subsets.
        boxes: optional ``(B, 4)`` boxes (box normalisers).

    Returns:
        ``(errors (B,), report dict, predictions (B, N, 2))``.

    Example:
        >>> import zoo.evaluation
        >>> # errors, report, predictions = zoo.evaluation.evaluate_detector(model, codec, x, y, "300w")
    """
    import zoo.metrics
    from zoo.training.tasks import predict_landmarks

    predictions = predict_landmarks(model, codec, images)
    errors = zoo.metrics.nme(predictions, landmarks, scheme=scheme, boxes=boxes)
    report = zoo.metrics.report(predictions, landmarks, scheme, subsets=subsets, boxes=boxes,
                                verbose=False)
    return errors, report, predictions


def write_report(results, output_dir, title):
    """Writes ``report.txt``, ``report.json`` and ``ced.png`` for ``{subset: (errors, row)}``.

    Args:
        results: dict ``name -> (errors (B,), report row dict)``.
        output_dir: folder to write to.
        title: heading (model, dataset, step).

    Returns:
        dict of written paths ``{"text", "json", "ced"}``.
    """
    import zoo.metrics

    os.makedirs(output_dir, exist_ok=True)
    table = {name: row for name, (_, row) in results.items()}
    text = f"{title}\n{zoo.metrics.format_report(table)}\n"
    paths = {"text": os.path.join(output_dir, "report.txt"),
             "json": os.path.join(output_dir, "report.json"),
             "ced": os.path.join(output_dir, "ced.png")}
    with open(paths["text"], "w", encoding="utf-8") as handle:
        handle.write(text)
    with open(paths["json"], "w", encoding="utf-8") as handle:
        json.dump({"title": title, "subsets": table}, handle, indent=2)
    zoo.metrics.plot_ced({name: errors for name, (errors, _) in results.items()}, paths["ced"],
                         title=title)
    print(text)
    return paths


def evaluate_run(run_dir, output_dir=None, data_dir=None, dataset=None, num_synthetic=200):
    """Evaluates a training run on its dataset's test protocol and writes the report.

    Args:
        run_dir: training run folder.
        output_dir: where the report goes (default ``run_dir/eval``).
        data_dir: dataset root (default the run's ``data_dir``); None evaluates on held-out
            SynthFace faces.
        dataset: dataset name (default the run's).
        num_synthetic: SynthFace test faces when there is no data.

    Returns:
        ``{"subsets": {name: report row}, "paths": {...}, "step": int}``.

    Example:
        >>> import zoo.evaluation
        >>> # zoo.evaluation.evaluate_run("demo_out/run")
    """
    from zoo.training import data as data_lib
    from zoo.training import tasks

    model, codec, config, step = load_run(run_dir)
    dataset = dataset or config.dataset
    data_dir = data_dir if data_dir is not None else config.data_dir
    output_dir = output_dir or os.path.join(run_dir, "eval")
    results = {}
    if data_dir is None:
        # Seeds far from training (seed) and validation (seed + 1000) faces.
        source = data_lib.SynthFaceSource(config.input_size, seed=config.seed + 2_000,
                                          num_samples=num_synthetic)
        images, landmarks = source.arrays()
        errors, report, _ = evaluate_detector(model, codec, images, landmarks, "300w")
        results["synthface"] = (errors, report["full"])
        title = f"{config.model} step {step} on {num_synthetic} SynthFace test faces (synthetic)"
    else:
        data_lib.check_data_dir(dataset, data_dir)
        if dataset not in PROTOCOLS:
            raise ValueError(f"No image protocol for this dataset. Received: dataset={dataset!r}")
        scheme = tasks.SCHEMES[dataset]
        for name, split in PROTOCOLS[dataset]:
            source = data_lib.SampleSource(tasks._read_split(dataset, data_dir, split),
                                           config.input_size, scheme)
            images, landmarks = source.arrays()
            errors, report, _ = evaluate_detector(model, codec, images, landmarks, scheme)
            results[name] = (errors, report["full"])
        title = f"{config.model} step {step} on {dataset} ({data_dir})"
    paths = write_report(results, output_dir, title)
    return {"subsets": {name: row for name, (_, row) in results.items()}, "paths": paths,
            "step": step}
