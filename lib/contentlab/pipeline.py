"""The pipeline's stages and the data hand-over between them.

Stage 01 calls :func:`prepare_data` with the run profile's dataset spec; it resolves the source, maps it
to the canonical tables through its adapter, validates them and writes the run's clean data::

    run_dir/clean/<table>.parquet   validated canonical tables (+ clean/dataset.json)
    run_dir/validation.json         ValidationReport.to_dict() plus "adapter": the adapter's messy-row counts
    run_dir/dataset.json            name, locale, source spec, input file fingerprints, truth_dir (or null)

Stages 02-05 call :func:`load_prepared` to get the same :class:`~contentlab.data.io.Dataset` back; it never prepares
data itself (a run without ``clean/`` is an error that says how to get it).

Dataset specs (``dataset:`` in ``lib/contentlab/profiles/*.yaml``)::

    {"kind": "demo", "n_users": 5000, "n_products": 800, "n_days": 90, "locale": "en", "seed": 42}
    {"kind": "cdnow", "path": null}                      # null: the file shipped in the `lifetimes` package
    {"kind": "cdnow", "file": "CDNOW_sample.txt"}        # another file shipped there (the 2,357-customer sample)
    {"kind": "online_retail", "path": "data/raw/online_retail_II.xlsx"}
    {"kind": "movielens", "path": "data/raw/ml-100k/u.data"}
    {"kind": "files", "paths": {"events": ...}, "mapping": {"events": {"ts": "timestamp"}}, "locale": "en"}

Unknown kinds, keys (``mappings`` for ``mapping``) and tables fail at once in :func:`check_dataset_spec`,
naming the closest valid one. Relative paths resolve against ``config.project_root()``. The demo is simulated once into
``data/raw/simulated/demo-<fingerprint>/`` (fingerprint of the spec and of the simulator's code) and read
from there afterwards; its files are made read-only.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import inspect
import json
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from contentlab import config
from contentlab.contract import STAGE_NAMES, ContractError, product
from contentlab.data import adapters
from contentlab.data.io import (
    META_FILE,
    TRUTH_DIR,
    Dataset,
    check_partitioning,
    file_fingerprint,
    read_dataset,
    read_truth,
    write_dataset,
)
from contentlab.data.validate import validate_tables
from contentlab.fmt import display_path
from contentlab.serial import replace_dir

# Order matters: each stage reads the products of the ones before it (declared in contentlab.contract).
STAGES: tuple[str, ...] = STAGE_NAMES

CLEAN_DIR = product("clean").path  # the prepared tables' folder inside a run directory (named by the contract)
PREPARING_STAGE = "01_eda"
DATASET_KINDS: tuple[str, ...] = ("demo", "cdnow", "online_retail", "movielens", "files")
REQUIRED_TABLES: tuple[str, ...] = ("users", "products", "events")
# the keys a dataset spec of each kind may have (demo: "kind" plus the parameters of simulate())
COMMON_DATASET_KEYS: tuple[str, ...] = ("kind", "name", "locale", "partition_events")
WRITE_KEYS: tuple[str, ...] = ("partition_events",)
"""Dataset keys that say how the run's clean tables are written, not what the data is: ``partition_events``
(``day`` or ``month``: the events table date-partitioned, :mod:`contentlab.data.io`)."""
DATASET_KEYS: dict[str, tuple[str, ...]] = {
    "cdnow": ("path", "file"),
    "online_retail": ("path", "sheet"),
    "movielens": ("path", "low_ratings"),
    "files": ("paths", "mapping", "read_options"),
}


class DatasetSpecError(ValueError):
    """A dataset spec that cannot be resolved (unknown kind, missing path, bad parameter)."""


def _suggest(word: object, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def dataset_keys(kind: str) -> tuple[str, ...]:
    """The keys a dataset spec of ``kind`` may have."""
    if kind == "demo":
        simulate, _ = _simulator()
        return ("kind", *inspect.signature(simulate).parameters, *WRITE_KEYS)
    return (*COMMON_DATASET_KEYS, *DATASET_KEYS[kind])


def check_dataset_spec(dataset: Any) -> dict[str, Any]:
    """Fail at once, before any file is read, on a spec with an unknown kind, an unknown key (``mappings:`` for
    ``mapping:``) or an unknown table under ``paths`` / ``mapping`` / ``read_options``; the message names the key,
    the known keys and the closest match. Returns the spec as a dict."""
    if not isinstance(dataset, Mapping):
        raise DatasetSpecError(f"a dataset spec is a mapping with a 'kind', got {type(dataset).__name__}")
    spec = dict(dataset)
    kind = spec.get("kind")
    if kind not in DATASET_KINDS:
        raise DatasetSpecError(f"unknown dataset kind {kind!r}{_suggest(kind, DATASET_KINDS)}; valid kinds: "
                               f"{', '.join(DATASET_KINDS)}")
    known = dataset_keys(kind)
    problems = [f"dataset spec (kind {kind!r}): unknown key {key!r}{_suggest(key, known)} "
                f"(known keys: {', '.join(known)})" for key in spec if key not in known]
    if kind == "files":
        from contentlab.data.schema import TABLES

        for key in ("paths", "mapping", "read_options"):
            value = spec.get(key)
            if value is None:
                continue
            if not isinstance(value, Mapping):
                problems.append(f"dataset spec (kind 'files'): '{key}' must map table names to "
                                f"{'files' if key == 'paths' else 'mappings' if key == 'mapping' else 'options'}, "
                                f"got {type(value).__name__}")
                continue
            for table, sub in value.items():
                if table not in TABLES:
                    problems.append(f"dataset spec (kind 'files'): {key}: unknown table {table!r}"
                                    f"{_suggest(table, list(TABLES))} (tables: {', '.join(TABLES)})")
                elif key != "paths" and sub is not None and not isinstance(sub, Mapping):
                    problems.append(f"dataset spec (kind 'files'): {key}.{table} must be a mapping, "
                                    f"got {type(sub).__name__}")
    try:
        check_partitioning(spec.get("partition_events"))
    except ValueError as exc:
        problems.append(f"dataset spec: {exc}")
    if problems:
        raise DatasetSpecError("\n".join(problems))
    return spec


def _resolve(path: str | os.PathLike | None) -> Path | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else config.project_root() / p


def spec_fingerprint(spec: Mapping[str, Any]) -> str:
    """Stable short hash of a dataset spec (key order does not matter)."""
    blob = json.dumps(dict(spec), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- demo


def _simulator() -> tuple[Callable[..., Dataset], str]:
    # looked up on the package at call time (tests replace it there); the code version names the simulated shop
    sim_module = importlib.import_module("contentlab.data.simulate")
    return sim_module.simulate, sim_module.code_version()


def _make_read_only(path: Path) -> None:
    for f in path.rglob("*"):
        if f.is_file():
            f.chmod(f.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _simulate_params(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of ``simulate()`` in a demo spec: every key but ``kind`` and the write keys."""
    return {k: v for k, v in spec.items() if k != "kind" and k not in WRITE_KEYS}


def simulated_dir(spec: Mapping[str, Any]) -> Path:
    """Where the demo of ``spec`` lives: ``data/raw/simulated/demo-<fingerprint>``."""
    _, code = _simulator()
    params = _simulate_params(spec)
    return config.raw_dir() / "simulated" / f"demo-{spec_fingerprint({'params': params, 'simulator': code})}"


def _load_demo(spec: Mapping[str, Any]) -> tuple[Dataset, dict[str, Any], Path]:
    simulate, _ = _simulator()
    params = _simulate_params(spec)  # checked by check_dataset_spec
    target = simulated_dir(spec)
    if not (target / META_FILE).exists():
        ds = simulate(**params)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        write_dataset(ds, tmp, extra_meta={"spec": dict(spec)})
        try:
            tmp.rename(target)  # atomic: a concurrent run that got there first wins
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (target / META_FILE).exists():
                raise
        else:
            _make_read_only(target)
    ds = read_dataset(target)
    root = config.project_root()  # paths relative to it: stable across checkouts
    sources = {t: display_path((target / f"{t}.parquet").resolve(), root) for t in ds.tables}
    rows = int(sum(len(df) for df in ds.tables.values()))
    shown = display_path(target.resolve(), root)
    adapter = {"adapter": "demo", "files": [shown], "sources": sources,
               "rows_read": rows, "rows_mapped": rows, "rows_excluded": 0, "excluded": {}, "flagged": {},
               "tables": {t: int(len(df)) for t, df in ds.tables.items()},
               "notes": [f"simulated once into {shown}; read-only afterwards"]}
    return ds, adapter, target


# -------------------------------------------------------------------------------------------- sources


def _require_path(spec: Mapping[str, Any], kind: str) -> Path:
    path = _resolve(spec.get("path"))
    if path is None:
        raise DatasetSpecError(f"dataset kind {kind!r} needs a 'path'")
    if not path.exists():
        raise FileNotFoundError(f"dataset kind {kind!r}: {path} does not exist")
    return path


def _input_files(ds: Dataset, adapter_report: Mapping[str, Any]) -> list[Path]:
    files: list[Path] = []
    for f in adapter_report.get("files", []):
        p = Path(f)
        p = p if p.is_absolute() else config.project_root() / p
        if p.is_dir():
            files.extend(sorted(x for x in p.rglob("*") if x.is_file()))
        elif p.exists():
            files.append(p)
    return files


def load_source(dataset: Mapping[str, Any]) -> tuple[Dataset, dict[str, Any], Path | None]:
    """Resolve a dataset spec: ``(mapped but unvalidated Dataset, adapter report dict, truth dir or None)``."""
    spec = check_dataset_spec(dataset)
    kind = spec["kind"]
    if kind == "demo":
        ds, report, target = _load_demo(spec)
        truth = target / TRUTH_DIR
        return ds, report, truth if truth.is_dir() else None
    if kind == "cdnow":
        path = _resolve(spec.get("path"))
        if path is None and spec.get("file"):  # a file shipped with `lifetimes`, e.g. CDNOW_sample.txt
            path = adapters.cdnow_default_path(str(spec["file"]))
        ds, rep = adapters.load_cdnow(path)
    elif kind == "online_retail":
        ds, rep = adapters.load_online_retail(_require_path(spec, kind), sheet=spec.get("sheet"))
    elif kind == "movielens":
        ds, rep = adapters.load_movielens(_require_path(spec, kind), low_ratings=spec.get("low_ratings", "reject"))
    else:  # files
        paths = spec.get("paths")
        if not isinstance(paths, Mapping) or not paths:
            raise DatasetSpecError("dataset kind 'files' needs 'paths': {table: file}")
        resolved = {t: _resolve(p) for t, p in paths.items()}
        for t, p in resolved.items():
            if not p.exists():
                raise FileNotFoundError(f"dataset kind 'files': {t} file {p} does not exist")
        ds, rep = adapters.load_files(resolved, spec.get("mapping") or {}, name=spec.get("name", "files"),
                                      locale=spec.get("locale", "en"), read_options=spec.get("read_options"))
    if "locale" in spec:
        ds.locale = spec["locale"]
    if "name" in spec:
        ds.name = str(spec["name"])
    return ds, rep.to_dict(), None


# ------------------------------------------------------------------------------------------- prepare


def prepare_data(dataset: Mapping[str, Any], run_dir: str | os.PathLike) -> Dataset:
    """Resolve, map and validate a dataset spec; write the run's clean tables and reports; return the Dataset.

    Raises :class:`~contentlab.data.validate.DataValidationError` for unusable input and
    :class:`DatasetSpecError` for a spec that cannot be resolved. Input files are only read.
    """
    run_dir = Path(run_dir)
    spec = dict(dataset)
    ds, adapter_report, truth_dir = load_source(spec)
    missing = [t for t in REQUIRED_TABLES if t not in ds.tables]
    if missing:
        raise DatasetSpecError(f"dataset {ds.name!r} has no {', '.join(missing)} table(s); every dataset needs "
                               f"{', '.join(REQUIRED_TABLES)}")
    allow_empty = list(ds.meta.get("allow_empty", []))
    clean, report = validate_tables(ds.tables, adapter_report.get("sources", {}), allow_empty=allow_empty)
    root = config.project_root()
    inputs = {display_path(p.resolve(), root): file_fingerprint(p) for p in _input_files(ds, adapter_report)}

    meta: dict[str, Any] = {
        "name": ds.name,
        "locale": ds.locale,
        "kind": spec.get("kind"),
        "source": spec,
        "inputs": inputs,
        "truth_dir": str(truth_dir) if truth_dir else None,
        "has_truth": truth_dir is not None,
        "tables": sorted(clean),
        "rows": {t: int(len(df)) for t, df in clean.items()},
        "source_meta": {k: v for k, v in ds.meta.items() if k not in ("spec",)},
    }
    for key in ("currency", "nominal_price"):  # facts about the data that reports need at hand
        if key in ds.meta:
            meta[key] = ds.meta[key]
    if spec.get("partition_events"):
        meta["events_partitioning"] = spec["partition_events"]
    run_dir.mkdir(parents=True, exist_ok=True)
    clean_dir = product("clean").at(run_dir)
    tmp = clean_dir.with_name(f".{clean_dir.name}.{uuid.uuid4().hex[:8]}.tmp")
    write_dataset(Dataset(name=ds.name, tables=clean, locale=ds.locale, meta=meta), tmp,
                  partition_events=spec.get("partition_events"))
    # write_dataset records has_truth of the (truth-less) clean copy; keep the run's view
    (tmp / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    replace_dir(tmp, clean_dir)
    validation = report.to_dict()
    validation["adapter"] = adapter_report
    product("validation").write(run_dir, validation)
    product("dataset").write(run_dir, meta)
    truth = read_truth(truth_dir) if truth_dir else None
    return Dataset(name=ds.name, tables=clean, locale=ds.locale, truth=truth, meta=meta)


def load_prepared(run_dir: str | os.PathLike, dataset: Mapping[str, Any] | None = None) -> Dataset:
    """The Dataset that :func:`prepare_data` wrote into ``run_dir`` (tables, locale, truth, meta).

    Raises :class:`~contentlab.contract.ContractError` when ``run_dir`` has no prepared data: only stage 01
    prepares it (the error says how to get it into the run). ``dataset``, the run's spec that notebooks still
    pass, is not used: data is never prepared here.
    """
    run_dir = Path(run_dir)
    p = product("clean")
    clean = p.at(run_dir)
    if not (clean / META_FILE).exists():
        raise ContractError(
            f"{run_dir} has no prepared data: {p.path}/ ({p.description}) is missing. Stage {p.stage} writes it "
            f"(contentlab.pipeline.prepare_data): run it in the same run (`contentlab run`, or `contentlab run "
            f"--only {p.stage},STAGE`), or take it from an earlier run with `contentlab run --only STAGE "
            f"--from-run RUN_ID`")
    return prepared_dataset(clean, product("dataset").read_optional(run_dir), product("dataset").at(run_dir))


def prepared_dataset(clean: str | os.PathLike, meta: Mapping[str, Any] | None,
                     meta_path: str | os.PathLike | None = None) -> Dataset:
    """The Dataset of 01's ``clean`` tables and its ``dataset`` metadata (wherever they were handed over), with the
    planted truth the metadata points at; a truth directory that has gone raises ``FileNotFoundError``."""
    meta = dict(meta or {})
    truth_dir = meta.get("truth_dir")
    if truth_dir and not Path(truth_dir).is_dir():
        raise FileNotFoundError(f"{meta_path or 'dataset metadata'}: truth directory {truth_dir} no longer exists; "
                                f"prepare the run again (stage {PREPARING_STAGE})")
    ds = read_dataset(Path(clean), truth_dir=truth_dir)
    if meta:
        ds.meta = meta
        ds.name = meta.get("name", ds.name)
        ds.locale = meta.get("locale", ds.locale)
    return ds


def input_fingerprints(run_dir: str | os.PathLike) -> dict[str, str]:
    """``{input file: sha256[:16]}`` of the files the run's data came from ({} before data preparation)."""
    meta = product("dataset").read_optional(run_dir)
    return dict(meta.get("inputs", {})) if meta else {}
