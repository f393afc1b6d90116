"""Profile: latency reports for a model on a target."""

from edgekd.profile.api import profile
from edgekd.profile.measure import MeasureConfig, summarize

__all__ = ["MeasureConfig", "profile", "summarize"]
