"""The command line: ``python -m geo COMMAND ... [--json]``.

Each module in this package that defines ``register(subparsers)`` adds its commands,
so every feature owns its own command file. Every command accepts ``--data-dir`` and
``--json``; errors from :mod:`geo` print their message and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geo.errors import GeoError
from geo.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace, Settings], Any]


def add_common(parser: argparse.ArgumentParser) -> None:
    """Add the options every command has: ``--data-dir`` and ``--json``."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory (default: $GEO_DATA_DIR or ./data)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def command(
    subparsers: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    handler: Handler,
    help_text: str,
) -> argparse.ArgumentParser:
    """Create a sub-command whose ``handler(args, settings)`` returns a JSON-able result."""
    p: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text, description=help_text)
    add_common(p)
    p.set_defaults(handler=handler)
    return p


def progress_bar(enabled: bool) -> Callable[[float, str], None]:
    """Return a progress callback drawing a text bar on stderr (a no-op when disabled)."""

    def draw(fraction: float, message: str) -> None:
        if not enabled:
            return
        width = 30
        done = round(fraction * width)
        sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {fraction:4.0%} {message:<24}")
        if fraction >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return draw


def _to_jsonable(obj: Any) -> Any:  # noqa: ANN401 - any JSON-like structure
    if hasattr(obj, "to_dict") and hasattr(obj, "columns"):
        return json.loads(obj.to_json(orient="records", force_ascii=False, date_format="iso"))
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every command found in this package."""
    parser = argparse.ArgumentParser(prog="python -m geo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def print_result(result: Any, as_json: bool) -> None:  # noqa: ANN401 - JSON-able result
    """Print a command's result: JSON with ``--json``, else a readable text form."""
    if result is None:
        return
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=_to_jsonable))
    elif isinstance(result, str):
        print(result)
    elif hasattr(result, "to_string"):
        print(result.to_string(index=False))
    else:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=_to_jsonable))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings().with_overrides(data_dir=args.data_dir)
        result = args.handler(args, settings)
    except GeoError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": str(exc), "type": type(exc).__name__}, ensure_ascii=False))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_result(result, getattr(args, "json", False))
    return 0


def interactive() -> bool:
    """Return whether stderr is a terminal (draw progress bars only then, or when asked)."""
    return sys.stderr.isatty() or os.environ.get("GEO_PROGRESS") == "1"
