"""Files of a training run: resumable checkpoint, history, plot and the exported artifact.

OUT/checkpoint/latest.*   weights, optimizer (its step included) and augmentation RNG state
OUT/checkpoint/best.*     weights of the best epoch by validation ROC AUC
OUT/checkpoint/state.json epochs done, stage, early-stopping counters, history
OUT/model/, OUT/metadata.json, OUT/history.json, OUT/training.png   the artifact
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from recognition.ml.runtime import artifacts

logger = logging.getLogger(__name__)
CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.json"
HISTORY_FILE = "history.json"
PLOT_FILE = "training.png"


def write_json(path: Path, data: Any) -> None:
    """Atomic, so an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)


def read_state(out: Path) -> dict | None:
    path = out / CHECKPOINT_DIR / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def save_checkpoint(out: Path, checkpoint, state: dict) -> None:
    """Weights first, then the state that points at them."""
    directory = out / CHECKPOINT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    checkpoint.write(str(directory / "latest"))
    write_json(directory / STATE_FILE, state)


def restore_checkpoint(out: Path, checkpoint, name: str = "latest") -> None:
    checkpoint.read(str(out / CHECKPOINT_DIR / name)).expect_partial()


def save_best(out: Path, model_checkpoint) -> None:
    model_checkpoint.write(str(out / CHECKPOINT_DIR / "best"))


def has_best(out: Path) -> bool:
    return (out / CHECKPOINT_DIR / "best.index").is_file()


def write_metadata(out: Path, metadata: dict[str, Any]) -> None:
    """artifacts.write_metadata, except for embedder kinds artifacts.py does not know yet: those
    are validated with a known kind in their place and written as they are."""
    if metadata["embedder"] in artifacts.EMBEDDER_KINDS:
        artifacts.write_metadata(out, metadata)
        return
    artifacts.validate_metadata({**metadata, "embedder": artifacts.EMBEDDER_KINDS[0]})
    logger.warning(
        "embedder kind %r is not in artifacts.EMBEDDER_KINDS; metadata written unvalidated",
        metadata["embedder"],
    )
    write_json(out / artifacts.METADATA_FILE, metadata)


def plot_history(history: list[dict], out_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train")
    left.plot(epochs, [row["val_loss"] for row in history], marker="o", label="validation")
    left.set(xlabel="epoch", ylabel="loss", title="loss")
    left.legend()
    right.plot(epochs, [row["val_auc"] for row in history], marker="o", color="tab:green")
    right.set(xlabel="epoch", ylabel="ROC AUC", title="validation ROC AUC")
    for axis in (left, right):
        axis.grid(True, alpha=0.3)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    stages = [row["epoch"] for row in history if row["stage"] == 2]
    if stages:
        for axis in (left, right):
            axis.axvline(stages[0] - 0.5, color="grey", linestyle="--", label="fine-tune")
    figure.tight_layout()
    figure.savefig(out_path, dpi=110)
    plt.close(figure)


def export_model(model, out: Path) -> None:
    """The whole model as a SavedModel in OUT/model, like create_untrained_artifact."""
    from recognition.ml.runtime.embedders.mobilenet import MODEL_DIR

    model.save(out / MODEL_DIR, save_format="tf", include_optimizer=False)


def load_model(out: str | Path):
    """The exported tf-keras model of any training artifact (the hub layer registered)."""
    from recognition.ml.keras_compat import tensorflow_modules
    from recognition.ml.runtime.embedders.mobilenet import MODEL_DIR

    _, keras, hub = tensorflow_modules()
    return keras.models.load_model(
        Path(out) / MODEL_DIR, custom_objects={"KerasLayer": hub.KerasLayer}, compile=False
    )
