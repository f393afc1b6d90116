"""Package, check and verify: CI bundles with manifest and model card, budget gates, safe extraction.

``api.package`` (run -> bundle), ``gates.check`` (budget gates, JUnit, CI summary), ``verify.verify`` (hashes,
schema, ONNX Runtime I/O); ``collect`` reads a run, ``card`` writes MODEL_CARD.md, ``tarball`` packs and unpacks.
"""
