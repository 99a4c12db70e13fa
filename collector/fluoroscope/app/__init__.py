"""Wiring: the one place that names concrete components and connects them into a collector."""

from fluoroscope.app.collector import Collector

__all__ = ["Collector"]
