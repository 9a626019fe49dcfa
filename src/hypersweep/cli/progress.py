"""`hypersweep run`/`resume`: supervise local workers while showing live progress."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..controller import best_runs, sweep_config, total_points
from ..controller.outcome import missing_metric_warning
from ..launch import Launcher
from ..store import Row, Store, StoreUnavailable
from ..store import schema as s
from ..store.retry import StoreRetry
from .render import counts_text, params_text

POLL_S = 0.5


class Progress:
    """The live view of one sweep, read from the store."""

    def __init__(self, store: Store, sweep: Row, workers: str) -> None:
        self.store = store
        self.sweep_id = sweep["id"]
        self.config = sweep_config(sweep)
        self.total = total_points(self.config)
        self.workers = workers
        self.last_snap: dict[str, Any] = {"sweep": sweep, "counts": {}, "best": None}
        self.metric_checked = (
            self.config.metric is None
        )  # done once the metric arrived or we warned

    def snapshot(self) -> dict[str, Any]:
        sweep = self.store.get_sweep(self.sweep_id)
        counts = self.store.run_counts(self.sweep_id).get(self.sweep_id, {})
        best = best_runs(self.store, sweep, 1)
        # Failed runs whose point ran again (retry_failed): a point done once, not twice.
        retried = (
            len(self.store.list_runs(self.sweep_id, [s.FAILED], superseded=True))
            if counts.get(s.FAILED)
            else 0
        )
        self.last_snap = {
            "sweep": sweep,
            "counts": counts,
            "best": best[0] if best else None,
            "retried": retried,
        }
        return self.last_snap

    @staticmethod
    def ended(snap: dict[str, Any]) -> int:
        """Points with a verdict."""
        counts = snap["counts"]
        done = sum(counts.get(st, 0) for st in (s.FINISHED, s.FAILED, s.STOPPED_EARLY))
        return done - snap.get("retried", 0)

    def line(self, snap: dict[str, Any]) -> str:
        counts = snap["counts"]
        ended = self.ended(snap)
        total = "∞" if self.total is None else str(self.total)
        text = (
            f"done {ended}/{total}  running {counts.get(s.RUNNING, 0)}  "
            f"failed {counts.get(s.FAILED, 0)}  crashed {counts.get(s.CRASHED, 0)}"
        )
        best = self.best_text(snap["best"])
        return text + (f"  best {best}" if best else "")

    def best_text(self, best: Row | None) -> str:
        if best is None or self.config.metric is None:
            return ""
        name = self.config.metric.name
        params = params_text(best["params"], 60)
        return f"{name}={best['summary'][name]:.6g} ({best['id']}: {params})"

    def panel(self, snap: dict[str, Any], notices: list[str]) -> Group:
        counts = snap["counts"]
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        ended = self.ended(snap)
        total = "∞ (no run_cap)" if self.total is None else str(self.total)
        table.add_row("sweep", f"{self.sweep_id} · {snap['sweep']['state']} · {self.workers}")
        table.add_row("runs", f"{ended} done of {total} · {counts_text(counts)}")
        if snap["best"] is not None:
            table.add_row("best", self.best_text(snap["best"]))
        return Group(table, *(Text(n, style="yellow") for n in notices[-5:]))

    def metric_notice(self, snap: dict[str, Any]) -> str | None:
        """Once, as soon as runs finish without the sweep's metric: say so while it runs."""
        if self.metric_checked or not snap["counts"].get(s.FINISHED):
            return None
        self.metric_checked = True
        if snap["best"] is not None:
            return None
        return missing_metric_warning(self.store, self.sweep_id, self.config)


def supervise(store: Store, sweep: Row, launcher: Launcher, console: Console, workers: str) -> str:
    """Run until every worker has left. Ctrl-C (or SIGTERM) pauses the sweep and stops the
    workers cleanly. Returns the sweep's final state."""
    progress = Progress(store, sweep, workers)
    interrupted = threading.Event()

    def _interrupt(_signum: int, _frame: object) -> None:
        interrupted.set()

    # A store outage is waited out (the workers ride it out too), saying so meanwhile;
    # Ctrl-C ends the wait.
    retry = StoreRetry(lambda line: console.print(line, soft_wrap=True), stop=interrupted)
    previous = signal.signal(signal.SIGINT, _interrupt), signal.signal(signal.SIGTERM, _interrupt)
    launcher.start()
    try:
        if console.is_terminal:
            _watch_live(progress, launcher, console, interrupted, retry)
        else:
            _watch_log(progress, launcher, console, interrupted, retry)
        if interrupted.is_set():
            with contextlib.suppress(StoreUnavailable):  # then resume finds it `running`
                store.update_sweep(sweep["id"], state=s.SWEEP_PAUSED, message="interrupted")
            console.print("stopping workers…")
    finally:
        try:
            launcher.stop()  # the workers stop whatever the store says
        except StoreUnavailable as exc:
            console.print(f"workers stopped; their runs could not be recorded ({exc})")
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    return store.get_sweep(sweep["id"])["state"]


def _watch_live(
    progress: Progress,
    launcher: Launcher,
    console: Console,
    interrupted: threading.Event,
    retry: StoreRetry,
) -> None:
    """A terminal: a panel redrawn in place."""
    with Live(console=console, auto_refresh=False) as live:
        while True:
            running, snap = _step(progress, launcher, interrupted, retry)
            live.update(progress.panel(snap, launcher.notices), refresh=True)
            if not running:
                return
            time.sleep(POLL_S)


def _watch_log(
    progress: Progress,
    launcher: Launcher,
    console: Console,
    interrupted: threading.Event,
    retry: StoreRetry,
) -> None:
    """Not a terminal (CI, a log file): one line whenever something changed."""
    last_line = ""
    while True:
        running, snap = _step(progress, launcher, interrupted, retry)
        for notice in launcher.notices:
            console.print(notice, soft_wrap=True)
        launcher.notices.clear()
        line = progress.line(snap)
        if line != last_line:
            console.print(line, soft_wrap=True, highlight=False)
            last_line = line
        if not running:
            return
        time.sleep(POLL_S)


def _step(
    progress: Progress, launcher: Launcher, interrupted: threading.Event, retry: StoreRetry
) -> tuple[bool, dict[str, Any]]:
    """Tend the workers, then read the sweep: (keep watching?, what to show). A sweep
    cancelled from elsewhere (`kill`, the dashboard) ends the watch at once: stopping the
    workers from here is quicker than each noticing at its next heartbeat, on any node."""
    try:
        retry.call(launcher.poll)  # before alive(): a dead worker may be replaced
        snap = retry.call(progress.snapshot)
        notice = retry.call(progress.metric_notice, snap)
    except StoreUnavailable:
        if not interrupted.is_set():
            raise  # gave up after the retry limit
        return False, progress.last_snap  # Ctrl-C during an outage
    if notice:
        launcher.notices.append(notice)
    cancelled = snap["sweep"]["state"] == s.SWEEP_CANCELLED
    return launcher.alive() > 0 and not interrupted.is_set() and not cancelled, snap
