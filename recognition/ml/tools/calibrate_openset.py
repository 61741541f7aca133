"""Open-set (1:N) calibration of a model: fit the stranger tail, study fusion, simulate gates.

    python -m recognition.ml.tools.calibrate_openset fit --train TRAIN.npz --val VAL.npz \\
        --model DIR [--write] --out fit.json
    python -m recognition.ml.tools.calibrate_openset fusion   --train ... --val ... --out f.json
    python -m recognition.ml.tools.calibrate_openset simulate --train ... --val ... --model DIR
    python -m recognition.ml.tools.calibrate_openset validate --train ... --val ... --model DIR
    python -m recognition.ml.tools.calibrate_openset capacity --model DIR --out capacity.json

TRAIN / VAL: recognition.ml.tools.embed outputs of two disjoint sets of identities the model
never saw (<identity>/<photo> folders). The tail is fitted on TRAIN only (every photo against
every other identity's templates); VAL is the gallery side of every check, TRAIN's photos its
strangers. Identity labels of one person under two names (median cross similarity as high as a
typical person's own) are excluded from the strangers and listed in the reports.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from recognition.ml.runtime.artifacts import ArtifactError, read_metadata, write_openset
from recognition.ml.runtime.openset import OpenSetCalibration
from recognition.ml.tools import openset_study as study
from recognition.ml.tools import openset_validation as validation
from recognition.ml.tools.cli import CliError, run_cli
from recognition.ml.tools.openset_data import load_embeddings, split_scores
from recognition.ml.tools.openset_fit import (
    bootstrap_check,
    duplicates_of,
    excluded_within,
    extrapolation_check,
    fit_block,
    identity_halves_check,
    look_alike_labels,
    threshold_stability,
)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("fit", "fusion", "simulate", "validate", "capacity"):
        sub = commands.add_parser(name)
        if name != "capacity":
            sub.add_argument("--train", required=True, help="embed .npz of the fit identities")
            sub.add_argument("--val", required=True, help="embed .npz of the gallery identities")
        if name != "fusion":
            sub.add_argument("--model", required=True, help="artifact directory")
        sub.add_argument("--out", required=True, help="JSON report to write")
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--margin", type=float, default=0.01, help="runner-up margin")
        sub.add_argument("--photos", type=int, default=2, help="enrollment photos per holder")
    fit = commands.choices["fit"]
    fit.add_argument("--write", action="store_true", help="store the block in metadata.json")
    fit.add_argument("--max-photos", type=int, default=5)
    fit.add_argument("--exceedance-rate", type=float, default=1e-3)
    fit.add_argument(
        "--extrapolate-decades", type=float, default=1.0, help="hard floor: 10^-d / pairs"
    )
    fit.add_argument(
        "--precision-factor",
        type=float,
        default=3.0,
        help="validity floor: where the bootstrap 5-95 %% band stays within this factor",
    )
    fit.add_argument("--bootstrap", type=int, default=200, help="bootstrap refits per tail")
    validate = commands.choices["validate"]
    validate.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    validate.add_argument("--galleries", type=int, default=60, help="synthetic fills per size")
    validate.add_argument(
        "--synthetic-strangers", type=int, default=200_000, help="method check: strangers"
    )
    capacity = commands.choices["capacity"]
    capacity.add_argument("--sizes", type=int, nargs="+", default=[50, 1000, 10000, 100000])
    return parser.parse_args(argv)


def load_sets(args):
    try:
        train, val = load_embeddings(args.train), load_embeddings(args.val)
    except (OSError, KeyError, ValueError) as exc:
        raise CliError(f"cannot read embeddings: {exc}") from None
    duplicates, cutoff = look_alike_labels(train, val)
    same_as_val = duplicates_of(duplicates, "train", "val")
    strangers = train.subset(~np.isin(train.labels, sorted(same_as_val)))
    info = {
        "train_identities": int(len(train.identities)),
        "train_photos_with_face": int(len(train.labels)),
        "train_photos_without_face": train.without_face,
        "val_identities": int(len(val.identities)),
        "val_photos_with_face": int(len(val.labels)),
        "val_photos_without_face": val.without_face,
        "look_alike_labels": duplicates,
        "look_alike_cutoff_median_similarity": cutoff,
        "train_identities_dropped_from_strangers": sorted(same_as_val),
        "stranger_photos": int(len(strangers.labels)),
    }
    return train, val, strangers, duplicates, info


def calibration(model: str) -> tuple[OpenSetCalibration, dict]:
    try:
        metadata = read_metadata(model)
        return OpenSetCalibration.from_metadata(metadata), metadata
    except ArtifactError as exc:
        raise CliError(str(exc)) from None


def run_fit(args) -> dict:
    train, val, _, duplicates, info = load_sets(args)
    block = fit_block(
        train,
        duplicates,
        max_photos=args.max_photos,
        exceedance_rate=args.exceedance_rate,
        extrapolate_decades=args.extrapolate_decades,
        precision_factor=args.precision_factor,
        bootstrap_draws=args.bootstrap,
        seed=args.seed,
    )
    excluded = excluded_within(duplicates, "train")
    strangers_k, _ = split_scores(
        train, args.photos, "template", np.random.default_rng(args.seed + args.photos), excluded
    )
    report = {
        "data": info,
        "block": block,
        "checks": {
            "photos": args.photos,
            "threshold_stability": threshold_stability(strangers_k),
            "extrapolation_from_10_percent_of_pairs": extrapolation_check(
                strangers_k, args.exceedance_rate, 0.1, np.random.default_rng(args.seed)
            ),
            "bootstrap": bootstrap_check(
                strangers_k, args.exceedance_rate, args.bootstrap, np.random.default_rng(args.seed)
            ),
            "identity_halves": [
                identity_halves_check(train, args.photos, args.exceedance_rate, excluded, seed)
                for seed in range(args.seed, args.seed + 5)
            ],
        },
    }
    if args.write:
        try:
            write_openset(args.model, block)
        except (ArtifactError, OSError) as exc:
            raise CliError(f"cannot write {args.model}: {exc}") from None
        report["written_to"] = str(Path(args.model) / "metadata.json")
    return report


def run_fusion(args) -> dict:
    train, val, strangers, duplicates, info = load_sets(args)
    excluded = excluded_within(duplicates, "train")
    return {
        "data": info,
        "holder_fusion": study.fusion_study(
            train, val, strangers, excluded, args.margin, seed=args.seed
        ),
    }


def run_simulate(args) -> dict:
    train, val, strangers, _, info = load_sets(args)
    cal, metadata = calibration(args.model)
    table = {
        name: float(metadata["thresholds"][_far_key(rate)]) for name, rate in study.LEVELS.items()
    }
    return {
        "data": info,
        "margin": args.margin,
        "target": study.simulate_target(
            cal, val, strangers, train, table, args.photos, args.margin
        ),
        "frames": study.frame_study(cal, val, strangers, args.photos, args.margin, seed=args.seed),
    }


def _far_key(rate: float) -> str:
    from recognition.ml.runtime.artifacts import far_key

    return far_key(rate)


def run_validate(args) -> dict:
    train, val, strangers, _, info = load_sets(args)
    cal, _ = calibration(args.model)
    return {
        "data": info,
        "real_gallery": validation.validate_real(cal, val, strangers, args.photos),
        "method_check": validation.method_check(
            validation.method_space(strangers, val, args.seed),
            fit_identities=len(train.identities),
            fit_photos=int(round(len(train.labels) / len(train.identities))),
            sizes=args.sizes,
            strangers=args.synthetic_strangers,
            photos=args.photos,
            exceedance_rate=cal.tail(args.photos).exceedance_rate,
            seed=args.seed,
        ),
        "fill_check": [
            validation.fill_check(
                cal,
                val,
                strangers,
                sizes=args.sizes,
                galleries=args.galleries,
                photos=args.photos,
                margin=args.margin,
                seed=args.seed,
                fill=fill,
            )
            for fill in ("tail-matched", "mean-matched")
        ],
    }


def run_capacity(args) -> dict:
    cal, _ = calibration(args.model)
    return {
        "photos": args.photos,
        "margin": args.margin,
        "table": study.capacity_table(cal, args.sizes, args.photos, args.margin),
        "largest_sensible_gallery": study.sensible_sizes(cal, args.photos, args.margin),
    }


COMMANDS = {
    "fit": run_fit,
    "fusion": run_fusion,
    "simulate": run_simulate,
    "validate": run_validate,
    "capacity": run_capacity,
}


def main(argv=None) -> None:
    args = parse_args(argv)
    report = COMMANDS[args.command](args)
    try:
        Path(args.out).write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc}") from None
    print(f"{args.command}: report written to {args.out}")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    run_cli(main)
