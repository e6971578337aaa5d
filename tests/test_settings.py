"""Settings: defaults, secrets, env vars, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.errors import InputError
from geo.settings import Settings, load_settings


def test_defaults() -> None:
    s = load_settings(env={})
    assert s == Settings()
    assert s.k_anonymity == 10
    assert s.data_dir == Path("data")


def test_env_overrides_secrets_which_override_defaults() -> None:
    s = load_settings({"k_anonymity": 20, "tiles": "osm"}, env={"GEO_K_ANONYMITY": "30"})
    assert s.k_anonymity == 30
    assert s.tiles == "osm"
    assert s.with_overrides(data_dir="/x", tiles=None).data_dir == Path("/x")


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"GEO_K_ANONYMITY": "ten"}, "k_anonymity"),
        ({"GEO_TILES": "google"}, "tiles"),
        ({"GEO_ENGINE": "spark"}, "engine"),
        ({"GEO_K_ANONYMITY": "0"}, "at least 1"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], match: str) -> None:
    with pytest.raises(InputError, match=match):
        load_settings(env=env)
