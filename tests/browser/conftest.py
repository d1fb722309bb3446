"""Browser tests: Debian's Chromium (headless, driven by Playwright) against `serverless-openclaw
dev` with the real OpenClaw and the offline model.

One dev stack (the shared `dev_stack`) and one Chromium per session. Every page gets a fresh
browser context (its own storage, so its own sign-in) and a console watch: a console error or
an uncaught exception on any screen fails the test. Every page also records what a person
would have seen change (the status banner, each reply's text) into `window.__soc`, because a
cold start or a streamed reply is over before a test could poll it.

Screenshots go to the test's tmp dir; with SOC_UPDATE_SCREENSHOTS=1 they also replace
docs/screenshots/<name>.png, which the README shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright
from playwright.async_api import expect as pw_expect

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# A cold start of the real OpenClaw takes ~20 s here; leave room for a busy machine.
COLD_START_S = 180
REPLY_S = 60

# Runs in every page before the app: keeps each WebSocket the page opens (so a test can kill
# it) and records every distinct state of the status banner and of each reply.
RECORDER = """
(() => {
  const soc = (window.__soc = { banner: [], replies: [], sockets: [] });
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      soc.sockets.push(this);
    }
  };
  let lastBanner = "";
  const lastReply = new Map();
  const snap = () => {
    const b = document.querySelector('[data-testid="status-banner"]');
    if (b) {
      const entry = {
        agent: b.dataset.agent,
        phase: b.dataset.phase ?? null,
        connection: b.dataset.connection,
        title: b.querySelector(".status-title")?.textContent ?? "",
        steps: [...b.querySelectorAll(".status-phases li")].map((li) => li.textContent),
      };
      const key = JSON.stringify(entry);
      if (key !== lastBanner) {
        lastBanner = key;
        soc.banner.push({ ...entry, t: Date.now() });
      }
    }
    for (const m of document.querySelectorAll('[data-testid="message"][data-role="assistant"]')) {
      const text = m.querySelector(".message-body")?.textContent ?? "";
      const key = `${m.dataset.status}|${text}`;
      if (lastReply.get(m.dataset.id) !== key) {
        lastReply.set(m.dataset.id, key);
        soc.replies.push({ id: m.dataset.id, status: m.dataset.status, text, t: Date.now() });
      }
    }
  };
  new MutationObserver(snap).observe(document, {
    subtree: true,
    childList: true,
    attributes: true,
    characterData: true,
  });
})();
"""


# --- console -------------------------------------------------------------------------------
class ConsoleWatch:
    """Console errors and uncaught exceptions of one page, except those explicitly allowed."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self._allowed: list[re.Pattern[str]] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "") if message.location else ""
        text = f"{message.text} [{where}]"
        if not any(pattern.search(text) for pattern in self._allowed):
            self.errors.append(text)

    @contextlib.contextmanager
    def allow(self, *patterns: str) -> Iterator[None]:
        """Errors Chromium itself logs while a test takes the server away on purpose."""
        compiled = [re.compile(p) for p in patterns]
        self._allowed.extend(compiled)
        try:
            yield
        finally:
            for pattern in compiled:
                self._allowed.remove(pattern)

    def check(self, where: str) -> None:
        assert not self.errors, f"console errors on {where}: {self.errors}"


# --- one page of the app -------------------------------------------------------------------
class App:
    """The chat page as a person uses it, plus what the recorder saw."""

    def __init__(self, page: Page, base_url: str, shots: Screenshots) -> None:
        self.page = page
        self.base_url = base_url
        self.console = ConsoleWatch(page)
        self._shots = shots
        self.cognito_requests: list[dict[str, Any]] = []
        page.on("request", self._on_request)

    def _on_request(self, request: Any) -> None:
        target = request.headers.get("x-amz-target", "")
        if target.startswith("AWSCognitoIdentityProviderService."):
            body = request.post_data or ""
            self.cognito_requests.append(
                {"target": target.rsplit(".", 1)[-1], "body": body, "url": request.url}
            )

    # locators
    def by(self, test_id: str) -> Any:
        return self.page.get_by_test_id(test_id)

    @property
    def banner(self) -> Any:
        return self.by("status-banner")

    @property
    def input(self) -> Any:
        return self.by("message-input")

    def messages(self, role: str | None = None) -> Any:
        selector = '[data-testid="message"]' + (f'[data-role="{role}"]' if role else "")
        return self.page.locator(selector)

    def reply_to(self, message_id: str) -> Any:
        """The reply to a user message (streamed under the message's id, stored as `<id>:r`)."""
        return self.page.locator(
            f'[data-testid="message"][data-role="assistant"][data-id="{message_id}"],'
            f'[data-testid="message"][data-role="assistant"][data-id="{message_id}:r"]'
        )

    # actions
    async def open(self, route: str = "") -> None:
        await self.page.goto(f"{self.base_url}/{route}")

    async def sign_in(self, user: Any) -> None:
        await self.open()
        await self.by("signin-username").fill(user.email)
        await self.by("signin-password").fill(user.password)
        await self.by("signin-submit").click()
        await pw_expect(self.input).to_be_visible(timeout=30_000)
        self.console.check("sign-in")

    async def send(self, text: str) -> str:
        """Type and click Send; returns the id the page gave the message."""
        before = await self.messages("user").count()
        await self.input.fill(text)
        await self.by("send-button").click()
        return await self.sent_id(before)

    async def sent_id(self, before: int) -> str:
        mine = self.messages("user").nth(before)
        await pw_expect(mine).to_be_visible()
        return str(await mine.get_attribute("data-id"))

    async def wait_reply(self, message_id: str, *, timeout_s: float = REPLY_S) -> str:
        reply = self.reply_to(message_id)
        await pw_expect(reply).to_have_attribute(
            "data-status", re.compile("done|aborted"), timeout=timeout_s * 1000
        )
        return str(await reply.locator(".message-body").inner_text())

    async def wait_agent(self, state: str, *, timeout_s: float = COLD_START_S) -> None:
        await pw_expect(self.banner).to_have_attribute(
            "data-agent", state, timeout=timeout_s * 1000
        )

    async def kill_sockets(self) -> int:
        """Close every open WebSocket of the page, as a dropped network would."""
        return int(
            await self.page.evaluate(
                """() => window.__soc.sockets
                     .filter((s) => s.readyState === WebSocket.OPEN)
                     .map((s) => s.close(4001, "killed by the test")).length"""
            )
        )

    async def banner_log(self) -> list[dict[str, Any]]:
        return list(await self.page.evaluate("() => window.__soc.banner"))

    async def reply_log(self, message_id: str) -> list[dict[str, Any]]:
        records = await self.page.evaluate("() => window.__soc.replies")
        return [r for r in records if r["id"] in (message_id, f"{message_id}:r")]

    async def screenshot(self, name: str) -> Path:
        self.console.check(f"screenshot {name}")
        return await self._shots.take(self.page, name)


class Screenshots:
    def __init__(self, directory: Path, publish: bool) -> None:
        self.directory = directory
        self.publish = publish
        self.taken: list[Path] = []

    async def take(self, page: Page, name: str) -> Path:
        # Let the last React commit paint before the picture.
        await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r(null)))")
        path = self.directory / f"{name}.png"
        await page.screenshot(path=str(path), animations="disabled", caret="hide")
        self.taken.append(path)
        if self.publish:
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / f"{name}.png")
        return path


# --- session fixtures ----------------------------------------------------------------------
def _newest(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


@pytest.fixture(scope="session")
def web_build() -> Path:
    """web/dist, rebuilt first when a source is newer (the dev stack serves it as it is)."""
    dist = WEB / "dist" / "index.html"
    generated = WEB / "src" / "generated" / "contracts.ts"  # rewritten by every `npm test`
    sources = [
        *(p for p in WEB.joinpath("src").rglob("*") if p != generated),
        WEB / "index.html",
        WEB / "package-lock.json",
        WEB / "vite.config.ts",
    ]
    if dist.exists() and dist.stat().st_mtime >= _newest(sources):
        return dist.parent
    if not (WEB / "node_modules").is_dir():
        pytest.fail("web/node_modules is missing: run scripts/bootstrap")
    with open(WEB / "node_modules" / ".soc-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not dist.exists() or dist.stat().st_mtime < _newest(sources):
            subprocess.run(["npm", "run", "--silent", "build"], cwd=WEB, check=True)
    return dist.parent


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap --browser")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    publish = os.environ.get("SOC_UPDATE_SCREENSHOTS", "") not in ("", "0")
    return Screenshots(tmp_path_factory.mktemp("screenshots"), publish)


@pytest.fixture
def stack(web_build: Path, dev_stack: Any) -> Iterator[Any]:
    """The shared dev stack; the offline model's script is reset after each test."""
    yield dev_stack
    dev_stack.offline_model().reset()


OpenApp = Callable[..., Awaitable[App]]


@pytest.fixture
async def open_app(browser: Browser, screenshots: Screenshots) -> AsyncIterator[OpenApp]:
    """`await open_app(stack, phone=False)`: a new context and page; console checked at the end."""
    contexts: list[BrowserContext] = []
    apps: list[App] = []

    async def open_(stack: Any, *, phone: bool = False) -> App:
        context = await browser.new_context(
            viewport=PHONE if phone else DESKTOP,
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
            locale="en-GB",
            timezone_id="UTC",
        )
        context.set_default_timeout(15_000)
        await context.add_init_script(RECORDER)
        contexts.append(context)
        app = App(await context.new_page(), stack.url, screenshots)
        apps.append(app)
        return app

    yield open_
    for context in contexts:
        await context.close()
    for app in apps:
        app.console.check("the last screen")


def _stop_agent(user: Any) -> None:
    with contextlib.suppress(httpx.HTTPError), user.http() as client:
        client.post("/api/agent/stop")


def new_user(stack: Any, name: str, **settings: Any) -> Any:
    """A user with a readable address (screenshots show it), unique on a shared stack."""
    email = f"{name}@example.com"
    if any(u.email == email for u in stack.users):
        email = f"{name}.{uuid.uuid4().hex[:6]}@example.com"
    user = stack.create_user(email=email)
    if settings:
        user.settings(**settings)
    return user


@pytest.fixture
def make_user(stack: Any) -> Iterator[Callable[..., Any]]:
    """`make_user("ada", wakeOnConnect=False)`; agents of these users are stopped afterwards."""
    made: list[Any] = []

    def make(name: str, **settings: Any) -> Any:
        user = new_user(stack, name, **settings)
        made.append(user)
        return user

    yield make
    for user in made:
        _stop_agent(user)


@pytest.fixture
def chat_user(web_build: Path, shared_person: Any) -> Any:
    """The chat tests' person: the worker's shared person (tests/conftest.py), so that one
    agent cold start serves these tests and the e2e tests beside them. Each test still signs
    in on a page of its own, and works in a conversation of its own."""
    return shared_person


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float, what: str, every_s: float = 0.5
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(every_s)


def history(user: Any, conversation: str = "main") -> list[tuple[str, str, bool]]:
    """(role, text, aborted) of the stored messages, as the REST API returns them."""
    return [(m["role"], m["text"], bool(m["aborted"])) for m in user.messages(conversation)]


def dumps(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, indent=1)[-3000:]
