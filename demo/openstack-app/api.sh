#!/bin/sh
# The demo's API: asks the database and the queue over TCP every second and publishes what
# they answered on its own port. On the host's network (--net=host) everything is on
# 127.0.0.1; on a bridge the others are DB_HOST and QUEUE_HOST (--link aliases) and the API
# listens on every address of its namespace (API_LISTEN), published with -p.
trap 'exit 0' TERM
mkdir -p /www
echo 'api: starting' >/www/index.html
/bin/busybox httpd -p "${API_LISTEN:-127.0.0.1:$API_PORT}" -h /www
while :; do
    db=$(/bin/busybox wget -qO- "http://${DB_HOST:-127.0.0.1}:$DB_PORT/" 2>&1)
    queue=$(/bin/busybox wget -qO- "http://${QUEUE_HOST:-127.0.0.1}:$QUEUE_PORT/" 2>&1)
    printf 'api: up\n%s\n%s\n' "$db" "$queue" >/www/index.html.new
    mv /www/index.html.new /www/index.html
    sleep 1
done
