"""The dashboard in a real browser (Debian's chromium, driven by Playwright): a live sweep,
a run page, stopping a run from the UI, and a parameter that tries to inject HTML."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import hypersweep_cmd, wait_for, write_sweep

CHROMIUM = Path("/usr/bin/chromium")
# Screenshots for the README are refreshed only when asked (HYPERSWEEP_SCREENSHOTS=1), so a
# test run leaves the checkout clean; otherwise they go to a temporary directory.
DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
XSS = "<img src=x onerror=alert(1)>"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    if os.environ.get("CI"):  # .ci/run installs it: a missing browser must not pass quietly
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install -y chromium)", allow_module_level=True)
expect = sync_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


class Background:
    """A `hypersweep` command in the background, its output in a file."""

    def __init__(self, args: list[str], cwd: Path, name: str) -> None:
        self.out = cwd / f"{name}.log"
        env = {**os.environ, "COLUMNS": "200"}
        env.pop("HYPERSWEEP_UI_TOKEN", None)
        with open(self.out, "wb") as f:
            self.proc = subprocess.Popen(
                hypersweep_cmd(*args), stdout=f, stderr=subprocess.STDOUT, cwd=cwd, env=env
            )

    def link(self) -> str:
        found = wait_for(
            lambda: re.search(r"dashboard: (http://\S+)", self.out.read_text()),
            timeout=60,
            what=f"the dashboard link in {self.out.name}",
        )
        return found.group(1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # run: stops its workers and programs in order
            self.proc.wait(60)
        print(self.out.read_text())  # shown when the test failed


@pytest.fixture
def live_sweep(tmp_path: Path) -> Iterator[tuple[str, str, Background]]:
    """`hypersweep run` of 6 toy runs (3 s each, 2 workers), which serves the dashboard while
    it runs, and `hypersweep ui` over the same store, which stays after the sweep ended.
    Yields (ui base address, the link `run` printed, the run process)."""
    sweep_file = write_sweep(
        tmp_path,
        "program: TOY\nmethod: grid\nmetric: {name: score, goal: maximize}\n"
        "parameters:\n  x: {values: [1, 2, 3, 4, 5, 6]}\n  sleep: {value: 3}\n"
        f"  label: {{value: '{XSS}'}}\n",
    )
    store = f"sqlite:///{tmp_path / 'hs.db'}"
    ui = Background(["--store", store, "ui", "--port", "0"], tmp_path, "ui")
    run = Background(
        ["--store", store, "run", str(sweep_file), "--jobs", "2", "--ui-port", "0"],
        tmp_path,
        "run",
    )
    try:
        yield ui.link(), run.link(), run
    finally:
        run.stop()
        ui.stop()


def test_live_sweep_stop_a_run_and_open_a_run(browser, live_sweep, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ui, run_link, run = live_sweep
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(ui.rstrip("/") + "/sweeps/" + run_link.rsplit("/", 1)[1])
    expect(page.locator("#sweep-name")).to_have_text("sweep")

    # Runs appear while we watch (no reload): a running one first.
    running = page.locator('#runs-table tbody tr[data-state="running"]').first
    expect(running).to_be_visible(timeout=60_000)
    run_id = running.get_attribute("data-run-id")
    row = page.locator(f'#runs-table tbody tr[data-run-id="{run_id}"]')
    row.locator("button.stop-btn").click()
    expect(page.locator("#notice")).to_contain_text(f"run {run_id} is stopping")
    expect(row.locator("td.state")).to_have_text("stopped_early", timeout=60_000)

    # The rest of the sweep runs to the end, live: 6 rows, sweep finished.
    expect(page.locator("#sweep-state .badge")).to_have_text("finished", timeout=120_000)
    expect(page.locator("#runs-table tbody tr")).to_have_count(6)
    expect(page.locator("#progress-text")).to_have_text("6/6 done, 0 running")
    expect(page.locator("#best-chart .uplot")).to_have_count(1)
    expect(page.locator("#curves-chart .uplot")).to_have_count(1)
    expect(page.locator("#parallel polyline")).to_have_count(6)

    # The injected parameter is shown as text and never became an element.
    cell = page.locator("#runs-table td", has_text="onerror").first
    expect(cell).to_be_visible()
    expect(cell).to_have_text(XSS)
    assert page.locator("main img").count() == 0
    shots = DOCS_IMG if os.environ.get("HYPERSWEEP_SCREENSHOTS") else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "sweep.png"), full_page=True)

    # A finished run's page: params, command, charts of its metrics, its log.
    finished = page.locator('#runs-table tbody tr[data-state="finished"]').first
    finished.locator("a").first.click()
    expect(page.locator("#run-state .badge")).to_have_text("finished")
    expect(page.locator("#exit-code")).to_have_text("0")
    expect(page.locator("#charts .uplot")).to_have_count(2)  # score and loss
    expect(page.locator("#log")).to_contain_text("toy: done")
    expect(page.locator("#params-table")).to_contain_text(XSS)
    expect(page.locator("#command")).to_contain_text("--x=")
    assert page.locator("main img").count() == 0
    page.screenshot(path=str(shots / "run.png"), full_page=True)

    assert dialogs == []  # no script ran from the injected parameter
    assert run.proc.wait(60) == 0


def test_sweeps_list_and_stopped_run_page(browser, live_sweep) -> None:  # type: ignore[no-untyped-def]
    ui, run_link, _run = live_sweep
    page = browser.new_page()
    # The dashboard `run` serves while the sweep runs.
    page.goto(run_link)
    expect(page.locator("#sweep-name")).to_have_text("sweep")
    page.goto(ui)
    row = page.locator("#sweeps-table tbody tr").first
    expect(row).to_contain_text("sweep")
    expect(row).to_contain_text("grid")
    row.locator("a").click()
    running = page.locator('#runs-table tbody tr[data-state="running"] a').first
    expect(running).to_be_visible(timeout=60_000)
    running.click()
    # The run page of a running run: its log grows live, and it can be stopped from here.
    expect(page.locator("#run-state .badge")).to_have_text("running")
    expect(page.locator("#log")).to_contain_text("toy: working", timeout=30_000)
    page.once("dialog", lambda d: d.accept())
    page.locator("#stop-btn").click()
    expect(page.locator("#run-state .badge")).to_have_text("stopped_early", timeout=60_000)
    expect(page.locator("#message")).to_contain_text("stopped by the user")
    expect(page.locator("#log")).to_contain_text("toy: working")
