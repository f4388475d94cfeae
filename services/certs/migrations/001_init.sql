-- Practices and employees, materialised from directory.* (last writer wins): the practice's
-- e-mail address for expiry notices, who administers it, who may be granted a certificate.
CREATE TABLE practices (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    email               text,
    two_factor_required boolean NOT NULL,
    version             int NOT NULL,
    updated_at          timestamptz NOT NULL,
    zone                text NOT NULL
);

CREATE TABLE employees (
    practice     text NOT NULL,
    id           text NOT NULL,
    name         text NOT NULL,
    rights_group int NOT NULL,
    in_service   boolean NOT NULL,
    version      int NOT NULL,
    updated_at   timestamptz NOT NULL,
    zone         text NOT NULL,
    PRIMARY KEY (practice, id)
);

-- Imported certificates: the whole state replicated over certs.events (last writer wins by
-- (version, updated_at, zone)). The private key is sealed (associated data
-- certificate:{practice}:{nr}) and stays in the zone that imported it; never on Kafka.
CREATE TABLE certificates (
    practice        text NOT NULL,
    nr              text NOT NULL,
    fingerprint     text NOT NULL,
    certificate_pem text NOT NULL,
    subject         text NOT NULL,
    issuer          text NOT NULL,
    serial_number   text NOT NULL,
    not_before      timestamptz NOT NULL,
    not_after       timestamptz NOT NULL,
    kind            text NOT NULL,
    type            text NOT NULL,
    services        jsonb NOT NULL,
    agb_code        text,
    grants          jsonb NOT NULL,
    removed         boolean NOT NULL,
    sealed_key      text,
    version         int NOT NULL,
    updated_at      timestamptz NOT NULL,
    zone            text NOT NULL,
    PRIMARY KEY (practice, nr)
);
CREATE INDEX certificates_fingerprint ON certificates (practice, fingerprint) WHERE NOT removed;
CREATE INDEX certificates_expiry ON certificates (not_after) WHERE NOT removed;

-- Expiry notices this zone has queued (the request ids are deterministic, so the notifier
-- sends each once even when both zones queue it).
CREATE TABLE expiry_notices (
    practice  text NOT NULL,
    nr        text NOT NULL,
    threshold int NOT NULL,
    queued_at timestamptz NOT NULL,
    PRIMARY KEY (practice, nr, threshold)
);

-- `public_keys`: created by the replicated part (shared/replicas/migrations).

-- `revocations`: created by the replicated part (shared/replicas/migrations).

-- `session_cutoffs`: created by the replicated part (shared/replicas/migrations).
