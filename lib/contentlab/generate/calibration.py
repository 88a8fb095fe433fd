"""Calibration of 04's copy checks against copy a person read and labelled.

The package resource ``resources/labelled_copy.csv`` holds generated copy (both variants, every channel, accepted
and rejected candidates alike) from four catalogues -- the demo shop in English (``demo_en``) and Chinese
(``demo_zh``), an Online-Retail-shaped catalogue (``online_retail``) and a MovieLens-shaped one (``movielens``) --
each next to the product record it was written for, with two labels given by reading:

``faithful``
    ``yes`` when the copy names no product type, category, brand, colour, material, fit / style, number or price
    that the record does not hold (generic praise is fine), else ``no``.
``fluent``
    ``yes`` when the copy is grammatical and reads naturally: complete sentence(s), no cut-off ending, no dangling
    word, no garbled tokens (Chinese judged as Chinese), else ``no``.

Every ``no`` has a ``note`` saying what is wrong. Columns: :data:`COLUMNS`; ``product`` is the record as JSON
(``title``, ``category``, ``product_type``, ``brand``, ``colour``, ``material``, ``style``, ``price``,
``description``: the fields the catalogue has, the description cut to 400 characters); ``currency`` the
catalogue's currency code (empty when its prices are not shown: MovieLens' price is a nominal placeholder).
``benchmarks/collect_labelled_copy.py`` draws the sample.

How the borderline cases were labelled (to keep additions consistent):

- a product type the record does not name is unfaithful even within the record's category ("puffer jacket" for a
  longline down coat, 吊带裙 for a 长裙); a broader word for the same thing is not (面霜 for a 晚霜, "down jacket"
  for a down coat in the category Down Jackets); a bare title of another product (Online Retail, MovieLens) is
  unfaithful, as is a title with another colour;
- occasions ("for gym sessions") and generic praise do not count; features borrowed from other products ("deep,
  clear bass" in copy for a coat) are mentioned in the note;
- garbled tokens ("smoothssband") and broken placeholders (``acolour]``) are a fluency problem, not a faithfulness
  one;
- a headline noun phrase ("Ivory linen blend dresses by Solace, $57.99", "素语全新泡泡袖连衣裙") is fluent; "This
  sweat-resistant tote bag" / "这款宽松面霜" (a subject with no predicate) reads cut off and is not; raw catalogue
  titles with a ``|`` separator or MovieLens' moved article ("Broken Road, The") are not fluent copy.

:func:`scorer_agreement` measures a check -- ``flag(text, product_record, locale, currency) -> bool``, True for
"hallucinated" (or "disfluent") -- against a label: precision, recall and F1 of the flag for the label's ``no``,
the confusion counts and the rows where they disagree. :func:`faithfulness_flag` is the current faithfulness
scorer (:func:`contentlab.generate.scoring.faithfulness` with an
:class:`~contentlab.generate.scoring.AttributeLexicon` over all labelled products of the same catalogue, the
catalogue's price policy and the locale's template text as reference copy) in that form.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from contentlab import config
from contentlab.generate import workflow as wf
from contentlab.generate.prompts import load_templates
from contentlab.generate.scoring import faithfulness

LABELLED_PATH = config.RESOURCES_DIR / "labelled_copy.csv"
COLUMNS = ("id", "catalogue", "locale", "variant", "channel", "product_id", "product", "currency", "text",
           "faithful", "fluent", "note")
CATALOGUES = ("demo_en", "demo_zh", "online_retail", "movielens")
LABELS = ("faithful", "fluent")
RECORD_FIELDS = ("title", "category", "product_type", "brand", "colour", "material", "style", "price", "description")

Flag = Callable[[str, Mapping[str, Any], str, str], bool]
"""``flag(text, product_record, locale, currency) -> bool``: True when the check finds the problem."""


def load_labelled(path: Any = None) -> pd.DataFrame:
    """The labelled copy (the package resource, or the CSV at ``path``), checked: every column of
    :data:`COLUMNS`, labels ``yes`` / ``no``, a note for every ``no``, a JSON record per row.

    ``product`` stays the JSON text; :func:`record` parses it. Raises ``ValueError`` naming what is wrong."""
    path = LABELLED_PATH if path is None else path
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    where = str(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; expected {list(COLUMNS)}")
    df = df[list(COLUMNS)].copy()
    problems: list[str] = []
    for label in LABELS:
        bad = df.loc[~df[label].isin(["yes", "no"]), "id"].tolist()
        if bad:
            problems.append(f"{label} must be 'yes' or 'no' (rows {bad[:5]})")
    no_note = df.loc[((df["faithful"] == "no") | (df["fluent"] == "no")) & (df["note"].str.strip() == ""), "id"]
    if len(no_note):
        problems.append(f"a 'no' label needs a note (rows {no_note.tolist()[:5]})")
    unknown = sorted(set(df["catalogue"]) - set(CATALOGUES))
    if unknown:
        problems.append(f"unknown catalogue(s) {unknown}; expected {list(CATALOGUES)}")
    if df["id"].duplicated().any():
        problems.append(f"duplicate id(s) {df.loc[df['id'].duplicated(), 'id'].tolist()[:5]}")
    for rid, rec in zip(df["id"], df["product"]):
        try:
            parsed = json.loads(rec)
        except json.JSONDecodeError as exc:
            problems.append(f"row {rid}: product is not JSON ({exc.msg})")
            continue
        if not isinstance(parsed, dict) or "title" not in parsed:
            problems.append(f"row {rid}: product must be a JSON object with a title")
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems))
    return df.reset_index(drop=True)


def record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The product record of a labelled row, with its ``product_id``."""
    rec = json.loads(row["product"])
    return {**rec, "product_id": str(row["product_id"])}


@dataclass
class Agreement:
    """How a flag agrees with a label: the flag's ``True`` against the label's ``no`` (the problem found)."""

    label: str
    tp: int  # flagged, labelled no
    fp: int  # flagged, labelled yes
    fn: int  # not flagged, labelled no
    tn: int  # not flagged, labelled yes
    disagreements: pd.DataFrame  # the fp and fn rows, with ``flagged`` and ``kind`` ("fp" / "fn")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        if math.isnan(p) or math.isnan(r) or p + r == 0:
            return float("nan") if math.isnan(p) or math.isnan(r) else 0.0
        return 2 * p * r / (p + r)

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def summary(self) -> dict[str, Any]:
        return {"label": self.label, "n": self.n, "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "precision": self.precision, "recall": self.recall, "f1": self.f1}


def scorer_agreement(labelled: pd.DataFrame, flag: Flag, label: str = "faithful") -> Agreement:
    """Precision, recall and F1 of ``flag`` for the problem ``label == "no"`` marks, over ``labelled``
    (:func:`load_labelled`'s frame, or any subset of it), with the rows where they disagree."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {list(LABELS)}, not {label!r}")
    missing = [c for c in ("text", "product", "product_id", "locale", "currency", label) if c not in labelled.columns]
    if missing:
        raise ValueError(f"labelled copy lacks column(s) {missing}")
    bad = sorted(set(labelled[label]) - {"yes", "no"})
    if bad:
        raise ValueError(f"{label} must be 'yes' or 'no', found {bad}")
    flagged = [bool(flag(str(r["text"]), record(r), str(r["locale"]), str(r["currency"] or "")))
               for r in labelled.to_dict(orient="records")]
    df = labelled.assign(flagged=flagged)
    problem = df[label] == "no"
    tp = int((df["flagged"] & problem).sum())
    fp = int((df["flagged"] & ~problem).sum())
    fn = int((~df["flagged"] & problem).sum())
    tn = int((~df["flagged"] & ~problem).sum())
    dis = df[df["flagged"] != problem].copy()
    dis["kind"] = ["fp" if f else "fn" for f in dis["flagged"]]
    return Agreement(label=label, tp=tp, fp=fp, fn=fn, tn=tn, disagreements=dis.reset_index(drop=True))


DEMO_CATALOGUES = {"demo_en": {"locale": "en", "n_products": 800, "seed": 42},
                   "demo_zh": {"locale": "zh", "n_products": 800, "seed": 42}}
"""The demo shop's catalogues the labelled demo copy was written for (the demo profile's simulator settings; the
catalogue does not depend on the number of users, so it is rebuilt with a handful)."""


def demo_catalogue(name: str, labelled: pd.DataFrame | None = None) -> pd.DataFrame:
    """The whole catalogue ``name`` (a key of :data:`DEMO_CATALOGUES`) as the simulator writes it today, checked
    against the labelled records: every labelled product must have the same title, else the simulator's text has
    changed since the copy was labelled and ``ValueError`` names the products that differ."""
    from contentlab.data.simulate import simulate

    spec = DEMO_CATALOGUES[name]
    products = simulate(n_users=30, n_days=90, **spec).products.copy()
    products["product_id"] = products["product_id"].astype(str)
    if labelled is not None:
        titles = products.set_index("product_id")["title"]
        rows = labelled[labelled["catalogue"] == name]
        differ = sorted({str(r["product_id"]) for r in rows.to_dict(orient="records")
                         if titles.get(str(r["product_id"])) != record(r).get("title")})
        if differ:
            raise ValueError(f"labelled catalogue {name}: the simulator no longer writes the labelled products "
                             f"{differ[:5]} ({len(differ)} in all) with the same title; relabel or pin the text")
    return products


CATALOGUES_PATH = config.RESOURCES_DIR / "labelled_catalogues.csv"
"""The whole product tables of the other labelled catalogues (``catalogue, product_id, title, category, price``):
the Online-Retail- and MovieLens-shaped catalogues the copy was generated for, as their adapters load them."""


def stored_catalogue(name: str, labelled: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """The stored whole catalogue ``name`` (None when it is not stored), checked against the labelled records like
    :func:`demo_catalogue`."""
    if not CATALOGUES_PATH.is_file():
        return None
    table = pd.read_csv(CATALOGUES_PATH, dtype={"product_id": str, "title": str, "category": str},
                        keep_default_na=False, encoding="utf-8")
    products = table[table["catalogue"] == name].drop(columns="catalogue").reset_index(drop=True)
    if products.empty:
        return None
    products["price"] = pd.to_numeric(products["price"], errors="coerce")
    products["category"] = products["category"].replace("", None)
    if labelled is not None:
        titles = products.set_index("product_id")["title"]
        rows = labelled[labelled["catalogue"] == name]
        differ = sorted({str(r["product_id"]) for r in rows.to_dict(orient="records")
                         if titles.get(str(r["product_id"])) != record(r).get("title")})
        if differ:
            raise ValueError(f"labelled catalogue {name}: {CATALOGUES_PATH.name} lacks or retitles the labelled "
                             f"products {differ[:5]}")
    return products


def catalogue_products(labelled: pd.DataFrame) -> pd.DataFrame:
    """One row per labelled product (``product_id`` and the record's fields)."""
    recs = {}
    for r in labelled.to_dict(orient="records"):
        recs.setdefault(str(r["product_id"]), record(r))
    df = pd.DataFrame(list(recs.values()))
    for col in ("title", "price"):
        if col not in df.columns:
            df[col] = None
    return df


def faithfulness_flag(labelled: pd.DataFrame | None = None, open_vocabulary: bool = False) -> Flag:
    """The current faithfulness scorer as a flag ("hallucinated"), one lexicon per catalogue of ``labelled``.

    Each catalogue's lexicon is built as stage 04 builds it (:func:`contentlab.generate.workflow.catalogue_lexicon`)
    from the catalogue's products, its currency as the price policy and the locale's template text as reference
    copy. That is the whole catalogue: rebuilt for the demo ones (:func:`demo_catalogue`; each copy is checked
    against its product's full record, with the product type the labelled record predates), stored for the others
    (:func:`stored_catalogue`); only without either are the labelled products all that is known. There is no training corpus here and only the labelled products' words, so with the embedded
    model's closed vocabulary (the default) the non-word check also fires on ordinary words the stage's larger
    vocabulary (whole catalogue, training copy) knows ("hoodie", "routines"); ``open_vocabulary`` counts GPT-2's
    words as words too, leaving the non-word check to garbled tokens. A row is matched to its catalogue by locale,
    currency and product id."""
    labelled = load_labelled() if labelled is None else labelled
    lexicons: dict[tuple[str, str, str], Any] = {}
    full: dict[tuple[str, str, str], dict[str, Any]] = {}
    for cat, g in labelled.groupby("catalogue", sort=True):
        locale, currency = str(g["locale"].iloc[0]), str(g["currency"].iloc[0] or "")
        if g["locale"].nunique() > 1 or g["currency"].nunique() > 1:
            raise ValueError(f"catalogue {cat}: one locale and one currency expected")
        stored = None if cat in DEMO_CATALOGUES else stored_catalogue(str(cat), g)
        products = (demo_catalogue(str(cat), g) if cat in DEMO_CATALOGUES
                    else stored if stored is not None else catalogue_products(g))
        catalogue = wf.prepare_catalogue(products, {"currency": currency or None}, locale)
        if cat in DEMO_CATALOGUES:
            by_id = catalogue.products.set_index("product_id")
            for pid in g["product_id"].astype(str).unique():
                full[(locale, currency, pid)] = {**by_id.loc[pid].to_dict(), "product_id": pid}
        templates = load_templates(locale, prices=catalogue.prices)
        lex = wf.catalogue_lexicon(catalogue, locale, templates)
        lex.open_vocabulary = open_vocabulary
        for pid in g["product_id"].astype(str).unique():
            key = (locale, currency, pid)
            if key in lexicons:
                raise ValueError(f"product {pid} ({locale}, {currency or 'no currency'}) is in two catalogues")
            lexicons[key] = lex

    def flag(text: str, product: Mapping[str, Any], locale: str, currency: str) -> bool:
        key = (str(locale), str(currency or ""), str(product.get("product_id")))
        if key not in lexicons:
            raise KeyError(f"product {key[2]} ({key[0]}, {key[1] or 'no currency'}) is not in the labelled set")
        return faithfulness(text, full.get(key, product), lexicons[key]).hallucinated

    return flag


_SCORER_SOURCES = ("resources/labelled_catalogues.csv", "generate/scoring.py", "generate/lexicon.py", "generate/calibration.py", "generate/prompts.py",
                   "generate/sanitise.py", "data/simulate/text.py", "data/simulate/catalogue.py")


def scorer_figures(cache: bool = True) -> dict[str, Any]:
    """The faithfulness scorer's agreement with the labelled copy (:func:`faithfulness_flag`): ``precision``,
    ``recall``, ``f1``, the confusion counts and ``n``.

    It depends only on the labelled set and the code that scores it, so it is cached under
    ``config.models_dir()/calibration`` keyed by the labelled file and those modules' source; a run pays the
    few seconds it takes once per code version."""
    import hashlib

    h = hashlib.sha256(LABELLED_PATH.read_bytes())
    for rel in _SCORER_SOURCES:
        h.update((config.PACKAGE_DIR / rel).read_bytes())
    path = config.models_dir() / "calibration" / f"scorer-{h.hexdigest()[:16]}.json"
    if cache and path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    labelled = load_labelled()
    figures = scorer_agreement(labelled, faithfulness_flag(labelled)).summary()
    if cache:
        from contentlab.serial import write_json

        write_json(path, figures)
    return figures
