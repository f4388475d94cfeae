"""``tweestap dev cards``: everything to try a UZI-pas login on this machine (README, "Trying a
UZI-pas login locally"), written to ``var/cards/``: a test hierarchy of the UZI profile
(:mod:`services.dev.cards`) as a trust store, two cards (one good, one revoked) as PKCS#12 for a
browser and as PEM for the SDK, the CA's CRL and OpenSSL's OCSP index, and an nginx
configuration that terminates TLS with client certificates in front of the web front door
(the same configuration the tests run, :func:`nginx_config`). It prints the settings to export
and the three commands that serve it (nginx, ``openssl ocsp``, the CRL over HTTP)."""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from services.dev import cards
from shared.sealing import generate_key

#: Where the kit's services listen (beside ``tweestap dev``'s 8100-8299).
NGINX_PORT = 8443
OCSP_PORT = 8910
CRL_PORT = 8911
URA = "12345678"
GOOD = "900012345"
REVOKED = "900055555"
#: The PKCS#12 password of the cards (a test kit: nothing here is a secret).
PASSWORD = "tweestap"  # noqa: S105


def nginx_config(
    folder: Path,
    port: int,
    upstream: str,
    server_cert: Path,
    server_key: Path,
    client_cas: Path,
    as_root: bool | None = None,
) -> str:
    """An nginx.conf (run with ``nginx -p folder -c folder/nginx.conf``) terminating TLS on
    127.0.0.1:``port`` for the web at ``upstream`` (``127.0.0.1:8100``): the browser is asked
    for a certificate of ``client_cas`` (``ssl_verify_client optional``), the verified one goes
    to the web in ``X-SSL-Client-Cert`` (``$ssl_client_escaped_cert``) and the verdict in
    ``X-SSL-Client-Verify`` (a failed verification too, so the web can say why); whatever the
    browser sent in those headers is replaced."""
    temp = folder / "temp"
    # As root (a CI container), workers would run as nobody, who may not enter the folder.
    root = os.geteuid() == 0 if as_root is None else as_root
    user = "user root root;\n" if root else ""
    proxy = f"""            proxy_pass http://{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
            # Always set (empty: not passed), so a browser's own header never gets through.
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
"""
    return f"""{user}worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {server_cert};
        ssl_certificate_key {server_key};
        # The UZI register's and PKIoverheid's CAs: browsers offer only cards of these.
        ssl_client_certificate {client_cas};
        ssl_verify_client optional;
        ssl_verify_depth 3;
        # A certificate that fails verification (expired, wrong CA) would get nginx's bare 400
        # page; the web says why instead (the verdict, FAILED:…, in X-SSL-Client-Verify).
        error_page 495 = @web;
        location / {{
{proxy}        }}
        location @web {{
{proxy}        }}
    }}
}}
"""


def prepare_nginx(folder: Path, text: str) -> Path:
    """``folder`` with nginx's temp folders and ``text`` as its nginx.conf (returned)."""
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "temp" / name).mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(text)
    return conf


@dataclass(frozen=True)
class Kit:
    folder: Path
    #: ``NAME=value`` for auth and the web (export them before ``tweestap dev``).
    settings: dict[str, str]
    #: The commands that serve the kit, each in a terminal of its own.
    commands: list[str]


def make(folder: Path, web_port: int = 8100) -> Kit:
    """The kit in ``folder`` (made anew each time: a new hierarchy, new keys)."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "crl").mkdir(exist_ok=True)
    crl_url = f"http://127.0.0.1:{CRL_PORT}/zorgverlener.crl"
    ocsp_url = f"http://127.0.0.1:{OCSP_PORT}/"
    hierarchy = cards.hierarchy("Tweestap dev", crl_url, ocsp_url)
    good = hierarchy.card(cards.Card(GOOD, URA, name="Dev Zorgverlener"))
    revoked = hierarchy.card(cards.Card(REVOKED, URA, name="Dev Ingetrokken"))
    (folder / "trust.pem").write_text(hierarchy.bundle)
    (folder / "ca.pem").write_text(hierarchy.ca.pem)
    (folder / "responder.pem").write_text(hierarchy.responder.pem)
    (folder / "responder.key").write_text(hierarchy.responder.key_pem)
    (folder / "index.txt").write_text(hierarchy.ocsp_index([revoked]))
    (folder / "index.txt.attr").write_text("unique_subject = no\n")
    crl = hierarchy.crl([revoked], next_update=timedelta(days=30))
    (folder / "crl" / "zorgverlener.crl").write_bytes(crl)
    for name, card in (("card-good", good), ("card-revoked", revoked)):
        (folder / f"{name}.p12").write_bytes(card.pkcs12(PASSWORD, [hierarchy.ca]))
        (folder / f"{name}.pem").write_text(card.pem)
        (folder / f"{name}.key").write_text(card.key_pem)
    tls_ca, server = cards.tls_server(["localhost"])
    (folder / "tls-ca.pem").write_text(tls_ca.pem)
    (folder / "tls-server.pem").write_text(server.pem)
    (folder / "tls-server.key").write_text(server.key_pem)
    nginx_folder = folder / "nginx"
    conf = prepare_nginx(
        nginx_folder,
        nginx_config(
            nginx_folder,
            NGINX_PORT,
            f"127.0.0.1:{web_port}",
            folder / "tls-server.pem",
            folder / "tls-server.key",
            folder / "trust.pem",
        ),
    )
    statement_keys = f"card1:{generate_key()}"
    settings = {
        "TWEESTAP_CARD_TRUST_STORE": json.dumps([str(folder / "trust.pem")]),
        "TWEESTAP_CARD_STATEMENT_KEYS": statement_keys,
        "TWEESTAP_WEB_CARD_STATEMENT_KEYS": statement_keys,
        "TWEESTAP_WEB_TRUSTED_PROXIES": json.dumps(["127.0.0.1/32"]),
    }
    (folder / "env").write_text(
        "".join(f"export {name}={shlex.quote(value)}\n" for name, value in settings.items())
    )
    q = shlex.quote
    commands = [
        f"nginx -p {q(str(nginx_folder))} -c {q(str(conf))} -e {q(str(nginx_folder))}/error.log",
        f"openssl ocsp -index {q(str(folder / 'index.txt'))} -port {OCSP_PORT} "
        f"-rsigner {q(str(folder / 'responder.pem'))} -rkey {q(str(folder / 'responder.key'))} "
        f"-CA {q(str(folder / 'ca.pem'))} -nmin 10",
        f"python3 -m http.server {CRL_PORT} --bind 127.0.0.1 --directory {q(str(folder / 'crl'))}",
    ]
    return Kit(folder, settings, commands)


def describe(kit: Kit) -> str:
    """What ``tweestap dev cards`` prints."""
    f = kit.folder
    lines = [
        f"UZI test cards in {f}/ (a new test hierarchy; trusted only where you configure it):",
        f"  card-good.p12     UZI number {GOOD}, URA {URA} (PKCS#12 password: {PASSWORD})",
        f"  card-revoked.p12  UZI number {REVOKED}, revoked (OCSP and CRL)",
        f"  trust.pem         the trust store; tls-ca.pem: the CA of nginx's https://localhost:"
        f"{NGINX_PORT}",
        "",
        "1. Before `tweestap dev` (or `make run`), in its terminal:",
        f"     . {f}/env",
        "2. Serve the kit, each in a terminal of its own:",
        *(f"     {command}" for command in kit.commands),
        f"3. Give the practice URA {URA} and an employee the UZI number {GOOD} (the console, or"
        " the enrolment API), import card-good.p12 and tls-ca.pem into the browser, and open",
        f"     https://localhost:{NGINX_PORT}/login/card",
    ]
    return "\n".join(lines)
