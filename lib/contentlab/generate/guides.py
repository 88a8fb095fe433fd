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

from contentlab.fmt import is_missing
from contentlab.generate.prompts import PromptTemplates, TemplateFields
from contentlab.generate.reviews import digest_for, digest_index


def _selling_point(product: Mapping[str, Any], templates: PromptTemplates, rank: int) -> str:
    f = templates.product_fields(product)
    spec = templates.guide_spec()
    options = list(spec["selling_point"])
    rotated = [options[(rank - 1 + k) % len(options)] for k in range(len(options))]
    rotated.append(spec.get("selling_point_fallback", "{category}"))
    return templates.render_sentence(rotated, f)


def guide_text(persona_name: str, products: Sequence[Mapping[str, Any]], templates: PromptTemplates,
               digests: pd.DataFrame | Mapping[str, dict] | None = None) -> tuple[str, str]:
    """(subject, body) of one guide for up to three products (``digests``: the review digests, as the table or
    its :func:`~contentlab.generate.reviews.digest_index`).

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


GUIDE_COLUMNS = ["guide_id", "level", "persona_id", "segment", "user_id", "product_ids", "subject", "text"]


def _text_or_none(value: Any) -> str | None:
    return None if is_missing(value) else str(value)


def user_guides(recommendations: pd.DataFrame, products: pd.DataFrame, templates: PromptTemplates,
                personas: Sequence[Mapping[str, Any]], digests: pd.DataFrame | Mapping[str, dict] | None = None,
                by_id: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """The guides of :func:`user_rows` as a table (columns :data:`GUIDE_COLUMNS` without ``guide_id``)."""
    return pd.DataFrame(user_rows(recommendations, products, templates, personas, digests, by_id),
                        columns=GUIDE_COLUMNS[1:])


def user_rows(recommendations: pd.DataFrame, products: pd.DataFrame, templates: PromptTemplates,
              personas: Sequence[Mapping[str, Any]], digests: pd.DataFrame | Mapping[str, dict] | None = None,
              by_id: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One guide per user of ``recommendations``: their top-3 products in rank order (products missing from the
    catalogue are skipped; a user with none left gets no guide), addressed with their persona's name.

    ``recommendations`` has ``user_id, rank, product_id`` and, when known, the user's ``segment`` and ``persona_id``
    (missing: ``None``). Users come in user-id order. This is the one definition of a customer's guide: the pandas
    path (:func:`shopping_guides`, a sample of users) and the Spark path (:mod:`contentlab.generate.userguides`,
    every user, one partition at a time) both call it. ``by_id``: the products as records by id, when the caller
    has them already. One record per guide, keyed like :data:`GUIDE_COLUMNS` without ``guide_id``.
    """
    if by_id is None:
        by_id = products_by_id(products)
    if isinstance(digests, pd.DataFrame):
        digests = digest_index(digests)
    persona_by_id = {str(p.get("persona_id")): p for p in personas}
    recs = recommendations.assign(user_id=recommendations["user_id"].astype(str))
    recs = recs.sort_values(["user_id", "rank"], kind="stable")
    has_seg, has_per = "segment" in recs.columns, "persona_id" in recs.columns
    rows: list[dict[str, Any]] = []
    for uid, r in recs.groupby("user_id", sort=True):
        items = [dict(by_id[p], product_id=p) for p in r["product_id"].astype(str) if p in by_id][:3]
        if not items:
            continue
        segment = _text_or_none(r["segment"].iloc[0]) if has_seg else None
        persona_id = _text_or_none(r["persona_id"].iloc[0]) if has_per else None
        persona = persona_by_id.get(persona_id or "")
        name = templates.persona_name(persona) if persona else templates.persona_name(None)
        subject, body = guide_text(name, items, templates, digests)
        rows.append({"level": "user", "persona_id": persona_id, "segment": segment, "user_id": uid,
                     "product_ids": [p["product_id"] for p in items], "subject": subject, "text": body})
    return rows


def products_by_id(products: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The catalogue as records by product id (text)."""
    return products.set_index(products["product_id"].astype(str)).to_dict(orient="index")


def shopping_guides(products: pd.DataFrame, templates: PromptTemplates, personas: Sequence[Mapping[str, Any]],
                    persona_products: Mapping[str, Sequence[str]], recommendations: pd.DataFrame | None = None,
                    profiles: pd.DataFrame | None = None, n_users: int = 10,
                    digests: pd.DataFrame | Mapping[str, dict] | None = None, seed: int = 0) -> pd.DataFrame:
    """Guides per persona (its top-3 products) and for ``n_users`` sampled users (their own top-3,
    :func:`user_guides`).

    Columns: :data:`GUIDE_COLUMNS` (``level`` is ``"segment"`` or ``"user"``).
    """
    by_id = products_by_id(products)
    digests = digest_index(digests) if isinstance(digests, pd.DataFrame) else digests
    rows = []
    for persona in personas:
        pid = str(persona.get("persona_id"))
        items = [dict(by_id[p], product_id=p) for p in (str(x) for x in persona_products.get(pid, [])) if p in by_id][:3]
        if not items:
            continue
        subject, body = guide_text(templates.persona_name(persona), items, templates, digests)
        rows.append({"level": "segment", "persona_id": pid, "segment": str(persona.get("segment", "")), "user_id": None,
                     "product_ids": [p["product_id"] for p in items], "subject": subject, "text": body})
    if recommendations is not None and len(recommendations) and n_users > 0:
        users = sorted(recommendations["user_id"].astype(str).unique())
        pick = set(pd.Series(users).sample(n=min(n_users, len(users)), random_state=seed)) if users else set()
        recs = recommendations[recommendations["user_id"].astype(str).isin(pick)]
        recs = recs[["user_id", "rank", "product_id"]].assign(user_id=recs["user_id"].astype(str))
        if profiles is not None:
            prof = profiles.assign(user_id=profiles["user_id"].astype(str)).drop_duplicates("user_id", keep="last")
            prof = prof.set_index("user_id")
            recs["segment"] = recs["user_id"].map(prof["segment"]) if "segment" in prof.columns else None
            if "persona_id" in prof.columns:
                recs["persona_id"] = recs["user_id"].map(prof["persona_id"])
        rows.extend(user_rows(recs, products, templates, personas, digests, by_id=by_id))
    out = pd.DataFrame(rows, columns=GUIDE_COLUMNS[1:])
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
