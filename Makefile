# mailfort — the two commands: `make lab` and `make test`. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
DISTROS ?= debian12 debian13
SCENARIO ?= topology
# Packages the lab needs on the controller (a Debian machine).
# shellcheck: for `make lint`.
APT_PACKAGES := podman runc debootstrap swaks libnet-ssleay-perl python3-venv iproute2 openssh-client shellcheck

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PY_COLORS ?= 0
export ANSIBLE_FORCE_COLOR ?= 0

INVENTORY ?= inventories/production

.PHONY: help deps apt apt-venv venv images lab lab-down lint unit lab-ca molecule check test audit audit-inventory auth-report diagnose mutate collection ee rolling bench clean

help:
	@echo "make lab       bring up the lab mail host (podman container mailfort-lab) and converge it"
	@echo "make lab-down  remove the lab host"
	@echo "make test      lint + unit tests + molecule ($(SCENARIO)) on $(DISTROS), side by side (what CI runs)"
	@echo "make check     the quicker tier: lint + unit tests + molecule on debian12 only"
	@echo "make molecule DISTROS=debian13 SCENARIO=default   one scenario, one distro"
	@echo "make audit INVENTORY=... [LIMIT=host] [TIER=external|onhost]   audit real hosts (external: SMTP reach only)"
	@echo "make audit-inventory INVENTORY=...                 write .cache/audit/inventory.yml for the external audit"
	@echo "make auth-report INVENTORY=... SINCE=-24h          AUTH failures by client/user, successes, bans"
	@echo "make diagnose DOMAIN=example.com [RESOLVER=addr] [CAFILE=path] [DKIM_KEY=path] [SELECTOR=mail] [JSON=1]"
	@echo "                  what receivers see of a mail domain (DNS, PTR/HELO, ports, certificates), from here"
	@echo "make collection   build the mailfort.mail collection: .cache/collection/mailfort-mail-VERSION.tar.gz"
	@echo "make ee           the execution environment's build context (.cache/ee) for AWX / Automation Controller"
	@echo "make rolling      three lab mail servers, a change rolled out one at a time while they are probed"
	@echo "make bench [BENCH_ARGS=--smoke]  benchmarks on lab hosts: figures and ratios in .cache/bench/*.json"

deps: apt venv

# install_missing PACKAGES: install those not installed yet (as root; else say which).
define install_missing
@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" -ne 0 ]; then echo "missing packages:$$missing — run as root or install them" >&2; exit 1; fi; \
  echo "installing:$$missing"; \
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
fi
endef

# The lab and lint need APT_PACKAGES; the virtualenv alone (what make audit and
# make diagnose use on an operator's machine) needs only python3-venv.
VENV_APT_PACKAGES := python3-venv
apt:
	$(call install_missing,$(APT_PACKAGES))

apt-venv:
	$(call install_missing,$(VENV_APT_PACKAGES))

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt | apt-venv
	tests/timed.sh venv sh -c 'python3 -m venv $(VENV) && $(VENV)/bin/pip install -q --upgrade pip \
	  && $(VENV)/bin/pip install -q -r requirements.txt'
	touch $@

# Base images (lab/build-image.sh rebuilds one only when its recipe changed).
images: $(addprefix image-,$(DISTROS))
image-%: apt
	tests/timed.sh "image $*" lab/build-image.sh $*

lab: deps
	lab/lab.sh up

lab-down:
	lab/lab.sh down

# LAB ONLY: a rolling deploy on three lab mail servers (tests/rolling_deploy.py).
# They stay up afterwards (make lab-down removes them).
rolling: deps
	tests/rolling_deploy.py

# The roles, filters and playbooks as the collection mailfort.mail, for
# `ansible-galaxy collection install` (README: "Use it from your own playbook").
collection: venv
	collections/build.sh .cache/collection

# The execution environment (execution-environment.yml, ansible-builder v3):
# its build context, with the collection tarball in it. The image is built
# where a registry is reachable (README); here the context is checked: the
# tarball the galaxy step names installs from it, offline.
ee: collection
	rm -rf .cache/ee
	ansible-builder create --file execution-environment.yml --context .cache/ee
	cd .cache/ee/_build && ansible-galaxy collection install --offline --no-deps --force \
	  -p ../installed $$(python3 -c 'import yaml; print(" ".join(c["name"] for c in yaml.safe_load(open("requirements.yml"))["collections"] if c.get("type") == "file"))')

# Every shell script: *.sh and any file starting with a sh/bash shebang (.ci/run).
# -x follows the files they source (lab/podman.env).
SHELL_SCRIPTS = $(sort $(shell find . \( -name .git -o -name .venv -o -name .cache -o -name .ansible \) -prune \
  -o -type f -name '*.sh' -print) \
  $(shell grep -rlE '^\#!(/usr/bin/env |/usr/bin/|/bin/)(ba)?sh\b' --exclude-dir=.git --exclude-dir=.venv \
  --exclude-dir=.cache --exclude-dir=.ansible .))

lint: venv apt
	yamllint --strict .
	ansible-lint --offline
	ruff check .
	shellcheck -x $(SHELL_SCRIPTS)

JUNIT_DIR := $(CURDIR)/.cache/junit

unit: venv
	mkdir -p $(JUNIT_DIR)
	pytest tests/unit tests/roles --junitxml=$(JUNIT_DIR)/unit.xml

# Labs converged side by side share one lab CA: create it first, with the
# certificate files the production example's lab host uses (tls_source: files).
LAB_CA := .cache/lab-ca/ca.crt .cache/lab-ca/files/mx.lab.test/fullchain.pem
lab-ca: $(LAB_CA)
$(LAB_CA) &: | venv
	ansible-playbook playbooks/lab-ca.yml

# LAB ONLY benchmarks (bench/README.md): converge and re-run, submission
# throughput under TLS + AUTH, fleet scaling, faults under load, suite time.
# Long (about an hour); BENCH_ARGS="--smoke" runs each bench once with tiny
# counts, BENCH_ARGS="--only throughput" one of them. Figures: .cache/bench/*.json.
BENCH_ARGS ?=
bench: deps $(LAB_CA)
	bench/run.py $(BENCH_ARGS)

# One lab per distro (tests/lab-run.sh: every step timed, destroy always). The
# mutation proofs run on the first distro only: they are about the tests. That
# lab is the longest job, so it runs at normal priority and the other labs at a
# lower one (nice), where they wait for the CPU when both need it.
FIRST_DISTRO := $(firstword $(DISTROS))
# The mutation proofs run on the first distro's lab (inventories/lab); the last
# one's lab converges the production example (inventories/lab-production) and
# runs check mode on its brand-new hosts first (when there are two distros; with
# one, that lab does the first distro's work). The last distro's lab also
# converges its mail server again from the collection tarball, installed into a
# user's project (tests/collection-consumer.sh: that lab's second converge), and
# runs the rolling deploy on three mail servers of its own while its verify
# step runs (tests/rolling_deploy.py), and its audit step adds the credentialed
# tier. The labs run side by side.
# Tests that prove nothing a second distribution would not run on one lab: those
# marked distro_independent (test_config_safety: input checks made on the
# controller) on the first distro's, those marked distro_independent_last
# (test_outbound: the smarthost settings render the same on both) on the last
# distro's, which balances the two labs' time. Those marked last_distro_only
# (test_acme: certbot differs between the distributions) on the last distro's
# lab only, because CI has no time for both (run by hand on the other).
LAST_DISTRO := $(lastword $(DISTROS))
lab-test-%: venv image-% $(LAB_CA)
	MAILFORT_MUTATIONS=$(if $(filter $*,$(FIRST_DISTRO)),1,0) \
	MAILFORT_CHECK_NEW=$(if $(filter $*,$(LAST_DISTRO)),1,0) \
	MAILFORT_COLLECTION=$(if $(filter $*,$(LAST_DISTRO)),1,0) \
	MAILFORT_ROLLING=$(if $(filter $*,$(LAST_DISTRO)),1,0) \
	MAILFORT_AUDIT_CREDENTIALED=$(if $(filter $*,$(LAST_DISTRO)),1,0) \
	MAILFORT_LAB_INVENTORY=$(if $(and $(filter $*,$(LAST_DISTRO)),$(filter-out $(FIRST_DISTRO),$*)),lab-production,lab) \
	MAILFORT_VERIFY_MARKERS="not external$(if $(filter-out $(FIRST_DISTRO),$*), and not distro_independent)$(if $(filter-out $(LAST_DISTRO),$*), and not distro_independent_last and not last_distro_only)" \
	SCENARIO=$(SCENARIO) \
	  nice -n $(if $(filter $*,$(FIRST_DISTRO)),0,5) tests/lab-run.sh $*

molecule: $(addprefix lab-test-,$(DISTROS))

TIMING_DIR := $(CURDIR)/.cache/timings
# Budget: the summary fails above this many minutes (CI's hard limit is 90).
CI_BUDGET_MINUTES ?= 30

# After the apt packages: the virtualenv, the base images, lint, unit and one
# lab per distro, each as soon as what it needs is there, side by side (-j):
# the labs spend most of their time waiting on their containers. The output of
# each job is printed whole when it ends (--output-sync). The summary reads
# every report, checks that none is missing, that no test vanished into a skip
# (tests/expected-skips.txt) and prints the timing table; it decides, together
# with make's own status.
test:
	rm -rf $(JUNIT_DIR) $(TIMING_DIR)
	mkdir -p $(JUNIT_DIR) $(TIMING_DIR)
	echo "$${MAILFORT_CI_STARTED:-$$(date +%s)}" >$(TIMING_DIR)/started
	tests/timed.sh apt $(MAKE) --no-print-directory apt
	status=0; $(MAKE) --no-print-directory -j 6 --output-sync=target --keep-going \
	  timed-lint timed-unit timed-ee $(addprefix lab-test-,$(DISTROS)) || status=$$?; \
	python3 tests/summary.py --junit $(JUNIT_DIR) --timings $(TIMING_DIR) --distros "$(DISTROS)" \
	  --scenario $(SCENARIO) --mutations-on $(FIRST_DISTRO) --check-new-on $(LAST_DISTRO) \
	  --collection-on $(LAST_DISTRO) --rolling-on $(LAST_DISTRO) \
	  --budget-minutes $(CI_BUDGET_MINUTES) || status=1; \
	exit $$status

# The quicker tier for local work: the same, on one distro.
check:
	$(MAKE) --no-print-directory test DISTROS=debian12

# lint and unit tests only need CPU: they take what the labs leave (nice).
timed-%: venv
	nice -n 10 tests/timed.sh $* $(MAKE) --no-print-directory $*

# Break the lab server one fault at a time; the tests guarding each fault must fail.
# (`make test` runs it in its own step after verify, on the first distro.)
mutate: venv
	pytest tests/infra/mutation_proofs.py --hosts='ansible://mailservers' --ansible-inventory=inventories/lab -p no:cacheprovider -s

# The audit of real hosts, one tier (README "The same checks against real hosts"):
# TIER=external (default: SMTP reach only, no shell, no credentials), onhost
# (a shell on the host, read-only) or a pytest marker expression such as
# "external or onhost"; LIMIT=host or group (default: every mail server). One
# line per promise per host at the end, JUnit in .cache/junit/audit.xml, and a
# non-zero exit when a host breaks a promise.
TIER ?= external
LIMIT ?= mailservers
audit: venv
	mkdir -p $(JUNIT_DIR)
	pytest tests/infra -m '$(TIER)' --hosts='ansible://$(LIMIT)' --ansible-inventory=$(INVENTORY) \
	  -p no:cacheprovider -W ignore::DeprecationWarning --junitxml=$(JUNIT_DIR)/audit.xml

# An audit inventory from a mailfort inventory: addresses, names and allow-lists as
# literal values, so the external tier needs nothing else (gathers facts once).
AUDIT_INVENTORY ?= .cache/audit/inventory.yml
# AUDIT_ACCOUNT=name: that account of mailfort_accounts as the credentialed tier's
# (its name and senders; the password comes from vault or MAILFORT_AUDIT_PASSWORD).
AUDIT_ACCOUNT ?=
audit-inventory: venv
	ansible-playbook -i $(INVENTORY) playbooks/audit-inventory.yml -e audit_inventory_file=$(abspath $(AUDIT_INVENTORY)) \
	  $(if $(AUDIT_ACCOUNT),-e audit_inventory_account=$(AUDIT_ACCOUNT))

# What receivers see of a mail domain, from this machine (tools/diagnose.py; no
# SSH, no credentials, no mail sent): RESOLVER asks that server (an address, e.g.
# the authoritative one) instead of the system resolver; CAFILE verifies the
# certificates (default: the system store); DKIM_KEY (the host's private or
# public PEM) is compared with the published record of SELECTOR (opendkim_selector,
# default mail); JSON=1 prints JSON. Exit 1 when any finding is FAIL.
DOMAIN ?=
SELECTOR ?= mail
diagnose: venv
	@test -n "$(DOMAIN)" || { echo "usage: make diagnose DOMAIN=example.com [RESOLVER=addr] [CAFILE=path] [DKIM_KEY=path] [SELECTOR=name] [JSON=1]" >&2; exit 2; }
	python3 tools/diagnose.py '$(DOMAIN)' --selector '$(SELECTOR)' $(if $(RESOLVER),--resolver '$(RESOLVER)') \
	  $(if $(CAFILE),--cafile '$(CAFILE)') $(if $(DKIM_KEY),--dkim-key '$(DKIM_KEY)') $(if $(JSON),--json)

# Who failed to log in, from where, and who is banned (read-only).
SINCE ?= -24h
auth-report: venv
	mkdir -p .cache/auth-report
	ansible-playbook -i $(INVENTORY) playbooks/auth-report.yml -e auth_report_since=$(SINCE)

clean: lab-down
	rm -rf $(VENV) .cache
