"""Loraplane GPU runtime: LoRA train / evaluate / serve / export for the control plane."""

__version__ = "0.1.0"
