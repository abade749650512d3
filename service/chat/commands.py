"""Chat commands through the webhook's trigger words, answered privately.

`!lang` shows my language, `!lang <code>` sets it, `!translate on|off` switches the channel
(its owners and moderators, or Rocket.Chat admins), `!translate <code> <text>` translates once.
Rocket.Chat's REST API has no ephemeral messages, so answers go to the author as a direct message
from the bot (`chat.postMessage` to `@username`); only when that fails do they go into a thread
under the command.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

from service.accounts import audit, channels, preferences
from service.accounts.identity import USER_SCOPES
from service.accounts.keys import Principal
from service.chat.audience import profile_language
from service.chat.hook import Bot, Hook
from service.chat.payload import OutgoingMessage
from service.db.role import read_only_region, refuses_writes
from service.errors import ServiceError
from service.rocketchat import RocketChatClient, RocketChatError, RocketChatUnauthorized
from service.translation import languages
from service.translation.engine import UNDETERMINED, Caller

NAMES = ("!lang", "!translate")
USAGE = (
    "Commands: `!lang` shows your language, `!lang <code>` sets it (e.g. `!lang es`), "
    "`!translate on|off` switches translation in this channel (channel owners and moderators), "
    "`!translate <code> <text>` translates a text once."
)


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # "lang" | "translate"
    args: str  # the rest of the message, stripped


def parse(text: str) -> Command | None:
    head, _, rest = text.strip().partition(" ")
    word = head.lower()
    if word not in NAMES:
        return None
    return Command(name=word[1:], args=rest.strip())


async def run(bot: Bot, hook: Hook, message: OutgoingMessage, command: Command) -> None:
    client = await bot.client(hook.workspace_id)
    if client is None:
        return
    try:
        answer = await _answer(bot, client, hook, message, command)
    except ServiceError as exc:
        answer = f"⚠️ {exc.message}"
    except DBAPIError as exc:
        if not refuses_writes(exc):
            raise
        answer = f"⚠️ {read_only_region('Changing settings').message}"
    try:
        await _reply(bot, client, message, answer)
    except RocketChatError as exc:
        bot.rocketchat_failed(hook.workspace_id, exc)


async def _reply(bot: Bot, client: RocketChatClient, message: OutgoingMessage, text: str) -> None:
    if message.user_name:
        try:
            await bot.courier.call(
                lambda: client.post_message(channel=f"@{message.user_name}", text=text)
            )
            return
        except RocketChatUnauthorized:
            raise
        except RocketChatError:
            pass  # no direct messages for the bot here: answer in a thread instead
    await bot.courier.call(
        lambda: client.send_message(
            message.channel_id, text, tmid=message.tmid or message.message_id
        )
    )


async def _answer(
    bot: Bot,
    client: RocketChatClient,
    hook: Hook,
    message: OutgoingMessage,
    command: Command,
) -> str:
    if command.name == "lang":
        return await _lang(bot, client, hook, message, command.args)
    word, _, rest = command.args.partition(" ")
    if word.lower() in ("on", "off") and not rest.strip():
        return await _toggle(bot, hook, message, word.lower() == "on")
    if word and rest.strip():
        return await _one_off(bot, hook, message, word, rest.strip())
    return USAGE


async def _lang(
    bot: Bot, client: RocketChatClient, hook: Hook, message: OutgoingMessage, args: str
) -> str:
    ws = hook.workspace_id
    sessions = bot.deps.sessions
    async with sessions.begin() as session:
        user = await preferences.upsert_user(
            session, ws, message.user_id, username=message.user_name, rocketchat_language=None
        )
        profile_known = user.rocketchat_language is not None
    if not profile_known:
        try:
            language = profile_language(await client.user_info(message.user_id))
        except RocketChatError:
            language = None
        if language is not None:
            async with sessions.begin() as session:
                await preferences.upsert_user(
                    session, ws, message.user_id, username=None, rocketchat_language=language
                )
    if not args:
        async with sessions() as session:
            current = await preferences.read(session, ws, message.user_id)
        origin = {
            "preference": "you chose it",
            "rocketchat": "from your Rocket.Chat profile",
            "default": "the default",
        }[current.target_lang_source]
        return (
            f"Your language is {languages.name(current.target_lang)} "
            f"(`{current.target_lang}`, {origin}). Change it with `!lang <code>`."
        )
    code = args.split()[0]
    if languages.normalize(code) is None:
        return f"⚠️ `{code}` is not a language code I know: try `es`, `pt-BR` or `zh-Hans`."
    async with sessions.begin() as session:
        updated = await preferences.update(
            session,
            ws,
            message.user_id,
            {"target_lang": code},
            actor=f"user:{message.user_id}",
        )
    bot.audience.forget(ws)
    return (
        f"Your language is now {languages.name(updated.target_lang)} "
        f"(`{updated.target_lang}`): messages in this workspace are translated into it for you."
    )


async def _toggle(bot: Bot, hook: Hook, message: OutgoingMessage, on: bool) -> str:
    ws = hook.workspace_id
    principal = Principal(
        workspace_id=ws, api_key_id=None, scopes=USER_SCOPES, user_id=message.user_id
    )
    await bot.deps.identity.roles.require_channel_admin(principal, message.channel_id)
    async with bot.deps.sessions.begin() as session:
        await channels.update(
            session,
            ws,
            message.channel_id,
            {"enabled": on},
            actor=audit.actor_of(principal),
        )
    where = f"#{message.channel_name}" if message.channel_name else "this room"
    return f"Translation is now {'on' if on else 'off'} in {where}."


async def _one_off(bot: Bot, hook: Hook, message: OutgoingMessage, code: str, text: str) -> str:
    target = languages.require(code, "language")
    limit = bot.deps.settings.limits.max_text_chars
    if len(text) > limit:
        return f"⚠️ That text has {len(text)} characters; the limit is {limit}."
    caller = Caller(
        workspace_id=hook.workspace_id, user_id=message.user_id, channel_id=message.channel_id
    )
    # Rate limits, the soft budget limit, the channel's settings and the budget: as the API.
    admission = await bot.deps.translator.admit(caller)
    admission.check(target)
    detected = await bot.deps.translator.detect(caller, text)
    if detected.language == UNDETERMINED or languages.same_language(detected.language, target):
        return f"🌍 {languages.name(target)}: {text}"
    options = await admission.options(target=target, source=detected.language)
    [outcome] = await admission.translate([text], options)
    if outcome.error is not None:
        raise outcome.error
    return f"🌍 {languages.name(target)}: {outcome.text}"
