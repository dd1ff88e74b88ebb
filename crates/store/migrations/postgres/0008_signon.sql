-- Single sign-on (PostgreSQL). Mirrors migrations/sqlite/0008_signon.sql.

-- The people of a tenant who sign in to the admin screen through its identity provider.
CREATE TABLE users (
    tenant_id       TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT COLLATE "C" NOT NULL,
    -- The IdP's subject (NameID), exactly as it sent it.
    name_id         TEXT COLLATE "C" NOT NULL,
    email           TEXT,
    display_name    TEXT,
    role            TEXT        NOT NULL,
    enabled         BOOLEAN     NOT NULL,
    -- `jit`, or the actor who created the user.
    created_by      TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    last_sign_in_at TIMESTAMPTZ,
    version         BIGINT      NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id)
);

CREATE UNIQUE INDEX users_name_id ON users (tenant_id, name_id);

-- AuthnRequests sent and not yet answered, bound to the browser that started them (the
-- SHA-256 of a random cookie), so a response is accepted only in that browser, once.
CREATE TABLE sso_requests (
    id           TEXT COLLATE "C" NOT NULL,
    tenant_id    TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider     TEXT        NOT NULL,
    browser_hash BYTEA       NOT NULL,
    -- Where the browser goes after the sign-in: a path of patchbay (admin) or an allowed
    -- return URL (agent desktop).
    return_to    TEXT        NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT sso_requests_pkey PRIMARY KEY (id)
);

-- Assertion ids seen, kept until the assertion expires: a second use is a replay.
CREATE TABLE sso_assertions (
    tenant_id    TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    issuer       TEXT COLLATE "C" NOT NULL,
    assertion_id TEXT COLLATE "C" NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT sso_assertions_pkey PRIMARY KEY (tenant_id, issuer, assertion_id)
);

-- One-time codes the agent desktop exchanges for the verified identity.
CREATE TABLE sso_codes (
    code_hash  BYTEA       NOT NULL,
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    return_to  TEXT        NOT NULL,
    identity   TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT sso_codes_pkey PRIMARY KEY (code_hash)
);

CREATE INDEX sso_requests_expiry ON sso_requests (expires_at);
CREATE INDEX sso_assertions_expiry ON sso_assertions (expires_at);
CREATE INDEX sso_codes_expiry ON sso_codes (expires_at);
