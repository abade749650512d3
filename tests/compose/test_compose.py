"""compose.yaml: valid for Docker Compose (`docker compose config`, or the standalone
`docker-compose config`), and holding what the single-host install promises."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.monitoring_config import silent_alertmanager_config
from service.settings import env_var_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
SERVICE_CONTAINERS = ("api", "migrate", "backup")


def _compose_command() -> list[str]:
    if shutil.which("docker"):
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if os.environ.get("CI"):
        pytest.fail("Docker Compose is required in CI (apt-get install docker-compose)")
    pytest.skip("neither `docker compose` nor `docker-compose` is installed")


def _config(compose_file: Path, project: Path) -> subprocess.CompletedProcess[str]:
    # The project directory holds the operator's utp.env; Compose needs it to exist.
    (project / "utp.env").write_text("UTP_LOG_LEVEL=info\n")
    return subprocess.run(
        [
            *_compose_command(),
            "-f",
            str(compose_file),
            "--project-directory",
            str(project),
            "config",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "COMPOSE_PROJECT_NAME": "utp"},
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = _config(COMPOSE, tmp_path_factory.mktemp("project"))
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(result.stdout)
    assert isinstance(doc, dict)
    return doc


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """target -> source, from the short (`src:dst:mode`) or the long form."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source", ""), volume["target"]
        mounts[target] = source
    return mounts


def test_compose_validates_and_has_every_service(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {
        "api", "migrate", "backup", "postgres", "redis", "traefik",
        "prometheus", "alertmanager", "loki", "promtail", "grafana",
    }  # fmt: skip


def test_the_validator_rejects_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("  read_only: true", "  readonly: true", 1))
    result = _config(broken, tmp_path)
    assert result.returncode != 0 and "readonly" in result.stderr


def test_the_api_scales_and_runs_hardened(config: dict[str, Any]) -> None:
    api = config["services"]["api"]
    # A fixed name or a host port would stop `docker compose up -d --scale api=3`.
    assert "container_name" not in api and "ports" not in api
    assert api["user"] == "10001:10001" and api["read_only"] is True
    assert api["cap_drop"] == ["ALL"] and "no-new-privileges:true" in api["security_opt"]
    assert any(t.startswith("/tmp") for t in api["tmpfs"])
    assert _mounts(api)["/var/lib/utp"] == "utp-data"
    assert api["labels"]["traefik.http.routers.utp.tls.certresolver"] == "letsencrypt"
    assert "!PathPrefix(`/metrics`)" in api["labels"]["traefik.http.routers.utp.rule"]
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_long_running_services_have_healthchecks_and_limits(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        if name == "migrate":
            continue
        assert service["deploy"]["resources"]["limits"]["memory"], name
        # The api's HEALTHCHECK is the image's own (service/Dockerfile); promtail's image has
        # no HTTP client to probe itself with.
        if name not in ("api", "promtail"):
            assert service["healthcheck"]["test"][0] == "CMD", name


def test_secrets_are_files_read_through_the_settings_file_variables(
    config: dict[str, Any],
) -> None:
    assert all(Path(s["file"]).parent.name == "secrets" for s in config["secrets"].values())
    known = env_var_names()
    for name in SERVICE_CONTAINERS:
        env = config["services"][name]["environment"]
        files = {
            k.removesuffix("_FILE") for k in env if k.startswith("UTP_") and k.endswith("_FILE")
        }
        assert {"UTP_DATABASE_URL", "UTP_SECRET_KEY", "UTP_ENCRYPTION_KEY"} <= files, name
        assert files <= known, name
        assert not files & set(env), f"{name}: a secret set both inline and from a file"


def test_backups_run_on_a_schedule_into_their_own_volume(config: dict[str, Any]) -> None:
    backup = config["services"]["backup"]
    script = " ".join(backup["command"])
    assert "utp backup --type full" in script and "utp backups prune" in script
    assert "sleep" in script and backup["environment"]["UTP_BACKUP_LOCAL_DIR"] == "/backups"
    assert _mounts(backup)["/backups"] == "utp-backups"


def test_monitoring_uses_the_clusters_rules_dashboards_and_routing(
    config: dict[str, Any],
) -> None:
    services = config["services"]
    prometheus = _mounts(services["prometheus"])
    assert prometheus["/etc/prometheus/rules"].endswith("infra/monitoring/rules")
    grafana = _mounts(services["grafana"])
    assert grafana["/var/lib/grafana/dashboards"].endswith("infra/monitoring/dashboards")
    alertmanager = yaml.safe_load((ROOT / "compose" / "alertmanager.yml").read_text())
    assert alertmanager == silent_alertmanager_config()


def test_prometheus_labels_the_replicas_as_the_rules_expect() -> None:
    prometheus = yaml.safe_load((ROOT / "compose" / "prometheus.yml").read_text())
    [utp] = [job for job in prometheus["scrape_configs"] if job["job_name"] == "utp"]
    assert utp["dns_sd_configs"][0]["names"] == ["api"]
    assert {"target_label": "namespace", "replacement": "utp"} in utp["relabel_configs"]
    rules = "".join(p.read_text() for p in (ROOT / "infra" / "monitoring" / "rules").glob("*.yaml"))
    assert 'job="utp"' in rules and 'namespace="utp"' in rules


def test_promtail_runs_the_clusters_pipeline_after_dockers_framing() -> None:
    cluster = yaml.safe_load((ROOT / "infra" / "monitoring" / "logging.yaml").read_text())
    promtail = yaml.safe_load((ROOT / "compose" / "promtail.yaml").read_text())
    [job] = promtail["scrape_configs"]
    stages = job["pipeline_stages"]
    assert stages[0] == {"docker": {}} and cluster["promtail"]["pipeline_stages"][0] == {"cri": {}}
    assert stages[1:] == cluster["promtail"]["pipeline_stages"][1:]


def test_alertmanager_config_passes_amtool() -> None:
    if shutil.which("amtool") is None:
        pytest.skip("amtool is not installed")
    result = subprocess.run(
        ["amtool", "check-config", str(ROOT / "compose" / "alertmanager.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
