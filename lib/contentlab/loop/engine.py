"""``contentlab loop``: the shop run forward in time, one normal run per cycle, and the loop's own report.

Cycle 1 is a full run of the profile (with ``--incremental``: 01-03 reused from an earlier run with the same inputs,
parameters and code) that reads no earlier feedback priors: its campaign follows the first cycle's plan (the copy's
own channel mix, random waking hours, ``loop.per_week`` impressions a user a week (default 7, one a day: the
cadence a shop starts from), 50/50 variants). Cycles 2..N run 04 and 05
with 01-03's products copied from cycle 1 (``--only 04_generate,05_feedback --from-run <cycle 1>``), each reading
the feedback priors of the cycle before it (pinned by run id, never another run of the profile): 04 reranks its
candidates by the copy-feature effects the previous 05 estimated per segment and writes candidates with its copy
model fine-tuned on the copy that won (``loop.finetune_steps`` steps), and 05's campaign follows the policy
the previous 05 learned (channel, send hour, frequency cap, Thompson variant shares, an exploration share). Time
moves forward: cycle k's campaign starts ``campaign_days`` after cycle k-1's (05's ``campaign_offset_days``); the
shop (users, products, planted audience) stays the same. The behaviour log does not grow with the campaigns' clicks:
what a cycle learned reaches the next only through the feedback priors, and 03 does not use feedback.

After each cycle the loop measures the campaign and three reference policies on the same users and days
(:mod:`contentlab.loop.arms`) and, at the end, writes ``reports/<loop-id>/index.html`` and ``manifest.json``.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contentlab import config, contract, pipeline
from contentlab.loop import arms as A
from contentlab.priors import policy_of, read_priors
from contentlab.serial import write_json

DEFAULT_CYCLES = 4
DEFAULT_FINETUNE_STEPS = 20  # steps of fine-tuning on the winning copy per cycle (small: the budget is minutes)
DEFAULT_PER_WEEK = 7.0  # the campaign's cadence before any policy caps it: one impression a user a day
LOOP_PARAMS_04 = {"use_feedback_priors": True}


class LoopError(RuntimeError):
    """A loop that cannot start or whose cycle failed."""


@dataclass
class Cycle:
    number: int
    run_id: str
    seconds: float
    arms: dict[str, dict[str, float]]  # arm -> measure()
    policy_followed: dict | None
    policy_learned: dict | None
    metrics_05: dict[str, Any]
    metrics_04: dict[str, Any]
    copy: dict[str, Any] = field(default_factory=dict)  # published_copy_quality()


@dataclass
class LoopResult:
    loop_id: str
    profile: str
    report_dir: Path
    cycles: list[Cycle]
    manifest: dict[str, Any]
    seconds: float

    @property
    def index(self) -> Path:
        return self.report_dir / "index.html"


def loop_settings(profile: dict[str, Any], cycles: int | None) -> dict[str, Any]:
    """The loop's settings: the profile's ``loop`` mapping (``cycles``), overridden by ``cycles``; checked."""
    raw = profile.get("loop") or {}
    if not isinstance(raw, dict):
        raise LoopError(f"profile {profile.get('name')}: 'loop' must be a mapping (e.g. {{cycles: 4}})")
    unknown = sorted(set(raw) - {"cycles", "finetune_steps", "per_week"})
    if unknown:
        raise LoopError(f"profile {profile.get('name')}: unknown key(s) under 'loop': {', '.join(unknown)} "
                        "(known: cycles, finetune_steps, per_week)")
    n = raw.get("cycles", DEFAULT_CYCLES) if cycles is None else cycles
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise LoopError(f"the loop needs a whole number of cycles >= 1, got {n!r}")
    steps = raw.get("finetune_steps", DEFAULT_FINETUNE_STEPS)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise LoopError(f"loop.finetune_steps must be a whole number >= 0, got {steps!r}")
    per_week = raw.get("per_week", DEFAULT_PER_WEEK)
    if isinstance(per_week, bool) or not isinstance(per_week, (int, float)) or not 1 <= per_week <= 100:
        raise LoopError(f"loop.per_week (impressions per user and week before the policy caps them) must be a "
                        f"number from 1 to 100, got {per_week!r}")
    return {"cycles": n, "finetune_steps": steps, "per_week": float(per_week)}


def _stage_metrics(manifest: dict, stage: str) -> dict[str, Any]:
    for nb in manifest.get("notebooks", []):
        if nb.get("name") == stage:
            return dict(nb.get("metrics") or {})
    return {}


def _profile_param(prof: dict, stage: str, name: str) -> Any:
    """A 05 parameter as the profile sets it, else 05's default."""
    from contentlab.feedback.config import FeedbackConfig

    got = ((prof.get("notebooks") or {}).get(stage) or {}).get(name)
    return getattr(FeedbackConfig(), name) if got is None else got


def _stage_params(manifest: dict, stage: str) -> dict[str, Any]:
    """The parameters a stage ran with: 05's defaults, then what the run set (profile and overrides)."""
    from contentlab.feedback.config import FeedbackConfig

    defaults = {"campaign_days": FeedbackConfig().campaign_days,
                "impressions_per_user": FeedbackConfig().impressions_per_user} if stage == "05_feedback" else {}
    params = (manifest.get("parameters") or {}).get("notebooks") or {}
    return {**defaults, **dict(params.get(stage) or {})}


def measure_cycle(run_dir: Path, *, n_days: int, per_week: float, seed: int
                  ) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """The cycle's campaign and the three references on its users and days (:mod:`contentlab.loop.arms`), and the
    planted quality of the copy 04 published (:func:`contentlab.loop.arms.published_copy_quality`)."""
    ds = pipeline.load_prepared(run_dir)
    if not ds.truth or "audience" not in ds.truth:
        raise LoopError("the loop needs a simulated shop (dataset kind demo): its references are measured with "
                        "the planted audience")
    exp = contract.product("ab_exposures").read(run_dir)
    content = contract.product("content").read(run_dir)
    products = ds.products if ds.has("products") else None
    window = A.window_of(exp, ds.truth, n_days, per_week)
    out = {"loop": A.measure(exp, seed=seed)}
    for k, arm in enumerate(("oracle", "template", "random")):
        sim = A.simulate_reference(arm, window, content, ds.truth, products, seed=seed + 101 * (k + 1))
        out[arm] = A.measure(sim, seed=seed)
    return out, A.published_copy_quality(content, window, ds.truth, products)


def run_loop(profile: str | Path = "demo", cycles: int | None = None, *, progress=None,
             params: list[str] | None = None, loop_id: str | None = None) -> LoopResult:
    """Run ``cycles`` cycles of the profile (see the module docstring) and write the loop's report."""
    from contentlab.loop.report import write_loop_report
    from contentlab.run import NO_PREVIOUS, RunError, load_profile, run_pipeline

    t0 = time.perf_counter()
    try:
        prof = load_profile(profile)
    except RunError as exc:
        raise LoopError(str(exc)) from None
    settings = loop_settings(prof, cycles)
    now = _dt.datetime.now(_dt.UTC)
    loop_id = loop_id or f"{now:%Y%m%dT%H%M%S}-{prof['name']}-loop"
    report_dir = config.reports_dir() / loop_id
    if report_dir.exists():
        raise LoopError(f"loop {loop_id} exists already ({report_dir})")
    note = progress.note if progress is not None else (lambda msg: None)
    base = list(params or [])
    result_cycles: list[Cycle] = []
    first_run: str | None = None
    previous: str | None = None
    per_week = n_days = None
    for k in range(1, settings["cycles"] + 1):
        note(f"loop {loop_id}: cycle {k} of {settings['cycles']}")
        started = time.perf_counter()
        kw: dict[str, Any] = {"progress": progress, "run_id": f"{now:%Y%m%dT%H%M%S}-{prof['name']}-c{k}"}
        cycle_params = ["05_feedback.policy_campaign=true", "05_feedback.use_policy=true"]
        if not any(p.startswith("05_feedback.impressions_per_user=") for p in base):
            days = n_days if n_days is not None else int(_profile_param(prof, "05_feedback", "campaign_days"))
            cycle_params.append(f"05_feedback.impressions_per_user={settings['per_week'] * days / 7.0:g}")
        cycle_params += base
        if k == 1:
            cycle_params += ["04_generate.use_feedback_priors=false", "05_feedback.campaign_offset_days=0"]
            kw.update(incremental=True, previous_run=NO_PREVIOUS)
        else:
            assert n_days is not None
            cycle_params += ["04_generate.use_feedback_priors=true",
                             f"04_generate.winner_finetune_steps={settings['finetune_steps']}",
                             f"05_feedback.campaign_offset_days={(k - 1) * n_days}"]
            kw.update(only=["04_generate", "05_feedback"], from_run=first_run, previous_run=previous)
        try:
            res = run_pipeline(prof, params=cycle_params, **kw)
        except RunError as exc:
            raise LoopError(f"cycle {k}: {exc}") from None
        if not res.ok:
            raise LoopError(f"cycle {k} failed: {res.failure_line() or 'interrupted'}")
        p05 = _stage_params(res.manifest, "05_feedback")
        if k == 1:
            first_run = res.run_id
            n_days = int(p05["campaign_days"])
            per_week = float(p05["impressions_per_user"]) * 7.0 / n_days
        priors = read_priors(res.run_dir)
        followed = None
        if previous is not None:
            followed = policy_of(read_priors(config.processed_dir() / previous))
        measured, copy_quality = measure_cycle(res.run_dir, n_days=int(n_days), per_week=float(per_week),
                                 seed=int(prof.get("seed", 0)) + k)
        result_cycles.append(Cycle(k, res.run_id, time.perf_counter() - started, measured, followed,
                                   policy_of(priors), _stage_metrics(res.manifest, "05_feedback"),
                                   _stage_metrics(res.manifest, "04_generate"), copy=copy_quality))
        previous = res.run_id
        c = measured
        note(f"cycle {k}: CTR {c['loop']['ctr']:.4f} (oracle {c['oracle']['ctr']:.4f}, template "
             f"{c['template']['ctr']:.4f}, random {c['random']['ctr']:.4f})")
    manifest = loop_manifest(loop_id, prof, settings, result_cycles, time.perf_counter() - t0)
    report_dir.mkdir(parents=True, exist_ok=True)
    write_json(report_dir / "manifest.json", manifest)
    result = LoopResult(loop_id, prof["name"], report_dir, result_cycles, manifest, time.perf_counter() - t0)
    write_loop_report(result)
    return result


def loop_manifest(loop_id: str, prof: dict, settings: dict, cycles: list[Cycle], seconds: float) -> dict[str, Any]:
    """The loop's recorded metrics (fixed names) and, per cycle, every arm's figures with intervals."""
    last = cycles[-1]
    learned = last.policy_learned or {"segments": {}}
    best_hour = {s: p.get("hour") for s, p in learned["segments"].items() if p.get("hour") is not None}
    best_channel = {s: p.get("channel") for s, p in learned["segments"].items() if p.get("channel") is not None}
    metrics = {
        "cycle_ctr": [c.arms["loop"]["ctr"] for c in cycles],
        "oracle_ctr": last.arms["oracle"]["ctr"],
        "template_ctr": last.arms["template"]["ctr"],
        "random_ctr": last.arms["random"]["ctr"],
        "cycle_revenue_per_impression": [c.arms["loop"]["rpi"] for c in cycles],
        "best_hour": best_hour,
        "best_channel": best_channel,
        "hours_recovered": last.metrics_05.get("hours_recovered"),
        "channels_recovered": last.metrics_05.get("channels_recovered"),
        "cycle_cvr": [c.arms["loop"]["cvr"] for c in cycles],
        "cycle_expected_ctr": [c.arms["loop"]["expected_ctr"] for c in cycles],
        "cycle_oracle_ctr": [c.arms["oracle"]["ctr"] for c in cycles],
        "cycle_template_ctr": [c.arms["template"]["ctr"] for c in cycles],
        "cycle_random_ctr": [c.arms["random"]["ctr"] for c in cycles],
        "share_of_oracle_ctr": last.arms["loop"]["ctr"] / last.arms["oracle"]["ctr"],
        "cycle_published_gpt2_expected_ctr": [c.copy.get("published_expected_ctr", {}).get("gpt2") for c in cycles],
    }
    return {
        "kind": "loop", "loop_id": loop_id, "profile": prof["name"], "cycles": settings["cycles"],
        "settings": dict(settings),
        "seconds": round(seconds, 1), "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "runs": [c.run_id for c in cycles], "metrics": metrics,
        "per_cycle": [{"cycle": c.number, "run_id": c.run_id, "seconds": round(c.seconds, 1), "arms": c.arms,
                       "published_expected_ctr": c.copy.get("published_expected_ctr"),
                       "policy_followed": c.policy_followed, "policy_learned": c.policy_learned}
                      for c in cycles],
    }


__all__ = ["Cycle", "DEFAULT_CYCLES", "LoopError", "LoopResult", "loop_manifest", "loop_settings", "measure_cycle",
           "run_loop"]
