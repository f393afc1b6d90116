"""Search: student architectures under a target's latency budget (training-free proxies, evolution)."""
