"""The service graph and its statistics: nodes, edges and per-minute counts derived from traces."""
