# syntax=docker/dockerfile:1
# askad in a container: one self-contained executable on a slim base. How to run it, bind mounts
# and private CAs: docs/operations.md.

# Build: the exact Bun release the project is developed and tested with (bun --version), so a
# rebuild next year makes the same executable.
FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json bun.lock ./
# Production dependencies only: the compiled executable needs nothing from devDependencies
# (drizzle-kit, the test tools); the migrations it embeds are committed files.
RUN bun install --frozen-lockfile --production
COPY . .
RUN bun run build

# Run: a slim glibc base, a non-root user, the database on a volume.
FROM debian:bookworm-slim
# VERSION follows package.json (a test keeps them equal); SOURCE is where your copy of the code lives:
#   docker build --build-arg SOURCE=https://git.example.com/agency/askad -t askad .
ARG VERSION=0.1.0
ARG SOURCE=""
LABEL org.opencontainers.image.title="askad" \
      org.opencontainers.image.description="Self-hosted lead webhooks: collect leads, keep contacts and deals, send signed webhooks. One executable." \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}"
# A fixed uid AND gid (10001:10001), so a bind-mounted host folder can be given to it in advance:
#   mkdir -p /srv/askad && chown 10001:10001 /srv/askad && chmod 700 /srv/askad
#   docker run -v /srv/askad:/data …
RUN groupadd --system --gid 10001 askad \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin askad \
 && mkdir -p /data && chown 10001:10001 /data && chmod 700 /data
COPY --from=build /src/dist/askad /usr/local/bin/askad
USER 10001:10001
WORKDIR /data
# Webhook receivers behind a private CA: mount its certificate (PEM) and point NODE_EXTRA_CA_CERTS
# at it, e.g. -v /etc/ssl/my-ca.pem:/etc/askad/ca.pem:ro -e NODE_EXTRA_CA_CERTS=/etc/askad/ca.pem
# (Bun reads it at start and trusts it besides its built-in roots).
ENV ASKAD_DB=/data/askad.db PORT=3000 HOST=0.0.0.0
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["askad", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["askad"]
CMD ["serve"]
