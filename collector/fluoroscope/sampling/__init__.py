"""Sampling by X-Ray rules: matching, reservoirs and quotas, for SDKs and for what arrives."""
