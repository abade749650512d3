// The console's only script: it calls /api/v1 with the session cookie and the page's CSRF
// token, and draws the usage charts as SVG. No framework, no build step; loaded with `defer`.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";
  const $ = (selector, root) => (root || document).querySelector(selector);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) node.append(child);
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function status(message, isError) {
    const box = $("#status");
    if (!box) return;
    box.textContent = message || "";
    box.className = isError ? "error" : "";
  }

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || `HTTP ${status}`);
      this.status = status;
      this.code = error.code;
      this.details = error.details;
    }
  }

  // Every call goes to the same API as curl; the cookie identifies, the header proves origin.
  async function api(method, path, body, options) {
    const opts = options || {};
    const headers = { Accept: opts.accept || "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    let payload;
    if (opts.raw !== undefined) {
      payload = opts.raw;
      headers["Content-Type"] = opts.contentType;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    const response = await fetch("/api/v1" + path, {
      method, headers, body: payload, credentials: "same-origin",
    });
    if (response.status === 401) {
      window.location.assign("/console/sign-in");
      throw new ApiError(401, null);
    }
    if (opts.blob && response.ok) return response.blob();
    const text = await response.text();
    const data = text && (response.headers.get("content-type") || "").includes("json")
      ? JSON.parse(text) : text;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function guarded(action) {
    return async (event) => {
      if (event) event.preventDefault();
      status("");
      try {
        await action(event);
      } catch (error) {
        status(error.message, true);
      }
    };
  }

  function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  const list = (value) => value.split(",").map((s) => s.trim()).filter(Boolean);
  const money = (value) => "$" + Number(value).toFixed(value >= 0.1 || value === 0 ? 2 : 4);
  const when = (value) => (value ? value.replace("T", " ").slice(0, 16) : "—");
  const button = (text, cls, onClick) => {
    const node = el("button", { type: "button", class: cls, text });
    node.addEventListener("click", guarded(onClick));
    return node;
  };
  function fillTable(table, rows) {
    const body = $("tbody", table);
    body.replaceChildren(...rows);
    if (!rows.length) {
      const columns = $("thead tr", table).children.length;
      body.append(el("tr", {}, el("td", { colspan: columns, text: "None yet." })));
    }
  }

  // -- charts -------------------------------------------------------------------------------

  const W = 480, H = 220, PAD_L = 56, PAD_B = 28, PAD_T = 12, PAD_R = 12;

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function frame(title, summary) {
    const figure = el("figure", {}, el("figcaption", { text: title }));
    const chart = svg("svg", {
      class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary,
    });
    chart.append(svg("title", {}, summary));
    figure.append(chart);
    return [figure, chart];
  }

  // A bar per day (or a line with `line`), optional horizontal limit lines.
  function timeChart(title, days, values, format, opts) {
    const o = opts || {};
    const limits = o.limits || [];
    const top = niceMax(Math.max(...values, ...limits.map((l) => l.value), 0));
    const total = o.total !== undefined ? o.total : values.reduce((a, b) => a + b, 0);
    const [figure, chart] = frame(title, `${title}: ${format(total)} from ${days[0]} to ${days[days.length - 1]}`);
    const plotW = W - PAD_L - PAD_R, plotH = H - PAD_T - PAD_B;
    const y = (v) => PAD_T + plotH - (v / top) * plotH;
    chart.append(svg("line", { class: "axis", x1: PAD_L, y1: y(0), x2: W - PAD_R, y2: y(0) }));
    chart.append(svg("line", { class: "axis", x1: PAD_L, y1: PAD_T, x2: PAD_L, y2: y(0) }));
    for (const tick of [0, top / 2, top]) {
      chart.append(svg("text", { x: PAD_L - 4, y: y(tick) + 4, "text-anchor": "end" }, format(tick)));
    }
    const step = plotW / Math.max(days.length, 1);
    if (o.line) {
      const points = values.map((v, i) => `${PAD_L + step * (i + 0.5)},${y(v)}`).join(" ");
      chart.append(svg("polyline", { class: "line", points }));
    } else {
      values.forEach((v, i) => {
        const bar = svg("rect", {
          class: "bar", x: PAD_L + step * i + step * 0.15, width: Math.max(step * 0.7, 1),
          y: y(v), height: Math.max(y(0) - y(v), 0),
        });
        bar.append(svg("title", {}, `${days[i]}: ${format(v)}`));
        chart.append(bar);
      });
    }
    for (const limit of limits) {
      chart.append(svg("line", { class: limit.kind, x1: PAD_L, x2: W - PAD_R, y1: y(limit.value), y2: y(limit.value) }));
      chart.append(svg("text", { class: limit.kind, x: W - PAD_R, y: y(limit.value) - 4, "text-anchor": "end" },
        `${limit.label} ${format(limit.value)}`));
    }
    const labels = days.length > 1 ? [0, days.length - 1] : [0];
    for (const i of labels) {
      chart.append(svg("text", { x: PAD_L + step * (i + 0.5), y: H - 8, "text-anchor": i ? "end" : "start" }, days[i].slice(5)));
    }
    return figure;
  }

  function barChart(title, groups, metric, format) {
    const rows = groups.slice().sort((a, b) => b.figures[metric] - a.figures[metric]).slice(0, 8);
    const top = niceMax(Math.max(...rows.map((g) => g.figures[metric]), 0));
    const rowH = 24, height = Math.max(rows.length, 1) * rowH + 8, labelW = 150;
    const summary = rows.length
      ? `${title}: ` + rows.map((g) => `${g.key || "unknown"} ${format(g.figures[metric])}`).join(", ")
      : `${title}: no data`;
    const figure = el("figure", {}, el("figcaption", { text: title }));
    const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": summary });
    chart.append(svg("title", {}, summary));
    rows.forEach((g, i) => {
      const value = g.figures[metric];
      const width = ((W - labelW - 90) * value) / top;
      const key = (g.key || "unknown").slice(0, 22);
      chart.append(svg("text", { x: 0, y: i * rowH + 16 }, key));
      chart.append(svg("rect", { class: "bar", x: labelW, y: i * rowH + 4, width: Math.max(width, 1), height: rowH - 8 }));
      chart.append(svg("text", { x: labelW + width + 6, y: i * rowH + 16 }, format(value)));
    });
    if (!rows.length) chart.append(svg("text", { x: 0, y: 16 }, "No data in this range."));
    figure.append(chart);
    return figure;
  }

  function eachDay(from, to) {
    const days = [];
    const day = new Date(from + "T00:00:00Z");
    const end = new Date(to + "T00:00:00Z");
    while (day <= end && days.length < 3700) {
      days.push(day.toISOString().slice(0, 10));
      day.setUTCDate(day.getUTCDate() + 1);
    }
    return days;
  }

  // -- pages --------------------------------------------------------------------------------

  const count = (v) => Math.round(v).toLocaleString("en");
  const percent = (v) => Math.round(v * 100) + "%";

  async function usagePage() {
    const form = $("#usage-range");
    const range = () => `from=${form.elements.from.value}&to=${form.elements.to.value}`;
    async function show() {
      const [daily, budgets] = await Promise.all([
        api("GET", `/usage?${range()}&group_by=day`),
        api("GET", "/budgets"),
      ]);
      const byDay = new Map(daily.groups.map((g) => [g.key, g.figures]));
      const days = eachDay(daily.from, daily.to);
      const pick = (name) => days.map((d) => (byDay.get(d) || {})[name] || 0);
      let spent = 0;
      const cumulative = pick("cost").map((c) => (spent += c));
      const workspace = budgets.budgets.find((b) => b.scope === "workspace");
      const limits = workspace ? [
        { kind: "hard", label: "hard limit", value: workspace.monthly_limit },
        { kind: "soft", label: "soft limit", value: workspace.monthly_limit * workspace.soft_limit_ratio },
      ] : [];
      const ratio = days.map((d) => {
        const f = byDay.get(d);
        return f && f.cache_hit_ratio !== null ? f.cache_hit_ratio : 0;
      });
      $("#usage-charts").replaceChildren(
        timeChart("Translations per day", days, pick("translations"), count),
        timeChart("Characters per day", days, pick("characters"), count),
        timeChart("Cost to date (USD)", days, cumulative, money, { line: true, limits, total: spent }),
        timeChart("Cache-hit ratio", days, ratio, percent, { line: true, total: daily.totals.cache_hit_ratio || 0 }),
      );
      const budgetBox = $("#usage-budget");
      budgetBox.replaceChildren(...(budgets.budgets.length ? budgets.budgets.map((b) => el("p", {},
        `${b.scope}${b.subject ? " " + b.subject : ""}: ${money(b.spent)} of ${money(b.monthly_limit)} this month (soft limit at ${money(b.monthly_limit * b.soft_limit_ratio)}) — `,
        el("span", { class: "status-" + b.status, text: b.status.replace("_", " ") }),
      )) : [el("p", {}, "No budget set. ", el("a", { href: "/console/budgets", text: "Set one" }), ".")]));
      const breakdown = [];
      for (const [by, title] of [["provider", "provider"], ["language_pair", "language pair"], ["channel", "channel"], ["user", "user"]]) {
        const report = await api("GET", `/usage?${range()}&group_by=${by}`);
        breakdown.push(barChart(`Translations by ${title}`, report.groups, "translations", count));
        breakdown.push(barChart(`Cost by ${title}`, report.groups, "cost", money));
      }
      $("#usage-breakdown").replaceChildren(...breakdown);
      status(`${count(daily.totals.translations)} translations, ${count(daily.totals.characters)} characters, ${money(daily.totals.cost)} from ${daily.from} to ${daily.to}.`);
    }
    form.addEventListener("submit", guarded(show));
    $("#usage-csv").addEventListener("click", guarded(async () => {
      const blob = await api("GET", `/usage?${range()}&group_by=day`, undefined, { accept: "text/csv", blob: true });
      download(blob, `usage-${form.elements.from.value}-${form.elements.to.value}.csv`);
    }));
    await guarded(show)();
  }

  // Chat markup the service keeps out of providers' hands (service/translation/markup.py):
  // the result lists each piece of it in the message and whether it came back byte for byte.
  const MARKUP = new RegExp([
    "```[\\s\\S]*?```", "`[^`\\n]+`", "<(?:https?://|mailto:)[^>|]+(?:\\|[^>]*)?>",
    "\\b(?:https?://|www\\.)[^\\s<>\"']*[^\\s<>\"'.,;:!?)\\]}]",
    "(?<![\\w@])@[A-Za-z0-9_.\\-]*[A-Za-z0-9_]", "(?<![\\w#&])#[A-Za-z0-9_.\\-]*[A-Za-z0-9_]",
    "(?<![\\w:]):[a-z0-9_+\\-]+:(?![\\w:])",
  ].join("|"), "g");

  function markupReport(original, translated) {
    const found = original.match(MARKUP) || [];
    if (!found.length) return "none in this message";
    return found.map((m) => `${m} ${translated.includes(m) ? "kept" : "CHANGED"}`).join(", ");
  }

  function tryPage() {
    const form = $("#try-form");
    form.addEventListener("submit", guarded(async () => {
      const f = form.elements;
      const body = { text: f.text.value, target_lang: f.target_lang.value.trim() };
      if (f.source_lang.value.trim()) body.source_lang = f.source_lang.value.trim();
      if (f.channel_id.value.trim()) body.channel_id = f.channel_id.value.trim();
      const result = await api("POST", "/translate", body);
      const facts = [
        ["Translation", result.translated_text],
        ["Languages", `${result.source_lang} → ${result.target_lang}` + (result.pivot.length ? ` (via ${result.pivot.join(" → ")})` : "")],
        ["Provider", (result.provider || "none") + (result.model ? ` (${result.model})` : "")],
        ["Cost", money(result.cost.amount) + (result.cached ? " (from the cache)" : "")],
        ["Markup", markupReport(body.text, result.translated_text)],
      ];
      $("#try-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
      $("#try-result").hidden = false;
    }));
  }

  async function keysPage() {
    const table = $("#keys");
    async function load() {
      const data = await api("GET", "/workspaces/current/keys");
      fillTable(table, data.api_keys.map((k) => el("tr", {},
        el("td", { text: k.name }), el("td", {}, el("code", { text: k.prefix })),
        el("td", { text: k.scopes.join(" ") }), el("td", { text: when(k.expires_at) }),
        el("td", { text: when(k.last_used_at) }), el("td", { text: k.status }),
        el("td", {}, k.status === "active" ? button(`Revoke ${k.name}`, "danger", async () => {
          if (!window.confirm(`Revoke the key "${k.name}"? Clients using it stop working.`)) return;
          await api("DELETE", `/workspaces/current/keys/${k.id}`);
          status(`Key ${k.name} revoked.`);
          await load();
        }) : ""),
      )));
    }
    const form = $("#key-form");
    form.addEventListener("submit", guarded(async () => {
      const f = form.elements;
      const body = {
        name: f.name.value.trim(),
        scopes: [...form.querySelectorAll('input[name="scopes"]:checked')].map((c) => c.value),
      };
      if (f.expires_in_days.value) body.expires_in_days = Number(f.expires_in_days.value);
      const created = await api("POST", "/workspaces/current/keys", body);
      $("#key-value").textContent = created.key;
      const box = $("#key-new");
      box.hidden = false;
      box.focus();
      form.reset();
      await load();
    }));
    await guarded(load)();
  }

  async function budgetsPage() {
    const table = $("#budgets");
    async function load() {
      const data = await api("GET", "/budgets");
      fillTable(table, data.budgets.map((b) => el("tr", {},
        el("td", { text: b.scope }), el("td", { text: b.subject || "—" }),
        el("td", { text: money(b.monthly_limit) }), el("td", { text: percent(b.soft_limit_ratio) }),
        el("td", { text: money(b.spent) }),
        el("td", {}, el("span", { class: "status-" + b.status, text: b.status.replace("_", " ") })),
        el("td", {}, button(`Remove ${b.scope} budget`, "danger", async () => {
          await api("DELETE", `/budgets/${b.id}`);
          status("Budget removed.");
          await load();
        })),
      )));
    }
    const form = $("#budget-form");
    form.addEventListener("submit", guarded(async () => {
      const f = form.elements;
      const body = { scope: f.scope.value, monthly_limit: f.monthly_limit.value };
      if (f.subject.value.trim()) body.subject = f.subject.value.trim();
      if (f.soft_limit_ratio.value) body.soft_limit_ratio = Number(f.soft_limit_ratio.value);
      await api("PUT", "/budgets", body);
      status("Budget saved.");
      await load();
    }));
    await guarded(load)();
  }

  async function auditPage() {
    const table = $("#audit");
    const more = $("#audit-more");
    let before = null;
    async function load() {
      const data = await api("GET", "/audit?limit=50" + (before ? "&before=" + encodeURIComponent(before) : ""));
      const rows = data.entries.map((e) => el("tr", {},
        el("td", { text: when(e.created_at) }), el("td", { text: e.actor }),
        el("td", {}, el("code", { text: e.action })), el("td", { text: e.target })));
      if (before) $("tbody", table).append(...rows);
      else fillTable(table, rows);
      before = data.next_before;
      more.hidden = !before;
    }
    more.addEventListener("click", guarded(load));
    await guarded(load)();
  }

  function channelsPage() {
    const finder = $("#channel-find");
    const form = $("#channel-form");
    const picker = form.elements.glossary_id;
    let channel = null;
    let glossaries = [];
    // Deleting a glossary leaves the channels that point at it pointing at it (translations then
    // just find no such glossary). Such a channel gets its own option, "deleted glossary <id>",
    // rather than "none": showing "none" would clear it on the next save without anyone
    // choosing to. While that option is selected the PUT leaves `glossary_id` out (absent fields
    // stay as they are; sending the dead id back would be refused as no such glossary), so
    // saving other settings keeps it; choosing "none" or a glossary replaces it.
    function glossaryOptions(current) {
      const scope = (g) => (g.channel_id ? `channel ${g.channel_id}` : "whole workspace");
      const options = [el("option", { value: "", text: "none" }),
        ...glossaries.map((g) => el("option", { value: g.id, text: `${g.name} (${scope(g)})` }))];
      if (current && !glossaries.some((g) => g.id === current)) {
        options.push(el("option", {
          value: current, "data-deleted": "yes",
          text: `deleted glossary ${current} (kept until you choose another)`,
        }));
      }
      picker.replaceChildren(...options);
      picker.value = current || "";
    }
    function fill(c) {
      channel = c.channel_id;
      const f = form.elements;
      $("#channel-title").textContent = `Channel ${c.channel_id}`;
      f.enabled.checked = c.enabled;
      f.context_enabled.checked = c.context_enabled;
      f.allowed_langs.value = (c.allowed_langs || []).join(", ");
      f.blocked_langs.value = (c.blocked_langs || []).join(", ");
      f.max_cost_per_message.value = c.max_cost_per_message === null ? "" : c.max_cost_per_message;
      f.delivery_mode.value = c.delivery_mode;
      f.formality.value = c.formality || "";
      glossaryOptions(c.glossary_id);
      form.hidden = false;
    }
    finder.addEventListener("submit", guarded(async () => {
      const id = finder.elements.channel_id.value.trim();
      const [c, listed] = await Promise.all([
        api("GET", `/channels/${encodeURIComponent(id)}`), api("GET", "/glossaries"),
      ]);
      glossaries = listed.glossaries;
      fill(c);
    }));
    form.addEventListener("submit", guarded(async () => {
      const f = form.elements;
      const allowed = list(f.allowed_langs.value), blocked = list(f.blocked_langs.value);
      const body = {
        enabled: f.enabled.checked, context_enabled: f.context_enabled.checked,
        allowed_langs: allowed.length ? allowed : null, blocked_langs: blocked.length ? blocked : null,
        max_cost_per_message: f.max_cost_per_message.value === "" ? null : Number(f.max_cost_per_message.value),
        delivery_mode: f.delivery_mode.value, formality: f.formality.value || null,
      };
      if (!picker.selectedOptions[0].hasAttribute("data-deleted")) body.glossary_id = picker.value || null;
      fill(await api("PUT", `/channels/${encodeURIComponent(channel)}`, body));
      status(`Channel ${channel} saved.`);
    }));
  }

  async function glossariesPage() {
    const table = $("#glossaries");
    const section = $("#glossary-edit");
    const terms = $("#terms tbody");
    const errors = $("#glossary-errors");
    let current = null;
    const cell = (name, value, label) => el("td", {}, el("input", { name, value: value || "", "aria-label": label }));
    function termRow(entry) {
      const e = entry || {};
      const row = el("tr", {},
        cell("source_lang", e.source_lang, "Source language"), cell("source_term", e.source_term, "Term"),
        cell("target_lang", e.target_lang, "Target language"), cell("target_term", e.target_term, "Translation"));
      row.append(el("td", {}, button("Remove term", "danger", () => row.remove())));
      return row;
    }
    function open(view) {
      current = view;
      $("#glossary-title").textContent = `Terms of ${view.name}`;
      terms.replaceChildren(...view.entries.map(termRow));
      section.hidden = false;
    }
    function showErrors(error) {
      const found = (error.details && error.details.errors) || [];
      errors.replaceChildren(...found.map((e) => el("li", { text: `${e.where}: ${e.message}` })));
      throw error;
    }
    async function load() {
      const data = await api("GET", "/glossaries");
      fillTable(table, data.glossaries.map((g) => el("tr", {},
        el("td", { text: g.name }), el("td", { text: g.channel_id || "whole workspace" }),
        el("td", { text: g.entry_count }),
        el("td", {}, button(`Edit ${g.name}`, "", async () => open(await api("GET", `/glossaries/${g.id}`))),
          " ", button(`Delete ${g.name}`, "danger", async () => {
            if (!window.confirm(`Delete the glossary "${g.name}"?`)) return;
            await api("DELETE", `/glossaries/${g.id}`);
            if (current && current.id === g.id) section.hidden = true;
            await load();
          })),
      )));
    }
    const create = $("#glossary-create");
    create.addEventListener("submit", guarded(async () => {
      const body = { name: create.elements.name.value.trim() };
      if (create.elements.channel_id.value.trim()) body.channel_id = create.elements.channel_id.value.trim();
      open(await api("POST", "/glossaries", body));
      create.reset();
      await load();
    }));
    $("#term-add").addEventListener("click", () => {
      const row = termRow();
      terms.append(row);
      $("input", row).focus();
    });
    $("#glossary-terms").addEventListener("submit", guarded(async () => {
      errors.replaceChildren();
      const entries = [...terms.querySelectorAll("tr")].map((row) => {
        const value = (name) => $(`input[name="${name}"]`, row).value.trim() || null;
        return { source_lang: value("source_lang") || "", source_term: value("source_term") || "",
          target_lang: value("target_lang"), target_term: value("target_term") };
      });
      open(await api("PUT", `/glossaries/${current.id}`, { entries }).catch(showErrors));
      status("Terms saved.");
      await load();
    }));
    $("#glossary-export").addEventListener("click", guarded(async () => {
      const blob = await api("GET", `/glossaries/${current.id}/export`, undefined, { accept: "text/csv", blob: true });
      download(blob, `glossary-${current.name}.csv`);
    }));
    const importer = $("#glossary-import");
    importer.addEventListener("submit", guarded(async () => {
      errors.replaceChildren();
      const file = importer.elements.file.files[0];
      const text = await file.text();
      open(await api("POST", `/glossaries/${current.id}/import`, undefined, { raw: text, contentType: "text/csv" }).catch(showErrors));
      status(`Imported ${current.entries.length} terms.`);
      await load();
    }));
    await guarded(load)();
  }

  async function providersPage() {
    const table = $("#providers");
    const form = $("#providers-form");
    async function load() {
      const data = await api("GET", "/providers");
      form.elements.enabled_providers.value = (data.enabled_providers || []).join(", ");
      form.elements.default_quality_tier.value = data.default_quality_tier || "";
      form.elements.use_server_providers.checked = data.use_server_providers;
      fillTable(table, data.providers.map((p) => el("tr", {},
        el("td", { text: p.name }), el("td", { text: p.enabled ? "yes" : "no" }),
        el("td", { text: p.source || "—" }), el("td", {}, p.key ? el("code", { text: p.key }) : "—"),
        el("td", {}, p.enabled ? button(`Test ${p.name}`, "", () => testProvider(p.name)) : "",
          " ", p.configured ? button(`Forget ${p.name} key`, "danger", async () => {
            await api("DELETE", `/providers/${encodeURIComponent(p.name)}`);
            status(`The workspace's ${p.name} key is forgotten.`);
            await load();
          }) : ""),
      )));
    }
    // "Test this key": one real translation through that provider alone, with a text no cache
    // holds, so the provider (with the workspace's key, if it stored one) answers itself.
    async function testProvider(name) {
      status(`Testing ${name}…`);
      try {
        const result = await api("POST", "/translate", {
          text: `Hello, this is a test (${Date.now()}).`, source_lang: "en", target_lang: "es", provider: name,
        });
        status(`${name} works: “${result.translated_text}” (${money(result.cost.amount)}).`);
      } catch (error) {
        status(`${name} failed: ${error.message}`, true);
      }
    }
    form.addEventListener("submit", guarded(async () => {
      const f = form.elements;
      const order = list(f.enabled_providers.value);
      await api("PUT", "/providers", {
        enabled_providers: order.length ? order : null,
        default_quality_tier: f.default_quality_tier.value || null,
        use_server_providers: f.use_server_providers.checked,
      });
      status("Provider settings saved.");
      await load();
    }));
    const credential = $("#credential-form");
    credential.addEventListener("submit", guarded(async () => {
      const f = credential.elements;
      const body = {};
      if (f.api_key.value) body.api_key = f.api_key.value;
      if (f.base_url.value.trim()) body.base_url = f.base_url.value.trim();
      if (f.model.value.trim()) body.model = f.model.value.trim();
      await api("PUT", `/providers/${encodeURIComponent(f.name.value.trim())}`, body);
      status(`Key stored for ${f.name.value.trim()}.`);
      credential.reset();
      await load();
    }));
    await guarded(load)();
  }

  async function rocketchatPage() {
    const form = $("#rc-form");
    const box = $("#rc-status");
    $("#lt-url").textContent = window.location.origin + "/libretranslate";
    function say(...parts) {
      box.replaceChildren(...parts);
      box.hidden = false;
      box.focus();
    }
    async function load() {
      const s = await api("GET", "/workspaces/current/settings");
      form.elements.rocketchat_url.value = s.rocketchat_url || "";
      form.elements.rocketchat_bot_user_id.value = s.rocketchat_bot_user_id || "";
      form.elements.rocketchat_bot_token.placeholder = s.rocketchat_bot_token_set ? "set (hidden)" : "not set";
    }
    form.addEventListener("submit", guarded(async () => {
      const f = form.elements;
      const body = {
        rocketchat_url: f.rocketchat_url.value.trim() || null,
        rocketchat_bot_user_id: f.rocketchat_bot_user_id.value.trim() || null,
      };
      if (f.rocketchat_bot_token.value) body.rocketchat_bot_token = f.rocketchat_bot_token.value;
      await api("PUT", "/workspaces/current/settings", body);
      f.rocketchat_bot_token.value = "";
      status("Rocket.Chat settings saved.");
      await load();
    }));
    $("#rc-check").addEventListener("click", guarded(async () => {
      const s = await api("GET", "/integrations/rocketchat/status");
      const bot = s.bot;
      const lines = [el("p", {}, `Bot: ${bot.status}` + (bot.username ? ` (signed in as ${bot.username})` : "") + (bot.message ? ` — ${bot.message}` : ""))];
      lines.push(el("p", { text: `Outgoing-webhook token: ${s.webhook_token_set ? "set" : "not set"}` }));
      if (s.last_problem) lines.push(el("p", { class: "error", text: `Last problem: ${s.last_problem.message}` }));
      say(...lines);
    }));
    $("#rc-webhook").addEventListener("click", guarded(async () => {
      if (!window.confirm("Make a new outgoing-webhook token? The old one stops working.")) return;
      const t = await api("POST", "/workspaces/current/webhook-token");
      say(el("p", { text: "Paste this into the Token field of Rocket.Chat's outgoing webhook (shown only now):" }),
        el("p", {}, el("code", { text: t.webhook_token })));
    }));
    await guarded(load)();
  }

  const PAGES = {
    usage: usagePage, try: tryPage, keys: keysPage, budgets: budgetsPage, audit: auditPage,
    channels: channelsPage, glossaries: glossariesPage, providers: providersPage,
    rocketchat: rocketchatPage,
  };
  const start = PAGES[document.body.dataset.page];
  // Marks the page ready once its first data is in (tests, and styles, may wait for it).
  if (start) Promise.resolve(start()).finally(() => { document.body.dataset.loaded = "true"; });
})();
