// The Relais wallboard. It signs in with the one-time ticket in the address's fragment
// (relaisctl wallboard prints the address), which the hub trades for a session cookie, then
// follows /events: each event is the whole state the operator may see, rendered by the hub
// at most every 250 ms when something changed. Times in it are absolute; the page counts
// waits and times in state itself, once a second, against the hub's clock.
"use strict";

let last = null;      // the last state received
let skew = 0;         // the hub's clock minus ours, ms
let receivedAt = 0;   // when (our clock) the last state came
let source = null;

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function hubNow() { return Date.now() + skew; }

function dur(ms) {
  if (!(ms > 0)) return "0:00";
  const s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function pct(x) { return `${Math.round(x * 100)}%`; }
function secs(ms) { return `${Math.round(ms / 1000)}s`; }

function notice(text) {
  const n = $("notice");
  n.hidden = !text;
  n.textContent = text || "";
}

// ---- signing in and following the stream

async function signIn() {
  const m = /(?:^#|&)ticket=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (!m) return;
  // The ticket is good once: take it out of the address (and the history) at once.
  history.replaceState(null, "", location.pathname);
  const r = await fetch("/session", { method: "POST", body: m[1], credentials: "same-origin",
                                      headers: { "Content-Type": "text/plain" } });
  if (!r.ok) {
    notice("This wallboard link was refused (used, expired or unknown): run `relaisctl wallboard` for a new one.");
    return;
  }
  const who = await r.json();
  $("who").textContent = `${who.operator} (${who.role})`;
}

function follow() {
  source = new EventSource("/events");
  source.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    skew = msg.now - Date.now();
    receivedAt = Date.now();
    last = msg.data;
    // Agent rows come as arrays (fields named once in agent_fields): objects for the rest.
    const f = last.agent_fields;
    last.agents = last.agents.map((r) => {
      const a = Object.fromEntries(f.map((k, i) => [k, r[i]]));
      a.tenants = a.tenants.map((i) => last.tenants[i]);
      return a;
    });
    notice("");
    render();
  };
  source.onerror = () => {
    // A refused session closes the stream for good; a lost connection is retried.
    if (source.readyState === EventSource.CLOSED)
      notice("Not signed in, or the session has ended: run `relaisctl wallboard` and open the address it prints.");
    $("fresh").className = "stale";
    $("fresh").textContent = "disconnected";
  };
}

// ---- rendering

function tenantFilter() { return $("tenant").value; }

function fillTenants(tenants) {
  const sel = $("tenant"), have = Array.from(sel.options).map((o) => o.value).slice(1);
  if (have.join(",") === tenants.join(",")) return;
  const keep = sel.value;
  while (sel.options.length > 1) sel.remove(1);
  for (const t of tenants) sel.add(new Option(t, t));
  sel.value = tenants.includes(keep) ? keep : "";
}

function fig(label, value, cls, key) {
  const d = el("div", `fig ${cls || ""}`);
  const b = el("b", null, value);
  if (key) b.dataset.k = key;
  d.append(b, el("span", null, label));
  return d;
}

function queueCard(q) {
  const now = hubNow(), a = q.agents || {};
  const longest = q.oldest ? now - q.oldest : 0;
  const slBad = q.answered + q.abandoned > 0 && q.sl < q.sl_target;
  const short = q.needed !== undefined && q.staffed < q.needed;
  const card = el("div", `card ${slBad || short ? "bad" : q.waiting > 0 ? "warn" : ""}`);
  card.dataset.queue = q.id;
  const h = el("h3", null, q.name || q.id);
  h.append(el("small", null, q.tenant));
  const figs = el("div", "figs");
  const aband = q.answered + q.abandoned > 0 ? q.abandoned / (q.answered + q.abandoned) : 0;
  figs.append(
    fig("waiting", q.waiting, q.waiting > 0 ? "warn" : "", "waiting"),
    fig("longest wait", dur(longest), longest > q.sl_s * 1000 ? "bad" : "", "longest"),
    fig("EWT", q.ewt_s !== undefined ? secs(q.ewt_s * 1000) : "-", "", "ewt"),
    fig(`SL (goal ${pct(q.sl_target)} in ${q.sl_s}s)`, pct(q.sl), slBad ? "bad" : "", "sl"),
    fig("ASA", secs(q.asa_ms), "", "asa"),
    fig("abandoned", pct(aband), aband > 0.05 ? "warn" : "", "abandon"),
    fig("AHT", dur(q.aht_ms), "", "aht"),
    fig("answered", q.answered, "", "answered"),
    fig("needed / staffed", `${q.needed !== undefined ? q.needed : "-"} / ${q.staffed}`, short ? "bad" : "", "staffing"));
  const line = el("div", "line",
    `ready ${a.ready || 0} · ringing ${a.reserved || 0} · busy ${a.busy || 0} · wrap ${a.wrapup || 0} · not ready ${a.not_ready || 0}`);
  line.dataset.k = "agents";
  const reasons = Object.entries(q.reasons || {}).map(([r, n]) => `${r} ${n}`).join(" · ");
  card.append(h, figs, line);
  if (reasons) card.append(el("div", "line", `not ready: ${reasons}`));
  return card;
}

function siteCard(s) {
  const gone = !s.up || s.failed_over_to;
  const card = el("div", `card ${gone ? "bad" : s.drain_pct > 0 || s.health < 100 ? "warn" : ""}`);
  card.dataset.site = s.id;
  const h = el("h3", null, s.name || s.id);
  h.append(el("small", null, s.up ? "linked" : "lost"));
  const bits = [`health ${s.health}%`];
  if (s.agents !== undefined) bits.push(`${s.agents} agents`, `${s.contacts} calls`);
  if (s.drain_pct > 0) bits.push(`draining ${s.drain_pct}%`);
  if (s.failed_over_to) bits.push(`failed over to ${s.failed_over_to}`);
  if (s.covered_by) bits.push(`covered by ${s.covered_by}`);
  bits.push(s.survivable ? "survivable" : "not survivable");
  card.append(h, el("div", "line", bits.join(" · ")));
  return card;
}

function mosCell(q) {
  if (!q) return el("td", null, "-");
  return el("td", q.mos < 3.1 ? "mos-bad" : q.mos < 3.6 ? "mos-warn" : "", q.mos.toFixed(2));
}

function rows(tbody, items, make) {
  tbody.replaceChildren(...items.map(make));
}

function render() {
  if (!last) return;
  const t = tenantFilter(), now = hubNow();
  fillTenants(last.tenants);
  const mine = (tenant) => !t || tenant === t;
  $("queues").replaceChildren(...last.queues.filter((q) => mine(q.tenant)).map(queueCard));
  $("sites").replaceChildren(...last.sites.map(siteCard));
  const calls = new Map(last.calls.map((c) => [c.contact, c]));
  const agents = last.agents.filter((a) => !t || a.tenants.includes(t));
  const by = last.agents_by_state;
  $("agent-counts").textContent =
    `${last.agents_total} in all: ready ${by.ready}, ringing ${by.reserved}, busy ${by.busy}, wrap ${by.wrapup}, ` +
    `not ready ${by.not_ready}, logged out ${by.logged_out}` +
    (last.agents.length < last.agents_total - by.logged_out ? ` (first ${last.agents.length} listed)` : "");
  rows($("agents").tBodies[0], agents, (a) => {
    const tr = el("tr");
    tr.dataset.agent = a.id;
    const call = a.contact ? calls.get(a.contact) : undefined;
    const state = el("td", `st-${a.state}`, a.state.replace("_", " ") + (a.reason ? ` (${a.reason})` : "") +
                     (a.reachable ? "" : ", unreachable"));
    state.dataset.k = "state";
    tr.append(el("td", null, a.name || a.id), state, el("td", null, dur(now - a.since)),
              el("td", null, a.site || "home"), el("td", null, a.contact || ""),
              mosCell(call && call.agent_end));
    return tr;
  });
  rows($("calls").tBodies[0], last.calls.filter((c) => mine(c.tenant)), (c) => {
    const tr = el("tr");
    tr.dataset.call = c.contact;
    tr.append(el("td", null, c.contact), el("td", null, c.queue), el("td", null, c.agent),
              el("td", null, c.site || "home"), el("td", null, c.path),
              el("td", null, c.answered ? dur(now - c.answered) : "-"), mosCell(c.site_end), mosCell(c.agent_end));
    return tr;
  });
  rows($("ended").tBodies[0], last.ended.filter((c) => mine(c.tenant)), (c) => {
    const tr = el("tr");
    tr.append(el("td", null, c.contact), el("td", null, c.agent), el("td", null, c.site || "home"),
              el("td", null, c.path), el("td", null, `${dur(now - c.ended)} ago`),
              mosCell(c.site_end), mosCell(c.agent_end));
    return tr;
  });
  tick();
}

// Once a second: the clock, how fresh the state is, and the counting times.
function tick() {
  $("clock").textContent = new Date(hubNow()).toLocaleTimeString();
  if (!last) return;
  const age = Date.now() - receivedAt;
  const f = $("fresh");
  if (source && source.readyState === EventSource.OPEN) {
    f.className = "live";
    f.textContent = age < 2000 ? "live" : `live, no change for ${Math.round(age / 1000)}s`;
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("tenant").addEventListener("change", render);
  await signIn();
  follow();
  setInterval(render, 1000);
});
