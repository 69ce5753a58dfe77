# mailfort — the two commands: `make lab` and `make test`. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
DISTROS ?= debian12 debian13
SCENARIO ?= topology
# Packages the lab needs on the controller (a Debian machine).
APT_PACKAGES := podman runc debootstrap swaks libnet-ssleay-perl python3-venv iproute2

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PY_COLORS ?= 0
export ANSIBLE_FORCE_COLOR ?= 0

INVENTORY ?= inventories/production

.PHONY: help deps apt venv images lab lab-down lint unit molecule test audit auth-report mutate clean

help:
	@echo "make lab       bring up the lab mail host (podman container mailfort-lab) and converge it"
	@echo "make lab-down  remove the lab host"
	@echo "make test      lint + unit tests + molecule ($(SCENARIO)) on $(DISTROS)"
	@echo "make molecule DISTROS=debian13 SCENARIO=default   one scenario, one distro"
	@echo "make audit INVENTORY=inventories/production       the testinfra suite against real hosts"
	@echo "make auth-report INVENTORY=... SINCE=-24h          AUTH failures by client/user, successes, bans"

deps: apt venv

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -ne 0 ]; then echo "missing packages:$$missing — run as root or install them" >&2; exit 1; fi; \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

images: apt
	@for d in $(DISTROS); do lab/build-image.sh $$d; done

lab: deps
	lab/lab.sh up

lab-down:
	lab/lab.sh down

lint: venv
	yamllint --strict .
	ansible-lint --offline

JUNIT_DIR := $(CURDIR)/.cache/junit

unit: venv
	mkdir -p $(JUNIT_DIR)
	pytest tests/unit tests/roles --junitxml=$(JUNIT_DIR)/unit.xml

molecule: deps images
	@mutations=1; for d in $(DISTROS); do \
	  echo "=== molecule $(SCENARIO) on $$d ==="; \
	  MAILFORT_MUTATIONS=$$mutations MOLECULE_DISTRO=$$d molecule test --scenario-name $(SCENARIO); \
	  mutations=0; \
	done

# Each pytest run leaves a JUnit report; the last line adds them all up.
test:
	rm -rf $(JUNIT_DIR)
	$(MAKE) lint unit molecule
	python3 tests/summary.py $(JUNIT_DIR)

# Break the lab server one fault at a time; the tests guarding each fault must fail.
# (molecule's verify runs the same file on every distro.)
mutate: venv
	pytest tests/infra/test_mutations.py --hosts='ansible://mailservers' --ansible-inventory=inventories/lab -p no:cacheprovider -s

# The testinfra suite against a real inventory (read-only probes, see README).
audit: venv
	pytest tests/infra --hosts='ansible://mailservers' --ansible-inventory=$(INVENTORY) -p no:cacheprovider

# Who failed to log in, from where, and who is banned (read-only).
SINCE ?= -24h
auth-report: venv
	mkdir -p .cache/auth-report
	ansible-playbook -i $(INVENTORY) playbooks/auth-report.yml -e auth_report_since=$(SINCE)

clean: lab-down
	rm -rf $(VENV) .cache
