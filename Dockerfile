# Torua: one static binary (`torua operator | node | router | ...`) on a distroless, non-root base.
#
# Build: make docker-build IMG=torua:dev
# No Docker engine runs on the development machine or in CI: the image is built where one exists.
# The builder stage's command is the one `make build` runs, so it is exercised without Docker.

FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /workspace

# Dependencies first, so source edits reuse the module download layer.
COPY go.mod go.sum ./
RUN go mod download

# Everything .dockerignore lets through (the Go packages), so a new package needs no edit here.
COPY . .

RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -o /torua ./cmd/torua

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /torua /torua
# 65532 is distroless's nonroot user; numeric, so runAsNonRoot can verify it.
USER 65532:65532
ENTRYPOINT ["/torua"]
