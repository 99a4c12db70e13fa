"""Sampling by X-Ray rules: rule matching, reservoirs and quotas, served to SDKs and applied to what arrives."""
