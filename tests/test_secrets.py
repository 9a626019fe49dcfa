"""Secrets: the store (modes, names, atomic writes), `secret add/ls/rm`, `auth check`, and a
sweep whose `env:` names a secret: the value reaches the program's environment and nowhere
else (store rows, logs, files, CLI output, `ps`)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import PROGRAMS, assert_one_line_error, hypersweep_cmd, wait_for
from sqlalchemy import MetaData, select

from hypersweep.credentials import SecretError, SecretStore
from hypersweep.credentials.sources import ui_token
from hypersweep.store import Store

VALUE = "hs-test-7f3a91c2e5d8b4a6"  # unique enough that finding it anywhere is a leak
SHA = hashlib.sha256(VALUE.encode()).hexdigest()


@pytest.fixture(autouse=True)
def _private_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Never the real user's config: a fresh HOME and XDG_CONFIG_HOME per test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("HYPERSWEEP_SECRETS_DIR", raising=False)
    monkeypatch.delenv("HYPERSWEEP_UI_TOKEN", raising=False)
    return home / ".config" / "hypersweep" / "secrets"


def hs(cwd: Path, *args: str, input: str | None = None, env: dict | None = None):
    return subprocess.run(
        hypersweep_cmd(*args),
        cwd=cwd,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def private_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


# ------------------------------------------------------------------- the store


def test_store_modes_names_and_listing(_private_config: Path):
    secrets = SecretStore()
    assert secrets.directory == _private_config  # XDG_CONFIG_HOME is respected
    path = secrets.add("wandb-token", VALUE)
    assert stat.S_IMODE(_private_config.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.get("wandb-token") == VALUE
    secrets.add("wandb-token", VALUE + "2")  # replaced atomically, no temporary left behind
    assert secrets.get("wandb-token") == VALUE + "2"
    assert [p.name for p in _private_config.iterdir()] == ["wandb-token"]
    assert [s.name for s in secrets.list()] == ["wandb-token"]
    secrets.remove("wandb-token")
    assert secrets.list() == []
    with pytest.raises(SecretError, match="not set: add it with `hypersweep secret add x"):
        secrets.get("x")
    for bad in ("../etc", "a/b", "", ".hidden", "x" * 65):
        with pytest.raises(SecretError, match="invalid secret name"):
            secrets.add(bad, VALUE)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_readable_secret_file_is_refused_like_ssh(mode: int):
    secrets = SecretStore()
    path = secrets.add("tok", VALUE)
    path.chmod(mode)
    with pytest.raises(SecretError, match=f"run `chmod 600 {path}`") as caught:
        secrets.get("tok")
    assert VALUE not in str(caught.value)


def test_open_secrets_directory_is_refused():
    secrets = SecretStore()
    secrets.add("tok", VALUE)
    secrets.directory.chmod(0o755)
    with pytest.raises(SecretError, match=f"run `chmod 700 {secrets.directory}`"):
        secrets.get("tok")


def test_ui_token_sources(monkeypatch: pytest.MonkeyPatch):
    assert ui_token()[0] is None
    path = SecretStore().add("ui-token", VALUE)
    token, origin = ui_token()
    assert token == VALUE and str(path) in origin.source and VALUE not in origin.source
    monkeypatch.setenv("HYPERSWEEP_UI_TOKEN", "from-env-123")
    token, origin = ui_token()
    assert token == "from-env-123" and "HYPERSWEEP_UI_TOKEN" in origin.source


# ------------------------------------------------------------------ the CLI


def test_secret_add_ls_rm_never_print_the_value(tmp_path: Path, _private_config: Path):
    source = private_file(tmp_path / "token.txt", VALUE + "\n")
    outputs = []
    result = hs(tmp_path, "secret", "add", "wandb-token", f"@{source}")
    assert result.returncode == 0, result.stderr
    outputs.append(result)
    assert (_private_config / "wandb-token").read_text() == VALUE  # trailing newline dropped
    result = hs(tmp_path, "secret", "add", "env-one", "--from-env", "MY_VAR", env={"MY_VAR": VALUE})
    assert result.returncode == 0, result.stderr
    outputs.append(result)
    result = hs(tmp_path, "secret", "add", "piped", input=VALUE + "\n")
    assert result.returncode == 0, result.stderr
    outputs.append(result)
    assert SecretStore().get("piped") == VALUE
    listing = hs(tmp_path, "secret", "ls", "--json")
    outputs.append(listing)
    assert [s["name"] for s in json.loads(listing.stdout)] == ["env-one", "piped", "wandb-token"]
    outputs.append(hs(tmp_path, "secret", "ls"))
    outputs.append(hs(tmp_path, "auth", "check"))
    result = hs(tmp_path, "secret", "rm", "piped")
    assert result.returncode == 0
    outputs.append(result)
    assert not (_private_config / "piped").exists()
    for out in outputs:
        assert VALUE not in out.stdout + out.stderr


def test_secret_add_errors_are_one_line(tmp_path: Path):
    loose = private_file(tmp_path / "loose.txt", VALUE, 0o644)
    line = assert_one_line_error(
        hs(tmp_path, "secret", "add", "t", f"@{loose}"), f"chmod 600 {loose}"
    )
    assert VALUE not in line
    assert_one_line_error(hs(tmp_path, "secret", "add", "t", VALUE), "@FILE", "ps")
    assert_one_line_error(hs(tmp_path, "secret", "add", "a/b", f"@{loose}"), "invalid secret name")
    assert_one_line_error(
        hs(tmp_path, "secret", "add", "t", "--from-env", "NOPE_UNSET"), "NOPE_UNSET"
    )
    assert_one_line_error(
        hs(tmp_path, "secret", "add", "t", f"@{tmp_path / 'none'}"), "does not exist"
    )
    assert_one_line_error(hs(tmp_path, "secret", "rm", "nosuch"), "no secret named 'nosuch'")
    assert SecretStore().list() == []


def test_auth_check_says_where_without_values(tmp_path: Path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        f"program: {PROGRAMS / 'secret_env.py'}\nmethod: grid\nparameters: {{x: {{value: 1}}}}\n"
        "env: {HS_TEST_SECRET: 'secret:wandb-token', PLAIN: 'x'}\n"
    )
    missing = hs(tmp_path, "auth", "check", "--sweep", str(sweep))
    assert missing.returncode == 1
    assert "env.HS_TEST_SECRET: secret 'wandb-token' is not set" in missing.stdout
    SecretStore().add("wandb-token", VALUE)
    SecretStore().add("ui-token", VALUE + "ui")
    ok = hs(tmp_path, "auth", "check", "--sweep", str(sweep))
    assert ok.returncode == 0, ok.stdout
    assert "dashboard token: secret ui-token (" in ok.stdout
    assert "env.HS_TEST_SECRET: secret wandb-token (" in ok.stdout
    from_env = hs(tmp_path, "auth", "check", "--json", env={"HYPERSWEEP_UI_TOKEN": VALUE})
    checks = {c["what"]: c for c in json.loads(from_env.stdout)}
    assert checks["dashboard token"]["source"] == "environment variable HYPERSWEEP_UI_TOKEN"
    store = hs(tmp_path, "--store", "postgresql://u:pw-9x8y7z@127.0.0.1/db", "auth", "check")
    assert "password in the URL" in store.stdout and "pw-9x8y7z" not in store.stdout
    for out in (missing, ok, from_env, store):
        assert VALUE not in out.stdout + out.stderr


# --------------------------------------------------------------- in a sweep


def secret_sweep(directory: Path, extra: str = "") -> Path:
    path = directory / "sweep.yaml"
    path.write_text(
        f"program: {PROGRAMS / 'secret_env.py'}\n"
        "method: grid\n"
        "metric: {name: secret_ok, goal: maximize}\n"
        f"parameters:\n  x: {{values: [1, 2]}}\n  expect_sha: {{value: '{SHA}'}}\n"
        "env:\n  HS_TEST_SECRET: secret:wandb-token\n" + extra
    )
    return path


def test_missing_secret_fails_before_anything_is_recorded(cli, store_url, tmp_path: Path):
    secret_sweep(tmp_path)
    result = cli("run", "sweep.yaml", "--no-ui", check=False)
    line = assert_one_line_error(result, "env.HS_TEST_SECRET", "'wandb-token' is not set")
    assert "hypersweep secret add wandb-token" in line
    assert json.loads(cli("sweeps", "--json").stdout) == []
    # A secret other users can read is refused the same way, before any run.
    SecretStore().add("wandb-token", VALUE).chmod(0o640)
    line = assert_one_line_error(cli("run", "sweep.yaml", "--no-ui", check=False), "chmod 600")
    assert VALUE not in line
    assert json.loads(cli("sweeps", "--json").stdout) == []


def test_secret_in_a_command_line_macro_is_refused(tmp_path: Path):
    SecretStore().add("wandb-token", VALUE)
    secret_sweep(tmp_path, "command: [python, '${program}', '--key=${envvar:HS_TEST_SECRET}']\n")
    assert_one_line_error(hs(tmp_path, "validate", "sweep.yaml"), "envvar:HS_TEST_SECRET", "ps")


def _dump_store(url: str) -> str:
    """Every row of every table, as text."""
    store = Store(url)
    try:
        meta = MetaData()
        meta.reflect(store.engine)
        with store.engine.connect() as conn:
            return "\n".join(
                repr(row) for table in meta.sorted_tables for row in conn.execute(select(table))
            )
    finally:
        store.close()


def _files_text(root: Path, skip: Path) -> str:
    out = []
    for path in root.rglob("*"):
        if path.is_file() and skip not in path.parents:
            out.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(out)


def _all_command_lines() -> str:
    """Every process's command line, read from /proc as `ps` does, but never cut to the
    terminal's width (`ps` truncates to $COLUMNS, which CI may set)."""
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # the process ended while we looked
            continue
    return "\n".join(lines)


def test_secret_reaches_the_program_and_nothing_else(
    store_url, tmp_path: Path, _private_config: Path
):
    SecretStore().add("wandb-token", VALUE)
    secret_sweep(tmp_path)
    hold = tmp_path / "hold"
    hold.mkdir()
    logs = tmp_path / "logs"
    env = {**os.environ, "COLUMNS": "200", "TOY_HOLD_DIR": str(hold)}
    env["HYPERSWEEP_LOG_DIR"] = str(logs)
    proc = subprocess.Popen(
        hypersweep_cmd("--store", store_url, "run", "sweep.yaml", "--no-ui"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for(lambda: list(hold.glob("started-*")), 120, "the program to start")
        # While it runs: no command line on the machine, and no `hypersweep ps`, shows it.
        program_pid = next(hold.glob("started-*")).name.split("-")[1]
        program_line = Path(f"/proc/{program_pid}/cmdline").read_bytes()
        assert b"secret_env.py" in program_line  # sanity: we are looking at the program
        assert VALUE not in _all_command_lines()
        hs_ps = hs(tmp_path, "--store", store_url, "ps", "--json")
        assert hs_ps.returncode == 0 and '"running"' in hs_ps.stdout
        assert VALUE not in hs_ps.stdout + hs_ps.stderr
        # Only the program's environment holds it; its worker (the agent) never had it.
        assert VALUE.encode() in Path(f"/proc/{program_pid}/environ").read_bytes()
        for worker in json.loads(hs_ps.stdout)[0]["workers"]:
            assert VALUE.encode() not in Path(f"/proc/{worker['pid']}/environ").read_bytes()
        (hold / "release").touch()
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    sweep_id = json.loads(hs(tmp_path, "--store", store_url, "sweeps", "--json").stdout)[0]["id"]
    runs = json.loads(hs(tmp_path, "--store", store_url, "runs", sweep_id, "--json").stdout)
    assert len(runs) == 2
    for run in runs:  # the program saw the right value in its environment
        assert run["state"] == "finished"
        assert run["summary"]["has_secret"] == 1.0 and run["summary"]["secret_ok"] == 1.0
    logs_env = {"HYPERSWEEP_LOG_DIR": str(logs)}  # `logs` reads only inside the log directory
    log_text = hs(tmp_path, "--store", store_url, "logs", runs[0]["id"], env=logs_env).stdout
    assert "HS_TEST_SECRET=[secret]" in log_text  # the careless print was masked
    dump = _dump_store(store_url)
    assert "secret:wandb-token" in dump  # the reference is recorded, not the value
    assert SHA in dump  # sanity: the dump does hold the runs' params
    everything = "\n".join(
        [stdout, stderr, log_text, dump, _files_text(tmp_path, skip=_private_config)]
    )
    assert VALUE not in everything


def test_agent_and_resume_refuse_a_sweep_whose_secret_is_gone(tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    SecretStore().add("wandb-token", VALUE)
    secret_sweep(tmp_path)
    created = hs(tmp_path, "--store", store, "sweep", "sweep.yaml")
    assert created.returncode == 0, created.stderr
    sweep_id = created.stdout.strip()
    SecretStore().remove("wandb-token")
    for command in (["agent", sweep_id], ["resume", sweep_id]):
        assert_one_line_error(
            hs(tmp_path, "--store", store, *command), f"sweep {sweep_id}", "'wandb-token'"
        )
    runs = hs(tmp_path, "--store", store, "runs", sweep_id, "--json")
    assert json.loads(runs.stdout) == []


def _modes(root: Path) -> dict[str, int]:
    """Every file and directory under `root` (itself included) -> its permission bits."""
    return {
        str(path.relative_to(root.parent)): stat.S_IMODE(path.stat().st_mode)
        for path in [root, *root.rglob("*")]
    }


def test_secret_logged_as_metric_or_summary_is_masked_and_files_are_private(
    tmp_path: Path, _private_config: Path
):
    """A program logs the secret as metric names and summary keys/values (client) and in
    stdout metric lines: nothing recorded holds it, and every file of the store and the
    logs is 0600 in 0700 directories, even under a umask of 022."""
    SecretStore().add("wandb-token", VALUE)
    (tmp_path / "sweep.yaml").write_text(
        f"program: {PROGRAMS / 'secret_env.py'}\n"
        "method: grid\n"
        "metric: {name: secret_ok, goal: maximize}\n"
        f"parameters:\n  leak: {{values: [client, stdout]}}\n  expect_sha: {{value: '{SHA}'}}\n"
        "env:\n  HS_TEST_SECRET: secret:wandb-token\n"
    )
    store_dir = tmp_path / "store"  # created by `run`; the logs go beside the store
    store_url = f"sqlite:///{store_dir / 'hs.db'}"
    hold = tmp_path / "hold"
    hold.mkdir()
    env = {**os.environ, "COLUMNS": "200", "TOY_HOLD_DIR": str(hold)}
    env.pop("HYPERSWEEP_LOG_DIR", None)
    old_umask = os.umask(0o022)
    try:
        proc = subprocess.Popen(
            hypersweep_cmd("--store", store_url, "run", "sweep.yaml", "--no-ui"),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    finally:
        os.umask(old_umask)

    def started() -> list[Path]:
        assert proc.poll() is None, proc.communicate()
        return list(hold.glob("started-*"))

    try:
        wait_for(started, 120, "the program to start")
        # While it runs: the store's -wal and -shm exist (open connections), and so does the
        # metrics file the client appends to.
        running = _modes(store_dir)
        (hold / "release").touch()
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert {"store/hs.db", "store/hs.db-wal", "store/hs.db-shm"} <= set(running)
    assert any(name.endswith(".metrics.jsonl") for name in running)
    assert any(name.endswith(".log") and "worker-" in name for name in running)
    for modes in (running, _modes(store_dir)):
        for name, mode in modes.items():
            wanted = 0o700 if (tmp_path / name).is_dir() else 0o600
            assert mode == wanted, f"{name}: {oct(mode)}"
    # Once its records are in the store, the metrics file (the way in) is gone.
    assert not list(store_dir.rglob("*.metrics.jsonl"))

    sweep_id = json.loads(hs(tmp_path, "--store", store_url, "sweeps", "--json").stdout)[0]["id"]
    listing = hs(tmp_path, "--store", store_url, "runs", sweep_id, "--json")
    runs = {run["params"]["leak"]: run for run in json.loads(listing.stdout)}
    for run in runs.values():
        assert run["state"] == "finished" and run["summary"]["secret_ok"] == 1.0
    summary = runs["client"]["summary"]
    assert summary["note"] == "token=[secret]"  # masked, not dropped
    assert summary["key_[secret]"] == 3.0 and summary["leak/[secret]"] == 1.0
    assert summary["[secret]"] == 2.0 and summary["loss"] == 0.5
    assert summary["nested"] == {"list": ["[secret]", 1], "[secret]": "x"}
    # From stdout: the lines holding the value are masked in the log, so no longer metrics.
    assert set(runs["stdout"]["summary"]) == {"has_secret", "secret_ok"}

    from fastapi.testclient import TestClient

    from hypersweep.server import create_app

    with TestClient(create_app(store_url)) as api:
        answers = [api.get(f"/api/sweeps/{sweep_id}").text]
        answers.append(api.get(f"/api/sweeps/{sweep_id}/runs").text)
        for run in runs.values():
            for page in ("", "/metrics", "/log"):
                answers.append(api.get(f"/api/runs/{run['id']}{page}").text)
        metrics = api.get(f"/api/runs/{runs['client']['id']}/metrics").json()
    assert "leak/[secret]" in json.dumps(metrics)  # the series, under its masked name
    logs = {
        leak: hs(tmp_path, "--store", store_url, "logs", run["id"]).stdout
        for leak, run in runs.items()
    }
    assert "leak/[secret]=1 loss=0.5" in logs["stdout"]
    everything = "\n".join(
        [stdout, stderr, listing.stdout, *answers, *logs.values(), _dump_store(store_url)]
        + [_files_text(tmp_path, skip=_private_config)]
    )
    assert VALUE not in everything


def test_secret_on_the_command_line_fails_the_run(tmp_path: Path):
    """However it gets there (here: a parameter holding the value), a secret on the program's
    command line fails the run before it starts; the message does not repeat it."""
    SecretStore().add("wandb-token", VALUE)
    secret_sweep(tmp_path)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(sweep.read_text().replace("x: {values: [1, 2]}", f"x: {{value: 'a{VALUE}'}}"))
    store = f"sqlite:///{tmp_path / 'store.db'}"
    hs(tmp_path, "--store", store, "run", "sweep.yaml", "--no-ui")
    sweep_id = json.loads(hs(tmp_path, "--store", store, "sweeps", "--json").stdout)[0]["id"]
    runs = json.loads(hs(tmp_path, "--store", store, "runs", sweep_id, "--json").stdout)
    assert runs and all(run["state"] == "failed" for run in runs)
    for run in runs:
        assert run["pid"] is None
        assert "a secret's value would be on its command line" in run["message"]
        assert VALUE not in run["message"] + (run["log_tail"] or "")
