"""The `impact` command: parse options, call the Python API, turn ImpactError into exit codes.

Exit codes: 0 success; 1 analysis failed; 2 invalid spec or usage; 3 invalid data;
4 a required output failed disclosure checks.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .errors import ImpactError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="impact",
        description="Quasi-experimental impact estimation on linked national pupil data.",
    )
    parser.add_argument("--version", action="version", version=f"impact {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in _COMMANDS:
        register(sub)
    return parser


_COMMANDS: list = []


def command(register):
    """Decorator: add a sub-command registrar (it adds a subparser and sets `func`)."""
    _COMMANDS.append(register)
    return register




def main(argv: Sequence[str] | None = None) -> int:
    from . import cli_commands  # noqa: F401  (registers the sub-commands)

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except ImpactError as exc:
        print(f"impact: error: {' '.join(str(exc).splitlines())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("impact: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
