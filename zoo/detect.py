"""Facial landmarks on photos from the command line: ``python -m zoo.detect``.

Finds every face in each photo with ``zoo.FaceLandmarker`` (OpenCV's Haar cascades, or YuNet
with ``--face_detector=yunet.onnx``), draws the face boxes and landmarks, and writes the
annotated image and/or a JSON file with every face's box and landmarks (0-based image pixels).
By default it uses the mobile detector with the trained weights the package ships (offline).

    python -m zoo.detect photo.jpg --output annotated.png --json out.json
    python -m zoo.detect a.jpg b.png --output annotated/ --json faces.json
    python -m zoo.detect photo.jpg --model runs/mobile --output annotated.png  # a training run
    python -m zoo.detect photo.jpg --noflip_test --json out.json  # one pass, no mirror average

With several photos ``--output`` is a folder (one ``<name>.png`` per photo). Every photo is
read before the model is loaded: a missing file, a folder or a file that is not a readable
image stops the command with a message naming it (exit code 2). TensorFlow's C++ log lines
are hidden unless ``--verbose``.
"""
import argparse
import contextlib
import json
import os
import sys

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@contextlib.contextmanager
def quiet_stderr(enabled=True):
    """Sends file descriptor 2 to /dev/null inside the block (C++ log lines, not exceptions).

    TensorFlow's C++ runtime prints absl/oneDNN lines straight to fd 2 when it is imported,
    whatever ``TF_CPP_MIN_LOG_LEVEL`` says; Python's own ``sys.stderr`` is flushed around.

    Example:
        >>> import zoo.detect
        >>> with zoo.detect.quiet_stderr():
        ...     pass
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def import_tensorflow_quietly(verbose=False):
    """Imports TensorFlow and Keras with their C++ start-up log lines hidden (unless verbose).

    Example:
        >>> import zoo.detect
        >>> zoo.detect.import_tensorflow_quietly()
    """
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_stderr(not verbose):
        import tensorflow  # noqa: F401
        import keras  # noqa: F401
    if not verbose:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)


def output_paths(photos, output):
    """The annotated-image path of each photo (None when ``output`` is None).

    One photo and an ``output`` with an image extension: that file. Otherwise ``output`` is a
    folder holding ``<photo name>.png`` (``_2``, ``_3``... for repeated names).

    Example:
        >>> import zoo.detect
        >>> zoo.detect.output_paths(["a/x.jpg", "b/x.jpg"], "out")
        ['out/x.png', 'out/x_2.png']
    """
    if output is None:
        return [None] * len(photos)
    if output.lower().endswith(IMAGE_EXTENSIONS):
        if len(photos) != 1:
            raise ValueError("With several photos, --output must be a folder (one annotated "
                             f"image per photo). Received: output={output!r}, "
                             f"{len(photos)} photos")
        return [output]
    paths, seen = [], {}
    for photo in photos:
        stem = os.path.splitext(os.path.basename(os.fspath(photo)))[0] or "image"
        seen[stem] = seen.get(stem, 0) + 1
        suffix = "" if seen[stem] == 1 else f"_{seen[stem]}"
        paths.append(os.path.join(output, f"{stem}{suffix}.png"))
    return paths


def annotate(image, faces, scheme=None):
    """The image with each face's box and landmarks drawn (``zoo.draw.draw_faces``)."""
    import zoo.draw

    return zoo.draw.draw_faces(image, faces, scheme=scheme)


def faces_record(faces):
    """JSON-ready list of one image's faces: box, mean score, landmarks and their scores."""
    import numpy as np

    return [{"box": np.round(box, 2).tolist(), "score": round(float(scores.mean()), 4),
             "landmarks": np.round(points, 3).tolist(),
             "scores": np.round(scores, 4).tolist()}
            for box, points, scores in zip(faces.boxes, faces.landmarks, faces.scores)]


def write_image(path, image):
    """Writes an RGB image (PNG, JPEG... by extension); raises ValueError if OpenCV cannot."""
    import cv2

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise ValueError(f"OpenCV cannot write this image file. Received: output={path!r}")
    return path


def parse_args(argv=None):
    """Parses the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m zoo.detect",
                                     description=__doc__.strip().split("\n")[0])
    parser.add_argument("photos", nargs="+", help="image files (JPEG, PNG, ...)")
    parser.add_argument("--output", default=None,
                        help="annotated image (one photo) or folder (several photos)")
    parser.add_argument("--json", default=None, help="write the faces and landmarks here")
    parser.add_argument("--model", default=None,
                        help="preset name, .keras file, training run folder or SavedModel "
                             "export (default: aheat1d_mobile_300w with its shipped weights)")
    parser.add_argument("--weights", default=None,
                        help="weights for a preset model (.weights.h5 / .keras / run folder)")
    parser.add_argument("--face_detector", default="haar", help="'haar' or a YuNet .onnx path")
    parser.add_argument("--margin", type=float, default=0.25,
                        help="crop side = max(box w, h) * (1 + margin)")
    parser.add_argument("--max_faces", type=int, default=None, help="most faces per photo")
    parser.add_argument("--refine", type=int, default=1,
                        help="crop again around the predicted landmarks this many times")
    flip = parser.add_mutually_exclusive_group()
    flip.add_argument("--flip_test", dest="flip_test", action="store_true", default=None,
                      help="average each crop's landmarks with its mirror's (FaceLandmarker's "
                           "default: twice the network work per face)")
    flip.add_argument("--noflip_test", dest="flip_test", action="store_false",
                      help="one network pass per face (no mirror average)")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's log lines and warnings")
    return parser, parser.parse_args(argv)


def run(args):
    """Runs detection for parsed ``args``; returns a summary dict (also what --json holds).

    Raises:
        FileNotFoundError / ValueError: a bad photo, output or model (the message names it).
    """
    import warnings

    import zoo.faces

    outputs = output_paths(args.photos, args.output)
    images = [zoo.faces.read_image(photo) for photo in args.photos]  # fail before loading
    import_tensorflow_quietly(args.verbose)
    import zoo.inference

    # --flip_test / --noflip_test when given, else the landmarker's own default.
    flip = {} if getattr(args, "flip_test", None) is None else {"flip_test": args.flip_test}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always" if args.verbose else "default")
        landmarker = zoo.inference.FaceLandmarker(
            args.model or zoo.inference.DEFAULT_MODEL, face_detector=args.face_detector,
            margin=args.margin, max_faces=args.max_faces, weights=args.weights,
            refine=args.refine, **flip)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    model = landmarker.model
    results = landmarker.detect(images)
    summary = {"model": model.name, "weights": model.weights, "scheme": model.scheme,
               "num_landmarks": model.num_landmarks, "flip_test": landmarker.flip_test,
               "notes": notes, "images": []}
    for photo, image, faces, output in zip(args.photos, images, results, outputs):
        if output is not None:
            write_image(output, annotate(image, faces, scheme=model.scheme))
        summary["images"].append({"path": os.fspath(photo), "width": int(image.shape[1]),
                                  "height": int(image.shape[0]), "output": output,
                                  "faces": faces_record(faces)})
    if args.json:
        directory = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(directory, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=1)
    return summary


def main(argv=None):
    """Command-line entry point; returns the exit code (2 for a bad photo, output or model)."""
    parser, args = parse_args(argv)
    try:
        summary = run(args)
    except (OSError, ValueError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    for note in summary["notes"]:
        print(f"note: {note}", file=sys.stderr)
    for record in summary["images"]:
        written = f" -> {record['output']}" if record["output"] else ""
        print(f"{record['path']}: {len(record['faces'])} face(s){written}")
    print(f"model {summary['model']} (weights: {summary['weights']})"
          + (f"; landmarks -> {args.json}" if args.json else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
