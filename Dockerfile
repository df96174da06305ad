# The Docker Desktop extension image: meshdock (the backend, with the web
# UI built in), the UI's files for Docker Desktop's tab, the host binaries,
# metadata.json and the icon, on scratch.
#
#   docker build -t meshdock/meshdock:TAG .                      (the release: builds everything)
#   docker build --target local -t meshdock/meshdock:TAG .       (from build/extension, made by
#                                                                  make extension-files: no base image)

# What every variant holds besides the artifacts: the labels Docker
# Desktop and its marketplace read, the extension's own files.
FROM scratch AS base
LABEL org.opencontainers.image.title="meshdock" \
      org.opencontainers.image.description="Your Docker Compose app on Kubernetes, on a service mesh, measured: import, convert, deploy onto Istio, Linkerd, Consul or Kuma, and benchmark the mesh's cost." \
      org.opencontainers.image.vendor="meshdock" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/meshdock/meshdock" \
      com.docker.desktop.extension.api.version=">= 0.3.4" \
      com.docker.desktop.extension.icon="https://raw.githubusercontent.com/meshdock/meshdock/main/icon.svg" \
      com.docker.extension.screenshots='[{"alt":"The app screen: the topology graph, warnings and manifests","url":"https://raw.githubusercontent.com/meshdock/meshdock/main/docs/screenshots/app.png"},{"alt":"A deploy onto Istio, object by object","url":"https://raw.githubusercontent.com/meshdock/meshdock/main/docs/screenshots/deploy.png"},{"alt":"A load test compared with and without the mesh","url":"https://raw.githubusercontent.com/meshdock/meshdock/main/docs/screenshots/benchmark.png"}]' \
      com.docker.extension.detailed-description="<p>meshdock takes an app you run with Docker Compose to the Kubernetes of your laptop (Docker Desktop, kind, k3d or minikube), onto the service mesh you pick, and measures what the mesh costs.</p><ul><li>Import compose files, or a compose project running in Docker now</li><li>Correct Kubernetes manifests, with a warning for everything not carried over, and a topology graph</li><li>Deploy with no mesh or onto Istio (sidecar or ambient), Linkerd, Consul or Kuma, installed if missing, with zero-trust rules drawn from the compose file</li><li>fortio load tests across the mesh, side by side, exported as SMP</li></ul><p>Local-first: no login, no host port, nothing leaves your machine.</p>" \
      com.docker.extension.publisher-url="https://github.com/meshdock/meshdock" \
      com.docker.extension.additional-urls='[{"title":"Documentation","url":"https://github.com/meshdock/meshdock#readme"},{"title":"Issues","url":"https://github.com/meshdock/meshdock/issues"}]' \
      com.docker.extension.categories="kubernetes,networking,testing-tools" \
      com.docker.extension.changelog="<p>First release: import, convert, deploy onto five meshes, zero-trust rules, exports, benchmarks, the web UI.</p>"
COPY metadata.json icon.svg docker-compose.yaml /
ENTRYPOINT ["/meshdock"]
CMD ["serve", "--socket", "/run/guest-services/meshdock.sock", "--data", "/data", "--in-container", "--docker-host", "unix:///var/run/docker.sock.raw"]

# From artifacts built on the host (make extension-files): the binary, the
# UI, the host binaries, the CA bundle and an empty /tmp.
FROM base AS local
COPY build/extension/ /

FROM node:20-bookworm-slim AS ui
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY ui/ ./
RUN npm run build

FROM golang:1.26.8-bookworm AS go
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=ui /src/ui/dist ./ui/dist
RUN scripts/extension-files /out "$TARGETARCH" "$VERSION"

FROM base AS release
COPY --from=go /out/ /
