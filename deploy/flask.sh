#!/bin/sh
# Run a `flask --app server ...` command on the server exactly as the services run: as the
# wxpay user, in the app directory, with the production settings parsed by systemd itself.
#   sudo deploy/flask.sh db upgrade
#   sudo deploy/flask.sh payments sync
set -e
exec systemd-run --quiet --pipe --wait --collect \
    --property=User=wxpay \
    --property=EnvironmentFile=/etc/wxpay/wxpay.env \
    --property=WorkingDirectory=/srv/wxpay/app \
    /srv/wxpay/app/.venv/bin/flask --app server "$@"
