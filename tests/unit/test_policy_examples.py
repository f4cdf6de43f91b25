"""The shipped policy files load, and the README shows the example exactly as shipped."""

from __future__ import annotations

from pathlib import Path

from processor.core.sla import Target
from processor.demo.runner import DEMO_POLICIES
from processor.policies import load_policies

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "sla-policies.yaml"


def test_the_example_policy_file_loads_and_picks_policies_in_order() -> None:
    book = load_policies(EXAMPLE)
    urgent_email = book.policy_for("email", "urgent", None)
    assert urgent_email is not None
    assert urgent_email.name == "urgent"
    high_email = book.policy_for("email", "high", None)
    assert high_email is not None
    assert high_email.calendar is not None
    assert high_email.targets[Target.FIRST_RESPONSE] == 7200
    vip = book.policy_for("phone", "normal", "vip")
    assert vip is not None
    assert vip.name == "vip-phone"


def test_the_readme_includes_the_example_policy_file_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    start = "<!-- BEGIN INCLUDED: deploy/sla-policies.yaml -->\n```yaml\n"
    end = "```\n<!-- END INCLUDED: deploy/sla-policies.yaml -->"
    shown = readme.split(start, 1)[1].split(end, 1)[0]
    assert shown == EXAMPLE.read_text()


def test_the_demo_policies_cover_every_channel_the_demo_uses() -> None:
    book = load_policies(DEMO_POLICIES)
    for channel in ("phone", "email", "chat", "social", "sms"):
        policy = book.policy_for(channel, "normal", None)
        assert policy is not None, channel
        assert Target.FIRST_RESPONSE in policy.targets
