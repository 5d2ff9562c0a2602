# pmipdmm — Proxy Mobile IPv6 (RFC 5213) LMA/MAG suite extended for DMM.
# Run as root on Debian 12; `make test` and `make demo` install what they need.

GO        ?= go
PKGS      := ./...
BIN       := bin

.PHONY: all build deps test vet fmt-check bench fuzz fixtures demo clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

deps:
	@scripts/deps.sh

# Everything: formatting, vet, every test with the race detector.
test: deps fmt-check vet
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# Codec benchmarks (figures are recorded in docs/benchmarks.md).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./mh/...

# A short run of every native fuzz target (the committed corpora run in `make test`).
FUZZTIME ?= 20s
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' ./mh/ | grep ^Fuzz); do \
		echo "== $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./mh/ || exit 1; done
	@for t in $$($(GO) test -list '^Fuzz' ./mh/mhlayer/ | grep ^Fuzz); do \
		echo "== $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./mh/mhlayer/ || exit 1; done

# Rewrite the dissector fixture corpus under interop/fixtures.
fixtures:
	$(GO) run ./cmd/mhfixtures -out interop/fixtures

demo: deps build
	@scripts/demo.sh

clean:
	rm -rf $(BIN)
