"""Every Prometheus metric ccpulse exports, declared once, on an injected registry.

Counters and histograms are fed from core effects (``Metrics.record``, in ``recorder``
and ``voice``); backlog gauges are read at scrape time from the worker's view of its open
tickets, and consumer lag from the worker's Kafka consumer (``gauges``), so they always
describe exactly the partitions this worker owns and sum (or max) correctly across
workers. Readiness and broker reachability are read from the worker's health
(``gauges.WorkerStatusCollector``). The process's CPU, memory and start time come from
prometheus_client's process collector.

Labels are closed sets (``labels``): source, event type, reject reason, channel,
priority, SLA target, repeat window, configured contact reason. Counters are created at
zero for every label combination, so that ``increase()`` sees their first event. Never a
customer, ticket or agent id.
"""

from prometheus_client import disable_created_metrics

from processor.metrics.labels import CUSTOMER_VIEWS_LAG, LAG_TOPICS, ROUTED_LAG
from processor.metrics.recorder import Metrics

# `_created` series double the exposition and no rule or dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

__all__ = ["CUSTOMER_VIEWS_LAG", "LAG_TOPICS", "ROUTED_LAG", "Metrics"]
