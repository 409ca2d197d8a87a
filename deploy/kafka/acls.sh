#!/usr/bin/env bash
# Least-privilege ACLs for the journey lookup (run once per cluster, idempotent).
#
# The gateway sits in the DMZ: it may only PRODUCE requests and CONSUME replies. It consumes its
# reply partition by manual assignment, so it needs no consumer-group ACL and commits nothing.
# The responder consumes requests in a consumer group and produces replies and dead letters.
# Neither may create topics in production: topics come from create-topics.sh and both processes
# run with JOURNEYS_KAFKA_CREATE_TOPICS=false.
#
# Usage:
#   BOOTSTRAP_SERVERS=broker1:9093 COMMAND_CONFIG=/etc/kafka/admin.properties ./acls.sh
#
#   GATEWAY_PRINCIPAL    User:journeys-gateway     (the SASL user / TLS DN of the gateways)
#   RESPONDER_PRINCIPAL  User:journeys-responder
#   OPS_PRINCIPAL        User:journeys-ops         (reads the DLQ for inspection and replay)
#   RESPONDER_GROUP      journeys-responder        (the responder's consumer group id)
#   REQUESTS_TOPIC / REPLIES_TOPIC / DLQ_TOPIC, KAFKA_BIN as in create-topics.sh
set -euo pipefail

KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
BOOTSTRAP_SERVERS="${BOOTSTRAP_SERVERS:-localhost:9092}"
COMMAND_CONFIG="${COMMAND_CONFIG:-}"
GATEWAY_PRINCIPAL="${GATEWAY_PRINCIPAL:-User:journeys-gateway}"
RESPONDER_PRINCIPAL="${RESPONDER_PRINCIPAL:-User:journeys-responder}"
OPS_PRINCIPAL="${OPS_PRINCIPAL:-User:journeys-ops}"
RESPONDER_GROUP="${RESPONDER_GROUP:-journeys-responder}"
REQUESTS_TOPIC="${REQUESTS_TOPIC:-journey.requests}"
REPLIES_TOPIC="${REPLIES_TOPIC:-journey.replies}"
DLQ_TOPIC="${DLQ_TOPIC:-journey.requests.dlq}"

admin_args=(--bootstrap-server "$BOOTSTRAP_SERVERS")
if [[ -n "$COMMAND_CONFIG" ]]; then
    admin_args+=(--command-config "$COMMAND_CONFIG")
fi

allow() {
    "$KAFKA_BIN/kafka-acls.sh" "${admin_args[@]}" --add --allow-principal "$@"
}

# Gateway: produce requests, read (by assignment) replies. DESCRIBE comes with both.
allow "$GATEWAY_PRINCIPAL" --producer --topic "$REQUESTS_TOPIC"
allow "$GATEWAY_PRINCIPAL" --operation Read --operation Describe --topic "$REPLIES_TOPIC"

# Responder: consume requests in its group, produce replies and dead letters.
allow "$RESPONDER_PRINCIPAL" --consumer --topic "$REQUESTS_TOPIC" --group "$RESPONDER_GROUP"
allow "$RESPONDER_PRINCIPAL" --producer --topic "$REPLIES_TOPIC"
allow "$RESPONDER_PRINCIPAL" --producer --topic "$DLQ_TOPIC"

# Operators: read the DLQ with their own groups (named journeys-ops-*) and watch the
# responder group's lag (kafka-consumer-groups.sh --describe).
allow "$OPS_PRINCIPAL" --operation Read --operation Describe --topic "$DLQ_TOPIC"
allow "$OPS_PRINCIPAL" --operation Read --group journeys-ops- --resource-pattern-type prefixed
allow "$OPS_PRINCIPAL" --operation Describe --group "$RESPONDER_GROUP"

"$KAFKA_BIN/kafka-acls.sh" "${admin_args[@]}" --list
