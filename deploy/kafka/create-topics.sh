#!/usr/bin/env bash
# Create Tweestap's topics up front on an Apache Kafka cluster (see topics.md).
# Idempotent: existing topics are left alone.
#
#   BOOTSTRAP=kafka-1:9092 REPLICATION=3 PARTITIONS=6 ./create-topics.sh
#   (compose: the kafka-setup job runs it through setup-security.sh, REPLICATION=3)
#
# Environment (defaults in brackets):
#   BOOTSTRAP     bootstrap servers [localhost:9092]
#   PARTITIONS    partitions per topic [6]            (TWEESTAP_TOPIC_PARTITIONS)
#   REPLICATION   replication factor [1]              (TWEESTAP_TOPIC_REPLICATION_FACTOR)
#   MIN_ISR       min.insync.replicas [1 if REPLICATION is 1, else 2]
#   RETENTION_MS  retention of the non-compacted topics [604800000]  (TWEESTAP_TOPIC_RETENTION_MS)
#   PREFIX        topic name prefix [empty]           (TWEESTAP_TOPIC_PREFIX)
#   KAFKA_TOPICS  the kafka-topics command [kafka-topics.sh on PATH, else /opt/kafka/bin/kafka-topics.sh]
set -euo pipefail

BOOTSTRAP=${BOOTSTRAP:-localhost:9092}
PARTITIONS=${PARTITIONS:-6}
REPLICATION=${REPLICATION:-1}
RETENTION_MS=${RETENTION_MS:-604800000}
PREFIX=${PREFIX:-}
if [ -z "${MIN_ISR:-}" ]; then
  if [ "$REPLICATION" -ge 3 ]; then MIN_ISR=2; else MIN_ISR=1; fi
fi
if [ -z "${KAFKA_TOPICS:-}" ]; then
  if command -v kafka-topics.sh >/dev/null 2>&1; then
    KAFKA_TOPICS=kafka-topics.sh
  else
    KAFKA_TOPICS=/opt/kafka/bin/kafka-topics.sh
  fi
fi

# name and policy, as in shared/topics.py
TOPICS=(
  "directory.practices compact"
  "directory.employees compact"
  "auth.events delete"
  "auth.credentials compact"
  "enrolment.events delete"
  "factors compact"
  "notify.requests delete"
  "notify.results delete"
  "notify.dlq delete"
  "certs.events compact"
  "sts.keys compact"
  "sts.revocations delete"
  "deadletters delete"
)

for entry in "${TOPICS[@]}"; do
  read -r name policy <<<"$entry"
  configs=(--config "cleanup.policy=$policy" --config "min.insync.replicas=$MIN_ISR")
  if [ "$policy" = delete ]; then
    configs+=(--config "retention.ms=$RETENTION_MS")
  fi
  echo "topic ${PREFIX}${name}: $policy, $PARTITIONS partitions, replication $REPLICATION"
  "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "${PREFIX}${name}" --partitions "$PARTITIONS" --replication-factor "$REPLICATION" \
    "${configs[@]}"
done
