/// The ledger's live status page: one self-contained HTML document (no external scripts, fonts or styles, so it
/// works on an isolated network), fed by `/api/events` (server-sent events) or, with `?once`, one `/api/status`.
///
/// What it shows is docs/operations.md's "The status page". The script measures each render and writes the time
/// to `body[data-render-ms]`, which the headless-Chromium test reads, as it reads the DOM ids below.
enum StatusPageHTML {
    static let page = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ben status</title>
<style>
:root { --active:#2e9e5b; --refused:#d64545; --missing:#e8912d; --pending:#9aa5b1; --none:#e9edf1; --ink:#1f2933; --muted:#616e7c; --line:#d9e2ec; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--ink); background:#f5f7fa; }
header { display:flex; gap:16px; align-items:baseline; padding:12px 20px; background:#102a43; color:#f0f4f8; }
header h1 { font-size:18px; margin:0; }
header .meta { color:#bcccdc; font-size:12px; }
#live { font-size:12px; padding:2px 8px; border-radius:10px; background:#627d98; }
#live.on { background:var(--active); }
main { display:grid; grid-template-columns: minmax(0,1fr) minmax(0,1fr); gap:16px; padding:16px 20px; }
section { background:#fff; border:1px solid var(--line); border-radius:6px; padding:12px 14px; min-width:0; }
section.wide { grid-column: 1 / -1; }
h2 { font-size:15px; margin:0 0 8px; }
.muted { color:var(--muted); }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; font-size:12px; background:var(--pending); }
.badge.active { background:var(--active); } .badge.incomplete, .badge.refused { background:var(--refused); }
.badge.deploying { background:#2680c2; } .badge.superseded, .badge.staged { background:#829ab1; }
.bar { display:flex; height:14px; border-radius:7px; overflow:hidden; background:var(--none); margin:8px 0; }
.bar span { display:block; height:100%; }
.counts { display:flex; gap:14px; flex-wrap:wrap; }
.counts b { font-size:18px; }
.dot { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:middle; }
.region { margin:6px 0 10px; }
.region > .title, .zone > .title { font-weight:600; font-size:12px; margin:4px 0; }
.zone { display:inline-block; vertical-align:top; margin:0 14px 8px 0; }
.racks { display:grid; grid-template-columns: repeat(auto-fill, 18px); gap:2px; max-width:560px; }
.rack { width:18px; height:18px; border-radius:3px; background:var(--none); cursor:default; }
.legend { display:flex; gap:12px; font-size:12px; margin-bottom:6px; }
table { border-collapse:collapse; width:100%; font-size:12px; }
th, td { text-align:left; padding:3px 6px; border-bottom:1px solid #eef2f6; vertical-align:top; }
th { color:var(--muted); font-weight:600; }
td.code, span.code { font-family: ui-monospace, monospace; }
.scroll { max-height:340px; overflow:auto; }
input[type=search] { width:100%; padding:4px 8px; margin-bottom:6px; border:1px solid var(--line); border-radius:4px; }
.tree { font-family: ui-monospace, monospace; font-size:12px; }
.tree ul { list-style:none; margin:0; padding-left:16px; }
.tree li { margin:1px 0; }
.tree .toggle { cursor:pointer; color:#2680c2; user-select:none; }
.n-a { color:var(--active); } .n-r { color:var(--refused); } .n-m { color:var(--missing); } .n-p { color:var(--pending); }
.stripe { margin-bottom:10px; }
.levels { display:flex; align-items:flex-end; gap:2px; height:36px; margin:4px 0; }
.levels span { background:#2680c2; width:14px; }
details summary { cursor:pointer; }
footer { padding:0 20px 16px; color:var(--muted); font-size:12px; }
</style>
</head>
<body data-rendered="no" data-updates="0">
<header><h1>Ben · <span id="fleet">…</span></h1><span id="live">connecting</span><span class="meta" id="updated"></span></header>
<main>
<section id="rollout" class="wide"><h2>Current rollout</h2><div id="rollout-body" class="muted">waiting for the ledger…</div></section>
<section id="heat" class="wide"><h2>Progress by region, zone and rack</h2>
<div class="legend"><span><i class="dot" style="background:var(--active)"></i>active</span><span><i class="dot" style="background:var(--refused)"></i>refused</span><span><i class="dot" style="background:var(--missing)"></i>missing</span><span><i class="dot" style="background:var(--pending)"></i>pending</span><span><i class="dot" style="background:var(--none)"></i>not targeted</span></div>
<div id="heatmap"></div></section>
<section id="trees"><h2>Stripe trees</h2><div id="trees-body" class="muted">no plan yet</div></section>
<section id="missing"><h2>Missing nodes</h2><div id="missing-groups"></div><input type="search" id="missing-filter" placeholder="filter by node, location or reason"><div class="scroll"><table><thead><tr><th>node</th><th>location</th><th>reason</th></tr></thead><tbody id="missing-rows"></tbody></table></div><div id="missing-more" class="muted"></div></section>
<section id="drift"><h2>Drift</h2><div id="drift-body" class="muted">no topology yet</div></section>
<section id="versions"><h2>Versions</h2><div class="scroll"><table><thead><tr><th>version</th><th>status</th><th>label</th><th>manifest</th><th>changed</th></tr></thead><tbody id="version-rows"></tbody></table></div></section>
<section id="audit" class="wide"><h2>Audit log <span class="muted">(latest first; <code>benctl log --verify</code> checks the chain)</span></h2><div class="scroll"><table><thead><tr><th>#</th><th>at</th><th>kind</th><th>operator</th><th>detail</th></tr></thead><tbody id="audit-rows"></tbody></table></div></section>
</main>
<footer>Read-only. <span id="render"></span></footer>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"})[c]);
const plural = (n, word, many) => `${n} ${n === 1 ? word : (many || word + "s")}`;
const COLORS = { a: "var(--active)", r: "var(--refused)", m: "var(--missing)", p: "var(--pending)" };
let last = null;
let missingRows = [];

function render(doc) {
  const t0 = performance.now();
  last = doc;
  $("fleet").textContent = doc.fleet;
  $("updated").textContent = "last change " + doc.at;
  renderRollout(doc);
  renderHeat(doc.heat || []);
  renderTrees(doc.trees);
  renderMissing(doc);
  renderDrift(doc.drift);
  renderVersions(doc.versions || {});
  renderAudit(doc.audit || []);
  const ms = performance.now() - t0;
  document.body.dataset.rendered = "yes";
  document.body.dataset.renderMs = ms.toFixed(1);
  document.body.dataset.nodes = String(doc.topology ? doc.topology.nodes : 0);
  document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
  $("render").textContent = `Rendered ${doc.topology ? plural(doc.topology.nodes, "node") : "no topology"} in ${ms.toFixed(1)} ms.`;
}

function renderRollout(doc) {
  const r = doc.rollout;
  if (!r) { $("rollout-body").innerHTML = `<span class="muted">nothing deployed yet${doc.topology ? "" : "; no topology applied"}</span>`; return; }
  const req = Math.max(r.required, 1);
  const seg = (n, c) => n > 0 ? `<span style="width:${(100 * n / req).toFixed(3)}%;background:${c}"></span>` : "";
  $("rollout-body").innerHTML =
    `<div><b>v${r.version}</b> <span class="badge ${esc(r.status)}" id="rollout-status">${esc(r.status)}</span> ` +
    `<span class="muted">${esc(r.label)} · attempt ${r.attempt} · issued ${esc(r.issued_at)} · deadline ${esc(r.deadline)}</span></div>` +
    `<div class="bar" id="rollout-bar">${seg(r.active, "var(--active)")}${seg(r.refused, "var(--refused)")}${seg(r.missing, "var(--missing)")}${seg(r.pending, "var(--pending)")}</div>` +
    `<div class="counts"><span id="rollout-active"><b>${r.active}</b>/${r.required} active</span><span><b>${r.refused}</b> refused</span>` +
    `<span><b>${r.missing}</b> missing</span><span><b>${r.pending}</b> pending</span>` +
    `<span class="muted">ledger egress ${fmtBytes(r.ledger_egress)} for a ${fmtBytes(r.bundle_size)} bundle · ${plural(r.messages, "message")} reached the ledger</span></div>`;
}

function fmtBytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0; n = Number(n || 0);
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

function rackColor(c) {
  if (!c.nodes) return "var(--none)";
  const targeted = c.active + c.refused + c.missing + c.pending;
  if (!targeted) return "var(--none)";
  if (c.refused) return "var(--refused)";
  if (c.missing) return `color-mix(in srgb, var(--missing) ${Math.round(40 + 60 * c.missing / targeted)}%, var(--active))`;
  if (c.pending) return `color-mix(in srgb, var(--active) ${Math.round(100 * c.active / targeted)}%, var(--pending))`;
  return "var(--active)";
}

function renderHeat(regions) {
  const parts = [];
  let racks = 0;
  for (const region of regions) {
    const zones = [];
    let rt = { active: 0, n: 0 };
    for (const zone of region.zones) {
      let zt = { active: 0, n: 0 };
      const cells = zone.racks.map((c) => {
        racks++;
        const t = c.active + c.refused + c.missing + c.pending;
        zt.active += c.active; zt.n += t;
        const title = `${region.region}/${zone.zone}/${c.rack}: ${c.active}/${t} active, ${c.refused} refused, ${c.missing} missing, ${c.pending} pending (${plural(c.nodes, "node")})`;
        return `<div class="rack" data-rack="${esc(region.region + "/" + zone.zone + "/" + c.rack)}" data-active="${c.active}" data-targeted="${t}" title="${esc(title)}" style="background:${rackColor(c)}"></div>`;
      });
      rt.active += zt.active; rt.n += zt.n;
      zones.push(`<div class="zone"><div class="title">${esc(zone.zone)} <span class="muted">${zt.active}/${zt.n}</span></div><div class="racks">${cells.join("")}</div></div>`);
    }
    parts.push(`<div class="region"><div class="title">${esc(region.region)} <span class="muted">${rt.active}/${rt.n} active</span></div>${zones.join("")}</div>`);
  }
  $("heatmap").innerHTML = parts.join("") || `<span class="muted">no topology applied</span>`;
  $("heatmap").dataset.racks = String(racks);
}

// Stripe trees: a summary per tree, and the tree itself, expanded one level at a time (a 10 000-node tree is
// never all in the DOM).
let treeState = null;
function renderTrees(trees) {
  if (!trees) { $("trees-body").innerHTML = `<span class="muted">no plan yet</span>`; treeState = null; return; }
  const n = trees.nodes.length;
  const children = trees.parents.map((parents) => {
    const kids = Array.from({ length: n + 1 }, () => []);
    parents.forEach((p, i) => kids[p < 0 ? n : p].push(i));
    return kids;
  });
  const sizes = children.map((kids) => {
    const size = new Int32Array(n + 1);
    const order = []; const stack = [n];
    while (stack.length) { const x = stack.pop(); order.push(x); for (const c of kids[x]) stack.push(c); }
    for (let k = order.length - 1; k >= 0; k--) { const x = order[k]; size[x] = 1 + kids[x].reduce((s, c) => s + size[c], 0); }
    return size;
  });
  const open = treeState && treeState.plan === trees.plan ? treeState.open : new Set();
  treeState = { plan: trees.plan, trees, children, sizes, open };
  const html = trees.stripes.map((s) => {
    const max = Math.max(...s.levels, 1);
    const bars = s.levels.map((l, d) => `<span title="depth ${d + 1}: ${plural(l, "node")}" style="height:${Math.max(2, 36 * l / max)}px"></span>`).join("");
    return `<div class="stripe" data-stripe="${s.stripe}"><b>stripe ${s.stripe}</b>${s.stripe === 0 ? " <span class=\"muted\">(acks flow up this tree)</span>" : ""}: ` +
      `depth ${s.depth}, ledger fan-out ${s.fan_out}, ${plural(s.relays, "relay")}<div class="levels">${bars}</div>` +
      `<div class="tree" id="tree-${s.stripe}">${subtreeHTML(s.stripe, n, 0)}</div></div>`;
  }).join("");
  $("trees-body").innerHTML = `<div class="muted">${plural(trees.stripes.length, "stripe tree")} over ${plural(n, "node")}; plan ${esc(trees.plan.slice(0, 12))}…</div>` + html;
}

function subtreeHTML(stripe, x, depth) {
  const { trees, children, sizes, open } = treeState;
  const n = trees.nodes.length;
  const kids = children[stripe][x];
  const items = kids.slice(0, 200).map((c) => {
    const st = trees.states ? trees.states[c] : "-";
    const key = `${stripe}:${c}`;
    const has = children[stripe][c].length > 0;
    const toggle = has ? `<span class="toggle" data-key="${key}">${open.has(key) ? "▾" : "▸"}</span> ` : "&nbsp;&nbsp;";
    const below = has ? ` <span class="muted">(${sizes[stripe][c] - 1} below)</span>` : "";
    const inner = has && open.has(key) ? subtreeHTML(stripe, c, depth + 1) : "";
    return `<li>${toggle}<span class="n-${st}">${esc(trees.nodes[c])}</span>${below}${inner}</li>`;
  });
  if (kids.length > 200) items.push(`<li class="muted">… and ${kids.length - 200} more</li>`);
  return `<ul>${x === n ? `<li><b>ledger</b><ul>${items.join("")}</ul></li>` : items.join("")}</ul>`;
}

document.addEventListener("click", (e) => {
  const t = e.target.closest(".toggle");
  if (!t || !treeState) return;
  const key = t.dataset.key;
  if (treeState.open.has(key)) treeState.open.delete(key); else treeState.open.add(key);
  const stripe = Number(key.split(":")[0]);
  $("tree-" + stripe).innerHTML = subtreeHTML(stripe, treeState.trees.nodes.length, 0);
});

function renderMissing(doc) {
  const groups = doc.groups || [];
  $("missing-groups").innerHTML = groups.length
    ? `<div class="muted">${groups.slice(0, 12).map((g) => `${esc(g.location)}: ${g.count} ${esc(g.code)}`).join(" · ")}${groups.length > 12 ? ` · and ${groups.length - 12} more groups` : ""}</div>`
    : `<span class="muted">${doc.rollout ? "no node is missing" : ""}</span>`;
  missingRows = doc.missing || [];
  drawMissing();
}

function drawMissing() {
  const q = $("missing-filter").value.trim().toLowerCase();
  const rows = q ? missingRows.filter((m) => (m.node + " " + m.location + " " + m.code + " " + m.detail).toLowerCase().includes(q)) : missingRows;
  $("missing-rows").innerHTML = rows.slice(0, 500).map((m) =>
    `<tr class="missing-node" data-node="${esc(m.node)}"><td>${esc(m.node)}</td><td>${esc(m.location)}</td><td><span class="code">${esc(m.code)}</span> ${esc(m.detail)}</td></tr>`).join("");
  $("missing-more").textContent = rows.length > 500 ? `showing 500 of ${rows.length}; filter to narrow` : plural(rows.length, "node");
  $("missing").dataset.count = String(missingRows.length);
}
$("missing-filter").addEventListener("input", drawMissing);

function renderDrift(d) {
  if (!d) { $("drift-body").innerHTML = `<span class="muted">no topology applied</span>`; return; }
  const running = Object.entries(d.running || {}).sort((a, b) => Number(b[0]) - Number(a[0]));
  const runs = running.reduce((s, [, n]) => s + n, 0);
  const onFleet = (d.running || {})[String(d.fleet_version)] || 0;
  const onAny = running.filter(([v]) => v !== "0").reduce((s, [, n]) => s + n, 0);
  const byLoc = new Map();
  for (const x of d.differing || []) { const l = byLoc.get(x.location) || []; l.push(`${esc(x.node)} runs v${x.active}${x.working ? ` (working on ${esc(x.working)})` : ""}`); byLoc.set(x.location, l); }
  for (const x of d.silent || []) { const l = byLoc.get(x.location) || []; l.push(`${esc(x.node)} silent (${x.last_heard ? "last heard " + esc(x.last_heard) : "never heard from"})`); byLoc.set(x.location, l); }
  const locs = [...byLoc.keys()].sort();
  $("drift-body").innerHTML =
    `<div id="drift-headline">${d.fleet_version > 0 ? `fleet's active version v${d.fleet_version}; ${onFleet}/${plural(d.nodes, "node")} run it`
      : `no version is active in the fleet yet; ${onAny}/${plural(d.nodes, "node")} run one`}` +
    `${d.latest ? `; latest rollout v${d.latest.version} is ${esc(d.latest.status)}` : ""}</div>` +
    `<div class="muted">${runs ? "heard from: " + running.map(([v, n]) => `v${v} on ${plural(n, "node")}`).join(", ") : "no heartbeat heard yet"}` +
    ` · ${plural((d.differing || []).length, "node")} differ · ${(d.silent || []).length} silent</div>` +
    `<div class="scroll">` +
    locs.slice(0, 300).map((l) => `<details><summary>${esc(l)}: ${plural(byLoc.get(l).length, "node")}</summary><div class="muted">${byLoc.get(l).slice(0, 100).join("<br>")}</div></details>`).join("") +
    (locs.length > 300 ? `<div class="muted">… and ${locs.length - 300} more locations</div>` : "") + `</div>`;
}

function renderVersions(v) {
  const rows = (v.versions || []).slice().reverse();
  $("version-rows").innerHTML = rows.map((r) =>
    `<tr><td>v${r.version}</td><td><span class="badge ${esc(r.status)}">${esc(r.status)}</span></td><td>${esc(r.label)}</td><td class="code">${esc(r.manifest.slice(0, 12))}…</td><td>${esc(r.changed_at)}</td></tr>`).join("");
}

function renderAudit(entries) {
  $("audit-rows").innerHTML = entries.map((e) =>
    `<tr class="audit-entry"><td>${e.seq}</td><td>${esc(e.at)}</td><td>${esc(e.kind)}</td><td class="code">${esc(e.operator)}</td><td class="code">${esc(JSON.stringify(e.detail)).slice(0, 300)}</td></tr>`).join("");
}

const once = new URLSearchParams(location.search).has("once");
if (once || !window.EventSource) {
  fetch("api/status").then((r) => r.json()).then(render).then(() => { $("live").textContent = "snapshot"; });
} else {
  const source = new EventSource("api/events");
  source.addEventListener("status", (e) => { render(JSON.parse(e.data)); });
  source.onopen = () => { $("live").textContent = "live"; $("live").className = "on"; };
  source.onerror = () => { $("live").textContent = "reconnecting"; $("live").className = ""; };
}
</script>
</body>
</html>
"""#
}
