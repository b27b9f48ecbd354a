"""Checks the Helm chart without a cluster.

Renders the chart with helm-python-sdk (the Helm library, offline) for the default values
and with each optional part switched on, validates every manifest and the CRDs with
kubernetes-validate (strict) against the oldest and newest Kubernetes versions we
support, compares the default render with a snapshot, checks that values.schema.json
rejects wrong values, that each ServiceAccount gets exactly the RBAC its binary uses, and
that every pod runs locked down. Exits non-zero with the failures listed.

Run by the Rust test tests/tests/chart.rs (so `scripts/test.sh` runs it); directly:
`python check_chart.py [--update-snapshot]`.
"""

import copy
import pathlib
import re
import sys

import helm_python
import kubernetes_validate
import yaml

CHART = pathlib.Path(__file__).resolve().parent.parent
SNAPSHOT = CHART / "tests" / "snapshot-default.yaml"
VERSIONS = ["1.28.0", "1.37.0"]  # CRD validation rules use fieldPath (1.28+)
NAME, NAMESPACE = "sentinel", "monitoring"
FULL = "sentinel-uptime-sentinel"

CASES = {
    "default": {},
    "dev": {"dev": {"enabled": True}},
    "keda": {"keda": {"enabled": True}},
    "servicemonitor": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    "grafana": {"grafana": {"dashboard": {"enabled": True}}},
    "notifier-in-checker": {"notifier": {"enabled": False}},
    "no-autoscaling": {"checker": {"autoscaling": {"enabled": False}}},
}

WRONG_VALUES = {
    "unknown top-level key": {"replicaCount": 3},
    "log level": {"logLevel": "loud"},
    "negative replicas": {"checker": {"replicas": -1}},
    "queue type": {"rabbitmq": {"queueType": "fast"}},
    "duration": {"checker": {"autoscaling": {"interval": "5 minutes"}}},
    "empty secret name": {"database": {"existingSecret": ""}},
    "string for a number": {"checker": {"concurrency": "many"}},
    "pull policy": {"image": {"pullPolicy": "Sometimes"}},
}

# What each binary calls on the Kubernetes API (operator/src), as RBAC rules:
# (apiGroup, resource, resourceNames or None, verbs). The other components call nothing.
OPERATOR_CLUSTER_RULES = {
    ("uptimesentinel.io", r, None, frozenset({"get", "list", "watch", "patch"}))
    for r in ["monitors", "alertrules", "escalationpolicies", "notificationchannels"]
} | {
    ("uptimesentinel.io", f"{r}/status", None, frozenset({"get", "patch"}))
    for r in ["monitors", "alertrules", "escalationpolicies", "notificationchannels"]
} | {
    ("uptimesentinel.io", f"{r}/finalizers", None, frozenset({"update"}))
    for r in ["monitors", "alertrules", "escalationpolicies", "notificationchannels"]
} | {
    ("", "secrets", None, frozenset({"get", "list", "watch"})),
    ("events.k8s.io", "events", None, frozenset({"create", "patch"})),
}
OPERATOR_ROLE_RULES = {
    ("coordination.k8s.io", "leases", None, frozenset({"create"})),
    ("coordination.k8s.io", "leases", (f"{FULL}-operator",), frozenset({"get", "update"})),
    ("apps", "deployments/scale", (f"{FULL}-checker",), frozenset({"get", "patch"})),
}

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def merge(base, extra):
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def render(values):
    chart = helm_python.Chart.load(str(CHART))
    rendered = chart.render(values, name=NAME, namespace=NAMESPACE)
    docs = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append((path, doc))
    return rendered, docs


def validate(label, doc):
    for version in VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            return  # a custom kind (ServiceMonitor, ScaledObject …): no schema to check
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{label}: {doc['kind']}/{doc['metadata']['name']} invalid for {version}: {error.message}")


def rules_of(doc):
    out = set()
    for rule in doc.get("rules", []):
        names = tuple(rule["resourceNames"]) if rule.get("resourceNames") else None
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.add((group, resource, names, frozenset(rule["verbs"])))
    return out


def pods(docs):
    for _, doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            yield doc, doc["spec"]["template"]["spec"]


def check_case(label, docs):
    kinds = [(d["kind"], d["metadata"]["name"]) for _, d in docs]
    for _, doc in docs:
        validate(label, doc)
    for workload, spec in pods(docs):
        name = workload["metadata"]["name"]
        dev = "dev-" in workload["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/component", "")
        check(spec["securityContext"].get("runAsNonRoot") is True, f"{label}: {name} may run as root")
        for container in spec["containers"]:
            sc = container.get("securityContext", {})
            check(sc.get("allowPrivilegeEscalation") is False, f"{label}: {name} allows privilege escalation")
            check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{label}: {name} keeps capabilities")
            check("resources" in container and "requests" in container["resources"], f"{label}: {name} has no resource requests")
            # Go templates print large numbers as floats (1048576 -> "1.048576e+06"), which
            # the binaries' flag parsers reject: numbers must reach the env as integers.
            for env_var in container.get("env", []):
                value = env_var.get("value")
                check(value is None or not re.fullmatch(r"-?[0-9.]+e[+-]?[0-9]+", value),
                      f"{label}: {name} {env_var['name']}={value} is not an integer")
            if not dev:
                check(sc.get("readOnlyRootFilesystem") is True, f"{label}: {name} has a writable root filesystem")
                check(container["livenessProbe"]["httpGet"]["path"] == "/healthz", f"{label}: {name} liveness")
                check(container["readinessProbe"]["httpGet"]["path"] == "/readyz", f"{label}: {name} readiness")
        if not dev:
            component = name.rsplit("-", 1)[1]
            check(spec["serviceAccountName"] == f"{FULL}-{component}", f"{label}: {name} service account")
            check(spec.get("automountServiceAccountToken", True) == (component == "operator"),
                  f"{label}: {name} mounts an API token it does not need")
    # RBAC: only the operator is bound to anything, with exactly what it calls.
    bindings = [d for _, d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    for binding in bindings:
        subjects = {s["name"] for s in binding["subjects"]}
        check(subjects == {f"{FULL}-operator"}, f"{label}: {binding['metadata']['name']} binds {subjects}")
    roles = {(d["kind"], d["metadata"]["name"]): rules_of(d) for _, d in docs if d["kind"] in ("Role", "ClusterRole")}
    check(roles.get(("ClusterRole", f"{FULL}-operator")) == OPERATOR_CLUSTER_RULES,
          f"{label}: operator ClusterRole differs: {roles.get(('ClusterRole', f'{FULL}-operator'))}")
    scales = not (label in ("keda", "no-autoscaling"))
    expected_role = OPERATOR_ROLE_RULES if scales else {r for r in OPERATOR_ROLE_RULES if r[1] != "deployments/scale"}
    check(roles.get(("Role", f"{FULL}-operator")) == expected_role,
          f"{label}: operator Role differs: {roles.get(('Role', f'{FULL}-operator'))}")
    for sa in [d for _, d in docs if d["kind"] == "ServiceAccount"]:
        component = sa["metadata"]["name"].rsplit("-", 1)[1]
        check(sa.get("automountServiceAccountToken") == (component == "operator"), f"{label}: {sa['metadata']['name']} token")
    # The operator scales the checkers exactly when neither KEDA nor "off" says otherwise.
    operator = next(d for _, d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == f"{FULL}-operator")
    env = {e["name"]: e.get("value") for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    check((env.get("SENTINEL_AUTOSCALE_DEPLOYMENT") == f"{FULL}-checker") == scales, f"{label}: autoscaler setting")
    checker = next(d for _, d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == f"{FULL}-checker")
    check(("replicas" in checker["spec"]) == (label == "no-autoscaling"), f"{label}: checker replicas owned by the scaler")
    return kinds


def main():
    update = "--update-snapshot" in sys.argv
    lint = helm_python.lint(str(CHART))
    check(not lint["errors"], f"helm lint: {lint['errors']}")
    # (That they equal the generated ones, byte for byte, is checked in tests/tests/chart.rs.)
    for path in sorted((CHART / "crds").glob("*.yaml")):
        name, text = path.name, path.read_text()
        validate(f"crd {name}", yaml.safe_load(text))

    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    seen = {}
    for label, extra in CASES.items():
        try:
            rendered, docs = render(merge(defaults, extra))
        except helm_python.HelmError as error:
            failures.append(f"{label}: render failed: {error}")
            continue
        seen[label] = set(check_case(label, docs))
        if label == "default":
            text = "".join(f"# {path}\n{rendered[path]}\n" for path in sorted(rendered))
            if update:
                SNAPSHOT.write_text(text)
            check(SNAPSHOT.exists() and SNAPSHOT.read_text() == text,
                  "the default render differs from tests/snapshot-default.yaml "
                  "(review, then rerun with --update-snapshot)")
    extras = {
        "dev": {("StatefulSet", f"{FULL}-mariadb"), ("StatefulSet", f"{FULL}-rabbitmq"), ("StatefulSet", f"{FULL}-redis"), ("Secret", f"{FULL}-credentials")},
        "keda": {("ScaledObject", f"{FULL}-checker"), ("TriggerAuthentication", f"{FULL}-rabbitmq")},
        "servicemonitor": {("ServiceMonitor", FULL)},
        "grafana": {("ConfigMap", f"{FULL}-dashboard")},
    }
    for label, wanted in extras.items():
        if label in seen:
            check(wanted <= seen[label], f"{label}: missing {wanted - seen[label]}")
            check(not (wanted & seen.get("default", set())), f"default renders {label} parts")
    if "notifier-in-checker" in seen:
        check(("Deployment", f"{FULL}-notifier") not in seen["notifier-in-checker"], "notifier Deployment rendered while disabled")

    for label, wrong in WRONG_VALUES.items():
        try:
            render(merge(defaults, wrong))
            failures.append(f"values.schema.json accepted wrong values ({label}): {wrong}")
        except helm_python.HelmError:
            pass

    if failures:
        print("\n".join(f"FAIL {f}" for f in failures))
        sys.exit(1)
    print(f"chart ok: {len(CASES)} renders validated for Kubernetes {', '.join(VERSIONS)}, "
          f"{len(WRONG_VALUES)} wrong values rejected, RBAC and pod security checked")


if __name__ == "__main__":
    main()
