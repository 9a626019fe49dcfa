"""Access to the dashboard: tokens off loopback, 401 without them, never in the output."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
from pathlib import Path

import httpx2
import pytest
from conftest import hypersweep_cmd, wait_for, write_sweep
from fastapi.testclient import TestClient

from hypersweep.server import create_app
from hypersweep.server.auth import local_path
from hypersweep.store import Store

TOKEN = "s3cret-Token_for-tests"


def _env() -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("HYPERSWEEP_UI_TOKEN", None)
    return env


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hypersweep.db'}"


def test_non_loopback_without_token_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        hypersweep_cmd("--store", sqlite_url, "ui", "--host", "0.0.0.0", "--port", "0"),
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "access token" in lines[0] and "0.0.0.0" in lines[0]
    assert "Traceback" not in result.stderr


class UiProcess:
    """`hypersweep ui` in the background; its whole output goes to a file."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.log = cwd / "ui.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd
            )
        text = wait_for(lambda: self._port_line(), timeout=60, what="the dashboard link")
        self.port = int(text)

    def _port_line(self) -> str | None:
        assert self.proc.poll() is None, self.log.read_text()
        match = re.search(r"dashboard: http://[^:/]+:(\d+)/", self.log.read_text())
        return match.group(1) if match else None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> str:
        self.proc.terminate()
        self.proc.wait(30)
        return self.log.read_text()


def test_token_required_and_never_logged(sqlite_url: str, tmp_path: Path) -> None:
    env = {**_env(), "HYPERSWEEP_UI_TOKEN": TOKEN}
    ui = UiProcess(
        hypersweep_cmd("--store", sqlite_url, "ui", "--host", "0.0.0.0", "--port", "0"),
        env,
        tmp_path,
    )
    try:
        with httpx2.Client(timeout=10, follow_redirects=True) as http:
            assert http.get(ui.url("/api/sweeps")).status_code == 401
            assert http.get(ui.url("/")).status_code == 401
            wrong = {"Authorization": "Bearer not-it"}
            assert http.get(ui.url("/api/sweeps"), headers=wrong).status_code == 401
            assert http.get(ui.url("/api/sweeps?token=not-it")).status_code == 401
            assert http.get(ui.url("/static/app.css")).status_code == 401
            right = {"Authorization": f"Bearer {TOKEN}"}
            ok = http.get(ui.url("/api/sweeps"), headers=right)
            assert ok.status_code == 200 and ok.json() == []
            # A browser opens the link once: cookie set, token gone from the address.
            login = http.get(ui.url(f"/?token={TOKEN}"))
            assert login.status_code == 200 and "token" not in str(login.url)
            assert "hypersweep" in login.text
            assert http.get(ui.url("/api/sweeps")).status_code == 200  # by the cookie
    finally:
        output = ui.stop()
    assert "GET /api/sweeps" in output  # the access log is on...
    assert TOKEN not in output  # ...and the token is not in it


# Request targets sent as they are (an HTTP client would take `//evil.com/` for a host).
LOGIN_REDIRECTS = [
    ("//evil.com/", "/"),  # scheme-relative: another host
    ("//evil.com/%2F..", "/"),
    ("/%2F%2Fevil.com/", "/"),  # the same, percent-encoded
    ("/\\evil.com/", "/"),  # a backslash: browsers read /\ as //
    ("/%5Cevil.com/", "/"),
    ("/%09/evil.com/", "/"),  # browsers drop a tab: //evil.com
    ("/%0D%0ALocation:%20https://evil.com/", "/"),  # no header injection either
    ("/sweeps/abc", "/sweeps/abc"),  # a page of this server stays as it is
    ("/runs/x?tab=log", "/runs/x?tab=log"),  # with its other parameters
]


def test_token_login_redirects_only_to_this_server(sqlite_url: str, tmp_path: Path) -> None:
    env = {**_env(), "HYPERSWEEP_UI_TOKEN": TOKEN}
    ui = UiProcess(
        hypersweep_cmd("--store", sqlite_url, "ui", "--host", "127.0.0.1", "--port", "0"),
        env,
        tmp_path,
    )
    try:
        for target, location in LOGIN_REDIRECTS:
            joiner = "&" if "?" in target else "?"
            conn = http.client.HTTPConnection("127.0.0.1", ui.port, timeout=10)
            try:
                conn.request("GET", f"{target}{joiner}token={TOKEN}")
                answer = conn.getresponse()
                assert answer.status == 303, target
                assert answer.getheader("location") == location, target
                assert "hypersweep_token=" in answer.getheader("set-cookie", "")  # logged in
            finally:
                conn.close()
    finally:
        ui.stop()


def test_local_path() -> None:
    for outside in (
        "https://evil.com/",
        "evil.com",
        "//evil.com",
        "/\\evil.com",
        "/%5C/x",
        "/\x7f/x",
        "",
    ):
        assert local_path(outside) == "/", outside
    assert local_path("/sweeps/a b") == "/sweeps/a b"


def test_new_token_is_printed_once(sqlite_url: str, tmp_path: Path) -> None:
    ui = UiProcess(
        hypersweep_cmd(
            "--store", sqlite_url, "ui", "--host", "0.0.0.0", "--port", "0", "--new-token"
        ),
        _env(),
        tmp_path,
    )
    try:
        token = re.search(r"\?token=([\w-]+)", ui.log.read_text()).group(1)  # type: ignore[union-attr]
        with httpx2.Client(timeout=10, follow_redirects=True) as http:
            assert http.get(ui.url("/api/sweeps")).status_code == 401
            assert http.get(ui.url(f"/?token={token}")).status_code == 200
    finally:
        output = ui.stop()
    assert len(token) >= 20 and output.count(token) == 1


def test_loopback_refuses_foreign_host_names(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        app = create_app(store=store, loopback_only=True)
        local = TestClient(app, base_url="http://127.0.0.1:8765")
        assert local.get("/api/sweeps").status_code == 200
        # A page on another site reaching us through DNS rebinding has its own Host.
        rebound = TestClient(app, base_url="http://evil.example:8765")
        assert rebound.get("/api/sweeps").status_code == 400
    finally:
        store.close()


def test_run_serves_the_dashboard_and_moves_off_a_taken_port(
    sqlite_url: str, tmp_path: Path
) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    try:
        sweep_file = write_sweep(
            tmp_path, "program: TOY\nmethod: grid\nparameters:\n  x: {value: 1}\n"
        )
        result = subprocess.run(
            hypersweep_cmd("--store", sqlite_url, "run", str(sweep_file), "--ui-port", str(taken)),
            capture_output=True,
            text=True,
            env=_env(),
            cwd=tmp_path,
            timeout=120,
        )
    finally:
        blocker.close()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    moved = [ln for ln in lines if "is taken" in ln]
    assert moved and f"port {taken} is taken" in moved[0]
    link = [ln for ln in lines if ln.startswith("dashboard: http://127.0.0.1:")]
    assert link and "/sweeps/" in link[0]
    progress = [i for i, ln in enumerate(lines) if ln.startswith("done ")]
    assert progress and lines.index(link[0]) < progress[0]  # printed at the start
