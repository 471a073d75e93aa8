-- HTTPS: ACME certificates for custom domains, HTTP-01 challenges the routers
-- answer, and per-app redirect/HSTS switches (issue 14).

-- Plain-HTTP requests to a hostname with a certificate are redirected to
-- HTTPS (ACME challenges excepted); HSTS is opt-in.
ALTER TABLE apps ADD COLUMN https_redirect boolean NOT NULL DEFAULT true;
ALTER TABLE apps ADD COLUMN hsts boolean NOT NULL DEFAULT false;
CREATE TRIGGER apps_tls_routes AFTER UPDATE OF https_redirect, hsts ON apps
    FOR EACH STATEMENT EXECUTE FUNCTION bump_route_version();

-- One ACME account per directory URL (switching CA makes a new account).
-- The credentials (account URL and private key) are encrypted under the
-- operator's secret key.
CREATE TABLE acme_accounts (
    directory_url      text PRIMARY KEY,
    credentials_sealed bytea NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);

-- The certificate of one custom domain. `state` says what users see:
-- pending (no certificate yet, an order is due), issued (a certificate is
-- held; a failed renewal keeps it and sets last_error), failed (no
-- certificate; the last order failed, retried at next_attempt_at).
CREATE TABLE certificates (
    domain_id        uuid PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    state            text NOT NULL DEFAULT 'pending'
                     CONSTRAINT certificates_state CHECK (state IN ('pending', 'issued', 'failed')),
    -- PEM, leaf first.
    chain_pem        text,
    -- PKCS#8 PEM key, encrypted (nonce || ciphertext) under the operator's key.
    key_sealed       bytea,
    not_after        timestamptz,
    -- Hex serial of the leaf, to tell renewals apart.
    serial           text,
    issued_at        timestamptz,
    -- For people: the CA's problem detail or what went wrong.
    last_error       text,
    -- Failed orders in a row; the backoff doubles with each.
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- An API replica is running an order until then (claimed with
    -- FOR UPDATE SKIP LOCKED); past it, another replica may take over.
    leased_until     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT certificates_issued_complete CHECK (
        state <> 'issued' OR (chain_pem IS NOT NULL AND key_sealed IS NOT NULL AND not_after IS NOT NULL))
);
CREATE INDEX certificates_due ON certificates (next_attempt_at);
INSERT INTO certificates (domain_id) SELECT id FROM domains;

-- HTTP-01 challenges of running orders: routers answer
-- `/.well-known/acme-challenge/<token>` for the domain's hostname.
CREATE TABLE acme_challenges (
    domain_id          uuid NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    token              text NOT NULL CONSTRAINT acme_challenges_token_syntax CHECK (token ~ '^[A-Za-z0-9_-]+$' AND length(token) <= 256),
    key_authorization  text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain_id, token)
);

-- Routers carry certificates and challenges: changes move the route version
-- (attempt counters and errors do not: routers never see them).
CREATE TRIGGER certificates_routes_insert_delete AFTER INSERT OR DELETE ON certificates
    FOR EACH STATEMENT EXECUTE FUNCTION bump_route_version();
CREATE TRIGGER certificates_routes_update AFTER UPDATE OF chain_pem, key_sealed, not_after ON certificates
    FOR EACH STATEMENT EXECUTE FUNCTION bump_route_version();
CREATE TRIGGER acme_challenges_routes AFTER INSERT OR DELETE OR UPDATE ON acme_challenges
    FOR EACH STATEMENT EXECUTE FUNCTION bump_route_version();

-- Every custom domain has its certificate row from the start: no code path
-- can add a domain the ACME worker never sees.
CREATE FUNCTION domains_certificate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO certificates (domain_id) VALUES (NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER domains_certificate AFTER INSERT ON domains
    FOR EACH ROW EXECUTE FUNCTION domains_certificate();
