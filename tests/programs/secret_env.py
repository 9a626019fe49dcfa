"""A training program for the secrets tests. It reports whether the secret variable
(--var) reached its environment and whether its SHA-256 is --expect_sha, as metrics, and
(deliberately, like a careless program) prints the value, which the agent must mask.
`--leak client` also logs the value as metric names and summary keys and values through the
client; `--leak stdout` reports through stdout metric lines only, the value in some of them.
With TOY_HOLD_DIR set it writes `started` there and waits for a `release` file."""

import argparse
import hashlib
import os
import sys
import time

import hypersweep

parser = argparse.ArgumentParser()
parser.add_argument("--var", default="HS_TEST_SECRET")
parser.add_argument("--expect_sha", default="")
parser.add_argument("--x", type=float, default=0.0)
parser.add_argument("--leak", choices=["", "client", "stdout"], default="")
args = parser.parse_args()

value = os.environ.get(args.var)
digest = hashlib.sha256(value.encode()).hexdigest() if value is not None else ""
checks = {"has_secret": float(value is not None), "secret_ok": float(digest == args.expect_sha)}
if args.leak == "stdout":
    print(" ".join(f"{k}={v}" for k, v in checks.items()), flush=True)
    print(f"leak/{value}=1 loss=0.5", flush=True)  # masked: no longer a metric line
    print(f"{value}=2", flush=True)
else:
    run = hypersweep.init()
    run.log(checks)
    if args.leak == "client":
        run.log({f"leak/{value}": 1.0, value: 2.0, "loss": 0.5}, step=1)
        run.summary["note"] = f"token={value}"
        run.summary[f"key_{value}"] = 3.0
        run.summary["nested"] = {"list": [value, 1], value: "x"}
    run.finish()
print(f"careless debug print: {args.var}={value}", flush=True)
print(f"argv={sys.argv!r}", flush=True)

hold = os.environ.get("TOY_HOLD_DIR")
if hold:
    open(os.path.join(hold, f"started-{os.getpid()}"), "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(hold, "release")) and time.monotonic() < deadline:
        time.sleep(0.05)
