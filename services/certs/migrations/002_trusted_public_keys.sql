-- Issue 10 finding 12: public signing keys now count only when the deployment's trust key
-- signed their announcement on sts.keys. Keys kept before were accepted from anyone who could
-- produce to the broker, so they are forgotten: each zone's auth re-publishes its live keys,
-- signed, at start (an upgraded zone's tokens verify again once its auth has started).
DELETE FROM public_keys;
