"""Write the untrained MobileNetV2 baseline artifact ("trained": false in its metadata).

    python -m recognition.ml.training.make_untrained_artifact --out DIR [--backbone HANDLE]
        [--seed 0]

HANDLE defaults to the public TF-Hub URL; a local SavedModel directory works offline.
"""

from __future__ import annotations

import argparse

from recognition.ml.runtime.config import PUBLIC_BACKBONE_HANDLE
from recognition.ml.tools.cli import run_cli


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="artifact directory to create")
    parser.add_argument(
        "--backbone", default=PUBLIC_BACKBONE_HANDLE, help="MobileNetV2 feature-vector handle"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random 128-d head")
    args = parser.parse_args(argv)
    from recognition.ml.runtime.embedders.mobilenet import create_untrained_artifact

    out = create_untrained_artifact(args.out, args.backbone, args.seed)
    print(out)


if __name__ == "__main__":
    run_cli(main)
