"""Profile: latency reports for a model on a target, here or on a device over SSH, and A/B comparisons."""

from edgekd.profile.api import profile
from edgekd.profile.backends import RuntimeOptions
from edgekd.profile.compare import compare
from edgekd.profile.measure import MeasureConfig, summarize

__all__ = ["MeasureConfig", "RuntimeOptions", "compare", "profile", "summarize"]
