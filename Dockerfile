# syntax=docker/dockerfile:1
#
# doorman in a small image: built with the Rust toolchain, run on distroless
# (glibc, CA certificates, no shell, no package manager) as a non-root user.
#
#   docker build -t doorman .
#   docker run --rm -p 8080:8080 -v doorman-state:/var/lib/doorman \
#     -v ./config.yaml:/etc/doorman/config.yaml:ro -v ./users.yaml:/etc/doorman/users.yaml:ro \
#     doorman
#
# With no /etc/doorman/config.yaml, the DOORMAN_* environment variables are
# the whole configuration (see the README's deployment chapter).

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so a change in doorman's own code reuses this layer.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src tests/it \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs tests/it/main.rs \
    && cargo build --release --locked --bin doorman \
    && rm -rf src tests target/release/.fingerprint/doorman-* target/release/deps/doorman-* target/release/deps/libdoorman-*
COPY src src
COPY templates templates
# Cargo.toml names the integration-test target; it must exist to build.
COPY tests/it tests/it
RUN cargo build --release --locked --bin doorman \
    && install -D -m 0755 target/release/doorman /out/doorman \
    && mkdir -p /out/etc/doorman /out/var/lib/doorman

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/doorman /usr/local/bin/doorman
# The default config location (mount a file here, or use DOORMAN_* variables).
COPY --from=build --chown=65532:65532 /out/etc/doorman /etc/doorman
# The file store (`store.path`'s default, /var/lib/doorman/state.redb):
# sign-outs, locks and used codes survive a restart when this is a volume.
COPY --from=build --chown=65532:65532 /out/var/lib/doorman /var/lib/doorman
VOLUME ["/var/lib/doorman"]
USER 65532:65532
EXPOSE 8080
# Asks the configured listener's health endpoint; no curl in this image.
HEALTHCHECK --interval=15s --timeout=6s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/doorman", "healthcheck"]
# SIGTERM drains in-flight requests; SIGHUP reloads users and certificates.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/doorman"]
CMD ["serve"]
