# syntax=docker/dockerfile:1
# Images for the three binaries, one target each (the notifier runs the checker image
# with `notify`):
#   docker build --target operator -t uptime-sentinel-operator .
#   docker build --target checker  -t uptime-sentinel-checker .
#   docker build --target ingestor -t uptime-sentinel-ingestor .
# Everything TLS is rustls with built-in roots and the ring provider, so the runtime image
# needs no OpenSSL and no CA bundle: distroless "cc" (glibc, libgcc), non-root, ~25 MB
# plus the binary. Migrations are compiled into the operator.

FROM docker.io/library/rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
      -p operator -p checker -p ingestor --bin operator --bin checker --bin ingestor \
 && mkdir -p /out \
 && cp target/release/operator target/release/checker target/release/ingestor /out/

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
USER 65532:65532

FROM runtime AS operator
COPY --from=build /out/operator /usr/local/bin/operator
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/operator"]
CMD ["run"]

FROM runtime AS checker
COPY --from=build /out/checker /usr/local/bin/checker
EXPOSE 8081 8083
ENTRYPOINT ["/usr/local/bin/checker"]

FROM runtime AS ingestor
COPY --from=build /out/ingestor /usr/local/bin/ingestor
EXPOSE 8082
ENTRYPOINT ["/usr/local/bin/ingestor"]
