# paas/postgres:15 — the platform's PostgreSQL server for add-ons: Debian's
# postgresql-15 on the platform base image. The data directory lives on a
# named volume mounted at /var/lib/paas-postgres (initialised on first start
# by paas-postgres-start); the server runs as the `postgres` user.
ARG BASE=paas/python-base:bookworm
FROM ${BASE}
RUN set -eux; \
    apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15; \
    pg_dropcluster 15 main || true; \
    install -d -o postgres -g postgres -m 700 /var/lib/paas-postgres; \
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql; \
    apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*
COPY paas-postgres-start /usr/local/bin/paas-postgres-start
USER postgres
WORKDIR /var/lib/paas-postgres
ENV PGDATA=/var/lib/paas-postgres/data
STOPSIGNAL SIGINT
CMD ["/usr/local/bin/paas-postgres-start"]
