"""A loopback Rocket.Chat that also holds messages: what the bot posts, edits and deletes is
recorded, and the fake builds the outgoing-webhook payloads Rocket.Chat would send.

On top of the accounts fake (`me`, `users.info`, `rooms.info`, roles) it serves
`chat.postMessage`, `chat.sendMessage`, `chat.update`, `chat.delete`, `chat.getMessage`,
`chat.getThreadMessages`, `channels|groups|im.members` and `channels|groups|im.history`, with the
documented shapes. `chat.update` refuses properties outside its schema (roomId, msgId, text,
previewUrls, customFields), as Rocket.Chat's AJV validation does.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from tests.service.accounts.fake_rocketchat import RcRoom, RocketChatFake
from tests.service.providers.fakes.base import Received, Reply

_UPDATE_FIELDS = {"roomId", "msgId", "text", "previewUrls", "customFields"}


def _failure(error: str) -> Reply:
    return 400, {"success": False, "error": error}


class ChatFake(RocketChatFake):
    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, dict[str, Any]] = {}
        self.may_delete_own = True
        self.editors: set[str] = set()
        # Faults of chat.sendMessage, in order: ("429", retry_after) or ("500-after-store", "").
        self.send_faults: list[tuple[str, str]] = []
        self._ids = itertools.count(1)

    def reset(self) -> None:
        super().reset()
        self.messages.clear()
        self.may_delete_own = True
        self.editors.clear()
        self.send_faults.clear()

    # -- what tests look at -------------------------------------------------------------------

    def by(self, user_id: str) -> list[dict[str, Any]]:
        """Live messages written by `user_id`, oldest first."""
        return [m for m in self.messages.values() if m["u"]["_id"] == user_id]

    def posted(self, endpoint: str) -> list[Any]:
        """Bodies our service sent to one endpoint, in order."""
        return [r.body for r in self.calls(endpoint)]

    # -- making Rocket.Chat "send" the webhook --------------------------------------------------

    def say(
        self,
        room_id: str,
        user_id: str,
        text: str,
        *,
        tmid: str | None = None,
        bot: dict[str, Any] | None = None,
        trigger_word: str | None = None,
    ) -> dict[str, Any]:
        """Store a message as Rocket.Chat would and return its outgoing-webhook payload."""
        message = self._store(room_id, user_id, text, tmid=tmid)
        if bot is not None:
            message["bot"] = bot
        return self.payload(message["_id"], trigger_word=trigger_word)

    def edit(self, msg_id: str, text: str) -> dict[str, Any]:
        message = self.messages[msg_id]
        message["msg"] = text
        message["editedAt"] = _now()
        message["editedBy"] = dict(message["u"])
        return self.payload(msg_id)

    def payload(self, msg_id: str, *, trigger_word: str | None = None) -> dict[str, Any]:
        """What triggerHandler's mapEventArgsToData builds for the "Message Sent" event."""
        message = self.messages[msg_id]
        room = self.rooms[message["rid"]]
        data: dict[str, Any] = {
            "token": "",
            "bot": message.get("bot", False),
            "channel_id": room.id,
            "channel_name": room.name,
            "message_id": message["_id"],
            "timestamp": message["ts"],
            "user_id": message["u"]["_id"],
            "user_name": message["u"]["username"],
            "text": message["msg"],
            "siteUrl": self.url,
        }
        if trigger_word:
            data["trigger_word"] = trigger_word
        if message.get("editedAt"):
            data["isEdited"] = True
        if message.get("tmid"):
            data["tmid"] = message["tmid"]
        return data

    def _store(
        self,
        room_id: str,
        user_id: str,
        text: str,
        *,
        tmid: str | None = None,
        attachments: list[Any] | None = None,
        msg_id: str | None = None,
    ) -> dict[str, Any]:
        user = self.users[user_id]
        message: dict[str, Any] = {
            "_id": msg_id or f"M{next(self._ids):05d}abcdefghijk",
            "rid": room_id,
            "msg": text,
            "ts": _now(),
            "u": {"_id": user.id, "username": user.username, "name": user.username.title()},
            "_updatedAt": _now(),
        }
        if tmid:
            message["tmid"] = tmid
        if attachments:
            message["attachments"] = attachments
        self.messages[message["_id"]] = message
        return message

    # -- the API -----------------------------------------------------------------------------

    def _room_of(self, room_id: Any) -> RcRoom | Reply:
        room = self.rooms.get(room_id) if isinstance(room_id, str) else None
        if room is None:
            return _failure("error-room-not-found")
        return room

    def _direct(self, caller_id: str, username: str) -> RcRoom | Reply:
        other = next((u for u in self.users.values() if u.username == username), None)
        if other is None:
            return _failure("error-invalid-channel")
        room_id = "".join(sorted([caller_id, other.id]))
        if room_id not in self.rooms:
            room = self.add_room(room_id, t="d")
            room.members |= {caller_id, other.id}
        return self.rooms[room_id]

    def post_message(self, req: Received) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        caller = self._caller(req)
        target = body.get("roomId") or body.get("channel")
        if isinstance(target, str) and target.startswith("@"):
            room = self._direct(caller.id, target[1:])
        elif isinstance(target, str) and target.startswith("#"):
            room = next((r for r in self.rooms.values() if r.name == target[1:]), None) or (
                _failure("error-invalid-channel")
            )
        else:
            room = self._room_of(target)
        if not isinstance(room, RcRoom):
            return room
        message = self._store(
            room.id, caller.id, str(body.get("text") or ""), attachments=body.get("attachments")
        )
        return 200, {"ts": 0, "channel": room.id, "message": message, "success": True}

    def send_message(self, req: Received) -> Reply:
        fault = self.send_faults.pop(0) if self.send_faults else None
        if fault is not None and fault[0] == "429":
            return (
                429,
                {  # type: ignore[return-value]
                    "success": False,
                    "error": "Error, too many requests. Please slow down. You must wait "
                    f"{fault[1]} seconds before trying this endpoint again. "
                    "[error-too-many-requests]",
                },
                {"Retry-After": fault[1]},
            )
        reply = self._send_message(req)
        if fault is not None and reply[0] == 200:
            # Stored, then the answer got lost: a retry must not post it twice.
            return 500, {"success": False, "error": "Internal server error"}
        return reply

    def _send_message(self, req: Received) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        message = body.get("message")
        if not isinstance(message, dict) or not message.get("rid"):
            return _failure("The 'rid' property on the message object is missing.")
        room = self._room_of(message["rid"])
        if not isinstance(room, RcRoom):
            return room
        if message.get("_id") in self.messages:
            return _failure("error-message-already-exists")
        tmid = message.get("tmid")
        if tmid is not None and tmid not in self.messages:
            return _failure("error-invalid-message")
        stored = self._store(
            room.id,
            self._caller(req).id,
            str(message.get("msg") or ""),
            tmid=tmid,
            attachments=message.get("attachments"),
            msg_id=message.get("_id"),
        )
        return 200, {"message": stored, "success": True}

    def update(self, req: Received) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        extra = set(body) - _UPDATE_FIELDS
        if extra:
            return 400, {
                "success": False,
                "error": "must NOT have additional properties [invalid-params]",
                "errorType": "invalid-params",
            }
        message = self.messages.get(body.get("msgId", ""))
        if message is None:
            return _failure(f'No message found with the id of "{body.get("msgId")}".')
        if body.get("roomId") != message["rid"]:
            return _failure("The room id provided does not match where the message is from.")
        caller = self._caller(req)
        if message["u"]["_id"] != caller.id and caller.id not in self.editors:
            return _failure("Not allowed [error-action-not-allowed]")
        message["msg"] = body.get("text", "")
        message["editedAt"] = _now()
        message["editedBy"] = {"_id": caller.id, "username": caller.username}
        return 200, {"message": message, "success": True}

    def delete(self, req: Received) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        message = self.messages.get(body.get("msgId", ""))
        if message is None:
            return _failure("No message found with the id of")
        caller = self._caller(req)
        if message["u"]["_id"] != caller.id or not self.may_delete_own:
            return _failure("Not allowed [error-action-not-allowed]")
        del self.messages[message["_id"]]
        return 200, {"_id": message["_id"], "ts": 0, "success": True}

    def get_message(self, req: Received) -> Reply:
        message = self.messages.get(req.query.get("msgId", ""))
        if message is None:
            return _failure("error-message-not-found")
        return 200, {"message": message, "success": True}

    def members(self, req: Received, kind: str) -> Reply:
        room = self._room_of(req.query.get("roomId"))
        if not isinstance(room, RcRoom):
            return room
        if room.t != kind:
            return _failure("error-room-not-found")
        offset, count = int(req.query.get("offset", 0)), int(req.query.get("count", 50))
        ids = sorted(room.members)
        page = [
            {"_id": uid, "username": self.users[uid].username, "status": "online"}
            for uid in ids[offset : offset + count]
            if uid in self.users
        ]
        return 200, {
            "members": page,
            "count": len(page),
            "offset": offset,
            "total": len(ids),
            "success": True,
        }

    def history(self, req: Received, kind: str) -> Reply:
        room = self._room_of(req.query.get("roomId"))
        if not isinstance(room, RcRoom):
            return room
        if room.t != kind:
            return _failure("error-room-not-found")
        count = int(req.query.get("count", 20))
        newest = [m for m in reversed(self.messages.values()) if m["rid"] == room.id]
        return 200, {"messages": newest[:count], "success": True}

    def thread(self, req: Received) -> Reply:
        tmid = req.query.get("tmid", "")
        if tmid not in self.messages:
            return _failure("error-invalid-message")
        count = int(req.query.get("count", 20))
        replies = [m for m in reversed(self.messages.values()) if m.get("tmid") == tmid]
        return 200, {"messages": replies[:count], "count": len(replies[:count]), "success": True}

    def routes(self) -> list[HTTPRouteHandler]:
        fake = self

        def route(method: Any, path: str, handle: Any) -> HTTPRouteHandler:
            async def handler(request: Request[Any, Any, Any]) -> Response[Any]:
                return await fake.dispatch(request, handle)

            handler.__name__ = "h_" + path.replace(".", "_").replace("/", "_")
            return method(path)(handler)  # type: ignore[no-any-return]

        extra = [
            route(post, "/api/v1/chat.postMessage", self.post_message),
            route(post, "/api/v1/chat.sendMessage", self.send_message),
            route(post, "/api/v1/chat.update", self.update),
            route(post, "/api/v1/chat.delete", self.delete),
            route(get, "/api/v1/chat.getMessage", self.get_message),
            route(get, "/api/v1/chat.getThreadMessages", self.thread),
        ]
        for kind, prefix in (("c", "channels"), ("p", "groups"), ("d", "im")):
            extra.append(
                route(get, f"/api/v1/{prefix}.members", lambda r, k=kind: fake.members(r, k))
            )
            extra.append(
                route(get, f"/api/v1/{prefix}.history", lambda r, k=kind: fake.history(r, k))
            )
        return [*super().routes(), *extra]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
