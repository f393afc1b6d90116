"""Device side of remote profiling: ``python -m edgekd.profile.agent profile|compare MODEL... --target JSON ...``.

Prints one line ``EDGEKD-REPORT <json>`` on success, or ``EDGEKD-ERROR <message>`` and exits 2; a watchdog ends
the process at ``--deadline-s`` so a stuck run cannot outlive the caller's timeout.

The device needs only onnxruntime (or tensorrt and cuda-python for engines), numpy and psutil: the host validated
the target and settings, so they arrive as JSON and are read as plain attributes; statistics are computed on the host.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

from edgekd.errors import EdgekdError

DEADLINE_EXIT = 124
REPORT_PREFIX, ERROR_PREFIX = "EDGEKD-REPORT ", "EDGEKD-ERROR "
FIELDS = {  # what the device reads of each JSON argument (the host sends the full pydantic dump)
    "--target": ("name", "runtime", "device", "precisions", "threads", "workspace_bytes"),
    "--measure": ("warmup_runs", "warmup_ms", "min_runs", "min_duration_s", "max_runs", "per_op_runs", "session_pairs"),
    "--options": ("graph_optimization", "threads", "inter_op_threads", "spinning"),
}


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
    p.add_argument("--explicit-batch", action="store_true", help="Fail, rather than skip, on a batch the model cannot take.")
    p.add_argument("--deadline-s", type=float, help="Exit with code 124 after this many seconds.")
    return p


def fields(text: str, flag: str) -> SimpleNamespace:
    """A JSON object argument as attributes; every key the device reads (``FIELDS``) must be present."""
    try:
        data = json.loads(text)
    except ValueError:
        raise EdgekdError(f"{flag} is not valid JSON") from None
    missing = [k for k in FIELDS[flag] if not isinstance(data, dict) or k not in data]
    if missing:
        raise EdgekdError(f"{flag} lacks {', '.join(missing)}; install the same edgekd version here as on the host")
    return SimpleNamespace(**data)


def run(argv: list[str] | None = None) -> dict:
    """Parse ``argv`` and profile or compare in this process; the report (compare: samples, no statistics)."""
    from edgekd.profile.local import compare_local, profile_local

    args = _parser().parse_args(argv)
    if args.deadline_s:
        _watchdog(args.deadline_s)
    target, cfg, options = (fields(getattr(args, f[2:]), f) for f in ("--target", "--measure", "--options"))
    target.precision = target.precisions[0]
    batches = [int(b) for b in args.batch.split(",")]
    if args.kind == "compare":
        if len(args.models) != 2:
            raise EdgekdError("compare needs exactly two models")
        return compare_local(args.models[0], args.models[1], target, batches, cfg, args.inputs, options, True,
                             args.explicit_batch)
    return profile_local(args.models[0], target, batches, cfg, args.inputs, options, args.per_op, True, args.explicit_batch)


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
