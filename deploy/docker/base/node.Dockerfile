# Node.js base for the web, gateway and workers images, on the locally built Debian root (see ../build-base.sh).
# Debian bookworm packages Node 18, which Next.js 16 does not support, so the Node 20 binary and npm are copied in
# from the build context that build-base.sh prepares (the build host's own node/npm). A site with a registry can
# skip this image and pass NODE_BASE_IMAGE=node:20-bookworm-slim (or its mirror of it) to ../build.sh instead.
ARG DEBIAN_IMAGE=loraplane/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
# The CA bundle build-base.sh was given (default: the build host's), so npm can reach a registry or mirror behind
# a TLS-inspecting proxy or signed by a private CA, as the host does.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt NPM_CONFIG_CAFILE=/etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
