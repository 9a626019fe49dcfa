"""Screenshots of the dashboard for the README, from a real sweep: the digits MLP example's
bayes sweep (examples/digits/sweep-bayes.yaml, 16 runs, 2 workers) run into a temporary
store, then its sweep page and its best run's page in Debian's chromium.

    .venv/bin/python scripts/dashboard_screenshots.py      # writes docs/img/showcase-*.png

Needs the test extra (playwright) and /usr/bin/chromium; takes about a minute.
The browser test's own screenshots (docs/img/sweep.png, run.png) show its test sweep."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from hypersweep.server.serve import BackgroundServer, bind
from hypersweep.store import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "digits"
OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"


def run_example_sweep(store_url: str) -> None:
    command = [sys.executable, "-m", "hypersweep.cli.main", "--store", store_url, "run"]
    command += ["sweep-bayes.yaml", "--jobs", "2", "--seed", "0", "--no-ui"]
    subprocess.run(command, cwd=EXAMPLE, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'hypersweep.db'}")
        run_example_sweep(store.url)
        [sweep] = store.list_sweeps()
        [best] = store.top_runs(sweep["id"], "val_accuracy", "maximize", 1)
        server = BackgroundServer(store, bind("127.0.0.1", 0))
        server.start()
        try:
            shoot(
                server.bound.url(f"/sweeps/{sweep['id']}"), server.bound.url(f"/runs/{best['id']}")
            )
        finally:
            server.stop()
            store.close()


def shoot(sweep_url: str, run_url: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.goto(sweep_url)
        expect(page.locator("#sweep-state .badge")).to_have_text("finished")
        expect(page.locator("#curves-chart .uplot")).to_have_count(1)
        expect(page.locator("#importance .bar")).to_have_count(3, timeout=30_000)
        page.screenshot(path=str(OUT / "showcase-sweep.png"), full_page=True)
        page.goto(run_url)  # the best run
        expect(page.locator("#run-state .badge")).to_have_text("finished")
        expect(page.locator("#charts .uplot")).to_have_count(2)  # val_accuracy, train_loss
        expect(page.locator("#log")).to_contain_text("epoch 11")
        page.screenshot(path=str(OUT / "showcase-run.png"), full_page=True)
        browser.close()
    print(f"wrote {OUT / 'showcase-sweep.png'} and {OUT / 'showcase-run.png'}")


if __name__ == "__main__":
    main()
