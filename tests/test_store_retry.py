"""StoreRetry: what is retried, for how long, and what is said; and which store errors count
as an outage. The outages themselves, with real processes: test_faults.py."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from hypersweep.store import Store, StoreError, StoreUnavailable
from hypersweep.store import retry as retry_mod
from hypersweep.store.retry import StoreRetry


@pytest.fixture(autouse=True)
def _no_real_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry_mod, "FIRST_DELAY_S", 0.001)
    monkeypatch.setattr(retry_mod, "MAX_DELAY_S", 0.002)


def flaky(failures: int):
    calls = {"n": 0}

    def operation(value: int) -> int:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise StoreUnavailable("store x: connection refused")
        return value * 2

    return operation, calls


def test_an_outage_is_waited_out_and_reported_once_each_way():
    said: list[str] = []
    retry = StoreRetry(said.append, limit=60)
    operation, calls = flaky(3)
    assert retry.call(operation, 21) == 42
    assert calls["n"] == 4
    assert said[0].startswith("store unreachable, retrying for up to 60 s (store x:")
    assert said[1].startswith("store reachable again after")
    assert len(said) == 2
    assert retry.recently_recovered(within=60) and not retry.recently_recovered(within=0)
    assert retry.call(operation, 1) == 2 and len(said) == 2  # no outage, nothing said


def test_gives_up_after_the_limit():
    retry = StoreRetry(lambda _line: None, limit=0.01)
    operation, _calls = flaky(10**9)
    with pytest.raises(StoreUnavailable, match="gave up after 0 s of retrying"):
        retry.call(operation, 1)


def test_a_stop_ends_the_waiting():
    stop = threading.Event()
    stop.set()
    retry = StoreRetry(lambda _line: None, stop=stop, limit=600)
    operation, calls = flaky(10**9)
    with pytest.raises(StoreUnavailable):
        retry.call(operation, 1)
    assert calls["n"] == 1


def test_other_errors_are_not_retried():
    retry = StoreRetry(lambda _line: None, limit=600)

    def broken() -> None:
        raise StoreError("store x: no such table")

    with pytest.raises(StoreError, match="no such table"):
        retry.call(broken)


def test_a_read_only_sqlite_store_is_an_error_not_an_outage(tmp_path: Path):
    database = tmp_path / "s.db"
    Store(f"sqlite:///{database}").close()
    read_only = Store(f"sqlite:///file:{database}?mode=ro&uri=true")
    with pytest.raises(StoreError, match="readonly") as raised:
        read_only.update_sweep("nosuch", state="running")
    assert not isinstance(raised.value, StoreUnavailable)
    read_only.close()
