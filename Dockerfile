# smppbridge container image.
#
# The build stage runs exactly what CI runs (scripts/install-deps.sh, then
# `make test`), so a green CI proves these steps; the runtime stage carries
# only the binaries, conf/ and the shared libraries they link.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh
COPY . .
RUN make clean && make test && make install DESTDIR=/out PREFIX=/usr/local

FROM debian:12-slim AS runtime
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
COPY --from=build /out/ /
