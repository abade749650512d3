"""Benchmarks of Universal Translator Pro against baselines measured in the same run."""
