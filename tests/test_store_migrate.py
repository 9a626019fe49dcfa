"""A store made before a nullable column existed gets the column when opened."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, Table, inspect

from hypersweep.store import Store
from hypersweep.store import schema as s


def test_an_older_store_gets_new_nullable_columns(store_url):
    first = Store(store_url)
    # Imitate the older version: the workers table without its `node` column.
    old = MetaData()
    kept = [Column(c.name, c.type) for c in s.workers.columns if c.name != "node"]
    Table("hs_workers", old, *kept)
    with first.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE hs_workers")
    old.create_all(first.engine)
    assert "node" not in {c["name"] for c in inspect(first.engine).get_columns("hs_workers")}
    first.close()

    store = Store(store_url)  # opening it brings it up to date
    assert "node" in {c["name"] for c in inspect(store.engine).get_columns("hs_workers")}
    sweep_id = store.create_sweep(
        config={"method": "grid", "parameters": {}}, name="n", method="grid", settings={}
    )
    store.register_worker(
        sweep_id=sweep_id, host="h", pid=1, pid_started=None, backend="ray", node="abc"
    )
    assert [w["node"] for w in store.list_workers(sweep_id)] == ["abc"]
    store.close()
