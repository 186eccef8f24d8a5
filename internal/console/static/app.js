// Quarry console: plain DOM code, no framework and no build step. Data is
// always inserted as text (never as HTML), and every call goes to the
// gateway itself (same origin), so the strict Content-Security-Policy holds.
"use strict";

const $ = (sel) => document.querySelector(sel);

// el builds an element: attributes (on* excluded) and children, strings as text.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const fmtMS = (v) => (v === null || v === undefined ? "—" : v < 1000 ? v.toFixed(0) + " ms" : (v / 1000).toFixed(2) + " s");
const fmtPct = (v) => (v * 100).toFixed(1) + "%";

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  if (r.status === 401) { location.href = "/ui/login"; throw new Error("not logged in"); }
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: r.status, json, text };
}

// ---- navigation ----
const pages = ["overview", "live", "playground", "keys", "endpoints"];
const loaders = {};
let current = null;
function show() {
  const name = pages.includes(location.hash.slice(1)) ? location.hash.slice(1) : "overview";
  for (const p of pages) {
    $("#page-" + p).hidden = p !== name;
    const a = document.querySelector(`nav a[data-page="${p}"]`);
    if (p === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  document.title = $("#page-" + name).dataset.title + " · Quarry console";
  if (current !== name) { current = name; if (loaders[name]) loaders[name](); }
}
window.addEventListener("hashchange", show);

// ---- overview ----
let overviewTimer = null;
let config = null; // the last overview answer
const charts = new Map();

async function loadOverview() {
  const r = await api("GET", "/ui/api/overview");
  if (r.status !== 200) { $("#models").replaceChildren(el("p", { class: "bad" }, r.text)); return; }
  config = r.json;
  fillModelSelects();
  if (current === "overview") renderOverview();
}

function renderOverview() {
  const box = $("#models");
  if (box.firstElementChild && box.firstElementChild.tagName === "P") box.replaceChildren();
  for (const m of config.models) {
    let card = document.getElementById("model-" + m.name);
    if (!card) {
      card = el("article", { class: "card", id: "model-" + m.name, "aria-labelledby": "mh-" + m.name },
        el("h3", { id: "mh-" + m.name }, m.name, el("span", { class: "kind" }, m.kind)),
        el("dl", {},
          el("dt", {}, "Target"), el("dd", {}, m.target),
          el("dt", {}, "Region"), el("dd", {}, m.region),
          el("dt", {}, "Limits"), el("dd", {}, `${m.requests_per_min_limit} req/min, ${m.max_concurrent_invocations} in flight`),
          el("dt", {}, "Credentials"), el("dd", {}, m.credentials),
          m.guardrail ? [el("dt", {}, "Guardrail"), el("dd", {}, m.guardrail)] : null,
          m.aliases ? [el("dt", {}, "Aliases"), el("dd", {}, m.aliases.join(", "))] : null),
        el("div", { class: "stats" }),
        el("div", { class: "chart", role: "img", "aria-label": `Latency and requests per minute of ${m.name} over 15 minutes` }));
      box.append(card);
    }
    const l = m.live;
    card.querySelector(".stats").replaceChildren(
      el("span", {}, "rpm ", el("b", {}, l.rpm.toFixed(1))),
      el("span", {}, "in flight ", el("b", {}, m.in_flight)),
      el("span", {}, "errors ", el("b", { class: l.error_rate > 0 ? "bad" : "" }, fmtPct(l.error_rate))),
      el("span", {}, "p50 ", el("b", {}, fmtMS(l.p50_ms))),
      el("span", {}, "p95 ", el("b", {}, fmtMS(l.p95_ms))),
      el("span", {}, "TTFT p50 ", el("b", {}, fmtMS(l.ttft_p50_ms))));
    drawChart(m.name, card.querySelector(".chart"), l.series);
  }
  renderEndpoints($("#overview-endpoints"), config.endpoints, false);
}

function drawChart(name, node, series) {
  if (typeof uPlot === "undefined") return;
  const data = [series.map((p) => p.t), series.map((p) => p.p50_ms), series.map((p) => p.p95_ms),
    series.map((p) => p.ttft_p50_ms), series.map((p) => p.requests)];
  const old = charts.get(name);
  if (old) { old.setData(data); return; }
  const opts = {
    width: 330, height: 130, legend: { live: false },
    scales: { x: { time: true }, ms: { auto: true }, n: { auto: true } },
    series: [{}, { label: "p50", scale: "ms", stroke: "#1d4ed8", value: (u, v) => fmtMS(v) },
      { label: "p95", scale: "ms", stroke: "#b91c1c", value: (u, v) => fmtMS(v) },
      { label: "TTFT", scale: "ms", stroke: "#7c3aed", value: (u, v) => fmtMS(v) },
      { label: "req/min", scale: "n", stroke: "#059669", fill: "rgba(5,150,105,.12)" }],
    axes: [{ stroke: "#374151" }, { scale: "ms", stroke: "#374151", size: 44 }, { scale: "n", side: 1, stroke: "#059669", grid: { show: false }, size: 30 }],
  };
  charts.set(name, new uPlot(opts, data, node));
}

function renderEndpoints(box, eps, withActions) {
  if (!eps || eps.length === 0) { box.replaceChildren(el("p", { class: "hint" }, "No inference endpoints.")); return; }
  const rows = eps.map((e) => {
    const ss = e.service_settings || {};
    const secrets = Object.entries(Object.assign({}, e.secrets, Object.fromEntries(Object.entries(ss).filter(([, v]) => v === "set"))))
      .map(([k, v]) => `${k}: ${v}`);
    const settings = Object.entries(ss).filter(([, v]) => v !== "set").map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
    return el("tr", {},
      el("td", {}, e.inference_id), el("td", {}, e.task_type), el("td", {}, e.service),
      el("td", {}, settings.join(", ")), el("td", {}, secrets.length ? secrets.join(", ") : "not set"),
      withActions ? el("td", {}, el("button", { type: "button", class: "danger", "data-delete": e.task_type + "/" + e.inference_id,
        "aria-label": "Delete " + e.inference_id }, "Delete")) : null);
  });
  box.replaceChildren(el("table", {},
    el("thead", {}, el("tr", {}, ["ID", "Task", "Service", "Service settings", "Secrets"].map((h) => el("th", { scope: "col" }, h)),
      withActions ? el("th", { scope: "col" }, "Actions") : null)),
    el("tbody", {}, rows)));
}

loaders.overview = () => {
  loadOverview();
  clearInterval(overviewTimer);
  overviewTimer = setInterval(() => { if (current === "overview") loadOverview(); }, 5000);
};

// ---- live requests ----
const liveRows = []; // newest last
let liveSource = null;
function liveMatches(r) {
  const m = $("#f-model").value.trim(), k = $("#f-key").value.trim(), s = $("#f-status").value;
  return (!m || r.model.includes(m)) && (!k || (r.key || "").includes(k)) && (!s || String(r.status)[0] === s);
}
function renderLive() {
  const rows = liveRows.filter(liveMatches).slice(-200).reverse().map((r) => el("tr", { "data-id": r.id },
    el("td", {}, new Date(r.time).toLocaleTimeString()), el("td", {}, r.key || "—"), el("td", {}, r.surface),
    el("td", {}, r.model), el("td", {}, r.target || "—"),
    el("td", { class: r.status >= 400 ? "bad" : "good" }, r.status),
    el("td", { class: "num" }, `${r.input_tokens}/${r.output_tokens}`), el("td", { class: "num" }, fmtMS(r.latency_ms)),
    el("td", { class: "num" }, r.cost_usd === undefined ? "—" : "$" + r.cost_usd.toFixed(6)),
    el("td", {}, el("button", { type: "button", class: "secondary", "data-detail": r.id, "aria-label": "Details of request " + r.id }, "Details"))));
  $("#live-table tbody").replaceChildren(...rows);
}
function showDetail(id) {
  const r = liveRows.find((x) => x.id === id);
  if (!r) return;
  const aside = $("#live-detail");
  aside.hidden = false;
  aside.querySelector("dl").replaceChildren(...Object.entries(r).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}
loaders.live = () => {
  if (liveSource) return;
  liveSource = new EventSource("/ui/api/live");
  liveSource.addEventListener("request", (ev) => {
    const r = JSON.parse(ev.data);
    if (!liveRows.some((x) => x.id === r.id)) liveRows.push(r);
    if (liveRows.length > 1000) liveRows.shift();
    renderLive();
  });
  liveSource.onopen = () => { $("#live-state").textContent = "Streaming live."; };
  liveSource.onerror = () => { $("#live-state").textContent = "Disconnected: reconnecting…"; };
};
$("#live-filters").addEventListener("input", renderLive);
$("#live-filters").addEventListener("submit", (e) => e.preventDefault());
$("#live-table").addEventListener("click", (e) => { const b = e.target.closest("[data-detail]"); if (b) showDetail(b.dataset.detail); });

// ---- playground ----
function fillModelSelects() {
  const byKind = (k) => config.models.filter((m) => m.kind === k).map((m) => m.name);
  for (const [sel, kind] of [["#chat-model", "chat"], ["#embed-model", "embedding"], ["#image-model", "image"]]) {
    const s = $(sel);
    if (s.options.length) continue;
    const names = byKind(kind);
    s.replaceChildren(...names.map((n) => el("option", {}, n)));
    if (!names.length) s.replaceChildren(el("option", { value: "" }, `no ${kind} model configured`));
  }
}

const readFile = (f) => new Promise((ok, fail) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = fail; r.readAsDataURL(f); });

// sse reads a fetch response as server-sent events.
async function sse(resp, onEvent) {
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) onEvent(event, data);
    }
  }
}

$("#chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const btn = $("#chat-send"), out = $("#chat-answer"), meta = $("#chat-meta");
  btn.disabled = true; out.textContent = ""; meta.textContent = "Sending…"; $("#chat-bedrock-json").textContent = "";
  try {
    const messages = [];
    if ($("#chat-system").value.trim()) messages.push({ role: "system", content: $("#chat-system").value });
    const parts = [{ type: "text", text: $("#chat-user").value }];
    const file = $("#chat-image").files[0];
    if (file) parts.push({ type: "image_url", image_url: { url: await readFile(file) } });
    messages.push({ role: "user", content: parts.length === 1 ? parts[0].text : parts });
    const body = { model: $("#chat-model").value, messages, stream: true, stream_options: { include_usage: true } };
    if ($("#chat-temperature").value !== "") body.temperature = Number($("#chat-temperature").value);
    if ($("#chat-max").value !== "") body.max_tokens = Number($("#chat-max").value);
    if ($("#chat-reasoning").value) body.reasoning_effort = $("#chat-reasoning").value;
    if ($("#chat-tools-on").checked) {
      let params;
      try { params = JSON.parse($("#chat-tool-schema").value); } catch (err) { meta.textContent = "Tool parameters: not valid JSON: " + err.message; return; }
      body.tools = [{ type: "function", function: { name: $("#chat-tool-name").value, parameters: params } }];
    }
    const resp = await fetch("/ui/api/playground/chat", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!resp.ok || !(resp.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
      meta.textContent = `Error ${resp.status}: ` + await resp.text();
      return;
    }
    let finish = "", usage = null;
    const calls = {};
    await sse(resp, (event, data) => {
      if (event === "bedrock_request") { $("#chat-bedrock-json").textContent = JSON.stringify(JSON.parse(data), null, 2); return; }
      if (data === "[DONE]") return;
      const c = JSON.parse(data);
      if (c.error) { meta.textContent = "Error: " + c.error.message; return; }
      if (c.usage) usage = c.usage;
      for (const ch of c.choices || []) {
        if (ch.delta && ch.delta.content) out.textContent += ch.delta.content;
        for (const tc of (ch.delta && ch.delta.tool_calls) || []) {
          const t = (calls[tc.index] = calls[tc.index] || { name: "", args: "" });
          if (tc.function && tc.function.name) t.name += tc.function.name;
          if (tc.function && tc.function.arguments) t.args += tc.function.arguments;
        }
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    });
    for (const t of Object.values(calls)) out.textContent += `\n[tool call] ${t.name}(${t.args})`;
    meta.textContent = `Finish reason: ${finish || "—"}` + (usage ? ` · tokens: ${usage.prompt_tokens} in, ${usage.completion_tokens} out` : "");
  } catch (err) {
    meta.textContent = "Error: " + err.message;
  } finally { btn.disabled = false; }
});

async function playgroundCall(op, body) {
  const r = await api("POST", "/ui/api/playground/" + op, body);
  if (r.status !== 200) throw new Error(r.text);
  const res = r.json;
  if (res.status !== 200) throw new Error(`${res.status}: ` + (res.response && res.response.error ? res.response.error.message : JSON.stringify(res.response)));
  return res.response;
}

$("#embed-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("#embed-result");
  out.textContent = "Embedding…";
  const body = { model: $("#embed-model").value, input: $("#embed-input").value };
  if ($("#embed-dims").value) body.dimensions = Number($("#embed-dims").value);
  try {
    const res = await playgroundCall("embeddings", body);
    const v = res.data[0].embedding;
    out.textContent = `${v.length} dimensions; first values: ${v.slice(0, 8).map((x) => x.toFixed(5)).join(", ")}` +
      (res.usage ? ` · ${res.usage.prompt_tokens} tokens` : "");
  } catch (err) { out.textContent = "Error " + err.message; }
});

$("#image-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const st = $("#image-state"), box = $("#image-result");
  st.textContent = "Generating…"; box.replaceChildren();
  const prompt = $("#image-prompt").value;
  try {
    const res = await playgroundCall("images", { model: $("#image-model").value, prompt, size: $("#image-size").value, n: 1, response_format: "b64_json" });
    box.replaceChildren(...res.data.map((d) => el("img", { class: "gen", src: "data:image/png;base64," + d.b64_json, alt: "Generated: " + prompt })));
    st.textContent = `${res.data.length} image(s) generated.`;
  } catch (err) { st.textContent = "Error " + err.message; }
});

// ---- keys and usage (the admin API, where this gateway has it) ----
const unavailable = (what) => el("p", { class: "notice" }, `${what} not available in this gateway.`);
const errorText = (r) => (r.json && r.json.error && r.json.error.message) || r.text;
const listOf = (j, name) => (Array.isArray(j) ? j : (j && (j[name] || j.data)) || []);

async function loadKeys() {
  const box = $("#keys-body");
  const r = await api("GET", "/admin/keys");
  if (r.status === 404) { box.replaceChildren(unavailable("Virtual keys are")); return; }
  if (r.status !== 200) { box.replaceChildren(el("p", { class: "bad" }, `Error ${r.status}: ${r.text}`)); return; }
  const keys = listOf(r.json, "keys");
  const form = el("form", { id: "key-form", class: "row" },
    el("label", {}, "New key name", el("input", { id: "key-name", name: "name", required: true })),
    el("label", {}, "Models (comma-separated patterns, empty: all)", el("input", { id: "key-models", name: "models" })),
    el("button", { type: "submit" }, "Create key"));
  const status = (k) => k.status || (k.revoked_at ? "revoked" : "active");
  const table = el("table", { id: "keys-table" },
    el("thead", {}, el("tr", {}, ["Name", "Prefix", "Models", "Created", "Status", "Actions"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, keys.map((k) => el("tr", {},
      el("td", {}, k.name || "—"), el("td", {}, k.prefix || k.id), el("td", {}, (k.models || []).join(", ") || "all"),
      el("td", {}, k.created_at ? new Date(k.created_at).toLocaleString() : "—"),
      el("td", { class: status(k) === "active" ? "good" : "bad" }, status(k)),
      el("td", {}, status(k) === "revoked" ? "" : el("button", { type: "button", class: "danger", "data-revoke": k.id, "aria-label": "Revoke " + (k.name || k.id) }, "Revoke"))))));
  box.replaceChildren(form, el("div", { id: "key-created", role: "status" }), table);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { name: $("#key-name").value };
    const models = $("#key-models").value.split(",").map((m) => m.trim()).filter(Boolean);
    if (models.length) body.models = models;
    const c = await api("POST", "/admin/keys", body);
    const created = c.json || {};
    await loadKeys();
    $("#key-created").replaceChildren(c.status < 300
      ? el("p", {}, "Key created; copy it now, it is not shown again: ", el("span", { class: "secret" }, created.key || created.secret || ""))
      : el("p", { class: "bad" }, `Error ${c.status}: ${errorText(c)}`));
  });
  table.addEventListener("click", async (e) => {
    const b = e.target.closest("[data-revoke]");
    if (!b) return;
    const d = await api("DELETE", "/admin/keys/" + encodeURIComponent(b.dataset.revoke));
    await loadKeys();
    if (d.status >= 300) $("#key-created").replaceChildren(el("p", { class: "bad" }, `Error ${d.status}: ${errorText(d)}`));
  });
}

async function loadUsage() {
  const box = $("#usage-body");
  const r = await api("GET", "/admin/usage?group_by=hour,key,model");
  if (r.status === 404) { box.replaceChildren(unavailable("Usage and spend are")); return; }
  if (r.status !== 200) { box.replaceChildren(el("p", { class: "bad" }, `Error ${r.status}: ${errorText(r)}`)); return; }
  const rows = listOf(r.json, "usage");
  const keyOf = (u) => u.key_name || u.key || "(config keys)";
  const tokens = (u) => (u.input_tokens || 0) + (u.output_tokens || 0);
  const spendChart = el("div", { role: "img", "aria-label": "Spend per key per hour" });
  const tokenChart = el("div", { role: "img", "aria-label": "Tokens per model per hour" });
  const table = el("table", {}, el("caption", {}, "Usage per hour, key and model"),
    el("thead", {}, el("tr", {}, ["Hour", "Key", "Model", "Requests", "Tokens in", "Tokens out", "Cost"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.slice(0, 200).map((u) => el("tr", {}, el("td", {}, u.hour || u.day || "—"), el("td", {}, keyOf(u)), el("td", {}, u.model || "—"),
      el("td", { class: "num" }, u.requests || 0), el("td", { class: "num" }, u.input_tokens || 0), el("td", { class: "num" }, u.output_tokens || 0),
      el("td", { class: "num" }, u.cost_usd === undefined ? "—" : "$" + Number(u.cost_usd).toFixed(4))))));
  box.replaceChildren(el("h3", {}, "Spend per key"), spendChart, el("h3", {}, "Tokens per model"), tokenChart, table);
  if (!rows.length) { table.after(el("p", { class: "hint" }, "No usage recorded yet.")); return; }
  usageChart(spendChart, rows, keyOf, (u) => u.cost_usd || 0, "USD");
  usageChart(tokenChart, rows, (u) => u.model || "—", tokens, "tokens");
}

// usageChart draws one line per group (key or model) over the hours.
function usageChart(node, rows, group, value, unit) {
  if (typeof uPlot === "undefined") return;
  const hours = [...new Set(rows.map((u) => Math.floor(Date.parse(u.hour) / 1000)).filter((t) => t))].sort((a, b) => a - b);
  const groups = [...new Set(rows.map(group))].slice(0, 8);
  const colors = ["#1d4ed8", "#b91c1c", "#059669", "#7c3aed", "#d97706", "#0e7490", "#be185d", "#374151"];
  const data = [hours, ...groups.map((g) => hours.map((h) => rows.filter((u) => group(u) === g && Math.floor(Date.parse(u.hour) / 1000) === h)
    .reduce((s, u) => s + value(u), 0)))];
  new uPlot({ width: 700, height: 180, legend: { live: false }, scales: { x: { time: true } },
    series: [{}, ...groups.map((g, i) => ({ label: `${g} (${unit})`, stroke: colors[i % colors.length] }))] }, data, node);
}
loaders.keys = () => { loadKeys(); loadUsage(); };

// ---- endpoints ----
async function loadEndpoints() {
  const r = await api("GET", "/ui/api/inference/_all");
  const box = $("#ep-list");
  if (r.status !== 200) { box.replaceChildren(el("p", { class: "bad" }, `Error ${r.status}: ${r.text}`)); return; }
  renderEndpoints(box, r.json.endpoints, true);
}
function epBody(update) {
  const body = {};
  if (!update) body.service = $("#ep-service").value;
  const ss = $("#ep-settings").value.trim(), ts = $("#ep-task-settings").value.trim();
  if (ss) body.service_settings = JSON.parse(ss);
  if (ts) body.task_settings = JSON.parse(ts);
  return body;
}
async function saveEndpoint(update) {
  const out = $("#ep-result");
  let body;
  try { body = epBody(update); } catch (err) { out.textContent = "Settings are not valid JSON: " + err.message; out.className = "bad"; return; }
  const path = `/ui/api/inference/${encodeURIComponent($("#ep-task").value)}/${encodeURIComponent($("#ep-id").value)}` + (update ? "/_update" : "");
  const r = await api("PUT", path, body);
  const reason = r.json && r.json.error ? (r.json.error.reason || JSON.stringify(r.json.error)) : r.text;
  out.className = r.status < 300 ? "good" : "bad";
  out.textContent = r.status < 300 ? `${update ? "Updated" : "Created"} ${$("#ep-id").value}.` : `The API refused it (${r.status}): ${reason}`;
  loadEndpoints();
}
$("#ep-form").addEventListener("submit", (e) => { e.preventDefault(); saveEndpoint(false); });
$("#ep-update").addEventListener("click", () => { if ($("#ep-form").reportValidity()) saveEndpoint(true); });
$("#ep-list").addEventListener("click", async (e) => {
  const b = e.target.closest("[data-delete]");
  if (!b) return;
  const r = await api("DELETE", "/ui/api/inference/" + b.dataset.delete.split("/").map(encodeURIComponent).join("/"));
  const out = $("#ep-result");
  out.className = r.status < 300 ? "good" : "bad";
  out.textContent = r.status < 300 ? `Deleted ${b.dataset.delete}.` : `The API refused it (${r.status}): ${r.text}`;
  loadEndpoints();
});
loaders.endpoints = loadEndpoints;
loaders.playground = () => { if (!config) loadOverview(); };

loadOverview().then(show);
