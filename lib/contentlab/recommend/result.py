"""What one run of the recommendation stage found: :class:`RecommendResult`.

It holds every table the report shows, the recorded metrics (:meth:`RecommendResult.metrics`, fixed names) and
the summary (:meth:`RecommendResult.summary_markdown`). Data text placed in Markdown (segment names) is escaped
with :func:`contentlab.fmt.esc_md`; a figure that cannot be computed prints as :data:`contentlab.fmt.NA`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from contentlab import fmt
from contentlab.privacy import MERGED_LABEL, pseudonymise, small_cell_note
from contentlab.recommend.configuration import RecommendConfig
from contentlab.recommend.evaluate import EvalContext
from contentlab.recommend.interactions import describe_source
from contentlab.recommend.lineup import Lineup
from contentlab.recommend.outputs import popularity_bias
from contentlab.recommend.protocol import Protocol
from contentlab.recommend.sampling import UserSample
from contentlab.recommend.search import Tuning
from contentlab.recommend.spark_als import SparkALSRecommender
from contentlab.recommend.truth import COLUMN as TRUTH_COLUMN

REASON_KINDS = r"^(often bought with|similar to|a favourite|popular)"
COLD_MODELS = ("content_tfidf", "hybrid", "svd_ranking")  # their cold-slice NDCG is recorded
ALS = SparkALSRecommender.name  # Spark MLlib ALS: in the line-up when the run's engine is Spark


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


@dataclass
class RecommendResult:
    config: RecommendConfig
    protocol: Protocol
    interactions: pd.DataFrame  # the pairs models learn from and recommend to (flagged accounts left out)
    catalogue: list[str]
    flagged: int  # accounts flagged by profiling, excluded
    ctx: EvalContext  # the split (train, test), evaluated users, cold items
    tuning: Tuning
    lineup: Lineup
    table: pd.DataFrame  # every evaluated model, one row each
    segments: pd.DataFrame | None  # per-segment quality of the ranking model and popularity (small cells merged)
    planted: pd.DataFrame | None  # Spearman agreement with the planted affinity (simulated data only)
    best: pd.Series  # the chosen model's row of ``table``
    rating_model: str | None  # whose rmse/mae are reported with the chosen model
    rmse: float
    mae: float
    recommendations: pd.DataFrame
    products: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)
    sample: UserSample | None = None  # Spark: the customers the single-machine models took (None: all of them)
    full_ctx: EvalContext | None = None  # the split of every customer (``ctx`` when nothing was sampled)
    started: float = field(default_factory=time.perf_counter)

    # ----------------------------------------------------------------------------------------------- names
    @property
    def k(self) -> int:
        return self.config.k

    @property
    def metric(self) -> str:
        return self.config.metric

    @property
    def best_model(self) -> str:
        return str(self.best["model"])

    @property
    def skipped(self) -> dict[str, str]:
        return self.lineup.skipped

    @property
    def cold_items(self) -> list[str]:
        return self.ctx.cold_items

    @property
    def by_model(self) -> pd.DataFrame:
        return self.table.set_index("model")

    # ------------------------------------------------------------------------------------------ the tables
    def overview(self) -> pd.DataFrame:
        """The interaction data in a few rows: source (and why, under ``auto``), volumes, density, exclusions."""
        inter = self.interactions
        users = inter["user_id"].nunique()
        rows = [("interaction source", describe_source(inter, with_reason=False))]
        if self.config.interaction_source == "auto":
            rows.append(("why this source", inter.attrs["source_note"]))
        rows += [("interactions (user-product pairs)", f"{len(inter):,}"), ("users with interactions", f"{users:,}"),
                 ("products in the catalogue", f"{len(self.catalogue):,}"),
                 ("density", fmt.pct(len(inter) / max(users * len(self.catalogue), 1), 2)),
                 ("flagged accounts excluded", f"{self.flagged:,}")]
        return pd.DataFrame(rows, columns=["", "value"])

    def rating_counts(self) -> pd.DataFrame:
        """User-product pairs per (pseudo-)rating."""
        return (self.interactions["rating"].round(2).value_counts().sort_index().rename_axis("rating")
                .reset_index(name="pairs"))

    def split_table(self) -> pd.DataFrame:
        """The protocol's settings and what the split produced."""
        ctx = self.ctx
        rows = [("training interactions", f"{len(ctx.train):,}"), ("held-out interactions", f"{len(ctx.test):,}"),
                ("evaluated users", f"{len(ctx.users):,}")]
        if self.sample is not None and self.full_ctx is not None:
            full = self.full_ctx
            rows = [("single-machine models: customers", self.sample.describe()),
                    *[(f"{name} (sample)", value) for name, value in rows],
                    ("training interactions (every customer: Spark MLlib ALS)", f"{len(full.train):,}"),
                    ("held-out interactions (every customer)", f"{len(full.test):,}"),
                    ("evaluated users (every customer)", f"{len(full.users):,}")]
        return pd.DataFrame(self.protocol.rows() + rows + [
            ("cold products (no training interactions)", f"{len(ctx.cold_items):,}"),
            ("model seed", str(self.config.seed)),
        ], columns=["", "value"])

    def skipped_markdown(self) -> str:
        return "**Skipped:** " + "; ".join(f"`{m}`: {why}" for m, why in self.skipped.items()) if self.skipped else ""

    def model_order(self) -> list[str]:
        """Models best first on the tuning metric (the colour order of the comparison plots)."""
        return self.table.sort_values(self.metric, ascending=False)["model"].tolist()

    def popularity_bias(self) -> pd.DataFrame:
        """Each model's share of recommendations per training-popularity decile (decile 10 = most popular)."""
        return pd.concat([popularity_bias(res.top, self.ctx.item_user_counts).assign(model=name)
                          for name, res in self.lineup.evals.items()], ignore_index=True)

    @property
    def cold_column(self) -> str:
        return f"cold_ndcg_at_{self.k}"

    def cold(self) -> pd.DataFrame | None:
        """NDCG@k on the cold-item slice per model, best first (``None`` when no product was held out)."""
        col = self.cold_column
        if col not in self.table.columns or not self.table[col].notna().any():
            return None
        return self.table[["model", col]].dropna().sort_values(col, ascending=False)

    def segments_note(self) -> str:
        left_out = int(self.segments.attrs.get("suppressed_users", 0)) if self.segments is not None else 0
        return small_cell_note(what="segments") + (f" Left out here: {left_out} customers." if left_out else "")

    def rating_text(self) -> str:
        """Whose rating accuracy is reported with the chosen model, in one sentence."""
        best, ref = self.best_model, self.rating_model
        if ref == best:
            return f"Rating accuracy of `{best}`: RMSE {self.rmse:.3f}, MAE {self.mae:.3f} (rating points, 1-5)."
        if ref:
            return (f"`{best}` predicts no ratings: the rating accuracy reported with it belongs to `{ref}` "
                    f"(RMSE {self.rmse:.3f}, MAE {self.mae:.3f}, rating points, 1-5).")
        return f"`{best}` predicts no ratings and no rating-mode model ran: no RMSE or MAE in this run."

    def example(self) -> pd.DataFrame:
        """One customer's list (the first recommended customer; user id pseudonymised) with product titles."""
        recs = self.recommendations
        example = recs[recs["user_id"] == recs["user_id"].iloc[0]].copy() if len(recs) else recs.copy()
        example["user_id"] = pseudonymise(example["user_id"].astype(str)).to_numpy()
        info = [c for c in ("product_id", "title", "category") if c in self.products.columns]
        example = example.merge(self.products[info].astype({"product_id": str}), on="product_id", how="left")
        return example[["user_id", "rank"] + info[1:] + ["score", "reason"]]

    def reason_shares(self) -> pd.DataFrame:
        """Share of the recommendations per kind of reason."""
        kinds = self.recommendations["reason"].str.extract(REASON_KINDS)[0].fillna("other")
        return kinds.value_counts(normalize=True).rename_axis("reason").reset_index(name="share")

    # ------------------------------------------------------------------------------------------- metrics
    def metrics(self) -> dict[str, Any]:
        """The recorded metrics, in the order the report's index lists them (fixed names). ``rmse``/``mae`` are
        the chosen model's when it predicts ratings, else svd_rating's; ``rmse_model``/``mae_model`` name which.
        ``runtime_s`` is the time since the run started, ``kernel_cpu_s`` the process's CPU time, both at the
        moment of the call. ``embedding_cold_ndcg_at_<k>`` is the MiniLM content model's NDCG@k on the cold-item
        slice (when the protocol has one; ``None`` when the model did not run). ``cold_user_ndcg_at_<k>`` maps each
        model scored on the cold-user slice to its NDCG@k there, ``cold_users`` is the slice's size (both ``None``
        without the two-tower model). ``als_ndcg_at_<k>`` is Spark MLlib ALS's NDCG@k, recorded only when the run's
        engine is Spark; with it ``single_node_users``, the customers the single-machine models took (``None``: all
        of them), and, when that is a sample, ``als_all_users_ndcg_at_<k>``, ALS's NDCG@k on every evaluated
        customer (``als_ndcg_at_<k>`` is then its score on the sample, as every model's). ``peer_ndcg_at_<k>`` maps each peer that ran to its NDCG@k (``None`` when ``peers``
        is empty)."""
        k, best, by_model = self.k, self.best, self.by_model

        def ndcg_of(name: str) -> float | None:
            return float(by_model.loc[name, self.metric]) if name in by_model.index else None

        out: dict[str, Any] = {"protocol": self.protocol.name, "best_model": self.best_model}
        for m in ("ndcg", "precision", "recall", "map", "hit_rate"):
            out[f"{m}_at_{k}"] = float(best[f"{m}_at_{k}"])
        out["coverage"] = float(best["coverage"])
        out.update(rmse_model=self.rating_model, rmse=self.rmse, mae_model=self.rating_model, mae=self.mae)
        out[f"popularity_ndcg_at_{k}"] = ndcg_of("popularity")
        out[f"svd_rating_ndcg_at_{k}"] = ndcg_of("svd_rating")
        if "svd_ranking" in by_model.index:
            out[f"ranking_ndcg_at_{k}"] = ndcg_of("svd_ranking")
        if ALS in by_model.index:  # Spark engine only
            out[f"als_ndcg_at_{k}"] = ndcg_of(ALS)
            out["single_node_users"] = None if self.sample is None else len(self.sample.users)
            if self.lineup.als_all is not None:
                out[f"als_all_users_ndcg_at_{k}"] = float(self.lineup.als_all.row[self.metric])
        if self.cold() is not None:
            for name in COLD_MODELS:
                if name in by_model.index and pd.notna(by_model.loc[name, self.cold_column]):
                    out[f"{name}_cold_ndcg_at_{k}"] = float(by_model.loc[name, self.cold_column])
        if self.planted is not None and "svd_ranking" in set(self.planted["model"]):
            out["ranking_planted_spearman"] = float(self.planted.set_index("model").loc["svd_ranking", TRUTH_COLUMN])
        out["recommended_users"] = int(self.recommendations["user_id"].nunique())
        out["recommended_products"] = int(self.recommendations["product_id"].nunique())
        out["runtime_s"] = time.perf_counter() - self.started
        out["kernel_cpu_s"] = time.process_time()
        if self.cold() is not None:
            out[f"embedding_cold_ndcg_at_{k}"] = (
                float(by_model.loc["content_minilm", self.cold_column]) if "content_minilm" in by_model.index
                and pd.notna(by_model.loc["content_minilm", self.cold_column]) else None)
        cu = self.lineup.cold_users
        out[f"cold_user_ndcg_at_{k}"] = (None if cu is None else
                                         {str(r["model"]): float(r[f"ndcg_at_{k}"]) for _, r in cu.iterrows()})
        out["cold_users"] = None if cu is None else int(cu.attrs["users"])
        peers = self.lineup.peer_table
        out[f"peer_ndcg_at_{k}"] = (None if peers is None else
                                    {str(r["model"]): float(r[self.metric]) for _, r in peers.iterrows()})
        return out

    # ------------------------------------------------------------------------------------------- summary
    def summary_markdown(self) -> str:
        """The report's summary: protocol, the chosen model, ranking vs rating mode vs popularity, new products,
        segments, planted truth, volumes, rating accuracy and what was skipped (one bullet each)."""
        k, best, score = self.k, self.best, self.by_model[self.metric]
        pop, rank, svdr = score.get("popularity"), score.get("svd_ranking"), score.get("svd_rating")
        lines = [f"Evaluation protocol {self.protocol.summary()} (defined under *Split and protocol*).",
                 f"**Best model: `{self.best_model}`** (selected on held-out {self.config.selection_metric}"
                 + (", among the models trained on every customer" if self.sample is not None else "") + "), "
                 f"NDCG@{k} {fmt.num(best[self.metric], 3)}, precision@{k} {fmt.num(best[f'precision_at_{k}'], 3)}, "
                 f"recall@{k} {fmt.num(best[f'recall_at_{k}'], 3)}, hit rate {fmt.num(best[f'hit_rate_at_{k}'], 3)}, "
                 f"catalogue coverage {fmt.num(best['coverage'], 3)}."]
        if rank is not None and pop is not None:
            ratio = f" ({rank / pop:.1f}x)" if pop > 0 else ""
            lines.append(f"Ranking mode (Surprise SVD on positives + sampled negatives) reaches NDCG@{k} "
                         f"{fmt.num(rank, 3)} vs {fmt.num(pop, 3)} for popularity{ratio}"
                         + (f" and {fmt.num(svdr, 3)} for the same SVD ranked by predicted rating." if svdr is not None
                            else "."))
        if ALS in self.by_model.index:
            if self.sample is not None:
                lines.append(self.sample_line())
            lines.append(self.als_line())
        if self.lineup.peers:
            lines.append(self._peer_line())
        if self.lineup.cold_users is not None and len(self.lineup.cold_users):
            lines.append(self._cold_user_line())
        if self.cold() is not None:
            lines.append(self._cold_line())
        seg = self.segments
        if seg is not None and len(seg):
            s = seg[(seg["model"] == "svd_ranking") & (seg["segment"] != MERGED_LABEL)].sort_values("ndcg")
            if len(s):
                lines.append(f"Hardest segment: {fmt.esc_md(s.iloc[0]['segment'])} (NDCG@{k} "
                             f"{fmt.num(s.iloc[0]['ndcg'], 3)}); easiest: {fmt.esc_md(s.iloc[-1]['segment'])} "
                             f"({fmt.num(s.iloc[-1]['ndcg'], 3)}).")
        if self.planted is not None and len(self.planted):
            tc = self.planted.set_index("model")[TRUTH_COLUMN]
            lines.append(f"Planted truth: `{tc.index[0]}` agrees most with the simulator's latent user-product "
                         f"affinity (mean Spearman {tc.iloc[0]:.2f}"
                         + (f"; SVD rating mode {tc['svd_rating']:.2f}" if "svd_rating" in tc else "") + ").")
        recs = self.recommendations
        lines.append(f"Interactions: {len(self.interactions):,} customer-product pairs, {len(self.ctx.users):,} "
                     f"customers evaluated, {len(recs):,} recommendations written for {recs['user_id'].nunique():,} "
                     f"customers. Source: {describe_source(self.interactions)}")
        lines.append(self.rating_text())
        if self.skipped:
            lines.append("Skipped: " + "; ".join(f"{m} ({why})" for m, why in self.skipped.items()) + ".")
        return "\n".join(f"- {line}" for line in lines)

    def comparison(self) -> pd.DataFrame:
        """The product's models and the peers in one table, best first (see :meth:`Lineup.comparison`)."""
        return self.lineup.comparison()

    def als_line(self) -> str:
        """Where Spark MLlib ALS lands against the Surprise ranking mode on the same split, in one sentence."""
        k, table = self.k, self.table.sort_values(self.metric, ascending=False, kind="mergesort")
        als = self.by_model.loc[ALS]
        place = int((table["model"] == ALS).to_numpy().argmax()) + 1
        params = self.lineup.evals[ALS].model.params
        setting = ", ".join(f"{key} {params[key]:g}" for key in ("rank", "regParam", "alpha"))
        # the profile's master URL, in a code span: Markdown is not read there, a backtick would end it
        master = str((self.config.engine or {}).get("master", "")).replace("`", "")
        line = (f"Spark MLlib ALS (implicit feedback, trained and evaluated on Spark `{master}`; {setting}, chosen on "
                f"the validation split) reaches NDCG@{k} {fmt.num(als[self.metric], 3)}, "
                f"{_ordinal(place)} of {len(table)} models, fit {fmt.num(als['fit_s'], 1)} s")
        if "svd_ranking" in self.by_model.index:
            rank = self.by_model.loc["svd_ranking"]
            verdict = ("ahead of" if als[self.metric] > rank[self.metric] else
                       "level with" if als[self.metric] == rank[self.metric] else "behind")
            line += (f"; it is {verdict} the Surprise ranking mode on the same split (NDCG@{k} "
                     f"{fmt.num(rank[self.metric], 3)}, fit {fmt.num(rank['fit_s'], 1)} s on one machine)")
        return line + "."

    def sample_line(self) -> str:
        """What ran on a sample of customers and what on all of them (Spark, above ``single_node_users``)."""
        k, full = self.k, self.lineup.als_all
        n_eval = len(full.per_user) if full is not None else 0
        line = (f"Scale: the models that train on one machine ran on {self.sample.describe()}, scored on the "
                f"{len(self.ctx.users):,} of them with held-out pairs; Spark MLlib ALS trained on every customer and "
                f"its row in the model table is scored on the same sampled customers")
        if full is not None:
            line += (f". On all {n_eval:,} evaluated customers ALS reaches NDCG@{k} "
                     f"{fmt.num(full.row[self.metric], 3)}; being the one model trained on every customer, it writes "
                     f"the recommendations")
        return line + "."

    def _peer_line(self) -> str:
        peers = self.lineup.peer_table.set_index("model")[self.metric]
        top_peer, top_value = str(peers.idxmax()), float(peers.max())
        own = float(self.best[self.metric])
        verdict = "ahead of" if own > top_value else ("level with" if own == top_value else "behind")
        return (f"Peers on the same split and metric code ({', '.join(f'`{p}`' for p in peers.index)}, each tuned on "
                f"the validation split): the best is `{top_peer}` with NDCG@{self.k} {fmt.num(top_value, 3)}; the "
                f"chosen model `{self.best_model}` ({fmt.num(own, 3)}) is {verdict} it.")

    def _cold_user_line(self) -> str:
        cu = self.lineup.cold_users.set_index("model")[f"ndcg_at_{self.k}"]
        parts = ", ".join(f"`{m}` {fmt.num(v, 3)}" for m, v in cu.items())
        return (f"New customers ({self.lineup.cold_users.attrs['users']:,} evaluated customers "
                f"with at most {self.lineup.cold_users.attrs['max_train']} training interactions), NDCG@{self.k}: "
                f"{parts}.")

    def _cold_line(self) -> str:
        cs = self.by_model[self.cold_column]
        n = len(self.cold_items)
        parts = [f"{name} {fmt.num(cs.get(name), 3)}" for name in (*COLD_MODELS, "content_minilm", "random") if name in cs]
        verdict = ""
        if "content_tfidf" in cs and "svd_ranking" in cs:
            if cs["content_tfidf"] > max(cs["svd_ranking"], cs.get("random", -1.0)):
                verdict = (" — product text and attributes rank new products better than collaborative scores, "
                           "which cannot tell them apart")
            else:
                verdict = f" — on this small slice no model clearly beats a random order of the {n} new products"
        return (f"New products without any history ({n} held out; cold-slice NDCG@{self.k}): " + ", ".join(parts)
                + verdict + ".")
