#!/usr/bin/env bash
# Create (or check) the three topics of the journey lookup on an Apache Kafka cluster.
#
# Idempotent: --if-not-exists, then the topic configs are (re)applied with kafka-configs.sh so a
# rerun converges an existing topic to the settings below. It never changes the partition count
# of an existing topic (see docs/operations.md, "Adding partitions", for why and how).
#
# Usage:
#   BOOTSTRAP_SERVERS=broker1:9092,broker2:9092 ./create-topics.sh
#   COMMAND_CONFIG=/etc/kafka/admin.properties ./create-topics.sh     # SASL/SSL admin client
#
# Every knob is an environment variable with a production default:
#   KAFKA_BIN            directory of kafka-topics.sh / kafka-configs.sh   (/opt/kafka/bin)
#   BOOTSTRAP_SERVERS    brokers to talk to                                 (localhost:9092)
#   COMMAND_CONFIG       admin client properties file (SASL/SSL), optional
#   REQUESTS_TOPIC / REPLIES_TOPIC / DLQ_TOPIC      topic names (match JOURNEYS_KAFKA_*_TOPIC)
#   PARTITIONS           partitions of requests and replies (8; = JOURNEYS_KAFKA_PARTITIONS)
#   DLQ_PARTITIONS       partitions of the DLQ (3: it is low-volume)
#   REPLICATION_FACTOR   3 (1 only for a single-broker test cluster)
#   MIN_INSYNC_REPLICAS  2 (with acks=all a write survives one broker loss; 1 on a single broker)
#   RETENTION_MS         requests/replies retention (1 h: a request is useless after its deadline)
#   DLQ_RETENTION_MS     DLQ retention (7 d: long enough to inspect and replay after a weekend)
set -euo pipefail

KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
BOOTSTRAP_SERVERS="${BOOTSTRAP_SERVERS:-localhost:9092}"
COMMAND_CONFIG="${COMMAND_CONFIG:-}"
REQUESTS_TOPIC="${REQUESTS_TOPIC:-journey.requests}"
REPLIES_TOPIC="${REPLIES_TOPIC:-journey.replies}"
DLQ_TOPIC="${DLQ_TOPIC:-journey.requests.dlq}"
PARTITIONS="${PARTITIONS:-8}"
DLQ_PARTITIONS="${DLQ_PARTITIONS:-3}"
REPLICATION_FACTOR="${REPLICATION_FACTOR:-3}"
MIN_INSYNC_REPLICAS="${MIN_INSYNC_REPLICAS:-2}"
RETENTION_MS="${RETENTION_MS:-3600000}"
DLQ_RETENTION_MS="${DLQ_RETENTION_MS:-604800000}"

if (( MIN_INSYNC_REPLICAS > REPLICATION_FACTOR )); then
    echo "MIN_INSYNC_REPLICAS ($MIN_INSYNC_REPLICAS) > REPLICATION_FACTOR ($REPLICATION_FACTOR):" \
        "no write with acks=all could ever succeed" >&2
    exit 2
fi

admin_args=(--bootstrap-server "$BOOTSTRAP_SERVERS")
if [[ -n "$COMMAND_CONFIG" ]]; then
    admin_args+=(--command-config "$COMMAND_CONFIG")
fi

# Short-lived request/reply traffic: delete policy, small segments so retention actually bites
# (retention applies per closed segment), and the broker's timestamps (a client clock cannot
# make a message live longer).
hot_configs="cleanup.policy=delete,retention.ms=${RETENTION_MS},segment.ms=${RETENTION_MS}"
hot_configs+=",min.insync.replicas=${MIN_INSYNC_REPLICAS},message.timestamp.type=LogAppendTime"
# Dead letters are kept for a week for inspection and replay; never compacted (keys repeat).
dlq_configs="cleanup.policy=delete,retention.ms=${DLQ_RETENTION_MS}"
dlq_configs+=",min.insync.replicas=${MIN_INSYNC_REPLICAS}"

create_topic() {
    local topic="$1" partitions="$2" configs="$3"
    local -a config_args=() items=()
    local item
    IFS=',' read -r -a items <<<"$configs"
    for item in "${items[@]}"; do
        config_args+=(--config "$item")
    done
    "$KAFKA_BIN/kafka-topics.sh" "${admin_args[@]}" --create --if-not-exists \
        --topic "$topic" --partitions "$partitions" \
        --replication-factor "$REPLICATION_FACTOR" "${config_args[@]}"
    # Converge an existing topic's configs (no-op on a fresh one).
    "$KAFKA_BIN/kafka-configs.sh" "${admin_args[@]}" --alter --entity-type topics \
        --entity-name "$topic" --add-config "$configs"
}

create_topic "$REQUESTS_TOPIC" "$PARTITIONS" "$hot_configs"
create_topic "$REPLIES_TOPIC" "$PARTITIONS" "$hot_configs"
create_topic "$DLQ_TOPIC" "$DLQ_PARTITIONS" "$dlq_configs"

for topic in "$REQUESTS_TOPIC" "$REPLIES_TOPIC" "$DLQ_TOPIC"; do
    "$KAFKA_BIN/kafka-topics.sh" "${admin_args[@]}" --describe --topic "$topic"
done
