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


# ---- sign-in and host settings (issue 13) ----------------------------------------------------


def test_security_defaults_are_closed() -> None:
    s = load_settings(env={})
    assert s.demo_admin == ""  # data management is never opened without an explicit opt-in
    assert s.allowed_hosts == ()  # () = this machine's own names and addresses only
    assert s.session_idle_min == 30
    assert s.session_max_h == 12


def test_security_settings_from_env() -> None:
    s = load_settings(
        env={
            "GEO_DEMO_ADMIN": "local",
            "GEO_ALLOWED_HOSTS": "atlas.example.cn, 10.0.0.5",
            "GEO_SESSION_IDLE_MIN": "5",
            "GEO_SESSION_MAX_H": "1.5",
        }
    )
    assert s.demo_admin == "local"
    assert s.allowed_hosts == ("atlas.example.cn", "10.0.0.5")
    assert (s.session_idle_min, s.session_max_h) == (5, 1.5)
    assert load_settings({"allowed_hosts": ["a.cn", "B.cn"]}, env={}).allowed_hosts == ("a.cn", "b.cn")
    assert load_settings(env={"GEO_DEMO_ADMIN": "off"}).demo_admin == ""


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"GEO_DEMO_ADMIN": "yes"}, "GEO_DEMO_ADMIN"),  # only the one explicit value opens anything
        ({"GEO_DEMO_ADMIN": "0.0.0.0"}, "GEO_DEMO_ADMIN"),
        ({"GEO_SESSION_IDLE_MIN": "0"}, "session_idle_min"),
        ({"GEO_SESSION_MAX_H": "-1"}, "session_max_h"),
        ({"GEO_ALLOWED_HOSTS": "bad host/"}, "allowed_hosts"),
    ],
)
def test_bad_security_values_name_the_setting(env: dict[str, str], match: str) -> None:
    with pytest.raises(InputError, match=match):
        load_settings(env=env)
