"""Consumer lag of a running Faust app: high watermark minus committed offset.

The high watermark comes from the consumer's last Fetch response, which is right even on
brokers whose ListOffsets answer is too low (see ``highwater``); the committed offset is
the one Faust keeps for each assigned partition (read when the partition was assigned,
updated on every commit). A partition never committed counts from offset 0, where it is
read from. It reports only the topics it is given a name for, and nothing for partitions
whose high watermark the consumer has not fetched yet.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any


def consumer_lag(app: Any, names: Mapping[str, str]) -> dict[str, int]:
    """Lag per reported name (``names``: topic -> name) over this worker's partitions."""
    lag = dict.fromkeys(names.values(), 0)
    consumer = getattr(app, "_consumer", None)  # not created until the app starts
    if consumer is None:
        return lag
    # Read from the /metrics thread while the consumer runs: copy, and tolerate a consumer
    # not started yet or a partition revoked between listing it and asking for its watermark.
    committed: Mapping[Any, int | None] = dict(consumer._committed_offset)
    with contextlib.suppress(Exception):
        assigned = list(consumer.assignment())
        for tp in assigned:
            name = names.get(tp.topic)
            highwater = consumer.highwater(tp) if name is not None else None
            if name is not None and highwater is not None:
                lag[name] += max(0, highwater - (committed.get(tp) or 0))
    return lag
