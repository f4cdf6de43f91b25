"""All settings, read from the environment (prefix ``CCPULSE_``) in this one place.

Nested settings use a double underscore: ``CCPULSE_KAFKA__BOOTSTRAP_SERVERS``,
``CCPULSE_TOPICS__CALLS``. Nothing else in ccpulse reads the environment; Faust gets its
settings passed explicitly from here.
"""

from __future__ import annotations

import json
from datetime import timedelta
from enum import StrEnum
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from processor.codec import EVENT_AGE_LIMIT_DAYS, FUTURE_SKEW_LIMIT_S
from processor.core.customer import RepeatRule
from processor.core.service_level import ServiceLevelRule
from processor.core.voice import VoiceRule
from processor.events import SourceKind
from processor.policies import parse_duration


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
    fetch_max_wait_ms: int = Field(
        default=1500,
        ge=1,
        le=30000,
        description="Longest a worker's consumer waits in a fetch for new records (Faust's "
        "1500 by default); brokers that always wait it out (the embedded one) add it to every "
        "hop.",
    )
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
    sla_events: str = Field(
        default="cc.sla-events", description="Output: SLA audit trail (warning, breach, met...)."
    )
    repeat_contacts: str = Field(
        default="cc.repeat-contacts", description="Output: repeat contacts and FCR verdicts."
    )
    partitions: int = Field(default=4, ge=1, description="Partitions of topics ccpulse creates.")

    def source(self, kind: SourceKind) -> str:
        return str(getattr(self, kind.value))

    def sources(self) -> dict[str, SourceKind]:
        """Topic name -> the source kind it carries."""
        return {self.source(kind): kind for kind in SourceKind}


class SlaSettings(BaseModel):
    """Where the SLA policies come from and which clock their deadlines run on."""

    model_config = ConfigDict(frozen=True)

    policy_file: str | None = Field(
        default=None, description="YAML file of SLA policies; none: no SLA is measured."
    )
    clock: Literal["wall", "event_time"] = Field(
        default="wall",
        description="`wall`: deadlines pass on the wall clock (live); `event_time`: when the "
        "newest event time seen passes them (replaying history).",
    )
    check_interval_s: float = Field(
        default=0.5, gt=0, description="How often passed deadlines and closed windows are sought."
    )
    lateness_s: float = Field(
        default=0.0,
        ge=0,
        description="`event_time` only: how late (seconds) an event may arrive and still count "
        "before a deadline or FCR window is judged; the clock runs this far behind the newest "
        "event time.",
    )


class RepeatSettings(BaseModel):
    """Repeat-contact windows and the first-contact-resolution rule."""

    model_config = ConfigDict(frozen=True)

    windows: tuple[str, ...] = Field(
        default=("7d",),
        min_length=1,
        description='Repeat windows reported at once, e.g. `["24h","72h","7d"]` (s/m/h/d/w).',
    )
    fcr_window: str | None = Field(
        default=None, description="Window after resolution that decides FCR; default the widest."
    )
    same_reason: bool = Field(
        default=False, description="Count a repeat only when the contact reason is the same."
    )

    @field_validator("windows", "fcr_window")
    @classmethod
    def _durations(cls, value: tuple[str, ...] | str | None) -> tuple[str, ...] | str | None:
        for window in (value,) if isinstance(value, str) else value or ():
            parse_duration(window)
        return value

    def rule(self) -> RepeatRule:
        windows = sorted(
            ((label, timedelta(seconds=parse_duration(label))) for label in self.windows),
            key=lambda window: window[1],
        )
        fcr = parse_duration(self.fcr_window) if self.fcr_window else windows[-1][1].total_seconds()
        return RepeatRule(tuple(windows), timedelta(seconds=fcr), self.same_reason)


class ServiceLevelSettings(BaseModel):
    """Call service level: answered within the threshold over the calls that count."""

    model_config = ConfigDict(frozen=True)

    threshold_s: float = Field(default=20.0, gt=0, description="Answered within this: in time.")
    short_abandon_s: float = Field(
        default=5.0, ge=0, description="Calls abandoned sooner are short abandons."
    )
    short_abandons: Literal["exclude", "count"] = Field(
        default="exclude", description="Whether short abandons count as missed calls."
    )
    abandons: Literal["count", "exclude"] = Field(
        default="count", description="Whether other abandoned calls count as missed calls."
    )

    def rule(self) -> ServiceLevelRule:
        return ServiceLevelRule(
            threshold_s=self.threshold_s,
            short_abandon_s=self.short_abandon_s,
            count_short_abandons=self.short_abandons == "count",
            count_abandons=self.abandons == "count",
        )


class SurveySettings(BaseModel):
    """How survey answers count: the CSAT positive threshold and the CES scale."""

    model_config = ConfigDict(frozen=True)

    csat_scale: int = Field(default=5, ge=2, le=10, description="Scale of the CSAT threshold.")
    csat_positive_from: int = Field(
        default=4,
        ge=1,
        description="CSAT answers from this score up are positive; answers on another scale "
        "are compared at the same share of it.",
    )
    ces_scale: int = Field(
        default=7, ge=2, le=10, description="CES scores are reported on this scale (1..N)."
    )

    @model_validator(mode="after")
    def _threshold_on_scale(self) -> SurveySettings:
        self.rule()
        return self

    def rule(self) -> VoiceRule:
        return VoiceRule(self.csat_scale, self.csat_positive_from, self.ces_scale)


DEFAULT_REASONS = (
    *("billing", "refund", "delivery_status", "damaged_item", "password_reset"),
    *("login_issue", "cancel_order", "change_address", "invoice_copy", "product_question"),
    *("warranty", "return_label", "subscription_change", "payment_failed", "promo_code"),
    *("account_closure", "technical_fault", "installation_help", "complaint", "feedback"),
)


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
    max_future_skew_s: float = Field(
        default=300.0,
        ge=0,
        le=FUTURE_SKEW_LIMIT_S,
        description="Events whose `occurred_at` is further ahead of the worker's clock are "
        "dead-lettered (`future_timestamp`).",
    )
    max_event_age_days: float = Field(
        default=3650.0,
        gt=0,
        le=EVENT_AGE_LIMIT_DAYS,
        description="Events older than this are dead-lettered (`ancient_timestamp`); raise it "
        "to replay an older archive.",
    )
    create_topics: bool = Field(
        default=True, description="Create missing source and output topics at start."
    )
    broker_wait_s: float = Field(
        default=300.0, gt=0, description="How long a worker waits for the broker at start."
    )
    unhealthy_after_s: float = Field(
        default=300.0,
        gt=0,
        description="A running worker that has not reached the broker for this long answers "
        "503 on /healthz (a liveness probe then restarts it).",
    )
    sla: SlaSettings = SlaSettings()
    repeat: RepeatSettings = RepeatSettings()
    service_level: ServiceLevelSettings = ServiceLevelSettings()
    surveys: SurveySettings = SurveySettings()
    reasons: tuple[str, ...] = Field(
        default=DEFAULT_REASONS,
        description="Contact reasons reported by name in metrics (typically 20-30); any other "
        "reason is reported as `other`.",
    )
    state_retention: str = Field(
        default="30d",
        description="How long a closed ticket's state, and a customer's past ticket, is kept "
        "after its last event (on the SLA clock); longer than the repeat and FCR windows and "
        "any redelivery.",
    )
    data_dir: str = Field(default=".ccpulse", description="Faust's local data directory.")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")

    @model_validator(mode="after")
    def _retention_outlasts_the_windows(self) -> Settings:
        repeat = self.repeat.rule()
        needed = max(repeat.windows[-1][1], repeat.fcr_window)
        if self.retention() <= needed:
            raise ValueError(
                f"state_retention {self.state_retention} must be longer than the widest "
                f"repeat or FCR window ({needed})"
            )
        return self

    def retention(self) -> timedelta:
        return timedelta(seconds=parse_duration(self.state_retention))


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
            elif isinstance(value, tuple | list):
                env[key] = json.dumps(list(value))
            elif value is not None:
                env[key] = str(value)

    flatten("CCPULSE_", settings)
    return env
