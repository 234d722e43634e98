# Clientele as a container for CI services: docs/install.md ("Container") explains the
# choices and how to run it.
#
#   docker build -t clientele .
#   docker run --rm -p 8080:8080 -e CLIENTELE_ADMIN_TOKEN=secret clientele
#
# Stage 1 builds the release binary and the health probe; stage 2 is distroless (glibc and
# CA certificates, no shell), runs as the non-root user 65532 and keeps its database and
# mbox in the /data volume.

FROM docker.io/library/rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock schema.sql schema.postgres.sql ./
COPY vendor vendor
COPY src src
RUN cargo build --release --locked --bin clientele
# The health probe: a std-only program, since the final image has no curl or shell.
COPY container/healthcheck.rs container/healthcheck.rs
RUN rustc --edition 2021 -C opt-level=s -C strip=symbols -o /src/clientele-healthcheck container/healthcheck.rs
RUN mkdir /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/clientele /usr/local/bin/clientele
COPY --from=build /src/clientele-healthcheck /usr/local/bin/clientele-healthcheck
COPY --from=build --chown=65532:65532 /data /data
# Every option has an environment variable (`clientele serve --help`); these are the
# container's defaults. Add CLIENTELE_ADMIN_TOKEN (admin API) and CLIENTELE_PUBLIC_URL (the
# base of links in mails: the address tests reach the container at) when running it.
ENV CLIENTELE_LISTEN=0.0.0.0:8080 \
    CLIENTELE_DB=/data/clientele.db \
    CLIENTELE_MAIL=mbox:/data/clientele.mbox
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=4s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/clientele-healthcheck", "127.0.0.1:8080", "/healthz"]
ENTRYPOINT ["/usr/local/bin/clientele"]
CMD ["serve"]
