-- Volumes: a named Docker volume on one node, mounted into every process
-- container of its app and into its release-phase container. The app's
-- instances (and the builds that run its release command) are placed on
-- that node. Docker local volumes have no quota: `size_mb` is the size the
-- user asked for, checked against the usage the node reports (advisory).

CREATE TABLE volumes (
    id           uuid PRIMARY KEY,
    app_id       uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name         text NOT NULL
                 CONSTRAINT volumes_name_syntax CHECK (name ~ '^[a-z][a-z0-9-]{1,29}$'),
    mount_path   text NOT NULL
                 CONSTRAINT volumes_mount_path_syntax
                 CHECK (mount_path ~ '^/(app|data)(/[A-Za-z0-9._-]+)*$' AND mount_path <> '/app'
                        AND length(mount_path) <= 200),
    size_mb      integer NOT NULL CONSTRAINT volumes_size_mb_range CHECK (size_mb BETWEEN 16 AND 1048576),
    node_id      uuid NOT NULL REFERENCES nodes (id),
    -- The Docker volume's name on its node (`paas-<node>-<app>-<name>-<id>`).
    docker_name  text NOT NULL UNIQUE,
    -- What the node last reported the volume to hold, in bytes.
    used_bytes   bigint,
    used_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT volumes_app_name_key UNIQUE (app_id, name),
    CONSTRAINT volumes_app_mount_key UNIQUE (app_id, mount_path)
);
CREATE INDEX volumes_node ON volumes (node_id);
