-- Part `revocations` (shared/replicas/revocations.py), from sts.revocations: revoked sessions
-- (a grow-only set) and each employee's session cutoff (a max-register: every session that
-- started at or before `before` is over). (A database made before the parts existed has the
-- tables from its service's own migrations: nothing to do.)
CREATE TABLE IF NOT EXISTS revocations (
    sid                text PRIMARY KEY,
    practice           text NOT NULL,
    employee           text NOT NULL,
    revoked_at         timestamptz NOT NULL,
    session_expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS session_cutoffs (
    practice text NOT NULL,
    employee text NOT NULL,
    before   timestamptz NOT NULL,
    PRIMARY KEY (practice, employee)
);
