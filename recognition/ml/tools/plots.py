"""ROC and DET curves side by side, for evaluation reports."""

from __future__ import annotations

import numpy as np

from recognition.ml.tools.metrics import Roc

MAX_POINTS = 4000  # plenty for a curve; full curves have one point per distinct score


def plot_roc_det(roc: Roc, report: dict, out_path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers
    import matplotlib.pyplot as plt

    step = max(1, len(roc.far) // MAX_POINTS)
    far, tar = roc.far[::step], roc.tar[::step]
    floor = 1.0 / max(report["impostor_pairs"], 1)
    title = f"{report['embedder']} {report['embedder_version']} (AUC {report['roc_auc']:.4f})"
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.plot(np.maximum(far, floor), tar)
    left.set(xscale="log", xlabel="false accept rate", ylabel="true accept rate", title="ROC")
    right.plot(np.maximum(far, floor), np.maximum(1 - tar, floor))
    right.set(
        xscale="log",
        yscale="log",
        xlabel="false accept rate",
        ylabel="false reject rate",
        title=f"DET (EER {report['eer']:.4f})",
    )
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out_path, dpi=110)
    plt.close(figure)
