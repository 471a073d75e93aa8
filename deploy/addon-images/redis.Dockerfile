# paas/redis:7 — one Redis server per add-on: Debian's redis-server on the
# platform base image, data (AOF + the ACL file) on a named volume at /data,
# run as the `redis` user.
ARG BASE=paas/python-base:bookworm
FROM ${BASE}
RUN set -eux; \
    apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server redis-tools; \
    install -d -o redis -g redis -m 700 /data; \
    apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*
COPY paas-redis-start /usr/local/bin/paas-redis-start
USER redis
WORKDIR /data
CMD ["/usr/local/bin/paas-redis-start"]
