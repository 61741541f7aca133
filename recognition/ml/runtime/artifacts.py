"""Model artifact directories: weights plus a metadata.json that says how to use them.

metadata.json keys: name, version, embedder (kind), input_size, margin, alignment_template,
dimensions, thresholds ({"1e-2": similarity, ...}: accept when cosine similarity >= value for that
false accept rate), metrics, training, trained (bool), and optionally warning and openset.

openset (optional; written by `python -m recognition.ml.tools.calibrate_openset fit`, read by
recognition.ml.runtime.openset): the fused stranger-score tail and genuine scores by number of
enrollment photos, from which 1:N thresholds by gallery size and level follow. Keys: version,
method, fusion {holder, frames}, data, date, tails {"K": {u, exceedance_rate, shape, scale, body,
pairs, exceedances, min_probability}}, genuine {"K": {pairs, quantiles}}, validation.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

METADATA_FILE = "metadata.json"
REQUIRED_KEYS = {
    "name": str,
    "version": str,
    "embedder": str,
    "input_size": int,
    "margin": float,
    "alignment_template": str,
    "dimensions": int,
    "thresholds": dict,
    "metrics": dict,
    "training": dict,
    "trained": bool,
}
EMBEDDER_KINDS = ("mobilenetv2-siamese", "dlib-resnet", "contrastive-cnn")


class ArtifactError(ValueError):
    """An artifact directory that is missing, incomplete or inconsistent."""


def validate_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Check keys and types; returns the metadata so calls can be chained."""
    for key, kind in REQUIRED_KEYS.items():
        if key not in metadata:
            raise ArtifactError(f"metadata.json lacks {key!r}")
        value = metadata[key]
        numeric_ok = kind is float and isinstance(value, int) and not isinstance(value, bool)
        if not (isinstance(value, kind) or numeric_ok):
            raise ArtifactError(f"metadata.json {key!r} should be {kind.__name__}, got {value!r}")
    if metadata["embedder"] not in EMBEDDER_KINDS:
        raise ArtifactError(f"unknown embedder kind {metadata['embedder']!r}")
    if "openset" in metadata:
        check_openset_block(metadata["openset"])
    for far, similarity in metadata["thresholds"].items():
        float(far)  # keys are FARs written like "1e-3"
        if not -1.0 <= float(similarity) <= 1.0:
            raise ArtifactError(f"threshold for FAR {far} is not a cosine similarity")
    return metadata


def is_model_artifact(artifact_dir: str | Path) -> bool:
    """Whether the directory holds a face model (an embedder's metadata.json); other artifacts,
    such as the liveness thresholds, have a metadata.json of their own kind."""
    path = Path(artifact_dir) / METADATA_FILE
    try:
        return "embedder" in json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False


def read_metadata(artifact_dir: str | Path) -> dict[str, Any]:
    path = Path(artifact_dir) / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(f"{artifact_dir} is not a model artifact: {METADATA_FILE} is missing")
    try:
        metadata = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from None
    return validate_metadata(metadata)


def write_metadata(artifact_dir: str | Path, metadata: dict[str, Any]) -> Path:
    """Validate and write atomically, so a reader never sees half a file."""
    validate_metadata(metadata)
    directory = Path(artifact_dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / METADATA_FILE
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as handle:
        json.dump(metadata, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(handle.name, 0o644)  # NamedTemporaryFile creates 0600; readers may be other users
    os.replace(handle.name, target)
    return target


def far_key(far: float) -> str:
    """1e-3 -> "1e-3", the key format of the thresholds table."""
    mantissa, exponent = f"{far:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def write_thresholds(
    artifact_dir: str | Path, table: dict[str, float], metrics: dict[str, Any]
) -> dict[str, Any]:
    """Replace the thresholds table and metrics of an artifact; returns the new metadata."""
    metadata = read_metadata(artifact_dir)
    metadata["thresholds"] = {key: float(value) for key, value in table.items()}
    metadata["metrics"] = metrics
    write_metadata(artifact_dir, metadata)
    return metadata


def threshold_for(
    metadata: dict[str, Any], far: float, *, strictest_if_missing: bool = False
) -> float:
    """The similarity threshold measured for a false accept rate, e.g. 1e-3.

    A FAR the evaluation could not measure (too few impostor pairs) is an ArtifactError, or with
    strictest_if_missing the strictest threshold that was measured (what serving uses: never
    looser than asked)."""
    table = metadata["thresholds"]
    try:
        return float(table[far_key(far)])
    except KeyError:
        if strictest_if_missing and table:
            return float(table[min(table, key=float)])
        known = ", ".join(sorted(table)) or "none"
        raise ArtifactError(
            f"no threshold measured for FAR {far_key(far)} (known: {known}); "
            "run python -m recognition.ml.tools.evaluate --write-thresholds"
        ) from None


OPENSET_KEYS = ("version", "method", "fusion", "tails", "genuine")


def check_openset_block(block: Any) -> dict[str, Any]:
    """Shallow check of the openset block (recognition.ml.runtime.openset checks the numbers)."""
    if not isinstance(block, dict):
        raise ArtifactError("metadata.json 'openset' should be an object")
    missing = [key for key in OPENSET_KEYS if key not in block]
    if missing:
        raise ArtifactError(f"metadata.json 'openset' lacks {', '.join(missing)}")
    for key in ("fusion", "tails", "genuine"):
        if not isinstance(block[key], dict) or not block[key]:
            raise ArtifactError(f"metadata.json 'openset' {key!r} should be a non-empty object")
    return block


def openset_block(metadata: dict[str, Any]) -> dict[str, Any]:
    """The open-set calibration of a model (1:N thresholds by gallery size)."""
    if "openset" not in metadata:
        raise ArtifactError(
            f"model {metadata.get('name')} has no open-set calibration; run "
            "python -m recognition.ml.tools.calibrate_openset fit --model DIR"
        )
    return check_openset_block(metadata["openset"])


def write_openset(artifact_dir: str | Path, block: dict[str, Any]) -> dict[str, Any]:
    """Replace the openset block of an artifact; returns the new metadata."""
    metadata = read_metadata(artifact_dir)
    metadata["openset"] = block
    write_metadata(artifact_dir, metadata)
    return metadata


# The shipping rule: a trained candidate becomes the default face model only if, on the same
# validation identities, its ROC AUC is within 0.005 of the reference's (dlib-resnet) and its
# TAR at FAR 1e-3 within 0.03. Otherwise it ships registered but inactive.
SHIPPING_MAX_AUC_GAP = 0.005
SHIPPING_MAX_TAR_GAP = 0.03
SHIPPING_FAR = "1e-3"


def tar_from_metrics(metrics: dict[str, Any], far: str = SHIPPING_FAR) -> float | None:
    """TAR at a FAR from a metadata "metrics" block (evaluate writes a row, older ones a number)."""
    row = metrics.get("tar_at_far", {}).get(far)
    if isinstance(row, dict):
        row = row.get("tar")
    return None if row is None else float(row)


def shipping_gaps(candidate: dict[str, Any], reference: dict[str, Any]) -> dict[str, float] | None:
    """How far the candidate's metrics fall short of the reference's (positive: worse); None
    when either lacks ROC AUC or TAR at FAR 1e-3 (an unevaluated model never ships)."""
    values = [candidate.get("roc_auc"), reference.get("roc_auc")]
    values += [tar_from_metrics(candidate), tar_from_metrics(reference)]
    if any(value is None for value in values):
        return None
    auc, ref_auc, tar, ref_tar = (float(value) for value in values if value is not None)
    return {"roc_auc": ref_auc - auc, "tar_at_far_1e-3": ref_tar - tar}


def meets_shipping_rule(candidate: dict[str, Any], reference: dict[str, Any]) -> bool:
    gaps = shipping_gaps(candidate, reference)
    return (
        gaps is not None
        and gaps["roc_auc"] <= SHIPPING_MAX_AUC_GAP
        and gaps["tar_at_far_1e-3"] <= SHIPPING_MAX_TAR_GAP
    )
