# syntax=docker/dockerfile:1
#
# incidentbot: a static binary on distroless, running as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t incidentbot .
#   docker run -v incidentbot-data:/data \
#              -v $PWD/incidentbot.yaml:/etc/incidentbot/incidentbot.yaml:ro \
#              -e INCIDENTBOT_SLACK_BOT_TOKEN -e INCIDENTBOT_SLACK_APP_TOKEN \
#              -p 8080:8080 incidentbot
#
# The entrypoint is `incidentbot serve`; arguments are appended to it. The
# sandbox has no authentication and refuses the image's 0.0.0.0 listener
# unless told otherwise; publish it on the host's loopback only:
#   docker run --rm -p 127.0.0.1:8080:8080 incidentbot --sandbox --sandbox-public
# Other commands: --entrypoint incidentbot, e.g.
#   docker run --rm -v $PWD/incidentbot.yaml:/etc/incidentbot/incidentbot.yaml:ro \
#              --entrypoint incidentbot incidentbot check
# The configuration is read from /etc/incidentbot/incidentbot.yaml when it is
# mounted there (the working directory), and from INCIDENTBOT_* variables.
# `serve --sandbox` never uses the /data volume: it keeps its own database in
# a temporary directory, removed when it stops.
#
# Distroless has no shell and no curl: the health check is the binary's own
# `incidentbot healthcheck`, which exits 0 when GET /readyz on http.listen
# answers 200 (storage answers and Slack is connected) within its timeout.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/incidentbot ./cmd/incidentbot \
 && mkdir -p /out/data /out/etc

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/incidentbot /usr/local/bin/incidentbot
# The database lives on the volume; the directory belongs to the runtime user
# so that a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build --chown=65532:65532 /out/etc /etc/incidentbot
USER 65532:65532
WORKDIR /etc/incidentbot
ENV INCIDENTBOT_STORAGE_PATH=/data/incidentbot.db \
    INCIDENTBOT_HTTP_LISTEN=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["incidentbot", "healthcheck", "--timeout", "5s"]
ENTRYPOINT ["incidentbot", "serve"]
