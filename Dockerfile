# syntax=docker/dockerfile:1
# Build: one self-contained executable.
FROM oven/bun:1 AS build
WORKDIR /src
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile
COPY . .
RUN bun run build

# Run: a slim glibc base, a non-root user, the database on a volume.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin askad \
 && mkdir -p /data && chown askad /data
COPY --from=build /src/dist/askad /usr/local/bin/askad
USER askad
WORKDIR /data
ENV ASKAD_DB=/data/askad.db PORT=3000 HOST=0.0.0.0
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["askad", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["askad"]
CMD ["serve"]
