"""The shape of the house, checked from the code itself: stages talk only through the contract, notebooks only show.

- No module of a stage package (eda, profiling, recommend, generate, feedback) imports another stage package or the
  runner; no stage module reaches into ``data/processed/`` (the run registry) outside its own run directory.
- Every product's file name is spelt once, in ``contentlab/contract.py``.
- No private name (``_x``) is imported from another module of the package.
- Every notebook: at most 150 code lines, no code cell over 25, no ``def``/``class``, one ``run_*`` call into its
  own stage package, and imports only from its stage package, the shared plotting module and the notebook helper.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from contentlab import contract

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "lib" / "contentlab"
STAGE_PACKAGES = ("eda", "profiling", "recommend", "generate", "feedback")
NOTEBOOK_STAGE = {"01_eda": "eda", "02_profiling": "profiling", "03_recommend": "recommend",
                  "04_generate": "generate", "05_feedback": "feedback"}
SHARED_FOR_NOTEBOOKS = {"contentlab", "contentlab.plotting", "contentlab.notebook"}
THIRD_PARTY_FOR_NOTEBOOKS = {"IPython.display", "matplotlib.pyplot", "pandas"}


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
    return out


def _owner(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0].removesuffix(".py")


def test_no_stage_imports_another_stage_or_the_runner():
    bad = []
    for path in _modules():
        own = _owner(path)
        if own not in STAGE_PACKAGES:
            continue
        for module, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            parts = module.split(".")
            if parts[0] != "contentlab" or len(parts) < 2:
                continue
            if (parts[1] in STAGE_PACKAGES and parts[1] != own) or parts[1] in ("run", "runner", "cli"):
                bad.append(f"{path.relative_to(REPO)} imports {module}")
    assert bad == []


def test_no_stage_reads_the_run_registry():
    bad = []
    for path in _modules():
        if _owner(path) in STAGE_PACKAGES and re.search(r"processed_dir\(|reports_dir\(|\blist_runs\(|latest_run\(",
                                                        path.read_text(encoding="utf-8")):
            bad.append(str(path.relative_to(REPO)))
    assert bad == []


def test_every_product_file_name_is_spelt_once_in_the_contract():
    names = {p.path for p in contract.PRODUCTS.values() if p.format != "dir"}
    bad = []
    for path in _modules():
        # data/io.py names the metadata file of a dataset directory (clean/dataset.json), not the run's product
        if path.name == "contract.py" or path.relative_to(PKG).as_posix() == "data/io.py":
            continue
        text = path.read_text(encoding="utf-8")
        bad += [f"{path.relative_to(REPO)}: {name}" for name in names if f'"{name}"' in text or f"'{name}'" in text]
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        src = "".join("".join(c["source"]) for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
                      if c["cell_type"] == "code")
        bad += [f"{nb.name}: {name}" for name in names if name in src]
    assert bad == []


def test_no_private_name_is_imported_across_modules():
    bad = []
    for path in _modules():
        for module, names in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if module.startswith("contentlab"):
                bad += [f"{path.relative_to(REPO)}: {module}.{n}" for n in names
                        if n.startswith("_") and not n.startswith("__")]
    assert bad == []


NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_only_shows(path):
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    own = f"contentlab.{NOTEBOOK_STAGE[path.stem]}"
    total, problems = 0, []
    for i, cell in enumerate(cells):
        src = "".join(cell["source"])
        code = [ln for ln in src.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        total += len(code)
        if len(code) > 25:
            problems.append(f"cell {i}: {len(code)} code lines")
        if any(ln.lstrip().startswith(("def ", "class ", "async def ")) for ln in code):
            problems.append(f"cell {i}: defines a function or class")
        tree = ast.parse(src)
        for module, _ in _imports(tree):
            if not (module == own or module.startswith(own + ".") or module in SHARED_FOR_NOTEBOOKS
                    or module in THIRD_PARTY_FOR_NOTEBOOKS):
                problems.append(f"cell {i}: imports {module}")
    assert total <= 150, f"{path.name}: {total} code lines"
    assert problems == []
    source = "".join("".join(c["source"]) for c in cells)
    assert re.search(rf"\brun_{NOTEBOOK_STAGE[path.stem]}\(", source), f"{path.name} has no run_* call"
