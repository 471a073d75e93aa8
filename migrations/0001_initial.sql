-- The control plane's whole state. Integrity is enforced here as well as in
-- the API: names are checked, references are foreign keys, counts are >= 0.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE
                CONSTRAINT tenants_name_syntax CHECK (name ~ '^[a-z][a-z0-9-]{1,39}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          text NOT NULL
                   CONSTRAINT users_email_syntax CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
    password_hash  text NOT NULL,
    is_admin       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text NOT NULL CONSTRAINT memberships_role CHECK (role IN ('owner', 'admin', 'member')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- Long-lived API tokens. Only a SHA-256 of the (high-entropy) secret is kept.
CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CONSTRAINT api_tokens_name_length CHECK (length(name) BETWEEN 1 AND 100),
    token_hash    bytea NOT NULL UNIQUE,
    prefix        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE apps (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    name        text NOT NULL UNIQUE
                CONSTRAINT apps_name_syntax CHECK (name ~ '^[a-z][a-z0-9-]{1,29}$'),
    hostname    text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX apps_tenant_name ON apps (tenant_id, name);

CREATE TABLE config_vars (
    app_id      uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    key         text NOT NULL CONSTRAINT config_vars_key_syntax CHECK (key ~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$'),
    value       text NOT NULL CONSTRAINT config_vars_value_length CHECK (length(value) <= 32768),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, key)
);

CREATE TABLE domains (
    id          uuid PRIMARY KEY,
    app_id      uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    hostname    text NOT NULL UNIQUE
                CONSTRAINT domains_hostname_syntax
                CHECK (hostname ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$'
                       AND length(hostname) <= 253),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX domains_app ON domains (app_id);

CREATE TABLE formation (
    app_id        uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    process_type  text NOT NULL CONSTRAINT formation_type_syntax CHECK (process_type ~ '^[a-z][a-z0-9_-]{0,29}$'),
    quantity      integer NOT NULL CONSTRAINT formation_quantity_range CHECK (quantity >= 0 AND quantity <= 100),
    size          text NOT NULL DEFAULT 'standard'
                  CONSTRAINT formation_size CHECK (size IN ('small', 'standard', 'large')),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, process_type)
);

-- Pushed sources and static bundles: nothing pushed lives only on a node's disk.
CREATE TABLE blobs (
    id          uuid PRIMARY KEY,
    sha256      bytea NOT NULL,
    size_bytes  bigint NOT NULL CONSTRAINT blobs_size CHECK (size_bytes >= 0),
    data        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
    id                 uuid PRIMARY KEY,
    name               text NOT NULL UNIQUE
                       CONSTRAINT nodes_name_syntax CHECK (name ~ '^[a-z0-9][a-z0-9.-]{0,62}$'),
    address            text NOT NULL,
    cpu_millis         integer NOT NULL CONSTRAINT nodes_cpu CHECK (cpu_millis > 0),
    memory_mb          integer NOT NULL CONSTRAINT nodes_memory CHECK (memory_mb > 0),
    labels             jsonb NOT NULL DEFAULT '{}'::jsonb,
    state              text NOT NULL DEFAULT 'up' CONSTRAINT nodes_state CHECK (state IN ('up', 'down', 'draining')),
    token_hash         bytea NOT NULL UNIQUE,
    last_heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now()
);

-- Operator-issued secrets an agent presents once to register its node.
CREATE TABLE node_join_tokens (
    id          uuid PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE builds (
    id                uuid PRIMARY KEY,
    app_id            uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    status            text NOT NULL DEFAULT 'queued'
                      CONSTRAINT builds_status CHECK (status IN ('queued', 'building', 'succeeded', 'failed')),
    source_blob_id    uuid REFERENCES blobs (id) ON DELETE SET NULL,
    source_version    text,
    log               text NOT NULL DEFAULT '',
    image_ref         text,
    static_blob_id    uuid REFERENCES blobs (id) ON DELETE SET NULL,
    process_types     jsonb NOT NULL DEFAULT '{}'::jsonb,
    claimed_by        uuid REFERENCES nodes (id) ON DELETE SET NULL,
    lease_expires_at  timestamptz,
    attempts          integer NOT NULL DEFAULT 0 CONSTRAINT builds_attempts CHECK (attempts >= 0),
    author_id         uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz
);
CREATE INDEX builds_app ON builds (app_id, created_at DESC);
CREATE INDEX builds_queue ON builds (created_at) WHERE status IN ('queued', 'building');

CREATE TABLE releases (
    id           uuid PRIMARY KEY,
    app_id       uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    version      integer NOT NULL CONSTRAINT releases_version CHECK (version >= 1),
    build_id     uuid REFERENCES builds (id),
    config       jsonb NOT NULL DEFAULT '{}'::jsonb,
    description  text NOT NULL,
    author_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (app_id, version)
);

CREATE TABLE instances (
    id             uuid PRIMARY KEY,
    app_id         uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    release_id     uuid NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    process_type   text NOT NULL,
    node_id        uuid REFERENCES nodes (id) ON DELETE SET NULL,
    desired_state  text NOT NULL DEFAULT 'running'
                   CONSTRAINT instances_desired CHECK (desired_state IN ('running', 'stopped')),
    actual_state   text NOT NULL DEFAULT 'pending'
                   CONSTRAINT instances_actual CHECK (actual_state IN ('pending', 'starting', 'running', 'unhealthy', 'stopping', 'stopped', 'crashed', 'lost')),
    address        text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_app ON instances (app_id);
CREATE INDEX instances_node ON instances (node_id);

-- Audit log. Rows outlive the app they describe (app_id is not a foreign key)
-- so a deleted app's history stays readable by its tenant.
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    app_id      uuid,
    app_name    text,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    action      text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_tenant ON events (tenant_id, id DESC);
CREATE INDEX events_app ON events (app_id, id DESC);
