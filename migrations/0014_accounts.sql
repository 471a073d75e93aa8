-- Accounts you can trust (issue 15): invitations, login throttling, and
-- audit events about a user rather than a tenant.

-- Invitations to join a tenant: single use, expiring, bound to one email.
-- Only a SHA-256 of the (high-entropy) secret is kept, like API tokens.
CREATE TABLE invitations (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email        text NOT NULL
                 CONSTRAINT invitations_email_syntax CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
    role         text NOT NULL CONSTRAINT invitations_role CHECK (role IN ('admin', 'member')),
    token_hash   bytea NOT NULL UNIQUE,
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    accepted_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at   timestamptz
);
CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at DESC);

-- Failed credential checks, per key (`email:<lowercased email>` or
-- `addr:<client ip>`), in Postgres so that every API replica sees the same
-- counts. `locked_until` is when the next attempt is checked at all.
CREATE TABLE auth_throttle (
    key              text PRIMARY KEY,
    failures         integer NOT NULL DEFAULT 0,
    last_failure_at  timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz
);

-- Events about a user (logins, lockouts, API tokens) belong to no tenant:
-- they carry the user instead, and only that user reads them.
ALTER TABLE events ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE events ADD COLUMN user_id uuid REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE events ADD CONSTRAINT events_owner CHECK (tenant_id IS NOT NULL OR user_id IS NOT NULL);
CREATE INDEX events_user ON events (user_id, id DESC) WHERE user_id IS NOT NULL;
