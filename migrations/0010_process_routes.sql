-- Paths to other process types: URL prefixes an app sends to a process type
-- other than `web` (an async server for WebSocket, long-poll and SSE).
-- Two layers, merged per prefix by `effective_routes`: what the app's
-- paas.json declares (per build, so each release carries its own), and what
-- `paas routes set` sets (per app, no new build). The CLI layer wins.

-- `{"/ws/": "async"}` from the build's paas.json (checked by the agent).
ALTER TABLE builds ADD COLUMN routes jsonb NOT NULL DEFAULT '{}'::jsonb;

CREATE TABLE app_routes (
    app_id        uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    prefix        text NOT NULL
                  CONSTRAINT app_routes_prefix_syntax CHECK (prefix ~ '^/[!-~]*$' AND prefix !~ '[?#]')
                  CONSTRAINT app_routes_prefix_length CHECK (length(prefix) <= 200),
    process_type  text NOT NULL
                  CONSTRAINT app_routes_type_syntax CHECK (process_type ~ '^[a-z][a-z0-9_-]{0,29}$' AND process_type <> 'web'),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, prefix)
);

-- The routes in force for an app whose release's build declared `manifest`:
-- CLI-set routes, then paas.json routes whose prefix the CLI did not set.
CREATE FUNCTION effective_routes(app uuid, manifest jsonb)
RETURNS TABLE (prefix text, process_type text, source text) LANGUAGE sql STABLE AS $$
    SELECT o.prefix, o.process_type, 'cli' FROM app_routes o WHERE o.app_id = app
    UNION ALL
    SELECT m.key, m.value, 'paas_json' FROM jsonb_each_text(coalesce(manifest, '{}'::jsonb)) m
    WHERE NOT EXISTS (SELECT 1 FROM app_routes o WHERE o.app_id = app AND o.prefix = m.key)
$$;

CREATE TRIGGER app_routes_routes AFTER INSERT OR DELETE OR UPDATE ON app_routes
    FOR EACH STATEMENT EXECUTE FUNCTION bump_route_version();
