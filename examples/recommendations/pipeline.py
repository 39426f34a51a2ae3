"""Nightly recommendations: ingest a day of user activity, build implicit-feedback features,
retrain an ALS model, evaluate it against a popularity baseline, and deploy it.

    raw_events -> features -> model -> evaluation -> deployment
                        \\_______________/

Run it with ``legato materialize examples/recommendations/pipeline.py --param day=2026-11-19``
or from Python with ``lg.materialize(lg.load("examples/recommendations/pipeline.py"))``.

Parameters (``ctx.params``):

- ``day``: the day to process, ``YYYY-MM-DD`` (default 2026-11-19). Everything is seeded
  by the day, so a day always produces the same events and the same model.
- ``bad_upload``: simulate a bad upload: one part file lands truncated and garbled.
- ``data_dir``: where the landing zone and the serving folder live (default: ``data/``
  next to this file).

When features cannot be built (a corrupt upload), ``model`` and ``evaluation`` fall back to
their last good materialization and ``deployment`` serves that standby model, saying so in
``serving/metadata.json`` and in its log. With no earlier good model there is nothing to
fall back to: the run fails and nothing new is deployed.
"""

# Numpy, Polars and implicit load inside the functions that use them, so that loading the
# definitions (legato show, legato materialize --help, the web UI) stays fast.

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import legato as lg

DEFAULT_DAY = "2026-11-19"
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"

# The shop: a stable catalog and stable user tastes; what users do varies by day.
N_USERS = 2_000
N_ITEMS = 500
N_CATEGORIES = 20
N_PARTS = 6
CATALOG_SEED = 20_260_101
DEVICES = ("ios", "android", "web")
# Implicit-feedback strength of each event type.
EVENT_WEIGHTS = {"view": 1.0, "click": 2.0, "add_to_cart": 4.0, "purchase": 8.0}
HOLDOUT_SHARE = 0.2  # the last 20 % of the day's activity is held out for evaluation
K = 10


# -- parameters ------------------------------------------------------------------------


def _day(ctx: lg.StepContext) -> str:
    day = str(ctx.params.get("day", DEFAULT_DAY))
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"param day={day!r} is not a date; write it as YYYY-MM-DD") from None
    return day


def _data_dir(ctx: lg.StepContext) -> Path:
    return Path(ctx.params.get("data_dir") or DEFAULT_DATA_DIR).resolve()


def _flag(value: Any) -> bool:
    """Params from the command line arrive as strings: 'true', '1', 'yes' are true."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, sync it, and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- synthetic activity ------------------------------------------------------------------


def _shop() -> dict[str, Any]:
    """The catalog (category, price, long-tail popularity) and each user's tastes."""
    import numpy as np

    rng = np.random.default_rng(CATALOG_SEED)
    category = rng.integers(0, N_CATEGORIES, N_ITEMS)
    # Long tail: Zipf-like popularity over a random ranking of the catalog.
    popularity = 1.0 / (rng.permutation(N_ITEMS) + 5.0) ** 1.1
    price = np.round(rng.lognormal(3.2, 0.7, N_ITEMS), 2)
    # Each user cares about two or three categories, some more than others.
    taste = np.zeros((N_USERS, N_CATEGORIES))
    for user in range(N_USERS):
        liked = rng.choice(N_CATEGORIES, size=rng.integers(2, 4), replace=False)
        taste[user, liked] = rng.dirichlet(np.ones(len(liked)))
    activity = rng.lognormal(0.0, 0.8, N_USERS)
    activity *= 2.1 / activity.mean()  # about two sessions per user and day
    device = rng.choice(len(DEVICES), N_USERS, p=[0.45, 0.35, 0.2])
    return {"category": category, "popularity": popularity, "price": price, "taste": taste,
            "activity": activity, "device": device}


# Share of sessions starting in each hour: quiet at night, peaks at lunch and evening.
_HOURLY = [2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 7, 8, 7, 6, 6, 6, 7, 9, 11, 12, 11, 8, 4]


def simulate_day(day: str) -> list[dict[str, Any]]:
    """A day of sessions, in time order. Each session browses one category (mostly one
    the user likes), clicks some of what it sees, puts some in the cart, buys some."""
    import numpy as np

    shop = _shop()
    rng = np.random.default_rng(int(day.replace("-", "")))
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    hourly = np.array(_HOURLY, dtype=float) / sum(_HOURLY)
    by_category = [np.flatnonzero(shop["category"] == c) for c in range(N_CATEGORIES)]
    in_category = [shop["popularity"][items] / shop["popularity"][items].sum()
                   for items in by_category]
    global_pop = shop["popularity"] / shop["popularity"].sum()
    events: list[dict[str, Any]] = []
    for user in range(N_USERS):
        for session in range(rng.poisson(shop["activity"][user])):
            at = (rng.choice(24, p=hourly) * 3600 + rng.uniform(0, 3600))
            session_id = f"s{day.replace('-', '')}-{user:05d}-{session}"
            views = 1 + rng.geometric(0.22)
            if rng.random() < 0.85:
                cat = rng.choice(N_CATEGORIES, p=shop["taste"][user])
                seen = rng.choice(by_category[cat], size=views, p=in_category[cat])
            else:
                seen = rng.choice(N_ITEMS, size=views, p=global_pop)
            cart: list[int] = []
            trail: list[tuple[str, int]] = []
            for item in seen:
                trail.append(("view", int(item)))
                if rng.random() < 0.32:
                    trail.append(("click", int(item)))
                    if rng.random() < 0.25:
                        trail.append(("add_to_cart", int(item)))
                        cart.append(int(item))
            trail.extend(("purchase", item) for item in cart if rng.random() < 0.45)
            for kind, item in trail:
                at += rng.exponential(25.0)
                if at >= 86_400:
                    break
                when = start + dt.timedelta(seconds=float(at))
                events.append({
                    "event_time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "event_type": kind,
                    "user_id": f"u{user:05d}",
                    "session_id": session_id,
                    "item_id": f"i{item:04d}",
                    "device": DEVICES[shop["device"][user]],
                    "price": (float(shop["price"][item])
                              if kind in ("add_to_cart", "purchase") else None),
                })
    events.sort(key=lambda e: e["event_time"])
    for n, event in enumerate(events):
        event["event_id"] = hashlib.sha1(f"{day}/{n}".encode()).hexdigest()[:16]
    return events


def _garble(data: bytes) -> bytes:
    """What a broken upload looks like: cut off mid-record, with a stretch of junk."""
    cut = int(len(data) * 0.6)
    middle = len(data) // 3
    return data[:middle] + b"\x00\x00\xff\xfe\x1b#!" + data[middle + 7 : cut]


# -- the assets ---------------------------------------------------------------------------


@lg.asset(owner="data-eng")
def raw_events(ctx: lg.StepContext) -> dict[str, Any]:
    """Land a day of user activity as JSON-lines part files, as an uploader would in a
    bucket: ``landing/day=YYYY-MM-DD/part-NNNN.jsonl`` plus a ``_manifest.json`` listing
    each file's record count and checksum."""
    day = _day(ctx)
    bad_upload = _flag(ctx.params.get("bad_upload", False))
    folder = _data_dir(ctx) / "landing" / f"day={day}"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.jsonl"):
        old.unlink()
    events = simulate_day(day)
    files = []
    size = -(-len(events) // N_PARTS)
    for part in range(N_PARTS):
        chunk = events[part * size : (part + 1) * size]
        data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in chunk).encode()
        entry = {"path": f"part-{part:04d}.jsonl", "records": len(chunk), "bytes": len(data),
                 "sha256": hashlib.sha256(data).hexdigest()}
        if bad_upload and part == N_PARTS // 2:
            data = _garble(data)
            ctx.log.warning("simulating a bad upload: %s lands truncated and garbled",
                            entry["path"])
        _write_atomically(folder / entry["path"], data)
        files.append(entry)
    manifest = {"day": day, "dir": str(folder), "files": files, "events": len(events),
                "users": len({e["user_id"] for e in events}),
                "items": len({e["item_id"] for e in events})}
    _write_atomically(folder / "_manifest.json", json.dumps(manifest, indent=2).encode())
    counts: dict[str, int] = {}
    for event in events:
        counts[event["event_type"]] = counts.get(event["event_type"], 0) + 1
    ctx.log.info("landed %d events for %s in %d files under %s: %s", len(events), day,
                 len(files), folder, ", ".join(f"{k} {v}" for k, v in counts.items()))
    return manifest


class CorruptUploadError(ValueError):
    """A landed part file cannot be read, or does not match the upload manifest."""


def _read_part(folder: Path, entry: dict[str, Any]) -> Any:
    import io

    import polars as pl

    path = folder / entry["path"]
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() == entry["sha256"]:
        return pl.read_ndjson(io.BytesIO(data), schema=_EVENT_SCHEMA())
    problem = (f"{len(data):,} bytes where the upload manifest says {entry['bytes']:,}, and "
               "its checksum differs")
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line:
            continue
        try:
            json.loads(line)
        except ValueError:
            problem += f"; line {number} is not valid JSON (truncated or garbled upload)"
            break
    raise CorruptUploadError(
        f"corrupt part file {path}: {problem}. Re-upload the file, then run again "
        f"(expected {entry['records']:,} records)")


def _EVENT_SCHEMA() -> Any:  # noqa: N802 - a schema constant that imports Polars lazily
    import polars as pl

    return {"event_time": pl.String, "event_type": pl.String, "user_id": pl.String,
            "session_id": pl.String, "item_id": pl.String, "device": pl.String,
            "price": pl.Float64, "event_id": pl.String}


@lg.asset(retries=lg.Retry(2, base=0.2, jitter=True), owner="data-eng")
def features(raw_events: dict[str, Any], ctx: lg.StepContext) -> Any:
    """User-item interaction strengths from the day's events (view 1, click 2, cart 4,
    purchase 8), split in time: the last 20 % of the day is held out for evaluation."""
    import polars as pl

    folder = Path(raw_events["dir"])
    ctx.log.info("attempt %d: reading %d part files of %s from %s", ctx.attempt,
                 len(raw_events["files"]), raw_events["day"], folder)
    try:
        events = pl.concat([_read_part(folder, entry) for entry in raw_events["files"]])
    except CorruptUploadError as error:
        ctx.log.error("%s", error)
        raise
    events = events.with_columns(
        pl.col("event_time").str.to_datetime("%Y-%m-%dT%H:%M:%S%.3fZ", time_zone="UTC"),
        pl.col("event_type").replace_strict(EVENT_WEIGHTS, return_dtype=pl.Float32)
        .alias("weight"),
    )
    cutoff = events["event_time"].sort()[int(events.height * (1 - HOLDOUT_SHARE))]
    pairs = (
        events.with_columns(
            pl.when(pl.col("event_time") < cutoff).then(pl.lit("train"))
            .otherwise(pl.lit("holdout")).alias("split"))
        .group_by("user_id", "item_id", "split")
        .agg(pl.col("weight").sum(), pl.len().cast(pl.UInt32).alias("events"),
             (pl.col("event_type") == "purchase").any().alias("purchased"),
             pl.col("event_time").max().alias("last_event_at"))
    )
    train = pairs.filter(pl.col("split") == "train")
    # Evaluate on what users discover later in the day: pairs not seen before the cutoff,
    # for users and items the model can know.
    holdout = (
        pairs.filter(pl.col("split") == "holdout")
        .join(train.select("user_id", "item_id"), on=["user_id", "item_id"], how="anti")
        .join(train.select("user_id").unique(), on="user_id", how="semi")
        .join(train.select("item_id").unique(), on="item_id", how="semi")
    )
    frame = pl.concat([train, holdout]).sort("split", "user_id", "item_id",
                                                    descending=[True, False, False])
    ctx.log.info(
        "%d events -> %d training pairs (%d users, %d items) and %d holdout pairs "
        "(cutoff %s)", events.height, train.height, train["user_id"].n_unique(),
        train["item_id"].n_unique(), holdout.height, cutoff)
    return frame


@lg.asset(fallback=lg.last_good, owner="ml")
def model(features: Any, ctx: lg.StepContext) -> dict[str, Any]:
    """An ALS collaborative-filtering model (the ``implicit`` library) on the training
    pairs, with its user and item id mappings."""
    import numpy as np
    import polars as pl
    import scipy.sparse as sp
    import threadpoolctl
    from implicit.als import AlternatingLeastSquares

    train = features.filter(pl.col("split") == "train")
    user_ids = sorted(train["user_id"].unique().to_list())
    item_ids = sorted(train["item_id"].unique().to_list())
    user_index = {u: n for n, u in enumerate(user_ids)}
    item_index = {i: n for n, i in enumerate(item_ids)}
    rows = np.array([user_index[u] for u in train["user_id"].to_list()])
    cols = np.array([item_index[i] for i in train["item_id"].to_list()])
    # Confidence grows with the strength of the interaction, damped by a log.
    confidence = (1.0 + 8.0 * np.log1p(train["weight"].to_numpy())).astype(np.float32)
    user_items = sp.csr_matrix((confidence, (rows, cols)),
                               shape=(len(user_ids), len(item_ids)))
    settings = {"factors": 32, "iterations": 12, "regularization": 0.1, "random_state": 7}
    started = time.perf_counter()
    # One BLAS thread: ALS parallelizes over users itself, and nested BLAS threads are slow.
    with threadpoolctl.threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(**settings)
        als.fit(user_items, show_progress=False)
    day = _day(ctx)
    user_items.sort_indices()
    digest = hashlib.sha256("\n".join(user_ids + item_ids).encode())
    for part in (user_items.indptr, user_items.indices, user_items.data):
        digest.update(part.tobytes())
    data_version = digest.hexdigest()[:12]
    version = f"als-{day}-{data_version[:8]}"
    ctx.log.info("trained %s on %d users x %d items (%d interactions) in %.2f s", version,
                 len(user_ids), len(item_ids), user_items.nnz, time.perf_counter() - started)
    return {"version": version, "trained_on": day, "run_id": ctx.run_id,
            "data_version": data_version, "settings": settings, "als": als,
            "user_ids": user_ids, "item_ids": item_ids, "user_items": user_items}


def _ranking_metrics(recommended: dict[str, list[str]], relevant: dict[str, set[str]]
                     ) -> dict[str, float]:
    precision = recall = 0.0
    for user, items in relevant.items():
        hits = len(set(recommended.get(user, [])[:K]) & items)
        precision += hits / K
        recall += hits / len(items)
    n = max(len(relevant), 1)
    return {f"precision_at_{K}": round(precision / n, 4), f"recall_at_{K}": round(recall / n, 4)}


@lg.asset(fallback=lg.last_good, owner="ml")
def evaluation(features: Any, model: dict[str, Any], ctx: lg.StepContext) -> dict[str, Any]:
    """Precision and recall at 10 on the held-out pairs, for the model and for the
    popularity baseline (most-interacted items the user has not seen yet)."""
    import numpy as np
    import polars as pl
    import threadpoolctl

    holdout = features.filter(pl.col("split") == "holdout")
    relevant: dict[str, set[str]] = {}
    for user, item in holdout.select("user_id", "item_id").iter_rows():
        relevant.setdefault(user, set()).add(item)
    user_index = {u: n for n, u in enumerate(model["user_ids"])}
    users = sorted(u for u in relevant if u in user_index)
    relevant = {u: relevant[u] for u in users}
    item_ids = model["item_ids"]
    rows = np.array([user_index[u] for u in users], dtype=np.int32)
    with threadpoolctl.threadpool_limits(1, "blas"):
        ids, _ = model["als"].recommend(rows, model["user_items"][rows], N=K,
                                        filter_already_liked_items=True)
    by_model = {u: [item_ids[i] for i in ids[n] if i >= 0] for n, u in enumerate(users)}
    popular = (features.filter(pl.col("split") == "train").group_by("item_id")
               .agg(pl.col("weight").sum()).sort("weight", descending=True)["item_id"]
               .to_list())
    seen: dict[str, set[str]] = {}
    train = features.filter(pl.col("split") == "train").select("user_id", "item_id")
    for user, item in train.iter_rows():
        seen.setdefault(user, set()).add(item)
    by_popularity = {}
    for user in users:
        top = []
        for item in popular:
            if item not in seen.get(user, ()):
                top.append(item)
                if len(top) == K:
                    break
        by_popularity[user] = top
    metrics = {"model_version": model["version"], "day": _day(ctx), "k": K,
               "users_evaluated": len(users), "holdout_pairs": holdout.height,
               "model": _ranking_metrics(by_model, relevant),
               "popularity": _ranking_metrics(by_popularity, relevant)}
    base = metrics["popularity"][f"recall_at_{K}"]
    metrics["recall_lift_over_popularity"] = (
        round(metrics["model"][f"recall_at_{K}"] / base, 3) if base else None)
    ctx.log.info("%s on %d users: model %s, popularity %s", model["version"], len(users),
                 metrics["model"], metrics["popularity"])
    return metrics


@lg.asset(owner="ml")
def deployment(model: dict[str, Any], evaluation: dict[str, Any], ctx: lg.StepContext
               ) -> dict[str, Any]:
    """Publish the model and its metadata to ``serving/``, each written to a temporary file
    and renamed into place. When the model could not be retrained, keep serving the standby
    (last good) model, and say so."""
    day = _day(ctx)
    serving = _data_dir(ctx) / "serving"
    standby = ctx.is_fallback("model")
    if standby:
        reason = (f"the model could not be retrained for {day} (an upstream step failed); "
                  f"serving the standby model {model['version']}, trained on "
                  f"{model['trained_on']} in run {model['run_id']}")
        ctx.log.warning("STANDBY: %s", reason)
    else:
        reason = f"fresh model trained on {day}"
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    _write_atomically(serving / "model.pkl", blob)
    metadata = {
        "run_id": ctx.run_id,
        "deployed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "day": day,
        "standby": standby,
        "reason": reason,
        "model_version": model["version"],
        "trained_on": model["trained_on"],
        "trained_in_run": model["run_id"],
        "data_version": model["data_version"],
        "model_file": "model.pkl",
        "model_sha256": hashlib.sha256(blob).hexdigest(),
        "metrics": evaluation,
        "metrics_are_standby": ctx.is_fallback("evaluation"),
    }
    _write_atomically(serving / "metadata.json", json.dumps(metadata, indent=2).encode())
    ctx.log.info("deployed %s to %s (standby: %s)", model["version"], serving, standby)
    return metadata
