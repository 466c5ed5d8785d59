# Vigil container image: built with the same setup script as a developer's
# machine, run as an unprivileged user.
#   docker build -t vigil .
#   docker run -p 9090:9090 -v vigil-data:/vigil/data vigil
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/ scripts/
RUN scripts/setup.sh
COPY . .
RUN rm -rf build && scripts/build.sh release

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libuv1 libyaml-0-2 liblmdb0 libzstd1 zlib1g libpcre2-8-0 libcjson1 libroaring0 libxxhash0 \
        libcrypt1 curl ca-certificates \
        libcurl4 libbrotli1 libffi8 libgmp10 libgnutls30 libgssapi-krb5-2 libhogweed6 libidn2-0 \
        libk5crypto3 libkrb5-3 libkrb5support0 libldap-2.5-0 libnettle8 libnghttp2-14 libp11-kit0 \
        libpsl5 librtmp1 libsasl2-2 libssh2-1 libssl3 libtasn1-6 libunistring2 libcom-err2 \
        libkeyutils1 libc6 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /vigil --no-create-home vigil
WORKDIR /vigil
COPY --from=build /src/build/vigil /usr/local/bin/vigil
COPY conf/prometheus.yml /etc/vigil/prometheus.yml
RUN mkdir -p /vigil/data && chown -R vigil /vigil
USER vigil
EXPOSE 9090
VOLUME ["/vigil/data"]
HEALTHCHECK --interval=30s --timeout=3s CMD curl -fsS http://127.0.0.1:9090/-/healthy || exit 1
ENTRYPOINT ["/usr/local/bin/vigil"]
CMD ["--config.file=/etc/vigil/prometheus.yml", "--storage.tsdb.path=/vigil/data"]
