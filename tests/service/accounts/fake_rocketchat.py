"""A loopback Rocket.Chat: `me`, `users.info`, `rooms.info`, `subscriptions.getOne`, room roles,
`logout`.

Shapes follow the REST API docs: successes carry `success: true`; a missing or wrong
`X-User-Id`/`X-Auth-Token` pair is `401 {"status": "error", "message": "You must be logged in to
do this."}`; unknown ids are `400 {"success": false, "error": "... [error-...]"}`. Faults
(429 with Retry-After, 5xx) are scripted with `enqueue`, as for the provider fakes.
`POST /api/v1/logout` removes the token it is called with from the user's login tokens, as
Rocket.Chat does (a personal access token included): that token is refused from then on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from tests.service.providers.fakes.base import Fake, Received, Reply

LOGIN_REQUIRED: Reply = (401, {"status": "error", "message": "You must be logged in to do this."})
LOGGED_OUT: Reply = (200, {"status": "success", "data": {"message": "You've been logged out!"}})


@dataclass
class RcUser:
    id: str
    username: str
    token: str
    roles: list[str] = field(default_factory=lambda: ["user"])
    language: str | None = None

    def doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "_id": self.id,
            "username": self.username,
            "name": self.username.title(),
            "type": "user",
            "status": "online",
            "active": True,
            "roles": list(self.roles),
            "utcOffset": 0,
        }
        if self.language:
            doc["language"] = self.language
        return doc


@dataclass
class RcRoom:
    id: str
    name: str
    t: str = "c"  # c: public channel, p: private group, d: direct message
    # user id -> room roles ("owner", "moderator", "leader")
    roles: dict[str, list[str]] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)


class RocketChatFake(Fake):
    def __init__(self) -> None:
        super().__init__()
        self.users: dict[str, RcUser] = {}
        self.rooms: dict[str, RcRoom] = {}
        self.logged_out: set[str] = set()

    def reset(self) -> None:
        super().reset()
        self.users.clear()
        self.rooms.clear()
        self.logged_out.clear()

    def is_live(self, user_id: str, token: str) -> bool:
        """Whether Rocket.Chat would accept this user id and token."""
        user = self.users.get(user_id)
        return user is not None and token == user.token and token not in self.logged_out

    def add_user(
        self, user_id: str, *, roles: list[str] | None = None, language: str | None = None
    ) -> RcUser:
        user = RcUser(
            id=user_id,
            username=user_id.lower(),
            token=f"tok-{user_id}-0123456789abcdef",
            roles=roles or ["user"],
            language=language,
        )
        self.users[user_id] = user
        return user

    def add_room(
        self, room_id: str, *, t: str = "c", roles: dict[str, list[str]] | None = None
    ) -> RcRoom:
        room = RcRoom(id=room_id, name=room_id.lower(), t=t, roles=roles or {})
        room.members |= set(room.roles)
        self.rooms[room_id] = room
        return room

    def calls(self, endpoint: str) -> list[Received]:
        return self.requests_to(f"/api/v1/{endpoint}")

    # -- the API -----------------------------------------------------------------------------

    def check(self, req: Received) -> Reply | None:
        if not self.is_live(req.headers.get("x-user-id", ""), req.headers.get("x-auth-token", "")):
            return LOGIN_REQUIRED
        return None

    def _caller(self, req: Received) -> RcUser:
        return self.users[req.headers["x-user-id"]]

    def me(self, req: Received) -> Reply:
        return 200, {**self._caller(req).doc(), "success": True}

    def logout(self, req: Received) -> Reply:
        self.logged_out.add(req.headers["x-auth-token"])
        return LOGGED_OUT

    def users_info(self, req: Received) -> Reply:
        user_id = req.query.get("userId")
        if not user_id:
            return 400, {
                "success": False,
                "error": 'The required "userId" or "username" param was not provided '
                "[error-user-param-not-provided]",
            }
        user = self.users.get(user_id)
        if user is None:
            return 400, {"success": False, "error": "User not found. [error-invalid-user]"}
        return 200, {"user": user.doc(), "success": True}

    def _room(self, req: Received) -> RcRoom | Reply:
        room = self.rooms.get(req.query.get("roomId", ""))
        if room is None:
            return 400, {
                "success": False,
                "error": 'The required "roomId" or "roomName" param provided does not match any '
                "channel [error-room-not-found]",
            }
        return room

    def rooms_info(self, req: Received) -> Reply:
        room = self._room(req)
        if not isinstance(room, RcRoom):
            return room
        return 200, {
            "room": {"_id": room.id, "name": room.name, "fname": room.name, "t": room.t},
            "success": True,
        }

    def subscriptions_get_one(self, req: Received) -> Reply:
        room = self._room(req)
        if not isinstance(room, RcRoom):
            return room
        caller = self._caller(req)
        if caller.id not in room.members:
            return 200, {"subscription": None, "success": True}
        return 200, {
            "subscription": {
                "_id": f"sub-{room.id}-{caller.id}",
                "rid": room.id,
                "name": room.name,
                "t": room.t,
                "u": {"_id": caller.id, "username": caller.username},
                "roles": room.roles.get(caller.id, []),
                "open": True,
                "alert": False,
                "unread": 0,
            },
            "success": True,
        }

    def room_roles(self, req: Received, kind: str) -> Reply:
        room = self._room(req)
        if not isinstance(room, RcRoom):
            return room
        if room.t != kind:
            return 400, {"success": False, "error": "error-room-not-found"}
        return 200, {
            "roles": [
                {
                    "_id": f"r-{room.id}-{uid}",
                    "rid": room.id,
                    "u": {
                        "_id": uid,
                        "username": self.users[uid].username if uid in self.users else uid,
                    },
                    "roles": roles,
                }
                for uid, roles in room.roles.items()
                if roles
            ],
            "success": True,
        }

    def routes(self) -> list[HTTPRouteHandler]:
        fake = self

        @get("/api/v1/me")
        async def me(request: Request[Any, Any, Any]) -> Response[Any]:
            return await fake.dispatch(request, fake.me)

        @get("/api/v1/users.info")
        async def users_info(request: Request[Any, Any, Any]) -> Response[Any]:
            return await fake.dispatch(request, fake.users_info)

        @get("/api/v1/rooms.info")
        async def rooms_info(request: Request[Any, Any, Any]) -> Response[Any]:
            return await fake.dispatch(request, fake.rooms_info)

        @get("/api/v1/subscriptions.getOne")
        async def subscriptions_get_one(request: Request[Any, Any, Any]) -> Response[Any]:
            return await fake.dispatch(request, fake.subscriptions_get_one)

        @get("/api/v1/channels.roles")
        async def channels_roles(request: Request[Any, Any, Any]) -> Response[Any]:
            return await fake.dispatch(request, lambda r: fake.room_roles(r, "c"))

        @get("/api/v1/groups.roles")
        async def groups_roles(request: Request[Any, Any, Any]) -> Response[Any]:
            return await fake.dispatch(request, lambda r: fake.room_roles(r, "p"))

        @post("/api/v1/logout", status_code=200)
        async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
            return await fake.dispatch(request, fake.logout)

        return [
            me,
            users_info,
            rooms_info,
            subscriptions_get_one,
            channels_roles,
            groups_roles,
            logout,
        ]
