"""1:N search within one event at scale: exact vs per-event partial HNSW vs table-wide HNSW.

Builds a gallery once in its own database (--database, default `facepass_bench_search`: created
and migrated when missing, rebuilt when the gallery parameters change; a name without "bench"
is refused, so the dev and test databases are never touched): one big event of --event-size
holders, "ladder" events of the --ladder sizes below it (to find where an index starts to pay),
and filler events up to --total-rows embeddings in the table. Holders have 1-3 photos
(benchmarks/gallery.py PHOTO_MIX); vectors are synthetic identities shaped and calibrated on
the active model's real embeddings of ../shared faces (benchmarks/gallery.py says how).

Per measured event the same probes (--queries: fresh photos of enrolled identities, and 20 %
non-enrolled faces) go through
- raw SQL: `WHERE event_id = E AND model_id = M ORDER BY vector <=> q LIMIT k` on its own
  connection (session settings per method), and
- the product's code path: recognition.selectors.nearest_holders (ORM, transaction, SET LOCAL,
  best photo per holder; by default the planner's choice of method, "auto" here), on the
  first --latency-queries probes.
Methods: exact (btree on (model, event) + sort: the baseline, measured in the same run on the
first --latency-queries probes), partial (the event's own HNSW index built by
recognition.search_index, at each --ef-search), global-relaxed / global-strict (one table-wide
HNSW index with hnsw.iterative_scan relaxed_order / strict_order, built only for this
comparison, then dropped). Ground truth: brute force over the event's stored vectors (numpy,
float64) for every probe; exact SQL agrees with it (its recall is reported too). Recall@1 and
recall@10 count ties within TIE as hits; recall@1 comes with a one-sided 95 % Clopper-Pearson
lower bound (0 misses in 3,000 probes are needed to show 0.999).

    nice -n 5 .venv/bin/python benchmarks/search_scale.py --event-size 20000 --total-rows 100000
    nice -n 5 .venv/bin/python benchmarks/search_scale.py --event-size 100000 \\
        --total-rows 1000000 --queries 1000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import gallery  # noqa: E402

METHODS = ("exact", "partial", "global-relaxed", "global-strict")
GLOBAL_INDEX = "bench_fe_hnsw_global"
TABLE = "recognition_faceembedding"
RECALL_TARGET = 0.999
BLOCK = 25  # probes per block when methods are interleaved
TIE = 1e-5  # distances this close are the same answer (float32 sums)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--event-size", type=int, default=20_000, help="holders in the big event")
    p.add_argument("--total-rows", type=int, default=200_000, help="embeddings in the table")
    p.add_argument("--ladder", default="1000,5000,10000,20000,50000", help="smaller events")
    p.add_argument("--queries", type=int, default=1000, help="recall probes per event")
    p.add_argument(
        "--latency-queries",
        type=int,
        default=200,
        help="probes for exact SQL and the nearest_holders path (the first of --queries)",
    )
    p.add_argument("--impostor-fraction", type=float, default=0.2)
    p.add_argument("--ef-search", default="40,100,200")
    p.add_argument(
        "--build",
        help="per-event index build parameters to compare, m:ef_construction,... "
        "(default: FACEPASS_HNSW_M:FACEPASS_HNSW_EF_CONSTRUCTION)",
    )
    p.add_argument(
        "--min-gain-ms",
        type=float,
        default=10.0,
        help="an event gets its own index only where that saves at least this much (p50 ms)",
    )
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument(
        "--global-queries", type=int, default=500, help="probes for the table-wide index"
    )
    p.add_argument("--k", type=int, default=10, help="rows per raw query (recall@k)")
    p.add_argument(
        "--measure",
        help="measure only these events of the gallery, e.g. big,ladder-50000 (default: all)",
    )
    p.add_argument("--database", default="facepass_bench_search")
    p.add_argument("--rebuild", action="store_true", help="drop and reload the gallery")
    p.add_argument("--seed", type=int, default=0)
    # resolved: the embedding cache is keyed by the paths' text
    p.add_argument("--base-source", type=_folder, default=gallery.DEV / "train", help="bases")
    p.add_argument("--pairs-source", type=_folder, default=gallery.DEV / "val", help="real pairs")
    p.add_argument("--max-train-images", type=int, help="cap on real base embeddings")
    p.add_argument("--chunk-rows", type=int, default=50_000, help="embeddings per COPY round")
    p.add_argument(
        "--build-maintenance-work-mem",
        help="session maintenance_work_mem for the per-event builds (default: the server's, "
        "as the Celery task runs)",
    )
    p.add_argument("--global-maintenance-work-mem", default="1GB")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/search_scale.json")
    args = p.parse_args(argv)
    args.ladder = sorted(int(s) for s in args.ladder.split(",") if s and int(s) < args.event_size)
    args.ef_search = [int(s) for s in args.ef_search.split(",") if s]
    args.methods = [m for m in args.methods.split(",") if m]
    args.build = [tuple(int(x) for x in b.split(":")) for b in (args.build or "").split(",") if b]
    unknown = set(args.methods) - set(METHODS)
    if unknown or "exact" not in args.methods:
        p.error(f"--methods: choose from {', '.join(METHODS)}; exact (the baseline) is required")
    if "bench" not in args.database:
        p.error("--database must contain 'bench': never the dev or test database")
    return args


def _folder(text: str) -> Path:
    return Path(text).resolve()


# -- database -------------------------------------------------------------------------------------


def database_urls(name: str) -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/facepass")
    parts = urlsplit(base)
    bench = urlunsplit(parts._replace(path=f"/{name}"))
    return bench, urlunsplit(parts._replace(path="/postgres"))


def stored_meta(bench_url: str):
    import psycopg

    try:
        with psycopg.connect(bench_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT meta FROM bench_gallery WHERE id = 1"
                if conn.execute("SELECT to_regclass('bench_gallery')").fetchone()[0]
                else "SELECT NULL"
            ).fetchone()
            return row[0] if row else None
    except psycopg.OperationalError:
        return None


def prepare_database(name: str, params: dict, rebuild: bool) -> tuple[str, dict | None]:
    """Create (or re-create, when the gallery differs) the benchmark database."""
    import psycopg

    bench_url, admin_url = database_urls(name)
    meta = None if rebuild else stored_meta(bench_url)
    if meta is not None and meta.get("params") != params:
        print(f"[bench] {name} holds another gallery: rebuilding", file=sys.stderr)
        meta = None
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and meta is None:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return bench_url, meta


def raw_connection(url: str):
    import psycopg
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(url, autocommit=True, prepare_threshold=None)
    register_vector(conn)
    return conn


def server_facts(conn) -> dict:
    names = (
        "server_version",
        "shared_buffers",
        "work_mem",
        "maintenance_work_mem",
        "effective_cache_size",
        "max_parallel_workers_per_gather",
        "max_parallel_maintenance_workers",
        "hnsw.max_scan_tuples",
    )
    facts = {n: conn.execute(f"SHOW {n}").fetchone()[0] for n in names}
    facts["pgvector"] = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
    ).fetchone()[0]
    return facts


# -- the gallery ----------------------------------------------------------------------------------


def event_plan(args, rng) -> list[tuple[str, int]]:
    """(role, holders) of every event: big, ladder, then filler up to --total-rows."""
    mix = np.asarray(gallery.PHOTO_MIX) / sum(gallery.PHOTO_MIX)
    per_holder = float((np.arange(1, len(mix) + 1) * mix).sum())
    plan = [("big", args.event_size)] + [(f"ladder-{n}", n) for n in args.ladder]
    left = args.total_rows / per_holder - sum(n for _, n in plan)
    while left >= 1:
        size = int(min(left, round(math.exp(rng.uniform(math.log(500), math.log(30_000))))))
        plan.append(("filler", max(size, 1)))
        left -= size
    return plan


def build_gallery(args, params: dict, bench_url: str) -> dict:
    from django.db import connection

    from recognition.selectors import active_model

    model = active_model()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    space = gallery.calibrated_space(
        model,
        train=args.base_source,
        val=args.pairs_source,
        max_train_images=args.max_train_images,
        seed=args.seed,
    )
    calibrate_s = time.perf_counter() - started
    print(gallery.calibration_table(space), file=sys.stderr)
    plan = event_plan(args, rng)
    org, events = gallery.make_events("Search at scale benchmark", len(plan), "bench-search")
    measured = {e.pk for (role, _), e in zip(plan, events, strict=True) if role != "filler"}

    def progress(done, rounds, rows):
        elapsed = time.perf_counter() - load_started
        print(f"[bench] COPY round {done}/{rounds}: {rows} rows, {elapsed:.0f} s", file=sys.stderr)

    load_started = time.perf_counter()
    loaded, load = gallery.load_galleries(
        event_ids=[e.pk for e in events],
        holders=[n for _, n in plan],
        model_id=model.pk,
        space=space,
        rng=rng,
        keep_identities=measured,
        chunk_rows=args.chunk_rows,
        progress=progress,
    )
    load["load_s"] = round(time.perf_counter() - load_started, 2)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in (TABLE, "attendees_ticketholder", "attendees_enrollmentphoto"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    load["vacuum_analyze_s"] = round(time.perf_counter() - started, 2)
    load["rows_per_second"] = round(load["rows"] / (load["copy_s"] + load["commit_s"]))
    events_meta = []
    conn = raw_connection(bench_url)
    with conn:
        conn.execute(
            "CREATE TABLE bench_probe (event_id bigint, position int, expected_holder bigint, "
            f"vector vector({space.dimensions}))"
        )
        for (role, holders), event in zip(plan, loaded, strict=True):
            events_meta.append(
                {"role": role, "event_id": event.event_id, "holders": holders, "rows": event.rows}
            )
            if role == "filler":
                continue
            vectors, expected = gallery.probes(
                space, event, args.queries, args.impostor_fraction, rng
            )
            with conn.cursor().copy(
                "COPY bench_probe (event_id, position, expected_holder, vector) FROM STDIN "
                "(FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "int4", "int8", "vector"])
                for i, (v, h) in enumerate(zip(vectors, expected, strict=True)):
                    copy.write_row([event.event_id, i, int(h), v])
        meta = {
            "params": params,
            "model": model.label,
            "organization_id": org.pk,
            "events": events_meta,
            "space": space.summary(),
            "calibrate_s": round(calibrate_s, 1),
            "load": load,
        }
        conn.execute("CREATE TABLE bench_gallery (id int PRIMARY KEY, meta jsonb)")
        conn.execute("INSERT INTO bench_gallery VALUES (1, %s::jsonb)", [json.dumps(meta)])
    return meta


def load_probes(conn, event_id: int):
    rows = conn.execute(
        "SELECT expected_holder, vector FROM bench_probe WHERE event_id = %s ORDER BY position",
        [event_id],
    ).fetchall()
    vectors = np.stack([r[1].to_numpy() for r in rows]).astype(np.float32)
    return vectors, np.array([r[0] for r in rows])


# -- measuring ------------------------------------------------------------------------------------


def raw_sql(event_id: int, model_id: int, k: int) -> str:
    return (
        f"SELECT id, holder_id, vector <=> %s AS distance FROM {TABLE} "
        f"WHERE event_id = {int(event_id)} AND model_id = {int(model_id)} "
        f"ORDER BY distance LIMIT {int(k)}"
    )


def session(conn, settings: dict) -> None:
    for name in (
        "enable_indexscan",
        "enable_seqscan",
        "enable_bitmapscan",
        "enable_sort",
        "hnsw.ef_search",
        "hnsw.iterative_scan",
    ):
        conn.execute(f"RESET {name}")
    for name, value in settings.items():
        conn.execute(f"SET {name} = {value}")


def plan_index(conn, sql: str, vector) -> str:
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, [vector]).fetchall())
    for token in plan.replace("(", " ").split():
        if token.startswith(("fe_hnsw_", GLOBAL_INDEX)):
            return token
    if "Seq Scan" in plan:
        return "seq scan" + (" (parallel)" if "Parallel" in plan else "")
    return "btree (bitmap)" if "Bitmap" in plan else plan.splitlines()[0][:60]


def timed(fn, vectors, warmup: int = 10):
    for v in vectors[:warmup]:
        fn(v)
    out, times = [], []
    for v in vectors:
        started = time.perf_counter()
        out.append(fn(v))
        times.append((time.perf_counter() - started) * 1000)
    return out, np.asarray(times)


def latency(times: np.ndarray) -> dict:
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
        "mean_ms": round(float(times.mean()), 2),
    }


def lower_bound(successes: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower bound of a binomial proportion."""
    if successes == 0:
        return 0.0
    alpha = 1 - confidence

    def tail(p):  # P(X >= successes | p)
        logs = [
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * math.log(p)
            + (n - i) * math.log1p(-p)
            for i in range(successes, n + 1)
        ]
        top = max(logs)
        return math.exp(top) * sum(math.exp(v - top) for v in logs)

    lo, hi = 0.0, successes / n
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tail(mid) < alpha else (lo, mid)
    return lo


def brute_force(conn, event_id: int, model_id: int, probes: np.ndarray, k: int) -> dict:
    """Exact top-k of every probe among the event's rows, by numpy in float64 (the ground
    truth; exact SQL is checked against it on the latency sample)."""
    rows = conn.execute(
        f"SELECT id, holder_id, vector FROM {TABLE} WHERE event_id = %s AND model_id = %s",
        [event_id, model_id],
    ).fetchall()
    ids = np.array([r[0] for r in rows])
    holders = np.array([r[1] for r in rows])
    gallery_vectors = np.stack([r[2].to_numpy() for r in rows]).astype(np.float32)
    unit = gallery_vectors / np.linalg.norm(gallery_vectors, axis=1, keepdims=True)
    shortlist = min(len(rows), 50)
    top_ids, top_dist = [], []
    for start in range(0, len(probes), 100):
        chunk = probes[start : start + 100]
        sims = chunk @ unit.T  # float32 shortlist, re-ranked in float64
        cand = np.argpartition(-sims, shortlist - 1, axis=1)[:, :shortlist]
        q = chunk.astype(np.float64)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        g = gallery_vectors[cand].astype(np.float64)
        g /= np.linalg.norm(g, axis=2, keepdims=True)
        dist = 1 - np.einsum("qd,qcd->qc", q, g)
        order = np.argsort(dist, axis=1)[:, :k]
        top_ids.append(np.take_along_axis(cand, order, axis=1))
        top_dist.append(np.take_along_axis(dist, order, axis=1))
    index = np.concatenate(top_ids)
    return {"ids": ids[index], "holders": holders[index], "dist": np.concatenate(top_dist)}


def raw_recall(results, truth: dict, genuine: np.ndarray, k: int) -> dict:
    """results[i]: rows (id, holder_id, distance) sorted; truth: brute_force() of the probes."""
    n = len(results)
    ids, dist = truth["ids"][:n], truth["dist"][:n]
    top1 = np.array(
        [
            bool(r) and (r[0][0] == ids[i, 0] or r[0][2] <= dist[i, 0] + TIE)
            for i, r in enumerate(results)
        ]
    )
    kk = min(k, dist.shape[1])
    at_k = np.array(
        [
            sum(1 for row in r[:kk] if row[2] <= dist[i, kk - 1] + TIE) / kk
            for i, r in enumerate(results)
        ]
    )
    return _recall_fields(top1, genuine[:n]) | {"recall_at_10": round(float(at_k.mean()), 4)}


def holder_recall(results, truth: dict, genuine: np.ndarray) -> dict:
    """results[i]: nearest_holders() answer; hit when its best holder is the exact best one."""
    n = len(results)
    holders, dist = truth["holders"][:n], truth["dist"][:n]
    top1 = np.array(
        [
            bool(r) and (r[0].holder_id == holders[i, 0] or 1 - r[0].similarity <= dist[i, 0] + TIE)
            for i, r in enumerate(results)
        ]
    )
    return _recall_fields(top1, genuine[:n])


def _recall_fields(top1: np.ndarray, genuine: np.ndarray) -> dict:
    return {
        "queries": len(top1),
        "recall_at_1": round(float(top1.mean()), 4),
        "recall_at_1_lower95": round(lower_bound(int(top1.sum()), len(top1)), 4),
        "misses": int((~top1).sum()),
        "recall_at_1_genuine": round(float(top1[genuine].mean()), 4),
        "recall_at_1_impostor": round(float(top1[~genuine].mean()), 4)
        if (~genuine).any()
        else None,
    }


def explain_analyze(conn, sql: str, vector) -> dict:
    plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, [vector]).fetchone()[0][0]
    jit = plan.get("JIT", {}).get("Timing", {}).get("Total")
    return {
        "execution_ms": round(plan["Execution Time"], 2),
        "planning_ms": round(plan["Planning Time"], 2),
        "jit_ms": None if jit is None else round(jit, 2),
    }


class Bench:
    def __init__(self, args, meta, conn, model, url):
        self.args, self.meta, self.conn, self.model, self.url = args, meta, conn, model, url
        self.rows: list[dict] = []
        self.truth: dict[int, dict] = {}
        self.probes = {
            e["event_id"]: load_probes(conn, e["event_id"])
            for e in meta["events"]
            if e["role"] != "filler"
        }
        self.sample = args.latency_queries

    def events(self):
        wanted = set((self.args.measure or "").split(",")) - {""}
        return [
            e
            for e in self.meta["events"]
            if e["role"] != "filler" and (not wanted or e["role"] in wanted)
        ]

    def run_raw(self, event, settings: dict, count: int | None = None):
        vectors = self.probes[event["event_id"]][0][:count]
        sql = raw_sql(event["event_id"], self.model.pk, self.args.k)
        session(self.conn, settings)
        index = plan_index(self.conn, sql, vectors[0])

        def query(v):
            rows = self.conn.execute(sql, [v]).fetchall()
            return sorted(rows, key=lambda r: r[2])  # relaxed_order may be slightly out of order

        results, times = timed(query, vectors)
        server = explain_analyze(self.conn, sql, vectors[0])
        session(self.conn, {})
        return results, times, index, server

    def run_holders(self, event, ef: int | None, exact: bool | None, session_settings=None):
        from django.db import connection
        from django.test import override_settings

        from recognition.selectors import nearest_holders

        vectors = self.probes[event["event_id"]][0][: self.sample]
        with connection.cursor() as cursor:
            for name, value in (session_settings or {}).items():
                cursor.execute(f"SET {name} = {value}")
        try:
            with override_settings(FACEPASS_HNSW_EF_SEARCH=ef or 100):
                results, times = timed(
                    lambda v: nearest_holders(
                        event=event["event_id"], model=self.model, vector=v, exact=exact
                    ),
                    vectors,
                )
        finally:
            with connection.cursor() as cursor:
                for name in session_settings or {}:
                    cursor.execute(f"RESET {name}")
        return results, times

    def record(self, event, method, path, ef, times, recall, index=None, **extra):
        row = {
            "event": event["role"],
            "rows": event["rows"],
            "holders": event["holders"],
            "method": method,
            "path": path,
            "ef_search": ef,
            **latency(times),
            **recall,
            "plan": index,
            **extra,
        }
        self.rows.append(row)
        print(_row_line(row), file=sys.stderr, flush=True)

    def exact(self):
        for event in self.events():
            vectors, expected = self.probes[event["event_id"]]
            genuine = expected >= 0
            started = time.perf_counter()
            truth = brute_force(self.conn, event["event_id"], self.model.pk, vectors, self.args.k)
            self.truth[event["event_id"]] = truth
            event["brute_force_s"] = round(time.perf_counter() - started, 2)
            raw, times, index, server = self.run_raw(
                event, {"enable_indexscan": "off"}, self.sample
            )
            recall = raw_recall(raw, truth, genuine, self.args.k)
            self.record(event, "exact", "raw_sql", None, times, recall, index, server=server)
            holders, times = self.run_holders(event, None, None)
            recall = holder_recall(holders, truth, genuine)
            self.record(event, "exact", "nearest_holders", None, times, recall, "auto (no index)")
            top1, best = truth["holders"][:, 0], 1 - truth["dist"][:, 0]
            event["identification"] = {
                "genuine_rank1": round(float((top1[genuine] == expected[genuine]).mean()), 4),
                "genuine_top1_similarity": gallery.distribution(best[genuine]),
                "impostor_top1_similarity": gallery.distribution(best[~genuine])
                if (~genuine).any()
                else None,
            }

    def paired(self, event, variants: list[dict], count: int | None = None, beside: str = ""):
        """Each variant and exact search on the same probes, interleaved in blocks of BLOCK
        probes, so a change in the machine's load hits the index and its baseline alike.

        variant: method, ef (ef_search), raw (session settings for raw SQL), nh_exact
        (nearest_holders' exact argument), nh_session (Django session settings), extra (row
        fields). Raw SQL: every probe (count); exact and nearest_holders: --latency-queries."""
        truth = self.truth[event["event_id"]]
        vectors, expected = self.probes[event["event_id"]]
        genuine = expected >= 0
        n = min(count or len(vectors), len(vectors))
        sample = min(self.sample, n)
        exact = {
            "method": "exact",
            "ef": None,
            "raw": {"enable_indexscan": "off"},
            "nh_exact": True,
            "nh_session": {},
            "extra": {"beside": beside},
        }
        variants = [exact, *variants]
        sql = raw_sql(event["event_id"], self.model.pk, self.args.k)
        conns = [raw_connection(self.url) for _ in variants]
        for conn, v in zip(conns, variants, strict=True):
            session(conn, v["raw"])
        raw = self._interleave(
            [self._raw_call(c, sql) for c in conns],
            vectors,
            [sample] + [n] * (len(variants) - 1),
        )
        plans = [plan_index(c, sql, vectors[0]) for c in conns]
        servers = [explain_analyze(c, sql, vectors[0]) for c in conns]
        for c in conns:
            c.close()
        holders = self._interleave(
            [self._holder_call(event, v) for v in variants], vectors, [sample] * len(variants)
        )
        for i, v in enumerate(variants):
            results, times = raw[i]
            recall = raw_recall(results, truth, genuine, self.args.k)
            self.record(
                event,
                v["method"],
                "raw_sql",
                v["ef"],
                times,
                recall,
                plans[i],
                server=servers[i],
                **v["extra"],
            )
            results, times = holders[i]
            recall = holder_recall(results, truth, genuine)
            plan = (
                "exact=True"
                if v["nh_exact"]
                else "auto"
                if v["nh_exact"] is None
                else (self._holder_plan(event, v))
            )
            self.record(
                event, v["method"], "nearest_holders", v["ef"], times, recall, plan, **v["extra"]
            )

    @staticmethod
    def _interleave(calls, vectors, counts, warmup: int = 5):
        """calls: x -> (answer, milliseconds)."""
        for call in calls:
            for x in vectors[:warmup]:
                call(x)
        out = [([], []) for _ in calls]
        for start in range(0, max(counts), BLOCK):
            for call, count, (results, times) in zip(calls, counts, out, strict=True):
                for x in vectors[start : min(start + BLOCK, count)]:
                    answer, ms = call(x)
                    results.append(answer)
                    times.append(ms)
        return [(results, np.asarray(times)) for results, times in out]

    @staticmethod
    def _raw_call(conn, sql):
        def call(x):
            began = time.perf_counter()
            rows = conn.execute(sql, [x]).fetchall()
            ms = (time.perf_counter() - began) * 1000
            return sorted(rows, key=lambda r: r[2]), ms  # relaxed_order: roughly sorted

        return call

    def _holder_call(self, event, variant):
        from django.db import connection
        from django.test import override_settings

        from recognition.selectors import nearest_holders

        setting = override_settings(FACEPASS_HNSW_EF_SEARCH=variant["ef"] or 100)
        statements = ["RESET hnsw.iterative_scan"]
        statements += [f"SET {k} = {v}" for k, v in variant["nh_session"].items()]

        def call(x):
            # this variant's session and settings, switched outside the timed region
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
            with setting:
                began = time.perf_counter()
                answer = nearest_holders(
                    event=event["event_id"], model=self.model, vector=x, exact=variant["nh_exact"]
                )
                return answer, (time.perf_counter() - began) * 1000

        return call

    def _holder_plan(self, event, variant):
        settings = {"hnsw.ef_search": variant["ef"], **variant["nh_session"]}
        sql = raw_sql(event["event_id"], self.model.pk, 10)
        session(self.conn, settings)
        try:
            return plan_index(self.conn, sql, self.probes[event["event_id"]][0][0])
        finally:
            session(self.conn, {})

    def partial(self):
        from django.db import connection
        from django.test import override_settings

        from recognition.models import EventSearchIndex
        from recognition.search_index import (
            event_search_index_build,
            event_search_index_drop,
            index_name_for,
        )

        builds = []
        notices = _capture_notices(connection)
        if self.args.build_maintenance_work_mem:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET maintenance_work_mem = %s", [self.args.build_maintenance_work_mem]
                )
        for m, ef_construction in self.args.build:
            for event in self.events():
                notices.clear()
                index = EventSearchIndex.objects.create(
                    event_id=event["event_id"],
                    model=self.model,
                    index_name=index_name_for(event["event_id"], self.model.pk),
                )
                started = time.perf_counter()
                with override_settings(
                    FACEPASS_HNSW_M=m, FACEPASS_HNSW_EF_CONSTRUCTION=ef_construction
                ):
                    built = event_search_index_build(index_id=index.pk)
                seconds = time.perf_counter() - started
                builds.append(
                    {
                        "event": event["role"],
                        "rows": event["rows"],
                        "m": m,
                        "ef_construction": ef_construction,
                        "index": built.index_name,
                        "build_s": round(seconds, 2),
                        "size_bytes": _size(self.conn, built.index_name),
                        "notices": list(notices),
                    }
                )
                print(
                    f"[bench] built {built.index_name} (m {m}, ef_construction "
                    f"{ef_construction}) over {event['rows']} rows in {seconds:.1f} s "
                    f"({builds[-1]['size_bytes'] / 2**20:.1f} MiB)",
                    file=sys.stderr,
                    flush=True,
                )
                build = {"m": m, "ef_construction": ef_construction}
                variants = [
                    {
                        "method": "partial",
                        "ef": ef,
                        "raw": {"hnsw.ef_search": ef},
                        "nh_exact": None,
                        "nh_session": {},
                        "extra": build,
                    }
                    for ef in self.args.ef_search
                ]
                self.paired(event, variants, beside=f"partial {m}/{ef_construction}")
                event_search_index_drop(index=built)
        if self.args.build_maintenance_work_mem:
            with connection.cursor() as cursor:
                cursor.execute("RESET maintenance_work_mem")
        return builds

    def table_wide(self, orders):
        m, ef_construction = self.args.build[0]
        notices = []
        self.conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        self.conn.execute(f"SET maintenance_work_mem = '{self.args.global_maintenance_work_mem}'")
        started = time.perf_counter()
        self.conn.execute(
            f"CREATE INDEX {GLOBAL_INDEX} ON {TABLE} USING hnsw (vector vector_cosine_ops) "
            f"WITH (m = {m}, ef_construction = {ef_construction})"
        )
        build = {
            "rows": int(self.conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]),
            "build_s": round(time.perf_counter() - started, 2),
            "size_bytes": _size(self.conn, GLOBAL_INDEX),
            "m": m,
            "ef_construction": ef_construction,
            "maintenance_work_mem": self.args.global_maintenance_work_mem,
            "notices": notices,
        }
        self.conn.execute("RESET maintenance_work_mem")
        print(
            f"[bench] built {GLOBAL_INDEX} over {build['rows']} rows in {build['build_s']} s",
            file=sys.stderr,
            flush=True,
        )
        try:
            for event in self.events():
                variants = [
                    {
                        "method": f"global-{order.split('_')[0]}",
                        "ef": ef,
                        "raw": {  # the HNSW index whatever the planner would pick
                            "hnsw.ef_search": ef,
                            "hnsw.iterative_scan": order,
                            "enable_seqscan": "off",
                            "enable_bitmapscan": "off",
                            "enable_sort": "off",
                        },
                        "nh_exact": False,
                        "nh_session": {"hnsw.iterative_scan": order},
                        "extra": {"m": m, "ef_construction": ef_construction},
                    }
                    for order in orders
                    for ef in self.args.ef_search
                ]
                self.paired(event, variants, self.args.global_queries, beside="global")
        finally:
            self.conn.execute(f"DROP INDEX IF EXISTS {GLOBAL_INDEX}")
        return build


def _capture_notices(connection) -> list[str]:
    connection.ensure_connection()
    notices: list[str] = []
    connection.connection.add_notice_handler(lambda d: notices.append(d.message_primary))
    return notices


def _setting(name):
    from django.conf import settings

    return int(getattr(settings, name))


def _size(conn, relation: str) -> int:
    return int(conn.execute("SELECT pg_relation_size(%s::regclass)", [relation]).fetchone()[0])


def _row_line(r: dict) -> str:
    ef = "" if r["ef_search"] is None else r["ef_search"]
    method = r["method"] + (f" {r['m']}/{r['ef_construction']}" if r.get("m") else "")
    return (
        f"{r['event']:<14} {r['rows']:>8} {method:<15} {r['path']:<16} {ef!s:>4} "
        f"{r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['recall_at_1']:>7.4f} "
        f"{r.get('recall_at_10', '')!s:>7} {r['plan'] or ''}"
        + (f" [beside {r['beside']}]" if r.get("beside") else "")
    )


HEADER = (
    f"{'event':<14} {'rows':>8} {'method':<15} {'path':<16} {'ef':>4} {'p50 ms':>8} "
    f"{'p95 ms':>8} {'R@1':>7} {'R@10':>7} plan"
)


# -- the recommendation ---------------------------------------------------------------------------


def recommend(rows: list[dict], min_gain_ms: float) -> dict:
    """The per-event index settings and the event size from which to use them.

    Settings (m, ef_construction, ef_search): among those whose recall@1 reaches the target at
    every measured event size on both paths, the fastest (raw SQL p50) at the biggest event.
    Threshold: exact search is perfect and needs no index; an event gets its own index from the
    smallest measured size at which, at that size and every larger one, the index answers at
    least min_gain_ms faster than exact search measured beside it (raw SQL p50: the search
    itself, as the product path adds the same ORM overhead to both, and the median, as the
    95th percentile of a shared 2-core machine mostly measures the other tenants). Below that
    an index per event buys little, and each one costs a build, upkeep on every enrollment
    and planning time for every query on the table."""
    partial = [r for r in rows if r["method"] == "partial"]
    if not partial:
        return {"note": "partial HNSW not measured"}

    def pick(method, rows_, combo, path="raw_sql"):
        """The index row of combo, or (method exact) the exact row measured beside it."""
        beside = f"partial {combo[0]}/{combo[1]}"
        return next(
            r
            for r in rows
            if r["method"] == method
            and r["rows"] == rows_
            and r["path"] == path
            and (_combo(r) == combo if method != "exact" else r.get("beside") == beside)
        )

    sizes = sorted({r["rows"] for r in partial})
    combos = sorted({_combo(r) for r in partial})
    passing = [
        c
        for c in combos
        if all(r["recall_at_1"] >= RECALL_TARGET for r in partial if _combo(r) == c)
    ]
    if not passing:
        best = max(combos, key=lambda c: min(r["recall_at_1"] for r in partial if _combo(r) == c))
        return {
            "recall_target": RECALL_TARGET,
            "met": False,
            "best_recall_combo": dict(
                zip(("m", "ef_construction", "ef_search"), best, strict=True)
            ),
            "method_per_event_size": "exact at every size: no measured index setting reaches the "
            "recall target",
        }
    combo = min(passing, key=lambda c: (pick("partial", sizes[-1], c)["p50_ms"], c))
    points = []
    for n in sizes:
        exact, index = pick("exact", n, combo), pick("partial", n, combo)
        points.append(
            {
                "rows": n,
                "exact_p50_ms": exact["p50_ms"],
                "exact_p95_ms": exact["p95_ms"],
                "index_p50_ms": index["p50_ms"],
                "index_p95_ms": index["p95_ms"],
                "index_recall_at_1": index["recall_at_1"],
                "index_recall_at_1_lower95": index["recall_at_1_lower95"],
                "exact_nearest_holders_p95_ms": pick("exact", n, combo, "nearest_holders")[
                    "p95_ms"
                ],
                "index_nearest_holders_p95_ms": pick("partial", n, combo, "nearest_holders")[
                    "p95_ms"
                ],
            }
        )
    gains = {p["rows"]: p["exact_p50_ms"] - p["index_p50_ms"] for p in points}
    threshold = next(
        (n for n in sizes if all(gains[m] >= min_gain_ms for m in sizes if m >= n)), None
    )
    below = [n for n in sizes if threshold is None or n < threshold]
    crossover = None
    if threshold is not None and below:  # where the gain reaches min_gain_ms, linearly
        lo, hi = below[-1], threshold
        g_lo, g_hi = gains[lo], gains[hi]
        crossover = int(round(lo + (min_gain_ms - g_lo) / (g_hi - g_lo) * (hi - lo)))
    m, ef_construction, ef_search = combo
    return {
        "recall_target": RECALL_TARGET,
        "met": True,
        "m": m,
        "ef_construction": ef_construction,
        "ef_search": ef_search,
        "settings_meeting_target": [
            dict(zip(("m", "ef_construction", "ef_search"), c, strict=True)) for c in passing
        ],
        "min_gain_ms": min_gain_ms,
        "threshold_rows": threshold,
        "crossover_rows_interpolated": crossover,
        "p50_gain_ms_by_rows": {n: round(g, 2) for n, g in gains.items()},
        "points": points,
        "method_per_event_size": (
            f"exact below {threshold} embeddings; from there the event's own HNSW index "
            f"(m {m}, ef_construction {ef_construction}, ef_search {ef_search})"
            if threshold
            else f"exact at every measured size (no size gains {min_gain_ms} ms from an index)"
        ),
    }


def _combo(row: dict) -> tuple[int, int, int]:
    return row.get("m"), row.get("ef_construction"), row["ef_search"]


# -- main -----------------------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    params = {
        "event_size": args.event_size,
        "total_rows": args.total_rows,
        "ladder": args.ladder,
        "queries": args.queries,
        "impostor_fraction": args.impostor_fraction,
        "seed": args.seed,
        "photo_mix": list(gallery.PHOTO_MIX),
        "base_source": str(args.base_source),
        "pairs_source": str(args.pairs_source),
        "max_train_images": args.max_train_images,
        "chunk_rows": args.chunk_rows,
    }
    bench_url, meta = prepare_database(args.database, params, args.rebuild)
    os.environ["DATABASE_URL"] = bench_url
    # DEBUG would record every query in memory and time them: never while measuring.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-never-used-in-production")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facepass_site.settings")
    gallery.use_shared_detector()
    import django

    django.setup()
    from django.core.management import call_command

    from recognition.models import EventSearchIndex
    from recognition.selectors import active_model

    call_command("migrate", verbosity=0)
    call_command("ensure_default_model", verbosity=0)
    model = active_model()
    args.build = args.build or [
        (_setting("FACEPASS_HNSW_M"), _setting("FACEPASS_HNSW_EF_CONSTRUCTION"))
    ]
    started = time.time()
    load_before = os.getloadavg()
    if meta is None:
        meta = build_gallery(args, params, bench_url)
    elif meta["model"] != model.label:
        raise SystemExit(f"{args.database} was built with {meta['model']}: use --rebuild")
    conn = raw_connection(bench_url)
    # leftovers of an interrupted run: no vector index may exist before the baseline
    from recognition.search_index import event_search_index_drop

    for index in EventSearchIndex.objects.all():
        event_search_index_drop(index=index)
    conn.execute(f"DROP INDEX IF EXISTS {GLOBAL_INDEX}")
    bench = Bench(args, meta, conn, model, bench_url)
    print(HEADER, file=sys.stderr)
    bench.exact()
    builds = {"partial": [], "global": None}
    if "partial" in args.methods:
        builds["partial"] = bench.partial()
    orders = [f"{m.split('-')[1]}_order" for m in args.methods if m.startswith("global-")]
    if orders:
        builds["global"] = bench.table_wide(orders)
    report = {
        "benchmark": "search_scale",
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["benchmarks/search_scale.py", *(argv or sys.argv[1:])]),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "postgres": server_facts(conn),
        },
        "model": meta["model"],
        "params": params,
        "hnsw_settings_in_code": {
            "FACEPASS_SEARCH_INDEX_MIN_ROWS": _setting("FACEPASS_SEARCH_INDEX_MIN_ROWS"),
            "FACEPASS_HNSW_M": _setting("FACEPASS_HNSW_M"),
            "FACEPASS_HNSW_EF_CONSTRUCTION": _setting("FACEPASS_HNSW_EF_CONSTRUCTION"),
            "FACEPASS_HNSW_EF_SEARCH": _setting("FACEPASS_HNSW_EF_SEARCH"),
        },
        "builds_compared": [list(b) for b in args.build],
        "gallery": {
            "how": "benchmarks/gallery.py: real embeddings of ../shared celeba-dev/train by the "
            "model, identity offsets and photo noise drawn from the real between- and "
            "within-identity covariances, scales calibrated on celeba-dev/val pairs",
            "table_rows": int(conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]),
            "table_size_bytes": _size(conn, TABLE),
            "btree_model_event_size_bytes": _size(conn, "embedding_model_event"),
            "space": meta["space"],
            "load": meta["load"],
            "calibrate_s": meta.get("calibrate_s"),
            "events": [e for e in meta["events"] if e["role"] != "filler"],
            "filler_events": sum(1 for e in meta["events"] if e["role"] == "filler"),
        },
        "identification": {e["role"]: e.get("identification") for e in bench.events()},
        "indexes": builds,
        "results": bench.rows,
        "recommendation": recommend(bench.rows, args.min_gain_ms),
        "measure_s": round(time.time() - started, 1),
        "notes": [
            "Latency: wall time in this process on the same machine as PostgreSQL (no network); "
            "raw_sql is one statement on a psycopg connection, nearest_holders is the product "
            "code path (ORM, transaction, SET LOCAL, search-index lookup, best photo per holder).",
            "Recall is against exact search of the same probes in the same run: brute force over "
            "the event's stored vectors (numpy, float64), which exact SQL matches; distances "
            f"within {TIE} of the exact answer count as hits. recall_at_1_lower95: one-sided "
            "95 % Clopper-Pearson bound. raw_sql HNSW rows use every probe, exact SQL and the "
            "nearest_holders rows the first --latency-queries.",
            "Partitions by event were not measured: a partition's local HNSW index searches the "
            "same rows as the partial index, and partitioning FaceEmbedding would need the event "
            "in its primary key and unique constraint.",
        ],
    }
    text = json.dumps(report, indent=2, default=_json_default)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(summary(report))


def _json_default(value):
    if isinstance(value, np.integer | np.floating):
        return value.item()
    raise TypeError(type(value))


def summary(report: dict) -> str:
    lines = [HEADER] + [_row_line(r) for r in report["results"]]
    g = report["gallery"]
    lines.append(
        f"\ntable: {g['table_rows']} embeddings, {g['table_size_bytes'] / 2**20:.0f} MiB; load "
        f"{g['load']['rows']} rows: COPY {g['load']['copy_s']} s + commit "
        f"{g['load']['commit_s']} s ({g['load']['rows_per_second']} rows/s), vacuum/analyze "
        f"{g['load']['vacuum_analyze_s']} s"
    )
    for b in report["indexes"]["partial"]:
        lines.append(
            f"partial index m {b['m']} ef_construction {b['ef_construction']}, "
            f"{b['rows']:>8} rows: {b['build_s']:>7} s, "
            f"{b['size_bytes'] / 2**20:.1f} MiB"
        )
    if report["indexes"]["global"]:
        b = report["indexes"]["global"]
        lines.append(
            f"table-wide index {b['rows']} rows: {b['build_s']} s, "
            f"{b['size_bytes'] / 2**20:.1f} MiB"
        )
    lines.append("recommendation: " + json.dumps(report["recommendation"], default=_json_default))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
