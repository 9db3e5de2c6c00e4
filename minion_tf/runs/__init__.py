"""Experiment runs: configs, the model registry, training, records. Used by experiments/run.py."""
