# meshdock: see README.md. Every target installs or builds what it needs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export GOFLAGS ?= -buildvcs=false

CACHE   ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/meshdock
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin/meshdock
ADDR    ?= 127.0.0.1:7878
GO_PKGS := ./...

.PHONY: all build ui ui-test extension-files extension extension-release install-extension update-extension run test test-unit test-integration testenv-up testenv-down bench lint fmt fuzz clean

all: build

# The web UI, built into ui/dist and embedded into the binary. Its npm
# packages are installed (npm ci, with the cache under CACHE) when missing
# or when the lock file changed.
UI_SRC := $(shell find ui/src ui/index.html ui/vite.config.ts ui/tsconfig.json ui/package.json ui/scripts -type f 2>/dev/null)
NPM_CI := npm ci --cache $(CACHE)/npm --no-audit --no-fund --loglevel=error

ui/node_modules/.package-lock.json: ui/package-lock.json
	cd ui && $(NPM_CI)

ui/dist/index.html: ui/node_modules/.package-lock.json $(UI_SRC)
	cd ui && npm run --silent build

ui: ui/dist/index.html

build: ui
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/meshdock

# The Docker Desktop extension: its image built from artifacts made here
# (the Dockerfile's local stage, no base image needed), or everything built
# inside the image (extension-release, which needs the node and golang
# base images); then installed into, or updated in, Docker Desktop.
EXTENSION_IMAGE ?= meshdock/meshdock:$(VERSION)
extension-files: ui
	scripts/extension-files build/extension $$(go env GOARCH) $(VERSION)

extension: extension-files
	DOCKER_BUILDKIT=0 docker build --target local -t $(EXTENSION_IMAGE) .

extension-release:
	docker build --target release --build-arg VERSION=$(VERSION) -t $(EXTENSION_IMAGE) .

install-extension: extension
	docker extension install --force $(EXTENSION_IMAGE)

update-extension: extension
	docker extension update --force $(EXTENSION_IMAGE)

# The main job: serve the app on localhost with the bundled example imported.
run: build
	./$(BIN) serve --addr $(ADDR) --allow-clusters --example examples/shop

# Everything: unit tests, then the real Docker Engine and Kubernetes control
# plane, the integration tests against them, and the environment stopped.
test: test-unit
	scripts/testenv up
	status=0; $(MAKE) --no-print-directory test-integration || status=$$?; \
	  scripts/testenv down; exit $$status

# The fast loop: no outside world needed. The packages that serve
# concurrent requests run under the race detector too; the UI's type check
# and its component and API client tests (Vitest).
test-unit: ui-test
	go vet $(GO_PKGS)
	go test -short -count=1 $(GO_PKGS)
	go test -short -count=1 -race ./app/... ./backend/... ./store/... ./compose/... ./convert/...

ui-test: ui/node_modules/.package-lock.json
	cd ui && npx tsc --noEmit && npx vitest run

# Against a running environment (scripts/testenv up); the browser tests
# need the UI built into the binary and Debian's chromium.
test-integration: ui
	eval "$$(scripts/testenv env)"; go test -count=1 -timeout 30m $(GO_PKGS)

testenv-up:
	scripts/testenv up

testenv-down:
	scripts/testenv down

# Benchmarks (those that need the cluster run against the test environment:
# kube.Apply against kubectl apply, meshdock deploy --wait against kubectl
# apply + rollout status, and per mesh meshdock's install against Helm's
# Wait and the deploy onto it against kubectl), meshdock convert against
# the kompose CLI on the same inputs, meshdock's load generator against
# the fortio load CLI on one loopback echo server, the UI's gzipped size
# and time to its first meaningful render in headless chromium, and the
# extension's image size, host binaries, start time and idle memory.
bench:
	scripts/testenv up
	status=0; (eval "$$(scripts/testenv env)"; go test -run '^$$' -bench . -benchtime 2s $(GO_PKGS) && scripts/bench-deploy && scripts/bench-mesh && scripts/bench-extension) || status=$$?; \
	  scripts/testenv down; [ $$status = 0 ]
	scripts/bench-convert
	scripts/bench-loadgen
	scripts/bench-ui

# A short fuzz run of every parser of user input (FUZZTIME=5m for a long one).
FUZZTIME ?= 30s
fuzz:
	go test ./convert -run '^$$' -fuzz FuzzConvert -fuzztime $(FUZZTIME)
	go test ./backend -run '^$$' -fuzz FuzzImportRequest -fuzztime $(FUZZTIME)

lint: $(CACHE)/bin/staticcheck ui/node_modules/.package-lock.json
	cd ui && npx tsc --noEmit
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet $(GO_PKGS)
	$(CACHE)/bin/staticcheck $(GO_PKGS)

$(CACHE)/bin/staticcheck:
	GOBIN=$(CACHE)/bin go install honnef.co/go/tools/cmd/staticcheck@v0.8.2

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin build ui/test-results
	cd ui && node scripts/clean-dist.mjs
