#!/bin/sh
# The steps of the worker image (Dockerfile), kept here so the test that rebuilds the image's file
# layout without a container engine (test/integration/packaging/worker-image.test.ts) runs the
# very same commands.
#   image.sh deps              in the repository copy: the locked dependencies, no install scripts
#   image.sh pack OUT          compile, bundle the workflows and pack @ramp-delivery/worker as OUT/worker.tgz,
#                              with this script beside it for the install step
#   image.sh install TGZ PREFIX  install that package globally under PREFIX (bin/ramp-worker), keeping
#                              only this machine's native binaries
#   image.sh system [--simulate]  the Debian packages the worker runs besides Node (git mode's git and ssh);
#                              --simulate installs nothing (see the step)
set -eu

case "${1:-}" in
  deps)
    # Install scripts are skipped: none of them is needed to compile or pack (esbuild's and swc's
    # only check their binaries, protobufjs's its version), and npm versions differ on which they run.
    npm ci --ignore-scripts --no-audit --no-fund
    ;;
  pack)
    out="${2:?image.sh pack needs the output directory, e.g. image.sh pack /out}"
    rm -rf "$out"
    npm run --silent build:packages -- --out "$out" worker
    mv "$out"/ramp-delivery-worker-*.tgz "$out/worker.tgz"
    cp "$0" "$out/image.sh"
    ;;
  install)
    tgz="${2:?image.sh install needs the package tarball, e.g. image.sh install /tmp/worker.tgz /usr/local}"
    prefix="${3:?image.sh install needs the install prefix, e.g. image.sh install /tmp/worker.tgz /usr/local}"
    npm install --global --prefix "$prefix" --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier "$tgz"
    pkg="$prefix/lib/node_modules/@ramp-delivery/worker"
    machine="$(uname -m)"
    case "$machine" in
      x86_64) arch=x64 ;;
      aarch64) arch=arm64 ;;
      *) echo "image.sh install: no Temporal core bridge for $machine: build the image for linux/amd64 or linux/arm64" >&2; exit 1 ;;
    esac
    # @temporalio/core-bridge ships its native library for five platforms in one package; keep this one's.
    releases="$pkg/node_modules/@temporalio/core-bridge/releases"
    if [ ! -f "$releases/$machine-unknown-linux-gnu/index.node" ]; then
      echo "image.sh install: $releases has no $machine-unknown-linux-gnu/index.node: build the image for linux/amd64 or linux/arm64 (the platforms @temporalio/core-bridge ships)" >&2
      exit 1
    fi
    for d in "$releases"/*; do
      [ "$(basename "$d")" = "$machine-unknown-linux-gnu" ] || rm -rf "$d"
    done
    # Packages built with prebuildify (the bare-* helpers of tar-fs, under @kubernetes/client-node)
    # carry prebuilds/<platform>-<arch>/ for every platform; keep linux-<arch> only.
    find "$pkg/node_modules" -type d -name prebuilds | while read -r dir; do
      for d in "$dir"/*; do
        case "$(basename "$d")" in
          "linux-$arch" | "linux-$arch"-*) ;;
          *) rm -rf "$d" ;;
        esac
      done
    done
    ;;
  system)
    # GitOps mode (spec.gitops) drives the git CLI from the worker (src/infra/git.ts), and git runs
    # ssh for ssh:// and git@host: URLs; ca-certificates lets git verify an https:// server. No
    # recommended packages (git's would add less and patch) and no apt lists left in the layer.
    packages="git openssh-client ca-certificates"
    if [ "${2:-}" = --simulate ]; then
      # For the replay test, which has a folder and not the image to install into: apt resolves the
      # same packages against this machine's Debian lists (its report on stderr), then each package
      # is listed on stdout as this machine has it ("name version status"; "name" alone when it has
      # never had it), since the replayed worker runs this machine's git and ssh.
      apt-get install --simulate --no-install-recommends $packages >&2
      for p in $packages; do
        echo "$p $(dpkg-query --show --showformat='${Version} ${db:Status-Status}' "$p" 2>/dev/null || true)"
      done
      exit
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
    rm -rf /var/lib/apt/lists/*
    ;;
  *)
    echo "usage: image.sh deps | pack OUT | install TGZ PREFIX | system [--simulate] (see the comment at the top of packages/worker/image.sh)" >&2
    exit 2
    ;;
esac
