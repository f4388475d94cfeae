"""A site for tests through the web front end: auth (believing X-Forwarded-For from loopback),
enrolment and the notifier on real PostgreSQL, the real broker and a real SMTP server; the
practice with its e-mail and Jan (complete, a strong password); web front ends in front of it
whose sealed session cookie the tests open with the web's key (:func:`session_of`)."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from services.web import session as sessions
from services.web.app import create_app
from services.web.settings import WebSettings
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, wait_for
from tests.support.mail import SmtpSink
from tests.support.practices import FAST
from tests.support.sdk import web_zone
from tests.support.story import JAN, JAN_PASSWORD, PRACTICE, PRACTICE_EMAIL, Story

WebClient = TestClient[Any, Any]
KEY = os.urandom(32)


@dataclass
class Site:
    story: Story
    auth: Zone
    zone: dict[str, str]
    admin_token: str
    webs: list[WebClient] = field(default_factory=list)

    async def web(self, **settings: Any) -> WebClient:
        """A web front end in front of the site's zone (closed with the site)."""
        key = base64.b64encode(KEY).decode()
        app = create_app(WebSettings(zones=[self.zone], session_key=key, **settings))
        client: WebClient = TestClient(TestServer(app))
        await client.start_server()
        self.webs.append(client)
        return client


Sites = Callable[..., Awaitable[Site]]


@pytest.fixture
async def sites(cluster: Cluster, smtp_sink: SmtpSink) -> AsyncIterator[Sites]:
    started: list[Site] = []

    async def start(two_factors: bool, **auth: Any) -> Site:
        site = await start_site(cluster, smtp_sink, two_factors, **auth)
        started.append(site)
        return site

    yield start
    for site in started:
        for web in site.webs:
            await web.close()


async def start_site(cluster: Cluster, smtp_sink: SmtpSink, two_factors: bool, **auth: Any) -> Site:
    """Auth (believing X-Forwarded-For from loopback, where the web is), enrolment and the
    notifier; the practice with its e-mail and Jan (complete, a strong password)."""
    proxies = ["127.0.0.0/8", "::1/128"]
    story, admin = await start_practice(cluster, smtp_sink, trusted_proxies=proxies, **FAST, **auth)
    await add_employee(story, admin, JAN, JAN_PASSWORD, temporary=False)
    if two_factors:
        await story.require_two_factors(admin)
    return Site(story, story.auth, web_zone(story.auth, story.enrolment), admin)


async def start_practice(cluster: Cluster, smtp_sink: SmtpSink, **auth: Any) -> tuple[Story, str]:
    """Zone a's auth (with ``auth``'s settings), enrolment and notifier, and the practice with
    its e-mail: the story, and the administrator's token (a password-only session)."""
    auth_zone = await cluster.start("a", **auth)
    enrolment = await cluster.start("a", "enrolment")
    await cluster.start("a", "notifier", smtp_port=smtp_sink.port)
    story = Story(cluster, auth_zone, enrolment, smtp_sink)
    await cluster.bootstrap(auth_zone, PRACTICE)
    _, answer = await story.login(auth_zone, PRACTICE, "admin", ADMIN_PASSWORD)
    admin = answer["token"]["token"]
    await story.practice_known(admin)
    path = f"/v1/practices/{PRACTICE}"
    status, body = await story.call(enrolment, "PUT", path, admin, email=PRACTICE_EMAIL)
    assert status == 200, body
    return story, admin


async def add_employee(
    story: Story, admin: str, person: dict[str, Any], password: str, temporary: bool
) -> None:
    """``person`` (``<username>01``) in enrolment's directory and, once auth knows them, with
    ``password`` set by the administrator."""
    employee = f"{person['username']}01"
    path = f"/v1/practices/{PRACTICE}/employees/{employee}"
    status, body = await story.call(story.enrolment, "PUT", path, admin, **person)
    assert status == 200, body

    async def known() -> bool:
        sql = "SELECT 1 FROM employees WHERE practice = $1 AND id = $2"
        return bool(await story.auth.auth.pool.fetchval(sql, PRACTICE, employee))

    await wait_for(known)
    status, body = await story.call(
        story.auth, "PUT", f"{path}/password", admin, password=password, temporary=temporary
    )
    assert status == 200, body


def session_of(web: WebClient) -> dict[str, Any]:
    """The web's session as the browser holds it, opened with the web's key."""
    morsel = web.session.cookie_jar.filter_cookies(web.make_url("/")).get(sessions.COOKIE)
    assert morsel is not None, "no session cookie"
    opened = sessions.unseal(KEY, morsel.value, time.time(), 3600, 3600)
    assert opened is not None
    return opened


async def post(web: WebClient, path: str, **form: str) -> ClientResponse:
    """A form the page at ``path`` posts, with the session's CSRF secret (as the page has it)."""
    return await web.post(path, data={**form, "csrf": session_of(web)["csrf"]})


async def log_in(web: WebClient, username: str, password: str, **headers: str) -> ClientResponse:
    """The login form posted (after a first visit, for the session and its CSRF secret)."""
    if not web.session.cookie_jar.filter_cookies(web.make_url("/")).get(sessions.COOKIE):
        await web.get("/login")
    return await web.post(
        "/login",
        data={
            "practice": PRACTICE,
            "username": username,
            "password": password,
            "csrf": session_of(web)["csrf"],
        },
        headers=headers,
    )
