"""When each Kubernetes minor version leaves EKS standard support: the floor of
`aws-eks-supported-version` is derived from these dates, never typed in by hand.

Source: the "Amazon EKS Kubernetes release calendar" in the EKS user guide (dates in UTC; billing
for extended support starts at the beginning of the end date). A version's standard support
lasts 14 months from its EKS release. Add the next row when EKS releases a version: once every
row's date has passed the rule reports the calendar itself as out of date instead of silently
accepting whatever is pinned.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

STANDARD_SUPPORT_ENDS: dict[str, date] = {
    "1.29": date(2025, 3, 23),
    "1.30": date(2025, 7, 23),
    "1.31": date(2025, 11, 26),
    "1.32": date(2026, 3, 23),
    "1.33": date(2026, 7, 29),
    "1.34": date(2026, 12, 2),
    "1.35": date(2027, 3, 27),
}


def today() -> date:
    """The current UTC date (the policy pack runs at preview time)."""
    return datetime.now(UTC).date()


def minor(version: str) -> tuple[int, int] | None:
    try:
        major, minor_, *_ = (int(p) for p in version.split("."))
    except ValueError:
        return None
    return major, minor_


def oldest_in_standard_support(on: date) -> str | None:
    """The oldest version still in standard support on `on` (its end date is later), or None
    when every known version has left it: the calendar needs its next rows."""
    current = [v for v, ends in STANDARD_SUPPORT_ENDS.items() if ends > on]
    return min(current, key=lambda v: minor(v) or (0, 0)) if current else None


def support_ends(version: str) -> date | None:
    """When `version` leaves standard support (None: newer than the calendar, or unknown)."""
    wanted = minor(version)
    for known, ends in STANDARD_SUPPORT_ENDS.items():
        if minor(known) == wanted:
            return ends
    return None
