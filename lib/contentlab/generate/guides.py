"""Shopping guides: a short email-style digest per segment persona or user around their top-3 products.

Each item carries the product's real list price and one selling point taken from its own
attributes (material, style or colour; the guide template decides the order, rotated by rank so
three items do not all say the same kind of thing), plus a review quote when a digest exists.
Everything comes from the product record, so the guide is faithful by construction; it is still
scored and checked by the guardrails like every other copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from contentlab.generate.prompts import PromptTemplates, TemplateFields
from contentlab.generate.reviews import digest_for


def _selling_point(product: Mapping[str, Any], templates: PromptTemplates, rank: int) -> str:
    f = templates.product_fields(product)
    spec = templates.guide_spec()
    options = list(spec["selling_point"])
    rotated = [options[(rank - 1 + k) % len(options)] for k in range(len(options))]
    rotated.append(spec.get("selling_point_fallback", "{category}"))
    return templates.render_sentence(rotated, f)


def guide_text(persona_name: str, products: Sequence[Mapping[str, Any]], templates: PromptTemplates,
               digests: pd.DataFrame | None = None) -> tuple[str, str]:
    """(subject, body) of one guide for up to three products.

    Every line follows the templates' rendering rule: an item names only the facts the product has (no empty
    brand brackets, no price when the catalogue shows none), and the closing note on prices appears only when
    prices are shown.
    """
    spec = templates.guide_spec()
    fields = TemplateFields(persona_name=persona_name, currency=templates.prices.currency or "")
    lines = [templates.render(spec["intro"], fields)]
    for rank, product in enumerate(products[:3], start=1):
        f = templates.product_fields(product)
        f["rank"] = str(rank)
        f["selling_point"] = _selling_point(product, templates, rank)
        item = spec["item"]
        lines.append(templates.render_sentence([item] if isinstance(item, str) else item, f))
        d = digest_for(digests, product.get("product_id"))
        if d and d.get("positive") is not None and len(d["positive"]) and d.get("social_proof"):
            quote = d["social_proof"].split("”")[0].lstrip("“")
            lines.append("   " + templates.render_sentence(spec["social_proof"], TemplateFields(quote=quote)))
    outro = templates.render(spec["outro"], fields)
    if outro:
        lines.append(outro)
    return templates.render(spec["subject"], fields), "\n".join(line for line in lines if line.strip())


def shopping_guides(products: pd.DataFrame, templates: PromptTemplates, personas: Sequence[Mapping[str, Any]],
                    persona_products: Mapping[str, Sequence[str]], recommendations: pd.DataFrame | None = None,
                    profiles: pd.DataFrame | None = None, n_users: int = 10, digests: pd.DataFrame | None = None,
                    seed: int = 0) -> pd.DataFrame:
    """Guides per persona (its top-3 products) and for ``n_users`` sampled users (their own top-3).

    Columns: ``guide_id, level ("segment"|"user"), persona_id, segment, user_id, product_ids, subject, text``.
    """
    by_id = products.set_index(products["product_id"].astype(str)).to_dict(orient="index")

    def recs_of(ids: Sequence[str]) -> list[dict]:
        return [dict(by_id[p], product_id=p) for p in ids if p in by_id][:3]

    rows = []
    for persona in personas:
        pid = str(persona.get("persona_id"))
        items = recs_of([str(p) for p in persona_products.get(pid, [])])
        if not items:
            continue
        subject, body = guide_text(templates.persona_name(persona), items, templates, digests)
        rows.append({"level": "segment", "persona_id": pid, "segment": str(persona.get("segment", "")), "user_id": None,
                     "product_ids": [p["product_id"] for p in items], "subject": subject, "text": body})
    if recommendations is not None and len(recommendations) and n_users > 0:
        users = sorted(recommendations["user_id"].astype(str).unique())
        pick = pd.Series(users).sample(n=min(n_users, len(users)), random_state=seed).tolist() if users else []
        seg_of = {}
        per_of = {}
        if profiles is not None:
            seg_of = dict(zip(profiles["user_id"].astype(str), profiles["segment"].astype(str)))
            if "persona_id" in profiles.columns:
                per_of = dict(zip(profiles["user_id"].astype(str), profiles["persona_id"].astype(str)))
        persona_by_id = {str(p.get("persona_id")): p for p in personas}
        for uid in sorted(pick):
            r = recommendations[recommendations["user_id"].astype(str) == uid].sort_values("rank")
            items = recs_of(r["product_id"].astype(str).tolist())
            if not items:
                continue
            persona = persona_by_id.get(per_of.get(uid, ""))
            name = templates.persona_name(persona) if persona else templates.persona_name(None)
            subject, body = guide_text(name, items, templates, digests)
            rows.append({"level": "user", "persona_id": per_of.get(uid), "segment": seg_of.get(uid), "user_id": uid,
                         "product_ids": [p["product_id"] for p in items], "subject": subject, "text": body})
    out = pd.DataFrame(rows, columns=["level", "persona_id", "segment", "user_id", "product_ids", "subject", "text"])
    out.insert(0, "guide_id", [f"g{i:04d}" for i in range(len(out))])
    return out


def check_guides(guides: pd.DataFrame, products: pd.DataFrame, guardrails, lexicon, locale: str,
                 user_ids: set[str] | None = None) -> pd.DataFrame:
    """Guardrails, per-item faithfulness, broken sentences and markup for each guide (same index as ``guides``).

    Columns: ``rejected, reject_reason, reject_detail, hallucinated, wrong_attributes, attribute_coverage``.
    """
    from contentlab.generate.prompts import copy_problems
    from contentlab.generate.sanitise import markup_problems
    from contentlab.generate.scoring import faithfulness

    by_id = {str(k): dict(v, product_id=str(k)) for k, v in
             products.set_index(products["product_id"].astype(str)).to_dict(orient="index").items()}
    rows = []
    for g in guides.itertuples():
        item_lines = [ln for ln in str(g.text).splitlines() if ln[:2].rstrip(".").isdigit()]
        wrong: list[str] = []
        covs = []
        for line, pid in zip(item_lines, g.product_ids):
            f = faithfulness(line, by_id[str(pid)], lexicon)
            wrong.extend(f"{pid}:{w}" for w in f.wrong + f.nonwords)
            covs.append(f.coverage)
        why = ["hallucination"] if wrong else []
        detail = list(wrong)
        values = [by_id[str(pid)].get(k) for pid in g.product_ids if str(pid) in by_id
                  for k in ("title", "category", "brand", "colour", "material", "style")]
        broken = copy_problems(f"{g.subject}\n{g.text}", locale, values)
        if broken:
            why.append("malformed")
            detail.extend(f"malformed:{b}" for b in broken)
        markup = markup_problems(f"{g.subject}\n{g.text}")
        if markup:
            why.append("markup")
            detail.extend(f"markup:{m}" for m in markup)
        for v in guardrails.check(f"{g.subject}\n{g.text}", locale, user_ids):
            if v.reason not in why:
                why.append(v.reason)
            detail.append(f"{v.reason}:{v.term}")
        rows.append({"rejected": bool(why), "reject_reason": ";".join(why), "reject_detail": "; ".join(detail),
                     "hallucinated": bool(wrong), "wrong_attributes": ";".join(wrong),
                     "attribute_coverage": float(sum(covs) / len(covs)) if covs else float("nan")})
    return pd.DataFrame(rows, index=guides.index)
