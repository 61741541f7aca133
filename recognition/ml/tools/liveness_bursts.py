"""Generate an evaluation set of liveness bursts: genuine head movements and rendered attacks.

    python -m recognition.ml.tools.liveness_bursts --orl ../shared/datasets/orl-dev \\
        --celeba ../shared/datasets/celeba-dev/val --yunet-model YUNET.onnx \\
        --out var/liveness-bursts --seed 0

Genuine bursts come from real pose changes: the ten ORL photos of one person (one sitting, real
head turns) upscaled to gate-camera size, with small in-plane moves, blur, noise and JPEG.
- genuine_turn: from the person's most central photo towards their most turned one in one
  direction, as a person answering a "turn your head" prompt would; the prompt is the direction
  they actually turned. Person-directions whose sitting has no turn of at least --min-turn are
  not generated (listed in manifest.json).
- genuine_free: photos of the person in random order (unprompted movement).
Attacks render ONE still photo of the person (ORL) or of a celeba-dev identity on a card moved in
3D before a pinhole camera (55-75 degree field of view), the attacker turning the card the way the
prompt says: print (flat paper), print_bent (paper curved into a cylinder), screen (a phone's
pixel grid, which aliases into moire, with its white point, gamma, glare and a re-compressed
JPEG), and replay (a genuine_turn burst of the person played on a moving screen, its turn
matching the prompt only by chance).

People are split in halves (ORL s1, s3, ... and every other celeba identity are "tune", the rest
"test") so thresholds are never tuned on the people they are reported on. Every burst is a pure
function of (--seed, its id): the same command writes the same bytes. Output:
OUT/<split>/<burst id>/{00.jpg, 01.jpg, ..., burst.json} and OUT/manifest.json. Write it under
/tmp or var/ (gitignored): generated images are never committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from recognition.ml.runtime.detection import DetectedFace, YuNetDetector
from recognition.ml.runtime.liveness_geometry import (
    LandmarkPredictor68,
    burst_geometry,
    to_grey,
)
from recognition.ml.tools import liveness_render as render
from recognition.ml.tools.cli import CliError, run_cli

SPLITS = ("tune", "test")
DIRECTIONS = {"left": 1, "right": -1}  # sign of the nose's move in x (see liveness_geometry)
GENUINE_FACE_PX = 220  # median YuNet box width of an ORL photo at 3x; attacks are sized alike


@dataclass
class Settings:
    seed: int = 0
    frames: int = 6
    upscale: int = 3
    min_turn: float = 0.08
    turn_variants: int = 4
    free_variants: int = 4
    attack_variants: int = 6
    celeba_variants: int = 2
    replay_variants: int = 2
    people: int = 0  # 0: all
    identities: int = 0  # 0: all


@dataclass
class Person:
    name: str
    split: str
    photos: list[np.ndarray]  # upscaled BGR uint8
    turn: np.ndarray  # nose shift in x of each photo relative to photo 0
    faces: list = field(default_factory=list)  # DetectedFace per photo


def burst_rng(seed: int, burst_id: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{burst_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def numbered(directory: Path) -> list[Path]:
    return sorted(directory.iterdir(), key=lambda p: int("".join(c for c in p.name if c.isdigit())))


def load_person(directory: Path, split: str, upscale: int, detector, predictor) -> Person:
    photos, faces, landmarks = [], [], []
    for path in numbered(directory):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"cannot read {path}")
        image = cv2.resize(image, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
        found = detector.detect(image)
        if not found:
            continue
        photos.append(image)
        faces.append(found[0])
        landmarks.append(predictor.predict(to_grey(image), found[0]))
    turn = burst_geometry(landmarks).nose_shift[:, 0]
    return Person(directory.name, split, photos, turn, faces)


def turn_path(person: Person, direction: int) -> list[int]:
    """Photo indices from the most central pose towards the most turned one in `direction`."""
    centre = int(np.argmin(np.abs(person.turn - np.median(person.turn))))
    along = direction * (person.turn - person.turn[centre])
    ahead = [i for i in np.argsort(along) if along[i] > 0]
    return [centre, *ahead]


def sample_path(rng: np.random.Generator, path: list[int], frames: int) -> list[int]:
    """`frames` indices moving monotonically along the path, sometimes skipping poses."""
    keep = [path[0]] + [i for i in path[1:-1] if rng.random() < 0.7] + path[-1:]
    positions = np.linspace(0, len(keep) - 1, frames) + rng.uniform(-0.3, 0.3, frames)
    positions = np.clip(np.sort(positions), 0, len(keep) - 1)
    return [keep[int(round(p))] for p in positions]


def genuine_frames(rng, person: Person, indices: list[int]) -> list[np.ndarray]:
    frames = []
    for index in indices:
        moved = render.similarity_jitter(rng, person.photos[index], 0.03, 0.04, 3.0)
        frames.append(render.camera_pipeline(rng, moved.astype(np.float32) / 255))
    return frames


@dataclass
class Still:
    """What an attacker shows: a photo (BGR uint8) and its detected face."""

    photo: np.ndarray
    face: DetectedFace


def card_for(rng, instrument: str, still: Still) -> tuple[np.ndarray, np.ndarray, float]:
    """The card texture a still becomes (print or screen), where its face centre lies in texels
    from the texture's centre, and how many texels the face spans."""
    scale = max(1.0, GENUINE_FACE_PX / still.face.box[2])
    photo = cv2.resize(still.photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    photo = photo.astype(np.float32) / 255
    if instrument == "screen":
        photo = render.jpeg(render.to_u8(photo), int(rng.integers(40, 91))).astype(np.float32)
        screen_px = int(rng.integers(250, 601))
        texture = render.screen_texture(rng, photo / 255, screen_px)
        if rng.random() < 0.6:
            texture = render.add_glare(rng, texture, rng.uniform(0.2, 0.7))
        border, colour = rng.uniform(0.02, 0.08), 0.02  # a phone's black bezel
    else:
        texture = render.print_texture(rng, photo)
        if rng.random() < 0.3:
            texture = render.add_glare(rng, texture, rng.uniform(0.1, 0.4))  # glossy paper
        border, colour = rng.uniform(0.0, 0.06), rng.uniform(0.85, 0.95)  # a white margin
    texels_per_px = scale * texture.shape[1] / photo.shape[1]
    framed = render.framed(texture, border, colour)
    centre = still.face.landmarks.astype(np.float64).mean(axis=0) * texels_per_px
    offset = centre - np.array(texture.shape[1::-1]) / 2  # the border keeps the centre
    return framed, offset, still.face.box[2] * texels_per_px


def card_trajectory(rng, direction: int, frames: int) -> list[render.CardPose]:
    """The attacker's hand: a start pose and an end pose turned the way the prompt says (or, one
    time in four, only wobbling), with tremor on every frame."""
    start = np.array(
        [
            rng.uniform(-15, 15),
            rng.uniform(-10, 10),
            rng.uniform(-8, 8),
            0,
            0,
            rng.uniform(0.3, 0.55),
        ]
    )
    # A card turned with its normal towards +x looks turned to the subject's left: negative yaw.
    turn = -direction * rng.uniform(15, 45) if rng.random() < 0.75 else rng.uniform(-8, 8)
    change = np.array(
        [
            turn,
            rng.uniform(-10, 10),
            rng.uniform(-8, 8),
            rng.uniform(-0.02, 0.02),
            rng.uniform(-0.02, 0.02),
            start[5] * rng.uniform(-0.1, 0.1),
        ]
    )
    tremor_sd = np.array([1.5, 1.5, 1.0, 0.003, 0.003, 0.005])
    return [
        render.CardPose(*(start + t * change + rng.normal(0, tremor_sd)))
        for t in np.linspace(0, 1, frames)
    ]


def attack_frames(
    rng, kind: str, stills: list[Still], direction: int, frames: int, size: tuple[int, int]
) -> tuple[list[np.ndarray], dict]:
    """Frames of one attack. `stills` holds one photo (print, print_bent, screen) or one per
    frame (replay: a video of the person on the screen)."""
    width, height = size
    camera = render.Camera.with_field_of_view(width, height, rng.uniform(55, 75))
    background = render.scene_background(rng, camera)
    poses = card_trajectory(rng, direction, frames)
    bend = float(rng.choice([-1, 1]) * rng.uniform(0.6, 2.0)) if kind == "print_bent" else np.inf
    instrument = "print" if kind.startswith("print") else "screen"
    display_seed = int(rng.integers(2**62))  # one display (and print) for the whole burst
    face_px = GENUINE_FACE_PX * rng.uniform(0.85, 1.1)
    shift = rng.uniform(-0.08, 0.08, size=2) * (width, height)
    out = []
    for k, pose in enumerate(poses):
        if k == 0 or len(stills) > 1:
            still = stills[min(k, len(stills) - 1)]
            texture, offset, face_texels = card_for(
                np.random.default_rng(display_seed), instrument, still
            )
        if k == 0:  # the card's size is fixed by where the attacker first holds it
            metres_per_texel = face_px * pose.z / (camera.focal * face_texels)
        card = render.Card(texture, metres_per_texel, bend * texture.shape[1] * metres_per_texel)
        # The hand turns the card about the face (pose x, y, z is where the face centre goes,
        # near the image centre), not about the card's centre.
        aim = np.array([*(shift * pose.z / camera.focal), pose.z])
        face_on_card = np.array([*(offset * metres_per_texel), 0.0])
        centre = aim + np.array([pose.x, pose.y, 0.0]) - pose.rotation() @ face_on_card
        placed = render.CardPose(pose.yaw, pose.pitch, pose.roll, *centre)
        image, _ = render.render_card(card, placed, camera, background)
        out.append(render.camera_pipeline(rng, image))
    params = {
        "fov_deg": round(float(np.degrees(2 * np.arctan(width / 2 / camera.focal))), 1),
        "card_yaw_deg": [round(p.yaw, 1) for p in poses],
        "bend_card_widths": None if not np.isfinite(bend) else round(bend, 2),
    }
    return out, params


def write_burst(root: Path, burst: dict, frames: list[np.ndarray], rng) -> None:
    directory = root / burst["split"] / burst["id"]
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for k, frame in enumerate(frames):
        name = f"{k:02d}.jpg"
        cv2.imwrite(
            str(directory / name), frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 96))]
        )
        names.append(name)
    burst["frames"] = names
    (directory / "burst.json").write_text(json.dumps(burst, indent=1, sort_keys=True) + "\n")


def celeba_stills(celeba: Path, detector, count: int) -> dict[str, tuple[str, list[Still]]]:
    """Every identity's photos with a face, split alternately into tune / test."""
    identities = sorted(p for p in celeba.iterdir() if p.is_dir())
    if count:
        identities = identities[:count]
    out = {}
    for index, directory in enumerate(identities):
        stills = []
        for path in sorted(directory.glob("*.jpg")):
            photo = cv2.imread(str(path), cv2.IMREAD_COLOR)
            found = detector.detect(photo) if photo is not None else []
            if photo is not None and found and found[0].box[2] >= 40:
                stills.append(Still(photo, found[0]))
        if stills:
            out[directory.name] = (SPLITS[index % 2], stills)
    return out


def generate(args: argparse.Namespace, settings: Settings) -> dict:
    detector = YuNetDetector(args.yunet_model)
    predictor = LandmarkPredictor68(args.predictor)
    people_dirs = numbered(Path(args.orl))
    if settings.people:
        people_dirs = people_dirs[: settings.people]
    people = [
        load_person(d, SPLITS[i % 2], settings.upscale, detector, predictor)
        for i, d in enumerate(people_dirs)
    ]
    celeba = celeba_stills(Path(args.celeba), detector, settings.identities) if args.celeba else {}
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    skipped: list[dict] = []
    jobs = []
    for person in people:
        jobs.extend(person_jobs(person, settings, skipped))
    size = (92 * settings.upscale, 112 * settings.upscale)  # ORL's 92x112 photos, upscaled
    for identity, (split, stills) in celeba.items():
        for kind in ("print", "print_bent", "screen"):
            for v in range(settings.celeba_variants):
                burst = attack(identity, split, f"celeba{identity}-{kind}-{v}", kind, "celeba", v)
                jobs.append((burst, still_attack, (burst, stills, settings.frames, size)))
    counts: dict[str, int] = {}
    for burst, make, make_args in jobs:
        rng = burst_rng(settings.seed, burst["id"])
        frames, burst["params"] = make(rng, *make_args)
        write_burst(out, burst, frames, rng)
        key = f"{burst['split']}/{burst['kind']}"
        counts[key] = counts.get(key, 0) + 1
    manifest = {
        "generator": "recognition.ml.tools.liveness_bursts",
        "settings": vars(settings),
        "splits": {
            split: {
                "orl": [p.name for p in people if p.split == split],
                "celeba": [i for i, (s, _) in celeba.items() if s == split],
            }
            for split in SPLITS
        },
        "counts": dict(sorted(counts.items())),
        "skipped_genuine_turns": skipped,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def person_jobs(person: Person, settings: Settings, skipped: list[dict]) -> list[tuple]:
    """(burst, make, args) for every burst of one ORL person; make(rng, *args) renders it."""
    jobs: list[tuple[dict, Callable[..., Any], tuple]] = []
    paths = {}
    for name, sign in DIRECTIONS.items():
        path = turn_path(person, sign)
        amount = float(sign * (person.turn[path[-1]] - person.turn[path[0]]))
        if amount < settings.min_turn:
            skipped.append({"person": person.name, "direction": name, "turn": round(amount, 3)})
            continue
        paths[name] = path
        for v in range(settings.turn_variants):
            burst = genuine(person, f"{person.name}-turn-{name}-{v}", "genuine_turn", name)
            jobs.append((burst, turn_burst, (person, path, settings.frames)))
    for v in range(settings.free_variants):
        burst = genuine(person, f"{person.name}-free-{v}", "genuine_free", None)
        jobs.append((burst, free_burst, (person, settings.frames)))
    stills = [Still(photo, face) for photo, face in zip(person.photos, person.faces, strict=True)]
    size = person.photos[0].shape[1::-1]
    for kind in ("print", "print_bent", "screen"):
        for v in range(settings.attack_variants):
            burst = attack(person.name, person.split, f"{person.name}-{kind}-{v}", kind, "orl", v)
            jobs.append((burst, still_attack, (burst, stills, settings.frames, size)))
    for v in range(settings.replay_variants if paths else 0):
        burst = attack(person.name, person.split, f"{person.name}-replay-{v}", "replay", "orl", v)
        jobs.append((burst, replay_attack, (burst, stills, paths, settings.frames, size)))
    return jobs


def genuine(person: Person, burst_id: str, kind: str, challenge: str | None) -> dict:
    return {
        "id": burst_id,
        "split": person.split,
        "label": "genuine",
        "kind": kind,
        "source": "orl",
        "subject": person.name,
        "challenge": challenge,
    }


def attack(subject: str, split: str, burst_id: str, kind: str, source: str, variant: int) -> dict:
    challenge = "left" if variant % 2 == 0 else "right"  # the prompt the attacker was given
    return {
        "id": burst_id,
        "split": split,
        "label": "attack",
        "kind": kind,
        "source": source,
        "subject": subject,
        "challenge": challenge,
    }


def turn_burst(rng, person: Person, path: list[int], frames: int):
    indices = sample_path(rng, path, frames)
    return genuine_frames(rng, person, indices), {"photos": [int(i) + 1 for i in indices]}


def free_burst(rng, person: Person, frames: int):
    indices = [int(i) for i in rng.permutation(len(person.photos))[:frames]]
    while len(indices) < frames:
        indices.append(indices[-1])
    return genuine_frames(rng, person, indices), {"photos": [i + 1 for i in indices]}


def still_attack(rng, burst: dict, stills: list[Still], frames: int, size):
    """One still photo, the card turned the way the burst's prompt says."""
    choice = int(rng.integers(len(stills)))
    direction = DIRECTIONS[burst["challenge"]]
    out, params = attack_frames(rng, burst["kind"], [stills[choice]], direction, frames, size)
    params["still"] = choice
    return out, params


def replay_attack(rng, burst: dict, stills: list[Still], paths: dict, frames: int, size):
    """A recorded genuine turn of the person on a screen, whichever way the prompt says."""
    recorded = sorted(paths)[int(rng.integers(len(paths)))]
    indices = sample_path(rng, paths[recorded], frames)
    direction = DIRECTIONS[burst["challenge"]] if rng.random() < 0.5 else 0
    shown = [stills[i] for i in indices]
    out, params = attack_frames(rng, "replay", shown, direction, frames, size)
    params["recorded_turn"] = recorded
    return out, params


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orl", required=True, help="orl-dev folder: s1..s20/1.jpg..10.jpg")
    parser.add_argument("--celeba", default=None, help="celeba-dev/val (identity folders)")
    parser.add_argument("--yunet-model", required=True, help="YuNet ONNX file")
    parser.add_argument(
        "--predictor",
        default=None,
        help="dlib shape_predictor_68_face_landmarks.dat "
        "(default: the one face-recognition-models ships)",
    )
    parser.add_argument("--out", required=True, help="output folder (replaced); not in the repo")
    defaults = Settings()
    for name, value in vars(defaults).items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=type(value), default=value, help=f"default {value}")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.predictor is None:
        from recognition.ml.dlib.models import dlib_model_path

        args.predictor = dlib_model_path("shape_predictor_68_face_landmarks")
    if not Path(args.orl).is_dir():
        raise CliError(f"no such folder: {args.orl}")
    settings = Settings(**{name: getattr(args, name) for name in vars(Settings())})
    manifest = generate(args, settings)
    print(
        json.dumps(
            {
                "out": args.out,
                "counts": manifest["counts"],
                "skipped_genuine_turns": manifest["skipped_genuine_turns"],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    run_cli(main)
