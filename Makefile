# homehub — the two commands a new user needs are `make run` and `make test`.
SWIFT ?= swift

.PHONY: deps build test test-homeassistant test-browser run bench man completions format clean deb package-test faults fuzz

deps:
	@scripts/install-deps.sh

build: deps
	@mkdir -p .build
	bash -o pipefail -c '$(SWIFT) build --build-tests 2>&1 | tee .build/build.log'
	@scripts/check-warnings.sh < .build/build.log
	$(SWIFT) format lint --strict -r Sources Tests Plugins

## Runs every test: unit tests, the store's kill test, and the integration tests (a real
## mosquitto, the built homehubd, paho-mqtt, the AWS IoT Device SDK, curl).
test: build
	$(SWIFT) test --skip-build
	@scripts/python-env.sh
	.build/venv/bin/pytest -q Tests/Integration

## A real Home Assistant (2025.4, Python 3.13 from pyenv, in .build/havenv; about 3 min to
## install the first time) on the hub's broker: discovery, climate, lock and cover services, the
## door's rule (docs/home-assistant.md). CI runs it after `make test`.
test-homeassistant: build
	@scripts/python-env.sh
	@scripts/homeassistant-env.sh
	.build/venv/bin/pytest -q Tests/HomeAssistant

## The dashboard in a real browser: Debian's Chromium, headless, with Selenium (installed first
## if missing); screenshots in .build/screenshots (docs/dashboard.md). CI runs it.
test-browser: build
	@scripts/python-env.sh
	@scripts/browser-env.sh
	.build/venv/bin/pytest -q Tests/Browser

## Runs the hub with the demo configuration: embedded broker on 127.0.0.1:1884, control
## socket ./run/hubctl.sock, database under ./run/data, the bundled plugins staged in
## ./run/plugins and three simulated devices (livingroom, frontdoor, blind). Ctrl-C stops it.
run: deps
	$(SWIFT) build
	@mkdir -p run
	@scripts/stage-plugins.sh run/plugins debug
	.build/debug/homehubd --config config/demo.toml

## Benchmarks (release build); not part of `make test`. Parts: store, schedules, mqtt, scale, the
## AWS data-plane API over HTTPS beside the Unix socket (scripts/bench-https.py), and the cloud
## round trip beside the local one (scripts/bench-cloud.py).
bench: deps
	$(SWIFT) build -c release --product homehub-bench
	$(SWIFT) build -c release --product homehubd
	$(SWIFT) build -c release --product hubctl
	$(SWIFT) build -c release --product homehub-plugin-heater
	$(SWIFT) build -c release --product homehub-plugin-motor
	.build/release/homehub-bench
	@scripts/python-env.sh
	.build/venv/bin/python scripts/bench-https.py .build/release/homehubd .build/release/hubctl
	$(SWIFT) build -c release --product homehub-plugin-doorlock
	$(SWIFT) build -c release --product homehub-plugin-zigbee2mqtt
	@scripts/stage-plugins.sh .build/bench-plugins release
	.build/venv/bin/python scripts/bench-cloud.py .build/release/homehubd .build/release/hubctl .build/bench-plugins

## The fault suite (also part of `make test`): SIGKILL of the store writer and of homehubd,
## the broker killed, plugins that crash, hang, flood or write garbage, a full disk.
faults: build
	$(SWIFT) test --skip-build --filter KillDurability
	@scripts/python-env.sh
	.build/venv/bin/pytest -q -k "kill or dies or died or full or misbehaving" Tests/Integration/test_faults.py \
		Tests/Integration/test_daemon.py Tests/Integration/test_plugins.py Tests/Integration/test_commands.py

## libFuzzer on every fuzz target for FUZZ_SECONDS each (default 60): shadow documents,
## manifests, plugin lines, cron, weekly programs, TOML and control-API requests. Not part of
## `make test`, which replays the saved inputs (Tests/Fuzz). docs/fuzzing.md.
fuzz: deps
	scripts/fuzz.sh

## The Debian package: dist/homehub_VERSION_ARCH.deb (release, static Swift stdlib, BIND_NOW).
deb: deps
	scripts/build-deb.sh

## Installs the package in a throw-away root and checks it end to end, then again in a Debian 12
## booted with systemd-nspawn (systemd as PID 1; the root is cached in /var/cache/homehub-nspawn).
## Root; CI runs it.
package-test: deb
	@status=0; Tests/Package/systemd-test.sh || status=$$?; \
	if [ $$status -eq 77 ]; then \
		echo "package-test: no real systemd here; the install test runs the daemon under its stand-in"; \
		HOMEHUB_STANDIN=1 Tests/Package/install-test.sh; \
	elif [ $$status -eq 0 ]; then \
		Tests/Package/install-test.sh; \
	else \
		exit $$status; \
	fi

## hubctl's man page, generated from its command definitions (swift-argument-parser's plugin).
man: deps
	$(SWIFT) package --allow-writing-to-package-directory generate-manual
	@mkdir -p .build/man
	cp .build/plugins/GenerateManual/outputs/hubctl/hubctl.1 .build/man/
	@echo "man page: .build/man/hubctl.1 (man -l .build/man/hubctl.1)"

## bash and zsh completion for hubctl, generated from its command definitions.
completions: deps
	$(SWIFT) build --product hubctl
	@mkdir -p .build/completions
	.build/debug/hubctl --generate-completion-script bash > .build/completions/hubctl.bash
	.build/debug/hubctl --generate-completion-script zsh > .build/completions/_hubctl
	@echo "completions: .build/completions/hubctl.bash, .build/completions/_hubctl"

## Formats the code in place (.swift-format: 4 spaces, 120 columns); `make test` checks it.
format:
	$(SWIFT) format format -i -r Sources Tests Plugins

clean:
	rm -rf .build
