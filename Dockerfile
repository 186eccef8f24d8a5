# syntax=docker/dockerfile:1
# Quarry: one static binary on a distroless base (no shell, no package
# manager), running as a non-root user.
#
#   docker build -t quarry .
#   docker run --rm -p 8080:8080 -v $PWD/examples:/etc/quarry:ro quarry \
#     serve --config /etc/quarry/quickstart.yaml --addr 0.0.0.0:8080
#
# (Off loopback the gateway requires server.api_keys.)

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
# CGO_ENABLED=0: a static binary (the SQLite store is pure Go), so the
# runtime image needs no libc.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/quarry ./cmd/quarry

# distroless/static: CA certificates (for AWS), /etc/passwd with the
# nonroot user (65532), tzdata; no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/quarry /usr/local/bin/quarry
USER 65532:65532
WORKDIR /home/nonroot
EXPOSE 8080
# quarry handles SIGTERM itself (not ready, drain, finish in-flight
# requests), as PID 1 with no shell in between.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/quarry"]
CMD ["serve", "--config", "/etc/quarry/config.yaml"]
