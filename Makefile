# homehub — the two commands a new user needs are `make run` and `make test`.
SWIFT ?= swift

.PHONY: deps build test run bench clean

deps:
	@scripts/install-deps.sh

build: deps
	@mkdir -p .build
	$(SWIFT) build --build-tests 2>&1 | tee .build/build.log
	@scripts/check-warnings.sh < .build/build.log

## Runs every test: unit tests, the store's kill test, and the integration tests.
test: build
	$(SWIFT) test --skip-build

## Runs what exists of the hub (the daemon lands in issue #3): the shadow engine and store
## exercised end to end by the quick benchmark.
run: deps
	$(SWIFT) build -c release --product homehub-bench
	.build/release/homehub-bench --quick

## Benchmarks (release build); not part of `make test`.
bench: deps
	$(SWIFT) build -c release --product homehub-bench
	.build/release/homehub-bench

clean:
	rm -rf .build
