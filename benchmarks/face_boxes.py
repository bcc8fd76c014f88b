r"""Calibrates and checks the face finder of ``zoo.FaceLandmarker`` on 300-W *training* faces.

OpenCV's Haar cascades return squares that are not the 68-point landmark box a landmark model's
training crop is made from (the frontal squares sit higher, the profile cascade's sideways).
``zoo.faces.HAAR_TO_LANDMARK_BOX`` maps each cascade's square to the landmark box. This script
fits it (``zoo.faces.fit_haar_box_calibration``: medians over every ``--every``-th face of the
training split, starting at face 0) and then, with the calibration just fitted, scores the
whole face finder on other training faces (every ``--every``-th from face ``--every // 2``):
how many faces it finds, boxes that are no annotated face, the IoU of the found box with the
landmark box, and the NME of ``zoo.FaceLandmarker`` from those boxes (inter-ocular, %), for the
uncalibrated frontal cascades of before and the calibrated ones with and without the profile
passes, with 0-2 refinement crops. Test faces and fixture photos are never used. The crops of
``../shared/data/300w`` are 400 x 400 with the face about 180 px wide; the shipped detector was
trained on these faces, so its NME here is lower than on unseen photos: the table compares face
finders, it is not a test figure.

    python benchmarks/face_boxes.py --data_dir=../shared/data/300w --every=8 --limit=100
"""
import time
import warnings

import numpy as np
from absl import app, flags

_DATA_DIR = flags.DEFINE_string("data_dir", None, "300-W root (its `train` split is read).")
_EVERY = flags.DEFINE_integer("every", 8, "Use every this-many-th training face.")
_LIMIT = flags.DEFINE_integer("limit", None, "At most this many evaluation faces.")


def main(argv):
    del argv
    import zoo
    import zoo.metrics
    from zoo import faces
    from zoo.data.readers import read_300w
    from zoo.data.readers.common import load_sample_image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the published-count warning of this 300-W folder
        samples, _ = read_300w(_DATA_DIR.value, "train")
    every = _EVERY.value
    fit_faces = samples[::every]
    held_out = samples[every // 2::every][:_LIMIT.value]
    start = time.perf_counter()
    table = faces.fit_haar_box_calibration((load_sample_image(s) for s in fit_faces),
                                           [s.landmarks for s in fit_faces])
    print(f"Calibration on {len(fit_faces)} 300-W training faces (every {every}th from 0), "
          f"{time.perf_counter() - start:.0f} s; paste into zoo.faces.HAAR_TO_LANDMARK_BOX:\n")
    print("| cascade | faces found (unrotated) | detections | dx | dy | width | height |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in table.items():
        print(f"| {name} | {row['faces']} | {row['detections']} | "
              + " | ".join(f"{v:.3f}" for v in row["box"]) + " |")
    print("\nHAAR_TO_LANDMARK_BOX = {")
    for name, row in table.items():
        print(f'    "{name}": ({", ".join(f"{v:.3f}" for v in row["box"])}),')
    print("}\n")

    fitted = {name: row["box"] for name, row in table.items()}
    finders = {"frontal, uncalibrated (before)": faces.HaarFaceDetector(
                   profile="never", calibrated=False),
               "frontal, calibrated": faces.HaarFaceDetector(profile="never",
                                                             calibration=fitted),
               "frontal + profile fallback, calibrated (default)": faces.HaarFaceDetector(
                   calibration=fitted),
               "frontal + profile always, calibrated": faces.HaarFaceDetector(
                   profile="always", calibration=fitted)}
    model = zoo.load("aheat1d_mobile_300w")
    images = [load_sample_image(s) for s in held_out]
    truths = [np.asarray(s.landmarks, np.float64) for s in held_out]
    print(f"Face finding on {len(held_out)} other 300-W training faces (every {every}th from "
          f"{every // 2}), shipped aheat1d_mobile_300w:\n")
    print("| face finder | refine | found | other boxes / image | IoU with landmark box | "
          "NME mean (%) | NME median (%) | NME max (%) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, finder in finders.items():
        chosen, others, overlaps = [], 0, []
        for image, truth in zip(images, truths):
            boxes = finder(image)
            truth_box = np.concatenate([truth.min(0), truth.max(0)])
            iou = faces._iou(truth_box, boxes) if len(boxes) else np.zeros(0)
            hit = int(np.argmax(iou)) if len(iou) and iou.max() > 0.3 else None
            others += len(boxes) - (hit is not None)
            chosen.append(None if hit is None else boxes[hit])
            if hit is not None:
                overlaps.append(iou[hit])
        found = [i for i, box in enumerate(chosen) if box is not None]
        for refine in (0, 1, 2):
            # flip_test=False: one pass, as the README's face-box figures were measured.
            landmarker = zoo.FaceLandmarker(model, face_detector=finder, refine=refine,
                                            flip_test=False)
            errors = []
            for i in found:
                points = landmarker.detect(images[i], boxes=chosen[i][None]).landmarks[0]
                errors.append(float(zoo.metrics.nme(points[None], truths[i][None],
                                                    scheme="300w")[0]))
            errors = 100 * np.array(errors)
            print(f"| {label} | {refine} | {len(found)}/{len(held_out)} | "
                  f"{others / len(held_out):.2f} | {np.mean(overlaps):.3f} | "
                  f"{errors.mean():.2f} | {np.median(errors):.2f} | {errors.max():.2f} |")


if __name__ == "__main__":
    flags.mark_flag_as_required("data_dir")
    app.run(main)
