"""Run a spec unattended (cron, Windows Task Scheduler, Slurm) and act on `impact run`'s exit code.

    python examples/batch_run.py SPEC [--data DIR] [--results ROOT]

Each run writes a new bundle `ROOT/<spec name>/<UTC time>` (a suffix is added if that folder
exists), so a previous bundle is never overwritten; `ROOT/<spec name>/LATEST` names the newest
complete one. Every run appends to `ROOT/batch.log`. This script's own exit code is impact's, so
the scheduler sees the same meaning (docs/reference/cli.md):

    0 success          1 analysis failed       2 invalid spec or usage
    3 invalid data     4 an output failed disclosure checks (bundle kept, not releasable)

Options can also come from the environment: IMPACT_DATA (extract folder), IMPACT_RESULTS (ROOT).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import yaml

#: What to do after each exit code: the log message. Codes not listed are unexpected.
ACTIONS = {
    0: "success: bundle complete",
    1: "analysis failed: a model could not be estimated; see the message above and the spec's design",
    2: "invalid spec or usage: fix the field named above; re-running will not help",
    3: "invalid data: the extracts break their contracts; run `impact data check` on them and ask the data provider",
    4: "disclosure checks failed: the bundle is kept for inspection but must NOT be released; see disclosure.json",
}


def new_bundle_dir(root: Path, name: str, stamp: str) -> Path:
    """A folder for this run that does not exist yet: ROOT/name/stamp, or stamp-2, stamp-3, ..."""
    base = root / name / stamp
    candidate, k = base, 1
    while candidate.exists():
        k += 1
        candidate = base.with_name(f"{stamp}-{k}")
    return candidate


def log(root: Path, message: str) -> None:
    """Append one timestamped line to ROOT/batch.log and echo it to standard output."""
    line = f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} {message}"
    print(line, flush=True)
    with open(root / "batch.log", "a", encoding="utf-8") as f:
        f.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--data", type=Path, default=os.environ.get("IMPACT_DATA"), help="extract folder (default: the spec's data)")
    parser.add_argument("--results", type=Path, default=Path(os.environ.get("IMPACT_RESULTS", "results")), help="results root")
    args = parser.parse_args(argv)
    args.results.mkdir(parents=True, exist_ok=True)

    try:  # the bundle folder is named after the spec; an unreadable spec is left for impact to report
        name = yaml.safe_load(args.spec.read_text(encoding="utf-8"))["name"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):  # an invalid spec: `impact run` below reports it
        name = args.spec.stem
    out = new_bundle_dir(args.results, str(name), datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    command = [sys.executable, "-m", "impact", "run", str(args.spec), "--out", str(out), "--quiet"]
    if args.data is not None:
        command += ["--data", str(args.data)]
    log(args.results, f"start {' '.join(command[2:])}")
    done = subprocess.run(command, capture_output=True, text=True)
    for line in (done.stdout + done.stderr).splitlines():
        log(args.results, f"  | {line}")
    code = done.returncode
    log(args.results, f"exit {code}: {ACTIONS.get(code, 'unexpected exit code (interrupted or crashed); nothing was written')}")
    if code == 0:
        (out.parent / "LATEST").write_text(out.name + "\n", encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
