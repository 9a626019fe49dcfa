"""Sweep files: parsing, validation (the W&B schema) and the search-space model."""

from .command import DEFAULT_COMMAND, format_value, render_command
from .errors import ConfigError
from .model import (
    DISTRIBUTIONS,
    EarlyTerminate,
    MetricSpec,
    Parameter,
    SearchSpace,
    SweepConfig,
    describe_space,
    nest_params,
)
from .parse import load_sweep_file, parse_sweep_config

__all__ = [
    "DEFAULT_COMMAND",
    "DISTRIBUTIONS",
    "ConfigError",
    "EarlyTerminate",
    "MetricSpec",
    "Parameter",
    "SearchSpace",
    "SweepConfig",
    "describe_space",
    "format_value",
    "load_sweep_file",
    "nest_params",
    "parse_sweep_config",
    "render_command",
]
