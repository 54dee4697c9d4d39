# The two commands: `make run` and `make test`. Everything else is a helper of those.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Debian packages the test suite drives as real peers (installed only when missing).
APT_PACKAGES := postgresql-client libwbxml2-utils tshark dovecot-imapd slapd ldap-utils pamtester sasl2-bin ejabberd isync offlineimap3 fetchmail mutt tmux swaks dovecot-lmtpd libnet-ssleay-perl libio-socket-ssl-perl khal khard
# PostgreSQL server the second test pass uses; a throwaway database is created and dropped.
PG_SERVER ?= postgresql://postgres@127.0.0.1:5432
PG_ADMIN_URL ?= $(PG_SERVER)/postgres

.PHONY: run test install install-test apt-deps lint typecheck imports test-sqlite test-postgres bench clean

# pip's warnings about index locations of this machine's pip.conf are noise: filtered.
PIP_QUIET := 2> >(grep -v -e '^WARNING: Location' -e 'BuildBackendWarning' -e '^ *!!' -e '^ *\*\*\*' -e 'Please be careful' -e 'name as your package' -e 'with strategy' -e '^ *$$' >&2)

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing groupware and its dependencies into $(VENV) ..."
	@$(PIP) install -q --upgrade pip $(PIP_QUIET)
	@$(PIP) install -q -e .[postgres,ldap,redis] $(PIP_QUIET)
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	@$(PIP) install -q -e .[test] $(PIP_QUIET)
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test apt-deps

## make run: set everything up (venv, data dir, database, certificate, admin) and serve.
run: install
	@$(VENV)/bin/groupware init --quiet-if-done
	@exec $(VENV)/bin/groupware serve

apt-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lint: install-test
	$(VENV)/bin/ruff check .

typecheck: install-test
	$(VENV)/bin/mypy

imports: install-test
	$(VENV)/bin/lint-imports

test-sqlite: install-test
	GROUPWARE_TEST_DATABASE=sqlite $(VENV)/bin/pytest -q -p no:cacheprovider

test-postgres: install-test
	@set -o pipefail; db="$${PG_TEST_DB:-groupware_test_$$$$}"; \
	$(PY) -m tests.pgdb create "$(PG_ADMIN_URL)" "$$db" || exit 2; \
	GROUPWARE_TEST_DATABASE="$(PG_SERVER)/$$db" \
	  $(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_PG_ARGS); rc=$$?; \
	$(PY) -m tests.pgdb drop "$(PG_ADMIN_URL)" "$$db"; exit $$rc

## make test: install what the tests need, run the quality gates, the suite on SQLite, then on PostgreSQL.
# Every step runs even when an earlier one fails, so one run shows every problem;
# the target fails if any step failed.
test: install-test
	@failed=""; \
	for step in "$(VENV)/bin/ruff check ." "$(VENV)/bin/mypy" "$(VENV)/bin/lint-imports" \
	            "$(MAKE) --no-print-directory test-sqlite" "$(MAKE) --no-print-directory test-postgres"; do \
	  echo "== $$step"; $$step || failed="$$failed\n  $$step"; \
	done; \
	if [ -n "$$failed" ]; then printf "make test: these steps failed:$$failed\n"; exit 1; fi; \
	echo "make test: all steps passed"

bench: install-test
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
