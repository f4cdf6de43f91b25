"""``ccpulse replay``: a history of source events (JSON Lines) through the worker's own
processing steps, in event time, to the derived topics, ``metrics.prom`` and a report.

- ``source``: lines of the file and the source topic each belongs to;
- ``engine``: the worker's ``Pipeline`` in-process on dict tables, its internal topics
  looped back, deadlines passing on the event-time watermark less the lateness;
- ``sinks``: JSON Lines files per derived topic, and Kafka;
- ``history`` / ``report`` / ``render``: the summary figures and their Markdown / CSV;
- ``progress``: the progress display; ``command``: the command line.

It is not a second implementation of any metric: every number comes from the same core
and pipeline as a live worker's.
"""
