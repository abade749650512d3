"""Traefik ingress with cert-manager (Let's Encrypt, DNS-01 through Route 53)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra._k8s import RESTRICTED_CONTAINER, namespace, release
from infra._util import irsa_trust_policy, policy_document

LETSENCRYPT = {
    True: "https://acme-staging-v02.api.letsencrypt.org/directory",
    False: "https://acme-v02.api.letsencrypt.org/directory",
}
CLUSTER_ISSUER = "letsencrypt"
_LB = "service.beta.kubernetes.io/aws-load-balancer"


@dataclass(frozen=True, kw_only=True)
class IngressArgs:
    region: str
    zone_id: pulumi.Input[str]
    acme_email: str
    acme_staging: bool
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    replicas: int = 2
    rate_limit_average: int = 100  # requests per second per client IP
    rate_limit_burst: int = 200


class Ingress(pulumi.ComponentResource):
    """Creates namespaces, Traefik (pinned chart; HTTPS only, HTTP redirected, hardened pods,
    security-header and per-IP rate-limit middlewares on the HTTPS entrypoint) behind an NLB,
    cert-manager (pinned chart) with an IRSA role allowed to change only this hosted zone, and a
    Let's Encrypt DNS-01 ClusterIssuer. Exposes the load balancer's DNS name.
    """

    load_balancer_hostname: pulumi.Output[str]
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
                    "web": {
                        "redirections": {
                            "entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}
                        }
                    },
                    "websecure": {
                        "tls": {"enabled": True},
                        "middlewares": [
                            "traefik-security-headers@kubernetescrd",
                            "traefik-rate-limit@kubernetescrd",
                        ],
                    },
                },
                "service": {
                    "type": "LoadBalancer",
                    "annotations": {
                        f"{_LB}-type": "nlb",
                        f"{_LB}-cross-zone-load-balancing-enabled": "true",
                    },
                },
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
                    # The NLB preserves client IPs, so the remote address is the client.
                    "sourceCriterion": {"ipStrategy": {"depth": 0}},
                }
            },
            opts=middleware_opts,
        )
        service = k8s.core.v1.Service.get(
            f"{name}-traefik-lb",
            "traefik/traefik",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[traefik]),
        )
        self.load_balancer_hostname = service.status.apply(
            lambda s: (
                (s.load_balancer.ingress or [])[0].hostname or "" if s and s.load_balancer else ""
            )
        )
        self.register_outputs({"load_balancer_hostname": self.load_balancer_hostname})
