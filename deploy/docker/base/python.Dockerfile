# Node base plus Debian's Python 3.11 and venv, for the workers image (training/eval/serving run in-process with
# EXECUTOR=local). 3.11 is the version gpu-runtime's pinned wheels are resolved for.
ARG NODE_BASE_IMAGE=loraplane/base-node:bookworm
FROM ${NODE_BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
