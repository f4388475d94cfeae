-- Consumers that have committed offsets on this database: a restart is behind (it may lack
-- events on the bus) from its first request, even when the inbox holds nothing (rows past
-- their retention, or records the consumer skips, which never reach it). shared/consumer.py.
CREATE TABLE consumed (
    consumer text PRIMARY KEY,
    since    timestamptz NOT NULL DEFAULT now()
);
