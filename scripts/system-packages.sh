#!/usr/bin/env bash
# The Debian packages the test suite uses, installed when missing (`make test` runs this, so a
# fresh machine needs nothing but Python and make):
#   oathtool          an independent TOTP generator (tests/integration, tests/e2e)
#   prometheus        promtool, which checks deploy/prometheus/alerts.yml and its unit tests
#   chromium, chromium-driver
#                     the browser tests (tests/browser), never a downloaded browser
#   nginx, openssl    the card login's TLS terminator with client certificates and OpenSSL's
#                     OCSP responder (tests/integration/test_card_*.py)
#   nftables          nft, with which `tweestap chaos` cuts a zone off from the broker
#                     (services/dev/chaos/partition.py, tests/faults/test_chaos.py)
set -euo pipefail
missing=()
command -v oathtool >/dev/null 2>&1 || missing+=(oathtool)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/bin/chromedriver ] || missing+=(chromium chromium-driver)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -x /usr/sbin/nft ] || command -v nft >/dev/null 2>&1 || missing+=(nftables)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages the tests use: ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
