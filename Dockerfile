# hms-router image: build with the dev dependencies, run with the production ones only.
#   docker build -t hms-router .
#   docker run -p 9083:9083 -p 127.0.0.1:9090:9090 -v $PWD/router.yaml:/etc/hms-router/router.yaml:ro hms-router
# The config must set admin.host 0.0.0.0 for the published admin port (and the HEALTHCHECK, which
# reads admin port HMS_ROUTER_ADMIN_PORT, 9090 by default, on 127.0.0.1 inside the container).

# The Kerberos bindings (the kerberos package, native/gssapi-acceptor) compile at npm ci against
# Debian's MIT Kerberos headers; prebuild-install must not try a download.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends libkrb5-dev python3 make g++ && rm -rf /var/lib/apt/lists/*
ENV npm_config_build_from_source=true
WORKDIR /src
COPY package.json package-lock.json ./
COPY native native
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/copy-assets.mjs scripts/
COPY src src
# tsc compiles src/ only (the other folders of tsconfig's include are not copied) into dist/src/,
# then the status page is copied beside its module.
RUN npm run build

FROM node:20-bookworm-slim AS deps
RUN apt-get update && apt-get install -y --no-install-recommends libkrb5-dev python3 make g++ && rm -rf /var/lib/apt/lists/*
ENV npm_config_build_from_source=true
WORKDIR /app
COPY package.json package-lock.json ./
COPY native native
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# MIT's GSSAPI library the bindings link against (a keytab and krb5.conf are mounted by the operator).
RUN apt-get update && apt-get install -y --no-install-recommends libgssapi-krb5-2 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production HMS_ROUTER_ADMIN_PORT=9090
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules node_modules
# node_modules/gssapi-acceptor links here
COPY --from=deps /app/native native
COPY --from=build /src/dist/src dist/src
# The image's own non-root user (uid 1000).
USER node
EXPOSE 9083 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.HMS_ROUTER_ADMIN_PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli.js", "--config", "/etc/hms-router/router.yaml"]
