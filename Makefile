# Torua Makefile, in the kubebuilder scaffold's style. `make help` lists the targets.

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

GO ?= go
LOCALBIN ?= $(CURDIR)/bin
# Kubernetes test binaries and other large tools are cached outside the clone so a fresh clone
# on the same machine reuses them.
TORUA_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/torua
export TORUA_CACHE
# Where hack/k8s-test-binaries.sh puts kube-apiserver, etcd and kube-controller-manager (envtest, localkube).
KUBEBUILDER_ASSETS ?= $(TORUA_CACHE)/k8s/v1.37.2
export KUBEBUILDER_ASSETS

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

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (config: .golangci.yml).
	$(GOLANGCI_LINT) run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply its fixes.
	$(GOLANGCI_LINT) run --fix

.PHONY: bench
bench: ## Run the Go benchmarks (engine, Raft log, Raft groups, router versus direct); figures in docs/benchmarks.md.
	$(GO) test -run '^$$' -bench . -benchtime 3s ./node/engine ./node/raftlog ./node/replication ./router

BENCH_DURATION ?= 10s
.PHONY: bench-etcd
bench-etcd: build k8s-test-binaries ## Compare torua local (3 nodes, RF 3) with a 3-member etcd on this machine (hack/bench-vs-etcd.sh).
	hack/bench-vs-etcd.sh $(BENCH_DURATION)

FUZZTIME ?= 30s
FUZZ_TARGETS = ./shardmap:FuzzDecode ./node:FuzzKeyRoundTrip ./node/engine:FuzzRestoreShard \
	./node/replication:FuzzDecodeCommand ./router/client:FuzzEscapeKey ./graph/cypher:FuzzLex \
	./graph/value:FuzzDecodeKey ./graph/value:FuzzDecodeProps ./graph/value:FuzzDecodeValue \
	./graph/cypher:FuzzParse

.PHONY: fuzz
fuzz: ## Fuzz every target for FUZZTIME each (their seed corpora already run in make test).
	@for t in $(FUZZ_TARGETS); do \
		echo "== $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s "$${t%%:*}" || exit 1; \
	done

.PHONY: test
test: vet lint verify-gen test-unit test-envtest test-e2e ## Run every test tier that runs on this machine.

.PHONY: test-unit
test-unit: helm k8s-test-binaries build ## Unit, process-level, chart (helm install on localkube included) and localkube tests (go test ./...).
	HELM="$(HELM)" TORUA_BINARY="$(LOCALBIN)/torua" $(GO) test -count=1 ./...

.PHONY: test-envtest
test-envtest: k8s-test-binaries ## Run the operator's envtest suite (controllers/, build tag envtest) against kube-apiserver and etcd.
	$(GO) vet -tags envtest ./controllers/...
	$(GO) test -count=1 -tags envtest ./controllers/... -ginkgo.v

# A ginkgo label filter for the e2e suite (empty: every scenario), e.g. 'lost-volume'.
E2E_LABEL_FILTER ?=

.PHONY: test-e2e
test-e2e: build k8s-test-binaries ## Run the e2e suite (test/e2e, build tag e2e) on a local control plane (test/localkube) with the operator in-process.
	$(GO) vet -tags e2e ./test/e2e/...
	TORUA_E2E_ENV=localkube TORUA_E2E_BINARY="$(LOCALBIN)/torua" $(GO) test -v -count=1 -tags e2e -timeout 30m ./test/e2e/ -ginkgo.v -ginkgo.label-filter='$(E2E_LABEL_FILTER)'

.PHONY: test-e2e-kind
test-e2e-kind: helm ## Run the e2e suite on a new kind cluster (needs Docker, kind, kubectl): image, Helm install, suite. See docs/testing.md.
	HELM="$(HELM)" E2E_FLAGS="-ginkgo.label-filter=$(E2E_LABEL_FILTER) $(E2E_FLAGS)" hack/e2e-kind.sh

# The tiers `make cover` reruns (any of unit envtest e2e).
COVER_TIERS ?= unit envtest e2e

.PHONY: cover
cover: helm k8s-test-binaries ## Statement coverage of every tier together (unit, process, chart, envtest, e2e) per package, in bin/cover (hack/cover.sh; 10-13 min, not part of make test).
	HELM="$(HELM)" GO="$(GO)" COVER_TIERS="$(COVER_TIERS)" hack/cover.sh $(LOCALBIN)/cover

##@ Code generation

# Generated files: `make verify-gen` fails when any of them is stale or not committed.
GENERATED_PATHS = api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml \
	charts/torua/crds charts/torua/files/rbac

.PHONY: manifests
manifests: controller-gen ## Generate the CRD (config/crd/bases) and the operator's ClusterRole (config/rbac/role.yaml) from markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	@$(MAKE) --no-print-directory chart-crd chart-rbac

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods (zz_generated.deepcopy.go) from the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-gen
verify-gen: manifests generate ## Regenerate, then fail if generated files differ from git or are untracked.
	@git diff --exit-code -- $(GENERATED_PATHS) || { echo "Generated files are stale: run 'make manifests generate' and commit them." >&2; exit 1; }
	@untracked="$$(git ls-files --others --exclude-standard -- $(GENERATED_PATHS))"; \
	if [ -n "$$untracked" ]; then echo "Generated files are not committed: $$untracked" >&2; exit 1; fi

##@ Build

.PHONY: build
build: ## Build the torua binary into bin/ (static, as in the Dockerfile's builder stage).
	CGO_ENABLED=0 $(GO) build -trimpath -o $(LOCALBIN)/torua ./cmd/torua

.PHONY: run
run: build ## Run a local cluster (3 nodes + router on 127.0.0.1:8080).
	$(LOCALBIN)/torua local

# Container image. No Docker engine runs on the development machine or in CI: docker-build is for
# machines that have one; the Dockerfile's builder command is the one `make build` runs.
IMG ?= torua:dev
CONTAINER_TOOL ?= docker

.PHONY: docker-build
docker-build: ## Build the container image $(IMG) (needs a Docker engine; this machine has none).
	$(CONTAINER_TOOL) build -t $(IMG) .

##@ Deployment

CRD_FILE = torua.io_toruaclusters.yaml

.PHONY: chart-crd
chart-crd: ## Copy the generated CRD (config/crd/bases) into the Helm chart's crds/.
	mkdir -p charts/torua/crds
	cp config/crd/bases/$(CRD_FILE) charts/torua/crds/$(CRD_FILE)

# The roles whose rules the chart takes from config/rbac, so kustomize and Helm grant the same.
CHART_RBAC_FILES = role.yaml leader_election_role.yaml metrics_auth_role.yaml metrics_reader_role.yaml

.PHONY: chart-rbac
chart-rbac: ## Copy the operator's roles (config/rbac: generated ClusterRole, leader election, metrics) into the Helm chart.
	mkdir -p charts/torua/files/rbac
	cd config/rbac && cp $(CHART_RBAC_FILES) ../../charts/torua/files/rbac/

.PHONY: helm-lint
helm-lint: helm chart-crd chart-rbac ## Lint the Helm chart.
	$(HELM) lint --strict charts/torua
	$(HELM) lint --strict charts/torua --set cluster.enabled=true

##@ Dependencies

## Tools are pinned in hack/tools.sh, built once per version under $(TORUA_CACHE)/tools and linked into bin/.
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
HELM ?= $(LOCALBIN)/helm

.PHONY: controller-gen
controller-gen: ## Install controller-gen into bin/.
	@LOCALBIN="$(LOCALBIN)" hack/tools.sh controller-gen >/dev/null

.PHONY: golangci-lint
golangci-lint: ## Install golangci-lint into bin/.
	@LOCALBIN="$(LOCALBIN)" hack/tools.sh golangci-lint >/dev/null

.PHONY: helm
helm: ## Install helm into bin/.
	@LOCALBIN="$(LOCALBIN)" hack/tools.sh helm >/dev/null

.PHONY: k8s-test-binaries
k8s-test-binaries: ## Build kube-apiserver, etcd, kube-controller-manager into $(KUBEBUILDER_ASSETS) (once; 10+ min cold).
	@hack/k8s-test-binaries.sh >/dev/null
