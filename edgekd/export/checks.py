"""What ``compile`` checks before it loads torch: target, precision, the model file, trust and output directory.

Importing this loads no torch, so ``edgekd compile`` refuses such bad input in well under a second.
"""

from __future__ import annotations

from pathlib import Path

from edgekd.errors import EdgekdError
from edgekd.export.verify import TOLERANCES
from edgekd.inputs import check_model_file, check_out_dir
from edgekd.schemas import Target
from edgekd.targets import get_target


def factory_parts(spec: str) -> tuple[str, str]:
    """``--factory module:function`` -> (module, function), or a one-line error saying how to write it."""
    mod_name, _, fn_name = spec.partition(":")
    if not mod_name or not fn_name:
        raise EdgekdError(f"--factory {spec!r}: write it as module:function, e.g. mypkg.models:build")
    return mod_name, fn_name


def check_trust(model: Path, factory: str | None, trust_code: bool) -> None:
    """Sources that run code need ``trust_code``: a factory imports its module, a ``.pt2`` may unpickle objects."""
    if trust_code:
        return
    if factory is not None:
        raise EdgekdError(f"--factory {factory} runs code from that module; pass --trust-code if you trust it")
    if model.suffix == ".pt2":
        raise EdgekdError(f"{model}: torch.export.load falls back to unpickling objects in a .pt2, which can run "
                          "code; pass --trust-code if you trust this file")


def check_request(model: str | Path, target: str | Path | Target, precision: str | None, out: str | Path,
                  factory: str | None = None, trust_code: bool = False) -> tuple[Target, str]:
    """(target, precision) of a compile (``precision`` None: the target's), checked with the model file (unless a
    factory makes the model), trust and the output directory."""
    tgt = get_target(target)
    precision = tgt.precision if precision is None else precision
    if precision not in TOLERANCES:
        raise EdgekdError(f"precision {precision!r} is not supported; use one of {', '.join(TOLERANCES)}")
    if factory is None:
        check_model_file(model)
    check_trust(Path(model), factory, trust_code)
    if factory is not None:
        factory_parts(factory)
    check_out_dir(out)
    return tgt, precision
