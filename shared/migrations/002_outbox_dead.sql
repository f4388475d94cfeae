-- Outbox rows the broker refused for good (too large, not authorised, invalid topic): moved
-- here by the relay with the reason, so that the events after them keep flowing. An operator
-- fixes the cause and re-queues a row with
--   INSERT INTO outbox (id, topic, key, payload) SELECT id, topic, key, payload
--     FROM outbox_dead WHERE id = '…';  DELETE FROM outbox_dead WHERE id = '…';
CREATE TABLE outbox_dead (
    seq        bigint PRIMARY KEY,
    id         uuid NOT NULL UNIQUE,
    topic      text NOT NULL,
    key        text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    reason     text NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
