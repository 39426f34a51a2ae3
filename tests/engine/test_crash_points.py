"""Named crash points: the engine's process dies (SIGKILL, through ``LEGATO_FAULT``) at each
point a step passes, while a 50-step run of a flow or of assets is in progress; the run is
then resumed and the durability contract holds (``durable_kit.check_invariants``). A value
file cut off mid-write stays under its temporary name, and no committed value or
materialization ever refers to a torn file."""

from __future__ import annotations

import hashlib
import random
import zlib
from pathlib import Path

import durable_child
import pytest
from durable_kit import Place, check_invariants, finish, resume, run_ids, start
from sqlalchemy import select

from legato import faults
from legato.store import schema
from legato.store.sql_store import SqlStore

PASSAGES = {  # how often a run passes each point (the flow; the asset run alike)
    "after-claim": durable_child.STEPS + durable_child.FLAKY_FAILURES,
    "after-body": durable_child.STEPS,
    "mid-value-write": durable_child.FANOUT,  # the pickled values are files
    "after-value": durable_child.STEPS,
    "after-commit": durable_child.STEPS,
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    url = None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))
    return Place(tmp_path, url)


def test_every_point_is_tested() -> None:
    assert set(PASSAGES) == set(faults.POINTS)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["flow", "assets"])
@pytest.mark.parametrize("point", faults.POINTS)
def test_a_crash_at_each_point_then_resume(place: Place, point: str, kind: str) -> None:
    rng = random.Random(zlib.crc32(f"{point}/{kind}/{place.url is None}".encode()))
    nth = rng.randint(1, PASSAGES[point])
    code, out, err = finish(start(place, kind, fault=f"{point}:{nth}"))
    assert code == -9, (f"{point}:{nth} did not crash the run", out, err)
    (run_id,) = run_ids(place)
    tmp = [p for p in (place.home / "values").rglob("*.tmp")]
    if point == "mid-value-write":
        assert tmp, "the torn file is left under its temporary name"
        assert any(p.stat().st_size > 0 for p in tmp)  # others may be just opened
    code, out, err = finish(resume(place, run_id))
    assert (code, out["status"]) == (0, "succeeded"), (out, err)
    check_invariants(place, run_id, kind)
    with SqlStore(place.store_url) as store, store.engine.connect() as connection:
        referenced = {row.uri for row in connection.execute(select(schema.stored_values))}
        materialized = list(connection.execute(select(schema.materializations)))
    assert not {str(p) for p in tmp} & referenced
    if kind == "assets":
        assert len(materialized) == durable_child.STEPS
        with SqlStore(place.store_url) as store:
            for row in materialized:
                stored = store.get_value(row.value_id)
                assert stored is not None
                if stored.uri:
                    data = Path(stored.uri).read_bytes()
                    assert hashlib.sha256(data).hexdigest() == stored.digest
