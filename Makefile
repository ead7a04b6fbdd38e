# ipvsd. Every target installs what it needs (Debian packages for the
# kernel lab, Go modules) on a fresh Debian/Ubuntu machine, as root.

GO       ?= go
BIN      := bin/ipvsd
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/ipvsd/ipvsd/cmd/ipvsd/app.Version=$(VERSION)
export CGO_ENABLED := 0

.PHONY: all build test unit e2e demo bench lint deps lab clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ipvsd

# deps: Go modules and the kernel lab (qemu, busybox, Debian's stock kernel,
# a cached initramfs under .cache/lab), and kube-apiserver and etcd for the
# real-API-server tests (built once, ~4 min cold, under .cache/apiserver).
# Safe to run again: it only fills in what is missing.
deps:
	$(GO) mod download
	e2e/lab/build-base.sh .cache/lab >/dev/null
	e2e/apiserver/build.sh .cache/apiserver >/dev/null

lab: deps

# test: everything. Unit tests, host network-namespace tests, and the
# kernel-lab tests (which fail, never skip, when the lab cannot boot).
test: deps lint build
	$(GO) test -count=1 -timeout 60m ./...

# e2e: only the kernel-lab tests.
e2e: deps build
	$(GO) test -count=1 -v -timeout 60m -run 'TestLab' ./e2e/

demo: deps build
	IPVSD_BIN=$(BIN) $(GO) run ./e2e/cmd/lab demo

# bench: host benchmarks (fake kernel, ipsets in a private namespace), then
# the kernel-lab benchmarks, which print `name: value unit (baseline ...,
# ratio ...)` with every baseline measured in the same VM run.
bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./e2e/cmd/lab bench

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags lab ./e2e/...

clean:
	rm -rf bin
