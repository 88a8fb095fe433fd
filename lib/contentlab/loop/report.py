"""The loop's report: ``reports/<loop-id>/index.html``, one self-contained page.

An executive summary in sentences with numbers, the learning curve (CTR per cycle of the loop against the oracle,
the static template policy and random choices, with 95% intervals; a matplotlib PNG embedded as a data URI), a
per-cycle table with intervals (CTR, CVR, revenue per impression, planted expected CTR), what changed between
cycles in words (the policy each cycle followed against the one before, and 04's reranking), and a link to every
cycle's own run index. Every data string is escaped.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from contentlab import report
from contentlab.fmt import esc_html, num, pct

ARM_LABEL = {"loop": "loop (this cycle's policy)", "oracle": "oracle (planted optimum)",
             "template": "static template policy", "random": "random choices"}
ARM_COLOUR = {"loop": "#1f77b4", "oracle": "#2ca02c", "template": "#ff7f0e", "random": "#7f7f7f"}


def learning_curve_png(result) -> str:
    """The learning curve as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from contentlab import plotting

    plotting.set_style()
    xs = [c.number for c in result.cycles]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for arm in ("oracle", "loop", "template", "random"):
        y = [100 * c.arms[arm]["ctr"] for c in result.cycles]
        lo = [100 * c.arms[arm]["ctr_low"] for c in result.cycles]
        hi = [100 * c.arms[arm]["ctr_high"] for c in result.cycles]
        ax.plot(xs, y, marker="o", color=ARM_COLOUR[arm], label=ARM_LABEL[arm], lw=2.4 if arm == "loop" else 1.4,
                ls="-" if arm == "loop" else "--")
        ax.fill_between(xs, lo, hi, color=ARM_COLOUR[arm], alpha=0.15)
    ax.set_xticks(xs)
    ax.set_xlabel("cycle")
    ax.set_ylabel("click-through rate (%)")
    ax.set_title("Learning curve: CTR per cycle (95% user-bootstrap intervals)")
    ax.legend(fontsize=8, loc="best")

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _ci(m: dict, key: str, fmt) -> str:
    return f"{fmt(m[key])} <span class='ci'>[{fmt(m[key + '_low'])}, {fmt(m[key + '_high'])}]</span>"


def _p2(x) -> str:
    return pct(x, 2)


def _money(x) -> str:
    return num(x, 3)


def policy_changes(before: dict | None, after: dict | None) -> list[str]:
    """What changed between two policies, per segment, in words."""
    if after is None:
        return ["no policy learned"]
    out = []
    b_seg = (before or {}).get("segments", {})
    for seg, p in sorted(after.get("segments", {}).items()):
        q = b_seg.get(seg, {})
        parts = []
        for key, label in (("channel", "channel"), ("hour", "send hour"), ("frequency_cap", "messages per week"),
                           ("copy_style", "copy style")):
            old, new = q.get(key), p.get(key)
            if old != new:
                unset = "the persona's" if key == "copy_style" else "open"
                parts.append(f"{label} {old if old is not None else unset} → {new if new is not None else unset}")
        tried = [x for x in p.get("styles_tried") or [] if x not in (q.get("styles_tried") or [])]
        if tried and q:
            parts.append(f"copy shown in style {', '.join(tried)} for the first time")
        w = sorted(p.get("rerank_weights") or {})
        if w != sorted(q.get("rerank_weights") or {}):
            parts.append("reranks copy by " + (", ".join(w) if w else "nothing (no proven copy effect)"))
        shares = p.get("variant_shares") or {}
        ch = p.get("channel")
        if ch in shares:
            parts.append(f"GPT-2 share on {ch} {pct(shares[ch].get('gpt2', 0.0), 0)}")
        out.append(f"{seg}: " + ("; ".join(parts) if parts else "no change"))
    return out


def summary_sentences(result) -> list[str]:
    cyc = result.cycles
    first, last = cyc[0], cyc[-1]
    lo, o, t, r = last.arms["loop"], last.arms["oracle"], last.arms["template"], last.arms["random"]
    share = lo["ctr"] / o["ctr"] if o["ctr"] else float("nan")
    s = [
        f"Over {len(cyc)} cycle(s) the loop's click-through went from {_p2(first.arms['loop']['ctr'])} in cycle 1 "
        f"(the static template policy: {_p2(first.arms['template']['ctr'])}) to {_p2(lo['ctr'])} in cycle "
        f"{last.number}, {pct(share, 0)} of the oracle policy's {_p2(o['ctr'])} measured on the same users and days.",
        f"Random choices reach {_p2(r['ctr'])} in the last cycle, "
        f"{'below' if r['ctr_high'] < lo['ctr_low'] else 'not clearly below'} the loop and "
        f"{'below' if r['ctr_high'] < o['ctr_low'] else 'not clearly below'} the oracle (95% intervals), and "
        f"{'below' if r['ctr'] < t['ctr'] else 'above'} the static template policy ({_p2(t['ctr'])}), which sends "
        "every customer the first cycle's frequency.",
        f"Revenue per impression: {_money(first.arms['loop']['rpi'])} in cycle 1, {_money(lo['rpi'])} in cycle "
        f"{last.number} (oracle {_money(o['rpi'])}, template {_money(t['rpi'])}, random {_money(r['rpi'])}).",
    ]
    tuned = [c for c in cyc if (c.copy.get("finetune") or {}).get("after")]
    if tuned:
        fa = [c.copy["finetune"]["after"] for c in tuned]
        fb = [c.copy["finetune"]["before"] for c in tuned if c.copy["finetune"].get("before")]
        if fb:
            better = sum(a["expected_ctr"] > b["expected_ctr"] for a, b in zip(fa, fb))
            s.append(f"Fine-tuning on the winning copy ({len(tuned)} cycle(s)): on the same slots the fine-tuned model's "
                     f"candidates had the higher planted CTR in {better} of {len(fb)} cycle(s) (last: "
                     f"{_p2(fa[-1]['expected_ctr'])} against {_p2(fb[-1]['expected_ctr'])}), and "
                     f"{pct(fa[-1]['accepted'], 0)} of them passed 04's checks against {pct(fb[-1]['accepted'], 0)} "
                     "of the base model's; reranking publishes whichever candidates score best.")
    m = result.manifest["metrics"]
    if m.get("hours_recovered") is not None:
        n_seg = len(m.get("best_hour") or {}) or len(m.get("best_channel") or {})
        of = f" of {n_seg}" if n_seg else ""
        s.append(f"The last cycle's publishing strategy recovers the planted send hour (within one hour) for "
                 f"{m['hours_recovered']}{of} segments and the planted best channel for {m['channels_recovered']}"
                 f"{of}.")
    s.append(f"The loop took {num(result.seconds / 60, 1)} minutes.")
    return s


def render_loop_index(result) -> str:
    cyc = result.cycles
    rows = []
    for c in cyc:
        for arm in ("loop", "oracle", "template", "random"):
            m = c.arms[arm]
            link = (f"<a href='../{esc_html(c.run_id)}/index.html'>{c.number}</a>" if arm == "loop"
                    else str(c.number))
            rows.append(f"<tr><td>{link}</td><td>{esc_html(ARM_LABEL[arm])}</td><td>{m['impressions']:,}</td>"
                        f"<td>{_ci(m, 'ctr', _p2)}</td><td>{_ci(m, 'expected_ctr', _p2)}</td>"
                        f"<td>{_ci(m, 'cvr', _p2)}</td><td>{_ci(m, 'rpi', _money)}</td></tr>")
    changes = []
    for i, c in enumerate(cyc):
        before = cyc[i - 1].policy_followed if i else None
        if c.policy_followed is None:
            per_week = (result.manifest.get("settings") or {}).get("per_week")
            cadence = f"{num(per_week, 0)} impressions a user a week" if per_week else "the campaign's impressions"
            items = [f"the first cycle's plan: the copy's own channel mix, random waking hours, {cadence}, "
                     "50/50 variants, copy chosen by 04's quality score"]
        else:
            items = [f"followed the policy learned by cycle {c.number - 1}; "
                     f"{pct(c.policy_followed.get('exploration', 0.0), 1)} of users explored random choices; each "
                     "impression's copy drawn by Thompson sampling over the clicks its copy had in this context"]
            items += policy_changes(before, c.policy_followed)
            prev_slots = cyc[i - 1].copy.get("gpt2_by_slot", {})
            now_slots = c.copy.get("gpt2_by_slot", {})
            same = set(prev_slots) & set(now_slots)
            if same:
                changed = sum(prev_slots[x] != now_slots[x] for x in same)
                items.append(f"04 published other GPT-2 copy in {changed} of {len(same)} slots (reranked by the "
                             "copy-feature effects the cycle before estimated)")
        ft = c.copy.get("finetune")
        if ft and "before" in ft and "after" in ft:
            b, a = ft["before"], ft["after"]
            items.append(f"04 fine-tuned its copy model on the winning copy; on the same {ft['slots']} slots the "
                         f"base / fine-tuned GPT-2 candidates: accepted {pct(b['accepted'], 0)} / "
                         f"{pct(a['accepted'], 0)}, mean quality score {num(b['quality'], 3)} / "
                         f"{num(a['quality'], 3)}, mean planted CTR {_p2(b['expected_ctr'])} / "
                         f"{_p2(a['expected_ctr'])}")
        q = c.copy.get("published_expected_ctr") or {}
        if q:
            items.append("planted CTR of the published copy in one fixed context (segment's best hour, its "
                         "channel, no fatigue): " + ", ".join(f"{v} {_p2(x)}" for v, x in sorted(q.items())))
        changes.append(f"<h3>Cycle {c.number} (run <a href='../{esc_html(c.run_id)}/index.html'>"
                       f"{esc_html(c.run_id)}</a>)</h3><ul>" + "".join(f"<li>{esc_html(x)}</li>" for x in items)
                       + "</ul>")
    summary = "".join(f"<li>{esc_html(x)}</li>" for x in summary_sentences(result))
    png = learning_curve_png(result)
    css = report.CSS_FILE.read_text(encoding="utf-8")
    title = f"ContentLab loop · {result.profile} · {len(cyc)} cycles"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc_html(title)}</title>
<style>{css}
.ci {{ color: #666; font-size: 0.85em; }}
table.loop td, table.loop th {{ padding: 3px 8px; text-align: right; }}
table.loop td:nth-child(2) {{ text-align: left; }}
</style></head>
<body><main>
<h1>{esc_html(title)}</h1>
<p>Loop {esc_html(result.loop_id)}: each cycle is a normal run (linked), its campaign published under the policy the
cycle before learned; the oracle, the static template policy and random choices are simulated on the same users and
days with the same planted audience.</p>
<h2>Executive summary</h2>
<ul>{summary}</ul>
<h2>Learning curve</h2>
<img alt="CTR per cycle of the loop, the oracle, the template policy and random choices"
 src="data:image/png;base64,{png}" style="max-width: 100%;">
<h2>Per cycle</h2>
<table class="loop"><thead><tr><th>cycle</th><th>policy</th><th>impressions</th><th>CTR [95%]</th>
<th>planted expected CTR [95%]</th><th>CVR (conversions / clicks) [95%]</th><th>revenue per impression [95%]</th>
</tr></thead><tbody>{''.join(rows)}</tbody></table>
<p>Intervals: 95% percentile bootstrap over users ({esc_html(str(400))} resamples). The loop's row is the cycle's
whole campaign, its exploration share included.</p>
<h2>What changed between cycles</h2>
{''.join(changes)}
<h2>How to read it</h2>
<p>The oracle knows the planted truth: each user's true segment's best channel, send hour and fatigue point, and
the candidate copy with the highest planted click-through. The static template policy repeats the first cycle's
plan with the template copy. Random choices draw, per user, a channel, an hour (0-23) and a frequency (1-12 a week, the caps the policy
explores) uniformly, and each impression's copy from every candidate 04 wrote, accepted or not. The behaviour log
does not grow between cycles (the shop's users, products and planted audience stay the same; each campaign runs
after the one before); 03's recommendations are not changed by feedback.</p>
</main></body></html>
"""


def write_loop_report(result) -> Path:
    """Write ``index.html`` into the loop's report directory; returns its path. Warns through ``lint_html``."""
    html = render_loop_index(result)
    problems = report.lint_html(html)
    if problems:
        raise ValueError(f"the loop report fails the report check: {problems[:3]}")
    path = Path(result.report_dir) / "index.html"
    path.write_text(html, encoding="utf-8")
    return path
