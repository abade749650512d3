"""The console's HTML: one layout, a sign-in page and a shell per page that the script fills.

Every value that is not a literal of this file goes through `escape`. The pages hold forms and
empty containers only; the data comes from /api/v1, fetched by console.js with the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

TITLE = "Universal Translator Pro"


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    body: str


def _field(label: str, control: str, hint: str = "") -> str:
    hint_html = f'<span class="hint">{hint}</span>' if hint else ""
    return f"<label>{label}{control}{hint_html}</label>"


def _input(name: str, **attrs: str) -> str:
    more = "".join(f' {key.replace("_", "-")}="{escape(value)}"' for key, value in attrs.items())
    return f'<input name="{name}"{more}>'


def _secret(name: str) -> str:
    return _input(name, type="password", autocomplete="off")


def _check(name: str, text: str, *, value: str = "on", checked: bool = False) -> str:
    mark = " checked" if checked else ""
    return (
        f'<label class="inline"><input type="checkbox" name="{name}" value="{value}"{mark}> '
        f"{text}</label>"
    )


def _usage(today: date) -> str:
    first = today.replace(day=1)
    return f"""
<form id="usage-range" class="row">
  {_field("From", f'<input type="date" name="from" value="{first.isoformat()}" required>')}
  {_field("To", f'<input type="date" name="to" value="{today.isoformat()}" required>')}
  <button type="submit">Show</button>
  <button type="button" id="usage-csv">Download CSV</button>
</form>
<section aria-labelledby="h-budget"><h2 id="h-budget">Budget</h2>
  <div id="usage-budget"><p>Loading…</p></div></section>
<section aria-labelledby="h-time"><h2 id="h-time">Over time</h2>
  <div class="charts" id="usage-charts"></div></section>
<section aria-labelledby="h-by"><h2 id="h-by">Breakdown</h2>
  <div class="charts" id="usage-breakdown"></div></section>
"""


_TRY = f"""
<form id="try-form">
  {_field("Message", '<textarea name="text" rows="4" required maxlength="5000"></textarea>')}
  <div class="row">
    {_field("Translate into", '<input name="target_lang" value="es" required size="8">')}
    {_field("From", '<input name="source_lang" placeholder="auto" size="8">')}
    {_field("Channel id", '<input name="channel_id" size="20">', "its glossary applies")}
  </div>
  <button type="submit">Translate</button>
</form>
<section aria-labelledby="h-result" id="try-result" hidden><h2 id="h-result">Result</h2>
  <dl class="facts" id="try-facts"></dl></section>
"""

_KEYS = f"""
<form id="key-form">
  <div class="row">
    {_field("Name", '<input name="name" required maxlength="200">')}
    {_field("Expires in (days)", _input("expires_in_days", type="number", min="1"), "empty: never")}
  </div>
  <fieldset><legend>Scopes</legend>
    {_check("scopes", "translate", value="translate", checked=True)}
    {_check("scopes", "read:usage", value="read:usage")}
    {_check("scopes", "admin", value="admin")}
  </fieldset>
  <button type="submit">Create key</button>
</form>
<div id="key-new" class="notice" hidden tabindex="-1"><p>The new key, shown only now: copy it.</p>
  <p><code id="key-value"></code></p></div>
<table id="keys"><caption>API keys of this workspace</caption><thead><tr><th scope="col">Name</th>
<th scope="col">Prefix</th><th scope="col">Scopes</th><th scope="col">Expires</th>
<th scope="col">Last used</th><th scope="col">Status</th><th scope="col">Action</th></tr></thead>
<tbody></tbody></table>
"""

_BUDGETS = f"""
<form id="budget-form">
  <div class="row">
    {
    _field(
        "Scope",
        '<select name="scope"><option value="workspace">workspace</option>'
        '<option value="channel">channel</option><option value="user">user</option></select>',
    )
}
    {_field("Channel or user id", '<input name="subject">', "empty for the workspace")}
    {
    _field(
        "Monthly limit (USD)",
        '<input name="monthly_limit" type="number" min="0" step="0.01" required>',
    )
}
    {
    _field(
        "Soft limit ratio",
        '<input name="soft_limit_ratio" type="number" min="0" max="1" step="0.05" value="0.8">',
    )
}
  </div>
  <button type="submit">Save budget</button>
</form>
<table id="budgets"><caption>Budgets this month</caption><thead><tr><th scope="col">Scope</th>
<th scope="col">Subject</th><th scope="col">Limit</th><th scope="col">Soft at</th>
<th scope="col">Spent</th><th scope="col">Status</th><th scope="col">Action</th></tr></thead>
<tbody></tbody></table>
"""

_AUDIT = """
<table id="audit"><caption>Configuration changes, newest first</caption><thead><tr>
<th scope="col">When (UTC)</th><th scope="col">Actor</th><th scope="col">Action</th>
<th scope="col">Target</th></tr></thead><tbody></tbody></table>
<button type="button" id="audit-more" hidden>Older entries</button>
"""

# The Glossary select holds only "none" here: console.js adds the workspace's glossaries
# (GET /api/v1/glossaries) when a channel is opened.
_CHANNELS = f"""
<form id="channel-find" class="row">
  {_field("Rocket.Chat room id", '<input name="channel_id" required maxlength="64">')}
  <button type="submit">Open</button>
</form>
<form id="channel-form" hidden>
  <h2 id="channel-title">Channel</h2>
  {_check("enabled", "Translation enabled")}
  {_check("context_enabled", "Use conversation context")}
  <div class="row">
    {_field("Allowed languages", '<input name="allowed_langs">', "comma separated; empty: all")}
    {_field("Blocked languages", '<input name="blocked_langs">', "comma separated")}
    {
    _field(
        "Max cost per message (USD)",
        '<input name="max_cost_per_message" type="number" min="0" step="0.0001">',
    )
}
    {
    _field(
        "Delivery",
        '<select name="delivery_mode"><option value="thread">thread</option>'
        '<option value="attachment">attachment</option></select>',
    )
}
    {
    _field(
        "Formality",
        '<select name="formality"><option value="">no preference</option>'
        '<option value="more">more formal</option><option value="less">less formal</option>'
        '<option value="default">engine default</option></select>',
        "formal or informal address where the language has one, unless a request sets its "
        "own; only DeepL and the LLMs (OpenAI, Anthropic) use it",
    )
}
    {
    _field(
        "Glossary",
        '<select name="glossary_id"><option value="">none</option></select>',
        "its terms also apply to this channel's translations, over workspace-wide terms; "
        "workspace-wide glossaries and this channel's own apply anyway",
    )
}
  </div>
  <button type="submit">Save channel</button>
</form>
"""

_GLOSSARIES = f"""
<form id="glossary-create" class="row">
  {_field("New glossary name", '<input name="name" required maxlength="200">')}
  {_field("Channel id", '<input name="channel_id">', "empty: whole workspace")}
  <button type="submit">Create</button>
</form>
<table id="glossaries"><caption>Glossaries</caption><thead><tr><th scope="col">Name</th>
<th scope="col">Channel</th><th scope="col">Terms</th><th scope="col">Action</th></tr></thead>
<tbody></tbody></table>
<section id="glossary-edit" hidden aria-labelledby="glossary-title">
  <h2 id="glossary-title">Terms</h2>
  <form id="glossary-terms">
    <table id="terms"><caption>Terms (empty target: do not translate)</caption><thead><tr>
    <th scope="col">Source language</th><th scope="col">Term</th>
    <th scope="col">Target language</th>
    <th scope="col">Translation</th><th scope="col">Remove</th></tr></thead><tbody></tbody></table>
    <button type="button" id="term-add">Add term</button>
    <button type="submit">Save terms</button>
    <button type="button" id="glossary-export">Export CSV</button>
  </form>
  <form id="glossary-import" class="row">
    {_field("Import CSV (replaces the terms)", _input("file", type="file", accept=".csv,text/csv"))}
    <button type="submit">Import</button>
  </form>
  <ul id="glossary-errors" class="errors"></ul>
</section>
"""

_PROVIDERS = f"""
<form id="providers-form">
  <div class="row">
    {
    _field(
        "Provider order",
        '<input name="enabled_providers" size="40">',
        "comma separated; empty: the server's",
    )
}
    {
    _field(
        "Default quality tier",
        '<select name="default_quality_tier"><option value="">server default</option>'
        '<option value="economy">economy</option><option value="balanced">balanced</option>'
        '<option value="premium">premium</option></select>',
    )
}
  </div>
  {_check("use_server_providers", "Fall back to the server's providers")}
  <button type="submit">Save</button>
</form>
<table id="providers"><caption>Providers (keys masked)</caption><thead><tr><th scope="col">Name</th>
<th scope="col">Enabled</th><th scope="col">Key from</th><th scope="col">Key</th>
<th scope="col">Action</th></tr></thead><tbody></tbody></table>
<form id="credential-form">
  <h2>Store a provider key</h2>
  <div class="row">
    {_field("Provider", '<input name="name" required size="14">')}
    {_field("API key", '<input name="api_key" type="password" autocomplete="off">')}
    {_field("Base URL", '<input name="base_url" type="url">', "LibreTranslate: your server")}
    {_field("Model", '<input name="model">')}
  </div>
  <button type="submit">Store key</button>
</form>
"""

_ROCKETCHAT = f"""
<form id="rc-form">
  <div class="row">
    {_field("Rocket.Chat URL", '<input name="rocketchat_url" type="url" size="36">')}
    {_field("Bot user id", '<input name="rocketchat_bot_user_id">')}
    {_field("Bot token", _secret("rocketchat_bot_token"), "write-only; empty: unchanged")}
  </div>
  <button type="submit">Save</button>
  <button type="button" id="rc-check">Check connection</button>
  <button type="button" id="rc-webhook">New outgoing-webhook token</button>
</form>
<div id="rc-status" class="notice" hidden tabindex="-1"></div>
<section aria-labelledby="h-lt"><h2 id="h-lt">Rocket.Chat's LibreTranslate provider</h2>
<p>In Rocket.Chat, Administration → Settings → Message → Auto-Translate: choose the LibreTranslate
provider and paste:</p>
<dl class="facts"><dt>LibreTranslate API URL</dt><dd><code id="lt-url"></code></dd>
<dt>LibreTranslate API key</dt><dd>a key of this workspace with the <code>translate</code> scope
(create one on the <a href="/console/keys">API keys</a> page)</dd></dl></section>
"""

PAGES: dict[str, tuple[str, str]] = {
    "usage": ("Usage", ""),
    "try": ("Try it", _TRY),
    "keys": ("API keys", _KEYS),
    "providers": ("Providers", _PROVIDERS),
    "budgets": ("Budgets", _BUDGETS),
    "glossaries": ("Glossaries", _GLOSSARIES),
    "channels": ("Channels", _CHANNELS),
    "audit": ("Audit log", _AUDIT),
    "rocketchat": ("Rocket.Chat", _ROCKETCHAT),
}


def page(slug: str, today: date) -> Page | None:
    found = PAGES.get(slug)
    if found is None:
        return None
    title, body = found
    return Page(slug, title, _usage(today) if slug == "usage" else body)


def _head(title: str, csrf: str = "") -> str:
    meta = f'<meta name="csrf-token" content="{escape(csrf)}">' if csrf else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{meta}
<title>{escape(title)} · {TITLE}</title>
<link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script></head>"""


def render(current: Page, *, csrf: str, who: str) -> str:
    links = "".join(
        f'<li><a href="/console/{slug}"{" aria-current=page" if slug == current.slug else ""}>'
        f"{escape(title)}</a></li>"
        for slug, (title, _) in PAGES.items()
    )
    return f"""{_head(current.title, csrf)}
<body data-page="{escape(current.slug)}">
<a class="skip" href="#main">Skip to content</a>
<header><p class="brand">{TITLE}</p>
<nav aria-label="Console"><ul>{links}</ul></nav>
<form method="post" action="/console/sign-out" class="signout">
<span class="who">{escape(who)}</span>
<input type="hidden" name="csrf_token" value="{escape(csrf)}">
<button type="submit">Sign out</button></form></header>
<main id="main"><h1>{escape(current.title)}</h1>
<p id="status" role="status" aria-live="polite"></p>
{current.body}
</main></body></html>"""


def sign_in(error: str = "", workspace: str = "") -> str:
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return f"""{_head("Sign in")}
<body data-page="sign-in"><main id="main" class="narrow"><h1>{TITLE}: sign in</h1>{alert}
<form method="post" action="/console/sign-in">
<input type="hidden" name="method" value="key">
<h2>With an admin API key</h2>
{_field("API key", '<input name="api_key" type="password" autocomplete="off" required>')}
<button type="submit">Sign in</button></form>
<form method="post" action="/console/sign-in">
<input type="hidden" name="method" value="rocketchat">
<h2>As a Rocket.Chat admin</h2>
<p class="hint">Use a personal access token (Rocket.Chat: My Account → Personal Access Tokens).
The console checks who you are with it and keeps nothing: signing out here leaves it valid in
Rocket.Chat until you remove it there.</p>
{_field("Workspace", _input("workspace", required="", value=workspace), "its name or id")}
{_field("Rocket.Chat user id", '<input name="user_id" required autocomplete="username">')}
{_field("Token", _input("auth_token", type="password", required="", autocomplete="off"))}
<button type="submit">Sign in</button></form>
</main></body></html>"""
