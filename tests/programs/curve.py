"""A training program for tests: logs a learning curve, one value per epoch.

score at epoch e (1, 2, ...) = quality * (1 - exp(-e / 3)), logged with the client at step e,
so a higher quality is better at every epoch.

Flags: --quality, --epochs, --epoch_s (sleep after each epoch), --logger (hypersweep's client,
or `wandb.log` as a W&B script would).
--gate Q --go_file PATH: a run with quality below Q ("bad") waits until PATH exists before
it logs anything, and after its last epoch waits to be stopped instead of exiting; so a test
decides when bad runs meet their peers, and only early termination can end them.
"""

import argparse
import math
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--quality", type=float, default=1.0)
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--epoch_s", type=float, default=0.0)
parser.add_argument("--gate", type=float, default=None)
parser.add_argument("--go_file", default=None)
parser.add_argument("--logger", choices=("hypersweep", "wandb"), default="hypersweep")
args, _unknown = parser.parse_known_args()

bad = args.gate is not None and args.quality < args.gate
deadline = time.monotonic() + 120
while bad and args.go_file and not Path(args.go_file).exists():
    if time.monotonic() > deadline:
        raise SystemExit("curve: no go file after 120 s")
    time.sleep(0.05)

if args.logger == "wandb":
    import wandb

    run = wandb.init()
else:
    import hypersweep

    run = hypersweep.init()
for epoch in range(1, args.epochs + 1):
    run.log({"score": args.quality * (1 - math.exp(-epoch / 3))}, step=epoch)
    time.sleep(args.epoch_s)
run.finish()

if bad:
    time.sleep(120)  # only early termination ends this run in time
