"""What stage 04 reads, through :mod:`contentlab.contract`.

The runner hands the stage ``inputs`` (``{product name: path or None}``). 01's prepared data (``clean``,
``dataset``) is required; everything else is optional, and a missing or malformed optional input is reported in
the report's inputs table, not fatal: 02's ``personas`` and ``user_profiles``, 03's ``recommendations``, and the
previous cycle's feedback priors (``inputs["previous_feedback_priors"]``: the runner finds them through the run
registry; their shape is :mod:`contentlab.priors`). Only priors measured by a run of the same profile are used.
Persona names and favourite categories are cleaned of markup on the way in (they enter prompts and guides).

A notebook opened by hand gets ``inputs = {}``: the products are resolved from ``run_dir``
(:func:`contentlab.contract.resolve_inputs`; no previous cycle then). A run directory without prepared data is
prepared from the ``dataset`` spec first, as a stage run alone has always done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from contentlab import contract
from contentlab.generate.sanitise import sanitise_personas
from contentlab.priors import of_profile, validate_priors

STAGE = "04_generate"


@dataclass
class StageInputs:
    """What 04 uses of the earlier stages' products."""

    personas: list[dict] = field(default_factory=list)
    profiles: pd.DataFrame | None = None
    recommendations: pd.DataFrame | None = None
    priors: dict | None = None
    notes: list[str] = field(default_factory=list)  # what was found / used, for the report

    @property
    def persona_map(self) -> dict[str, dict]:
        return {str(p.get("persona_id")): p for p in self.personas}


PRIORS = contract.previous_key("feedback_priors")
"""The ``inputs`` key of the previous cycle's feedback priors."""


def _file(name: str) -> str:
    """The file name of a product (``previous_<name>``: of the previous cycle's)."""
    return Path(contract.product(name.removeprefix("previous_")).path).name


def _read(got: contract.Inputs, name: str, label: str, notes: list[str]) -> Any | None:
    """``got.optional(name)``, noting in ``notes`` what was found; None when it is absent or unusable."""
    product = contract.product(name)
    file = _file(name)
    if got.path(name) is None:
        notes.append(f"{label}: {file} not found")
        return None
    try:
        return got.optional(name)
    except contract.ContractError as exc:  # a malformed upstream product is reported, not fatal
        if exc.__cause__ is not None:
            notes.append(f"{label}: {file} unreadable ({type(exc.__cause__).__name__})")
        else:
            promised = ", ".join(product.columns or product.keys)
            notes.append(f"{label}: {file} lacks what the contract promises ({promised}), ignored")
        return None


def _priors(got: contract.Inputs, profile: str | None, notes: list[str]) -> dict | None:
    """The previous cycle's priors when they are well-formed and of ``profile``."""
    if got.path(PRIORS) is None:
        scope = f" of profile {profile!r}" if profile else ""
        notes.append(f"feedback: no earlier {_file(PRIORS)}{scope} (first cycle): even 50/50 variant mix")
        return None
    try:
        priors = got.optional(PRIORS)
        validate_priors(priors)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a malformed file must not stop 04
        notes.append(f"feedback: priors unreadable ({type(exc).__name__}: {exc}): even 50/50 variant mix")
        return None
    if not of_profile(priors, profile):
        notes.append(f"feedback: {_file(PRIORS)} of run {priors.get('run_id', '?')} was measured by profile "
                     f"{priors.get('profile')!r}, not {profile!r}: not used; even 50/50 variant mix")
        return None
    notes.append(f"feedback: {_file(PRIORS)} of run {priors.get('run_id', '?')} "
                 f"({len(priors.get('cells', []))} segment x channel cells)")
    return priors


def read_inputs(inputs: Mapping[str, str | None] | contract.Inputs, use_priors: bool = True,
                profile: str | None = None) -> StageInputs:
    """What 04 uses of the products it was handed (``{product name: path or None}``, see the module docstring)."""
    got = inputs if isinstance(inputs, contract.Inputs) else contract.Inputs.of(inputs)
    notes: list[str] = []
    data = _read(got, "personas", "profiling", notes)
    personas: list[dict] = []
    if data is not None:
        personas = sanitise_personas(d for d in data if isinstance(d, dict) and d.get("persona_id") is not None)
        notes.append(f"profiling: {_file('personas')}, {len(personas)} personas")
    tables = {}
    for name, label in (("user_profiles", "profiling"), ("recommendations", "recommendations")):
        tables[name] = _read(got, name, label, notes)
        if tables[name] is not None:
            notes.append(f"{label}: {_file(name)}, {len(tables[name]):,} rows")
    if use_priors:
        priors = _priors(got, profile, notes)
    else:
        priors = None
        notes.append("feedback: priors not used (use_priors=False)")
    return StageInputs(personas=personas, profiles=tables["user_profiles"], recommendations=tables["recommendations"],
                  priors=priors, notes=notes)
