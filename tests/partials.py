"""An engine for tests that takes the partials path in this process (no cluster)."""

from __future__ import annotations

from dataclasses import dataclass

from geo.engines import LocalEngine


@dataclass(frozen=True)
class PartialsHere(LocalEngine):
    """The local engine made to take the partials path, in this process (no cluster)."""

    @property
    def embedded(self) -> bool:
        return False
