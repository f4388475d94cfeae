"""The certificate store's HTTP API: routes → use cases, problem+json errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from services.certs import consumers
from services.certs.api import (
    CertificateImport,
    CertificateList,
    CertificateUpdate,
    CertificateView,
    Entitlements,
    EntitlementsQuery,
    Removed,
)
from services.certs.bootstrap import Certs, compose
from services.certs.metrics import CertsMetrics
from services.certs.settings import CertsSettings
from shared.consumer import EventConsumer
from shared.db import Migrations
from shared.gate import TokenGate
from shared.http import (
    RUNTIME,
    Route,
    admin_request,
    create_service_app,
    field_id,
    json_response,
    parse_body,
    path_id,
)
from shared.sealing import Keyring
from shared.tokens import TokenVerifier
from shared.topics import DEAD_LETTERS

CERTS = web.AppKey("certs", Certs)
CONSUMER = web.AppKey("certs-consumer", EventConsumer)
#: Its own migrations, and the replicated parts it keeps (shared/replicas).
MIGRATIONS = Migrations(Path(__file__).parent / "migrations", ("keys", "revocations"))


async def import_certificate(request: web.Request) -> web.Response:
    certs, practice = await admin_request(request, CERTS)
    body = await parse_body(request, CertificateImport)
    return json_response(await certs.importing.import_certificate(practice, body), status=201)


async def list_certificates(request: web.Request) -> web.Response:
    certs, practice = await admin_request(request, CERTS)
    return json_response(
        CertificateList(certificates=await certs.reading.list_certificates(practice))
    )


async def get_certificate(request: web.Request) -> web.Response:
    certs, practice = await admin_request(request, CERTS)
    return json_response(await certs.reading.get_certificate(practice, path_id(request, "nr")))


async def patch_certificate(request: web.Request) -> web.Response:
    certs, practice = await admin_request(request, CERTS)
    nr = path_id(request, "nr")
    body = await parse_body(request, CertificateUpdate)
    return json_response(await certs.configuring.update_certificate(practice, nr, body))


async def delete_certificate(request: web.Request) -> web.Response:
    certs, practice = await admin_request(request, CERTS)
    return json_response(await certs.removing.remove(practice, path_id(request, "nr")))


async def put_grant(request: web.Request) -> web.Response:
    certs, practice = await admin_request(request, CERTS)
    nr, employee = path_id(request, "nr"), path_id(request, "e")
    return json_response(await certs.granting.grant(practice, nr, employee))


async def delete_grant(request: web.Request) -> web.Response:
    certs, practice = await admin_request(request, CERTS)
    nr, employee = path_id(request, "nr"), path_id(request, "e")
    return json_response(await certs.granting.revoke(practice, nr, employee))


async def entitlements(request: web.Request) -> web.Response:
    certs, practice = await admin_request(request, CERTS)
    employee = request.query.get("employee", "")
    service = request.query.get("service") or None
    field_id(employee, "employee")
    return json_response(await certs.entitlements.entitlements(practice, employee, service))


CERTIFICATES = "/v1/practices/{p}/certificates"
ONE = CERTIFICATES + "/{nr}"
ROUTES = (
    Route(
        "POST",
        CERTIFICATES,
        import_certificate,
        "Import a certificate (PKCS#12 + password, or PEM certificate + key) → its metadata",
        CertificateImport,
        CertificateView,
        True,
        status=201,
        errors=(409,),
    ),
    Route(
        "GET",
        CERTIFICATES,
        list_certificates,
        "The practice's certificates (never a key)",
        None,
        CertificateList,
        True,
    ),
    Route("GET", ONE, get_certificate, "One certificate", None, CertificateView, True),
    Route(
        "PATCH",
        ONE,
        patch_certificate,
        "Type (personal/public), AGB code, services (omitted fields keep their value)",
        CertificateUpdate,
        CertificateView,
        True,
        errors=(409,),
    ),
    Route("DELETE", ONE, delete_certificate, "Remove a certificate", None, Removed, True),
    Route(
        "PUT",
        ONE + "/grants/{e}",
        put_grant,
        "Let an employee use a personal certificate",
        None,
        CertificateView,
        True,
        errors=(409,),
    ),
    Route(
        "DELETE",
        ONE + "/grants/{e}",
        delete_grant,
        "Withdraw an employee's use of a certificate",
        None,
        CertificateView,
        True,
        errors=(409,),
    ),
    Route(
        "GET",
        "/v1/practices/{p}/entitlements",
        entitlements,
        "The certificates an employee may use (?employee=&service=)",
        None,
        Entitlements,
        True,
        query=EntitlementsQuery,
    ),
)


def create_app(settings: CertsSettings) -> web.Application:
    # Refuse to start without the keys: no private key could be sealed.
    keyring = Keyring.parse(settings.sealing_keys.get_secret_value())
    metrics = CertsMetrics(settings.zone)
    app = create_service_app(settings, ROUTES, MIGRATIONS, metrics)

    async def certs_ctx(app: web.Application) -> AsyncIterator[None]:
        rt = app[RUNTIME]
        verifier = TokenVerifier(settings.token_cache_size)
        gate = TokenGate(
            verifier, rt.pool, settings.issuer, settings.token_audience, settings.leeway_seconds
        )
        certs = compose(settings, rt.pool, keyring, gate, metrics)
        await gate.load_keys()
        app[CERTS] = certs
        consumer = EventConsumer(
            settings,
            rt.pool,
            metrics,
            "certs",
            consumers.handlers(settings, verifier),
            consumers.accept(settings),
            dead_letter_topic=DEAD_LETTERS,
        )
        app[CONSUMER] = consumer
        rt.spawn(consumer.run, "certs-consumer", consumer.not_ready)
        rt.spawn(certs.maintenance.run, "maintenance")
        yield

    app.cleanup_ctx.append(certs_ctx)
    return app
