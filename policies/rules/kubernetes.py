"""Kubernetes workloads and namespaces (raw resources only: Helm releases are opaque)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from policies.helpers import (
    UNKNOWN,
    Res,
    as_int,
    as_list,
    as_map,
    as_str,
    get,
    is_false,
    is_set,
    is_true,
    of_type,
    resource_rule,
    stack_rule,
    types,
)

DEPLOYMENT = types("kubernetes:apps/v1:Deployment")
LONG_RUNNING = DEPLOYMENT | types("kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet")
WORKLOADS = LONG_RUNNING | types(
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
)
SERVICE = types("kubernetes:core/v1:Service")
PDB = types("kubernetes:policy/v1:PodDisruptionBudget")
HPA = types(
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
)
NETWORK_POLICY = types("kubernetes:networking.k8s.io/v1:NetworkPolicy")
RESOURCE_QUOTA = types("kubernetes:core/v1:ResourceQuota")
NAMESPACED = (
    WORKLOADS
    | SERVICE
    | PDB
    | HPA
    | NETWORK_POLICY
    | RESOURCE_QUOTA
    | types(
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:core/v1:LimitRange",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        "kubernetes:networking.k8s.io/v1:Ingress",
    )
)

HPA_MIN = 2
HPA_MAX = 10
INGRESS_NAMESPACES = ("traefik", "ingress", "ingress-nginx")


# --- reading workloads -------------------------------------------------------------------------


def pod_spec(res: Res) -> Any:
    if res.type == "kubernetes:core/v1:Pod":
        return res.get("spec")
    if res.type == "kubernetes:batch/v1:CronJob":
        return res.get("spec", "jobTemplate", "spec", "template", "spec")
    return res.get("spec", "template", "spec")


def containers(spec: Any, *, init: bool = True) -> list[Any]:
    found = as_list(get(spec, "containers"))
    if init:
        found += as_list(get(spec, "initContainers"))
    return [c for c in found if c is not None]


def namespace_of(res: Res) -> str:
    """The namespace a namespaced object lands in: its own, its provider's, else `default`."""
    own = res.get("metadata", "namespace")
    if isinstance(own, str) and own:
        return own
    if own is UNKNOWN:
        return "<unknown>"
    provider_default = get(res.provider_props, "namespace")
    if isinstance(provider_default, str) and provider_default:
        return provider_default
    return "default"


def scope(res: Res) -> tuple[str, str]:
    """(cluster, namespace): the same namespace name in two clusters is two namespaces."""
    return (res.provider_urn or "<default provider>", namespace_of(res))


def _container_label(container: Any) -> str:
    return f"container '{as_str(get(container, 'name')) or '?'}'"


def _workload_check(
    check: Callable[[Any, Any], Iterator[str]], *, init: bool = True
) -> Callable[[Res], Iterator[str]]:
    """Run `check(container, pod_spec)` on every container of a workload."""

    def run(res: Res) -> Iterator[str]:
        spec = pod_spec(res)
        if spec is None or spec is UNKNOWN:
            return
        for container in containers(spec, init=init):
            for message in check(container, spec):
                yield f"{_container_label(container)}: {message}"

    return run


# --- pod security ------------------------------------------------------------------------------


def _effective(container: Any, spec: Any, *path: str) -> Any:
    own = get(container, "securityContext", *path)
    return own if own is not None else get(spec, "securityContext", *path)


def _run_as_non_root(container: Any, spec: Any) -> Iterator[str]:
    if as_int(_effective(container, spec, "runAsUser")) == 0:
        yield "runs as UID 0."
    elif not is_true(_effective(container, spec, "runAsNonRoot")):
        yield "runAsNonRoot is not set."


def _no_privilege_escalation(container: Any, _spec: Any) -> Iterator[str]:
    if not is_false(get(container, "securityContext", "allowPrivilegeEscalation")):
        yield "allowPrivilegeEscalation is not false."


def _not_privileged(container: Any, spec: Any) -> Iterator[str]:
    if is_true(get(container, "securityContext", "privileged")):
        yield "runs privileged."
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if get(spec, key) is True:
            yield f"the pod shares the node's namespace ({key})."


def _read_only_root(container: Any, _spec: Any) -> Iterator[str]:
    if not is_true(get(container, "securityContext", "readOnlyRootFilesystem")):
        yield "the root filesystem is writable."


def _drop_all(container: Any, _spec: Any) -> Iterator[str]:
    drop = get(container, "securityContext", "capabilities", "drop")
    if drop is UNKNOWN:
        return
    if "ALL" not in {as_str(c).upper() for c in as_list(drop)}:
        yield "capabilities are not dropped (drop: [ALL])."


def _seccomp(container: Any, spec: Any) -> Iterator[str]:
    profile = _effective(container, spec, "seccompProfile", "type")
    if profile not in ("RuntimeDefault", "Localhost", UNKNOWN):
        yield f"seccomp profile is {profile or 'unset (Unconfined)'}, not RuntimeDefault."


def _probes(container: Any, _spec: Any) -> Iterator[str]:
    missing = [p for p in ("livenessProbe", "readinessProbe") if get(container, p) is None]
    if missing:
        yield f"no {' or '.join(missing)}."


def _resources(container: Any, _spec: Any) -> Iterator[str]:
    resources = get(container, "resources")
    if resources is UNKNOWN:
        return
    missing = [
        f"{kind}.{what}"
        for kind, what in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))
        if not is_set(get(resources, kind, what))
    ]
    if missing:
        yield f"missing resources {', '.join(missing)}."


def image_is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    return last.rsplit(":", 1)[1] not in ("", "latest")


def _pinned_image(container: Any, _spec: Any) -> Iterator[str]:
    image = get(container, "image")
    if image is UNKNOWN:
        return
    if not isinstance(image, str) or not image_is_pinned(image):
        yield f"image {image!r} is not pinned to a tag or digest (untagged or :latest)."


# --- other objects -----------------------------------------------------------------------------


def _not_default_namespace(res: Res) -> Iterator[str]:
    if namespace_of(res) == "default":
        yield "it lives in the `default` namespace."


def _hpa_bounds(res: Res) -> Iterator[str]:
    low = int(res.setting("minReplicas", HPA_MIN))
    high = int(res.setting("maxReplicas", HPA_MAX))
    min_replicas = res.get("spec", "minReplicas")
    max_replicas = as_int(res.get("spec", "maxReplicas"))
    if min_replicas is not UNKNOWN and (as_int(min_replicas) or 1) < low:
        yield f"minReplicas is {as_int(min_replicas) or 1}; at least {low} keep the service up."
    if max_replicas is not None and max_replicas > high:
        yield f"maxReplicas is {max_replicas}; more than {high} is outside the capacity plan."


def _pdb_not_blocking(res: Res) -> Iterator[str]:
    max_unavailable = res.get("spec", "maxUnavailable")
    min_available = res.get("spec", "minAvailable")
    # The engine sends numbers as floats: 0 arrives as 0.0.
    if as_int(max_unavailable) == 0 or as_str(max_unavailable).strip() in ("0", "0%"):
        yield "maxUnavailable is 0, which blocks node drains and node group upgrades."
    if isinstance(min_available, str) and min_available.strip() == "100%":
        yield "minAvailable is 100%, which blocks node drains and node group upgrades."


def _is_ingress_controller(res: Res, allowed: list[str]) -> bool:
    labels = as_map(res.get("metadata", "labels"))
    return namespace_of(res) in allowed or get(labels, "app.kubernetes.io/component") == (
        "ingress-controller"
    )


def _no_load_balancer(res: Res) -> Iterator[str]:
    if res.get("spec", "type") != "LoadBalancer":
        return
    allowed = [as_str(n) for n in as_list(res.setting("allowedNamespaces", INGRESS_NAMESPACES))]
    if not _is_ingress_controller(res, allowed):
        yield "it is a LoadBalancer Service outside the ingress controller."


def _labels_match(selector: Any, labels: Mapping[str, Any]) -> bool:
    wanted = as_map(get(selector, "matchLabels"))
    if not wanted and not as_list(get(selector, "matchExpressions")):
        return False  # an empty PDB selector selects nothing useful
    return all(labels.get(k) == v for k, v in wanted.items())


StackFinding = Iterator[tuple[str, str | None]]


def _pdb_per_deployment(resources: list[Res], _config: Mapping[str, Any]) -> StackFinding:
    pdbs = of_type(resources, PDB)
    for deployment in of_type(resources, DEPLOYMENT):
        labels = as_map(deployment.get("spec", "template", "metadata", "labels"))
        covered = any(
            scope(p) == scope(deployment) and _labels_match(p.get("spec", "selector"), labels)
            for p in pdbs
        )
        if not covered:
            yield (
                f"Deployment '{deployment.name}' in namespace {namespace_of(deployment)} has no "
                "PodDisruptionBudget selecting its pods.",
                deployment.urn,
            )


def app_namespaces(resources: list[Res]) -> dict[tuple[str, str], Res]:
    """Namespaces (per cluster) that run raw workloads, with one workload as witness."""
    out: dict[tuple[str, str], Res] = {}
    for workload in of_type(resources, WORKLOADS):
        out.setdefault(scope(workload), workload)
    return out


def _denied_directions(policy: Res) -> set[str]:
    spec = policy.get("spec")
    selector = get(spec, "podSelector")
    if as_map(get(selector, "matchLabels")) or as_list(get(selector, "matchExpressions")):
        return set()  # selects some pods only
    declared = {as_str(t) for t in as_list(get(spec, "policyTypes"))} or {"Ingress"}
    denied = set()
    if "Ingress" in declared and not as_list(get(spec, "ingress")):
        denied.add("Ingress")
    if "Egress" in declared and not as_list(get(spec, "egress")):
        denied.add("Egress")
    return denied


def _default_deny(resources: list[Res], _config: Mapping[str, Any]) -> StackFinding:
    policies = of_type(resources, NETWORK_POLICY)
    for key, witness in app_namespaces(resources).items():
        denied: set[str] = set()
        for policy in policies:
            if scope(policy) == key:
                denied |= _denied_directions(policy)
        missing = [d for d in ("Ingress", "Egress") if d not in denied]
        if missing:
            yield (
                f"namespace {key[1]} (workload '{witness.name}') has no default-deny "
                f"NetworkPolicy for {' and '.join(missing)}.",
                witness.urn,
            )


def _resource_quota(resources: list[Res], _config: Mapping[str, Any]) -> StackFinding:
    quotas = {scope(q) for q in of_type(resources, RESOURCE_QUOTA)}
    for key, witness in app_namespaces(resources).items():
        if key not in quotas:
            yield (
                f"namespace {key[1]} (workload '{witness.name}') has no ResourceQuota.",
                witness.urn,
            )


def _pod_rule(
    name: str,
    description: str,
    check: Callable[[Any, Any], Iterator[str]],
    fix: str,
    *,
    kinds: frozenset[str] = WORKLOADS,
    init: bool = True,
    production_only: bool = False,
) -> Any:
    return resource_rule(
        name=name,
        description=description,
        area="kubernetes",
        types=kinds,
        check=_workload_check(check, init=init),
        fix=fix,
        production_only=production_only,
    )


RULES = [
    _pod_rule(
        "k8s-pod-run-as-non-root",
        "Workload containers run as a non-root user.",
        _run_as_non_root,
        "set securityContext.runAsNonRoot=True and a non-zero runAsUser on the pod or container.",
    ),
    _pod_rule(
        "k8s-pod-no-privilege-escalation",
        "Workload containers cannot escalate privileges.",
        _no_privilege_escalation,
        "set securityContext.allowPrivilegeEscalation=False on every container.",
    ),
    _pod_rule(
        "k8s-pod-not-privileged",
        "Workload containers are not privileged and pods do not share host namespaces.",
        _not_privileged,
        "remove securityContext.privileged and hostNetwork/hostPID/hostIPC.",
    ),
    _pod_rule(
        "k8s-pod-read-only-root-fs",
        "Workload containers have a read-only root filesystem.",
        _read_only_root,
        "set securityContext.readOnlyRootFilesystem=True and mount an emptyDir for scratch space.",
    ),
    _pod_rule(
        "k8s-pod-drop-all-capabilities",
        "Workload containers drop all Linux capabilities.",
        _drop_all,
        "set securityContext.capabilities.drop=['ALL'] (add back only what is needed).",
    ),
    _pod_rule(
        "k8s-pod-seccomp-runtime-default",
        "Workload pods use the RuntimeDefault seccomp profile.",
        _seccomp,
        "set securityContext.seccompProfile.type='RuntimeDefault' on the pod.",
    ),
    _pod_rule(
        "k8s-pod-probes",
        "Long-running workload containers have liveness and readiness probes.",
        _probes,
        "add livenessProbe (/health/live) and readinessProbe (/health/ready).",
        kinds=LONG_RUNNING,
        init=False,
        production_only=True,
    ),
    _pod_rule(
        "k8s-pod-resources",
        "Workload containers request CPU and memory and cap memory.",
        _resources,
        "set resources.requests {cpu, memory} and resources.limits {memory} on every container.",
    ),
    _pod_rule(
        "k8s-pod-pinned-image",
        "Workload images are pinned to a version tag or digest (never untagged or :latest).",
        _pinned_image,
        "reference the image by an immutable tag (e.g. :1.4.2) or @sha256 digest.",
    ),
    resource_rule(
        name="k8s-no-default-namespace",
        description="Kubernetes objects are not created in the `default` namespace.",
        area="kubernetes",
        types=NAMESPACED,
        check=_not_default_namespace,
        fix="set metadata.namespace to the application's own namespace.",
    ),
    resource_rule(
        name="k8s-hpa-bounds",
        description="HorizontalPodAutoscalers keep 2..10 replicas.",
        area="kubernetes",
        types=HPA,
        check=_hpa_bounds,
        fix="set spec.minReplicas >= 2 and spec.maxReplicas <= 10 (config: minReplicas, "
        "maxReplicas).",
        production_only=True,
        config={
            "minReplicas": {"type": "integer", "default": HPA_MIN},
            "maxReplicas": {"type": "integer", "default": HPA_MAX},
        },
    ),
    resource_rule(
        name="k8s-pdb-not-blocking",
        description="PodDisruptionBudgets never forbid every eviction (maxUnavailable 0).",
        area="kubernetes",
        types=PDB,
        check=_pdb_not_blocking,
        fix="use minAvailable: 1 (or maxUnavailable >= 1).",
    ),
    resource_rule(
        name="k8s-no-load-balancer-service",
        description="Only the ingress controller is exposed through a LoadBalancer Service.",
        area="kubernetes",
        types=SERVICE,
        check=_no_load_balancer,
        fix="use type ClusterIP and route through the ingress (config: allowedNamespaces).",
        config={
            "allowedNamespaces": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(INGRESS_NAMESPACES),
            }
        },
    ),
    stack_rule(
        name="k8s-pdb-per-deployment",
        description="Every Deployment has a PodDisruptionBudget selecting its pods.",
        area="kubernetes",
        check=_pdb_per_deployment,
        fix="add a policy/v1 PodDisruptionBudget with minAvailable: 1 and the Deployment's "
        "pod labels as selector.matchLabels.",
        production_only=True,
    ),
    stack_rule(
        name="k8s-namespace-default-deny",
        description="Every namespace running workloads has a default-deny NetworkPolicy "
        "(ingress and egress).",
        area="kubernetes",
        check=_default_deny,
        fix="add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] and no "
        "rules, then explicit allows.",
    ),
    stack_rule(
        name="k8s-namespace-resource-quota",
        description="Every namespace running workloads has a ResourceQuota.",
        area="kubernetes",
        check=_resource_quota,
        fix="add a ResourceQuota (and a LimitRange) to the namespace.",
    ),
]
