"""Stage products on disk: taking upstream products from an earlier run (``--only``), and noting which files a
stage wrote (what ``--incremental`` copies when it reuses the stage).

Upstream products are copied by the contract: every product :mod:`contentlab.contract` declares for a stage
(a ``dir`` product with everything in it), so exactly what later stages may read arrives, whatever else the
earlier run holds.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from contentlab import contract

Snapshot = dict[str, tuple[int, int]]


def copy_upstream(source_run_dir: Path, run_dir: Path, stages: Sequence[str]) -> dict[str, list[str]]:
    """Copy the declared products of ``stages`` from an earlier run's directory; returns stage -> files copied
    (paths relative to the run directory). A product the earlier run does not have is left out."""
    copied: dict[str, list[str]] = {}
    for stage in stages:
        for name in contract.stage(stage).products:
            product = contract.product(name)
            src = product.at(source_run_dir)
            if not product.exists(source_run_dir):
                continue
            files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
            rels = [f.relative_to(source_run_dir).as_posix() for f in files]
            copy_files(source_run_dir, run_dir, rels)
            copied.setdefault(stage, []).extend(rels)
    return copied


def copy_files(source_dir: Path, target_dir: Path, rels: Iterable[str]) -> None:
    """Copy files (relative paths) from one directory to another, creating what is missing on the way."""
    for rel in rels:
        dst = target_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source_dir / rel, dst)


def snapshot(directory: Path, ignore: Iterable[str] = ()) -> Snapshot:
    """Size and modification time of every file below ``directory`` (relative POSIX path -> signature)."""
    skip = set(ignore)
    out: Snapshot = {}
    for path in directory.rglob("*"):
        rel = path.relative_to(directory).as_posix()
        if path.is_file() and rel not in skip and not path.name.endswith(".tmp"):
            st = path.stat()
            out[rel] = (st.st_size, st.st_mtime_ns)
    return out


def written(before: Snapshot, after: Snapshot) -> list[str]:
    """Files new or changed between two snapshots."""
    return sorted(rel for rel, sig in after.items() if before.get(rel) != sig)
