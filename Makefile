# Torua Makefile, in the kubebuilder scaffold's style. `make help` lists the targets.

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

GO ?= go
LOCALBIN ?= $(CURDIR)/bin
# Kubernetes test binaries and other large tools are cached outside the clone so a fresh clone
# on the same machine reuses them.
TORUA_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/torua

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: test
test: vet test-unit ## Run every test tier that runs on this machine.

.PHONY: test-unit
test-unit: ## Unit and process-level tests (go test ./...).
	$(GO) test -count=1 ./...

##@ Build

.PHONY: build
build: ## Build the torua binary into bin/.
	$(GO) build -o $(LOCALBIN)/torua ./cmd/torua

.PHONY: run
run: build ## Run a local cluster (3 nodes + router on 127.0.0.1:8080).
	$(LOCALBIN)/torua local
