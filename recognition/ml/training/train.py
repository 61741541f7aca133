"""Train a face embedder on <identity>/<images> folders and save it as a model artifact.

    python -m recognition.ml.training.train --arch mobilenetv2-triplet|contrastive-cnn --data DIR
        --val DIR --out ARTIFACT_DIR [--epochs N --steps-per-epoch N --batch-p P --batch-k K
        --lr X --fine-tune-epochs N --freeze-backbone-only --max-per-identity N --seed S
        --resume --patience N --mining batch-hard|semi-hard --backbone HANDLE]

mobilenetv2-triplet: the Siamese design with three shared-weight branches (anchor, positive,
negative), realised as ONE shared network that embeds a batch of P identities x K images; the
triplets are mined inside the batch (batch-hard by default: per anchor the farthest positive and
the closest negative; or FaceNet semi-hard) and scored with a triplet hinge on the cosine
distance of L2-normalised embeddings. Stage 1 trains the 128-d head on the frozen TF-Hub
MobileNetV2; stage 2 (--fine-tune-epochs) unfreezes the backbone at a tenth of the learning
rate. --freeze-backbone-only is the original recipe (stage 1 only); with --max-per-identity 5
it reproduces the original data too. The artifact is a "mobilenetv2-siamese" one:
load_embedder("mobilenetv2-siamese", OUT) serves it.

contrastive-cnn: a small CNN on 100x100 grayscale (recognition.ml.training.networks), trained with a
contrastive loss on the Euclidean distance of unit embeddings over the balanced positive and
negative pairs of each P x K batch. Its artifact says embedder "contrastive-cnn".

Each epoch ends with the validation loss and ROC AUC over every pair of the --val identities;
the best epoch by AUC becomes the artifact, and --patience epochs without a better AUC end a
stage early. OUT/checkpoint/ lets --resume continue an interrupted run where it stopped. Faces
are detected (YuNet, --yunet-model) and aligned once and cached. TensorFlow uses a GPU
when it sees one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recognition.ml.runtime.config import PUBLIC_BACKBONE_HANDLE
from recognition.ml.tools.cli import (
    CliError,
    add_detector_arguments,
    run_cli,
    training_detector_from_args,
)
from recognition.ml.tools.metrics import pair_scores, roc_auc
from recognition.ml.training import run_files as train_io
from recognition.ml.training.calibration import calibrate_artifact
from recognition.ml.training.data import FaceSet, fixed_batches, load_faces, pk_batch

logger = logging.getLogger(__name__)
ARCHS = ("mobilenetv2-triplet", "contrastive-cnn")
FINE_TUNE_LR_FACTOR = 0.1
VAL_LOSS_BATCHES = 8


@dataclass
class Recipe:
    arch: str
    embedder: str  # the artifact's embedder kind
    input_size: int
    margin: float  # alignment margin (context around the face)
    loss: str  # key of train_models.LOSSES
    loss_margin: float


def recipe_for(args) -> Recipe:
    from recognition.ml.runtime.embedders import mobilenet
    from recognition.ml.training.networks import CONTRASTIVE_INPUT_SIZE

    if args.arch == "mobilenetv2-triplet":
        margin = 0.2 if args.loss_margin is None else args.loss_margin
        return Recipe(
            args.arch, mobilenet.NAME, mobilenet.INPUT_SIZE, mobilenet.MARGIN, args.mining, margin
        )
    margin = 1.0 if args.loss_margin is None else args.loss_margin
    return Recipe(
        args.arch,
        "contrastive-cnn",
        CONTRASTIVE_INPUT_SIZE,
        mobilenet.MARGIN,
        "contrastive",
        margin,
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--arch", required=True, choices=ARCHS)
    add("--data", required=True, help="training folder of <identity>/<image> files")
    add("--val", required=True, help="validation folder, identities disjoint from --data")
    add("--out", required=True, help="artifact directory to write")
    add("--epochs", type=int, default=20, help="stage 1 epochs (the only stage for the CNN)")
    add("--fine-tune-epochs", type=int, default=10, help="stage 2 epochs, backbone trainable")
    add("--freeze-backbone-only", action="store_true", help="no stage 2 (the original recipe)")
    add("--steps-per-epoch", type=int, default=100)
    add("--batch-p", type=int, default=8, help="identities per batch")
    add("--batch-k", type=int, default=4, help="images per identity in a batch")
    add("--lr", type=float, default=1e-3, help="stage 1 Adam learning rate")
    add("--mining", choices=("batch-hard", "semi-hard"), default="batch-hard")
    add("--loss-margin", type=float, help="triplet margin (0.2) or contrastive margin (1.0)")
    add("--max-per-identity", type=int, help="use at most N faces per training identity")
    add("--val-max-per-identity", type=int, help="use at most N faces per validation identity")
    add("--patience", type=int, default=5, help="epochs without a better val AUC ending a stage")
    add("--seed", type=int, default=0)
    add("--resume", action="store_true", help="continue from OUT/checkpoint/")
    add("--no-augment", action="store_true")
    add(
        "--distill-weight",
        type=float,
        default=0.0,
        help="weight of a cosine term pulling embeddings to dlib-resnet's (0: off)",
    )
    add(
        "--no-calibrate",
        action="store_true",
        help="skip writing the FAR threshold table from --val into the artifact",
    )
    add(
        "--backbone",
        default=PUBLIC_BACKBONE_HANDLE,
        help="MobileNetV2 feature-vector handle (URL or local SavedModel)",
    )
    add("--cache-dir", help="aligned-crop cache (default ~/.cache/facepass/train)")
    add("--quiet", action="store_true", help="no progress bars")
    add_detector_arguments(parser)
    args = parser.parse_args(argv)
    if args.freeze_backbone_only or args.arch == "contrastive-cnn":
        args.fine_tune_epochs = 0
    if min(args.epochs, args.steps_per_epoch, args.batch_p - 1, args.batch_k - 1) < 1:
        parser.error("need --epochs, --steps-per-epoch >= 1 and --batch-p, --batch-k >= 2")
    if args.distill_weight < 0:
        parser.error("--distill-weight must be >= 0")
    return args


class Run:
    """Model, optimizer and bookkeeping of one training run."""

    def __init__(self, args, recipe: Recipe, out: Path):
        from recognition.ml.training.networks import LOSSES, tensorflow

        self.tf, self.keras = tensorflow()
        self.args, self.recipe, self.out = args, recipe, out
        self.keras.utils.set_random_seed(args.seed)
        self.backbone_handle = None
        self.teacher = None  # dlib-resnet embeddings of the training crops, when distilling
        self.model = self.build_model()
        self.generator = self.tf.random.Generator.from_seed(args.seed)
        margin = recipe.loss_margin
        self.loss_fn = lambda emb, labels: LOSSES[recipe.loss](emb, labels, margin)
        self.state = {
            "epochs_done": 0,
            "stage": 1,
            "stale": 0,
            "best_auc": None,
            "best_epoch": None,
            "history": [],
            "arch": recipe.arch,
            "seconds": 0.0,
        }
        self.start_stage(1)

    def build_model(self):
        if self.recipe.arch == "contrastive-cnn":
            from recognition.ml.training.networks import build_contrastive_cnn

            return build_contrastive_cnn(input_size=self.recipe.input_size)
        from recognition.ml.runtime.embedders.mobilenet import build_mobilenetv2_embedding_model

        self.backbone_handle = self.args.backbone
        # Built trainable so stage 2 can unfreeze it; stage 1 freezes the layer.
        return build_mobilenetv2_embedding_model(self.backbone_handle, trainable_backbone=True)

    def start_stage(self, stage: int) -> None:
        """Freeze or unfreeze the backbone, and a fresh optimizer and step for that stage."""
        from recognition.ml.training.networks import make_train_step

        if self.recipe.arch == "mobilenetv2-triplet":
            self.model.get_layer("backbone").trainable = stage == 2
        lr = self.args.lr * (FINE_TUNE_LR_FACTOR if stage == 2 else 1.0)
        self.optimizer = self.keras.optimizers.Adam(learning_rate=lr)
        self.optimizer.build(self.model.trainable_variables)
        self.step = make_train_step(
            self.model,
            self.loss_fn,
            self.optimizer,
            self.generator,
            use_augmentation=not self.args.no_augment,
            distill_weight=self.args.distill_weight,
        )
        self.state["stage"] = stage

    def checkpoint(self, with_optimizer: bool = True):
        parts = {"model": self.model, "generator": self.generator}
        if with_optimizer:
            parts["optimizer"] = self.optimizer
        return self.tf.train.Checkpoint(**parts)

    def resume(self) -> bool:
        state = train_io.read_state(self.out)
        if state is None:
            return False
        if state.get("arch") != self.recipe.arch:
            raise CliError(
                f"{self.out} holds a {state.get('arch')} checkpoint, not {self.recipe.arch}"
            )
        if state["stage"] != 1:
            self.start_stage(state["stage"])
        train_io.restore_checkpoint(self.out, self.checkpoint())
        self.state = state
        logger.info(
            "resuming after epoch %d (optimizer step %d)",
            state["epochs_done"],
            int(self.optimizer.iterations.numpy()),
        )
        return True

    def stage_of(self, epoch: int) -> int:
        return 1 if epoch < self.args.epochs else 2

    def train_epoch(self, faces: FaceSet, epoch: int) -> float:
        from tqdm import tqdm

        args = self.args
        rng = np.random.default_rng([args.seed, epoch])
        losses = []
        teacher = self.teacher
        if teacher is None:  # a placeholder the compiled step ignores
            teacher = np.zeros((len(faces), 128), np.float32)
        bar = tqdm(
            range(args.steps_per_epoch),
            desc=f"epoch {epoch + 1}",
            unit="step",
            file=sys.stderr,
            disable=args.quiet,
            leave=False,
        )
        for _ in bar:
            batch = pk_batch(faces.labels, args.batch_p, args.batch_k, rng)
            loss = float(self.step(faces.crops[batch], faces.labels[batch], teacher[batch]))
            losses.append(loss)
            bar.set_postfix(loss=f"{loss:.4f}")
        bar.close()
        return float(np.mean(losses))

    def validate(self, val: FaceSet, batches: list[np.ndarray]) -> tuple[float, float]:
        from recognition.ml.training.networks import embed_crops

        embeddings = embed_crops(self.model, val.crops)
        genuine, impostor = pair_scores(embeddings, val.labels)
        losses = [
            float(self.loss_fn(self.tf.constant(embeddings[b]), self.tf.constant(val.labels[b])))
            for b in batches
        ]
        return float(np.mean(losses)), roc_auc(genuine, impostor)

    def record(self, epoch: int, train_loss: float, val_loss: float, val_auc: float, seconds):
        state = self.state
        state["history"].append(
            {
                "epoch": epoch + 1,
                "stage": state["stage"],
                "train_loss": train_loss,
                "val_loss": val_loss,
                "val_auc": val_auc,
                "seconds": seconds,
                "lr": float(self.optimizer.learning_rate.numpy()),
                "optimizer_step": int(self.optimizer.iterations.numpy()),
            }
        )
        if state["best_auc"] is None or val_auc > state["best_auc"]:
            state.update(best_auc=val_auc, best_epoch=epoch + 1, stale=0)
            train_io.save_best(self.out, self.checkpoint(with_optimizer=False))
        else:
            state["stale"] += 1
        state["epochs_done"] = epoch + 1
        state["seconds"] += seconds
        train_io.save_checkpoint(self.out, self.checkpoint(), state)

    def enter_stage_2(self) -> None:
        """Fine-tuning starts from the best head, not the last one."""
        train_io.restore_checkpoint(self.out, self.checkpoint(with_optimizer=False), "best")
        self.start_stage(2)
        self.state["stale"] = 0

    def fit(self, train: FaceSet, val: FaceSet) -> None:
        args = self.args
        val_batches = fixed_batches(
            val.labels, args.batch_p, args.batch_k, VAL_LOSS_BATCHES, args.seed
        )
        total = args.epochs + args.fine_tune_epochs
        for epoch in range(self.state["epochs_done"], total):
            if self.stage_of(epoch) != self.state["stage"]:
                self.enter_stage_2()
            if self.state["stale"] >= args.patience:
                continue  # this stage stopped early; skip to the next one
            started = time.perf_counter()
            train_loss = self.train_epoch(train, epoch)
            val_loss, val_auc = self.validate(val, val_batches)
            seconds = time.perf_counter() - started
            self.record(epoch, train_loss, val_loss, val_auc, seconds)
            logger.warning(
                "epoch %d/%d stage %d: train loss %.4f, val loss %.4f, val AUC %.4f (%.0f s)",
                epoch + 1,
                total,
                self.state["stage"],
                train_loss,
                val_loss,
                val_auc,
                seconds,
            )

    def export(self, train: FaceSet, val: FaceSet, command: str) -> Path:
        train_io.restore_checkpoint(self.out, self.checkpoint(with_optimizer=False), "best")
        train_io.export_model(self.model, self.out)
        history = self.state["history"]
        train_io.write_json(self.out / train_io.HISTORY_FILE, history)
        train_io.plot_history(history, self.out / train_io.PLOT_FILE)
        train_io.write_metadata(self.out, self.metadata(train, val, command))
        return self.out

    def metadata(self, train: FaceSet, val: FaceSet, command: str) -> dict:
        from recognition.ml.runtime.embedders.mobilenet import base_metadata

        args, recipe, state = self.args, self.recipe, self.state
        version = f"{recipe.arch}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"
        metadata = base_metadata(self.backbone_handle or "", trained=True, version=version)
        metadata.update(
            name=recipe.embedder,
            embedder=recipe.embedder,
            input_size=recipe.input_size,
            margin=recipe.margin,
        )
        if recipe.arch == "contrastive-cnn":
            del metadata["backbone_handle"]
            metadata["input"] = "float32 RGB in [0, 1], made grayscale inside the model"
            metadata["distance"] = "euclidean between unit vectors (monotone in cosine)"
        metadata["training"] = {
            "command": command,
            "arch": recipe.arch,
            "loss": recipe.loss,
            "loss_margin": recipe.loss_margin,
            "data": {"train": summary(args.data, train), "val": summary(args.val, val)},
            "epochs_run": len(state["history"]),
            "epochs_planned": {"stage1": args.epochs, "stage2_fine_tune": args.fine_tune_epochs},
            "best_epoch": state["best_epoch"],
            "best_val_auc": state["best_auc"],
            "hyperparameters": hyperparameters(args),
            "device": self.device(),
            "seconds": round(state["seconds"], 1),
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        return metadata

    def device(self) -> str:
        gpus = self.tf.config.list_physical_devices("GPU")
        return f"GPU x{len(gpus)}" if gpus else "CPU"


def summary(folder: str, faces: FaceSet) -> dict:
    keep = ("identities", "images", "images_tried", "no_face", "identities_dropped")
    return {"folder": str(folder), **{k: faces.summary[k] for k in keep if k in faces.summary}}


def hyperparameters(args) -> dict:
    names = (
        "steps_per_epoch",
        "batch_p",
        "batch_k",
        "lr",
        "mining",
        "max_per_identity",
        "val_max_per_identity",
        "patience",
        "seed",
        "no_augment",
        "freeze_backbone_only",
        "distill_weight",
    )
    values = {name: getattr(args, name) for name in names}
    values["fine_tune_lr"] = args.lr * FINE_TUNE_LR_FACTOR if args.fine_tune_epochs else None
    return values


def load_sets(args, recipe: Recipe) -> tuple[FaceSet, FaceSet]:
    detector = training_detector_from_args(args)
    common = dict(
        size=recipe.input_size,
        margin=recipe.margin,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
    )
    train = load_faces(args.data, detector, max_per_identity=args.max_per_identity, **common)
    val = load_faces(args.val, detector, max_per_identity=args.val_max_per_identity, **common)
    if set(train.names) & set(val.names):
        logger.warning("training and validation folders share identities")
    return train, val


def train(argv=None) -> Run:
    """Everything main does; returns the finished run (its model holds the exported weights)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    out = Path(args.out)
    if not args.resume and train_io.read_state(out) is not None:
        raise CliError(f"{out} holds a checkpoint: pass --resume, or choose another --out")
    recipe = recipe_for(args)
    train_set, val_set = load_sets(args, recipe)
    run = Run(args, recipe, out)
    if args.distill_weight:
        from recognition.ml.training.teacher import teacher_embeddings

        run.teacher = teacher_embeddings(
            train_set, training_detector_from_args(args), not args.quiet
        )
    if args.resume and not run.resume():
        logger.warning("no checkpoint in %s; starting afresh", out)
    logger.warning(
        "training %s on %d identities / %d faces (%s)",
        recipe.arch,
        train_set.identities,
        len(train_set),
        run.device(),
    )
    run.fit(train_set, val_set)
    run.export(train_set, val_set, "python -m recognition.ml.training.train " + shlex.join(argv))
    if not args.no_calibrate:
        calibrate_artifact(args, recipe.embedder, out)
    return run


def main(argv=None) -> None:
    print(train(argv).out)


if __name__ == "__main__":
    run_cli(main)
