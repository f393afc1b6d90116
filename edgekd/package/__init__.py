"""Package and check: CI bundles with manifest, model card and latency report; budget gates."""
