// homeport's dashboard. Every value from the API is put in the page with
// textContent, never as HTML: command lines and process names are data.
"use strict";

const $ = (sel) => document.querySelector(sel);
const rows = new Map();     // id -> {s, tr, details}
let order = [];             // ids in display order
let sortKey = "port", sortDir = 1;
let filterText = "";
let loggedOut = false;
let routeList = [];          // the daemon's routes, from /api/v1/routes
let routesByPort = new Map(); // port -> [route names]
// "Group by project": the rows of each project (the daemon labels each
// listener with its service and project) under a header row naming the
// project, its services and its count of listeners; rows without one
// under "no project", last. One tbody still holds every row, sorted by
// project and service first, so a new row finds its place by one binary
// search and a header is one more row: no pass over all rows per change.
let grouped = false;
const groups = new Map();   // project ("" none) -> {key, tr, shown, live, services}
// COLS is the number of columns shown (of twelve, the grouped view hides
// CLASS and the flat one SERVICE): a cell spanning more would add a
// column of its own.
const COLS = 11;

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  if (props) for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

const idOf = (s) => s.proto + " " + s.local + " " + (s.inode || 0) + " " + s.remote;
const owner = (s) => (s.owners && s.owners.length ? s.owners[0] : null);
const processOf = (s) => { const o = owner(s); return o ? o.name : ""; };
const pidOf = (s) => { const o = owner(s); return o ? o.pid : 0; };
const userOf = (s) => s.user || "";
const commandOf = (s) => { const o = owner(s); return o && o.cmdline.length ? o.cmdline.join(" ") : (o ? "[" + o.name + "]" : ""); };
const startedOf = (s) => { const o = owner(s); return o && o.started ? Date.parse(o.started) : 0; };
const exposed = (s) => s.exposure !== "loopback";
const projectOf = (s) => s.project || "";
const serviceOf = (s) => s.service || "";

function exposureText(s) {
  const fam = s.dual_stack ? "dual-stack" : (s.family === "ipv6" ? "v6" : "v4");
  switch (s.exposure) {
    case "loopback": return "loopback " + fam;
    case "all interfaces": return "⚠ all ifaces " + fam;
    default: return "⚠ one address " + fam;
  }
}

function uptime(ms) {
  if (!ms) return "";
  let s = Math.max(0, Math.floor((Date.now() - ms) / 1000));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h";
  return Math.floor(s / 86400) + "d";
}

const sortValue = {
  port: (s) => s.port, proto: (s) => s.proto, address: (s) => s.address, exposure: (s) => s.exposure,
  class: (s) => s.class, process: (s) => processOf(s), pid: (s) => pidOf(s), user: userOf,
  uptime: (s) => -startedOf(s), command: commandOf, service: serviceOf,
};

// named sorts names with the unnamed last. Plain code-unit order: a
// collation that calls two different names equal would split a group.
function named(x, y) {
  if (x === y) return 0;
  if (!x) return 1;
  if (!y) return -1;
  return x < y ? -1 : 1;
}

function compare(a, b) {
  if (grouped) {
    const g = named(projectOf(a), projectOf(b)) || named(serviceOf(a), serviceOf(b));
    if (g) return g;
  }
  const f = sortValue[sortKey];
  const x = f(a), y = f(b);
  let c = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
  if (c === 0) c = a.port - b.port || a.proto.localeCompare(b.proto) || a.local.localeCompare(b.local);
  return c * sortDir;
}

function matches(s) {
  if (!filterText) return true;
  const hay = [s.port, s.proto, s.address, s.local, s.exposure, processOf(s), pidOf(s), userOf(s), commandOf(s), s.class, projectOf(s), serviceOf(s)].join(" ").toLowerCase();
  return filterText.split(/\s+/).every((w) => hay.includes(w));
}

function cells(s) {
  const expClass = s.exposure === "loopback" ? "exp-loopback" : (s.exposure === "all interfaces" ? "exp-all" : "exp-address");
  return [
    el("td", { class: "svc", text: serviceOf(s) }),
    el("td", { class: "num", text: String(s.port) }),
    el("td", { text: s.proto }),
    el("td", { text: s.address }),
    el("td", {}, el("span", { class: "badge " + expClass, text: exposureText(s) })),
    el("td", { class: "wide cls", text: s.class }),
    el("td", { class: "proc", text: processOf(s) }),
    el("td", { class: "num", text: pidOf(s) ? String(pidOf(s)) : "" }),
    el("td", { class: "wide", text: userOf(s) }),
    el("td", { class: "num wide up", text: uptime(startedOf(s)) }),
    el("td", { class: "route" }, ...routeLinks(s.port)),
    el("td", { class: "wide cmd", text: commandOf(s), title: commandOf(s) }),
  ];
}

// ---- routes: NAME.localhost beside the listener that serves it ----

const routeURL = (name) => location.protocol + "//" + name + ".localhost" + (location.port ? ":" + location.port : "") + "/";

function routeLinks(port) {
  const out = [];
  for (const name of routesByPort.get(port) || []) {
    if (out.length) out.push(" ");
    out.push(el("a", { href: routeURL(name), text: name + ".localhost", target: "_blank", rel: "noopener" }));
  }
  return out;
}

async function loadRoutes() {
  let list;
  try { list = (await api("/api/v1/routes")).routes || []; } catch (e) { return; }
  const key = JSON.stringify(list);
  if (key === JSON.stringify(routeList)) return;
  routeList = list;
  routesByPort = new Map();
  for (const r of list) {
    if (!routesByPort.has(r.port)) routesByPort.set(r.port, []);
    routesByPort.get(r.port).push(r.name);
  }
  for (const r of rows.values()) {
    const c = r.tr.querySelector("td.route");
    if (c) c.replaceChildren(...routeLinks(r.s.port));
  }
  renderRoutes();
}

// listenersOn returns the listeners on port, TCP only: the router speaks HTTP.
function listenersOn(port) {
  const out = [];
  for (const r of rows.values()) if (!r.gone && r.s.port === port && r.s.proto === "tcp") out.push(r.s);
  return out;
}

function renderRoutes() {
  const box = $("#routes");
  if (!box) return;
  if (!routeList.length) {
    box.replaceChildren(el("p", { text: "No routes yet. Name a local app with 'homeport route add NAME PORT'." }));
    return;
  }
  const tb = el("tbody");
  for (const r of routeList) {
    const ls = listenersOn(r.port);
    const by = ls.length
      ? el("td", { text: [...new Set(ls.map((s) => processOf(s) ? processOf(s) + " (pid " + pidOf(s) + ")" : s.local))].join(", ") })
      : el("td", { class: "warn", text: "⚠ nothing listens on " + r.port });
    tb.append(el("tr", { class: "route-row", "data-route": r.name, "data-served": ls.length ? "yes" : "no" },
      el("td", {}, el("a", { href: routeURL(r.name), text: r.name + ".localhost", target: "_blank", rel: "noopener" })),
      el("td", { class: "num", text: String(r.port) }),
      el("td", { text: r.kind === "run" ? "homeport run (pid " + r.pid + ")" : "route add" }),
      el("td", { text: r.project || "" }),
      by));
  }
  const unrouted = [];
  for (const r of rows.values()) if (!r.gone && r.s.proto === "tcp" && !routesByPort.has(r.s.port)) unrouted.push(r.s.port);
  box.replaceChildren(
    el("table", {}, el("thead", {}, el("tr", {}, ...["ROUTE", "PORT", "FROM", "PROJECT", "SERVED BY"].map((h) => el("th", { text: h })))), tb),
    el("p", { class: "dim", text: unrouted.length + " TCP listeners have no route: give one a name with 'homeport route add NAME PORT'." }));
}

// ---- groups: a header row per project ----

function newGroup(key) {
  const g = { key, shown: 0, live: 0, services: new Map(),
    tr: el("tr", { class: "group", "data-project": key }, el("td", { colSpan: COLS })) };
  g.tr.hidden = true; // until a row of it shows (the filter may hide them all)
  groups.set(key, g);
  return g;
}

// tally counts a live row of s in g (d = 1) or stops counting it (d = -1).
function tally(g, s, d) {
  g.live += d;
  const name = serviceOf(s);
  if (!name) return;
  const n = (g.services.get(name) || 0) + d;
  if (n > 0) g.services.set(name, n); else g.services.delete(name);
}

function groupText(g) {
  const names = [...g.services.keys()].sort(named);
  const parts = [el("span", { class: "g-name" + (g.key ? "" : " dim"), text: g.key || "no project" })];
  if (names.length) parts.push(el("span", { class: "g-svc", text: names.join(", ") }));
  parts.push(el("span", { class: "g-count", text: g.live + (g.live === 1 ? " listener" : " listeners") }));
  g.tr.firstChild.replaceChildren(...parts);
}

// joinGroup counts r, just put in the page, in its project's group.
function joinGroup(r) {
  const g = groups.get(projectOf(r.s));
  g.shown++;
  if (!r.gone) tally(g, r.s, 1);
  r.group = g;
  if (!r.tr.hidden) g.tr.hidden = false;
  groupText(g);
}

// leaveGroup forgets r, just taken out of the page; the header goes with
// the group's last row.
function leaveGroup(r) {
  const g = r.group;
  if (!g) return;
  r.group = null;
  if (!r.gone) tally(g, r.s, -1);
  if (--g.shown <= 0) { g.tr.remove(); groups.delete(g.key); } else groupText(g);
}

function setGrouped(on) {
  grouped = on;
  try { localStorage.setItem("homeport.group", on ? "project" : ""); } catch (e) { /* storage off: the choice lasts this visit */ }
  $("#group").checked = on;
  $("#ports").classList.toggle("grouped", on);
  render();
}

function makeRow(s) {
  const tr = el("tr", { class: "sock", "data-id": idOf(s), "data-port": String(s.port), "data-proto": s.proto }, ...cells(s));
  tr.addEventListener("click", () => toggleDetails(idOf(s)));
  // The flash is once: a row moved later (sorting, grouping) would play
  // it again while it has the class.
  tr.addEventListener("animationend", () => tr.classList.remove("new"));
  tr.hidden = !matches(s);
  return tr;
}

function insertIndex(s) {
  let lo = 0, hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compare(rows.get(order[mid]).s, s) <= 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}

function nodeAfter(r) { return r.details ? r.details.nextSibling : r.tr.nextSibling; }

function render() {
  const tbody = $("#ports tbody");
  order = [...rows.keys()].filter((id) => !rows.get(id).gone || rows.get(id).details);
  order.sort((a, b) => compare(rows.get(a).s, rows.get(b).s));
  const frag = document.createDocumentFragment();
  groups.clear();
  for (const r of rows.values()) r.group = null;
  for (const id of order) {
    const r = rows.get(id);
    if (grouped) {
      // Sorted by project first: a group's rows are together, and its
      // header goes before the first of them.
      let g = groups.get(projectOf(r.s));
      if (!g) { g = newGroup(projectOf(r.s)); frag.append(g.tr); }
      g.shown++;
      if (!r.gone) tally(g, r.s, 1);
      r.group = g;
      if (!r.tr.hidden) g.tr.hidden = false;
    }
    frag.append(r.tr);
    if (r.details) frag.append(r.details);
  }
  for (const g of groups.values()) groupText(g);
  tbody.replaceChildren(frag);
  for (const th of document.querySelectorAll("th[data-key]")) {
    th.classList.toggle("asc", th.dataset.key === sortKey && sortDir > 0);
    th.classList.toggle("desc", th.dataset.key === sortKey && sortDir < 0);
  }
  counts();
}

function counts() {
  let n = 0, x = 0;
  for (const r of rows.values()) { if (r.gone) continue; n++; if (exposed(r.s)) x++; }
  const c = $("#counts");
  c.replaceChildren(el("span", { text: n + " listening" }), " · ",
    el("span", { class: x ? "warn" : "", text: x + " exposed" + (x ? " ⚠" : "") }));
  $("#empty").hidden = n > 0;
}

function snapshot(msg) {
  for (const r of rows.values()) if (r.timer) clearTimeout(r.timer);
  rows.clear();
  for (const s of msg.sockets) rows.set(idOf(s), { s, tr: makeRow(s) });
  render();
}

function opened(s, quiet) {
  const id = idOf(s);
  const old = rows.get(id);
  if (old) removeRow(id, old);
  const r = { s, tr: makeRow(s) };
  const i = insertIndex(s);
  const tbody = $("#ports tbody");
  const next = i < order.length ? rows.get(order[i]) : null;
  let before = next ? next.tr : null;
  if (grouped) {
    // The row after the new one's place is in its group or in a later
    // one: then the new row goes before that group's header, after its
    // own group's last row (a group of its own: a header first).
    const key = projectOf(s);
    if (next && next.group && next.group.key !== key) before = next.group.tr;
    if (!groups.has(key)) tbody.insertBefore(newGroup(key).tr, before);
  }
  tbody.insertBefore(r.tr, before);
  rows.set(id, r);
  order.splice(i, 0, id);
  if (grouped) joinGroup(r);
  r.tr.classList.add("new");
  if (!quiet && s.exposure === "all interfaces") {
    const o = owner(s);
    notice("New listener on all interfaces: " + s.proto + " port " + s.port + (o ? " by " + o.name + " (pid " + o.pid + ")" : ""));
  }
}

function removeRow(id, r) {
  if (r.timer) clearTimeout(r.timer);
  r.tr.remove();
  if (r.details) r.details.remove();
  leaveGroup(r);
  rows.delete(id);
  const i = order.indexOf(id);
  if (i >= 0) order.splice(i, 1);
}

function closed(s) {
  const id = idOf(s);
  const r = rows.get(id);
  if (!r) return;
  if (r.group && !r.gone) { tally(r.group, r.s, -1); groupText(r.group); }
  r.gone = true;
  r.tr.classList.remove("new");
  r.tr.classList.add("gone");
  r.tr.dataset.gone = "1";
  // A row whose details are open stays (struck through) until they are
  // closed: a Kill's outcome lands there after the listener is gone.
  r.timer = setTimeout(() => { if (rows.get(id) === r && !r.details) removeRow(id, r); counts(); }, 1500);
}

function changed(s) {
  const id = idOf(s);
  const r = rows.get(id);
  if (!r) return opened(s);
  if (grouped && !r.gone && (projectOf(r.s) !== projectOf(s) || serviceOf(r.s) !== serviceOf(s))) {
    // Another project or service (a route came or went): the row moves
    // to its new place, its details open as they were.
    const open = !!r.details;
    removeRow(id, r);
    opened(s, true);
    if (open) toggleDetails(id);
    return;
  }
  r.s = s;
  r.tr.replaceChildren(...cells(s));
  r.tr.classList.remove("new");
  void r.tr.offsetWidth; // restart the flash
  r.tr.classList.add("new");
  if (r.details) fillDetails(id);
}

function change(msg) {
  for (const e of msg.events) {
    if (e.event === "open") opened(e.socket);
    else if (e.event === "close") closed(e.socket);
    else if (e.event === "change") changed(e.socket);
  }
  counts();
  if (!$("#view-routes").hidden) renderRoutes();
}

let noticeTimer = 0;
function notice(text) {
  const n = $("#notice");
  n.textContent = text;
  n.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { n.hidden = true; }, 15000);
}

// ---- details, doctor, kill ----

function toggleDetails(id) {
  const r = rows.get(id);
  if (!r) return;
  if (r.details) {
    r.details.remove(); r.details = null;
    if (r.gone) removeRow(id, r);
    return;
  }
  if (r.gone) return;
  r.details = el("tr", { class: "details", "data-for": id }, el("td", { colSpan: COLS }));
  r.tr.after(r.details);
  fillDetails(id);
}

function fillDetails(id) {
  const r = rows.get(id);
  const s = r.s, td = r.details.firstChild;
  const dl = el("dl");
  const add = (k, v) => dl.append(el("dt", { text: k }), el("dd", { text: v }));
  add("socket", s.proto + " " + s.local + (s.inode ? "  inode " + s.inode : "") + "  " + s.state);
  add("exposure", exposureText(s));
  if (s.service) add("service", s.service + "  " + routeURL(s.service));
  if (s.project) add("project", s.project);
  const os = s.owners || [];
  if (!os.length) add("owner", "not visible to this user (another user's process, another PID namespace, or the kernel)");
  for (const o of os) {
    add("process", o.name + " (pid " + o.pid + (o.ppid ? ", parent " + o.ppid : "") + ")" + (o.user ? "  user " + o.user : ""));
    add("command", o.cmdline.length ? o.cmdline.join(" ") : "[" + o.name + "]");
    if (o.started) add("started", new Date(o.started).toLocaleString() + "  (" + uptime(Date.parse(o.started)) + " ago)");
  }
  const conns = el("dd", { class: "conns", text: "…" });
  dl.append(el("dt", { text: "connections" }), conns);
  const doctorBtn = el("button", { type: "button", class: "doctor", text: "Doctor" });
  const killBtn = el("button", { type: "button", class: "kill danger", text: "Kill" });
  killBtn.disabled = !os.length;
  const out = el("div", { class: "result" });
  doctorBtn.addEventListener("click", (ev) => { ev.stopPropagation(); runDoctor(s, out); });
  killBtn.addEventListener("click", (ev) => { ev.stopPropagation(); askKill(s, out); });
  td.replaceChildren(dl, el("div", { class: "actions" }, doctorBtn, killBtn), out);
  api("/api/v1/ports?all=1&port=" + s.port + "&proto=" + s.proto).then((socks) => {
    const list = socks.filter((c) => c.state !== "LISTEN" && c.state !== "UNCONN");
    conns.textContent = list.length ? "" : "none";
    for (const c of list) conns.append(el("div", { text: c.state + "  " + c.local + " ⇄ " + c.remote + (owner(c) ? "  " + owner(c).name + " (pid " + owner(c).pid + ")" : "") }));
  }).catch((e) => { conns.textContent = e.message; });
}

async function runDoctor(s, out) {
  out.className = "result";
  out.textContent = "asking the doctor about port " + s.port + "…";
  try {
    const rep = await api("/api/v1/doctor?port=" + s.port);
    out.className = "result" + (rep.ok ? "" : " bad");
    out.replaceChildren(el("div", { text: (rep.ok ? "✓ " : "✗ ") + rep.target + " — " + rep.verdict }));
    for (const f of rep.findings || []) {
      out.append(el("div", { class: "finding" }, el("span", { class: "sev sev-" + f.severity, text: f.severity + " " }), el("span", { text: f.title }),
        f.fix ? el("div", { text: "fix: " + f.fix }) : null));
    }
  } catch (e) { out.className = "result bad"; out.textContent = e.message; }
}

function askKill(s, out) {
  const o = owner(s);
  if (!o) return;
  $("#confirm-text").textContent = "Kill " + o.name + " (pid " + o.pid + "), which holds " + s.proto + " port " + s.port + "?";
  const dlg = $("#confirm");
  dlg.returnValue = "";
  dlg.onclose = () => { if (dlg.returnValue === "ok") kill(s, o, out); };
  dlg.showModal();
}

async function kill(s, o, out) {
  out.className = "result";
  out.textContent = "stopping " + o.name + " (pid " + o.pid + ")…";
  try {
    const res = await api("/api/v1/kill", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ port: s.port, proto: s.proto, pid: o.pid, started: o.started, inode: s.inode || 0 }),
    }, true);
    const lines = (res.outcomes || []).map((x) => x.name + " (pid " + x.pid + "): " + (x.detail || x.kind));
    if (res.changed) lines.unshift("not signalled: the process changed since this row was shown");
    if (res.freed) lines.push("port " + s.port + " is free");
    out.className = "result" + (res.freed ? "" : " bad");
    out.replaceChildren(...lines.map((t) => el("div", { class: "outcome", text: t })));
  } catch (e) { out.className = "result bad"; out.textContent = e.message; }
}

// ---- audit ----

async function runAudit() {
  const box = $("#audit"), st = $("#audit-state");
  st.textContent = "auditing…";
  try {
    const rep = await api("/api/v1/audit");
    st.textContent = "";
    const t = el("table", {}, el("thead", {}, el("tr", {}, ...["PROTO", "ADDRESS", "EXPOSURE", "PROCESS", "SERVICE"].map((h) => el("th", { text: h })))));
    const tb = el("tbody");
    for (const l of rep.exposed || []) tb.append(el("tr", {}, ...[l.proto, l.addr, l.exposure, l.process, l.service || ""].map((v) => el("td", { text: String(v) }))));
    t.append(tb);
    const parts = [rep.exposed && rep.exposed.length ? t : el("p", { text: "No listener is reachable from other machines: everything listens on loopback." })];
    for (const f of rep.findings || []) {
      parts.push(el("div", { class: "finding" }, el("span", { class: "sev sev-" + f.severity, text: f.severity + " " }), el("span", { text: f.title }),
        ...(f.evidence || []).map((e) => el("div", { text: "  " + e })), f.fix ? el("div", { text: "fix: " + f.fix }) : null));
    }
    box.replaceChildren(...parts);
  } catch (e) { st.textContent = e.message; }
}

// ---- plumbing ----

async function api(path, init, allowConflict) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin" }, init || {}));
  if (r.status === 401) { showLogin(); throw new Error("not logged in: run 'homeport ui'"); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok && !(allowConflict && r.status === 409)) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}

function showLogin() {
  loggedOut = true;
  $("#login").hidden = false;
  $("#view-ports").hidden = true;
}

function connect() {
  const es = new EventSource("/api/v1/events");
  const dot = $("#conn");
  es.addEventListener("open", () => dot.classList.add("live"));
  es.addEventListener("snapshot", (ev) => snapshot(JSON.parse(ev.data)));
  es.addEventListener("change", (ev) => change(JSON.parse(ev.data)));
  es.addEventListener("error", () => {
    dot.classList.remove("live");
    if (es.readyState === EventSource.CLOSED) {
      // A refused stream (401) is closed for good: check why, and retry.
      api("/api/v1/status").then(() => setTimeout(connect, 1000)).catch(() => {});
    }
  });
}

function showView(name) {
  $("#view-ports").hidden = name !== "ports" || loggedOut;
  $("#view-audit").hidden = name !== "audit";
  $("#view-routes").hidden = name !== "routes";
  $("#tab-ports").classList.toggle("on", name === "ports");
  $("#tab-audit").classList.toggle("on", name === "audit");
  $("#tab-routes").classList.toggle("on", name === "routes");
  if (name === "routes") renderRoutes();
  if (name === "audit" && !$("#audit").firstChild) runAudit();
}

function applyFilter() {
  for (const g of groups.values()) g.tr.hidden = true;
  for (const r of rows.values()) {
    r.tr.hidden = !matches(r.s);
    if (r.group && !r.tr.hidden) r.group.tr.hidden = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#where").textContent = "· " + location.host;
  for (const th of document.querySelectorAll("th[data-key]")) {
    th.addEventListener("click", () => {
      if (sortKey === th.dataset.key) sortDir = -sortDir; else { sortKey = th.dataset.key; sortDir = 1; }
      render();
    });
  }
  const f = $("#filter");
  f.addEventListener("input", () => { filterText = f.value.trim().toLowerCase(); applyFilter(); });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "/" && document.activeElement !== f) { ev.preventDefault(); f.focus(); f.select(); }
    else if (ev.key === "Escape" && document.activeElement === f) { f.value = ""; filterText = ""; applyFilter(); f.blur(); }
  });
  $("#tab-ports").addEventListener("click", () => showView("ports"));
  $("#tab-audit").addEventListener("click", () => showView("audit"));
  $("#tab-routes").addEventListener("click", () => showView("routes"));
  $("#audit-run").addEventListener("click", runAudit);
  let saved = "";
  try { saved = localStorage.getItem("homeport.group") || ""; } catch (e) { /* storage off */ }
  grouped = saved === "project";
  $("#group").checked = grouped;
  $("#ports").classList.toggle("grouped", grouped);
  $("#group").addEventListener("change", (ev) => setGrouped(ev.target.checked));
  setInterval(() => { for (const r of rows.values()) { const c = r.tr.querySelector(".up"); if (c) c.textContent = uptime(startedOf(r.s)); } }, 30000);
  api("/api/v1/status").then(() => { connect(); loadRoutes(); setInterval(loadRoutes, 2000); }).catch(() => {});
});
