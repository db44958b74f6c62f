# Vigil's container image: a static binary on distroless, as user nonroot.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t vigil .
#   docker run -p 127.0.0.1:8765:8765 -v vigil-data:/var/lib/vigil vigil
#
# The image runs `vigil serve`; arguments are serve's flags (--config,
# --listen, --data-dir, --log-format). Its data directory is
# /var/lib/vigil. The Helm chart (deploy/helm/vigil) mounts the config at
# /etc/vigil/config/vigil.yaml.

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so that a change to the code reuses this layer.
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
# Pure Go (the SQLite driver is modernc.org/sqlite): a static binary that
# needs no libc in the final image.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/vigil ./cmd/vigil \
 && mkdir -p /out/var/lib/vigil

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/vigil /vigil
# The data directory, owned by nonroot so that a fresh volume is writable.
COPY --from=build --chown=65532:65532 /out/var/lib/vigil /var/lib/vigil
USER 65532:65532
WORKDIR /var/lib/vigil
EXPOSE 8765
VOLUME /var/lib/vigil
ENTRYPOINT ["/vigil", "serve"]
# Without --config: the built-in defaults, with the data in the volume and
# the port open (plain HTTP: for a try-out; give a config with tls for
# anything else).
CMD ["--data-dir", "/var/lib/vigil", "--listen", "0.0.0.0:8765"]
