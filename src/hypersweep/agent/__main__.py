"""Entry point of the worker processes the local launcher starts:
python -m hypersweep.agent STORE_URL SWEEP_ID WORKER_ID [CUDA_VISIBLE_DEVICES]
A launcher other than the local one names itself and the node in the environment."""

from __future__ import annotations

import os
import sys

from ..store import Store, StoreError
from .process import become_subreaper
from .worker import Worker

BACKEND_ENV = "HYPERSWEEP_WORKER_BACKEND"
NODE_ENV = "HYPERSWEEP_WORKER_NODE"


def main(argv: list[str]) -> int:
    store_url, sweep_id, worker_id = argv[:3]
    gpu_ids = argv[3] if len(argv) > 3 else None  # "" hides every GPU
    worker = Worker(
        Store(store_url),
        sweep_id,
        gpu_ids=gpu_ids,
        worker_id=worker_id,
        backend=os.environ.get(BACKEND_ENV, "local"),
        node=os.environ.get(NODE_ENV),
    )
    worker.install_signal_handlers()
    become_subreaper()  # what a program orphans comes back to us, to be stopped and reaped
    try:
        worker.run()
    except StoreError as exc:  # the store stayed away past the retry limit: one line
        print(f"hypersweep agent {worker_id}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
