"""The otelcol-contrib components and fields our collector configurations may use, as documented.

Each entry is transcribed from the component's README / config.go in
opentelemetry-collector (core) and opentelemetry-collector-contrib; a nested
dict lists the sub-fields, ``ANY`` accepts any value. Only what the configs use
(or could reasonably use) is listed: an unknown field is a test failure, so a
typo such as ``sending_que`` cannot ship.
"""

from __future__ import annotations

ANY = object()

# configretry.BackOffConfig (core config/configretry)
RETRY = {"enabled": ANY, "initial_interval": ANY, "max_interval": ANY, "max_elapsed_time": ANY, "multiplier": ANY, "randomization_factor": ANY}
# exporterhelper queue (core exporter/exporterhelper README)
QUEUE = {"enabled": ANY, "num_consumers": ANY, "queue_size": ANY, "storage": ANY, "sizer": ANY, "block_on_overflow": ANY, "wait_for_result": ANY, "batch": ANY}
TLS = {"insecure": ANY, "insecure_skip_verify": ANY, "ca_file": ANY, "cert_file": ANY, "key_file": ANY, "server_name_override": ANY, "min_version": ANY}
# configgrpc.ClientConfig + exporterhelper (core exporter/otlpexporter)
OTLP_GRPC_EXPORTER = {"endpoint": ANY, "timeout": ANY, "compression": ANY, "tls": TLS, "headers": ANY, "balancer_name": ANY, "keepalive": ANY,
                      "retry_on_failure": RETRY, "sending_queue": QUEUE, "auth": ANY, "write_buffer_size": ANY, "wait_for_ready": ANY}  # fmt: skip

RECEIVERS = {
    # core receiver/otlpreceiver
    "otlp": {"protocols": {"grpc": {"endpoint": ANY, "tls": ANY, "max_recv_msg_size_mib": ANY, "max_concurrent_streams": ANY, "keepalive": ANY, "auth": ANY},
                           "http": {"endpoint": ANY, "tls": ANY, "cors": ANY, "max_request_body_size": ANY, "traces_url_path": ANY, "auth": ANY}}},
}  # fmt: skip

PROCESSORS = {
    # core processor/memorylimiterprocessor
    "memory_limiter": {"check_interval": ANY, "limit_mib": ANY, "spike_limit_mib": ANY, "limit_percentage": ANY, "spike_limit_percentage": ANY},
    # core processor/batchprocessor
    "batch": {"timeout": ANY, "send_batch_size": ANY, "send_batch_max_size": ANY, "metadata_keys": ANY, "metadata_cardinality_limit": ANY},
    # contrib processor/redactionprocessor (README, config.go)
    "redaction": {"allow_all_keys": ANY, "allowed_keys": ANY, "ignored_keys": ANY, "redact_all_types": ANY, "blocked_key_patterns": ANY,
                  "blocked_values": ANY, "allowed_values": ANY, "hash_function": ANY, "summary": ANY, "url_sanitizer": ANY, "db_sanitizer": ANY},
    # contrib processor/transformprocessor
    "transform": {"error_mode": ANY, "trace_statements": ANY, "metric_statements": ANY, "log_statements": ANY},
}  # fmt: skip

EXPORTERS = {
    # core exporter/otlphttpexporter
    "otlphttp": {"endpoint": ANY, "traces_endpoint": ANY, "headers": ANY, "compression": ANY, "encoding": ANY, "timeout": ANY, "tls": TLS,
                 "retry_on_failure": RETRY, "sending_queue": QUEUE, "auth": ANY, "read_buffer_size": ANY, "write_buffer_size": ANY},
    "otlp": OTLP_GRPC_EXPORTER,
    # contrib exporter/loadbalancingexporter
    "loadbalancing": {"routing_key": ANY, "protocol": {"otlp": OTLP_GRPC_EXPORTER},
                      "resolver": {"static": {"hostnames": ANY}, "dns": {"hostname": ANY, "port": ANY, "interval": ANY, "timeout": ANY},
                                   "k8s": {"service": ANY, "ports": ANY, "timeout": ANY, "return_hostnames": ANY}},
                      "timeout": ANY, "retry_on_failure": RETRY, "sending_queue": QUEUE},
}  # fmt: skip

EXTENSIONS = {
    # contrib extension/healthcheckextension
    "health_check": {"endpoint": ANY, "path": ANY, "check_collector_pipeline": ANY},
    # contrib extension/storage/filestorage
    "file_storage": {"directory": ANY, "timeout": ANY, "fsync": ANY, "create_directory": ANY, "directory_permissions": ANY,
                     "compaction": {"on_start": ANY, "on_rebound": ANY, "directory": ANY, "max_transaction_size": ANY,
                                    "rebound_needed_threshold_mib": ANY, "rebound_trigger_threshold_mib": ANY, "check_interval": ANY, "cleanup_on_start": ANY}},
}  # fmt: skip

KINDS = {"receivers": RECEIVERS, "processors": PROCESSORS, "exporters": EXPORTERS, "extensions": EXTENSIONS}

# OTTL functions (contrib pkg/ottl/ottlfuncs) the transform statements may call, and the span contexts.
OTTL_FUNCTIONS = {"replace_pattern", "replace_all_patterns", "replace_match", "replace_all_matches", "set", "delete_key", "delete_matching_keys",
                  "keep_keys", "truncate_all", "limit", "SHA256", "IsMatch", "Concat"}  # fmt: skip
OTTL_CONTEXTS = {"resource", "scope", "span", "spanevent"}
