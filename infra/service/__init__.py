"""The translation service on one cluster: workload, autoscaling, isolation, secrets, jobs."""

from infra.service.args import TranslatorServiceArgs
from infra.service.component import TranslatorService
from infra.service.env import ENV_VARS, PORT, PROVIDERS, EnvSource
from infra.service.jobs import _CHECK_LOOP as _CHECK_LOOP  # the tests parse its command line
from infra.service.jobs import BACKUP_METRICS_PATH, BACKUP_METRICS_PORT, BACKUP_METRICS_SA

__all__ = [
    "BACKUP_METRICS_PATH",
    "BACKUP_METRICS_PORT",
    "BACKUP_METRICS_SA",
    "ENV_VARS",
    "PORT",
    "PROVIDERS",
    "EnvSource",
    "TranslatorService",
    "TranslatorServiceArgs",
]
