"""The outgoing-webhook bot: authenticate the hook, filter, and translate in the background.

The webhook answers at once (an empty 200: Rocket.Chat posts nothing); detection, translation
and delivery run in tracked tasks that are drained at shutdown. Per message, work is serialised,
so an edit arriving while the first translation is still in flight waits for it and replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from service.accounts import channels, preferences, workspaces
from service.accounts.channels import ChannelView
from service.accounts.roles import ChatUnavailable
from service.admission.translator import Admission, allows
from service.chat import commands, delivery
from service.chat.audience import Audience, Room
from service.chat.delivery import Courier, Rendered
from service.chat.health import HealthBoard
from service.chat.hook import ChatDeps, Hook
from service.chat.payload import OutgoingMessage
from service.chat.store import Delivery, DeliveryStore, digest
from service.db.models import WorkspaceSettings
from service.db.role import unless_read_only
from service.errors import Forbidden, RateLimited, ServiceError
from service.rocketchat import (
    RocketChatClient,
    RocketChatError,
    RocketChatForbidden,
    RocketChatNotFound,
    RocketChatUnauthorized,
)
from service.translation import languages
from service.translation.engine import (
    UNDETERMINED,
    Caller,
    Outcome,
)
from service.translation.providers.base import ContextMessage

log = logging.getLogger(__name__)

# A detection this sure updates the author's recent language (the prior for short messages).
CONFIDENT = 0.8
UNAUTHORIZED_HINT = (
    "Rocket.Chat rejected the bot's user id / personal access token (401): create a new "
    "personal access token for the bot user and set it with "
    "PUT /api/v1/workspaces/current/settings"
)


class ChatBot:
    def __init__(self, deps: ChatDeps) -> None:
        chat = deps.settings.chat
        self.deps = deps
        self.health = HealthBoard()
        self.store = DeliveryStore(deps.sessions)
        self.audience = Audience(deps.sessions, ttl=chat.chat_members_cache_seconds)
        self.courier = Courier(
            attempts=chat.chat_delivery_attempts, backoff=chat.chat_delivery_backoff_seconds
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[tuple[uuid.UUID, str], tuple[asyncio.Lock, int]] = {}
        self._closing = False

    # -- the request path ----------------------------------------------------------------------

    async def authenticate(self, token: str) -> Hook:
        """The workspace whose stored webhook-token digest matches, compared in constant time."""
        presented = workspaces.webhook_digest(token) if token else ""
        async with self.deps.sessions() as session:
            row = (
                await session.execute(
                    sa.select(
                        WorkspaceSettings.workspace_id,
                        WorkspaceSettings.webhook_token_hash,
                        WorkspaceSettings.rocketchat_bot_user_id,
                    ).where(WorkspaceSettings.webhook_token_hash == presented)
                )
            ).first()
            if row is None or not await workspaces.check_webhook_token(session, row[0], token):
                raise Forbidden(
                    "the webhook token is not the token of any workspace: paste the token from "
                    "POST /api/v1/workspaces/current/webhook-token into the integration",
                    code="invalid_webhook_token",
                )
        return Hook(workspace_id=row[0], bot_user_id=row[2])

    async def accept(self, message: OutgoingMessage) -> str:
        """Check and queue one webhook call; returns what was decided (for logs and tests)."""
        hook = await self.authenticate(message.token)
        channels.check_channel_id(message.channel_id)
        if message.bot or (hook.bot_user_id is not None and message.user_id == hook.bot_user_id):
            return "ignored: a bot's message"
        command = commands.parse(message.text)
        if command is not None:
            self.spawn(
                commands.run(self, hook, message, command), f"chat-command-{message.message_id}"
            )
            return "command"
        if not message.text.strip():
            return "ignored: no text"
        limit = self.deps.settings.limits.max_text_chars
        if len(message.text) > limit:
            # The API's limit holds for the bot too: no provider call, no post of that size.
            self.health.problem(
                hook.workspace_id,
                "text_too_long",
                f"message {message.message_id} not translated: {len(message.text)} characters, "
                f"the limit is {limit} (UTP_MAX_TEXT_CHARS)",
            )
            return "ignored: too long"
        async with self.deps.sessions() as session:
            channel = await channels.read(session, hook.workspace_id, message.channel_id)
        if not channel.enabled:
            return "ignored: translation is off in this channel"
        if message.is_edited:
            earlier = await self.store.get(hook.workspace_id, message.message_id)
            if earlier is not None and earlier.written_digest == digest(message.text):
                # Attachment mode: the text the bot wrote; thread mode: the text it translated
                # last (an edit payload replayed, or sent again, is not translated twice).
                if earlier.mode == "attachment":
                    return "ignored: the bot's own edit"
                return "ignored: already translated"
        self.spawn(self._translate(hook, message, channel), f"chat-translate-{message.message_id}")
        return "queued"

    # -- background work -----------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(self._guarded(work), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("chat bot task failed")

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def idle(self) -> None:
        """Wait until nothing is in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        self._closing = True
        grace = self.deps.settings.chat.chat_shutdown_grace_seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), grace)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @contextlib.asynccontextmanager
    async def _serial(self, key: tuple[uuid.UUID, str]) -> Any:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def client(self, workspace_id: uuid.UUID) -> RocketChatClient | None:
        """The workspace's bot client, or None (and a health note) when it cannot be built."""
        try:
            bot = await self.deps.identity.roles.bot(workspace_id)
        except ChatUnavailable as exc:
            self.health.problem(workspace_id, exc.code, exc.message)
            return None
        if bot is None:
            self.health.problem(
                workspace_id,
                "rocketchat_not_configured",
                "set the workspace's Rocket.Chat URL, bot user id and bot token "
                "(PUT /api/v1/workspaces/current/settings)",
            )
        return bot

    def rocketchat_failed(self, workspace_id: uuid.UUID, exc: RocketChatError) -> None:
        if isinstance(exc, RocketChatUnauthorized):
            self.health.problem(workspace_id, "rocketchat_bot_unauthorized", UNAUTHORIZED_HINT)
        elif isinstance(exc, RocketChatForbidden):
            self.health.problem(
                workspace_id,
                "rocketchat_bot_forbidden",
                f"{exc} ({exc.error or 'no detail'}): check the bot's roles and permissions",
            )
        else:
            self.health.problem(workspace_id, "rocketchat_unavailable", str(exc))
        log.warning("Rocket.Chat call failed for workspace %s: %s", workspace_id, exc)

    async def _translate(self, hook: Hook, message: OutgoingMessage, channel: ChannelView) -> None:
        ws = hook.workspace_id
        async with self._serial((ws, message.message_id)):
            client = await self.client(ws)
            if client is None:
                return
            try:
                await self._translate_and_deliver(client, hook, message, channel)
            except RocketChatError as exc:
                self.rocketchat_failed(ws, exc)

    async def detect(self, workspace_id: uuid.UUID, author: str, text: str) -> tuple[str, float]:
        caller = Caller(workspace_id=workspace_id, user_id=author)
        result = await self.deps.translator.detect(caller, text)
        return result.language, result.confidence

    async def _translate_and_deliver(
        self,
        client: RocketChatClient,
        hook: Hook,
        message: OutgoingMessage,
        channel: ChannelView,
    ) -> None:
        ws = hook.workspace_id
        earlier = await self.store.get(ws, message.message_id)
        if earlier is not None and not message.is_edited:
            return  # the same message delivered twice (Rocket.Chat retried the webhook)
        text = delivery.strip_inline(message.text) if message.is_edited else message.text
        await self._remember_author(ws, message)
        source, confidence = await self.detect(ws, message.user_id, text)
        if source != UNDETERMINED and confidence >= CONFIDENT:
            await self.deps.priors.remember_author_language(ws, message.user_id, source)
        room = await self.audience.room(client, ws, message.channel_id)
        targets = (
            []
            if source == UNDETERMINED
            else select_targets(room, source, channel, exclude={message.user_id, hook.bot_user_id})
        )
        if not targets:
            if earlier is not None:
                await self._withdraw(client, ws, message, earlier)
            return
        caller = Caller(workspace_id=ws, user_id=message.user_id, channel_id=message.channel_id)
        try:
            # Each language the message goes into is one translation against the rate limits.
            admission = await self.deps.translator.admit(caller, cost=len(targets))
        except RateLimited as exc:
            self.health.problem(ws, exc.code, f"translation skipped: {exc.message}")
            return
        context = (
            await self._context(client, hook, message, room) if channel.context_enabled else ()
        )
        rendered = await self._translations(admission, text, source, targets, context)
        if not rendered:
            return
        if channel.delivery_mode == "attachment":
            await self._deliver_inline(client, ws, message, text, rendered)
        else:
            await self._deliver_thread(client, ws, message, rendered, earlier)
        self.health.delivered(ws)

    async def _remember_author(self, workspace_id: uuid.UUID, message: OutgoingMessage) -> None:
        with unless_read_only("the author's user row"):
            async with self.deps.sessions.begin() as session:
                await preferences.upsert_user(
                    session,
                    workspace_id,
                    message.user_id,
                    username=message.user_name,
                    rocketchat_language=None,
                )

    async def _context(
        self, client: RocketChatClient, hook: Hook, message: OutgoingMessage, room: Room
    ) -> tuple[ContextMessage, ...]:
        settings = self.deps.settings
        wanted = min(settings.chat.chat_context_messages, settings.limits.max_context_messages)
        if wanted <= 0:
            return ()
        try:
            if message.tmid:
                recent = await client.thread_messages(message.tmid, count=wanted + 5)
            else:
                recent = await client.room_history(room.id, room.type, count=wanted + 5)
        except RocketChatError as exc:
            log.info("no context for a message (%s)", exc)
            return ()
        ids = [m.get("_id") for m in recent]
        if message.message_id in ids:
            # Newest first: only what was written before this message is context.
            recent = recent[ids.index(message.message_id) + 1 :]
        picked: list[ContextMessage] = []
        for m in recent:
            user = m.get("u")
            author: dict[str, Any] = user if isinstance(user, dict) else {}
            text = m.get("msg")
            if (
                not isinstance(text, str)
                or not text.strip()
                or m.get("t")
                or m.get("bot")
                or author.get("_id") == hook.bot_user_id
            ):
                continue
            name = author.get("username")
            picked.append(
                ContextMessage(
                    text=delivery.strip_inline(text),
                    author=name if isinstance(name, str) else None,
                )
            )
            if len(picked) == wanted:
                break
        return tuple(reversed(picked))

    async def _translations(
        self,
        admission: Admission,
        text: str,
        source: str,
        targets: list[str],
        context: tuple[ContextMessage, ...],
    ) -> list[Rendered]:
        workspace_id = admission.caller.workspace_id
        base = await admission.options(target=targets[0], source=source, context=context)

        async def one(target: str) -> Outcome:
            [outcome] = await admission.translate([text], replace(base, target=target))
            return outcome

        results = await asyncio.gather(*(one(t) for t in targets), return_exceptions=True)
        rendered: list[Rendered] = []
        for target, result in zip(targets, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, ServiceError):
                    raise result
                problem = result.message
            elif result.error is not None:
                problem = result.error.message
            elif result.untranslated:
                problem = "no provider kept the message's markup intact"
            else:
                rendered.append(Rendered(language=target, text=result.text))
                continue
            self.health.problem(workspace_id, "translation_failed", f"{target}: {problem}")
        return rendered

    async def _deliver_thread(
        self,
        client: RocketChatClient,
        workspace_id: uuid.UUID,
        message: OutgoingMessage,
        rendered: list[Rendered],
        earlier: Delivery | None,
    ) -> None:
        reply_id = await self.courier.send_reply(
            client,
            message.channel_id,
            tmid=message.tmid or message.message_id,
            translations=rendered,
        )
        await self.store.save(
            workspace_id,
            message.message_id,
            room_id=message.channel_id,
            mode="thread",
            reply_id=reply_id,
            written_digest=digest(message.text),
            languages=[r.language for r in rendered],
        )
        if earlier is not None:
            await self._withdraw(client, workspace_id, message, earlier, keep_record=True)

    async def _deliver_inline(
        self,
        client: RocketChatClient,
        workspace_id: uuid.UUID,
        message: OutgoingMessage,
        text: str,
        rendered: list[Rendered],
    ) -> None:
        updated = delivery.with_inline(text, rendered)
        # Recorded first: Rocket.Chat may call the webhook with this edit before it answers.
        await self.store.save(
            workspace_id,
            message.message_id,
            room_id=message.channel_id,
            mode="attachment",
            written_digest=digest(updated),
            languages=[r.language for r in rendered],
        )
        await self.courier.call(
            lambda: client.update_message(message.channel_id, message.message_id, updated)
        )

    async def _withdraw(
        self,
        client: RocketChatClient,
        workspace_id: uuid.UUID,
        message: OutgoingMessage,
        earlier: Delivery,
        *,
        keep_record: bool = False,
    ) -> None:
        """Remove an earlier translation that a newer one replaced (or that no one needs now)."""
        try:
            if earlier.mode == "thread" and earlier.reply_id:
                reply_id = earlier.reply_id
                await self.courier.call(lambda: client.delete_message(earlier.room_id, reply_id))
            elif earlier.mode == "attachment" and not keep_record:
                plain = delivery.strip_inline(message.text)
                if plain != message.text:
                    await self.store.save(
                        workspace_id,
                        message.message_id,
                        room_id=message.channel_id,
                        mode="attachment",
                        written_digest=digest(plain),
                    )
                    await self.courier.call(
                        lambda: client.update_message(message.channel_id, message.message_id, plain)
                    )
                    return
        except RocketChatNotFound:
            pass
        except RocketChatError as exc:
            self.health.problem(
                workspace_id,
                "rocketchat_cannot_replace",
                f"the earlier translation could not be removed ({exc}): give the bot's role "
                "the delete-own-message permission",
            )
            return
        if not keep_record:
            await self.store.forget(workspace_id, message.message_id)


def select_targets(
    room: Room, source: str, channel: ChannelView, *, exclude: set[str | None]
) -> list[str]:
    """The distinct languages the room's other members read, minus the source's, filtered by
    the channel's allowed and blocked lists; ordered by language name."""
    targets: dict[str, None] = {}
    for uid, language in sorted(room.readers.items()):
        if uid in exclude:
            continue
        code = languages.normalize(language)
        if code is None or languages.same_language(source, code):
            continue
        if not allows(channel, code):
            continue
        targets[code] = None
    return sorted(targets, key=lambda code: (languages.name(code), code))
