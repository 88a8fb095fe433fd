"""The run's configuration: run profiles (``lib/contentlab/profiles/*.yaml`` or a YAML file of one's own) and the
parameters each notebook receives.

Every notebook gets the standard parameters ``profile``, ``dataset``, ``engine``, ``seed``, ``run_dir``,
``report_dir`` and ``inputs`` (each only if its ``parameters`` cell declares it), then the profile's ``notebooks.<stage>`` entries,
then ``--params`` overrides (``key=value`` for every notebook that declares ``key``; ``stage.key=value`` for one
notebook; ``dataset.n_users=1000`` reaches into a dict parameter). ``profile``, ``run_dir``, ``report_dir`` and
``inputs`` are the runner's to set. An override naming a parameter that no selected notebook declares is an error
before anything runs. ``inputs`` (``{product name: path or None}``, :func:`contentlab.contract.resolve_inputs`)
is resolved when the stage starts, from the products written before it, so it is not part of
:func:`resolve_parameters`.
"""

from __future__ import annotations

import ast
import copy
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from contentlab.config import PROFILES_DIR
from contentlab.contract import STAGE_NAMES as STAGES
from contentlab.engine import DEFAULT_ENGINE, EngineError, check_available, check_engine_spec
from contentlab.run.results import RunError

STANDARD_PARAMETERS = ("profile", "dataset", "engine", "seed", "run_dir", "report_dir", "inputs")
RUNNER_OWNED = ("profile", "run_dir", "report_dir", "inputs")  # set by the runner, never by --params or a profile
INPUTS = "inputs"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load_profile(spec: str | Path = "demo") -> dict[str, Any]:
    """Load a run profile by packaged name (``demo``, ``tiny``) or YAML path; validated, with ``source``."""
    spec_str = str(spec)
    path = Path(spec_str).expanduser()
    if not (spec_str.endswith((".yaml", ".yml")) or os.sep in spec_str or path.is_file()):
        path = PROFILES_DIR / f"{spec_str}.yaml"
        if not path.is_file():
            raise RunError(f"unknown profile {spec_str!r}; packaged profiles: {', '.join(available_profiles())} "
                           "(or give a path to a .yaml file)")
    if not path.is_file():
        raise RunError(f"profile file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RunError(f"profile {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RunError(f"profile {path} must be a mapping")
    profile = dict(data)
    profile.setdefault("name", path.stem)
    name = str(profile["name"])
    if not _NAME.fullmatch(name):
        raise RunError(f"profile {path}: name {name!r} may only use letters, digits, '-' and '_'")
    profile["name"] = name
    if not isinstance(profile.get("dataset"), dict):
        raise RunError(f"profile {path}: 'dataset' must be a mapping (the dataset spec)")
    seed = profile.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise RunError(f"profile {path}: 'seed' must be an integer, got {seed!r}")
    profile["seed"] = seed
    try:
        profile["engine"] = check_engine_spec(profile.get("engine"))
    except EngineError as exc:
        raise RunError(f"profile {path}: {exc}") from None
    notebooks = profile.get("notebooks") or {}
    if not isinstance(notebooks, dict):
        raise RunError(f"profile {path}: 'notebooks' must map stage names to parameter overrides")
    unknown = sorted(set(notebooks) - set(STAGES))
    if unknown:
        raise RunError(f"profile {path}: unknown stage(s) under 'notebooks': {', '.join(unknown)}; "
                       f"stages are {', '.join(STAGES)}")
    for stage, values in notebooks.items():
        if values is not None and not isinstance(values, dict):
            raise RunError(f"profile {path}: notebooks.{stage} must be a mapping of parameters")
    profile["notebooks"] = {stage: dict(notebooks.get(stage) or {}) for stage in STAGES if stage in notebooks}
    profile["source"] = str(path.resolve())
    return profile


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["a=1", "01_eda.top_n=5", "dataset.n_users=200"]`` -> ``{"a": 1, ...}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise RunError(f"--params expects KEY=VALUE, got {item!r}")
        parts = key.split(".")
        if not all(p.isidentifier() or p in STAGES for p in parts) or parts[-1] in STAGES:
            raise RunError(f"--params: {key!r} is not a parameter name (use key, stage.key or key.subkey)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        out[key] = value
    return out


def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """Parameters declared in a notebook's ``parameters`` cell: name -> default (source text)."""
    import papermill

    try:
        params = papermill.inspect_notebook(str(path))
    except Exception as exc:
        raise RunError(f"cannot read the parameters of {path}: {type(exc).__name__}: {exc}") from None
    return {name: info.get("default") for name, info in params.items()}


def _set_path(target: dict, path: Sequence[str], value: Any, what: str) -> None:
    node = target
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise RunError(f"{what}: {part!r} is not a mapping, cannot set {'.'.join(path)}")
        node = child
    node[path[-1]] = value


def _declared_default(default_src: Any) -> Any:
    try:
        return ast.literal_eval(default_src) if isinstance(default_src, str) else default_src
    except (ValueError, SyntaxError):
        return None


def resolve_parameters(profile: Mapping[str, Any], overrides: Mapping[str, Any],
                       declared: Mapping[str, Mapping[str, Any]], run_dir: Path, report_dir: Path
                       ) -> dict[str, dict[str, Any]]:
    """The parameters each notebook in ``declared`` (stage -> declared parameters) receives (``inputs`` aside)."""
    common: dict[str, Any] = {
        "profile": profile["name"], "dataset": copy.deepcopy(profile["dataset"]),
        "engine": copy.deepcopy(profile.get("engine") or DEFAULT_ENGINE), "seed": profile["seed"],
        "run_dir": str(run_dir), "report_dir": str(report_dir),
    }
    everywhere: list[tuple[list[str], Any, bool]] = []
    targeted: dict[str, list[tuple[list[str], Any, bool]]] = {}
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] in STAGES:
            stage, path = parts[0], parts[1:]
            if stage not in declared:
                raise RunError(f"--params {key}: stage {stage} is not part of this run")
            if not path:
                raise RunError(f"--params {key}: name a parameter, e.g. {stage}.top_n=10")
            targeted.setdefault(stage, []).append((path, value, True))
            continue
        if parts[0] in RUNNER_OWNED:
            hint = "use --profile" if parts[0] == "profile" else "it is set by the runner"
            raise RunError(f"--params {key}: {parts[0]!r} cannot be overridden ({hint})")
        if parts[0] in common:
            _set_path(common, parts, value, f"--params {key}")
            continue
        if not any(parts[0] in params for params in declared.values()):
            raise RunError(f"--params {key}: no notebook in this run declares a parameter {parts[0]!r} "
                           f"(declared: {declared_list(declared)})")
        everywhere.append((parts, value, False))

    resolved: dict[str, dict[str, Any]] = {}
    for stage, params in declared.items():
        values = {k: copy.deepcopy(v) for k, v in common.items() if k in params}
        for key, value in (profile.get("notebooks") or {}).get(stage, {}).items():
            if key in RUNNER_OWNED:
                raise RunError(f"profile {profile['name']}: notebooks.{stage}.{key}: {key!r} is set by the runner")
            if key not in params:
                raise RunError(f"profile {profile['name']}: notebooks.{stage}.{key} is not a parameter of "
                               f"{stage}{_renamed_hint(stage, key)} (declared: {', '.join(sorted(params)) or 'none'})")
            values[key] = copy.deepcopy(value)
        for parts, value, is_targeted in everywhere + targeted.get(stage, []):
            name = parts[0]
            if name not in params:
                if is_targeted:
                    raise RunError(f"--params {stage}.{'.'.join(parts)}: {stage} has no parameter {name!r}"
                                   f"{_renamed_hint(stage, name)} (declared: {', '.join(sorted(params)) or 'none'})")
                continue
            if name in RUNNER_OWNED:
                raise RunError(f"--params {stage}.{name}: {name!r} is set by the runner")
            if len(parts) > 1 and name not in values:
                base = _declared_default(params[name])
                values[name] = base if isinstance(base, dict) else {}
            _set_path(values, parts, copy.deepcopy(value), f"--params {stage}.{'.'.join(parts)}")
        resolved[stage] = values
    return resolved


RENAMED: dict[tuple[str, str], str] = {("03_recommend", "search_max_users"): "search_options: {max_users: N}"}
"""Parameters an earlier version declared, and what replaced them (named in the error a profile using them gets)."""


def _renamed_hint(stage: str, key: str) -> str:
    new = RENAMED.get((stage, key))
    return f"; it was replaced by {new}" if new else ""


def declared_list(declared: Mapping[str, Mapping[str, Any]]) -> str:
    """The parameters the notebooks of a run declare besides the standard ones, for error messages."""
    names = sorted({n for params in declared.values() for n in params} - set(STANDARD_PARAMETERS))
    return ", ".join(names) or "none besides the common ones"


def resolve_engine(profile: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The run's engine: the profile's ``engine`` with the ``--params engine.*`` overrides applied, validated (and, for
    Spark, PySpark installed)."""
    engine: dict[str, Any] = {"engine": copy.deepcopy(profile.get("engine") or DEFAULT_ENGINE)}
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] == "engine":
            _set_path(engine, parts, copy.deepcopy(value), f"--params {key}")
    try:
        spec = check_engine_spec(engine["engine"])
        check_available(spec)
        return spec
    except EngineError as exc:
        raise RunError(f"profile {profile['name']}: {exc}") from None
