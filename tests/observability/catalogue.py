"""What the service and the named exporters export, and the metric names a PromQL query uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from service.observability import metrics

ROOT = Path(__file__).resolve().parents[2]
METRICS_DOC = ROOT / "docs" / "metrics.md"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
MONITORING = ROOT / "infra" / "monitoring"
RULES_DIR = MONITORING / "rules"
RULE_TESTS_DIR = MONITORING / "tests"
DASHBOARDS_DIR = MONITORING / "dashboards"

SERVICE_SECTION = "Service metrics"
EXPORTER_SECTION = "Exporter metrics used by alerts and dashboards"


@dataclass(frozen=True)
class Metric:
    name: str  # as queried: counters with `_total`
    type: str
    labels: tuple[str, ...]


def _query_name(wrapper: MetricWrapperBase) -> str:
    name: str = wrapper._name
    return f"{name}_total" if wrapper._type == "counter" else name


def code_metrics() -> dict[str, Metric]:
    """Every metric object defined in service/observability/metrics.py."""
    found: dict[str, Metric] = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            assert value._name not in {m.name for m in found.values()}
            metric = Metric(_query_name(value), value._type, tuple(value._labelnames))
            found[metric.name] = metric
    return found


def registered_names() -> set[str]:
    """Metric family names as the registry describes them (what /metrics can contain)."""
    names: set[str] = set()
    for family in metrics.REGISTRY.collect():
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def series_names(metric: Metric) -> set[str]:
    """The sample names a metric produces in the exposition format."""
    if metric.type == "histogram":
        return {f"{metric.name}_bucket", f"{metric.name}_sum", f"{metric.name}_count"}
    return {metric.name}


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## +(.+?)\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and cells and re.fullmatch(r"`[^`]+`", cells[0]):
            rows.append(cells)
    return rows


def _labels(cell: str) -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`]+)`", cell))


def documented_service_metrics() -> dict[str, Metric]:
    section = _sections(METRICS_DOC.read_text())[SERVICE_SECTION]
    found: dict[str, Metric] = {}
    for cells in _rows(section):
        name = cells[0].strip("`")
        assert name not in found, f"{name} documented twice"
        found[name] = Metric(name, cells[1], _labels(cells[2]))
    return found


def documented_exporter_metrics() -> dict[str, Metric]:
    """Metrics of the named exporters (docs/metrics.md, one `###` section per exporter)."""
    section = _sections(METRICS_DOC.read_text())[EXPORTER_SECTION]
    found: dict[str, Metric] = {}
    for cells in _rows(section):
        name = cells[0].strip("`")
        found[name] = Metric(name, cells[1], ())
    return found


def known_series() -> dict[str, str]:
    """Every series name a rule or a panel may use, mapped to its metric type."""
    known: dict[str, str] = {}
    for metric in code_metrics().values():
        for name in series_names(metric):
            known[name] = "counter" if name.endswith(("_bucket", "_sum", "_count")) else metric.type
    for metric in documented_exporter_metrics().values():
        known[metric.name] = metric.type
    return known


# -- PromQL ---------------------------------------------------------------------------------

_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left"}
    | {"group_right", "offset", "Inf", "NaN", "inf", "nan"}
)
_COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})


def _strip(expr: str) -> str:
    """The query without strings, Grafana variables, label matchers and numbers (offsets kept)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\$\{[^}]*\}|\$\w+", "1m", text)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\boffset\s+-?[0-9a-z]+", "", text)
    return re.sub(r"(?<![A-Za-z0-9_:.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[smhdwy]?", "0", text)


def _occurrences(expr: str) -> list[tuple[str, int, str]]:
    """(metric name, position, stripped text) for every selector in a query."""
    text = _strip(expr)
    text = re.sub(r"\[[^\]]*\]", lambda m: " " * len(m.group()), text)
    grouping = r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
    text = re.sub(grouping, lambda m: " " * len(m.group()), text)
    found = []
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        token = match.group()
        if token in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        found.append((token, match.start(), text))
    return found


def metric_names(expr: str) -> set[str]:
    return {name for name, _, _ in _occurrences(expr)}


def enclosing_function(text: str, position: int) -> str | None:
    depth = 0
    for i in range(position - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            if depth == 0:
                match = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", text[:i])
                return match.group(1) if match else None
            depth -= 1
    return None


def raw_counters(expr: str, types: dict[str, str]) -> list[str]:
    """Counters used outside rate()/irate()/increase()/resets()."""
    return [
        name
        for name, position, text in _occurrences(expr)
        if types.get(name) == "counter"
        and enclosing_function(text, position) not in _COUNTER_FUNCTIONS
    ]
