"""Rule-based template baseline: fills the same slots from product attributes.

Every metric of the GPT-2 copy has this as its comparison point. The templates are the
``baseline`` section of the prompt templates (``resources/prompts/<locale>.yaml``); for each slot the
first template that fits the channel's hard length limit is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from contentlab.generate.prompts import PromptTemplates


def template_copy(persona: Mapping[str, Any] | None, product: Mapping[str, Any], channel: str,
                  templates: PromptTemplates) -> str:
    return templates.baseline(persona, product, channel)


def baseline_for_slots(slots: pd.DataFrame, products: pd.DataFrame, personas: Mapping[str, Mapping[str, Any]],
                       templates: PromptTemplates) -> pd.DataFrame:
    """One template copy per slot: the slot's columns plus ``variant="template"``, ``candidate=0``, ``text``."""
    by_id = products.set_index(products["product_id"].astype(str)).to_dict(orient="index")
    rows = []
    for slot in slots.to_dict(orient="records"):
        product = dict(by_id[str(slot["product_id"])], product_id=str(slot["product_id"]))
        persona = personas.get(str(slot.get("persona_id")))
        rows.append({**slot, "variant": "template", "candidate": 0,
                     "text": template_copy(persona, product, slot["channel"], templates)})
    return pd.DataFrame(rows)
