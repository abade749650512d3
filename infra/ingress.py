"""Traefik ingress with cert-manager (Let's Encrypt, DNS-01 through Route 53), behind the
region's ALB and WAF (infra/edge.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra._k8s import RESTRICTED_CONTAINER, namespace, release
from infra._util import irsa_trust_policy, policy_document
from infra.edge import TRAEFIK_HTTPS_NODE_PORT

LETSENCRYPT = {
    True: "https://acme-staging-v02.api.letsencrypt.org/directory",
    False: "https://acme-v02.api.letsencrypt.org/directory",
}
CLUSTER_ISSUER = "letsencrypt"
# The per-client-IP limit; routers opt in (infra/service/api.py), so the health check never
# counts against it.
RATE_LIMIT_MIDDLEWARE = "traefik-rate-limit@kubernetescrd"
# Answers 403 to every request: a router for a path that must not be public (the metrics path,
# infra/service/api.py) uses it. It allows loopback only, which no request through the ALB
# comes from.
DENY_ALL_MIDDLEWARE = "traefik-deny-all@kubernetescrd"


@dataclass(frozen=True, kw_only=True)
class IngressArgs:
    region: str
    zone_id: pulumi.Input[str]
    acme_email: str
    acme_staging: bool
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    # The ALB (infra/edge.py) reaches Traefik from inside the VPC: X-Forwarded-For is trusted
    # from there only, so a client cannot choose the address it is rate-limited by.
    vpc_cidr: str
    replicas: int = 2
    rate_limit_average: int = 100  # requests per second per client IP
    rate_limit_burst: int = 200


class Ingress(pulumi.ComponentResource):
    """Creates namespaces, Traefik (pinned chart; HTTPS only on a fixed NodePort for the ALB,
    hardened pods, security headers on the HTTPS entrypoint, a per-client-IP rate-limit
    middleware that routers opt into, a deny-all middleware for paths that must not be public,
    X-Forwarded-For trusted from the VPC only), cert-manager (pinned chart) with an IRSA role
    allowed to change only this hosted zone, and a Let's Encrypt DNS-01 ClusterIssuer.
    """

    cluster_issuer: str = CLUSTER_ISSUER
    namespace_name: str = "traefik"

    def __init__(self, name: str, args: IngressArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:ingress:Ingress", name, None, opts)
        traefik_ns = namespace("traefik", f"{name}-traefik-ns", self)
        cm_ns = namespace("cert-manager", f"{name}-cert-manager-ns", self)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-cert-manager-role",
            assume_role_policy=irsa_trust_policy(
                args.oidc_provider_arn, args.oidc_issuer, "cert-manager", "cert-manager"
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-cert-manager-dns01",
            role=role.id,
            policy=policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Action": "route53:GetChange",
                        "Resource": "arn:aws:route53:::change/*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": [
                            "route53:ChangeResourceRecordSets",
                            "route53:ListResourceRecordSets",
                        ],
                        "Resource": pulumi.Output.concat(
                            "arn:aws:route53:::hostedzone/", args.zone_id
                        ),
                        "Condition": {
                            "ForAllValues:StringEquals": {
                                "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]
                            }
                        },
                    },
                    {"Effect": "Allow", "Action": "route53:ListHostedZonesByName", "Resource": "*"},
                ]
            ),
            opts=child,
        )
        cert_manager = release(
            f"{name}-cert-manager",
            "cert-manager",
            cm_ns,
            {
                "crds": {"enabled": True, "keep": True},
                "replicaCount": 2,
                "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
                "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": role.arn}},
                # IRSA web identity token must be readable by the non-root controller.
                "securityContext": {
                    "runAsNonRoot": True,
                    "fsGroup": 1001,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containerSecurityContext": RESTRICTED_CONTAINER,
                "prometheus": {"enabled": True, "servicemonitor": {"enabled": True}},
                "extraArgs": [
                    "--dns01-recursive-nameservers-only",
                    "--dns01-recursive-nameservers=8.8.8.8:53,1.1.1.1:53",
                ],
            },
            self,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-cluster-issuer",
            api_version="cert-manager.io/v1",
            kind="ClusterIssuer",
            metadata={"name": CLUSTER_ISSUER},
            spec={
                "acme": {
                    "server": LETSENCRYPT[args.acme_staging],
                    "email": args.acme_email,
                    "privateKeySecretRef": {"name": f"{CLUSTER_ISSUER}-account-key"},
                    "solvers": [
                        {
                            "dns01": {
                                "route53": {"region": args.region, "hostedZoneID": args.zone_id}
                            }
                        }
                    ],
                }
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cert_manager]),
        )
        traefik = release(
            f"{name}-traefik",
            "traefik",
            traefik_ns,
            {
                "deployment": {"replicas": args.replicas},
                "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
                "ingressClass": {"enabled": True, "isDefaultClass": True},
                "providers": {
                    "kubernetesCRD": {"enabled": True, "allowCrossNamespace": False},
                    "kubernetesIngress": {"enabled": True, "publishedService": {"enabled": True}},
                },
                "ports": {
                    # The ALB redirects HTTP itself; only HTTPS reaches the nodes.
                    "web": {
                        "expose": {"default": False},
                        "redirections": {
                            "entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}
                        },
                    },
                    "websecure": {
                        "nodePort": TRAEFIK_HTTPS_NODE_PORT,
                        "tls": {"enabled": True},
                        "forwardedHeaders": {"trustedIPs": [args.vpc_cidr]},
                        "middlewares": ["traefik-security-headers@kubernetescrd"],
                    },
                },
                # Not a LoadBalancer: the ALB targets this NodePort on the nodes.
                "service": {"type": "NodePort"},
                "logs": {
                    "access": {"enabled": True, "format": "json"},
                    "general": {"format": "json"},
                },
                "metrics": {"prometheus": {"serviceMonitor": {"enabled": True}}},
                "securityContext": RESTRICTED_CONTAINER,
                "podSecurityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 65532,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "1", "memory": "512Mi"},
                },
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}},
                    }
                ],
            },
            self,
        )
        middleware_opts = pulumi.ResourceOptions(parent=self, depends_on=[traefik])
        k8s.apiextensions.CustomResource(
            f"{name}-security-headers",
            api_version="traefik.io/v1alpha1",
            kind="Middleware",
            metadata={"name": "security-headers", "namespace": "traefik"},
            spec={
                "headers": {
                    "stsSeconds": 63072000,
                    "stsIncludeSubdomains": True,
                    "stsPreload": True,
                    "forceSTSHeader": True,
                    "contentTypeNosniff": True,
                    "frameDeny": True,
                    "referrerPolicy": "no-referrer",
                    "contentSecurityPolicy": "default-src 'none'; frame-ancestors 'none'",
                    "permissionsPolicy": "camera=(), microphone=(), geolocation=()",
                    "customResponseHeaders": {"Server": "", "X-Powered-By": ""},
                }
            },
            opts=middleware_opts,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-rate-limit",
            api_version="traefik.io/v1alpha1",
            kind="Middleware",
            metadata={"name": "rate-limit", "namespace": "traefik"},
            spec={
                "rateLimit": {
                    "average": args.rate_limit_average,
                    "burst": args.rate_limit_burst,
                    "period": "1s",
                    # The ALB appends the address it saw to X-Forwarded-For: the rightmost entry
                    # is the client (anything a client sends itself sits to its left).
                    "sourceCriterion": {"ipStrategy": {"depth": 1}},
                }
            },
            opts=middleware_opts,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-deny-all",
            api_version="traefik.io/v1alpha1",
            kind="Middleware",
            metadata={"name": "deny-all", "namespace": "traefik"},
            spec={"ipAllowList": {"sourceRange": ["127.0.0.1/32"]}},
            opts=middleware_opts,
        )
        self.register_outputs({})
