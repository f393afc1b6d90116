"""Device side of remote profiling: ``python -m edgekd.profile.agent profile|compare MODEL... --target JSON ...``.

Prints one line ``EDGEKD-REPORT <json>`` on success, or ``EDGEKD-ERROR <message>`` and exits 2; a watchdog ends
the process at ``--deadline-s`` so a stuck run cannot outlive the caller's timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from edgekd.errors import EdgekdError
from edgekd.profile.backends import RuntimeOptions
from edgekd.profile.measure import MeasureConfig
from edgekd.schemas import Target, validate

DEADLINE_EXIT = 124
REPORT_PREFIX, ERROR_PREFIX = "EDGEKD-REPORT ", "EDGEKD-ERROR "


def _watchdog(seconds: float) -> None:
    def stop() -> None:
        sys.stderr.write(f"edgekd agent: deadline of {seconds:.0f} s passed; stopping\n")
        sys.stderr.flush()
        os._exit(DEADLINE_EXIT)

    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m edgekd.profile.agent", description=__doc__)
    p.add_argument("kind", choices=["profile", "compare"])
    p.add_argument("models", nargs="+", type=Path)
    p.add_argument("--target", required=True, help="Target as JSON (its connection is ignored: runs here).")
    p.add_argument("--batch", required=True, help="Batch sizes, e.g. 1,8.")
    p.add_argument("--measure", required=True, help="MeasureConfig as JSON.")
    p.add_argument("--options", required=True, help="RuntimeOptions as JSON.")
    p.add_argument("--inputs", type=Path, help=".npz inputs.")
    p.add_argument("--per-op", action="store_true")
    p.add_argument("--deadline-s", type=float, help="Exit with code 124 after this many seconds.")
    return p


def run(argv: list[str] | None = None) -> dict:
    """Parse ``argv`` and profile or compare in this process; the report."""
    from edgekd.profile.api import profile_local
    from edgekd.profile.compare import compare_local

    args = _parser().parse_args(argv)
    if args.deadline_s:
        _watchdog(args.deadline_s)
    target = validate(Target, json.loads(args.target), "--target")
    cfg = validate(MeasureConfig, json.loads(args.measure), "--measure")
    options = validate(RuntimeOptions, json.loads(args.options), "--options")
    batches = [int(b) for b in args.batch.split(",")]
    if args.kind == "compare":
        if len(args.models) != 2:
            raise EdgekdError("compare needs exactly two models")
        return compare_local(args.models[0], args.models[1], target, batches, cfg, args.inputs, options, quiet=True)
    return profile_local(args.models[0], target, batches, cfg, args.inputs, options, args.per_op, quiet=True)


def main(argv: list[str] | None = None) -> int:
    try:
        report = run(argv)
    except EdgekdError as err:
        print(ERROR_PREFIX + str(err).replace("\n", " "), flush=True)
        return 2
    print(REPORT_PREFIX + json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
