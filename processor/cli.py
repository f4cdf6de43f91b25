"""The ``ccpulse`` command: ``worker``, ``demo``, ``traffic``, ``replay`` and ``schemas``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from processor.config import KafkaSettings, Settings
from processor.policies import PolicyFileError
from processor.replay.options import add_arguments as add_replay_arguments


def _with_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    update: dict[str, object] = {}
    if getattr(args, "broker", None):
        kafka: KafkaSettings = settings.kafka.model_copy(update={"bootstrap_servers": args.broker})
        update["kafka"] = kafka
    if getattr(args, "metrics_port", None) is not None:
        update["metrics_port"] = args.metrics_port
    if getattr(args, "metrics_host", None):
        update["metrics_host"] = args.metrics_host
    if getattr(args, "sla_policies", None):
        update["sla"] = settings.sla.model_copy(update={"policy_file": args.sla_policies})
    return settings.model_copy(update=update)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccpulse", description="Live contact-center metrics from Kafka."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    worker = commands.add_parser("worker", help="run a processing worker")
    _kafka_options(worker)

    demo = commands.add_parser(
        "demo", help="embedded broker + worker + synthetic contact center + live summary"
    )
    _kafka_options(demo)
    _traffic_options(demo)
    demo.add_argument(
        "--prometheus",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run a local Prometheus with the rules on the demo worker "
        "(default: when `prometheus` is installed)",
    )
    demo.add_argument("--prometheus-port", type=int, default=9090, help="its port (default 9090)")

    traffic = commands.add_parser(
        "traffic", help="only produce the synthetic contact center's events (a load generator)"
    )
    _kafka_options(traffic, metrics=False)
    _traffic_options(traffic)

    replay = commands.add_parser(
        "replay", help="process a JSON Lines history of source events in event time"
    )
    add_replay_arguments(replay)

    schemas = commands.add_parser("schemas", help="write (or --check) the JSON Schemas")
    schemas.add_argument("--check", action="store_true", help="fail if committed files are stale")
    return parser


def _traffic_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=4.0, help="new contacts per second")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=120.0,
        help="divide agents' delays beyond 20 s by this so slow channels show up quickly",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--duration", type=float, default=None, help="stop after N seconds")


def _kafka_options(parser: argparse.ArgumentParser, *, metrics: bool = True) -> None:
    parser.add_argument("--broker", help="bootstrap servers (host:port,...); default: settings")
    if metrics:
        parser.add_argument("--metrics-port", type=int, default=None, help="/metrics port")
        parser.add_argument("--metrics-host", default=None, help="/metrics bind address")
        parser.add_argument("--sla-policies", metavar="FILE", help="SLA policy file (YAML)")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except PolicyFileError as error:
        print(f"ccpulse: {error}", file=sys.stderr)
        return 2


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "schemas":
        from processor.contracts import main as contracts

        return contracts(["check" if args.check else "write"])
    settings = _with_overrides(Settings(), args)
    if args.command == "replay":
        from processor.replay.command import run as run_replay

        return run_replay(settings, args)
    if args.command == "worker":
        from processor.shell.worker import run_worker

        run_worker(settings)
        return 0
    if args.command == "traffic":
        from processor.demo.runner import run_load

        return run_load(
            settings,
            rate=args.rate,
            time_scale=args.time_scale,
            seed=args.seed,
            duration=args.duration,
        )
    from processor.demo.prometheus import PrometheusError
    from processor.demo.runner import run_demo

    try:
        return run_demo(
            settings,
            external_broker=bool(args.broker),
            rate=args.rate,
            time_scale=args.time_scale,
            seed=args.seed,
            duration=args.duration,
            prometheus=args.prometheus,
            prometheus_port=args.prometheus_port,
        )
    except PrometheusError as error:
        print(f"ccpulse: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
