"""Writers of real public data formats, for tests that run the whole pipeline on them.

Each writer puts files in a folder exactly as the public dataset ships them (same file names, separators,
encodings, header conventions, id and date formats, and the same kinds of mess) and returns what it wrote,
so a test can check the row accounting against the counts it planted:

- :func:`write_movielens_100k`: ``u.data`` (tab-separated, no header, unix seconds; one line carries a stray
  trailing space, as a hand-edited file would), ``u.item`` (pipe-separated, latin-1, titles such as
  ``"Air, The (1996)"``, 19 genre flags) and ``u.user``.
- :func:`write_online_retail`: UCI Online Retail as CSV (``InvoiceNo, StockCode, Description, Quantity,
  InvoiceDate, UnitPrice, CustomerID, Country``, US-style dates) or XLSX, or Online Retail II's headers
  (``Invoice, Price, Customer ID``); cancellations (``C`` invoices with negative quantities), missing customer
  ids, negative-quantity adjustments without a ``C``, postage lines and upper-case stock descriptions.
- :func:`cdnow_master`: the real ``CDNOW_master.txt`` that the ``lifetimes`` package ships.

The generators are seeded and small (a few hundred customers) so the whole pipeline runs in about a minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")
_WORDS_A = ("Midnight", "Silent", "Broken", "Golden", "Lost", "Crimson", "Last", "Wild", "Hidden", "Long",
            "Little", "Dark", "Bright", "Secret", "Cold", "Empty", "Electric", "Paper", "Stone", "Blue")
_WORDS_B = ("River", "Garden", "Highway", "Kingdom", "Summer", "Letters", "Heart", "Harbor", "Mirror", "Voyage",
            "Winter", "Dreams", "Station", "Island", "Signal", "Country", "Empire", "Shadows", "Machine", "Road")
_RETAIL_ITEMS = ("HANGING HEART T-LIGHT HOLDER", "LUNCH BAG RETROSPOT", "JUMBO BAG VINTAGE", "CAKE CASES",
                 "REGENCY CAKESTAND 3 TIER", "PARTY BUNTING", "ASSORTED COLOUR BIRD ORNAMENT", "SET OF 3 TINS",
                 "PACK OF 72 RETROSPOT CAKE CASES", "ALARM CLOCK BAKELIKE", "GLASS STAR FROSTED T-LIGHT HOLDER",
                 "PAPER CHAIN KIT 50'S CHRISTMAS", "HOT WATER BOTTLE KEEP CALM", "NATURAL SLATE HEART CHALKBOARD",
                 "VINTAGE SNAP CARDS", "SPOTTY BUNTING", "WOODEN FRAME ANTIQUE WHITE", "HEART OF WICKER SMALL")
_RETAIL_COLOURS = ("RED", "PINK", "WHITE", "BLUE", "GREEN", "IVORY", "")
_COUNTRIES = ("United Kingdom",) * 8 + ("France", "Germany", "EIRE", "Netherlands")


@dataclass
class Written:
    """What a writer put on disk and what it planted."""

    path: Path                     # what to give the adapter (file or folder)
    files: list[Path] = field(default_factory=list)
    rows: int = 0                  # data rows written to the main table
    planted: dict[str, int] = field(default_factory=dict)  # mess planted, by kind


def _movie_titles(n: int, rng: np.random.Generator) -> list[str]:
    titles, seen = [], set()
    while len(titles) < n:
        a, b = rng.choice(_WORDS_A), rng.choice(_WORDS_B)
        year = int(rng.integers(1930, 1998))
        base = f"{a} {b}" if rng.random() < 0.8 else f"{b} of {a}"
        if base in seen:
            base = f"{base} {int(rng.integers(2, 4))}"
        seen.add(base)
        # MovieLens moves a leading article to the end: "Air, The (1996)"
        if rng.random() < 0.15:
            base = f"{base}, The"
        titles.append(f"{base} ({year})")
    return titles


def write_movielens_100k(folder: Path, n_users: int = 300, n_items: int = 240, seed: int = 0,
                         ratings_per_user: tuple[int, int] = (20, 90)) -> Written:
    """An ML-100K-format folder: ``u.data``, ``u.item``, ``u.user`` (as GroupLens ships them)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    k = 6
    user_f = rng.normal(size=(n_users, k))
    item_f = rng.normal(size=(n_items, k))
    genre = rng.integers(1, len(GENRES), size=n_items)
    pop = rng.zipf(1.6, size=n_items).clip(1, 200).astype(float)
    lines = []
    start = pd.Timestamp("1997-09-20").value // 10**9
    end = pd.Timestamp("1998-04-22").value // 10**9
    for u in range(n_users):
        n = int(rng.integers(*ratings_per_user))
        p = pop / pop.sum()
        items = rng.choice(n_items, size=min(n, n_items), replace=False, p=p)
        affinity = item_f[items] @ user_f[u] / np.sqrt(k)
        stars = np.clip(np.rint(3.5 + 0.9 * affinity + rng.normal(0, 0.7, len(items))), 1, 5).astype(int)
        t0 = int(rng.integers(start, end - 86400 * 30))
        ts = t0 + np.sort(rng.integers(0, 86400 * 30, len(items)))
        for i, s, t in zip(items, stars, ts):
            lines.append(f"{u + 1}\t{i + 1}\t{s}\t{t}")
    order = rng.permutation(len(lines))  # GroupLens' u.data is not sorted by user
    lines = [lines[i] for i in order]
    lines[7] = lines[7] + " "  # a stray trailing space, as a hand-edited file has
    (folder / "u.data").write_text("\n".join(lines) + "\n", encoding="ascii")

    titles = _movie_titles(n_items, rng)
    item_lines = []
    for i, title in enumerate(titles):
        flags = ["0"] * len(GENRES)
        flags[genre[i]] = "1"
        if rng.random() < 0.4:
            flags[int(rng.integers(1, len(GENRES)))] = "1"
        year = title[-5:-1]
        url = "http://us.imdb.com/M/title-exact?" + title.replace(" ", "%20")
        item_lines.append("|".join([str(i + 1), title, f"01-Jan-{year}", "", url, *flags]))
    # u.item is latin-1 in the real release (e.g. "Misérables, Les (1995)")
    item_lines[3] = item_lines[3].replace(titles[3], "Misérables, Les (1995)")
    (folder / "u.item").write_bytes(("\n".join(item_lines) + "\n").encode("latin-1"))

    occupations = ("technician", "writer", "student", "educator", "programmer", "other", "executive", "artist")
    user_lines = [
        f"{u + 1}|{int(rng.integers(15, 70))}|{rng.choice(['M', 'F'])}|{rng.choice(occupations)}|{int(rng.integers(10000, 99999))}"
        for u in range(n_users)
    ]
    (folder / "u.user").write_text("\n".join(user_lines) + "\n", encoding="ascii")
    files = [folder / "u.data", folder / "u.item", folder / "u.user"]
    return Written(folder / "u.data", files, rows=len(lines), planted={"trailing_space": 1})


def _retail_frame(n_customers: int, seed: int) -> tuple[pd.DataFrame, dict[str, int]]:
    rng = np.random.default_rng(seed)
    products = []
    for i, item in enumerate(_RETAIL_ITEMS):
        for colour in _RETAIL_COLOURS[: int(rng.integers(1, 4))]:
            code = f"{21000 + 37 * i + len(products)}{'' if rng.random() < 0.7 else rng.choice(list('ABC'))}"
            desc = f"{colour} {item}".strip()
            products.append((code, desc, float(np.round(rng.choice([0.42, 0.85, 1.25, 1.65, 2.1, 2.95, 4.95, 12.75]), 2))))
    prod = pd.DataFrame(products, columns=["StockCode", "Description", "UnitPrice"])
    pop = rng.zipf(1.5, size=len(prod)).clip(1, 50).astype(float)
    rows = []
    invoice = 536365
    t_start = pd.Timestamp("2010-12-01 08:26")
    for c in range(n_customers):
        cust = 12346 + c * 7
        country = rng.choice(_COUNTRIES)
        n_inv = int(rng.geometric(0.35))
        for _ in range(n_inv):
            when = t_start + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 360)))
            when = when.replace(hour=int(rng.integers(7, 20)))
            lines = rng.choice(len(prod), size=int(rng.integers(1, 8)), replace=False, p=pop / pop.sum())
            for j in lines:
                rows.append({"InvoiceNo": str(invoice), "StockCode": prod.StockCode[j], "Description": prod.Description[j],
                             "Quantity": int(rng.choice([1, 2, 3, 4, 6, 12, 24])), "InvoiceDate": when,
                             "UnitPrice": prod.UnitPrice[j], "CustomerID": float(cust), "Country": country})
            if rng.random() < 0.3:
                rows.append({"InvoiceNo": str(invoice), "StockCode": "POST", "Description": "POSTAGE", "Quantity": 1,
                             "InvoiceDate": when, "UnitPrice": 18.0, "CustomerID": float(cust), "Country": country})
            invoice += 1
    df = pd.DataFrame(rows)
    planted = {"postage": int((df["StockCode"] == "POST").sum())}
    # guest checkouts: no customer id
    guest = df.sample(frac=0.06, random_state=seed).index
    df.loc[guest, "CustomerID"] = np.nan
    planted["missing_customer_id"] = len(guest)
    # cancellations: a C invoice with the negative quantity of an earlier line
    cancel = df[df["StockCode"] != "POST"].sample(frac=0.02, random_state=seed + 1).copy()
    cancel["InvoiceNo"] = "C" + cancel["InvoiceNo"]
    cancel["Quantity"] = -cancel["Quantity"]
    planted["cancellation"] = len(cancel)
    # stock adjustments: negative quantity, no C, no customer, price 0
    adjust = df[df["StockCode"] != "POST"].sample(n=4, random_state=seed + 2).copy()
    adjust["Quantity"] = -adjust["Quantity"] * 10
    adjust["UnitPrice"] = 0.0
    adjust["CustomerID"] = np.nan
    adjust["Description"] = "?"
    planted["adjustment"] = len(adjust)
    out = pd.concat([df, cancel, adjust]).sort_values("InvoiceDate", kind="stable").reset_index(drop=True)
    return out, planted


def write_online_retail(folder: Path, fmt: str = "csv", n_customers: int = 300, seed: int = 0,
                        variant: str = "I") -> Written:
    """UCI Online Retail (variant ``"I"``) or Online Retail II (``"II"``) as ``csv`` or ``xlsx``."""
    folder.mkdir(parents=True, exist_ok=True)
    df, planted = _retail_frame(n_customers, seed)
    if variant == "II":
        df = df.rename(columns={"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"})
    if fmt == "xlsx":
        path = folder / ("online_retail_II.xlsx" if variant == "II" else "Online Retail.xlsx")
        df.to_excel(path, index=False, sheet_name="Online Retail" if variant == "I" else "Year 2010-2011")
    else:
        path = folder / ("online_retail_II.csv" if variant == "II" else "online_retail.csv")
        text = df.assign(InvoiceDate=df["InvoiceDate"].dt.strftime("%m/%d/%Y %H:%M").str.lstrip("0"))
        text.to_csv(path, index=False, encoding="utf-8")
    return Written(path, [path], rows=len(df), planted=planted)


def cdnow_master() -> Path:
    """The real CDNOW_master.txt (23,570 customers, 69,659 orders) shipped by the ``lifetimes`` package."""
    from contentlab.data.adapters import cdnow_default_path

    return cdnow_default_path()


# ------------------------------------------------------------------------------------------ checks

CURRENCY_SYMBOLS = {"USD": "$", "GBP": "£", "EUR": "€", "CNY": "¥", "JPY": "¥"}
_EMPTY_SLOT = [
    (r"\w\s+\(\s*\)", "empty brackets"),
    (r"\b(?:of|by|and)\s*[,.;:!?](?=\s|$)", "dangling word before punctuation"),
    (r"\b(?:of|by|with|in|from)\s+and\b", "slot missing between words"),
    (r"\b(?:is|are)\s*\.", "sentence ends after 'is'"),
]


def visible_text(html_text: str) -> str:
    """The text a reader sees: no scripts, styles or tags (images' alt text aside)."""
    import html as _html
    import re

    t = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html_text)
    t = re.sub(r"(?s)<!--.*?-->", " ", t)
    t = re.sub(r"(?i)</?(?:p|div|li|ul|ol|td|th|tr|table|thead|tbody|h[1-6]|br|section|pre|header|footer|figure|"
               r"figcaption|blockquote|details|summary)\b[^>]*>", "\n", t)
    t = re.sub(r"(?s)<[^>]+>", "", t)
    return _html.unescape(t)


def foreign_currency(text: str, currency: str | None) -> list[str]:
    """Currency symbols in ``text`` that are not the data's own (every symbol when the data has no currency)."""
    own = CURRENCY_SYMBOLS.get(currency or "")
    found = []
    for code, sym in CURRENCY_SYMBOLS.items():
        if sym != own and sym in text:
            i = text.index(sym)
            found.append(f"{sym} ({code}) in …{text[max(0, i - 40):i + 20]}…")
    return found


def empty_slots(text: str) -> list[str]:
    """Places where a template slot was left empty: '()', 'made of and', 'by,'."""
    import re

    out = []
    for pattern, what in _EMPTY_SLOT:
        for m in re.finditer(pattern, text):
            out.append(f"{what}: …{text[max(0, m.start() - 40):m.end() + 20]}…")
    return out


def run_whole_pipeline(home: Path, name: str, dataset: dict, notebooks: dict | None = None):
    """Write a profile for ``dataset`` and run the whole pipeline on it through the command line.

    04 uses a small training budget (the copy's quality is not what these runs test). Returns the
    completed process, the report folder of the run and its manifest.
    """
    import json

    import yaml

    from conftest import run_cli

    overrides = {"04_generate": {"model_size": "tiny", "train_steps": 40, "n_slots": 12, "n_candidates": 2,
                                 "n_guide_users": 2}}
    for stage, params in (notebooks or {}).items():
        overrides.setdefault(stage, {}).update(params)
    home.mkdir(parents=True, exist_ok=True)
    profile = home / f"{name}.yaml"
    profile.write_text(yaml.safe_dump({"name": name, "seed": 1, "dataset": dataset, "notebooks": overrides}))
    proc = run_cli(["run", "--profile", str(profile)], home, timeout=1500)
    report = (home / "reports" / "latest").resolve()
    manifest_path = report / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    return proc, report, manifest


def report_problems(report_dir: Path, currency: str | None) -> list[str]:
    """Everything a reader must never see in a run's published output, one line each: what the shared report
    check finds in every HTML page (reprs, tracebacks outside the failure banner, nan), foreign currency and
    empty template slots in the visible text, and markup in the published catalogue."""
    import json
    import re

    from contentlab.report import lint_html

    problems = []
    for page in sorted(report_dir.glob("*.html")):
        raw = page.read_text(encoding="utf-8")
        problems += [f"{page.name}: {p}" for p in lint_html(raw)]
        text = visible_text(raw)
        problems += [f"{page.name}: foreign currency {p}" for p in foreign_currency(text, currency)]
        problems += [f"{page.name}: {p}" for p in empty_slots(text)]
    for md in sorted(report_dir.glob("*.md")):
        text = md.read_text(encoding="utf-8")
        problems += [f"{md.name}: foreign currency {p}" for p in foreign_currency(text, currency)]
        problems += [f"{md.name}: {p}" for p in empty_slots(text)]
    run_dir = report_dir.parent.parent / "data" / "processed" / report_dir.name
    jsonl = run_dir / "content.jsonl"
    if jsonl.exists():
        for line in jsonl.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if not rec.get("published"):
                continue
            for key in ("text", "subject", "product_title", "price_text"):
                value = rec.get(key)
                if not isinstance(value, str):
                    continue
                if re.search(r"<\s*/?\s*[a-zA-Z!]|javascript:", value, re.I):
                    problems.append(f"content.jsonl: markup in published {key}: {value[:80]!r}")
                if key in ("text", "subject"):
                    problems += [f"content.jsonl {key}: foreign currency {p}" for p in foreign_currency(value, currency)]
                    problems += [f"content.jsonl {key}: {p}" for p in empty_slots(value)]
    return problems


def stage_outcomes(report_dir: Path, manifest: dict) -> dict[str, tuple[str, str]]:
    """Per stage: (status, the reason shown in the run index for a stage that is not applicable)."""
    import re

    index = visible_text((report_dir / "index.html").read_text(encoding="utf-8"))
    out = {}
    for nb in manifest["notebooks"]:
        reason = ""
        if nb["status"] == "skipped":
            m = re.search(re.escape(nb["name"]) + r".*?not applicable[:\s]+(.{20,}?)(?:\n|$)", index, re.I | re.S)
            reason = m.group(1).strip() if m else ""
        out[nb["name"]] = (nb["status"], reason)
    return out
