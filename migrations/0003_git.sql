-- Pushed git history lives in Postgres as one bundle per app (replaced on
-- every successful push); API replicas keep only a disposable local cache.
ALTER TABLE apps ADD COLUMN git_bundle_blob_id uuid REFERENCES blobs (id) ON DELETE SET NULL;
ALTER TABLE apps ADD COLUMN git_version bigint NOT NULL DEFAULT 0;

