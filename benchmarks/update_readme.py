"""Regenerate the `make bench` section of benchmarks/README.md from benchmarks/results/*.json.

Only the text between `<!-- bench:start -->` and `<!-- bench:end -->` changes (the section is
appended when the markers are missing); the rest of the README is left alone.

    .venv/bin/python benchmarks/update_readme.py [--results DIR] [--readme FILE] [--print]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.strangers import table as strangers_table  # noqa: E402

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
SMALL_START, SMALL_END = "<!-- bench-small:start -->", "<!-- bench-small:end -->"
SEARCH_COLUMNS = (
    "event",
    "rows",
    "method",
    "ef_search",
    "p50_ms",
    "p95_ms",
    "recall_at_1",
    "recall_at_10",
)


def load(results: Path, name: str):
    path = results / f"{name}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def table(header: list[str], rows: list[list]) -> list[str]:
    def cell(value) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def model_name(entry: dict) -> str:
    name = entry.get("model") or "?"
    notes = []
    if entry.get("is_default"):
        notes.append("default")
    if entry.get("speed_only"):
        notes.append("untrained head: speed only")
    if entry.get("dlib_runtime"):
        notes.append(f"{entry['dlib_runtime']} runtime")
    return f"{name} ({', '.join(notes)})" if notes else name


def machine_line(run: dict | None, fallback: dict | None) -> str:
    m = (run or {}).get("machine") or fallback or {}
    parts = [m.get("cpu", "unknown CPU"), f"{m.get('cores', '?')} cores"]
    if m.get("ram_gib"):
        parts.append(f"{m['ram_gib']} GiB RAM")
    if m.get("platform"):
        parts.append(m["platform"])
    if m.get("python"):
        parts.append(f"Python {m['python']}")
    line = "Machine: " + ", ".join(parts)
    if m.get("load_average"):
        line += f"; load average at start {m['load_average'][0]}"
    if m.get("date"):
        line += f"; {m['date']}"
    return line + "."


def section_gate_latency(results: Path) -> list[str]:
    rows = []
    for path in sorted(results.glob("gate_latency*.json")):
        data = json.loads(path.read_text())
        entries = data.get("runs", [data]) if isinstance(data, dict) else data
        for entry in entries:
            if "-default" in path.stem:  # scripts/bench.sh names it by model spec
                entry = {**entry, "is_default": True}
            for mode, figures in (entry.get("modes") or {}).items():
                rows.append(
                    [
                        model_name(entry),
                        entry.get("holders_in_event"),
                        mode,
                        figures.get("requests"),
                        figures.get("p50_ms"),
                        figures.get("p95_ms"),
                        figures.get("p99_ms"),
                        ", ".join(
                            f"{code} x{n}" for code, n in (figures.get("http_status") or {}).items()
                        ),
                    ]
                )
    if not rows:
        return []
    return [
        "### Gate latency (one request at a time: Django request handler, gate worker, pgvector)",
        "",
        "`benchmarks/gate_latency.py`; frames 640x480 JPEG, one per request. `face_only`: "
        "searched in the copy of the event's faces the web process holds (recognition.gallery); "
        "`face_only_exact`: the same requests by exact search in PostgreSQL before the event's "
        "index was built; `face_only_hnsw`: through that index. The lanes after the index take "
        "turns in 5 rounds.",
        "",
        *table(
            ["Model", "Holders", "Lane", "Requests", "p50 ms", "p95 ms", "p99 ms", "HTTP"], rows
        ),
        "",
        *search_lines(results),
        *ratio_lines(results),
    ]


def ratio_lines(results: Path) -> list[str]:
    """The issue 17 ratios each gate latency run prints (benchmarks/gate_profile.py)."""
    lines = []
    for path in sorted(results.glob("gate_latency*.json")):
        ratios = json.loads(path.read_text()).get("ratios") or {}
        if ratios.get("ticket_and_face_over_face_compute") is not None:
            lines.append(
                f"- `{path.stem}`: ticket + face p50 / per-face compute "
                f"({ratios['per_face_compute_p50_ms']} ms) = "
                f"{ratios['ticket_and_face_over_face_compute']} (target ≤ 2.5); face-only p50 / "
                f"ticket + face p50 = {ratios.get('face_only_over_ticket_and_face')} "
                "(target ≤ 1.2)."
            )
    return lines


def search_lines(results: Path) -> list[str]:
    """The gate event's index and its recall@1 against exact search on real-face probes."""
    lines = []
    for path in sorted(results.glob("gate_latency*.json")):
        search = json.loads(path.read_text()).get("search") or {}
        if search.get("method") != "hnsw":
            continue
        built = (
            f"`{path.stem}`: the event's HNSW index (m {search.get('m')}, ef_construction "
            f"{search.get('ef_construction')}, ef_search {search.get('ef_search')}) over "
            f"{search.get('rows')} embeddings, built in {search.get('build_seconds')} s"
        )
        recall = search.get("recall_vs_exact") or {}
        if recall:
            built += "; recall@1 against exact search on real-face probes: " + ", ".join(
                f"ef_search {ef}: {r['recall_at_1']} ({r['misses']} misses of {r['probes']})"
                for ef, r in recall.items()
            )
        lines += [f"- {built}."]
    return [*lines, ""] if lines else []


def section_search_scale(data) -> list[str]:
    """search_scale.py's own shape is its author's: a list of flat rows is tabulated as is."""
    if not data:
        return []
    rows = None
    if isinstance(data, dict):
        for key in ("table", "rows", "results", "runs"):
            if isinstance(data.get(key), list) and data[key] and isinstance(data[key][0], dict):
                rows = data[key]
                break
    elif isinstance(data, list) and data and isinstance(data[0], dict):
        rows = data
    lines = ["### Search scale (exact search beside the HNSW index)", ""]
    if rows is None:
        return [*lines, "See `results/search_scale.json`.", ""]
    if any(r.get("path") == "nearest_holders" for r in rows):
        rows = [r for r in rows if r.get("path") == "nearest_holders"]
        lines += [
            "`benchmarks/search_scale.py`, the product's code path (`nearest_holders`); raw-SQL "
            "rows, index builds and the gallery's calibration are in `results/search_scale.json`.",
            "",
        ]
    flat = [{k: v for k, v in r.items() if not isinstance(v, dict | list)} for r in rows]
    header = list(dict.fromkeys(k for r in flat for k in r))
    preferred = [k for k in SEARCH_COLUMNS if k in header]
    header = preferred if len(preferred) >= 4 else header
    lines += [*table(header, [[r.get(k) for k in header] for r in flat]), ""]
    if isinstance(data, dict) and isinstance(data.get("recommendation"), dict):
        advice = data["recommendation"]
        lines += [
            "Recommendation: "
            + "; ".join(f"{k}: {v}" for k, v in advice.items() if not isinstance(v, dict | list)),
            "",
        ]
    return lines


def first_frame(warmup: dict) -> str:
    """How a fresh gate worker answered its first frame (it loads the model inside the task)."""
    frames = warmup.get("first_frame") or {}
    failed = [o for o in frames.values() if not o.get("ok")]
    if failed:
        error = failed[0].get("error", "failed").split(":")[0]
        return f"**failed** ({error} after {failed[0].get('seconds')} s); model preloaded"
    if frames:
        return "ok in " + ", ".join(f"{o.get('seconds')} s" for o in frames.values())
    return ""


def section_concurrency(data) -> list[str]:
    if not data:
        return []
    rows = []
    for run in data.get("runs", []):
        lat = run.get("latency", {})
        errors = ", ".join(f"{k} {v}" for k, v in run.get("errors", {}).items()) or "none"
        rows.append(
            [
                model_name(run),
                run.get("holders"),
                run.get("seconds"),
                run.get("decisions"),
                run.get("decisions_per_second"),
                lat.get("p50_ms"),
                lat.get("p95_ms"),
                lat.get("p99_ms"),
                errors,
                first_frame(run.get("warmup") or {}),
            ]
        )
    header = ["Model", "Holders", "Window s", "Decisions", "Decisions/s"]
    header += ["p50 ms", "p95 ms", "p99 ms", "Errors", "First frame after worker start"]
    return [
        f"### Concurrency: {data.get('clients')} gate clients over HTTP ({data.get('mode')} lanes)",
        "",
        f"`benchmarks/concurrency.py`: {data.get('web')}, {data.get('gate_workers')}; latency is "
        "the whole HTTP round trip. Target: no errors.",
        "",
        *table(header, rows),
        "",
    ]


def section_bulk(data) -> list[str]:
    if not data:
        return []
    rows = []
    for entry in data.get("models", []):
        scaling = entry.get("scaling_efficiency_2_vs_1")
        for run in entry.get("runs", []):
            rows.append(
                [
                    model_name(entry),
                    run.get("photos"),
                    run.get("worker_processes"),
                    run.get("photos_per_second"),
                    run.get("photos_per_second_per_process"),
                    scaling if run.get("worker_processes") == 2 else "",
                    run.get("claimed_more_than_once"),
                    run.get("deadlocks", "not counted"),
                ]
            )
    header = ["Model", "Photos", "Processes", "Photos/s", "Per process (target ≥ 40)"]
    header += ["Scaling 2 vs 1", "Claimed twice", "Deadlocks"]
    batch = {e.get("batch_size") for e in data.get("models", [])}
    return [
        "### Bulk enrollment: queued photos drained by worker processes",
        "",
        "`benchmarks/bulk_enrollment.py`: uploads through `enrollment_photo_create` (tasks queued "
        f"on commit), then {data.get('workers')}; batches of {', '.join(map(str, batch))}; "
        "first claim to last result. Scaling 2 vs 1 = rate with 2 / (2 x rate with 1).",
        "",
        *table(header, rows),
        "",
    ]


def section_memory(data) -> list[str]:
    if not data:
        return []
    rows = []
    for row in data.get("processes", []):
        loaded = ", ".join(k for k, v in (row.get("loaded") or {}).items() if v) or "none"
        target = row.get("target_mb")
        verdict = "" if target is None else ("yes" if row.get("within_target") else "**no**")
        rows.append(
            [
                row.get("process"),
                model_name(row) if row.get("model") else "–",
                row.get("rss_mb"),
                row.get("pss_mb"),
                f"≤ {target}" if target else "",
                verdict,
                loaded,
            ]
        )
    header = ["Process", "Model", "RSS MB", "PSS MB", "Target MB", "Within", "TF/dlib mapped"]
    return [
        "### Memory after work",
        "",
        "`benchmarks/memory.py`: gunicorn workers after requests to every part of the web "
        "process; worker pool processes after enrolling photos (model loaded).",
        "",
        *table(header, rows),
        "",
    ]


def section_strangers(data) -> list[str]:
    """Face-only gates probed by real strangers, measured beside the calibration's prediction."""
    if not data:
        return []
    lines = [
        "### Strangers at face-only gates (`benchmarks/strangers.py`)",
        "",
        f"Model {data['model']}, runner-up margin {data['margin']}. Holders: the 50 celeba-dev/val "
        "people with 2 enrollment photos, plus synthetic holders beyond 50; strangers: real "
        "celeba-dev/train photos (of the people behind no synthetic holder beyond 50). "
        "Predicted: the model's open-set calibration (`recognition/ml/runtime/openset.py`).",
        "",
        strangers_table(data),
        "",
    ]
    one = data.get("one_to_one")
    if one:
        rows = [
            [level, f"{r['genuine_admit_rate']:.3f} of {r['genuine_probes']}",
             f"{r['impostor_admits']} of {r['impostor_attempts']}"]
            for level, r in one.items()
        ]  # fmt: skip
        lines += [
            "Ticket + face (1:1) on the 50-holder gallery (2-photo templates):",
            "",
            *table(["level", "genuine admitted", "impostors admitted"], rows),
            "",
        ]
    return lines


def render(results: Path, small: bool = False) -> str:
    run = load(results, "bench_run")
    memory = load(results, "memory")
    concurrency = load(results, "concurrency")
    fallback = next(
        (d.get("machine") for d in (memory, concurrency, load(results, "bulk_enrollment")) if d),
        None,
    )
    folder = "benchmarks/results/small" if small else "benchmarks/results"
    title = (
        "## `make bench` results, small default sizes (a smoke run: the full-size figures are "
        "in the section above)"
        if small
        else "## `make bench FULL=1` results (the issue's sizes)"
    )
    lines = [
        SMALL_START if small else START,
        title,
        "",
        f"Generated by `benchmarks/update_readme.py` from `{folder}/*.json`; "
        f"`make bench{'' if small else ' FULL=1'}` (scripts/bench.sh) reruns everything and "
        "rewrites this section.",
        "",
        machine_line(run, fallback),
    ]
    if run:
        sizes = ", ".join(f"{k}={v}" for k, v in run.get("sizes", {}).items())
        lines += [
            "",
            f"Command: `{run.get('command', 'make bench')}` ({sizes}); "
            f"took {run.get('seconds', '?')} s.",
        ]
        if run.get("failed"):
            lines += [
                "",
                f"**Failed in this run** (older results may remain below): {run['failed']}.",
            ]
        if run.get("note"):
            lines += ["", run["note"]]
    lines.append("")
    lines += section_gate_latency(results)
    lines += section_strangers(load(results, "strangers"))
    lines += section_search_scale(load(results, "search_scale"))
    lines += section_concurrency(concurrency)
    lines += section_bulk(load(results, "bulk_enrollment"))
    lines += section_memory(memory)
    lines.append(SMALL_END if small else END)
    return "\n".join(lines)


def replace_section(text: str, section: str, small: bool = False) -> str:
    start, end = (SMALL_START, SMALL_END) if small else (START, END)
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        return head + section + tail
    return text.rstrip("\n") + "\n\n" + section + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--readme", type=Path, default=ROOT / "benchmarks" / "README.md")
    parser.add_argument("--print", action="store_true", help="print the section, write nothing")
    parser.add_argument("--small", action="store_true", help="the small default run's section")
    args = parser.parse_args(argv)
    section = render(args.results, args.small)
    if args.print:
        print(section)
        return
    args.readme.write_text(replace_section(args.readme.read_text(), section, args.small))
    print(f"[bench] updated {args.readme}", file=sys.stderr)


if __name__ == "__main__":
    main()
