"""The `hypersweep` command. Thin: parse flags, call the layers below, render."""

from __future__ import annotations

import codecs
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.console import Console
from rich.markup import escape

from .. import sweeps as sweep_ops
from ..agent.runlog import LogOutsideRoot, open_run_log, read_chunks, tail_start
from ..config import ConfigError, describe_space
from ..config.command import args_flags
from ..controller import best_runs, importance, sweep_config
from ..controller.outcome import sweep_problems
from ..credentials import SecretError
from ..launch import GpuError, Launcher, LocalLauncher
from ..launch.ray_backend import RayLaunchError
from ..records import run_record, write_csv
from ..scaffold import ScaffoldError
from ..store import STORE_ENV, NotFound, Store, StoreError
from ..store import schema as s
from ..store.store import last_bytes
from . import auth_cmd, init_cmd, render, secret_cmd
from .progress import supervise
from .run_notes import program_notes
from .workers import (
    BackendOption,
    CpusOption,
    GpusOption,
    JobsOption,
    RayAddressOption,
    RetryFailedOption,
    WorkerOptionError,
    WorkerPlan,
    plan_workers,
)

app = typer.Typer(
    help="Hyperparameter sweeps in the Weights & Biases sweep format, on your own machines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain: "[default: ...]" must show as written
)
console = Console()
err = Console(stderr=True, soft_wrap=True)  # an error stays one line, however long

app.command("init")(init_cmd.init)
app.add_typer(secret_cmd.app, name="secret")
app.add_typer(auth_cmd.app, name="auth")

DEFAULT_UI_PORT = 8765
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
CsvFlag = Annotated[
    bool,
    typer.Option(
        "--csv",
        help="Print CSV with a header row: one row a run, params.NAME and summary.METRIC "
        "columns (as the Python API's data frames).",
    ),
]


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


@app.callback()
def _global(
    ctx: typer.Context,
    store: Annotated[
        str | None,  # noqa: UP007 - typer needs Optional
        typer.Option(
            "--store",
            envvar=STORE_ENV,
            help="Store URL: sqlite:///file.db or postgresql://user@host/db "
            "[default: sqlite under ./.hypersweep]",
        ),
    ] = None,
) -> None:
    ctx.obj = {"store_url": store}


def _store(ctx: typer.Context) -> Store:
    if "store" not in ctx.obj:
        ctx.obj["store"] = Store(ctx.obj["store_url"])
    return ctx.obj["store"]


# ------------------------------------------------------------------ creating


@app.command()
def validate(sweep_file: Path) -> None:
    """Check a sweep file and explain its search space."""
    config = sweep_ops.load_runnable_config(sweep_file)
    sweep_ops.program_workdir(config, sweep_file)  # the program must be found, as for `run`
    console.print(f"[green]ok[/green] {escape(str(sweep_file))}: method {config.method}")
    for line in describe_space(config):
        # markup=False: "[true, false]" is a value here, not a rich style tag.
        console.print("  " + line, highlight=False, markup=False)


@app.command()
def sweep(
    ctx: typer.Context,
    sweep_file: Path,
    seed: Annotated[int | None, typer.Option(help="Seed for random and bayes search.")] = None,  # noqa: UP007
) -> None:
    """Create a sweep from a file and print its id (start workers with `agent`)."""
    # Agents may run elsewhere: their machines need the secrets, this one only gets a note.
    sweep_id, config = sweep_ops.create_sweep(
        _store(ctx), sweep_file, seed=seed, check_secrets=False
    )
    try:
        sweep_ops.check_sweep_secrets(config, sweep_file)
    except ConfigError as exc:
        err.print(
            f"[yellow]note:[/yellow] {escape(str(exc))} (needed where agents run)", highlight=False
        )
    err.print(f"created sweep {sweep_id} ({config.method}) in {_store(ctx).display_url}")
    if sweep_ops.lacks_program(config):
        # `agent` would have nothing to spawn: say how W&B runs such a sweep instead.
        err.print("note: no program; W&B runs such sweeps with wandb.agent(sweep_id, function=...)")
    else:
        err.print(f"start workers with: hypersweep agent {sweep_id}")
    print(sweep_id)


UiOption = Annotated[
    bool, typer.Option("--ui/--no-ui", help="Serve the dashboard on 127.0.0.1 meanwhile.")
]
UiPortOption = Annotated[
    int, typer.Option(min=0, max=65535, help="Dashboard port (the next free one if taken).")
]


@app.command()
def run(
    ctx: typer.Context,
    sweep_file: Path,
    jobs: JobsOption = 1,
    gpus_per_job: GpusOption = None,
    seed: Annotated[int | None, typer.Option(help="Seed for random and bayes search.")] = None,  # noqa: UP007
    backend: BackendOption = "local",
    ray_address: RayAddressOption = None,
    cpus_per_job: CpusOption = 1.0,
    fail_fast: Annotated[
        int, typer.Option(min=0, help="Stop when the first N runs all fail (0: never).")
    ] = 5,
    retry_failed: RetryFailedOption = None,
    ui: UiOption = True,
    ui_port: UiPortOption = DEFAULT_UI_PORT,
) -> None:
    """Create a sweep and run it with N parallel workers, showing live progress."""
    sweep_ops.require_program(sweep_file)  # a W&B function sweep: nothing to spawn
    store = _store(ctx)
    config = sweep_ops.load_runnable_config(sweep_file)  # a bad file fails before Ray starts
    plan = plan_workers(
        store,
        sweep_ops.program_workdir(config, sweep_file),
        jobs=jobs,
        backend=backend,
        gpus_per_job=gpus_per_job,
        cpus_per_job=cpus_per_job,
        ray_address=ray_address,
    )
    sweep_id, _config = sweep_ops.create_sweep(
        store, sweep_file, seed=seed, fail_fast=fail_fast, retry_failed=retry_failed
    )
    _run_workers(store, sweep_id, plan, ui_port if ui else None, _store_flag(ctx))


@app.command()
def resume(
    ctx: typer.Context,
    sweep_id: str,
    jobs: JobsOption = 1,
    gpus_per_job: GpusOption = None,
    backend: BackendOption = "local",
    ray_address: RayAddressOption = None,
    cpus_per_job: CpusOption = 1.0,
    retry_failed: RetryFailedOption = None,
    ui: UiOption = True,
    ui_port: UiPortOption = DEFAULT_UI_PORT,
) -> None:
    """Continue a paused, cancelled or failed sweep: interrupted points run again."""
    store = _store(ctx)
    sweep = store.get_sweep(sweep_id)
    if sweep["state"] == s.SWEEP_FINISHED:
        raise CliError(f"sweep {sweep_id} is finished: every point has run")
    # Its secrets must resolve here before the sweep runs again.
    sweep_ops.check_sweep_secrets(sweep_config(sweep), f"sweep {sweep_id}")
    plan = plan_workers(
        store,
        Path(sweep["workdir"] or os.getcwd()),
        jobs=jobs,
        backend=backend,
        gpus_per_job=gpus_per_job,
        cpus_per_job=cpus_per_job,
        ray_address=ray_address,
    )
    try:
        sweep_ops.resume_sweep(store, sweep_id, retry_failed=retry_failed)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    _run_workers(store, sweep_id, plan, ui_port if ui else None, _store_flag(ctx))


def _start_dashboard(store: Store, sweep_id: str, port: int):  # type: ignore[no-untyped-def]
    """The dashboard on a background thread, loopback only (no token needed there).
    A dashboard that cannot start is reported, not fatal: the sweep matters more."""
    from ..server.serve import BackgroundServer, ServeError, bind

    try:
        bound = bind("127.0.0.1", port)
    except ServeError as exc:
        err.print(f"[yellow]dashboard not started: {exc}[/yellow]", highlight=False)
        return None
    if bound.moved:
        console.print(f"port {port} is taken; dashboard on port {bound.port} instead")
    server = BackgroundServer(store, bound)
    server.start()
    console.print(f"dashboard: {bound.url(f'/sweeps/{sweep_id}')}", highlight=False)
    return server


def _store_flag(ctx: typer.Context) -> str:
    """`--store URL ` when the store came from the command line (not the default, not
    HYPERSWEEP_STORE), for commands we suggest; the password stays hidden."""
    url = ctx.obj["store_url"]
    if url is None or os.environ.get(STORE_ENV) == url:
        return ""
    return f"--store {shlex.quote(_store(ctx).display_url)} "


def _run_workers(
    store: Store, sweep_id: str, plan: WorkerPlan, ui_port: int | None, store_flag: str
) -> None:
    plan.attach(sweep_id)
    sweep = store.get_sweep(sweep_id)
    console.print(
        f"sweep [bold]{sweep_id}[/bold] ({sweep['method']}, {render.metric_label(sweep['config'])})"
        f" · {plan.description} · store {store.display_url}",
        highlight=False,
    )
    for note in program_notes(sweep, sweep_config(sweep)):
        console.print(note, highlight=False, soft_wrap=True)
    dashboard = _start_dashboard(store, sweep_id, ui_port) if ui_port is not None else None
    launcher: Launcher = plan.ray_launcher or LocalLauncher(
        store, sweep_id, plan.gpu_layout, sweep["workdir"] or os.getcwd()
    )
    try:
        state = supervise(store, sweep, launcher, console, plan.description)
    finally:
        if dashboard is not None:
            dashboard.stop()
            console.print("dashboard closed; `hypersweep ui` serves it again", highlight=False)
    sweep = store.get_sweep(sweep_id)
    if state == s.SWEEP_PAUSED:
        console.print(
            f"interrupted; resume with: hypersweep {store_flag}resume {sweep_id} "
            + plan.resume_flags,
            markup=False,
            highlight=False,
            soft_wrap=True,  # one line to copy, however long
        )
        raise typer.Exit(130)
    if state == s.SWEEP_FAILED:
        err.print(f"[red]sweep {sweep_id} {sweep['message']}[/red]", highlight=False)
        last_failed = store.list_runs(sweep_id, [s.FAILED])
        if last_failed and last_failed[-1]["log_tail"]:
            err.print("last lines of its log:\n" + last_failed[-1]["log_tail"], highlight=False)
        raise typer.Exit(1)
    if state == s.SWEEP_CANCELLED:
        console.print(f"sweep {sweep_id} was cancelled")
        raise typer.Exit(1)
    _print_best(store, sweep, 1)
    problems = sweep_problems(store, sweep, sweep_config(sweep))
    for problem in problems:
        err.print(f"[red]sweep {sweep_id}: {escape(problem)}[/red]", highlight=False)
    if problems:
        raise typer.Exit(1)


# --------------------------------------------------------------- dashboard


@app.command()
def ui(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port (the next free one if taken).")
    ] = DEFAULT_UI_PORT,
    token: Annotated[
        str | None,  # noqa: UP007
        typer.Option(
            envvar="HYPERSWEEP_UI_TOKEN",
            show_envvar=True,
            help="Access token every request must carry. Required when --host is not "
            "loopback; prefer the environment variable (command lines are visible to others).",
        ),
    ] = None,
    new_token: Annotated[
        bool, typer.Option("--new-token", help="Generate a token and print the link once.")
    ] = False,
) -> None:
    """Serve the web dashboard and its JSON API (/docs) over the store."""
    from ..server.auth import is_loopback
    from ..server.auth import new_token as generate_token
    from ..server.serve import ServeError, bind, serve_forever

    if token is not None and not token.strip():
        raise CliError("--token is empty")
    if new_token:
        token = generate_token()
    elif token is None:
        from ..credentials.sources import ui_token

        # No --token nor HYPERSWEEP_UI_TOKEN: the stored secret `ui-token`, if any.
        token, origin = ui_token()
        if not origin.ok:
            raise CliError(origin.source)
        if token is not None:
            console.print(f"access token: {origin.source}", highlight=False)
    if token is None and not is_loopback(host):
        raise CliError(
            f"--host {host} is reachable from other machines: give an access token "
            "(HYPERSWEEP_UI_TOKEN, a `ui-token` secret, --token, or --new-token)"
        )
    store = _store(ctx)
    try:
        bound = bind(host, port)
    except ServeError as exc:
        raise CliError(str(exc)) from None
    if bound.moved:
        console.print(f"port {port} is taken; serving on port {bound.port} instead")
    console.print(f"store {store.display_url}", highlight=False)
    if new_token:
        # Shown once, here, so it can be opened; never logged after this.
        console.print(f"dashboard: {bound.url(f'/?token={token}')}", highlight=False)
    elif token is not None:
        console.print(
            f"dashboard: {bound.url()} (open it once with ?token=YOUR_TOKEN)", highlight=False
        )
    else:
        console.print(f"dashboard: {bound.url()}", highlight=False)
    console.print("Ctrl-C stops it", highlight=False)
    serve_forever(store, bound, token)


# ----------------------------------------------------------------- workers


@app.command()
def agent(
    ctx: typer.Context,
    sweep_id: str,
    count: Annotated[
        int | None,  # noqa: UP007
        typer.Option(min=1, help="Leave after this many runs (finished or not)."),
    ] = None,
    retry_failed: RetryFailedOption = None,
) -> None:
    """Run one worker for an existing sweep, in this terminal (any machine with the store)."""
    from ..agent import Worker
    from ..agent.process import become_subreaper

    store = _store(ctx)
    # A secret missing here fails now, before this worker claims a run.
    sweep_ops.check_sweep_secrets(sweep_config(store.get_sweep(sweep_id)), f"sweep {sweep_id}")
    worker = Worker(store, sweep_id, gpu_ids=os.environ.get("CUDA_VISIBLE_DEVICES"))
    worker.install_signal_handlers()
    become_subreaper()  # what a program orphans comes back to us, to be stopped and reaped
    if retry_failed is not None:
        sweep_ops.set_retry_failed(store, sweep_id, retry_failed)
    err.print(f"worker for sweep {sweep_id} on {worker.host} (Ctrl-C stops it)")
    reason = worker.run(count)
    err.print(f"worker {worker.worker_id} left: {reason}")


@app.command()
def ps(
    ctx: typer.Context,
    sweep_id: Annotated[str | None, typer.Argument()] = None,  # noqa: UP007
    as_json: JsonFlag = False,
) -> None:
    """Sweeps that are running, with their workers and running runs."""
    store = _store(ctx)
    if sweep_id:
        sweeps = [store.get_sweep(sweep_id)]
    else:
        sweeps = store.list_sweeps([s.SWEEP_RUNNING, s.SWEEP_PAUSED])
    counts = store.run_counts()
    documents = []
    for sweep in sweeps:
        workers = store.list_workers(sweep["id"])
        runs = store.list_runs(sweep["id"], s.ACTIVE_RUN_STATES)
        documents.append({"sweep": sweep, "workers": workers, "runs": runs})
    if as_json:
        render.print_json(
            [
                {
                    **render.sweep_json(d["sweep"], counts.get(d["sweep"]["id"], {})),
                    "workers": [
                        {
                            k: w.get(k)
                            for k in ("id", "host", "pid", "gpu_ids", "state", "heartbeat_at")
                            + ("backend", "node")
                        }
                        for w in d["workers"]
                    ],
                    "runs": [
                        {**render.run_json(r), "node": _run_node(r, d["workers"])}
                        for r in d["runs"]
                    ],
                }
                for d in documents
            ]
        )
        return
    if not documents:
        console.print("no running sweeps")
    for d in documents:
        sweep = d["sweep"]
        console.print(
            f"[bold]{sweep['id']}[/bold] {sweep['name']} · {sweep['state']} · "
            f"{len(d['workers'])} workers · {len(d['runs'])} running",
            highlight=False,
        )
        for w in d["workers"]:
            node = f" (Ray node {w['node'][:12]})" if w.get("node") else ""
            console.print(
                f"  worker {w['id']} {w['host']}{node} pid {w['pid']} "
                f"{'gpu ' + w['gpu_ids'] if w['gpu_ids'] else 'cpu'} "
                f"heartbeat {render.ago(w['heartbeat_at'])}",
                highlight=False,
            )
        if d["runs"]:
            console.print(render.runs_table(d["runs"], None, title="  running"))


def _run_node(run: dict, workers: list[dict]) -> str | None:
    """A run's node is its worker's (Ray node id), else its host."""
    node = next((w.get("node") for w in workers if w["id"] == run["worker_id"]), None)
    return node or run["host"]


@app.command()
def kill(
    ctx: typer.Context,
    sweep_id: Annotated[str | None, typer.Argument()] = None,  # noqa: UP007
    all_sweeps: Annotated[bool, typer.Option("--all", help="Every running sweep.")] = False,
) -> None:
    """Stop every worker and run of a sweep for good (state: cancelled; results kept)."""
    store = _store(ctx)
    if all_sweeps == bool(sweep_id):
        raise CliError("give a SWEEP_ID or --all (not both)")
    ids = (
        [sw["id"] for sw in store.list_sweeps([s.SWEEP_RUNNING, s.SWEEP_PAUSED])]
        if all_sweeps
        else [sweep_id]
    )
    if not ids:
        console.print("no running sweeps")
    for sid in ids:
        stopped = sweep_ops.kill_sweep(store, sid)
        line = (
            f"sweep {sid} cancelled: stopped {stopped['runs']} runs, {stopped['workers']} workers"
        )
        if stopped["remote_runs"]:
            line += f"; {stopped['remote_runs']} runs on other hosts stop at their next heartbeat"
        console.print(line)


# ------------------------------------------------------------------ records


@app.command("sweeps")
def list_sweeps(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The record of sweeps, with run counts by state."""
    store = _store(ctx)
    sweeps = store.list_sweeps()
    counts = store.run_counts()
    if as_json:
        render.print_json([render.sweep_json(sw, counts.get(sw["id"], {})) for sw in sweeps])
    elif not sweeps:
        console.print(f"no sweeps in {store.display_url}")
    else:
        console.print(render.sweeps_table(sweeps, counts))


@app.command()
def rm(
    ctx: typer.Context,
    sweep_id: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a sweep, its runs, metrics and logs."""
    store = _store(ctx)
    sweep = store.get_sweep(sweep_id)
    counts = store.run_counts(sweep_id).get(sweep_id, {})
    if not yes:
        if not sys.stdin.isatty():
            raise CliError(f"refusing to delete sweep {sweep_id} without --yes (no terminal)")
        typer.confirm(
            f"delete sweep {sweep_id} ({sweep['name']}) and its {sum(counts.values())} runs?",
            abort=True,
        )
    try:
        sweep_ops.delete_sweep(store, sweep_id)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    console.print(f"deleted sweep {sweep_id}")


@app.command()
def runs(
    ctx: typer.Context,
    sweep_id: str,
    state: Annotated[str | None, typer.Option(help="Only runs in this state.")] = None,  # noqa: UP007
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """The runs of a sweep: params, state, summary metrics."""
    _one_format(as_json, as_csv)
    store = _store(ctx)
    sweep = store.get_sweep(sweep_id)
    if state is not None and state not in s.RUN_STATES:
        raise CliError(f"--state {state!r}: must be one of {', '.join(s.RUN_STATES)}")
    rows = store.list_runs(sweep_id, [state] if state else None)
    if as_json:
        render.print_json([render.run_json(r) for r in rows])
        return
    if as_csv:
        write_csv([run_record(r) for r in rows], sys.stdout)
        return
    metric = (sweep["config"].get("metric") or {}).get("name")
    console.print(render.runs_table(rows, metric, title=f"runs of sweep {sweep_id}"))


@app.command()
def best(
    ctx: typer.Context,
    sweep_id: str,
    top: Annotated[int, typer.Option(min=1, help="How many runs.")] = 1,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """The winning runs and their hyperparameters."""
    _one_format(as_json, as_csv)
    store = _store(ctx)
    sweep = store.get_sweep(sweep_id)
    if as_csv:  # best first, with a `rank` column; only the header without a metric
        winners = best_runs(store, sweep, top)
        write_csv([{"rank": i, **run_record(r)} for i, r in enumerate(winners, 1)], sys.stdout)
        return
    if as_json:
        config = sweep_config(sweep)
        metric = config.metric
        render.print_json(
            {
                "sweep_id": sweep_id,
                "metric": None if metric is None else {"name": metric.name, "goal": metric.goal},
                "runs": [
                    {**render.run_json(r), "value": r["summary"][metric.name]}
                    for r in best_runs(store, sweep, top)
                ]
                if metric
                else [],
                "importance": importance(store, sweep),
            }
        )
        return
    _print_best(store, sweep, top)


def _one_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise CliError("--json and --csv cannot be used together: pick one")


def _print_best(store: Store, sweep: dict, top: int) -> None:
    config = sweep_config(sweep)
    if config.metric is None:
        console.print(f"sweep {sweep['id']} has no metric: nothing to rank (see `runs`)")
        return
    winners = best_runs(store, sweep, top)
    if not winners:
        console.print(f"no finished run of sweep {sweep['id']} has logged {config.metric.name!r}")
        return
    for rank, run in enumerate(winners, 1):
        value = run["summary"][config.metric.name]
        console.print(
            f"#{rank} run [bold]{run['id']}[/bold] {config.metric.name}={value:.6g} "
            f"({config.metric.goal})",
            highlight=False,
        )
        args = " ".join(args_flags(run["params"], config))  # the flags the program was given
        console.print(f"   {args}", highlight=False, soft_wrap=True)
    shares = importance(store, sweep)
    if shares:
        console.print("parameter importance (share of the metric's variation, from the model):")
        for name, share in shares.items():
            console.print(f"   {name:<24} {share:6.1%}  {'█' * round(share * 30)}", highlight=False)


@app.command()
def logs(
    ctx: typer.Context,
    run_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
    max_bytes: Annotated[
        int | None,  # noqa: UP007
        typer.Option("--max-bytes", min=1, help="Only the last N bytes (default: all of it)."),
    ] = None,
) -> None:
    """A run's captured stdout and stderr."""
    store = _store(ctx)
    run_row = store.get_run(run_id)
    try:
        log = open_run_log(store, run_row)
    except LogOutsideRoot as exc:
        raise CliError(f"run {run_id}: {exc}; not shown") from None
    if log is None:
        if run_row["log_tail"]:
            err.print("(log file not on this machine; last lines kept in the store)")
            tail = run_row["log_tail"]
            print(last_bytes(tail, max_bytes) if max_bytes else tail)
            return
        raise CliError(f"run {run_id} has no log on this machine yet (state {run_row['state']})")
    with log:
        size, start = tail_start(log, max_bytes)
        if start:
            err.print(f"(the last {size - start} of {size} bytes)")
        ended = lambda: store.get_run(run_id)["state"] not in s.ACTIVE_RUN_STATES  # noqa: E731
        _print_log(log, start, ended if follow else None)


def _print_log(log: BinaryIO, position: int, ended: Callable[[], bool] | None) -> None:
    """Print the log from `position`, a chunk at a time; with `ended`, keep printing what is
    added until it says the run has ended."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def copy() -> None:
        nonlocal position
        for chunk in read_chunks(log, position):
            position += len(chunk)
            sys.stdout.write(decoder.decode(chunk))
        sys.stdout.flush()

    copy()
    while ended is not None:
        if os.fstat(log.fileno()).st_size < position:  # the agent cut a log past its cap
            err.print("(the log passed its size limit and was cut; following from its end)")
            position = os.fstat(log.fileno()).st_size
        if ended():
            copy()
            break
        time.sleep(0.5)
        copy()
    sys.stdout.write(decoder.decode(b"", final=True))
    sys.stdout.flush()


def main() -> None:
    """Entry point: user errors end in one line on stderr, never a traceback."""
    try:
        app()
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except (
        CliError,
        StoreError,
        NotFound,
        GpuError,
        RayLaunchError,
        SecretError,
        ScaffoldError,
        WorkerOptionError,
    ) as exc:
        # escape: messages may hold brackets (pip extras) that rich would take for markup
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
