# ipvsd. Every target installs what it needs (Debian packages for the
# kernel lab, Go modules) on a fresh Debian/Ubuntu machine, as root.

GO       ?= go
BIN      := bin/ipvsd
# RELEASE (the file VERSION) is the version being released: the image tag
# the manifests pin (e2e/manifests_test.go checks they agree) and the tag a
# release commit carries, at which git describe gives the same name.
RELEASE  := $(shell cat VERSION)
IMAGE    ?= ghcr.io/ipvsd/ipvsd
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo $(RELEASE))
LDFLAGS  := -s -w -X github.com/ipvsd/ipvsd/cmd/ipvsd/app.Version=$(VERSION)
export CGO_ENABLED := 0

.PHONY: all build image image-ref test unit e2e demo bench bench-report fuzz lint deps lab clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ipvsd

# image: the container image manifests/daemonset.yaml runs, tagged and
# stamped with RELEASE.
image:
	docker build --build-arg VERSION=$(RELEASE) -t $(IMAGE):$(RELEASE) .

# image-ref: the image the manifests must pin.
image-ref:
	@echo $(IMAGE):$(RELEASE)

# deps: Go modules and the kernel lab (qemu, busybox, Debian's stock kernel,
# a cached initramfs under .cache/lab), and kube-apiserver and etcd for the
# real-API-server tests (built once, ~4 min cold, under .cache/apiserver).
# Safe to run again: it only fills in what is missing. build-base.sh also
# installs bird2, the real BGP router of controller/bgp/hosttest and of the
# lab's director tests (run in namespaces of their own, never started as
# the system's daemon).
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

# bench-report: the scale report (issue 15). In the kernel lab, standalone
# and Kubernetes mode (real API server, Services x 10 endpoints) at each of
# SIZES: cold start and its ratio to ipvsadm -R of the same table, p50/p99
# of CHANGES single-backend changes to the kernel, peak RSS, idle CPU over
# IDLE seconds, netlink writes per change. KUBE_PROXY=1 adds the real
# kube-proxy v1.35.4 (IPVS mode) in each Kubernetes VM. MODES=datapath
# (item 4) measures connection setup from a client pod through one
# ClusterIP and directly to its backend, DP_CONNS of each, while every
# Service is programmed by ipvsd run and kube-proxy in nftables mode side
# by side (two node namespaces of one VM per size, connections
# interleaved; DP_KUBE_PROXY=0: ipvsd alone) (adds plot-datapath.png). Writes
# BENCH_REPORT_DIR/{table.txt,plot.png,figures.txt}. SYNC_PERIOD (seconds)
# sets both daemons' --ipvs-sync-period, so that the first periodic full
# resync falls among the changes. Hours at the default sizes;
# SIZES=100,1000 for a quick run. Not part of make test.
SIZES            ?= 1000,10000,50000
MODES            ?= standalone,kube
CHANGES          ?= 200
IDLE             ?= 60
DP_CONNS         ?= 2000
SYNC_PERIOD      ?= 0
BENCH_REPORT_DIR ?= bench-report
bench-report: deps build
	$(GO) run ./e2e/cmd/benchreport -sizes $(SIZES) -modes $(MODES) -changes $(CHANGES) -idle $(IDLE) -dp-conns $(DP_CONNS) \
		-sync-period $(SYNC_PERIOD) -out $(BENCH_REPORT_DIR) -ipvsd $(BIN) $(if $(filter 1,$(KUBE_PROXY)),-kube-proxy) \
		$(if $(filter 0,$(DP_KUBE_PROXY)),-dp-kube-proxy=false)

# fuzz: every Fuzz* target in the tree for FUZZTIME each, one at a time
# (go test -fuzz takes one target per run). Targets are found with go test
# -list in each package whose tests mention one, so new ones are picked up.
# Their seed corpora already run in make test; this explores beyond them.
# A failing input is written under the package's testdata/fuzz.
FUZZTIME ?= 30s
fuzz:
	@failed=; \
	for dir in $$(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u); do \
		for name in $$($(GO) test -list '^Fuzz' ./$$dir | grep '^Fuzz'); do \
			echo "### $$dir $$name for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) ./$$dir || failed="$$failed $$dir:$$name"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz targets failed:$$failed"; exit 1; fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags lab ./e2e/...

clean:
	rm -rf bin
