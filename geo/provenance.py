"""Where each table of a dataset version came from: demo generator, imported files, edits.

A version's manifest names its source (``demo``, an ``import`` of one table, an ``edit``
of one station) and the version it was built on; tables it did not write are those of
that base. Walking the chain back answers, per table, whether demo rows are still in it
and which files and edits went into it — so the app can label mixed data honestly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from geo.schema import TABLES


@dataclass
class TableSource:
    """What one table of a version is made of.

    Attributes
    ----------
    demo : bool
        Whether rows of the demo generator are (still) in the table.
    files : list of str
        Imported files, oldest first (``replace`` imports end the chain, ``append`` ones add).
    edits : int
        Single-station adds, edits and closes applied on top.
    """

    demo: bool = False
    files: list[str] = field(default_factory=list)
    edits: int = 0

    @property
    def pure_demo(self) -> bool:
        """Whether the table is exactly the demo data (no file, no edit)."""
        return self.demo and not self.files and not self.edits


def table_sources(manifests: Sequence[Mapping[str, Any]], version: str) -> dict[str, TableSource]:
    """Return, for each table of ``version``, what it is made of.

    Parameters
    ----------
    manifests : sequence of mapping
        Manifests of the versions of a data directory (:func:`geo.store.list_versions`).
    version : str
        The version to describe, e.g. the current one.
    """
    by_id = {str(m.get("dataset_version")): m for m in manifests}
    out = {name: TableSource() for name in TABLES}
    open_tables = set(TABLES)  # tables whose history is still being traced
    seen: set[str] = set()
    vid: str | None = version
    while vid is not None and vid in by_id and vid not in seen and open_tables:
        seen.add(vid)
        m = by_id[vid]
        source = m.get("source") or {}
        kind = source.get("kind")
        if kind == "demo" or (kind != "import" and kind != "edit"):
            # The generator (or an unknown writer) wrote every table still open.
            for name in open_tables:
                out[name].demo = kind == "demo"
            break
        name = str(source.get("table", ""))
        if name in open_tables:
            if kind == "edit":
                out[name].edits += 1
            else:
                out[name].files.insert(0, str(source.get("file") or "?"))
                if source.get("mode", "replace") != "append":
                    open_tables.discard(name)  # replaced: nothing older is in it
        vid = m.get("base_version")
    return out
