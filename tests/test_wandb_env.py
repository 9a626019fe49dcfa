"""What the agent adds to a run's environment for W&B scripts: W&B's param file, offline mode
without a key, W&B's run grouping, and the capture hook on PYTHONPATH."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from hypersweep.agent.wandb_env import (
    has_api_key,
    wandb_args_json_file,
    wandb_header,
    wandb_mode,
    wandb_run_env,
    write_param_file,
)
from hypersweep.client import wandb_hook_dir

SWEEP = {"id": "sw1", "project": "demo", "entity": "team"}


def test_api_key_from_the_environment_or_netrc(tmp_path: Path):
    netrc = tmp_path / "netrc"
    assert not has_api_key({"NETRC": str(netrc)})  # no file at all
    assert has_api_key({"WANDB_API_KEY": "k" * 40, "NETRC": str(netrc)})
    assert not has_api_key({"WANDB_API_KEY": "  ", "NETRC": str(netrc)})
    netrc.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    netrc.chmod(0o600)
    assert has_api_key({"NETRC": str(netrc)})
    # A self-hosted W&B server: its own host must be in netrc.
    assert not has_api_key({"NETRC": str(netrc), "WANDB_BASE_URL": "https://wandb.example.org"})
    netrc.write_text("this is not netrc syntax {")
    assert not has_api_key({"NETRC": str(netrc)})  # unreadable: no key, no crash


def test_mode_is_offline_without_a_key_unless_the_environment_chose(tmp_path: Path):
    none = {"NETRC": str(tmp_path / "none")}
    assert wandb_mode(none) == "offline"
    assert wandb_mode({**none, "WANDB_API_KEY": "k" * 40}) == "online"
    assert wandb_mode({**none, "WANDB_MODE": "online"}) == "online"
    assert wandb_mode({**none, "WANDB_DISABLED": "true"}) == "disabled"


def test_run_environment_groups_runs_and_keeps_explicit_choices(tmp_path: Path):
    env = {"NETRC": str(tmp_path / "none"), "PYTHONPATH": "/mine", "WANDB_PROJECT": "shell"}
    added = wandb_run_env(
        env, sweep=SWEEP, run_id="r1", param_path=tmp_path / "p.yaml", explicit={}
    )
    assert added == {
        "WANDB_SWEEP_PARAM_PATH": str(tmp_path / "p.yaml"),
        "WANDB_RUN_GROUP": "sw1",
        "WANDB_NAME": "r1",
        "WANDB_MODE": "offline",
        "WANDB_PROJECT": "demo",  # the sweep file's project wins over the shell's
        "WANDB_ENTITY": "team",
        "PYTHONPATH": f"{wandb_hook_dir()}{os.pathsep}/mine",
    }
    # With a key: no mode forced. What the sweep file's env: sets always wins.
    keyed = {
        "WANDB_API_KEY": "k" * 40,
        "WANDB_PROJECT": "from-env-key",
        "WANDB_RUN_GROUP": "mine",
    }
    added = wandb_run_env(
        keyed,
        sweep=SWEEP,
        run_id="r1",
        param_path=tmp_path / "p.yaml",
        explicit={"WANDB_PROJECT": "from-env-key"},
    )
    assert "WANDB_MODE" not in added and "WANDB_RUN_GROUP" not in added
    assert "WANDB_PROJECT" not in added and added["WANDB_ENTITY"] == "team"
    assert added["PYTHONPATH"] == wandb_hook_dir()


def test_param_file_is_wandbs_format(tmp_path: Path):
    path = tmp_path / "sub" / "config.yaml"
    write_param_file(path, {"lr": 0.001, "optimizer": {"lr": 1e-05, "name": "adam"}, "on": True})
    text = path.read_text()
    assert text.startswith("wandb_version: 1\n\n")
    assert yaml.safe_load(text) == {
        "wandb_version": 1,
        "lr": {"value": 0.001},
        "optimizer": {"value": {"lr": 1e-05, "name": "adam"}},
        "on": {"value": True},
    }


def test_args_json_file_path_is_wandbs():
    assert wandb_args_json_file({}, "sw1", "r1") == "wandb/sweep-sw1/config-r1.json"
    assert (
        wandb_args_json_file({"WANDB_DIR": "/data"}, "sw1", "r1")
        == "/data/wandb/sweep-sw1/config-r1.json"
    )


def test_header_says_where_wandb_logs(tmp_path: Path):
    none = {"NETRC": str(tmp_path / "none")}
    assert wandb_header(none, SWEEP).startswith("W&B: no API key, so wandb logs offline")
    online = wandb_header({**none, "WANDB_API_KEY": "secret:wandb-token"}, SWEEP)
    assert online == "W&B: online in team/demo, runs grouped as sw1; metrics are captured here too"
    assert "not captured" in wandb_header({**none, "WANDB_MODE": "disabled"}, SWEEP)
