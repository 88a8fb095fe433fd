"""Everything 02 computes, in one call: :func:`run_profiling` returns a
:class:`~contentlab.profiling.result.ProfilingResult`.

The notebook stays thin: it builds a :class:`~contentlab.profiling.config.ProfilingConfig` from its parameters (every
value checked there), calls :func:`run_profiling`, shows the result's tables and :mod:`~contentlab.profiling.plots`,
records :meth:`ProfilingResult.metrics` and shows :meth:`ProfilingResult.summary_markdown`.

The steps, in order:

1. the inputs through :mod:`contentlab.contract`: the runner hands the stage ``inputs`` (``{product name: path}``:
   01's ``clean`` tables and ``dataset`` metadata); a notebook opened by hand gets ``inputs = {}`` and they are
   resolved from ``run_dir`` (:func:`contentlab.contract.resolve_inputs`). The prepared dataset (tables, planted
   truth) is loaded with :func:`contentlab.pipeline.load_prepared`;
2. the profile table over the run's event store (:func:`~contentlab.profiling.core.profile_users`: features, risk
   flags, RFM, segments, CLV); a dataset without any behaviour raises
   :class:`~contentlab.profiling.features.NoActivityError` (the notebook ends itself with ``skip_stage``);
3. personas and association rules;
4. the products, written through the contract (``user_profiles``, ``personas``, ``association_rules``,
   ``risk_flags``);
5. on simulated data, the checks against the planted truth: segments (adjusted Rand index), risk flags (precision
   and recall against the planted fake accounts), planted co-purchase pairs among the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from contentlab import contract, pipeline
from contentlab.profiling.config import ProfilingConfig
from contentlab.profiling.core import STAGE, UserProfiles, basket_rules, profile_users, write_outputs
from contentlab.profiling.personas import build_personas
from contentlab.profiling.result import ProfilingResult
from contentlab.profiling.risk import precision_recall
from contentlab.profiling.rules import planted_pairs_found
from contentlab.profiling.segments import confusion_table, segment_ari
from contentlab.store import EventStore

__all__ = ["run_profiling", "truth_checks"]


def truth_checks(users: UserProfiles, rules: pd.DataFrame, truth: Mapping[str, Any] | None) -> dict[str, Any]:
    """The planted-truth checks of simulated data, as :class:`ProfilingResult` fields ({} without truth):

    - ``segment_ari`` / ``segment_confusion``: found segments of the clustered users against the planted ones;
    - ``risk_precision`` / ``risk_recall`` / ``risk_truth_table`` / ``planted_fraud``: flags against the planted fake
      accounts;
    - ``copurchase``: planted "bought together" pairs among the rules over all baskets (``(found, planted)``)."""
    truth = truth or {}
    out: dict[str, Any] = {}
    truth_users = truth.get("users")
    if truth_users is not None:
        truth_users = truth_users.assign(user_id=truth_users["user_id"].astype(str)).set_index("user_id")
        cl = users.clustering
        if cl is not None and "segment" in truth_users:
            found = users.profiles.loc[cl.labels.index].set_index("user_id")["segment"].astype(str)
            out["segment_ari"] = segment_ari(found, truth_users["segment"])
            out["segment_confusion"] = confusion_table(found, truth_users["segment"])
        if "is_fraud" in truth_users:
            flagged = users.risk.table.set_index("user_id")["is_flagged"]
            precision, recall, table = precision_recall(flagged, truth_users["is_fraud"])
            frame = users.features.frame
            out.update(risk_precision=precision, risk_recall=recall, risk_truth_table=table,
                       planted_fraud=truth_users["is_fraud"].reindex(frame["user_id"]).set_axis(frame.index),
                       planted_fraud_accounts=int(truth_users["is_fraud"].sum()))
    pairs = truth.get("bought_together")
    if pairs is not None and len(rules):
        out["copurchase"] = planted_pairs_found(rules, pairs)
    return out


def run_profiling(config: ProfilingConfig, inputs: Mapping[str, str | None] | None = None, *,
                  run_dir: str | Path) -> ProfilingResult:
    """Run the profiling stage (see the module docstring) and write its products to ``run_dir``."""
    if not run_dir:
        raise ValueError("run_dir is empty: 02 profiles the data stage 01 prepared in a run directory. Set run_dir to "
                         "one (data/processed/<run id>), or run `contentlab run --only 01_eda,02_profiling`.")
    run_dir = Path(run_dir)
    handed = contract.Inputs.for_stage(STAGE, inputs, run_dir)
    meta = handed.read("dataset")
    ds = pipeline.load_prepared(run_dir)
    with EventStore(handed.path("clean"), engine=config.engine) as store:
        users = profile_users(store, config)
        n_activity = store.count(users.features.activity)
        personas = build_personas(users.profiles, locale=ds.locale, min_size=config.min_cell,
                                  population=users.features.population)
        rules, rules_note = basket_rules(store, users.profiles, config)
    paths = write_outputs(run_dir, users, personas, rules)
    checks = truth_checks(users, rules, ds.truth)
    return ProfilingResult(
        config=config, users=users, personas=personas, rules=rules, rules_note=rules_note,
        dataset_name=str(meta.get("name", ds.name)), locale=str(meta.get("locale", ds.locale)), meta=meta,
        n_activity=n_activity, products=ds.products if ds.has("products") else None, paths=paths, **checks)
