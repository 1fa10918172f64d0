# homehub — the two commands a new user needs are `make run` and `make test`.
SWIFT ?= swift

.PHONY: deps build test run bench clean

deps:
	@scripts/install-deps.sh

build: deps
	@mkdir -p .build
	$(SWIFT) build --build-tests 2>&1 | tee .build/build.log
	@scripts/check-warnings.sh < .build/build.log

## Runs every test: unit tests, the store's kill test, and the integration tests (a real
## mosquitto, the built homehubd, paho-mqtt, the AWS IoT Device SDK, curl).
test: build
	$(SWIFT) test --skip-build
	@scripts/python-env.sh
	.build/venv/bin/pytest -q Tests/Integration

## Runs the hub with the demo configuration: embedded broker on 127.0.0.1:1884, control
## socket ./run/hubctl.sock, database under ./run/data. Ctrl-C stops it cleanly.
run: deps
	$(SWIFT) build --product homehubd
	@mkdir -p run
	.build/debug/homehubd --config config/demo.toml

## Benchmarks (release build); not part of `make test`.
bench: deps
	$(SWIFT) build -c release --product homehub-bench
	$(SWIFT) build -c release --product homehubd
	.build/release/homehub-bench

clean:
	rm -rf .build
