"""ccpulse: streaming contact-center metrics from Kafka to Prometheus and derived topics."""

__version__ = "0.1.0"
