"""The enrolment service's HTTP API: routes → handlers, problem+json errors."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from services.enrolment import consumers
from services.enrolment.api import (
    ActivationResent,
    AppReplacementStarted,
    CodeRequest,
    DeziLinked,
    DeziLinkRequest,
    EmailFactorRequest,
    EmployeeList,
    EmployeeUpdate,
    EmployeeView,
    EnrolmentStarted,
    FactorEnrolled,
    FactorList,
    FactorNameRequest,
    FactorView,
    IdentityAccepted,
    IdentityRequest,
    PasskeyOptions,
    PasskeyOptionsRequest,
    PasskeyRegistration,
    PasskeyView,
    PendingFactorView,
    PracticeUpdate,
    PracticeView,
    Readiness,
    RecoveryCode,
    SmsFactorRequest,
)
from services.enrolment.api_audit import (
    AuditPage,
    AuditQuery,
    parse_cursor,
    parse_filters,
    parse_limit,
)
from services.enrolment.bootstrap import Enrolment, compose
from services.enrolment.metrics import EnrolmentMetrics
from services.enrolment.settings import MIN_BSN_KEY_CHARS, EnrolmentSettings
from services.enrolment.use_cases.access import Claims
from services.enrolment.use_cases.audit import AuditTrail
from shared.consumer import EventConsumer
from shared.db import Migrations
from shared.events import FACTOR_ID_PATTERN
from shared.gate import TokenGate
from shared.http import (
    RUNTIME,
    Route,
    bearer,
    create_service_app,
    field_id,
    json_response,
    parse_body,
    path_id,
)
from shared.problems import not_found
from shared.sealing import Keyring
from shared.tokens import TokenVerifier
from shared.topics import DEAD_LETTERS

log = logging.getLogger(__name__)
ENROLMENT = web.AppKey("enrolment", Enrolment)
CONSUMER = web.AppKey("enrolment-consumer", EventConsumer)
#: Its own migrations, and the replicated parts it keeps (shared/replicas).
MIGRATIONS = Migrations(Path(__file__).parent / "migrations", ("keys", "revocations", "factors"))


# -- administrator ------------------------------------------------------------------------------


async def _admin(request: web.Request) -> tuple[Enrolment, Claims, str]:
    """The use cases, and the claims of the practice's administrator calling them."""
    enrolment = request.app[ENROLMENT]
    practice = path_id(request, "p")
    claims = await enrolment.access.admin(bearer(request), practice)
    return enrolment, claims, practice


async def get_practice(request: web.Request) -> web.Response:
    use, claims, practice = await _admin(request)
    return json_response(await use.practices.get_practice(claims, practice))


async def put_practice(request: web.Request) -> web.Response:
    use, claims, practice = await _admin(request)
    body = await parse_body(request, PracticeUpdate)
    return json_response(await use.practices.update_practice(claims, practice, body))


async def readiness(request: web.Request) -> web.Response:
    use, claims, practice = await _admin(request)
    return json_response(await use.practices.readiness(claims, practice))


async def list_employees(request: web.Request) -> web.Response:
    use, claims, practice = await _admin(request)
    return json_response(EmployeeList(await use.employees.list_employees(claims, practice)))


async def put_employee(request: web.Request) -> web.Response:
    use, claims, practice = await _admin(request)
    employee = request.match_info["e"]
    body = await parse_body(request, EmployeeUpdate)
    field_id(employee, "employee")
    return json_response(await use.employees.put_employee(claims, practice, employee, body))


async def deactivate(request: web.Request) -> web.Response:
    use, claims, practice = await _admin(request)
    await use.employees.deactivate(claims, practice, path_id(request, "e"))
    return web.Response(status=204)


async def employee_factors(request: web.Request) -> web.Response:
    use, _, practice = await _admin(request)
    listed = await use.employee_factors.listed(practice, path_id(request, "e"))
    return json_response(FactorList(listed))


async def resend_activation(request: web.Request) -> web.Response:
    use, claims, practice = await _admin(request)
    return json_response(await use.resend_activation(claims, practice, path_id(request, "e")))


async def remove_employee_factor(request: web.Request) -> web.Response:
    use, claims, practice = await _admin(request)
    factor = request.match_info["f"]
    if re.fullmatch(FACTOR_ID_PATTERN, factor) is None:
        raise not_found()
    await use.employee_factors.remove(claims, practice, path_id(request, "e"), factor)
    return web.Response(status=204)


# -- wizard -------------------------------------------------------------------------------------


async def start(request: web.Request) -> web.Response:
    return json_response(await request.app[ENROLMENT].wizard.start(bearer(request)))


async def identity(request: web.Request) -> web.Response:
    svc = request.app[ENROLMENT].wizard
    token = bearer(request)
    body = await parse_body(request, IdentityRequest)
    return json_response(await svc.identify(token, request.match_info["id"], body))


async def shown_again(request: web.Request) -> web.Response:
    svc = request.app[ENROLMENT].wizard
    return json_response(await svc.show(bearer(request), request.match_info["id"]))


async def confirm(request: web.Request) -> web.Response:
    svc = request.app[ENROLMENT].wizard
    token = bearer(request)
    body = await parse_body(request, CodeRequest)
    return json_response(await svc.confirm(token, request.match_info["id"], body.code))


# -- the employee's own factors -----------------------------------------------------------------


async def list_factors(request: web.Request) -> web.Response:
    return json_response(FactorList(await request.app[ENROLMENT].factors.show(bearer(request))))


async def add_sms(request: web.Request) -> web.Response:
    svc = request.app[ENROLMENT].codes
    token = bearer(request)
    body = await parse_body(request, SmsFactorRequest)
    return json_response(await svc.request(token, "sms", body.phone))


async def add_email(request: web.Request) -> web.Response:
    svc = request.app[ENROLMENT].codes
    token = bearer(request)
    body = await parse_body(request, EmailFactorRequest)
    return json_response(await svc.request(token, "email", body.email))


async def confirm_factor(request: web.Request) -> web.Response:
    svc = request.app[ENROLMENT].codes
    token = bearer(request)
    body = await parse_body(request, CodeRequest)
    return json_response(await svc.confirm(token, request.match_info["id"], body.code))


async def replace_app(request: web.Request) -> web.Response:
    return json_response(await request.app[ENROLMENT].app_replacement.start(bearer(request)))


async def confirm_app(request: web.Request) -> web.Response:
    svc = request.app[ENROLMENT].app_replacement
    token = bearer(request)
    body = await parse_body(request, CodeRequest)
    return json_response(await svc.confirm(token, path_id(request, "id"), body.code))


async def remove_factor(request: web.Request) -> web.Response:
    svc = request.app[ENROLMENT].removal
    factor = request.match_info["id"]
    if re.fullmatch(FACTOR_ID_PATTERN, factor) is None:
        raise not_found()
    await svc(bearer(request), factor)
    return web.Response(status=204)


async def name_factor(request: web.Request) -> web.Response:
    svc = request.app[ENROLMENT].naming
    factor = request.match_info["id"]
    if re.fullmatch(FACTOR_ID_PATTERN, factor) is None:
        raise not_found()
    token = bearer(request)
    body = await parse_body(request, FactorNameRequest)
    return json_response(await svc(token, factor, body.name))


async def passkey_options(request: web.Request) -> web.Response:
    svc = request.app[ENROLMENT].passkeys
    token = bearer(request)
    await parse_body(request, PasskeyOptionsRequest)
    return json_response(await svc.options(token))


async def add_passkey(request: web.Request) -> web.Response:
    svc = request.app[ENROLMENT].passkeys
    token = bearer(request)
    body = await parse_body(request, PasskeyRegistration)
    return json_response(await svc.register(token, body), status=201)


async def recovery_code(request: web.Request) -> web.Response:
    return json_response(await request.app[ENROLMENT].recovery.regenerate(bearer(request)))


async def link_dezi(request: web.Request) -> web.Response:
    token = bearer(request)
    body = await parse_body(request, DeziLinkRequest)
    return json_response(await request.app[ENROLMENT].dezi.link(token, body.assertion))


ROUTES = (
    Route("GET", "/v1/practices/{p}", get_practice, "Practice settings", None, PracticeView, True),
    Route(
        "PUT",
        "/v1/practices/{p}",
        put_practice,
        "Change practice settings (omitted fields keep their value)",
        PracticeUpdate,
        PracticeView,
        True,
        errors=(409,),
    ),
    Route(
        "GET",
        "/v1/practices/{p}/readiness",
        readiness,
        "What each employee lacks for two-factor login",
        None,
        Readiness,
        True,
    ),
    Route(
        "GET",
        "/v1/practices/{p}/employees",
        list_employees,
        "The practice's employees (never a BSN)",
        None,
        EmployeeList,
        True,
    ),
    Route(
        "PUT",
        "/v1/practices/{p}/employees/{e}",
        put_employee,
        "Create or update an employee (omitted fields keep their value)",
        EmployeeUpdate,
        EmployeeView,
        True,
        errors=(409,),
    ),
    Route(
        "GET",
        "/v1/practices/{p}/employees/{e}/factors",
        employee_factors,
        "Administrator: an employee's active sign-in methods",
        None,
        FactorList,
        True,
    ),
    Route(
        "POST",
        "/v1/practices/{p}/employees/{e}/activation",
        resend_activation,
        "Administrator resends an employee's waiting activation code (to the employee)",
        None,
        ActivationResent,
        True,
        errors=(409,),
    ),
    Route(
        "DELETE",
        "/v1/practices/{p}/employees/{e}/factors/{f}",
        remove_employee_factor,
        "Administrator removes one sign-in method of an employee",
        bearer=True,
        status=204,
    ),
    Route(
        "DELETE",
        "/v1/practices/{p}/employees/{e}/factors",
        deactivate,
        "Deactivate every second factor of an employee and end their sessions",
        bearer=True,
        status=204,
    ),
    Route(
        "POST",
        "/v1/enrolment",
        start,
        "Start enrolling an authenticator app: an activation code is e-mailed",
        None,
        EnrolmentStarted,
        True,
        errors=(409, 410, 423, 429),
    ),
    Route(
        "POST",
        "/v1/enrolment/{id}/identity",
        identity,
        "Activation code, birth date and BSN → the TOTP secret and its QR code",
        IdentityRequest,
        IdentityAccepted,
        True,
        errors=(409, 410, 423, 429),
    ),
    Route(
        "GET",
        "/v1/enrolment/{id}/totp",
        shown_again,
        "The QR code again while the enrolment waits for the app's first code",
        None,
        IdentityAccepted,
        True,
        errors=(409, 410, 423),
    ),
    Route(
        "POST",
        "/v1/enrolment/{id}/confirm",
        confirm,
        "First code from the app → the factor and a recovery code",
        CodeRequest,
        FactorEnrolled,
        True,
        errors=(409, 410, 423, 429),
    ),
    Route("GET", "/v1/factors", list_factors, "My active factors", None, FactorList, True),
    Route(
        "POST",
        "/v1/factors/sms",
        add_sms,
        "Enrol an SMS factor: a confirmation code is sent",
        SmsFactorRequest,
        PendingFactorView,
        True,
        errors=(409, 429),
    ),
    Route(
        "POST",
        "/v1/factors/email",
        add_email,
        "Enrol an e-mail factor: a confirmation code is sent",
        EmailFactorRequest,
        PendingFactorView,
        True,
        errors=(409, 429),
    ),
    Route(
        "POST",
        "/v1/factors/passkey/options",
        passkey_options,
        "Start adding a passkey: WebAuthn creation options with a single-use challenge",
        PasskeyOptionsRequest,
        PasskeyOptions,
        True,
        errors=(409,),
    ),
    Route(
        "POST",
        "/v1/factors/passkey",
        add_passkey,
        "Add a passkey: the authenticator's answer to the options (RegistrationCredential)",
        PasskeyRegistration,
        PasskeyView,
        True,
        status=201,
        errors=(400, 409),
    ),
    Route(
        "POST",
        "/v1/factors/{id}/confirm",
        confirm_factor,
        "Activate an SMS/e-mail factor with its confirmation code",
        CodeRequest,
        FactorView,
        True,
        errors=(409, 410, 429),
    ),
    Route(
        "POST",
        "/v1/factors/totp",
        replace_app,
        "Replace my authenticator app (a new phone): the new secret; the old app works until "
        "the new one's first code confirms it",
        None,
        AppReplacementStarted,
        True,
        errors=(409, 423, 429),
    ),
    Route(
        "POST",
        "/v1/factors/totp/{id}/confirm",
        confirm_app,
        "The new authenticator app's first code: it replaces the old one",
        CodeRequest,
        FactorView,
        True,
        errors=(409, 410, 423),
    ),
    Route(
        "DELETE",
        "/v1/factors/{id}",
        remove_factor,
        "Remove one of my factors (never my last authenticator app or passkey)",
        bearer=True,
        status=204,
        errors=(403, 409),
    ),
    Route(
        "PATCH",
        "/v1/factors/{id}",
        name_factor,
        "Rename one of my passkeys (no fresh login needed)",
        FactorNameRequest,
        FactorView,
        True,
        errors=(403, 409),
    ),
    Route(
        "POST",
        "/v1/recovery-code",
        recovery_code,
        "A new recovery code replacing the old one",
        None,
        RecoveryCode,
        True,
    ),
    Route(
        "PUT",
        "/v1/dezi",
        link_dezi,
        "Link my Dezi identity: auth's signed statement of my Dezi login records my Dezi number",
        DeziLinkRequest,
        DeziLinked,
        True,
        errors=(403, 409),
    ),
)


def _bsn_key(settings: EnrolmentSettings) -> bytes:
    key = settings.bsn_key.get_secret_value()
    if len(key) < MIN_BSN_KEY_CHARS:
        raise ValueError(
            f"no BSN key configured (TWEESTAP_BSN_KEY, at least {MIN_BSN_KEY_CHARS} characters)"
        )
    return key.encode()


# -- the audit trail ----------------------------------------------------------------------------

AUDIT = web.AppKey("audit", AuditTrail)


async def _read_request(request: web.Request) -> tuple[AuditTrail, str]:
    """The trail and the practice (path ``{p}``) of a request its reader may make."""
    trail, practice = request.app[AUDIT], path_id(request, "p")
    await trail.reader(bearer(request), practice)
    return trail, practice


async def get_audit(request: web.Request) -> web.Response:
    trail, practice = await _read_request(request)
    filters = parse_filters(request.query)
    limit, after = parse_limit(request.query), parse_cursor(request.query)
    return json_response(await trail.page(practice, filters, limit, after))


async def export_audit(request: web.Request) -> web.StreamResponse:
    trail, practice = await _read_request(request)
    filters = parse_filters(request.query)
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/x-ndjson",
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="audit-{practice}.jsonl"',
        }
    )
    first = True
    async for line in trail.export(practice, filters):
        if first:  # headers only once the database answered (else a problem, not a 200)
            await response.prepare(request)
            first = False
        await response.write(line)
    if first:
        await response.prepare(request)
    await response.write_eof()
    return response


AUDIT_ROUTES = (
    Route(
        "GET",
        "/v1/practices/{p}/audit",
        get_audit,
        "The practice's audit trail, newest first, a page at a time (filters: from, to, "
        "employee, type); the administrator in a two-factor session only",
        None,
        AuditPage,
        True,
        query=AuditQuery,
        errors=(400,),
    ),
    Route(
        "GET",
        "/v1/practices/{p}/audit/export",
        export_audit,
        "The practice's audit trail as JSON lines (application/x-ndjson; same filters, no "
        "pages); the administrator in a two-factor session only",
        None,
        None,
        True,
        query=AuditQuery,
        errors=(400,),
        content_type="application/x-ndjson",
    ),
)


def create_app(settings: EnrolmentSettings) -> web.Application:
    # Refuse to start without the keys: nothing could be sealed or compared.
    keyring = Keyring.parse(settings.sealing_keys.get_secret_value())
    bsn_key = _bsn_key(settings)
    metrics = EnrolmentMetrics(settings.zone)
    app = create_service_app(settings, ROUTES + AUDIT_ROUTES, MIGRATIONS, metrics)

    async def enrolment_ctx(app: web.Application) -> AsyncIterator[None]:
        rt = app[RUNTIME]
        verifier = TokenVerifier(settings.token_cache_size)
        gate = TokenGate(
            verifier, rt.pool, settings.issuer, settings.token_audience, settings.leeway_seconds
        )
        service = compose(settings, rt.pool, keyring, bsn_key, gate, metrics)
        await gate.load_keys()
        app[ENROLMENT] = service
        consumer = EventConsumer(
            settings,
            rt.pool,
            metrics,
            "enrolment",
            consumers.handlers(settings, verifier),
            consumers.accept(settings),
            dead_letter_topic=DEAD_LETTERS,
        )
        app[CONSUMER] = consumer
        rt.spawn(consumer.run, "enrolment-consumer", consumer.not_ready)
        rt.spawn(service.maintenance.run, "maintenance")
        app[AUDIT] = service.audit
        rt.spawn(service.audit.consumer().run, "audit-consumer")
        rt.spawn(service.audit.retention, "audit-retention")
        yield

    app.cleanup_ctx.append(enrolment_ctx)
    return app
