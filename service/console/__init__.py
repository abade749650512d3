"""The web console at /console: server-rendered pages whose one script calls /api/v1."""
