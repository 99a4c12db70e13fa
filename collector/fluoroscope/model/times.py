"""Reading a time from an API body: epoch seconds, or ISO 8601 text as the AWS CLI writes it."""

import math
from datetime import datetime


def epoch_seconds(value: object) -> float:
    """``value`` as epoch seconds; raises ValueError saying what it must be."""
    if isinstance(value, bool):
        raise ValueError("must be a timestamp")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("must be a finite timestamp")
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise ValueError("must be epoch seconds or an ISO 8601 time")
