-- Scoped API tokens (issue 15): what a token may do, and optionally the one
-- app it is limited to. Tokens made before this migration keep every right
-- of their owner: they become `admin`, unrestricted.

ALTER TABLE api_tokens
    ADD COLUMN IF NOT EXISTS scope text NOT NULL DEFAULT 'admin'
        CONSTRAINT api_tokens_scope CHECK (scope IN ('read', 'deploy', 'admin'));

-- Deleting the app deletes the tokens limited to it: a token must never
-- outlive its restriction (SET NULL would turn it into an unrestricted one).
ALTER TABLE api_tokens
    ADD COLUMN IF NOT EXISTS app_id uuid REFERENCES apps (id) ON DELETE CASCADE;

CREATE INDEX IF NOT EXISTS api_tokens_app ON api_tokens (app_id) WHERE app_id IS NOT NULL;
