"""Quantization: int8 post-training quantization and quantization-aware distillation."""
