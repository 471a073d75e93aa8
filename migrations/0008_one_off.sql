-- One-off processes (`paas run`): a command in a new container of a
-- release, on one node, streamed to the user's terminal (or detached, its
-- output in app_logs under process type `run`). Rows outlive the session as
-- its record; the audit log has `run.create` and `run.finish`.
CREATE TABLE runs (
    id           uuid PRIMARY KEY,
    app_id       uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    release_id   uuid NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    node_id      uuid REFERENCES nodes (id) ON DELETE SET NULL,
    command      jsonb NOT NULL,
    size         text NOT NULL CONSTRAINT runs_size CHECK (size IN ('small', 'standard', 'large')),
    detach       boolean NOT NULL,
    tty          boolean NOT NULL,
    cols         integer,
    rows         integer,
    -- pending: waiting for its node to claim it; running: claimed; exited: over.
    state        text NOT NULL DEFAULT 'pending' CONSTRAINT runs_state CHECK (state IN ('pending', 'running', 'exited')),
    exit_status  integer,
    reason       text,
    max_secs     bigint NOT NULL CONSTRAINT runs_max_secs CHECK (max_secs > 0),
    -- The environment it runs with (the release's config and the platform's variables).
    env          jsonb NOT NULL,
    author_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    claimed_at   timestamptz,
    finished_at  timestamptz
);
CREATE INDEX runs_app ON runs (app_id, created_at DESC);
CREATE INDEX runs_pending ON runs (node_id) WHERE state = 'pending';
