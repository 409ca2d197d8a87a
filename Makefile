# Two commands on a fresh machine: `make up` and `make test`. Both build .venv themselves,
# with exactly the versions in uv.lock (`uv sync --frozen`).
VENV    ?= .venv
PY      := $(VENV)/bin/python
UV      := $(VENV)/bin/uv
STAMP   := $(VENV)/.installed-all
RUNTIME := $(VENV)/.installed-runtime
# --inexact keeps uv itself (installed by pip into the same venv) when syncing.
SYNC    := UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --inexact --quiet

.PHONY: install test lint imports typecheck pytest up airflow bench soak lock clean kafka java iceberg-java

# Apache Kafka (the broker of tests, benchmarks and `journeys up`): the jars of the version
# pinned in devstack/kafka-pom.xml, fetched from Maven Central by Maven into .cache/.
# With JOURNEYS_KAFKA_HOME set (an unpacked Apache Kafka) its libs/ are used and nothing is fetched.
KAFKA_POM     := devstack/kafka-pom.xml
KAFKA_VERSION := $(shell sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' $(KAFKA_POM))
KAFKA_LIBS    := .cache/kafka-$(KAFKA_VERSION)/libs
KAFKA_STAMP   := $(KAFKA_LIBS)/.complete

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

# Everything: runtime, the store backends, the lake, Airflow and the dev tools.
$(STAMP): pyproject.toml uv.lock | $(VENV)/bin/python
	$(SYNC) --all-extras
	touch $(STAMP) $(RUNTIME)

# What `make up` needs: the runtime.
$(RUNTIME): pyproject.toml uv.lock | $(VENV)/bin/python
	$(SYNC)
	touch $(RUNTIME)

# One line, never a traceback, where the broker cannot be run: checked before anything else.
JAVA_HINT := install a JDK 17 and Maven (Debian: apt-get install openjdk-17-jre-headless maven), \
or set JOURNEYS_KAFKA_HOME to an unpacked Apache Kafka, or point journeys up at an existing \
cluster (journeys up --kafka HOST:PORT)
java:
	$(if $(shell command -v java),,$(error no java on PATH: $(JAVA_HINT)))
	$(if $(JOURNEYS_KAFKA_HOME)$(shell command -v mvn),,$(error no mvn on PATH to fetch Apache Kafka $(KAFKA_VERSION): $(JAVA_HINT)))

$(KAFKA_STAMP): $(KAFKA_POM)
	rm -rf $(KAFKA_LIBS)
	mvn -q -B -f $(KAFKA_POM) dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(KAFKA_LIBS)
	touch $(KAFKA_STAMP)

kafka: java
	@[ -n "$$JOURNEYS_KAFKA_HOME" ] || $(MAKE) --no-print-directory $(KAFKA_STAMP)

# Apache Iceberg's Java library (iceberg-core/-data/-parquet, Hadoop client, sqlite-jdbc) for
# the test that reads the lake with it (tests/integration/offload/test_java_reader.py): the jars
# pinned in tests/java/iceberg-reader/pom.xml, fetched from Maven Central by Maven into .cache/.
ICEBERG_POM     := tests/java/iceberg-reader/pom.xml
ICEBERG_VERSION := $(shell sed -n 's:.*<iceberg.version>\(.*\)</iceberg.version>.*:\1:p' $(ICEBERG_POM))
ICEBERG_LIBS    := .cache/iceberg-java-$(ICEBERG_VERSION)/libs
ICEBERG_STAMP   := $(ICEBERG_LIBS)/.complete

$(ICEBERG_STAMP): $(ICEBERG_POM)
	rm -rf $(ICEBERG_LIBS)
	mvn -q -B -f $(ICEBERG_POM) dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(ICEBERG_LIBS)
	touch $(ICEBERG_STAMP)

iceberg-java: java
	$(if $(shell command -v mvn),,$(error no mvn on PATH to fetch Apache Iceberg $(ICEBERG_VERSION)'s Java jars for the Java reader test: install Maven (Debian: apt-get install maven)))
	@$(MAKE) --no-print-directory $(ICEBERG_STAMP)

install: $(STAMP) kafka

# After editing dependencies in pyproject.toml: re-resolve and commit uv.lock.
lock: | $(VENV)/bin/python
	$(UV) lock

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The architecture's import rules (contracts in pyproject.toml).
imports: $(STAMP)
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: java $(STAMP) kafka iceberg-java
	$(PY) -m pytest $(PYTEST_ARGS)

test: java lint imports typecheck pytest

up: java $(RUNTIME) kafka
	$(VENV)/bin/journeys up

airflow: java $(STAMP) kafka
	$(VENV)/bin/journeys up --airflow

bench: java $(STAMP) kafka
	$(PY) bench/e2e_bench.py

# `journeys up` at 300 lookups/s for 10 minutes (bench/soak.py --help; SOAK_ARGS="--minutes 1").
soak: java $(STAMP) kafka
	$(PY) bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
