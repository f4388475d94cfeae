#!/usr/bin/env bash
# Principals, topics and ACLs of Tweestap on an Apache Kafka cluster with SASL/SCRAM-SHA-512
# and the StandardAuthorizer (docs/security.md, "Trust per topic"). Idempotent.
#
# Each service has its own principal (both zones share it): it may write only the topics that
# service writes and read only the topics it reads, in consumer groups named after it. Host
# systems get a principal that may write directory.employees and nothing else.
#
#   # compose runs it once as the `kafka-setup` service, on the broker's own
#   # localhost-only PLAINTEXT listener (the only super-user door);
#   # by hand on a cluster, with an admin's client config:
#   BOOTSTRAP=kafka-1:9093 COMMAND_CONFIG=admin.properties ./setup-security.sh
#
# Environment (defaults in brackets):
#   BOOTSTRAP                 bootstrap servers [127.0.0.1:9091]
#   COMMAND_CONFIG            client properties of an admin principal [none: PLAINTEXT]
#   PREFIX                    topic name prefix [empty]               (TWEESTAP_TOPIC_PREFIX)
#   KAFKA_AUTH_PASSWORD, KAFKA_ENROLMENT_PASSWORD, KAFKA_CERTS_PASSWORD,
#   KAFKA_NOTIFIER_PASSWORD, KAFKA_HOST_PASSWORD
#                             SCRAM passwords of the principals (required; HOST may be empty:
#                             then no host-system principal is made)
#   KAFKA_BIN                 folder of the Kafka scripts [/opt/kafka/bin]
#   CREATE_TOPICS             also run create-topics.sh first [yes]
set -euo pipefail

BOOTSTRAP=${BOOTSTRAP:-127.0.0.1:9091}
PREFIX=${PREFIX:-}
KAFKA_BIN=${KAFKA_BIN:-/opt/kafka/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
admin=(--bootstrap-server "$BOOTSTRAP")
if [ -n "${COMMAND_CONFIG:-}" ]; then admin+=(--command-config "$COMMAND_CONFIG"); fi

if [ "${CREATE_TOPICS:-yes}" = yes ]; then
  BOOTSTRAP="$BOOTSTRAP" PREFIX="$PREFIX" KAFKA_TOPICS="$KAFKA_BIN/kafka-topics.sh" \
    bash "$HERE/create-topics.sh"
fi

# principal  password-variable
PRINCIPALS=(
  "tweestap-auth KAFKA_AUTH_PASSWORD"
  "tweestap-enrolment KAFKA_ENROLMENT_PASSWORD"
  "tweestap-certs KAFKA_CERTS_PASSWORD"
  "tweestap-notifier KAFKA_NOTIFIER_PASSWORD"
  "tweestap-host KAFKA_HOST_PASSWORD"
)
for entry in "${PRINCIPALS[@]}"; do
  read -r name variable <<<"$entry"
  password=${!variable:-}
  if [ -z "$password" ]; then
    if [ "$name" = tweestap-host ]; then continue; fi
    echo "set $variable (the SCRAM password of $name)" >&2
    exit 2
  fi
  echo "principal $name (SCRAM-SHA-512)"
  "$KAFKA_BIN/kafka-configs.sh" "${admin[@]}" --alter --entity-type users --entity-name "$name" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]" >/dev/null
done

produce() { # principal topic…
  local principal=$1
  shift
  for topic in "$@"; do
    "$KAFKA_BIN/kafka-acls.sh" "${admin[@]}" --add --allow-principal "User:$principal" \
      --producer --topic "${PREFIX}${topic}" >/dev/null
  done
}

consume() { # principal group-prefix topic…
  local principal=$1 group=$2
  shift 2
  for topic in "$@"; do
    "$KAFKA_BIN/kafka-acls.sh" "${admin[@]}" --add --allow-principal "User:$principal" \
      --operation Read --operation Describe --topic "${PREFIX}${topic}" >/dev/null
  done
  "$KAFKA_BIN/kafka-acls.sh" "${admin[@]}" --add --allow-principal "User:$principal" \
    --operation Read --group "${PREFIX}${group}" --resource-pattern-type prefixed >/dev/null
}

# What each service writes and reads (shared/topics.py; docs/security.md). auth writes the
# directory only through `tweestap bootstrap`, which runs with auth's settings.
produce tweestap-auth directory.practices directory.employees auth.events auth.credentials \
  factors notify.requests sts.keys sts.revocations deadletters
consume tweestap-auth auth- directory.practices directory.employees auth.credentials factors \
  sts.keys sts.revocations auth.events certs.events
produce tweestap-enrolment directory.practices directory.employees enrolment.events factors \
  notify.requests sts.revocations deadletters
consume tweestap-enrolment enrolment- directory.practices directory.employees factors sts.keys \
  sts.revocations enrolment.events
produce tweestap-certs certs.events notify.requests deadletters
consume tweestap-certs certs- directory.practices directory.employees sts.keys sts.revocations \
  certs.events
produce tweestap-notifier notify.results notify.dlq deadletters
consume tweestap-notifier notifier- directory.practices notify.requests
if [ -n "${KAFKA_HOST_PASSWORD:-}" ]; then
  produce tweestap-host directory.employees
fi
echo "ACLs in place"
