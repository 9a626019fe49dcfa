"""A training program for the secrets tests. It reports whether the secret variable
(--var) reached its environment and whether its SHA-256 is --expect_sha, as metrics, and
(deliberately, like a careless program) prints the value, which the agent must mask.
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
args = parser.parse_args()

value = os.environ.get(args.var)
digest = hashlib.sha256(value.encode()).hexdigest() if value is not None else ""
run = hypersweep.init()
run.log({"has_secret": float(value is not None), "secret_ok": float(digest == args.expect_sha)})
run.finish()
print(f"careless debug print: {args.var}={value}", flush=True)
print(f"argv={sys.argv!r}", flush=True)

hold = os.environ.get("TOY_HOLD_DIR")
if hold:
    open(os.path.join(hold, f"started-{os.getpid()}"), "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(hold, "release")) and time.monotonic() < deadline:
        time.sleep(0.05)
