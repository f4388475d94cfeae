-- Identity checks count per employee, not per enrolment (a new start does not reset them),
-- and in both zones: failures are a grow-only set keyed by event id (replicated over
-- enrolment.events `identity.failed`), blocks likewise (`enrolment.blocked`); a reset (a
-- passed identity check, `identity.verified`, or the administrator's deactivation,
-- `factor.deactivated`) is a max-register per employee. Only failures and blocks after the
-- latest reset count.
CREATE TABLE identity_failures (
    event_id uuid PRIMARY KEY,
    practice text NOT NULL,
    employee text NOT NULL,
    at       timestamptz NOT NULL,
    zone     text NOT NULL
);
CREATE INDEX identity_failures_employee ON identity_failures (practice, employee, at);

CREATE TABLE enrolment_blocks (
    event_id   uuid PRIMARY KEY,
    practice   text NOT NULL,
    employee   text NOT NULL,
    blocked_at timestamptz NOT NULL,
    zone       text NOT NULL
);
CREATE INDEX enrolment_blocks_employee ON enrolment_blocks (practice, employee, blocked_at);

CREATE TABLE identity_resets (
    practice text NOT NULL,
    employee text NOT NULL,
    at       timestamptz NOT NULL,
    PRIMARY KEY (practice, employee)
);

ALTER TABLE enrolments DROP COLUMN failures;
