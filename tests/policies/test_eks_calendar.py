"""The supported-version floor follows the dated EKS calendar, and says so when the calendar
itself runs out."""

from __future__ import annotations

from datetime import date

import pytest

from policies.offline import check
from policies.rules import eks_calendar
from tests.policies.factories import STACK, good_stack, set_

RULE = "aws-eks-supported-version"


def _violations(version: str, **config: object) -> list[str]:
    resources = set_("eks", "version", version)(good_stack())
    report = check(resources, STACK, config={RULE: dict(config)} if config else None)
    return [v.message for v in report.violations if v.rule == RULE]


@pytest.mark.parametrize(
    ("on", "oldest"),
    [
        (date(2026, 7, 28), "1.33"),
        (date(2026, 7, 29), "1.34"),  # billing for extended support starts on the end date
        (date(2026, 12, 7), "1.35"),
        (date(2027, 3, 27), None),
    ],
)
def test_oldest_version_in_standard_support(on: date, oldest: str | None) -> None:
    assert eks_calendar.oldest_in_standard_support(on) == oldest


def test_a_version_is_accepted_until_its_end_date() -> None:
    assert _violations("1.33", asOf="2026-07-28") == []
    (message,) = _violations("1.33", asOf="2026-07-29")
    assert "Kubernetes 1.33 left EKS standard support on 2026-07-29" in message


def test_the_pinned_stacks_version_is_judged_against_today(fixed_today: date) -> None:
    assert fixed_today == date(2026, 12, 7)
    assert _violations("1.35") == []
    assert _violations("1.36") == []  # newer than the calendar: not older than anything
    (message,) = _violations("1.34")
    assert "oldest version in standard support on 2026-12-07 is 1.35" in message


def test_an_exhausted_calendar_is_reported_not_ignored() -> None:
    (message,) = _violations("1.35", asOf="2027-04-01")
    assert "the EKS support calendar (policies/rules/eks_calendar.py) ends on 2027-03-27" in message


def test_minimum_version_can_only_raise_the_floor() -> None:
    assert _violations("1.35", minimumVersion="1.31") == []
    (message,) = _violations("1.35", minimumVersion="1.36")
    assert "older than the configured minimum version 1.36" in message


def test_a_malformed_as_of_date_is_a_violation() -> None:
    (message,) = _violations("1.35", asOf="next tuesday")
    assert "is not a date" in message


def test_unparseable_versions_are_not_in_standard_support() -> None:
    assert eks_calendar.minor("latest") is None
    (message,) = _violations("latest")
    assert "left EKS standard support" in message
