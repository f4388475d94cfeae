-- Part `factors` (shared/replicas/factors.py): second factors from the compacted `factors`
-- topic, merged field by field (`stamps`: the fields last written earlier than the record's
-- own stamp). `sealed` opens with associated data factor:{practice}:{employee}:{id}. (A
-- database made before the parts existed has the table from its service's own migrations.)
CREATE TABLE IF NOT EXISTS factors (
    practice       text NOT NULL,
    id             text NOT NULL,
    employee       text NOT NULL,
    kind           text NOT NULL,
    sealed         text NOT NULL,
    active         boolean NOT NULL,
    created_at     timestamptz NOT NULL,
    confirmed_step bigint,
    version        bigint NOT NULL,
    updated_at     timestamptz NOT NULL,
    zone           text NOT NULL,
    stamps         jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (practice, id)
);
CREATE INDEX IF NOT EXISTS factors_employee ON factors (practice, employee) WHERE active;
