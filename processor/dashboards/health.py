"""The processor health board: is ccpulse scraped, keeping up, and counting honestly.

Scrape status and restarts of the workers (Prometheus job ``ccpulse``), whether each is
ready (as its /readyz answers) and reaches its Kafka broker, events consumed,
rejected and duplicated per source, snapshots published, first-response corrections
(late events earlier than what was seen), consumer lag per topic and per worker, and each
worker's CPU and resident memory. Lines on the lag and reject panels sit where the alerts
fire (10,000 messages; a 5 % rejected share).

It deliberately shows no contact-center figures (the operations and SLA boards do) and
nothing about Kafka's brokers themselves, which ccpulse does not export.
"""

from __future__ import annotations

from processor.dashboards.model import Dashboard, Row, Target, Thresholds, Unit, stat, timeseries

JOB = '{job="ccpulse"}'
INSTANCE = "{{instance}}"
LAG_ALERT = 10000

WORKERS = Row(
    "Workers",
    (
        stat(
            "Workers up",
            Target(f"sum(up{JOB})", "up"),
            thresholds=Thresholds("red", ((1, "green"),)),
            width=6,
            height=5,
        ),
        stat(
            "Workers down",
            Target(f"count(up{JOB} == 0) or vector(0)", "down"),
            thresholds=Thresholds("green", ((1, "red"),)),
            width=6,
            height=5,
        ),
        stat(
            "Restarts in the last hour",
            Target(f"sum(changes(process_start_time_seconds{JOB}[1h]))", "restarts"),
            thresholds=Thresholds("green", ((1, "orange"), (3, "red"))),
            width=6,
            height=5,
        ),
        stat(
            "Consumer lag",
            Target("sum(topic:ccpulse_consumer_lag_messages:sum)", "messages"),
            thresholds=Thresholds("green", ((LAG_ALERT // 10, "orange"), (LAG_ALERT, "red"))),
            width=6,
            height=5,
        ),
        timeseries(
            "Scrape up by worker",
            Target(f"up{JOB}", INSTANCE),
            minimum=0,
            maximum=1,
            width=12,
        ),
        timeseries(
            "Restarts in the last hour by worker",
            Target(f"changes(process_start_time_seconds{JOB}[1h])", INSTANCE),
            width=12,
        ),
    ),
)

READINESS = Row(
    "Readiness",
    (
        stat(
            "Workers ready",
            Target(f"sum(ccpulse_worker_ready{JOB})", "ready"),
            thresholds=Thresholds("red", ((1, "green"),)),
            description="Broker reachable, topics present, partitions assigned, tables "
            "recovered: what each worker's /readyz answers.",
            height=5,
        ),
        stat(
            "Workers not ready",
            Target(f"count(ccpulse_worker_ready{JOB} == 0) or vector(0)", "not ready"),
            thresholds=Thresholds("green", ((1, "orange"),)),
            height=5,
        ),
        stat(
            "Workers cut off from Kafka",
            Target(f"count(ccpulse_broker_connected{JOB} == 0) or vector(0)", "cut off"),
            thresholds=Thresholds("green", ((1, "red"),)),
            description="Workers whose last probe of the Kafka broker got no answer.",
            height=5,
        ),
        timeseries(
            "Ready by worker",
            Target(f"ccpulse_worker_ready{JOB}", INSTANCE),
            minimum=0,
            maximum=1,
            width=12,
        ),
        timeseries(
            "Broker reachable by worker",
            Target(f"ccpulse_broker_connected{JOB}", INSTANCE),
            minimum=0,
            maximum=1,
            width=12,
        ),
    ),
)

EVENTS = Row(
    "Events",
    (
        timeseries(
            "Events consumed per second by source",
            Target("source:ccpulse_events_consumed:rate1m", "{{source}}"),
            stacked=True,
        ),
        timeseries(
            "Rejected per second by source and reason",
            Target("source_reason:ccpulse_events_rejected:rate5m", "{{source}}: {{reason}}"),
            description="Messages sent to the dead-letter topic.",
        ),
        timeseries(
            "Rejected share by source (10 m)",
            Target(
                "sum by (source) (rate(ccpulse_events_rejected_total[10m]))"
                " / (sum by (source) (rate(ccpulse_events_rejected_total[10m]))"
                " + sum by (source) (rate(ccpulse_events_consumed_total[10m])) > 0)",
                "{{source}}",
            ),
            unit=Unit.RATIO,
            thresholds=Thresholds("green", ((0.05, "red"),)),
        ),
        timeseries(
            "Duplicates per second by source",
            Target("sum by (source) (rate(ccpulse_events_duplicate_total[5m]))", "{{source}}"),
            description="Redelivered events (an event id already seen) that changed nothing.",
        ),
        timeseries(
            "Snapshots published per second",
            Target("sum(rate(ccpulse_ticket_snapshots_published_total[5m]))", "snapshots"),
        ),
        timeseries(
            "First response corrections in the last hour",
            Target(
                "sum by (channel) (increase(ccpulse_first_response_corrections_total[1h]))",
                "{{channel}}",
            ),
            description="First response times changed by a late event earlier than those seen.",
        ),
    ),
)

KAFKA = Row(
    "Consumer lag",
    (
        timeseries(
            "Consumer lag by topic",
            Target("topic:ccpulse_consumer_lag_messages:sum", "{{topic}}"),
            thresholds=Thresholds("green", ((LAG_ALERT, "red"),)),
            description="Messages not yet processed and committed, over all workers.",
            width=12,
        ),
        timeseries(
            "Consumer lag by worker",
            Target("sum by (instance) (ccpulse_consumer_lag_messages)", INSTANCE),
            width=12,
        ),
    ),
)

PROCESS = Row(
    "Process",
    (
        timeseries(
            "CPU by worker (share of one core)",
            Target(f"rate(process_cpu_seconds_total{JOB}[5m])", INSTANCE),
            unit=Unit.RATIO,
            width=8,
        ),
        timeseries(
            "Resident memory by worker",
            Target(f"process_resident_memory_bytes{JOB}", INSTANCE),
            unit=Unit.BYTES,
            width=8,
        ),
        timeseries(
            "State forgotten per hour",
            Target("sum by (table) (increase(ccpulse_state_forgotten_total[1h]))", "{{table}}"),
            description="Closed tickets and customers deleted after CCPULSE_STATE_RETENTION: "
            "memory stays bounded while this keeps pace with tickets closed.",
            width=8,
        ),
    ),
)

PROCESSOR = Dashboard(
    uid="ccpulse-processor",
    title="ccpulse — Processor health",
    description="Scrape status, restarts, readiness and broker reachability, event "
    "throughput and rejects, consumer lag, CPU and memory of the ccpulse workers.",
    rows=(WORKERS, READINESS, EVENTS, KAFKA, PROCESS),
    time_from="now-3h",
    refresh="30s",
)
