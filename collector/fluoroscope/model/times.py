"""Reading a time from an API body: epoch seconds, or ISO 8601 text as the AWS CLI writes it."""

import math
from datetime import datetime

# The times datetime can represent (years 1 to 9999); anything outside is not a time anyone meant.
EARLIEST_S = -62_135_596_800.0
LATEST_S = 253_402_300_799.0


def epoch_seconds(value: object) -> float:
    """``value`` as epoch seconds; raises ValueError saying what it must be."""
    if isinstance(value, bool):
        raise ValueError("must be a timestamp")
    if isinstance(value, int | float):
        try:
            seconds = float(value)  # an integer past a double's range overflows
        except OverflowError:
            seconds = math.inf
        if not math.isfinite(seconds):
            raise ValueError("must be a finite timestamp")
        if not EARLIEST_S <= seconds <= LATEST_S:
            raise ValueError("must be a time between the years 1 and 9999")
        return seconds
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise ValueError("must be epoch seconds or an ISO 8601 time")
