# smppbridge container image.
#
# The build stage runs exactly what CI runs (scripts/install-deps.sh, then
# `make test`), so a green CI proves these steps; the runtime stage carries
# only the binaries, conf/ and the packages of the shared libraries they
# link (derived from the binaries by `make install`), and runs as
# the unprivileged user smppbridge (uid and gid 2775: fixed, so that files
# mounted into the container can be made readable to it).
#
#   docker run -v /srv/smppbridge/smppbridge.conf:/etc/smppbridge/smppbridge.conf:ro \
#       -p 2775:2775 IMAGE
#
# The example configuration listens on 127.0.0.1 and talks to a Redis and
# a simulator on 127.0.0.1: a container needs its own file, with
# [server] listen = 0.0.0.0:2775 and the real Redis and upstream.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh
COPY . .
RUN make clean && make test && make install DESTDIR=/out PREFIX=/usr/local

FROM debian:12-slim AS runtime
# The packages to install are the ones the built binaries link, as
# `make install` listed them (share/smppbridge/runtime-packages).
COPY scripts/install-deps.sh /tmp/install-deps.sh
COPY --from=build /out/ /
RUN /tmp/install-deps.sh --runtime /usr/local/share/smppbridge/runtime-packages && \
    rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
RUN groupadd --system --gid 2775 smppbridge && \
    useradd --system --uid 2775 --gid smppbridge --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin smppbridge
USER smppbridge:smppbridge
# SMPP (plain), SMPP over TLS (when [tls] listen is set; 3550 is the port
# the example configuration suggests), the admin HTTP server ([admin]
# listen, 127.0.0.1:9775 by default: publish it only with a token set).
EXPOSE 2775 3550 9775
# /healthz answers 200 while the event loop runs. It is asked from inside
# the container, so the default loopback admin listener is enough.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "--max-time", "3", "http://127.0.0.1:9775/healthz"]
# SIGTERM drains (bounded) and exits 0: give `docker stop` time for it
# (docker stop -t 30, or stop_grace_period in compose).
STOPSIGNAL SIGTERM
CMD ["smppbridge", "-c", "/etc/smppbridge/smppbridge.conf"]
