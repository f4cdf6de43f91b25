"""A minimal Faust worker that keeps per-key sums in a changelogged table.

Run as ``python -m tests.integration.sums_worker BOOTSTRAP APP_ID TOPIC STATE_FILE DATA_DIR
[--uncorrected]``. It reads JSON ``{"seq": n, "add": k}`` values keyed by a name and keeps
``[sum, last seq]`` per key in a memory-store table. A message whose ``seq`` is not newer
than the key's last one is a redelivery and is ignored, so only lost table updates can make
a sum wrong. Every 0.2 s it writes the whole table and the number of messages this process
has handled to STATE_FILE (atomically), which is how a test reads the table.
``--uncorrected`` leaves Faust's table recovery as the framework ships it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import faust
import orjson

from processor.config import KafkaSettings
from processor.kafka import faust_broker_options
from processor.shell.highwater import install_highwater_correction

PARTITIONS = 4
SESSION_TIMEOUT_S = 6.0
CHANGELOG_LINGER_S = 0.05


def create_app(args: argparse.Namespace) -> faust.App:
    kafka = KafkaSettings(bootstrap_servers=args.bootstrap, session_timeout_s=SESSION_TIMEOUT_S)
    app = faust.App(
        args.app_id,
        **faust_broker_options(kafka),
        store="memory://",
        datadir=args.data_dir,
        topic_partitions=PARTITIONS,
        web_enabled=False,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        key_serializer="json",
        value_serializer="json",
        # Batching changelog writes, as production setups do for throughput, is what
        # exposes the broker's low ListOffsets answer: it is off by the size of the last
        # batch minus one, so one-record batches would hide it.
        producer_linger=CHANGELOG_LINGER_S,
    )
    source = app.topic(
        args.topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    sums = app.Table("sums", partitions=PARTITIONS)
    handled = 0

    @app.agent(source, concurrency=1)
    async def add(stream: faust.StreamT[bytes]) -> None:
        nonlocal handled
        async for key, value in stream.items():
            message = orjson.loads(value)
            name = key.decode()
            total, last_seq = sums.get(name, (0, -1))
            if message["seq"] > last_seq:
                sums[name] = [total + message["add"], message["seq"]]
            handled += 1

    async def write_state() -> None:
        write_atomically(Path(args.state_file), {"handled": handled, "sums": dict(sums.items())})

    app.timer(0.2)(write_state)
    return app


def write_atomically(path: Path, state: dict[str, Any]) -> None:
    partial = path.with_name(f"{path.name}.partial")
    partial.write_bytes(orjson.dumps(state))
    os.replace(partial, path)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("bootstrap", "app_id", "topic", "state_file", "data_dir"):
        parser.add_argument(name)
    parser.add_argument("--uncorrected", action="store_true")
    args = parser.parse_args()
    if not args.uncorrected:
        install_highwater_correction()
    app = create_app(args)
    faust.Worker(app, loglevel="INFO", redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main()
