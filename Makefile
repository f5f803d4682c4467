# Tend: `make run` serves on the embedded store with the bundled content,
# `make test` runs every test. See README.md.
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test bench lint build deps

run:
	$(GO) run ./cmd/tend serve

build:
	$(GO) build -o bin/tend ./cmd/tend

# The Redis store's tests run against a real redis-server, which they start
# themselves on free loopback ports, and the console's browser tests drive a
# headless Debian chromium; deps installs both on Debian when missing.
deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing redis-server (Debian package)"; \
	    { apt-get install -y -q redis-server || { apt-get update -q && apt-get install -y -q redis-server; }; } >/dev/null; \
	  else \
	    echo "redis-server is missing: install it (Debian: sudo apt-get install redis-server), then run make test again" >&2; exit 1; \
	  fi; }
	@command -v redis-server >/dev/null 2>&1 || { echo "redis-server could not be installed" >&2; exit 1; }
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium (Debian package) for the console's browser tests"; \
	    { apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; } >/dev/null; \
	  else \
	    echo "chromium is missing: install it (Debian: sudo apt-get install chromium), then run make test again" >&2; exit 1; \
	  fi; }
	@command -v chromium >/dev/null 2>&1 || { echo "chromium could not be installed" >&2; exit 1; }

test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -count=1 -timeout 10m -run '^TestFlowStarts60000$$' ./api

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run ./cmd/tend content lint
