"""The contract between the stages: every product a stage writes and every input a stage reads, declared once.

Like :mod:`contentlab.data.schema` for the canonical tables, this module is declarative: each :class:`Product`
names its file inside the run directory, its format, the columns (Parquet) or keys (JSON) a reader may rely on,
and the stage that writes it; each :class:`Stage` names the products it writes, the products of earlier stages
it reads (``inputs``: required; ``optional_inputs``: used when present) and what it takes from an earlier run
(``previous``: e.g. 04 reads the feedback priors the previous cycle's 05 measured).

No other module spells a product's file name. Stages read and write through :meth:`Product.read`,
:meth:`Product.read_optional` and :meth:`Product.write`, which check the declared columns/keys and replace files
atomically. The runner resolves a stage's inputs (:func:`resolve_inputs`, including the previous cycle's
products, found through the run registry) and hands them to the notebook as the Papermill parameter ``inputs``
(``{product name: path or None}``): a stage never scans ``data/processed/`` and never imports another stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from contentlab import serial

__all__ = ["ContractError", "Product", "Stage", "PRODUCTS", "STAGES", "STAGE_NAMES", "product", "stage",
           "resolve_inputs", "input_path", "read_input", "read_optional_input", "CLEAN_TABLES"]

CLEAN_TABLES = ("users", "products", "events", "ratings", "exposures")
"""Canonical tables 01 may write under ``clean/`` (``events`` always, the others when the dataset has them)."""


class ContractError(ValueError):
    """A product is missing, unreadable or lacks what the contract promises its readers."""


@dataclass(frozen=True)
class Product:
    name: str
    path: str  # inside the run directory (POSIX)
    format: str  # "parquet" | "json" | "jsonl" | "dir"
    stage: str  # the stage that writes it
    description: str
    columns: tuple[str, ...] = ()  # parquet/jsonl: columns every reader may rely on
    keys: tuple[str, ...] = ()  # json: keys of the object (or of every record of a list)
    optional: bool = False  # written only when the stage applies (a reader must cope with its absence)

    def at(self, run_dir: str | Path) -> Path:
        return Path(run_dir) / self.path

    def exists(self, run_dir: str | Path) -> bool:
        p = self.at(run_dir)
        return p.is_dir() if self.format == "dir" else p.is_file()

    # ---------------------------------------------------------------------------------------------- read
    def read_path(self, path: str | Path) -> Any:
        """Read the product from ``path`` and check it against the contract."""
        path = Path(path)
        if not (path.is_dir() if self.format == "dir" else path.is_file()):
            raise ContractError(f"{self.name}: {path} does not exist (written by stage {self.stage}: {self.description})")
        try:
            if self.format == "parquet":
                obj = pd.read_parquet(path)
            elif self.format == "jsonl":
                obj = pd.read_json(path, lines=True, dtype=False)
            elif self.format == "json":
                obj = serial.read_json(path)
            else:
                return path
        except Exception as exc:
            raise ContractError(f"{self.name}: {path} cannot be read ({type(exc).__name__}: {exc})") from exc
        self.check(obj, where=str(path))
        return obj

    def read(self, run_dir: str | Path) -> Any:
        return self.read_path(self.at(run_dir))

    def read_optional(self, run_dir: str | Path) -> Any | None:
        """The product, or ``None`` when the stage did not write it (a malformed product still raises)."""
        return self.read(run_dir) if self.exists(run_dir) else None

    # --------------------------------------------------------------------------------------------- check
    def check(self, obj: Any, where: str = "") -> None:
        where = where or self.path
        if self.format in ("parquet", "jsonl"):
            missing = [c for c in self.columns if c not in getattr(obj, "columns", [])]
            if missing:
                raise ContractError(f"{self.name}: {where} lacks column(s) {missing} that the contract promises "
                                    f"(written by {self.stage})")
        elif self.format == "json" and self.keys:
            records = obj if isinstance(obj, list) else [obj]
            for i, rec in enumerate(records):
                missing = [k for k in self.keys if not isinstance(rec, Mapping) or k not in rec]
                if missing:
                    at = f" record {i}" if isinstance(obj, list) else ""
                    raise ContractError(f"{self.name}: {where}{at} lacks key(s) {missing} that the contract promises "
                                        f"(written by {self.stage})")

    # --------------------------------------------------------------------------------------------- write
    def write(self, run_dir: str | Path, obj: Any) -> Path:
        """Check ``obj`` against the contract and write it atomically; returns the path."""
        if self.format == "dir":
            raise ContractError(f"{self.name} is a directory: its stage writes the files inside it")
        self.check(obj, where=f"{self.name} (being written)")
        path = self.at(run_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        if self.format == "parquet":
            obj.to_parquet(tmp, index=False)
            tmp.replace(path)
        elif self.format == "jsonl":
            lines = [serial.dumps(rec, indent=None) for rec in obj.to_dict(orient="records")]
            serial.write_text_atomic(path, "\n".join(lines) + ("\n" if lines else ""))
        else:
            serial.write_json(path, obj)
        return path


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    products: tuple[str, ...]
    inputs: tuple[str, ...] = ()  # products of earlier stages of this run that must exist
    optional_inputs: tuple[str, ...] = ()  # products of earlier stages used when present
    previous: tuple[str, ...] = ()  # products of an earlier run of the same profile (the previous cycle)
    notes: str = ""

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def reads(self) -> tuple[str, ...]:
        return self.inputs + self.optional_inputs


def _p(*args: Any, **kw: Any) -> Product:
    return Product(*args, **kw)


PRODUCTS: dict[str, Product] = {p.name: p for p in (
    # 01 -- prepared data
    _p("clean", "clean", "dir", "01_eda",
       "the validated canonical tables, one Parquet file each (clean/<table>.parquet; see data/README.md)"),
    _p("validation", "validation.json", "json", "01_eda",
       "rows in / kept / rejected / repaired per table and rule, plus the adapter's excluded source rows",
       keys=("rows_in", "rows_kept", "rows_rejected", "tables")),
    _p("dataset", "dataset.json", "json", "01_eda",
       "the dataset's metadata: source spec, locale, currency, input fingerprints, truth directory",
       keys=("name", "locale")),
    # 02 -- profiles
    _p("user_profiles", "user_profiles.parquet", "parquet", "02_profiling",
       "one row per user: behavioural features, RFM, segment, persona, risk flag, CLV fields",
       columns=("user_id", "segment", "persona_id", "is_flagged")),
    _p("personas", "personas.json", "json", "02_profiling",
       "one record per persona (the segments content is written for; 02 also writes each one's copy_style and "
       "copy_style_reason, which 04 reads when present)",
       keys=("persona_id", "name", "segment", "size")),
    _p("association_rules", "association_rules.parquet", "parquet", "02_profiling",
       "FP-growth 'bought together' rules", columns=("antecedents", "consequents", "support", "confidence", "lift")),
    _p("risk_flags", "risk_flags.parquet", "parquet", "02_profiling",
       "accounts flagged as click farms or fake orders, with the reasons", columns=("user_id",)),
    # 03 -- recommendations
    _p("recommendations", "recommendations.parquet", "parquet", "03_recommend",
       "top-k products per user from the chosen model", columns=("user_id", "rank", "product_id", "score", "model"),
       optional=True),
    _p("best_model", "recommender/best_model.json", "json", "03_recommend",
       "the chosen model, its parameters and the selection metric", keys=("model",), optional=True),
    # 04 -- content
    _p("content", "content.parquet", "parquet", "04_generate",
       "every generated candidate with its scores; `published` marks the catalogue",
       columns=("content_id", "content_type", "segment", "product_id", "channel", "variant", "text", "published"),
       optional=True),
    _p("content_jsonl", "content.jsonl", "jsonl", "04_generate",
       "the same rows as content.parquet, one JSON object per line (for storefront and e-mail systems)",
       columns=("content_id", "text", "published"), optional=True),
    _p("user_guides", "user_guides", "dir", "04_generate",
       "per-user shopping guides, Parquet partitioned by a hash bucket of the user id (user_guides/bucket=N/; "
       "columns: contentlab.generate.publish.USER_GUIDE_COLUMNS): on Spark every user with recommendations, on "
       "DuckDB the users sampled for guides", optional=True),
    # 05 -- feedback
    _p("feedback_priors", "feedback_priors.json", "json", "05_feedback",
       "Beta posteriors and Thompson-sampling shares per segment x channel (the next cycle's 04 reads them)",
       keys=("schema_version", "run_id", "profile", "cells"), optional=True),
    _p("ab_results", "ab_results.parquet", "parquet", "05_feedback",
       "per comparison: rates, lift, interval, p-values, verdict", optional=True),
    _p("ab_exposures", "ab_exposures.parquet", "parquet", "05_feedback",
       "the impressions that were analysed (audit trail)", optional=True),
)}

STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("01_eda", "Exploratory data analysis", ("clean", "validation", "dataset")),
    Stage("02_profiling", "Customer profiling", ("user_profiles", "personas", "association_rules", "risk_flags"),
          inputs=("clean", "dataset")),
    Stage("03_recommend", "Recommendations", ("recommendations", "best_model"),
          inputs=("clean", "dataset"), optional_inputs=("user_profiles", "association_rules")),
    Stage("04_generate", "Content generation", ("content", "content_jsonl", "user_guides"),
          inputs=("clean", "dataset"), optional_inputs=("user_profiles", "personas", "recommendations"),
          previous=("feedback_priors",)),
    Stage("05_feedback", "Feedback", ("feedback_priors", "ab_results", "ab_exposures"),
          inputs=("clean", "dataset"), optional_inputs=("content", "user_profiles", "personas"),
          previous=("feedback_priors",)),
)}

STAGE_NAMES: tuple[str, ...] = tuple(STAGES)


def product(name: str) -> Product:
    try:
        return PRODUCTS[name]
    except KeyError:
        raise KeyError(f"no product {name!r} in the contract (known: {', '.join(PRODUCTS)})") from None


def stage(name: str) -> Stage:
    try:
        return STAGES[name]
    except KeyError:
        raise KeyError(f"no stage {name!r} (known: {', '.join(STAGES)})") from None


def previous_key(name: str) -> str:
    """The ``inputs`` key under which a product of the previous cycle is passed (``previous_feedback_priors``)."""
    return f"previous_{name}"


def resolve_inputs(stage_name: str, run_dir: str | Path, previous_run_dir: str | Path | None = None,
                   ) -> dict[str, str | None]:
    """Paths of every product ``stage_name`` reads: this run's products (``None`` for an optional one that does not
    exist) and the previous cycle's (``previous_<name>``; ``None`` without an earlier run). A required input that
    does not exist raises :class:`ContractError` naming the stage that writes it."""
    st = stage(stage_name)
    out: dict[str, str | None] = {}
    for name in st.inputs:
        p = product(name)
        if not p.exists(run_dir):
            raise ContractError(f"{stage_name} needs {p.path} ({p.description}), which stage {p.stage} writes: "
                                f"it is not in {run_dir}. Run {p.stage} first (or `contentlab run --only "
                                f"{stage_name} --from-run RUN` to take it from an earlier run).")
        out[name] = str(p.at(run_dir))
    for name in st.optional_inputs:
        p = product(name)
        out[name] = str(p.at(run_dir)) if p.exists(run_dir) else None
    for name in st.previous:
        p = product(name)
        prev = p.at(previous_run_dir) if previous_run_dir is not None else None
        out[previous_key(name)] = str(prev) if prev is not None and p.exists(previous_run_dir) else None
    return out


def input_path(inputs: Mapping[str, str | None], name: str) -> Path | None:
    value = inputs.get(name)
    return Path(value) if value else None


def read_input(inputs: Mapping[str, str | None], name: str) -> Any:
    """Read a product handed to a stage in ``inputs`` (raises when it is not there)."""
    key = name[len("previous_"):] if name.startswith("previous_") else name
    path = input_path(inputs, name)
    if path is None:
        raise ContractError(f"input {name!r} was not provided ({product(key).description})")
    return product(key).read_path(path)


def read_optional_input(inputs: Mapping[str, str | None], name: str) -> Any | None:
    """Read a product handed to a stage in ``inputs``, or ``None`` when it was not provided."""
    key = name[len("previous_"):] if name.startswith("previous_") else name
    path = input_path(inputs, name)
    return product(key).read_path(path) if path is not None else None


@dataclass
class Inputs:
    """What a stage was handed: ``Inputs.of(inputs)`` in a notebook, then ``.read(name)`` / ``.optional(name)``."""

    paths: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, inputs: Mapping[str, str | None] | None) -> Inputs:
        return cls(dict(inputs or {}))

    @classmethod
    def for_stage(cls, stage_name: str, inputs: Mapping[str, str | None] | None, run_dir: str | Path) -> Inputs:
        """What a stage reads: ``inputs`` as the runner handed them, else (a notebook opened by hand) resolved from
        ``run_dir``; a missing required input raises :class:`ContractError` naming the stage that writes it (a
        stage never prepares data itself)."""
        if inputs:
            return cls.of(inputs)
        return cls.of(resolve_inputs(stage_name, run_dir))

    def read(self, name: str) -> Any:
        return read_input(self.paths, name)

    def optional(self, name: str) -> Any | None:
        return read_optional_input(self.paths, name)

    def path(self, name: str) -> Path | None:
        return input_path(self.paths, name)
