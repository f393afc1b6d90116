"""Importing this registers the built-in stages."""

from edgekd.distill import stage as _distill  # noqa: F401
from edgekd.export import stage as _export  # noqa: F401
from edgekd.profile import stage as _profile  # noqa: F401
from edgekd.package import stage as _package  # noqa: F401
from edgekd.search import stage as _search  # noqa: F401
from edgekd.quant.qad import stage as _qad  # noqa: F401
from edgekd.distill import sentence_stage as _sentence  # noqa: F401
