"""Training-free proxies that score a student at initialisation on one mini-batch; one file each."""

from edgekd.search.proxies.base import PROXIES, Proxy, ProxyBatch
from edgekd.search.proxies import diswot, gradnorm, naswot, size, synflow  # noqa: F401  (register the proxies)

__all__ = ["PROXIES", "Proxy", "ProxyBatch"]
