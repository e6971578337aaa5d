"""User command: ``python -m geo add-user NAME --role planner [--password-stdin]``.

Prints the lines to paste into ``.streamlit/secrets.toml`` (the Argon2 hash, never the
password). Without ``--password-stdin`` the password is asked twice on the terminal.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from geo import auth
from geo.cli import command
from geo.errors import InputError
from geo.settings import Settings


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise InputError("the two passwords differ; nothing was created")
    return password


def _add_user(args: argparse.Namespace, settings: Settings) -> Any:  # noqa: ANN401 - str or dict
    roles = auth.check_roles(args.role or ["viewer"], args.name)
    password_hash = auth.hash_password(_read_password(args.password_stdin))
    snippet = auth.toml_snippet(args.name, password_hash, roles)
    if args.json:
        return {
            "name": args.name,
            "roles": sorted(roles),
            "password_hash": password_hash,
            "secrets_toml": snippet,
            "env": {"GEO_USERS": {args.name: {"password_hash": password_hash, "roles": sorted(roles)}}},
        }
    return "# paste into .streamlit/secrets.toml (or put the same in GEO_USERS as JSON)\n" + snippet


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``add-user`` command."""
    p = command(
        sub,
        "add-user",
        _add_user,
        "create a sign-in user: print the secrets.toml lines with the password hash",
    )
    p.add_argument("name", help="sign-in name (letters, digits, _ . - @)")
    p.add_argument(
        "--role",
        action="append",
        choices=auth.ROLES,
        help="role (repeatable): viewer, planner, leader, admin; default viewer",
    )
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
