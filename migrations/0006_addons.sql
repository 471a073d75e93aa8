-- Add-ons: Postgres databases and Redis servers the platform runs for a
-- tenant on one node (the one holding their volume), attached to apps as
-- config vars (DATABASE_URL, REDIS_URL, <ALIAS>_URL).

CREATE TABLE addons (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    -- Generated (`postgres-3fa9c1d2`): never chosen by users, so a name
    -- says nothing about other tenants. Also the host name apps dial.
    name            text NOT NULL UNIQUE CONSTRAINT addons_name_syntax CHECK (name ~ '^[a-z][a-z0-9-]{1,62}$'),
    kind            text NOT NULL CONSTRAINT addons_kind CHECK (kind IN ('postgres', 'redis')),
    plan            text NOT NULL CONSTRAINT addons_plan_syntax CHECK (plan ~ '^[a-z][a-z0-9-]{0,29}$'),
    -- The node holding the add-on's volume; NULL until a node takes it.
    node_id         uuid REFERENCES nodes (id) ON DELETE SET NULL,
    state           text NOT NULL DEFAULT 'provisioning'
                    CONSTRAINT addons_state CHECK (state IN ('provisioning', 'available', 'failed', 'destroying')),
    state_message   text,
    -- The agent's own login to the server (Redis `paas-admin`); never given to apps.
    admin_password  text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX addons_tenant ON addons (tenant_id, name);
CREATE INDEX addons_node ON addons (node_id);

-- Logins apps use. Rotation adds a generation and retires the previous one,
-- which is dropped once no running instance is configured with it.
CREATE TABLE addon_credentials (
    id          uuid PRIMARY KEY,
    addon_id    uuid NOT NULL REFERENCES addons (id) ON DELETE CASCADE,
    generation  integer NOT NULL CONSTRAINT addon_credentials_generation_range CHECK (generation >= 1),
    username    text NOT NULL,
    password    text NOT NULL,
    url         text NOT NULL,
    state       text NOT NULL DEFAULT 'active'
                CONSTRAINT addon_credentials_state CHECK (state IN ('active', 'retiring', 'dropped')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz,
    UNIQUE (addon_id, generation)
);

CREATE TABLE addon_attachments (
    addon_id    uuid NOT NULL REFERENCES addons (id) ON DELETE CASCADE,
    app_id      uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    var         text NOT NULL CONSTRAINT addon_attachments_var_syntax CHECK (var ~ '^[A-Z][A-Z0-9_]{0,59}_URL$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (addon_id, app_id),
    CONSTRAINT addon_attachments_app_var_key UNIQUE (app_id, var)
);

-- Backups (pg_dump -Fc) stored as blobs. They outlive their add-on (the
-- final backup of a destroyed one), so they hang off the tenant.
CREATE TABLE addon_backups (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    addon_id     uuid REFERENCES addons (id) ON DELETE SET NULL,
    addon_name   text NOT NULL,
    trigger      text NOT NULL CONSTRAINT addon_backups_trigger CHECK (trigger IN ('manual', 'scheduled', 'final')),
    state        text NOT NULL DEFAULT 'pending'
                 CONSTRAINT addon_backups_state CHECK (state IN ('pending', 'succeeded', 'failed')),
    blob_id      uuid REFERENCES blobs (id) ON DELETE SET NULL,
    size_bytes   bigint,
    message      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX addon_backups_addon ON addon_backups (addon_name, created_at DESC);
CREATE INDEX addon_backups_pending ON addon_backups (addon_id) WHERE state = 'pending';

CREATE TABLE addon_restores (
    id           uuid PRIMARY KEY,
    addon_id     uuid NOT NULL REFERENCES addons (id) ON DELETE CASCADE,
    backup_id    uuid NOT NULL REFERENCES addon_backups (id) ON DELETE CASCADE,
    state        text NOT NULL DEFAULT 'pending'
                 CONSTRAINT addon_restores_state CHECK (state IN ('pending', 'succeeded', 'failed')),
    message      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
