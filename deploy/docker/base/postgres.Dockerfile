# PostgreSQL 15 from Debian's packages for docker-compose.yml (no registry needed). The entrypoint refuses to start
# without POSTGRES_PASSWORD and listens on POSTGRES_PORT / POSTGRES_LISTEN_ADDRESSES (compose runs it on the host
# network, so the port must not collide with a PostgreSQL already on the machine).
ARG DEBIAN_IMAGE=loraplane/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 755 /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data/pgdata
USER postgres
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
