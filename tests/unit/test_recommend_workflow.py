"""03 in one call: the validated config, run_recommend over a small prepared run (inputs through the contract,
products written through it), the model line-up's skip rules, the planted-truth agreement, the recorded metrics
and the summary, the figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

from contentlab import config, contract, pipeline
from contentlab.recommend import RecommendConfig, RecommendNotApplicable, make_context, plots, run_recommend, search
from contentlab.recommend.lineup import run_models
from contentlab.recommend.models import Recommender, rating_skip_reason
from contentlab.recommend.outputs import rating_reference
from contentlab.recommend.truth import planted_spearman
from test_recommend_data import write_movielens_u_data

SPEC = {"kind": "demo", "n_users": 150, "n_products": 40, "n_days": 20, "locale": "en", "seed": 5}
FAST = dict(models=["popularity", "random", "SVD", "BaselineOnly", "ranking", "content", "hybrid"],
            rating_grid={"n_factors": [5], "n_epochs": [10]},
            ranking_params={"algo": "SVD", "neg_ratio": 3, "n_factors": 8, "n_epochs": 20, "lr_all": 0.02,
                            "reg_all": 0.05, "resample": 1},
            ranking_grid={"neg_ratio": [2, 3]}, search_options={"n_jobs": 1, "cv": 2, "max_users": None},
            hybrid_weights=[0.0, 0.5, 1.0], cold_item_share=0.1, seed=5)
FIXED_METRICS = ["protocol", "best_model", "ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10",
                 "hit_rate_at_10", "coverage", "rmse_model", "rmse", "mae_model", "mae", "popularity_ndcg_at_10",
                 "svd_rating_ndcg_at_10", "ranking_ndcg_at_10", "content_tfidf_cold_ndcg_at_10",
                 "hybrid_cold_ndcg_at_10", "svd_ranking_cold_ndcg_at_10", "ranking_planted_spearman",
                 "recommended_users", "recommended_products", "runtime_s", "kernel_cpu_s", "embedding_cold_ndcg_at_10",
                 "cold_user_ndcg_at_10", "cold_users", "peer_ndcg_at_10"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A small simulated shop prepared as 01 does, plus profiles as 02 writes them (three accounts flagged)."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONTENTLAB_HOME", str(home))
        run_dir = config.processed_dir() / "run"
        ds = pipeline.prepare_data(SPEC, run_dir)
        users = sorted(ds.users["user_id"].astype(str))
        profiles = pd.DataFrame({"user_id": users, "segment": [("Loyal" if n % 3 else "New & curious")
                                                                for n in range(len(users))],
                                 "persona_id": "P1", "is_flagged": [n < 3 for n in range(len(users))]})
        contract.product("user_profiles").write(run_dir, profiles)
        yield run_dir, ds, profiles


@pytest.fixture(scope="module")
def result(prepared):
    run_dir, _ds, _profiles = prepared
    return run_recommend(RecommendConfig(**FAST), run_dir=run_dir)


# ------------------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("kwargs, message", [
    ({"models": ["SVD", "LightFM"]}, r"unknown: \['LightFM'\]"),
    ({"models": ["SVD", "SVD"]}, "names a model twice"),
    ({"protocol": "movielens"}, "protocol must be one of contentlab, recommenders"),
    ({"split": "random"}, "split must be None"),
    ({"interaction_source": "clicks"}, "interaction_source must be one of"),
    ({"train_ratio": 1.0}, r"train_ratio must be in \(0, 1\)"),
    ({"selection_metric": "ndcg_at_5"}, "selection_metric must be one of ndcg_at_10"),
    ({"search_options": {"folds": 3}}, "search_options takes cv, randomized, n_iter, n_jobs, max_users"),
    ({"search_options": {"cv": 1}}, r"search_options\['cv'\] must be an integer ≥ 2"),
    ({"model_params": {"SVD": {}}}, "model_params maps NMF / KNNBaseline"),
    ({"model_params": {"EASE": {"lambda": [5.0]}}}, r"model_params\['EASE'\] takes lam \(unknown: lambda\)"),
    ({"model_params": {"softmax": {"bags": 0}}}, "softmax_bags must be a positive integer"),
    ({"model_params": {"ensemble": {"step": 0.3}}}, "ensemble_step must divide 1 into equal steps"),
    ({"hybrid_weights": [0.5, 1.5]}, r"hybrid_weights must be a non-empty list of weights in \[0, 1\]"),
    ({"search_options": {"max_users": 0}}, r"search_options\['max_users'\] must be a positive integer or None"),
    ({"model_params": {"ALS": {"rnak": [8]}}}, r"model_params\['ALS'\]: ALS settings \['rnak'\] are not ALS settings"),
    ({"engine": {"kind": "sparks"}}, r"engine.kind 'sparks' is not an engine"),
    ({"protocol": "recommenders", "k": 5, "selection_metric": "ndcg_at_5"}, "the preset evaluates at k=10"),
])
def test_config_refuses_what_cannot_run(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RecommendConfig(**kwargs)


def test_config_completes_partial_dicts_and_names_its_protocol():
    cfg = RecommendConfig(search_options={"n_jobs": 1}, model_params={"NMF": {"n_factors": 5}}, k=5,
                          selection_metric="cold_ndcg_at_5")
    assert cfg.search_options == {"cv": 3, "randomized": False, "n_iter": 6, "n_jobs": 1, "max_users": 1000}
    assert cfg.search_max_users == 1000
    assert cfg.model_params["NMF"] == {"n_factors": 5}
    assert cfg.model_params["KNNBaseline"]["sim_options"] == {"name": "pearson_baseline", "user_based": False}
    assert cfg.metric == "ndcg_at_5" and cfg.protocol_spec().k == 5
    assert RecommendConfig().protocol_spec().split == "stratified_user"
    assert RecommendConfig(protocol="recommenders").protocol_spec().split == "stratified_item"
    assert RecommendConfig(ratings_path="u.data").protocol_spec().cold_item_share == 0.0  # no cold slice on a file


def test_model_params_set_the_validation_tuned_models():
    """EASE's L2 weights, the softmax factorisation's grid and bags and the ensemble's step come from model_params
    (lists searched, single values kept, keys left out at their defaults) and model_params shows what is in force."""
    default = RecommendConfig()
    assert default.model_params["EASE"] == {"lam": default.ease_lambdas}
    assert default.model_params["softmax"] == {**default.softmax_grid, "bags": 3}
    assert default.model_params["ensemble"] == {"step": 0.1}
    cfg = RecommendConfig(model_params={"EASE": {"lam": 200.0}, "softmax": {"factors": [8, 64], "lr": 0.02,
                                                                            "schedule": "constant", "bags": 5},
                                        "ensemble": {"step": 0.25}})
    assert cfg.ease_lambdas == [200.0] and cfg.ensemble_step == 0.25 and cfg.softmax_bags == 5
    assert cfg.softmax_grid == {"factors": [8, 64], "l2": [0.2], "lr": [0.02], "schedule": ["constant"]}
    assert cfg.model_params["softmax"] == {**cfg.softmax_grid, "bags": 5}
    assert cfg.model_params["NMF"] == {} and "ALS" in cfg.model_params


@pytest.mark.parametrize("kwargs, message", [
    ({"peers": ["cornac.EASE", "LightFM"]}, "peers may name cornac.EASE, cornac.BPR, cornac.BiVAE, implicit.ALS, "
                                            "implicit.BPR"),
    ({"ease_lambdas": [0]}, "ease_lambdas must be a non-empty list of positive numbers"),
    ({"ensemble_step": 0.3}, "ensemble_step must divide 1 into equal steps"),
    ({"softmax_bags": 0}, "softmax_bags must be a positive integer"),
])
def test_config_refuses_unknown_peers_and_bad_ensemble_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RecommendConfig(**kwargs)


# ------------------------------------------------------------------------------------------ run_recommend
def test_run_reads_through_the_contract_and_writes_its_products(prepared, result):
    run_dir, ds, profiles = prepared
    recs = contract.product("recommendations").read(run_dir)
    pd.testing.assert_frame_equal(recs.reset_index(drop=True),
                                  result.recommendations[list(recs.columns)].reset_index(drop=True), check_dtype=False)
    best = contract.product("best_model").read(run_dir)
    m = result.metrics()
    assert best["model"] == m["best_model"] == set(recs["model"]).pop()
    assert best["value"] == pytest.approx(m["ndcg_at_10"]) and best["rating_metrics_from"] == m["rmse_model"]
    assert result.paths == {"recommendations": run_dir / "recommendations.parquet",
                            "best_model": run_dir / "recommender" / "best_model.json"}
    # flagged accounts (from the profiles) neither train nor get recommendations; every other customer does
    flagged = set(profiles.loc[profiles["is_flagged"], "user_id"])
    assert not flagged & set(result.interactions["user_id"]) and not flagged & set(recs["user_id"])
    assert set(recs["user_id"]) == set(ds.users["user_id"].astype(str)) - flagged
    assert dict(result.overview().values)["flagged accounts excluded"] == "3"
    # nothing a customer already interacted with is recommended
    seen = set(zip(result.interactions["user_id"], result.interactions["product_id"]))
    assert not seen & set(zip(recs["user_id"], recs["product_id"]))


def test_metrics_keep_their_names_order_and_meaning(result):
    m = result.metrics()
    assert list(m) == FIXED_METRICS
    table = result.table.set_index("model")
    best = table.loc[m["best_model"]]
    assert m["ndcg_at_10"] == best["ndcg_at_10"] == table["ndcg_at_10"].max()  # selected on held-out NDCG@10
    assert m["popularity_ndcg_at_10"] == table.loc["popularity", "ndcg_at_10"]
    assert m["ranking_ndcg_at_10"] == table.loc["svd_ranking", "ndcg_at_10"]
    assert m["hybrid_cold_ndcg_at_10"] == table.loc["hybrid", "cold_ndcg_at_10"]
    assert m["rmse_model"] == m["mae_model"] == "svd_rating"  # the chosen model predicts no ratings here
    assert (m["rmse"], m["mae"]) == (table.loc["svd_rating", "rmse"], table.loc["svd_rating", "mae"])
    assert m["ranking_planted_spearman"] == result.planted.set_index("model").loc["svd_ranking",
                                                                                  "spearman_with_planted_uv"]
    assert m["recommended_users"] == 147 and m["recommended_products"] == 37
    assert m["protocol"] == "contentlab" and m["runtime_s"] > 0 and m["kernel_cpu_s"] > 0
    assert m["peer_ndcg_at_10"] is None and result.lineup.peers == {}  # peers=[]: none ran
    # neither the MiniLM content model nor the two-tower model is in this line-up
    assert m["embedding_cold_ndcg_at_10"] is None and m["cold_user_ndcg_at_10"] is None and m["cold_users"] is None
    # the values of this seeded run (a change in any model or in the protocol shows here)
    expected = {"ndcg_at_10": 0.3259, "precision_at_10": 0.1058, "recall_at_10": 0.5010, "map_at_10": 0.2312,
                "hit_rate_at_10": 0.6667, "coverage": 0.90, "rmse": 1.6015, "mae": 1.4180,
                "popularity_ndcg_at_10": 0.2592, "svd_rating_ndcg_at_10": 0.1698, "ranking_ndcg_at_10": 0.2662,
                "content_tfidf_cold_ndcg_at_10": 0.7503, "hybrid_cold_ndcg_at_10": 0.7503,
                "svd_ranking_cold_ndcg_at_10": 0.6340, "ranking_planted_spearman": 0.0222}
    assert m["best_model"] == "hybrid"
    for name, value in expected.items():
        assert m[name] == pytest.approx(value, abs=0.01), name


def test_summary_names_the_protocol_the_model_and_the_truth(result):
    text = result.summary_markdown()
    lines = text.split("\n")
    assert all(line.startswith("- ") for line in lines)
    assert lines[0].startswith("- Evaluation protocol `contentlab`: split stratified_user")
    assert f"**Best model: `{result.best_model}`** (selected on held-out ndcg_at_10), NDCG@10 " \
           f"{result.best['ndcg_at_10']:.3f}" in text
    assert "Ranking mode (Surprise SVD on positives + sampled negatives) reaches NDCG@10" in text
    assert "New products without any history (4 held out; cold-slice NDCG@10): content_tfidf" in text
    # segment names are data: escaped for Markdown ("&" shows as "&" once rendered)
    assert "Hardest segment: Loyal (NDCG@10 0.252); easiest: New &amp; curious (0.295)." in text
    assert "Planted truth: `" in text
    assert lines[-1] == f"- {result.rating_text()}"
    assert "predicts no ratings: the rating accuracy reported with it belongs to `svd_rating`" in text


def test_report_tables(result):
    assert list(result.rating_counts().columns) == ["rating", "pairs"]
    assert result.rating_counts()["pairs"].sum() == len(result.interactions)
    split = dict(result.split_table().values)
    assert split["protocol"] == "contentlab" and split["cold products (no training interactions)"] == "4"
    assert int(split["held-out interactions"].replace(",", "")) == len(result.ctx.test)
    bias = result.popularity_bias()
    assert bias.groupby("model")["share"].sum().round(6).eq(1.0).all()
    cold = result.cold()
    assert list(cold.columns) == ["model", "cold_ndcg_at_10"] and cold["cold_ndcg_at_10"].is_monotonic_decreasing
    assert len(cold) == len(result.table)
    assert set(result.segments["model"]) == {"svd_ranking", "popularity"}
    example = result.example()
    assert list(example.columns) == ["user_id", "rank", "title", "category", "score", "reason"]
    assert len(example) == 10 and not example["user_id"].isin(result.recommendations["user_id"]).any()
    assert result.reason_shares()["share"].sum() == pytest.approx(1.0)
    order = result.table.set_index("model").loc[result.model_order(), "ndcg_at_10"]
    assert order.is_monotonic_decreasing and order.iloc[0] == result.best["ndcg_at_10"]
    assert result.skipped == {} and result.skipped_markdown() == ""


def test_every_figure_is_drawn(result):
    figures = [plots.rating_counts(result.rating_counts()), plots.search_results(result.tuning, 10),
               plots.model_metrics(result.table, 10, result.model_order()),
               plots.popularity_bias(result.popularity_bias(), result.model_order()),
               plots.cold_start(result.cold(), 10), plots.segment_ndcg(result.segments, 10),
               plots.planted_truth(result.planted)]
    for fig in figures:
        assert fig.axes and fig.axes[0].get_title()
    assert figures[-1].axes[0].get_xlabel() == f"mean Spearman correlation over {result.planted.attrs['customers']} " \
                                               "customers (-1 to 1)"


def test_inputs_handed_over_are_used_and_products_go_to_run_dir(prepared, tmp_path):
    run_dir, _ds, _profiles = prepared
    inputs = contract.resolve_inputs("03_recommend", run_dir)
    assert inputs["association_rules"] is None and inputs["user_profiles"] == str(run_dir / "user_profiles.parquet")
    out = tmp_path / "elsewhere"
    res = run_recommend(RecommendConfig(**{**FAST, "models": ["popularity"]}), inputs, run_dir=out)
    assert res.paths["recommendations"] == out / "recommendations.parquet" and res.best_model == "popularity"
    assert not (out / "clean").exists()  # nothing was prepared: the inputs were read where they are


def test_a_run_directory_without_prepared_data_is_an_error_naming_01(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(contract.ContractError, match="03_recommend needs clean .*which stage 01_eda writes"):
        run_recommend(RecommendConfig(**{**FAST, "models": ["popularity"]}), {}, run_dir=empty)
    assert not (empty / "clean").exists()  # a stage never prepares data itself


def test_a_ratings_file_is_read_instead_of_the_run(tmp_path, monkeypatch):
    """``ratings_path``: a MovieLens file goes through the MovieLens adapter; its explicit ratings are the
    interactions, no product is held out as cold, and the products land in the (scratch) run directory."""
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    raw = tmp_path / "u.data"
    write_movielens_u_data(raw, n_users=60, n_items=80, seed=3)
    file = pd.read_csv(raw, sep="\t", header=None, names=["user_id", "product_id", "rating", "timestamp"])
    cfg = RecommendConfig(**{**FAST, "models": ["popularity", "SVD", "ranking"], "ratings_path": str(raw)})
    res = run_recommend(cfg, {}, run_dir="")
    assert res.interactions.attrs["source"] == "explicit" and res.cold() is None and res.ctx.cold_items == []
    assert res.metrics()["recommended_users"] == file["user_id"].nunique()
    assert res.paths["recommendations"].parent.parent == config.processed_dir()
    assert res.paths["recommendations"].parent.name.startswith("scratch-03_recommend-")
    assert "New products without any history" not in res.summary_markdown()


def test_a_one_product_catalogue_is_not_applicable(tmp_path):
    events = pd.DataFrame({"user_id": ["u1", "u2"], "product_id": ["CD", "CD"], "event_type": ["purchase"] * 2,
                           "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"]), "session_id": ["s1", "s2"]})
    clean = tmp_path / "run" / "clean"
    clean.mkdir(parents=True)
    events.to_parquet(clean / "events.parquet")
    pd.DataFrame({"product_id": ["CD"], "title": ["CD"]}).to_parquet(clean / "products.parquet")
    (clean / "dataset.json").write_text('{"name": "cd", "locale": "en"}')
    contract.product("dataset").write(tmp_path / "run", {"name": "cd", "locale": "en", "truth_dir": None})
    with pytest.raises(RecommendNotApplicable, match="the catalogue has 1 product: there is nothing to rank"):
        run_recommend(RecommendConfig(**FAST), run_dir=tmp_path / "run")


# ----------------------------------------------------------------------------------------------- line-up
def _interactions(rating=None, n_users=12, n_items=8, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(f"u{u}", f"p{i}") for u in range(n_users) for i in rng.choice(n_items, size=4, replace=False)]
    df = pd.DataFrame(rows, columns=["user_id", "product_id"])
    df["rating"] = rating if rating is not None else rng.integers(1, 6, len(df)).astype(float)
    df["timestamp"] = pd.Timestamp("2024-01-01")
    return df


def _tuning(train: pd.DataFrame, items: list[str], cfg: RecommendConfig) -> search.Tuning:
    return search.tune(train, items, rating_grid=cfg.rating_grid, ranking_params=cfg.ranking_params,
                       ranking_grid=cfg.ranking_grid, rating_skip=rating_skip_reason(train), k=cfg.k,
                       max_users=cfg.search_max_users, cv=2, n_jobs=1, seed=cfg.seed)


def test_lineup_skips_what_cannot_learn_and_says_why():
    inter = _interactions(rating=5.0)  # purchase-only data: one rating level
    items = [f"p{i}" for i in range(8)]
    train, test = search.validation_split(inter, ratio=0.75, seed=0)
    ctx = make_context(train, test, items, k=5)
    cfg = RecommendConfig(**{**FAST, "models": ["popularity", "SVD", "NMF", "ranking", "content", "hybrid"],
                             "selection_metric": "ndcg_at_5", "k": 5})
    lineup = run_models(cfg, ctx, pd.DataFrame({"product_id": items}), _tuning(train, items, cfg))
    assert list(lineup.evals) == ["popularity", "svd_ranking"]
    assert set(lineup.skipped) == {"svd_rating", "nmf_rating", "content_tfidf", "hybrid"}
    assert lineup.skipped["svd_rating"].startswith("every training interaction has the same rating (5)")
    assert lineup.skipped["content_tfidf"] == "the catalogue has no product text"
    assert lineup.skipped["hybrid"] == "needs both the ranking and the content model"
    assert list(lineup.table["model"]) == ["popularity", "svd_ranking"]


def test_lineup_size_limits_skip_the_slow_models():
    inter = _interactions()
    items = [f"p{i}" for i in range(8)]
    train, test = search.validation_split(inter, ratio=0.75, seed=0)
    ctx = make_context(train, test, items, k=5)
    cfg = RecommendConfig(**{**FAST, "models": ["SVDpp", "KNNBaseline", "BaselineOnly"], "svdpp_max_ratings": 10,
                             "knn_max_items": 5, "selection_metric": "ndcg_at_5", "k": 5})
    lineup = run_models(cfg, ctx, pd.DataFrame({"product_id": items}), _tuning(train, items, cfg))
    assert list(lineup.evals) == ["baselineonly_rating"]
    assert lineup.skipped["svdpp_rating"] == (f"{len(train)} training ratings > svdpp_max_ratings=10 (SVD++ fits "
                                              "about 20x slower than SVD)")
    assert lineup.skipped["knnbaseline_rating"] == "8 products > knn_max_items=5"


def test_search_sample_is_seeded_and_sized():
    inter = _interactions(n_users=30)
    a = search.sample_users(inter, 10, seed=1)
    assert a["user_id"].nunique() == 10 and a.equals(search.sample_users(inter, 10, seed=1))
    assert search.sample_users(inter, None, seed=1) is inter and search.sample_users(inter, 50, seed=1) is inter


# ---------------------------------------------------------------------------------------- rating reference
def test_rating_reference_names_whose_accuracy_is_reported():
    table = pd.DataFrame({"model": ["svd_rating", "nmf_rating", "svd_ranking"], "rmse": [1.1, 1.2, np.nan],
                          "mae": [0.9, 1.0, np.nan]})
    assert rating_reference(table, "nmf_rating") == ("nmf_rating", 1.2, 1.0)
    assert rating_reference(table, "svd_ranking") == ("svd_rating", 1.1, 0.9)
    ref, rmse, mae = rating_reference(table[table["model"] != "svd_rating"], "svd_ranking")
    assert ref is None and np.isnan(rmse) and np.isnan(mae)


# ------------------------------------------------------------------------------------------ planted truth
class _Fixed(Recommender):
    def __init__(self, scores: np.ndarray) -> None:
        super().__init__()
        self.scores = scores

    def score(self, users):
        return self.scores[: len(users)]


def test_planted_spearman_recovers_the_planted_order():
    rng = np.random.default_rng(0)
    users, items = [f"u{n}" for n in range(20)], [f"p{n}" for n in range(15)]
    u, v = rng.normal(size=(20, 3)), rng.normal(size=(15, 3))
    truth = {"user_factors": pd.DataFrame(u).assign(user_id=users),
             "item_factors": pd.DataFrame(v[:14]).assign(product_id=items[:14])}  # p14 has no planted factors
    affinity = u @ v.T
    models = {"exact": _Fixed(affinity), "reversed": _Fixed(-affinity), "flat": _Fixed(np.ones_like(affinity)),
              "monotone": _Fixed(np.exp(affinity))}
    out = planted_spearman(models, users, items, truth, max_users=8).set_index("model")["spearman_with_planted_uv"]
    assert out["exact"] == pytest.approx(1.0) and out["monotone"] == pytest.approx(1.0)
    assert out["reversed"] == pytest.approx(-1.0) and out["flat"] == 0.0
    assert list(out.index[:2]) == ["exact", "monotone"] or list(out.index[:2]) == ["monotone", "exact"]
    assert planted_spearman(models, users, items, truth, max_users=8).attrs["customers"] == 8
    assert planted_spearman(models, users, items, None) is None
    assert planted_spearman(models, users, items, {"user_factors": truth["user_factors"]}) is None


# ------------------------------------------------------------------------------------ EASE, ensemble, peers
@pytest.fixture(scope="module")
def with_peers(prepared, tmp_path_factory):
    pytest.importorskip("cornac")
    pytest.importorskip("implicit")
    run_dir, _ds, _profiles = prepared
    cfg = RecommendConfig(**{**FAST, "models": [*FAST["models"], "EASE", "softmax", "ensemble", "two_tower"],
                             "ease_lambdas": [10.0, 100.0], "ensemble_step": 0.25,
                             "softmax_grid": {"factors": [8], "l2": [0.05, 0.2], "epochs": [20]},
                             "peers": ["cornac.EASE", "implicit.ALS"]})
    return run_recommend(cfg, run_dir=tmp_path_factory.mktemp("peers"), inputs=contract.resolve_inputs(
        "03_recommend", run_dir))


def test_ease_ensemble_and_peers_run_on_the_same_split(result, with_peers):
    res = with_peers
    m = res.metrics()
    assert list(m)[:len(FIXED_METRICS)] == FIXED_METRICS  # the same names in the same order
    table = res.table.set_index("model")
    assert {"ease", "ensemble"} <= set(table.index)
    assert set(res.lineup.ease_search["lam"]) == {10.0, 100.0}
    assert res.lineup.model("ease").params["lam"] == res.lineup.ease_search.iloc[0]["lam"]
    weights = res.lineup.model("ensemble").weights
    assert set(weights) == {"svd_ranking", "ease", "softmax_mf", "content_tfidf"}
    assert sum(weights.values()) == pytest.approx(1.0)
    assert len(res.lineup.ensemble_weights) == 35  # four parts in steps of 0.25
    assert set(res.lineup.softmax_search["l2"]) == {0.05, 0.2}
    assert res.lineup.model("softmax_mf").params["l2"] == res.lineup.softmax_search.iloc[0]["l2"]
    # the two-tower model and the cold-user slice: every compared model, the slice's size
    cu = res.lineup.cold_users
    assert set(cu["model"]) == {"two_tower", "softmax_mf", "svd_ranking", "ease", "ensemble", "popularity",
                                "segment_popularity"}
    assert m["cold_users"] == cu.attrs["users"] == sum(len(s) <= 3 for s in res.ctx.seen) > 0
    assert m["cold_user_ndcg_at_10"] == {r["model"]: r["ndcg_at_10"] for _, r in cu.iterrows()}
    assert "two_tower" in table.index and "New customers (" in res.summary_markdown()
    # the models both runs share score the same on the same split (the lineup's new models change nothing else)
    for name in ("popularity", "svd_ranking", "hybrid"):
        assert table.loc[name, "ndcg_at_10"] == result.table.set_index("model").loc[name, "ndcg_at_10"]
    # peers: their own table, recorded by name, never chosen as the product's model
    peers = res.lineup.peer_table.set_index("model")
    assert list(peers.index) == ["cornac.EASE", "implicit.ALS"]
    assert m["peer_ndcg_at_10"] == {p: peers.loc[p, "ndcg_at_10"] for p in peers.index}
    assert m["best_model"] in table.index and m["best_model"] not in peers.index
    assert set(res.lineup.peer_searches) == {"cornac.EASE", "implicit.ALS"}
    comparison = res.comparison()
    assert list(comparison.columns) == ["model", "source", "ndcg_at_10", "precision_at_10", "recall_at_10",
                                        "map_at_10", "fit_s"]
    assert comparison["ndcg_at_10"].is_monotonic_decreasing and len(comparison) == len(table) + 2
    assert set(comparison["source"]) == {"contentlab", "cornac", "implicit"}
    assert "Peers on the same split and metric code (`cornac.EASE`, `implicit.ALS`" in res.summary_markdown()
