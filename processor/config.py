"""All settings, read from the environment (prefix ``CCPULSE_``) in this one place.

Nested settings use a double underscore: ``CCPULSE_KAFKA__BOOTSTRAP_SERVERS``,
``CCPULSE_TOPICS__CALLS``. Nothing else in ccpulse reads the environment; Faust gets its
settings passed explicitly from here.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from processor.events import SourceKind


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class KafkaSettings(BaseModel):
    """How to reach the Kafka cluster (any Kafka-protocol broker)."""

    model_config = ConfigDict(frozen=True)

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated host:port list."
    )
    security_protocol: SecurityProtocol = Field(
        default=SecurityProtocol.PLAINTEXT,
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    sasl_mechanism: SaslMechanism | None = Field(
        default=None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default PLAIN)."
    )
    sasl_username: str | None = Field(default=None, description="SASL user.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    ssl_cafile: str | None = Field(default=None, description="CA bundle to verify the broker.")
    ssl_certfile: str | None = Field(default=None, description="Client certificate (mTLS).")
    ssl_keyfile: str | None = Field(default=None, description="Client key (mTLS).")
    session_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Consumer-group session timeout. Keep it low (6-10 s) on the embedded "
        "broker, which holds every group join for half of it.",
    )


class TopicSettings(BaseModel):
    """Topic names and the partition count used when ccpulse creates topics."""

    model_config = ConfigDict(frozen=True)

    calls: str = Field(default="cc.calls", description="Telephony / ACD events.")
    emails: str = Field(default="cc.emails", description="Mail gateway events.")
    chats: str = Field(default="cc.chats", description="Chat and SMS conversations.")
    social: str = Field(default="cc.social", description="Social posts and replies.")
    tickets: str = Field(default="cc.tickets", description="Helpdesk ticket lifecycle.")
    surveys: str = Field(default="cc.surveys", description="CSAT / NPS / CES answers.")
    ticket_metrics: str = Field(
        default="cc.ticket-metrics", description="Output: ticket metric snapshots."
    )
    deadletter: str = Field(
        default="cc.deadletter", description="Output: rejected input with the reason."
    )
    partitions: int = Field(default=4, ge=1, description="Partitions of topics ccpulse creates.")

    def source(self, kind: SourceKind) -> str:
        return str(getattr(self, kind.value))

    def sources(self) -> dict[str, SourceKind]:
        """Topic name -> the source kind it carries."""
        return {self.source(kind): kind for kind in SourceKind}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CCPULSE_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    app_id: str = Field(
        default="ccpulse",
        description="Consumer group and prefix of internal topics; workers sharing it share work.",
    )
    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    metrics_host: str = Field(default="127.0.0.1", description="Bind address of /metrics.")
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="0 picks a free port.")
    batch_size: int = Field(default=500, ge=1, description="Events folded per batch.")
    batch_within_s: float = Field(default=0.05, gt=0, description="Longest wait to fill a batch.")
    max_event_bytes: int = Field(
        default=65536, ge=256, description="Larger source messages are dead-lettered."
    )
    create_topics: bool = Field(
        default=True, description="Create missing source and output topics at start."
    )
    broker_wait_s: float = Field(
        default=300.0, gt=0, description="How long a worker waits for the broker at start."
    )
    data_dir: str = Field(default=".ccpulse", description="Faust's local data directory.")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``CCPULSE_*`` environment that gives a child process exactly these settings."""
    env: dict[str, str] = {}

    def flatten(prefix: str, model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            key = f"{prefix}{name.upper()}"
            if isinstance(value, BaseModel):
                flatten(f"{key}__", value)
            elif isinstance(value, SecretStr):
                env[key] = value.get_secret_value()
            elif value is not None:
                env[key] = str(value)

    flatten("CCPULSE_", settings)
    return env
