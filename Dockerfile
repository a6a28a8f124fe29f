# syntax=docker/dockerfile:1
# The Ramp worker image: Node.js 24 LTS, the @ramp-delivery/worker package installed as npm installs
# it (its workflow code prebuilt), only this platform's native binaries, git and ssh for GitOps mode,
# run as the unprivileged `node` user (uid 1000) with nothing to write. Every RUN is a step of
# packages/worker/image.sh; test/integration/packaging/worker-image.test.ts replays this file's COPY
# and RUN steps in a temporary folder (the Debian packages step as a simulation checked against the
# machine's own packages) and starts the worker from the result (no container engine runs on the
# project's machines: the image build itself is not run there). Build: docker build -t ramp-worker .
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages/worker/image.sh packages/worker/image.sh
RUN --mount=type=cache,target=/root/.npm sh packages/worker/image.sh deps
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY packages packages
RUN sh packages/worker/image.sh pack /out

FROM ${NODE_IMAGE}
# GitOps mode (spec.gitops) runs git, and ssh for ssh:// URLs, from the worker: Debian's git,
# openssh-client and ca-certificates. First, with the script bind-mounted from the build context, so
# the layer is rebuilt when image.sh changes, not with every change of the sources.
RUN --mount=type=bind,source=packages/worker/image.sh,target=/tmp/image.sh sh /tmp/image.sh system
ENV NODE_ENV=production
# The tarball and the script are mounted from the build stage, not copied: no layer keeps them.
RUN --mount=type=bind,from=build,source=/out,target=/tmp/ramp --mount=type=cache,target=/root/.npm sh /tmp/ramp/image.sh install /tmp/ramp/worker.tgz /usr/local
USER node
WORKDIR /home/node
ENTRYPOINT ["ramp-worker"]
