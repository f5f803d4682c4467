# Tend: `make run` serves on the embedded store with the bundled content,
# `make test` runs every test. See README.md.
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test bench lint build

run:
	$(GO) run ./cmd/tend serve

build:
	$(GO) build -o bin/tend ./cmd/tend

test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run ./cmd/tend content lint
