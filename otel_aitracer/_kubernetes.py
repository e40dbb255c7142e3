"""Whether this process runs in a Kubernetes pod, from local files only (never a DNS probe).

Signals, cheapest first: the ``KUBERNETES_SERVICE_HOST`` variable every pod gets,
a mounted service-account token, a ``kubepods`` cgroup. Read once, when a
processor is configured, never on the application's path.
"""

from __future__ import annotations

import os

# The in-cluster ``otel-aitracer serve`` Service that records go to by default (AITRACER_K8S_ENDPOINT overrides).
DEFAULT_K8S_ENDPOINT = "http://otel-aitracer.observability.svc.cluster.local:4318"
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
CGROUP_PATH = "/proc/self/cgroup"


def kubernetes_signal() -> str | None:
    """What says this is a pod (for ``doctor``), or None outside Kubernetes."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return "KUBERNETES_SERVICE_HOST is set"
    if os.path.exists(TOKEN_PATH):
        return f"a service-account token is mounted at {TOKEN_PATH}"
    try:
        with open(CGROUP_PATH, encoding="utf-8", errors="replace") as cgroup:
            if "kubepods" in cgroup.read(65536):
                return f"{CGROUP_PATH} names a kubepods cgroup"
    except OSError:
        pass
    return None
