"""A training program for tests: scores its params, can sleep, fail, or spawn a child.

Flags: --x, --y (numbers), --sleep SECONDS (skipped when TOY_NO_SLEEP is set),
--fail_on X (exit 3 when x equals it), --sigkill_on X (SIGKILL itself when x equals it),
--once_dir DIR (fail or SIGKILL only the first time for each x: a marker file in DIR),
--child (start a grandchild that sleeps, to test process-group kills),
--setsid_child (start a grandchild that calls os.setsid(), leaving the group, and sleeps),
--stdout (print metrics as `name=value` lines instead of using the client),
--release PATH (cut the sleep short once PATH exists).
"""

import argparse
import os
import signal
import subprocess
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.0)
parser.add_argument("--y", type=float, default=0.0)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--fail_on", type=float, default=None)
parser.add_argument("--sigkill_on", type=float, default=None)
parser.add_argument("--once_dir", default="")
parser.add_argument("--child", type=lambda v: v == "True", default=False)
parser.add_argument("--setsid_child", type=lambda v: v == "True", default=False)
parser.add_argument("--stdout", type=lambda v: v == "True", default=False)
parser.add_argument("--release", default="")
args, _unknown = parser.parse_known_args()

marker_dir = os.environ.get("TOY_PID_DIR")
if marker_dir:
    with open(os.path.join(marker_dir, f"{os.getpid()}.pid"), "w") as f:
        f.write(os.environ.get("HYPERSWEEP_RUN_ID", ""))

if args.child:
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])

if args.setsid_child:
    loner = subprocess.Popen(
        [sys.executable, "-c", "import os, time; os.setsid(); time.sleep(600)"]
    )
    deadline = time.monotonic() + 30  # go on once it has left our session
    while os.getsid(loner.pid) == os.getsid(0) and time.monotonic() < deadline:
        time.sleep(0.01)


def first_time() -> bool:
    """True unless --once_dir says this x already had its failure."""
    if not args.once_dir:
        return True
    marker = os.path.join(args.once_dir, f"x{args.x:g}")
    if os.path.exists(marker):
        return False
    open(marker, "w").close()
    return True


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
if args.fail_on is not None and args.x == args.fail_on and first_time():
    print(f"toy: boom at x={args.x}", file=sys.stderr, flush=True)
    sys.exit(3)
if args.sigkill_on is not None and args.x == args.sigkill_on and first_time():
    print(f"toy: SIGKILL at x={args.x}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
print("toy: done", flush=True)
