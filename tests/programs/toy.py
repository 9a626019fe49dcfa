"""A training program for tests: scores its params, can sleep, fail, or spawn a child.

Flags: --x, --y (numbers), --sleep SECONDS (skipped when TOY_NO_SLEEP is set),
--fail_on X (exit 3 when x equals it),
--child (start a grandchild that sleeps, to test process-group kills),
--stdout (print metrics as `name=value` lines instead of using the client),
--release PATH (cut the sleep short once PATH exists).
"""

import argparse
import os
import subprocess
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.0)
parser.add_argument("--y", type=float, default=0.0)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--fail_on", type=float, default=None)
parser.add_argument("--child", type=lambda v: v == "True", default=False)
parser.add_argument("--stdout", type=lambda v: v == "True", default=False)
parser.add_argument("--release", default="")
args, _unknown = parser.parse_known_args()

marker_dir = os.environ.get("TOY_PID_DIR")
if marker_dir:
    with open(os.path.join(marker_dir, f"{os.getpid()}.pid"), "w") as f:
        f.write(os.environ.get("HYPERSWEEP_RUN_ID", ""))

if args.child:
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])

score = args.x * 10 + args.y
if args.stdout:
    for step in range(3):
        print(f"score={score + step} step={step}", flush=True)
else:
    import hypersweep

    run = hypersweep.init()
    for step in range(3):
        run.log({"score": score + step, "loss": 1.0 / (1 + step)})
    run.finish()

print("toy: working", flush=True)
deadline = time.monotonic() + (0 if os.environ.get("TOY_NO_SLEEP") else args.sleep)
while time.monotonic() < deadline and not (args.release and os.path.exists(args.release)):
    time.sleep(0.05)
if args.fail_on is not None and args.x == args.fail_on:
    print(f"toy: boom at x={args.x}", file=sys.stderr, flush=True)
    sys.exit(3)
print("toy: done", flush=True)
