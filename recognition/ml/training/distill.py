"""Train a face embedder (MobileNetV2 or the contrastive CNN) by consistent online distillation
from dlib-resnet.

    python -m recognition.ml.training.distill --data TRAIN --val VAL --out DIR
        --backbone SAVEDMODEL [--input-size 112 --freeze-until 10 --steps 3000
        --budget-minutes 120 --val-every 200 --patience 6 --resume ...]
    python -m recognition.ml.training.distill --arch contrastive-cnn --data TRAIN --val VAL
        --out DIR [--input-size 64 ...]

Every step draws P identities x K photos, augments each photo once and cuts from it both the
student's crop and dlib-resnet's chip (recognition.ml.training.views), labels the view with the
teacher on the fly, and minimises w_cos * cosine + w_rel * relational + w_tri * triplet
(+ w_con * contrastive) (recognition.ml.training.distill_losses). The student
(recognition.ml.training.students) is MobileNetV2 rebuilt at --input-size with the face head
(recognition.ml.training.mobileface), --backbone being a local copy of a MobileNetV2
feature-vector SavedModel that accepts that size (the `..._dynamic` one), or, with
--arch contrastive-cnn, the design's small contrastive CNN trained from scratch.

Every --val-every steps: ROC AUC and TAR at FAR 1e-3 over every pair of --val (identities never
trained on); the best step's weights are kept, --patience validations without a better AUC stop
the run. OUT/checkpoint/ holds the latest weights, optimizer and state (--resume continues where
an interrupted run stopped; the batch drawn at step n depends only on the seed and n).
--budget-minutes stops cleanly when the time is spent (then one last validation and the export).
The artifact (OUT/model as a SavedModel, OUT/model.onnx served without TensorFlow, metadata.json,
history.json, training.png) is a "mobilenetv2-siamese" or a "contrastive-cnn" one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import queue
import shlex
import sys
import threading
import time
from pathlib import Path

import numpy as np

from recognition.ml.tools.cli import (
    CliError,
    add_detector_arguments,
    run_cli,
    training_detector_from_args,
)
from recognition.ml.tools.metrics import pair_scores, roc_auc, tar_at_far
from recognition.ml.training import run_files, students
from recognition.ml.training.calibration import calibrate_artifact
from recognition.ml.training.data import FaceSet, load_faces, pk_batch
from recognition.ml.training.distill_losses import LossWeights, distillation_losses
from recognition.ml.training.views import Augmentation, Morph, ViewMaker, detect_sources

logger = logging.getLogger(__name__)
PREFETCH = 3
TAR_FAR = 1e-3


def parse_args(argv):
    from recognition.ml.runtime.embedders.mobilenet import MARGIN

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--data", required=True, help="training folder of <identity>/<image> files")
    add("--val", required=True, help="validation folder, identities disjoint from --data")
    add("--out", required=True, help="artifact directory to write")
    add("--arch", choices=students.ARCHS, default="mobilenetv2", help="the student network")
    add("--backbone", help="MobileNetV2 feature-vector SavedModel (any size; mobilenetv2 only)")
    add("--input-size", type=int, help="student input side (mobilenetv2: 112, contrastive-cnn: 64)")
    add("--margin", type=float, default=MARGIN, help="alignment margin around the face")
    add("--freeze-until", type=int, default=10, help="freeze the stem and blocks 1..N (-1: none)")
    add(
        "--backbone-batchnorm",
        action="store_true",
        help="let the unfrozen blocks' BatchNorm layers learn (default: ImageNet statistics)",
    )
    add(
        "--steps", type=int, default=3000, help="planned steps (the learning rate decays over them)"
    )
    add("--batch-p", type=int, default=16, help="identities per batch")
    add("--batch-k", type=int, default=4, help="photos per identity in a batch")
    add("--lr", type=float, default=1e-3, help="Adam learning rate, cosine-decayed to 5%%")
    add(
        "--backbone-lr-factor",
        type=float,
        default=0.1,
        help="the unfrozen backbone's learning rate as a fraction of --lr",
    )
    add("--w-cosine", type=float, default=LossWeights.cosine)
    add("--w-relational", type=float, default=LossWeights.relational)
    add("--w-triplet", type=float, help="batch-hard triplet (mobilenetv2: 0.1, contrastive-cnn: 0)")
    add("--triplet-margin", type=float, default=LossWeights.triplet_margin)
    add("--dropout", type=float, help="student dropout rate (0: none)")
    add("--w-contrastive", type=float, help="contrastive (mobilenetv2: 0, contrastive-cnn: 0.1)")
    add("--contrastive-margin", type=float, default=LossWeights.contrastive_margin)
    add("--val-every", type=int, default=200, help="steps between validations")
    add("--val-max-per-identity", type=int, help="use at most N faces per validation identity")
    add("--patience", type=int, default=6, help="validations without a better AUC that stop")
    add("--budget-minutes", type=float, help="stop cleanly after this much training time")
    add("--threads", type=int, default=2, help="TensorFlow inter- and intra-op threads")
    add("--seed", type=int, default=0)
    add("--resume", action="store_true", help="continue from OUT/checkpoint/")
    add("--no-augment", action="store_true", help="views are the untouched photos")
    add(
        "--morph",
        type=float,
        default=0.0,
        help="fraction of a batch's identities replaced by blends of two (new identities)",
    )
    add(
        "--no-centre-teacher",
        action="store_true",
        help="distil dlib's raw directions (default: minus their mean, renormalised)",
    )
    add(
        "--flip-average",
        action="store_true",
        help="the artifact embeds each face with its mirror image (thresholds calibrated so)",
    )
    add("--no-onnx", action="store_true", help="do not write OUT/model.onnx")
    add("--no-calibrate", action="store_true", help="no FAR threshold table measured on --val")
    add("--cache-dir", help="detection and crop cache (default ~/.cache/facepass/train)")
    add("--quiet", action="store_true", help="no progress bar")
    add_detector_arguments(parser)
    args = parser.parse_args(argv)
    students.resolve_defaults(args, parser)
    if (
        min(args.steps, args.val_every, args.batch_p - 1, args.batch_k - 1, args.input_size - 31)
        < 1
    ):
        parser.error("need --steps, --val-every >= 1, --batch-p/-k >= 2, --input-size >= 32")
    if min(args.w_cosine, args.w_relational, args.w_triplet, args.w_contrastive) < 0:
        parser.error("loss weights must be >= 0")
    if not 0.0 <= args.morph <= 1.0:
        parser.error("--morph is a fraction between 0 and 1")
    return args


def loss_weights(args) -> LossWeights:
    return LossWeights(
        args.w_cosine,
        args.w_relational,
        args.w_triplet,
        args.triplet_margin,
        args.w_contrastive,
        args.contrastive_margin,
    )


def limit_threads(tf, threads: int) -> None:
    """TensorFlow's thread pools are fixed once it has run anything in this process (a second
    run in the same process, as in the tests, keeps the first run's)."""
    try:
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        logger.info("TensorFlow already initialised; thread limits unchanged")


class Distiller:
    """Student, optimizer, compiled step and bookkeeping of one run."""

    def __init__(self, args, out: Path):
        from recognition.ml.training.networks import tensorflow

        self.tf, self.keras = tensorflow()
        limit_threads(self.tf, args.threads)
        self.args, self.out = args, out
        self.keras.utils.set_random_seed(args.seed)
        self.model = students.build_student(args)
        self.head_variables, self.backbone_variables = students.split_variables(
            self.model, args.arch
        )
        self.optimizer = self.adam(args.lr, self.head_variables)
        self.backbone_optimizer = self.adam(
            args.lr * args.backbone_lr_factor, self.backbone_variables
        )
        self.step_fn = self.make_step(loss_weights(args))
        self.state: dict = {"step": 0, "history": [], "best": None, "stale": 0, "seconds": 0.0}

    def adam(self, lr: float, variables: list):
        schedule = self.keras.optimizers.schedules.CosineDecay(lr, self.args.steps, alpha=0.05)
        optimizer = self.keras.optimizers.Adam(learning_rate=schedule)
        optimizer.build(variables)
        return optimizer

    def make_step(self, weights: LossWeights):
        tf, model = self.tf, self.model
        head, backbone = self.head_variables, self.backbone_variables
        optimizers = (self.optimizer, self.backbone_optimizer)

        @tf.function(reduce_retracing=True)
        def step(crops, labels, teacher):
            images = tf.cast(crops, tf.float32) / 255.0
            with tf.GradientTape() as tape:
                student = model(images, training=True)
                parts = distillation_losses(student, teacher, labels, weights)
            gradients = tape.gradient(parts["total"], head + backbone)
            optimizers[0].apply_gradients(zip(gradients[: len(head)], head, strict=True))
            if backbone:
                pairs = zip(gradients[len(head) :], backbone, strict=True)
                optimizers[1].apply_gradients(pairs)
            return parts

        return step

    def checkpoint(self, with_optimizer: bool = True):
        parts = {"model": self.model}
        if with_optimizer:
            parts["optimizer"] = self.optimizer
            parts["backbone_optimizer"] = self.backbone_optimizer
        return self.tf.train.Checkpoint(**parts)

    def resume(self) -> bool:
        state = run_files.read_state(self.out)
        if state is None:
            return False
        run_files.restore_checkpoint(self.out, self.checkpoint())
        self.state = state
        logger.warning("resuming at step %d", state["step"])
        return True

    def embed(self, crops: np.ndarray, batch_size: int = 128) -> np.ndarray:
        chunks = [
            self.model(crops[i : i + batch_size].astype(np.float32) / 255.0, training=False)
            for i in range(0, len(crops), batch_size)
        ]
        return np.concatenate([c.numpy() for c in chunks]).astype(np.float32)

    def validate(self, val: FaceSet) -> dict:
        genuine, impostor = pair_scores(self.embed(val.crops), val.labels)
        tar = tar_at_far(genuine, impostor, TAR_FAR)
        return {"val_auc": roc_auc(genuine, impostor), "val_tar_at_far_1e-3": tar["tar"]}

    def record(self, row: dict) -> bool:
        """Append a validation row, keep the best weights; True when patience ran out."""
        state = self.state
        state["history"].append(row)
        best = state["best"]
        if best is None or row["val_auc"] > best["val_auc"]:
            state["best"], state["stale"] = dict(row), 0
            run_files.save_best(self.out, self.checkpoint(with_optimizer=False))
        else:
            state["stale"] += 1
        run_files.save_checkpoint(self.out, self.checkpoint(), state)
        return state["stale"] >= self.args.patience


CENTRE_BATCHES = 8


def teacher_centre(views: ViewMaker, labels: np.ndarray, args) -> list[float]:
    """Mean dlib-resnet direction over CENTRE_BATCHES augmented batches (not the training steps').

    dlib's unit embeddings share one dominant direction (impostor pairs score about 0.85 cosine),
    while the student ends in BatchNorm, zero-mean over a batch: reaching that cone would take
    its BatchNorm thousands of steps. Minus this mean and renormalised, the teacher's targets
    spread over the sphere and keep what tells faces apart: measured on celeba-dev, distilling
    the raw directions left val AUC at 0.55 after 100 steps."""
    rng = np.random.default_rng([args.seed, 2**31])
    vectors = [
        views.batch(pk_batch(labels, args.batch_p, args.batch_k, rng), rng)[1]
        for _ in range(CENTRE_BATCHES)
    ]
    return [float(v) for v in np.concatenate(vectors).mean(axis=0)]


def centred(teacher: np.ndarray, centre: np.ndarray | None) -> np.ndarray:
    if centre is None:
        return teacher
    moved = teacher - centre
    return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)


def batches(
    views: ViewMaker,
    labels: np.ndarray,
    args,
    first_step: int,
    stop: threading.Event,
    centre: np.ndarray | None = None,
):
    """Prepared (step, crops, labels, teacher) batches from a background thread: view making and
    the teacher (onnxruntime, numpy, OpenCV: they release the GIL) overlap the student's step."""
    ready: queue.Queue = queue.Queue(PREFETCH)
    morph = Morph(args.morph, args.batch_k)

    def produce() -> None:
        for step in range(first_step, args.steps):
            rng = np.random.default_rng([args.seed, step])
            chosen = pk_batch(labels, args.batch_p, args.batch_k, rng)
            crops, teacher, chosen_labels = views.batch(chosen, rng, morph)
            teacher = centred(teacher, centre)
            while not stop.is_set():
                try:
                    ready.put((step, crops, chosen_labels, teacher), timeout=0.5)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        ready.put(None)

    threading.Thread(target=produce, daemon=True, name="distill-views").start()
    while (item := ready.get()) is not None:
        yield item


class Progress:
    """tqdm bar (steps/s and ETA) plus the running means of the loss parts between validations."""

    def __init__(self, args, first_step: int):
        from tqdm import tqdm

        self.bar = tqdm(
            total=args.steps,
            initial=first_step,
            unit="step",
            file=sys.stderr,
            disable=args.quiet,
            smoothing=0.05,
        )
        self.sums: dict[str, float] = {}
        self.count = 0
        self.started, self.first_step = time.monotonic(), first_step

    def add(self, parts: dict) -> None:
        for name, value in parts.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
        self.count += 1
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{float(parts['total']):.4f}")

    def means(self) -> dict:
        means = {f"train_{k}": v / max(self.count, 1) for k, v in self.sums.items()}
        self.sums, self.count = {}, 0
        return means

    def rate(self, step: int) -> float:
        return (step - self.first_step) / max(time.monotonic() - self.started, 1e-9)


def fit(run: Distiller, views: ViewMaker, labels: np.ndarray, val: FaceSet) -> str:
    """Train until --steps, patience or the budget; returns why it stopped."""
    args, state = run.args, run.state
    budget = args.budget_minutes * 60 if args.budget_minutes else None
    started = time.monotonic() - state["seconds"]
    progress = Progress(args, state["step"])
    stop = threading.Event()
    reason = "steps"
    try:
        centre = state.get("teacher_centre")
        centre = None if centre is None else np.asarray(centre, np.float32)
        prepared = batches(views, labels, args, state["step"], stop, centre)
        for step, crops, batch_labels, teacher in prepared:
            progress.add(run.step_fn(crops, batch_labels, teacher))
            state["step"] = step + 1
            state["seconds"] = time.monotonic() - started
            out_of_time = budget is not None and state["seconds"] >= budget
            due = state["step"] % args.val_every == 0 or out_of_time
            if due and validate_and_record(run, val, progress):
                reason = "patience"
                break
            if out_of_time:
                reason = "budget"
                break
    finally:
        stop.set()
        progress.bar.close()
    last = state["history"][-1]["step"] if state["history"] else -1
    if last != state["step"]:
        validate_and_record(run, val, progress)
    return reason


def validate_and_record(run: Distiller, val: FaceSet, progress: Progress) -> bool:
    args, state = run.args, run.state
    row = {"step": state["step"], **progress.means(), **run.validate(val)}
    rate = progress.rate(state["step"])
    row.update(
        seconds=round(state["seconds"], 1),
        steps_per_second=round(rate, 4),
        lr=float(run.optimizer.learning_rate(run.optimizer.iterations).numpy())
        if callable(run.optimizer.learning_rate)
        else float(run.optimizer.learning_rate),
    )
    finish = args.steps - state["step"]
    eta = finish / rate if rate else float("inf")
    if args.budget_minutes:
        eta = min(eta, max(args.budget_minutes * 60 - state["seconds"], 0.0))
    logger.warning(
        "step %d: val AUC %.4f, TAR@1e-3 %.3f, train loss %.4f, %.2f steps/s, ETA %.0f min",
        state["step"],
        row["val_auc"],
        row["val_tar_at_far_1e-3"],
        row.get("train_total", 0.0),
        rate,
        eta / 60,
    )
    return run.record(row)


def plot(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [row["step"] for row in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    names = ("total", "cosine", "relational", "triplet", "contrastive")
    present = [n for n in names if any(f"train_{n}" in row for row in history)]
    for name in (f"train_{n}" for n in present):
        left.plot(steps, [row.get(name, np.nan) for row in history], marker=".", label=name[6:])
    left.set(xlabel="step", ylabel="loss", title="training loss (mean since last validation)")
    left.set_yscale("log")
    left.legend()
    right.plot(steps, [row["val_auc"] for row in history], marker="o", label="ROC AUC")
    right.plot(
        steps, [row["val_tar_at_far_1e-3"] for row in history], marker="o", label="TAR at FAR 1e-3"
    )
    right.set(xlabel="step", title="validation (unseen identities)")
    right.legend()
    for axis in (left, right):
        axis.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def export(run: Distiller, sources, val: FaceSet, command: str, reason: str) -> Path:
    out, args, state = run.out, run.args, run.state
    run_files.restore_checkpoint(out, run.checkpoint(with_optimizer=False), "best")
    run_files.export_model(run.model, out)
    run_files.write_json(out / run_files.HISTORY_FILE, state["history"])
    plot(state["history"], out / run_files.PLOT_FILE)
    onnx_file = None
    if not args.no_onnx:
        from recognition.ml.training.onnx_export import export_onnx

        onnx_file = export_onnx(run.model, out)
    run_files.write_metadata(out, metadata(run, sources, val, command, reason, onnx_file))
    return out


def metadata(run: Distiller, sources, val: FaceSet, command, reason, onnx_file) -> dict:
    args, state = run.args, run.state
    data = students.base_metadata(args, f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}")
    if onnx_file:
        data["onnx"] = onnx_file.name
    if args.flip_average:
        data["flip_average"] = True
    data["training"] = {
        "recipe": "consistent online distillation from dlib-resnet",
        "command": command,
        "data": {
            "train": {
                "folder": args.data,
                "identities": len(sources.names),
                "photos": len(sources),
            },
            "val": {"folder": args.val, "identities": val.identities, "faces": len(val)},
        },
        "steps_run": state["step"],
        "stopped_by": reason,
        "best": state["best"],
        "hyperparameters": {
            name: getattr(args, name)
            for name in (
                "arch",
                "input_size",
                "freeze_until",
                "backbone_batchnorm",
                "steps",
                "batch_p",
                "batch_k",
                "lr",
                "backbone_lr_factor",
                "w_cosine",
                "w_relational",
                "w_triplet",
                "triplet_margin",
                "w_contrastive",
                "contrastive_margin",
                "dropout",
                "val_every",
                "patience",
                "budget_minutes",
                "seed",
                "no_augment",
                "morph",
                "no_centre_teacher",
            )
        },
        "device": "GPU" if run.tf.config.list_physical_devices("GPU") else "CPU",
        "seconds": round(state["seconds"], 1),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return data


def distill(argv=None) -> Distiller:
    from recognition.ml.runtime.config import default_cache_dir
    from recognition.ml.runtime.embedders.dlib_resnet import DlibResNetEmbedder

    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    out = Path(args.out)
    if not args.resume and run_files.read_state(out) is not None:
        raise CliError(f"{out} holds a checkpoint: pass --resume, or choose another --out")
    cache_dir = Path(args.cache_dir or Path(default_cache_dir()) / "train")
    detector = training_detector_from_args(args)
    sources = detect_sources(args.data, detector, cache_dir, not args.quiet)
    val = load_faces(
        args.val,
        detector,
        size=args.input_size,
        margin=args.margin,
        max_per_identity=args.val_max_per_identity,
        cache_dir=cache_dir,
        progress=not args.quiet,
    )
    teacher = DlibResNetEmbedder(threads=1, cache_dir=args.model_cache_dir)
    aug = Augmentation.none() if args.no_augment else Augmentation()
    views = ViewMaker(sources, teacher, args.input_size, args.margin, aug)
    run = Distiller(args, out)
    if args.resume and not run.resume():
        logger.warning("no checkpoint in %s; starting afresh", out)
    if not args.no_centre_teacher and "teacher_centre" not in run.state:
        run.state["teacher_centre"] = teacher_centre(views, sources.labels, args)
    logger.warning(
        "distilling on %d identities / %d photos, val %d faces",
        len(sources.names),
        len(sources),
        len(val),
    )
    reason = fit(run, views, sources.labels, val)
    command = "python -m recognition.ml.training.distill " + shlex.join(argv)
    export(run, sources, val, command, reason)
    if not args.no_calibrate:
        calibrate_artifact(args, students.EMBEDDER[args.arch], out)
    return run


def main(argv=None) -> None:
    print(distill(argv).out)


if __name__ == "__main__":
    run_cli(main)
