"""``ccpulse worker`` with every Kafka consumer's fetch wait capped: an experiment.

Faust creates its group consumer with ``fetch_max_wait_ms=1500``. A broker that answers
a fetch only when that wait is over, even if records arrived meanwhile (the embedded one
does), then delays each hop by up to 1.5 s at low load. This entry point caps the wait
(``CCPULSE_BENCH_FETCH_MAX_WAIT_MS``, default 50) in this process only, and otherwise
runs ``ccpulse worker`` unchanged, so the benchmarks can measure what the change would
gain. It is not part of the product.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import aiokafka

from processor.cli import main

WAIT_MS = int(os.environ.get("CCPULSE_BENCH_FETCH_MAX_WAIT_MS", "50"))
_original_init = aiokafka.AIOKafkaConsumer.__init__


def _capped_init(self: Any, *args: Any, **kwargs: Any) -> None:
    kwargs["fetch_max_wait_ms"] = min(int(kwargs.get("fetch_max_wait_ms", 500)), WAIT_MS)
    _original_init(self, *args, **kwargs)


aiokafka.AIOKafkaConsumer.__init__ = _capped_init

if __name__ == "__main__":
    sys.exit(main(["worker"]))
