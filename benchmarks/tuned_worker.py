"""``ccpulse worker`` with a shorter fetch wait: an experiment.

A broker that answers a fetch only when its wait is over, even if records arrived
meanwhile (the embedded one does), delays each hop by up to that wait at low load; the
worker caps it at ``CCPULSE_KAFKA__FETCH_MAX_WAIT_MS`` (100 ms by default). This entry
point runs ``ccpulse worker`` unchanged with that setting at
``CCPULSE_BENCH_FETCH_MAX_WAIT_MS`` (default 50), so the benchmarks compare both waits.
"""

from __future__ import annotations

import os
import sys

from processor.cli import main

WAIT_MS = int(os.environ.get("CCPULSE_BENCH_FETCH_MAX_WAIT_MS", "50"))

if __name__ == "__main__":
    os.environ["CCPULSE_KAFKA__FETCH_MAX_WAIT_MS"] = str(WAIT_MS)
    sys.exit(main(["worker"]))
