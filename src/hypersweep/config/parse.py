"""Sweep-file loading and validation, following W&B's schema (sweeps 0.3.0).

Every problem raises :class:`ConfigError` naming the file, the key path and the fix.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

import yaml

from .command import check_command_token
from .errors import ConfigError, did_you_mean
from .limits import (
    MAX_BANDS,
    MAX_DEPTH,
    GuardedComposer,
    check_document,
    int_literal_error,
    read_sweep_text,
)
from .model import (
    DISTRIBUTIONS,
    EarlyTerminate,
    MetricSpec,
    Parameter,
    SearchSpace,
    SweepConfig,
)

METHODS = ("grid", "random", "bayes")

# Keys W&B's schema allows at the top level, plus our `env:` and `retry_failed:` extensions.
# W&B-only features (multi-objective `metrics`, external `scheduler`, Launch `job`/`image_uri`,
# `controller`, `apiVersion`/`kind`) are accepted so W&B files load unchanged, kept in `raw`,
# and ignored.
TOP_LEVEL_KEYS = (
    "method",
    "parameters",
    "metric",
    "early_terminate",
    "command",
    "run_cap",
    "program",
    "name",
    "description",
    "project",
    "entity",
    "controller",
    "env",
    "retry_failed",
    "metrics",
    "scheduler",
    "job",
    "image_uri",
    "apiVersion",
    "kind",
)
METRIC_KEYS = ("name", "goal", "target", "impute", "impute_while_running")
EARLY_TERMINATE_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
EARLY_TERMINATE_TYPES = ("hyperband", "asha")
PARAM_KEYS = (
    "distribution",
    "value",
    "values",
    "probabilities",
    "min",
    "max",
    "mu",
    "sigma",
    "q",
    "a",
    "b",
)

_MIN_MAX = frozenset({"min", "max"})
_NORMAL = frozenset({"mu", "sigma"})
_BETA = frozenset({"a", "b"})
# distribution -> (required keys, optional keys); anything else is an error, as in W&B.
_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "constant": (frozenset({"value"}), frozenset()),
    "categorical": (frozenset({"values"}), frozenset()),
    "categorical_w_probabilities": (frozenset({"values", "probabilities"}), frozenset()),
    "int_uniform": (_MIN_MAX, frozenset()),
    "uniform": (_MIN_MAX, frozenset()),
    "q_uniform": (_MIN_MAX, frozenset({"q"})),
    "log_uniform": (_MIN_MAX, frozenset()),
    "log_uniform_values": (_MIN_MAX, frozenset()),
    "inv_log_uniform": (_MIN_MAX, frozenset()),
    "inv_log_uniform_values": (_MIN_MAX, frozenset()),
    "q_log_uniform": (_MIN_MAX, frozenset({"q"})),
    "q_log_uniform_values": (_MIN_MAX, frozenset({"q"})),
    "normal": (frozenset(), _NORMAL),
    "q_normal": (frozenset(), _NORMAL | {"q"}),
    "log_normal": (frozenset(), _NORMAL),
    "q_log_normal": (frozenset(), _NORMAL | {"q"}),
    "beta": (frozenset(), _BETA),
    "q_beta": (frozenset(), _BETA | {"q"}),
}
assert set(_KEYS) == set(DISTRIBUTIONS)

_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PROBABILITY_TOLERANCE = 1e-6
_MAX_EXP = math.log(sys.float_info.max)  # e^x overflows a float past this (about 709.78)


# --------------------------------------------------------------------------- loading


class _Loader(GuardedComposer, yaml.SafeLoader):
    """PyYAML's safe loader (W&B's own parser) with four fixes for sweep files.

    - ``1e-5`` is a float (YAML 1.1 wants ``1.0e-5`` and PyYAML gives the string "1e-5",
      a classic way to break a W&B sweep);
    - dates stay strings, so ``raw`` is always JSON-serialisable;
    - a key given twice is an error instead of the last one silently winning;
    - the limits of ``limits.py``: deep nesting, alias bombs, recursive aliases and huge
      integer literals end in a ConfigError naming the line (``source`` names the file).
    """

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue  # unhashable keys: let PyYAML report them
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError):
            # An explicit tag on text it cannot read (`!!int max`, `!!timestamp x`): PyYAML's
            # constructors raise Python errors there, not YAML ones.
            tag = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.value!r} as !!{tag}", node.start_mark
            ) from None

    def construct_yaml_int(self, node):
        problem = int_literal_error(node.value) if isinstance(node.value, str) else None
        if problem:  # before int(): Python refuses 4,300+ digits, base 60 is quadratic
            raise ConfigError(self.source, f"line {node.start_mark.line + 1}", problem)
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_sweep_file(path: str | os.PathLike) -> SweepConfig:
    """Load and validate a sweep file (YAML, or JSON when it ends in ``.json``).

    Whatever the file holds, this returns or raises ConfigError, quickly: see limits.py."""
    source = os.fspath(path)
    text = read_sweep_text(source)
    data = _load_text(text, source)
    if data is None:
        raise ConfigError(
            source, "", "file is empty; a sweep file needs at least 'method' and 'parameters'"
        )
    return parse_sweep_config(data, source)


def _json_int(text: str) -> int:
    problem = int_literal_error(text)
    if problem:
        raise ValueError(problem)
    return int(text)


def _load_text(text: str, source: str) -> Any:
    if source.lower().endswith(".json"):
        if not text.strip():
            return None
        try:
            return json.loads(text, parse_int=_json_int)
        except json.JSONDecodeError as e:
            raise ConfigError(source, f"line {e.lineno}", f"invalid JSON: {e.msg}") from None
        except ValueError as e:  # from _json_int
            raise ConfigError(source, "", str(e)) from None
        except RecursionError:
            raise ConfigError(source, "", _TOO_DEEP) from None
    loader = None
    try:
        loader = _Loader(text)  # its reader refuses control characters at once
        loader.source = source
        return loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = e.problem or e.context or "syntax error"
        raise ConfigError(source, where, f"invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as e:  # a control character
        line = text.count("\n", 0, e.position) + 1
        raise ConfigError(
            source, f"line {line}", f"invalid YAML: control character #x{e.character:04x}"
        ) from None
    except yaml.YAMLError as e:
        raise ConfigError(source, "", f"invalid YAML: {e}") from None
    except RecursionError:  # the limits stop this first; never a traceback regardless
        raise ConfigError(source, "", _TOO_DEEP) from None
    finally:
        if loader is not None:
            loader.dispose()


_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


# --------------------------------------------------------------------------- helpers


def _is_number(v: Any) -> bool:
    # bool is an int subclass in Python; in a sweep file `true` is never a number.
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return repr(v)


class _Parser:
    def __init__(self, source: str):
        self.source = source

    def error(self, path: str, message: str) -> ConfigError:
        return ConfigError(self.source, path, message)

    def check_keys(self, mapping: Mapping, allowed: tuple[str, ...], path: str) -> None:
        for key in mapping:
            if not isinstance(key, str):
                raise self.error(path, f"keys must be strings, got {key!r}")
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                raise self.error(where, f"unknown key '{key}'{did_you_mean(key, allowed)}")

    def mapping(self, value: Any, path: str, example: str) -> dict:
        if not isinstance(value, dict):
            raise self.error(path, f"must be a mapping ({example}), got {_kind(value)}")
        return value

    def number(self, value: Any, path: str) -> int | float:
        if not _is_number(value):
            hint = (
                " (remove the quotes)" if isinstance(value, str) and _looks_numeric(value) else ""
            )
            raise self.error(path, f"must be a number, got {_kind(value)}{hint}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(path, f"must be a finite number, got {value}")
        return value

    def integer(self, value: Any, path: str, minimum: int) -> int:
        number = self.number(value, path)
        if isinstance(number, float):
            if not number.is_integer():
                raise self.error(path, f"must be an integer, got {number!r}")
            number = int(number)
        if number < minimum:
            raise self.error(path, f"must be at least {minimum}, got {number}")
        return number

    def text(self, value: Any, path: str, *, lenient: bool = False) -> str:
        if isinstance(value, str):
            return value
        if lenient and _is_number(value):
            return str(value)  # `name: 2024` is meant as text
        raise self.error(path, f"must be a string, got {_kind(value)}")

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str:
        if value not in choices:
            options = ", ".join(f"'{c}'" for c in choices[:-1]) + f" or '{choices[-1]}'"
            got = repr(value) if isinstance(value, str) else _kind(value)
            raise self.error(path, f"must be {options}, got {got}{did_you_mean(value, choices)}")
        return value

    def plain(self, value: Any, path: str) -> None:
        """Parameter values must survive a JSON round trip (they go to the store and argv)."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.plain(item, f"{path}[{i}]")
            return
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise self.error(path, f"mapping keys must be strings, got {key!r}")
                self.plain(item, f"{path}.{key}")
            return
        raise self.error(path, f"unsupported value {value!r}; quote it to make it a string")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- parameters


def _infer(p: _Parser, spec: dict, path: str) -> tuple[str, str | None]:
    """W&B's inference when `distribution` is absent; returns (distribution, trigger key)."""
    if "value" in spec:
        return "constant", "value"
    if "values" in spec:
        if "probabilities" in spec:
            return "categorical_w_probabilities", "values"
        return "categorical", "values"
    if "probabilities" in spec:
        raise p.error(path, "'probabilities' needs 'values' beside it")
    if "min" in spec or "max" in spec:
        for key in ("min", "max"):
            if key not in spec:
                other = "max" if key == "min" else "min"
                raise p.error(path, f"'{other}' given without '{key}'")
            p.number(spec[key], f"{path}.{key}")
        both_int = isinstance(spec["min"], int) and isinstance(spec["max"], int)
        return ("int_uniform" if both_int else "uniform"), "min"
    if not spec:
        raise p.error(path, "empty parameter: give 'value', 'values', or 'min' and 'max'")
    key = next(iter(spec))
    raise p.error(
        path,
        f"'{key}' needs 'distribution' (e.g. normal, log_normal, beta) or 'min' and 'max'",
    )


def _parse_parameter(p: _Parser, name: str, spec: dict, path: str) -> Parameter:
    p.check_keys(spec, PARAM_KEYS, path)
    dpath = f"{path}.distribution"
    if "distribution" in spec:
        dist = spec["distribution"]
        if not isinstance(dist, str) or dist not in _KEYS:
            hint = did_you_mean(dist, DISTRIBUTIONS) or f" (one of: {', '.join(DISTRIBUTIONS)})"
            raise p.error(dpath, f"unknown distribution {dist!r}{hint}")
        if dist == "categorical" and "probabilities" in spec:
            dist = "categorical_w_probabilities"  # W&B wants the long name; the intent is clear
        trigger = None
    else:
        dist, trigger = _infer(p, spec, path)

    required, optional = _KEYS[dist]
    for key in spec:
        if key == "distribution" or key in required or key in optional:
            continue
        if trigger is not None:
            raise p.error(path, f"'{trigger}' cannot be combined with '{key}'")
        raise p.error(f"{path}.{key}", f"'{key}' is not used by distribution '{dist}'")
    for key in sorted(required):
        if key not in spec:
            raise p.error(path, f"distribution '{dist}' needs '{key}'")

    fields: dict[str, Any] = {"name": name, "distribution": dist}
    if "value" in spec:
        p.plain(spec["value"], f"{path}.value")
        fields["value"] = spec["value"]
    if "values" in spec:
        fields["values"] = _parse_values(p, spec["values"], f"{path}.values")
    if "probabilities" in spec:
        fields["probabilities"] = _parse_probabilities(
            p, spec["probabilities"], len(fields["values"]), f"{path}.probabilities"
        )
    if required == _MIN_MAX:
        fields.update(_parse_min_max(p, dist, spec, path))
    if "q" in optional:
        q = p.number(spec.get("q", 1.0), f"{path}.q")  # W&B's default is the float 1.0
        if q <= 0:
            raise p.error(f"{path}.q", f"must be greater than 0, got {q}")
        if dist == "q_uniform" and not math.isfinite(
            max(abs(fields["min"]), abs(fields["max"])) / q
        ):
            raise p.error(f"{path}.q", f"{q} is too small for min and max: value/q overflows")
        fields["q"] = q
    if "mu" in spec:
        fields["mu"] = p.number(spec["mu"], f"{path}.mu")
    if "sigma" in spec:
        sigma = p.number(spec["sigma"], f"{path}.sigma")
        if sigma < 0:
            raise p.error(f"{path}.sigma", f"must be 0 or more, got {sigma}")
        fields["sigma"] = sigma
    for key in ("a", "b"):
        if key in spec:
            shape = p.number(spec[key], f"{path}.{key}")
            if shape <= 0:  # Beta(a, b) is undefined at 0 (W&B's schema lets 0 through)
                raise p.error(f"{path}.{key}", f"must be greater than 0, got {shape}")
            fields[key] = shape
    return Parameter(**fields)


def _parse_values(p: _Parser, values: Any, path: str) -> tuple:
    if not isinstance(values, list):
        raise p.error(path, f"must be a list such as [1, 2, 3], got {_kind(values)}")
    if not values:
        raise p.error(path, "must not be empty")
    p.plain(values, path)
    return tuple(values)


def _parse_probabilities(p: _Parser, probs: Any, n: int, path: str) -> tuple[float, ...]:
    if not isinstance(probs, list):
        raise p.error(path, f"must be a list of numbers, got {_kind(probs)}")
    if len(probs) != n:
        raise p.error(path, f"has {len(probs)} entries but 'values' has {n}")
    for i, prob in enumerate(probs):
        if p.number(prob, f"{path}[{i}]") < 0:
            raise p.error(f"{path}[{i}]", f"must not be negative, got {prob}")
    total = math.fsum(probs)
    if abs(total - 1.0) > _PROBABILITY_TOLERANCE:
        raise p.error(path, f"must sum to 1, got {total:g}")
    return tuple(float(x) for x in probs)


def _parse_min_max(p: _Parser, dist: str, spec: dict, path: str) -> dict[str, Any]:
    lo = p.number(spec["min"], f"{path}.min")
    hi = p.number(spec["max"], f"{path}.max")
    if dist == "int_uniform":
        for key, v in (("min", lo), ("max", hi)):
            if not isinstance(v, int):
                raise p.error(f"{path}.{key}", f"int_uniform needs an integer, got {v!r}")
    if lo >= hi:
        raise p.error(path, f"'min' ({lo}) must be less than 'max' ({hi})")
    if dist.endswith("_values") and lo <= 0:
        raise p.error(
            f"{path}.min", f"{dist} needs 'min' greater than 0 (real values, not logs), got {lo}"
        )
    # The samplers draw U(min, max) in floats: numpy refuses a span that overflows.
    linear = dist != "int_uniform" and not dist.endswith("_values")
    if linear and not math.isfinite(float(hi) - float(lo)):
        raise p.error(path, f"'max' - 'min' ({hi} - {lo}) overflows a float")
    exponent = -lo if dist == "inv_log_uniform" else hi
    if dist in ("log_uniform", "q_log_uniform", "inv_log_uniform") and exponent > _MAX_EXP:
        key = "min" if dist == "inv_log_uniform" else "max"
        raise p.error(
            f"{path}.{key}",
            f"e^{exponent} overflows a float: {dist}'s min and max are natural-log "
            f"exponents (did you mean {dist}_values, which takes the values themselves?)",
        )
    return {"min": lo, "max": hi}


def _collect(
    p: _Parser, block: Any, path: str, prefix: str, out: dict[str, tuple[Parameter, str]]
) -> None:
    """Flatten a `parameters:` block (nested blocks become dotted names)."""
    block = p.mapping(block, path, "parameter names to their specs")
    if not block:
        raise p.error(path, "must define at least one parameter")
    for name, spec in block.items():
        if not isinstance(name, str) or not _PARAM_NAME.match(name):
            raise p.error(
                f"{path}.{name}",
                f"invalid parameter name {name!r}: use letters, digits, '_', '.' or '-', "
                "starting with a letter or '_'",
            )
        ppath = f"{path}.{name}"
        if not isinstance(spec, dict):
            raise p.error(
                ppath,
                f"must be a mapping such as 'value: {_scalar_hint(spec)}' or 'values: [...]', "
                f"got {_kind(spec)}",
            )
        if "parameters" in spec:
            extra = [k for k in spec if k != "parameters"]
            if extra:
                raise p.error(ppath, f"a nested block takes only 'parameters', found '{extra[0]}'")
            _collect(p, spec["parameters"], f"{ppath}.parameters", f"{prefix}{name}.", out)
            continue
        full = prefix + name
        out_path = ppath
        if full in out:
            raise p.error(ppath, f"parameter '{full}' is defined twice")
        out[full] = (_parse_parameter(p, full, spec, out_path), out_path)


def _scalar_hint(spec: Any) -> str:
    return json.dumps(spec) if isinstance(spec, (int, float, str, bool)) else "1"


def _check_clashes(p: _Parser, found: dict[str, tuple[Parameter, str]]) -> None:
    # Dotted names mean nesting, so 'a' and 'a.b' cannot both be parameters.
    for name, (_, path) in found.items():
        parts = name.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in found:
                raise p.error(
                    path, f"parameter '{name}' clashes with parameter '{parent}' (dots nest)"
                )


def _parse_space(p: _Parser, block: Any, method: str) -> SearchSpace:
    found: dict[str, tuple[Parameter, str]] = {}
    _collect(p, block, "parameters", "", found)
    _check_clashes(p, found)
    if method == "grid":
        for param, path in found.values():
            if param.distribution == "categorical_w_probabilities":
                raise p.error(
                    f"{path}.probabilities",
                    "method 'grid' tries every value once; remove 'probabilities'",
                )
            if not param.is_discrete:
                raise p.error(
                    path,
                    f"distribution '{param.distribution}' is continuous and method 'grid' "
                    "cannot enumerate it; use 'values: [...]', or 'distribution: q_uniform' "
                    "with a step 'q'",
                )
            try:
                len(param.grid_axis())  # lazy, but its length must be a machine integer
            except OverflowError:
                raise p.error(
                    path,
                    f"more than {sys.maxsize:,} grid values: too many for grid search to "
                    "index; narrow 'min' and 'max' (or raise 'q')",
                ) from None
    ordered = tuple(found[name][0] for name in sorted(found))
    return SearchSpace(parameters=ordered)


# --------------------------------------------------------------------------- sections


def _parse_metric(p: _Parser, value: Any) -> MetricSpec:
    metric = p.mapping(value, "metric", "with 'name' and 'goal'")
    p.check_keys(metric, METRIC_KEYS, "metric")
    if "name" not in metric:
        raise p.error("metric", "missing 'name' (the logged metric to optimise)")
    name = p.text(metric["name"], "metric.name")
    if not name:
        raise p.error("metric.name", "must not be empty")
    goal = p.choice(metric.get("goal", "minimize"), "metric.goal", ("minimize", "maximize"))
    target = metric.get("target")
    if target is not None:
        target = float(p.number(target, "metric.target"))
    if "impute" in metric:
        p.choice(metric["impute"], "metric.impute", ("latest", "best", "worst"))
    if "impute_while_running" in metric:
        iwr = metric["impute_while_running"]
        if iwr is not False:  # YAML turns W&B's string "false" into a boolean
            p.choice(iwr, "metric.impute_while_running", ("latest", "best", "worst", "false"))
    return MetricSpec(name=name, goal=goal, target=target)


def _parse_early_terminate(p: _Parser, value: Any) -> EarlyTerminate:
    path = "early_terminate"
    et = p.mapping(value, path, "e.g. {type: hyperband, min_iter: 3}")
    p.check_keys(et, EARLY_TERMINATE_KEYS, path)
    if "type" not in et:
        raise p.error(path, "missing 'type' (hyperband or asha)")
    kind = p.choice(et["type"], f"{path}.type", EARLY_TERMINATE_TYPES)
    ints = {
        key: p.integer(et[key], f"{path}.{key}", 1) if key in et else None
        for key in ("min_iter", "max_iter", "s")
    }
    if ints["min_iter"] is None:
        if ints["max_iter"] is None:
            raise p.error(path, "give 'min_iter', or 'max_iter' and 's'")
        if ints["s"] is None:
            raise p.error(path, "'max_iter' needs 's' (the number of brackets)")
    eta = p.number(et.get("eta", 3), f"{path}.eta")
    if eta <= 1:
        raise p.error(f"{path}.eta", f"must be greater than 1, got {eta}")
    if ints["max_iter"] is not None and ints["s"] is not None and ints["max_iter"] < eta:
        # W&B's first band is max_iter/eta: below 1 there is no band (its engine raises).
        raise p.error(
            f"{path}.max_iter",
            f"{ints['max_iter']} is less than eta ({eta}): no band to stop runs at; "
            "raise max_iter or lower eta",
        )
    if ints["max_iter"] is not None and ints["s"] is not None:
        # Bands max_iter/eta^k, k = 1..s, while >= 1: an eta just above 1 makes billions.
        bands = min(ints["s"], math.floor(math.log(ints["max_iter"]) / math.log(eta)))
        if bands > MAX_BANDS:
            raise p.error(
                path,
                f"max_iter {ints['max_iter']}, eta {eta} and s {ints['s']} give {bands:,} "
                f"bands; at most {MAX_BANDS:,}: raise eta or lower s",
            )
    # W&B's schema default: its engine fills it in, so an absent `strict` means true.
    strict = et.get("strict", True)
    if not isinstance(strict, bool):
        raise p.error(f"{path}.strict", f"must be true or false, got {_kind(strict)}")
    return EarlyTerminate(type=kind, eta=float(eta), strict=strict, **ints)


def _parse_command(p: _Parser, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise p.error("command", f"must be a non-empty list of strings, got {_kind(value)}")
    tokens = []
    for i, token in enumerate(value):
        path = f"command[{i}]"
        if _is_number(token):
            token = str(token)  # `- 3` in YAML is meant as the argument "3"
        if not isinstance(token, str):
            raise p.error(path, f"must be a string, got {_kind(token)}")
        try:
            check_command_token(token)
        except ValueError as e:
            raise p.error(path, str(e)) from None
        tokens.append(token)
    return tuple(tokens)


def _parse_env(p: _Parser, value: Any) -> dict[str, str]:
    env = p.mapping(value, "env", "environment variable names to values")
    out = {}
    for key, val in env.items():
        path = f"env.{key}"
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise p.error(path, f"invalid environment variable name {key!r}")
        if isinstance(val, bool) or val is None:
            raise p.error(path, f"must be a string, got {_kind(val)}; quote it")
        if _is_number(val):
            val = str(val)  # `CUDA_VISIBLE_DEVICES: 0` is meant as "0"
        out[key] = p.text(val, path)
    return out


def parse_sweep_config(data: Any, source: str = "<config>") -> SweepConfig:
    """Validate a loaded sweep mapping (the W&B schema plus `env:`) into a SweepConfig."""
    p = _Parser(source)
    check_document(data, p.error)  # sizes, depth, int64, finite numbers, JSON types
    if not isinstance(data, dict):
        raise p.error(
            "", f"a sweep file must be a mapping with 'method' and 'parameters', got {_kind(data)}"
        )
    p.check_keys(data, TOP_LEVEL_KEYS, "")

    if "method" not in data:
        raise p.error("method", "missing; add 'method: grid', 'random' or 'bayes'")
    method = data["method"]
    if method == "custom":
        raise p.error(
            "method",
            "'custom' (W&B's external Optuna/Ax schedulers) is not supported; "
            "use 'grid', 'random' or 'bayes'",
        )
    p.choice(method, "method", METHODS)

    if "parameters" not in data:
        raise p.error("parameters", "missing; add the hyperparameters to sweep")
    space = _parse_space(p, data["parameters"], method)

    metric = _parse_metric(p, data["metric"]) if "metric" in data else None
    early = (
        _parse_early_terminate(p, data["early_terminate"]) if "early_terminate" in data else None
    )
    if metric is None and method == "bayes":
        raise p.error("metric", "method 'bayes' needs a 'metric' to optimise")
    if metric is None and early is not None:
        raise p.error("metric", "early_terminate needs a 'metric' to compare runs on")

    command = _parse_command(p, data["command"]) if "command" in data else None
    program = p.text(data["program"], "program") if "program" in data else None
    if program is not None and not program.strip():
        raise p.error("program", "must not be empty")
    run_cap = p.integer(data["run_cap"], "run_cap", 1) if "run_cap" in data else None
    info = {
        key: p.text(data[key], key, lenient=True) if data.get(key) is not None else None
        for key in ("name", "description", "project", "entity")
    }
    if "controller" in data:
        controller = p.mapping(data["controller"], "controller", "e.g. {type: local}")
        if "type" in controller:
            p.choice(controller["type"], "controller.type", ("local", "cloud"))
    if "metrics" in data and not isinstance(data["metrics"], list):
        raise p.error("metrics", f"must be a list, got {_kind(data['metrics'])}")
    if "scheduler" in data:
        p.mapping(data["scheduler"], "scheduler", "e.g. {engine: wandb}")
    env = _parse_env(p, data["env"]) if "env" in data else {}
    retry_failed = p.integer(data.get("retry_failed", 0), "retry_failed", 0)

    return SweepConfig(
        raw=copy.deepcopy(data),
        method=method,
        space=space,
        metric=metric,
        program=program,
        command=command,
        run_cap=run_cap,
        early_terminate=early,
        env=env,
        retry_failed=retry_failed,
        **info,
    )
