"""hypersweep's start-up hook (see this folder's __init__.py). It runs in every interpreter
started with this folder on PYTHONPATH, so it does next to nothing and imports nothing: with
HYPERSWEEP_METRICS_FILE set it adds an import finder that reacts to `wandb` alone, and then
it runs the `sitecustomize` this file shadows (a venv's, the distribution's or the user's),
which ends up as `sys.modules["sitecustomize"]`, as it would without us."""

import os
import sys


class _WandbImportWatcher:
    """A meta-path finder that finds nothing itself. On `import wandb` it steps aside and
    hands the lookup to the capture module, which wraps wandb's logging once it has loaded."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ANN201
        if fullname != "wandb":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)  # once; and no recursion when wandb is looked up
        try:
            import _hypersweep_wandb
        except Exception as exc:  # a broken hook must never break the program's import
            print(
                f"hypersweep: wandb capture unavailable ({exc!r}): metrics logged with wandb"
                " are not captured",
                file=sys.stderr,
            )
            return None
        return _hypersweep_wandb.find_wandb_spec(fullname, path, target)


def _run_shadowed_sitecustomize() -> None:
    """Import `sitecustomize` again with this folder off sys.path: the next one is found, or
    none. Its errors surface as they would without us (site reports them)."""
    here = os.path.dirname(os.path.abspath(__file__))
    ours = [
        i
        for i, entry in enumerate(sys.path)
        if isinstance(entry, str) and os.path.abspath(entry or ".") == here
    ]
    if not ours:
        return  # not loaded from sys.path: importing again could find this file again
    this_module = sys.modules.pop("sitecustomize", None)
    for i in reversed(ours):
        del sys.path[i]
    try:
        import sitecustomize  # noqa: F401
    except ImportError as exc:
        if exc.name != "sitecustomize":
            raise
    finally:
        for i in ours:
            sys.path.insert(i, here)
        if "sitecustomize" not in sys.modules and this_module is not None:
            sys.modules["sitecustomize"] = this_module


if os.environ.get("HYPERSWEEP_METRICS_FILE"):
    sys.meta_path.insert(0, _WandbImportWatcher())
_run_shadowed_sitecustomize()
