// Rampart dashboard. Everything shown comes from the admin API of this origin; event
// fields are attacker-chosen text, so they are only ever set with textContent.
"use strict";

(function () {
  const MAX_ROWS = 200;
  const SAMPLES = 150; // 5 minutes at one overview every 2 s
  const series = []; // {t, req, deny}
  let rows = 0;
  // Reason code -> what it means for an operator; filled in by the server.
  const REASONS = /*REASONS*/{};
  // Rows already shown (local stream, first load and the peers' records all feed the table).
  const seen = new Set();
  // Each tier's counters at the previous overview, for its own rates.
  const previous = {};
  function explain(code) {
    return REASONS[code] || "";
  }

  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(n) {
    if (n === null || n === undefined || !isFinite(n)) return "–";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
    if (n >= 100) return Math.round(n).toString();
    return (Math.round(n * 10) / 10).toString();
  }
  function time(ts) {
    const d = new Date(ts);
    return isNaN(d) ? String(ts) : d.toLocaleTimeString();
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // ---- overview: cards, tiers, health, tops, groups, chart ----
  function tiersOf(doc) {
    const all = [doc.status.status].concat(doc.status.peers || []);
    return all.filter((t) => t && t.tier);
  }

  function onOverview(doc) {
    const tiers = tiersOf(doc);
    const audit = doc.status.audit || {};
    // Blocks and detect-only hits over every tier this page knows of.
    const totals = { blocks: 0, reports: 0, decisions: 0 };
    [audit].concat(Object.values(audit.peers || {})).forEach((a) => {
      const t = (a && a.totals) || {};
      totals.blocks += t.blocks || 0;
      totals.reports += t.reports || 0;
      totals.decisions += t.decisions || 0;
    });
    // Requests: the edge sees every request; without it, the local tier.
    const front = tiers.find((t) => t.tier === "edge") || tiers[0] || {};
    const req = front.requests_total || 0;
    const deny = tiers.reduce((s, t) => s + (t.denials_total || 0), 0) || totals.blocks || 0;
    // Rates from the server's sampled history, so a freshly opened page has them too.
    const history = doc.history || [];
    series.length = 0;
    for (let i = 1; i < history.length; i++) {
      const a = history[i - 1], b = history[i];
      const dt = (b.t - a.t) / 1000;
      if (dt <= 0) continue;
      series.push({ t: b.t, req: Math.max(0, (b.requests - a.requests) / dt), deny: Math.max(0, (b.denials - a.denials) / dt) });
    }
    while (series.length > SAMPLES) series.shift();
    const last = series[series.length - 1];
    $("req-rate").textContent = last ? fmt(last.req) : "–";
    $("deny-rate").textContent = last ? fmt(last.deny) : "–";
    $("req-total").textContent = fmt(req) + " total";
    $("deny-total").textContent = fmt(deny) + " total";
    $("blocks").textContent = fmt(totals.blocks);
    $("reports").textContent = fmt(totals.reports) + " detect-only hits";
    const lat = front.latency_ms;
    const latency = $("latency");
    clear(latency);
    latency.textContent = lat ? fmt(lat.p50) + " / " + fmt(lat.p99) : "–";
    if (lat) latency.appendChild(el("span", "unit", "ms"));
    $("latency-sub").textContent = lat ? "p90 " + fmt(lat.p90) + " ms · " + front.tier : "not measured";
    const local = doc.status.status || {};
    $("generation").textContent = local.config_generation || "–";
    const r = local.last_reload;
    $("reload").textContent = (local.tier || "this tier") + " · " + (r ? (r.applied ? "reload applied " : "reload REFUSED ") + time(r.at) : "no reload yet");
    $("reload").className = "sub" + (r && !r.applied ? " bad" : "");
    $("audit-written").textContent = fmt(audit.written);
    $("audit-dropped").textContent = (local.tier || "this tier") + " · " + (audit.dropped || 0) + " dropped";

    const pills = $("tiers");
    clear(pills);
    tiers.forEach((t) => {
      const pill = el("span", "pill " + (t.ready ? "ok" : "down"), t.tier + " · gen " + (t.config_generation || "?") + (t.version ? " · v" + t.version : ""));
      pill.dataset.tier = t.tier;
      pills.appendChild(pill);
    });
    tierList(tiers);

    const health = $("health");
    clear(health);
    tiers.forEach((t) => {
      (t.health || []).forEach((h) => {
        const row = el("li");
        const name = el("span", null, t.tier + " → " + h.name);
        name.title = h.detail || "";
        row.appendChild(name);
        row.appendChild(el("span", h.healthy ? "ok" : "down", h.healthy ? "healthy" : (h.detail || "down")));
        health.appendChild(row);
      });
    });

    const tops = doc.tops || {};
    bars("top-rules", tops.rules);
    bars("top-routes", tops.routes, "(no route)");
    bars("top-clients", tops.clients);
    bars("top-reasons", tops.reasons, null, explain);
    groups(doc.groups || []);
    chart();
    (doc.peer_events || []).slice().reverse().forEach((e) => eventRow(e, true));
  }

  // One box per tier: state, its own request and denial rates, config and reload.
  function tierList(tiers) {
    const root = $("tier-list");
    clear(root);
    const now = Date.now();
    tiers.forEach((t) => {
      const key = t.peer ? "peer:" + t.peer.name : "local:" + t.tier;
      const prev = previous[key];
      const req = t.requests_total || 0, deny = t.denials_total || 0;
      let reqRate = null, denyRate = null;
      if (prev && now > prev.at) {
        const dt = (now - prev.at) / 1000;
        reqRate = Math.max(0, (req - prev.req) / dt);
        denyRate = Math.max(0, (deny - prev.deny) / dt);
      }
      previous[key] = { at: now, req: req, deny: deny };
      const box = el("div", "tier");
      box.dataset.tier = t.tier;
      const head = el("div", "head");
      head.appendChild(el("span", "name", t.tier));
      const up = !t.peer || t.peer.up;
      head.appendChild(el("span", t.ready ? "ok" : "down", !up ? "down" : t.ready ? "ready" : "not ready"));
      box.appendChild(head);
      const rates = el("div", "rates");
      const r1 = el("span");
      r1.appendChild(el("b", "req-rate", fmt(reqRate)));
      r1.appendChild(el("span", "muted", " req/s"));
      const r2 = el("span");
      r2.appendChild(el("b", "deny-rate", fmt(denyRate)));
      r2.appendChild(el("span", "muted", " denials/s"));
      rates.appendChild(r1);
      rates.appendChild(r2);
      box.appendChild(rates);
      const totals = el("div", "sub totals", fmt(req) + " requests · " + fmt(deny) + " denied");
      totals.dataset.requests = String(req);
      totals.dataset.denials = String(deny);
      box.appendChild(totals);
      const lat = t.latency_ms;
      const r = t.last_reload;
      box.appendChild(el("div", "sub", "config gen " + (t.config_generation || "?") + " · " + (r ? (r.applied ? "reload applied " : "reload REFUSED ") + time(r.at) : "no reload yet") + (lat ? " · p50 " + fmt(lat.p50) + " / p99 " + fmt(lat.p99) + " ms" : "")));
      if (t.peer && !t.peer.up) box.appendChild(el("div", "sub bad", "unreachable: " + (t.peer.error || "no answer")));
      root.appendChild(box);
    });
  }

  function bars(id, list, emptyKey, describe) {
    const ol = $(id);
    clear(ol);
    list = list || [];
    if (!list.length) {
      ol.appendChild(el("li", "muted", "nothing yet"));
      return;
    }
    const max = list[0].count || 1;
    list.forEach((c) => {
      const li = el("li");
      const bar = el("div", "bar");
      bar.style.width = Math.max(2, (100 * c.count) / max) + "%";
      li.appendChild(bar);
      const key = el("span", null, c.key || emptyKey || "–");
      key.title = describe ? c.key + ": " + describe(c.key) : c.key;
      li.appendChild(key);
      li.appendChild(el("span", "n", fmt(c.count)));
      ol.appendChild(li);
    });
  }

  function groups(list) {
    const root = $("groups");
    const useful = list.filter((g) => g.exclusion);
    clear(root);
    if (!useful.length) {
      root.appendChild(el("p", "muted", "No detector denials yet."));
      return;
    }
    useful.forEach((g) => {
      const box = el("div", "group");
      const head = el("div", "head");
      const title = el("div");
      title.appendChild(el("strong", "mono", g.rule));
      title.appendChild(el("span", "muted", " at "));
      title.appendChild(el("span", "mono", g.location));
      head.appendChild(title);
      head.appendChild(el("span", "count", fmt(g.count)));
      box.appendChild(head);
      box.appendChild(el("div", "muted", g.tier + " · route " + (g.route || "(none)") + " · " + g.blocks + " blocked, " + g.reports + " reported · " + g.clients + " client(s) · " + time(g.first_seen) + " → " + time(g.last_seen)));
      const snippet = g.exclusion.route_snippet || g.exclusion.global_snippet;
      const pre = el("pre", null, snippet);
      box.appendChild(pre);
      const copy = el("button", "copy", "Copy exclusion");
      copy.type = "button";
      copy.addEventListener("click", () => {
        const done = () => { copy.textContent = "Copied"; setTimeout(() => (copy.textContent = "Copy exclusion"), 1500); };
        if (navigator.clipboard) navigator.clipboard.writeText(snippet).then(done, () => select(pre));
        else select(pre);
      });
      box.appendChild(copy);
      if (g.exclusion.route_snippet) {
        const alt = el("details");
        alt.appendChild(el("summary", "muted", "for every route instead"));
        alt.appendChild(el("pre", null, g.exclusion.global_snippet));
        box.appendChild(alt);
      }
      root.appendChild(box);
    });
  }

  function select(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach((k) => e.setAttribute(k, attrs[k]));
    return e;
  }
  function chart() {
    const root = $("chart");
    clear(root);
    const W = 600, H = 160, top = 10, bottom = 150;
    const max = Math.max(1, ...series.map((s) => Math.max(s.req, s.deny)));
    [0, 0.5, 1].forEach((f) => {
      const y = bottom - f * (bottom - top);
      root.appendChild(svg("line", { x1: 0, x2: W, y1: y, y2: y, class: "grid" }));
      const label = svg("text", { x: 4, y: y - 3 });
      label.textContent = fmt(max * f) + "/s";
      root.appendChild(label);
    });
    if (series.length < 2) return;
    const x = (i) => (W * (i + SAMPLES - series.length)) / (SAMPLES - 1);
    const y = (v) => bottom - (v / max) * (bottom - top);
    const pts = (k) => series.map((s, i) => x(i).toFixed(1) + "," + y(s[k]).toFixed(1)).join(" ");
    const area = pts("req") + " " + x(series.length - 1).toFixed(1) + "," + bottom + " " + x(0).toFixed(1) + "," + bottom;
    root.appendChild(svg("polygon", { points: area, class: "area" }));
    root.appendChild(svg("polyline", { points: pts("req"), class: "req" }));
    root.appendChild(svg("polyline", { points: pts("deny"), class: "deny" }));
  }

  // ---- events table ----
  function eventRow(e, fresh) {
    const id = [e.tier, e.request_id, e.check, e.rule, e.location, e.timestamp].join("|");
    if (seen.has(id)) return;
    seen.add(id);
    if (seen.size > 4 * MAX_ROWS) seen.delete(seen.values().next().value);
    const tbody = document.querySelector("#events tbody");
    const tr = el("tr", "ev" + (fresh ? " fresh" : ""));
    const action = el("span", "tag " + e.action, e.action);
    const reason = el("span");
    reason.appendChild(el("span", "mono", e.reason));
    reason.appendChild(el("span", "why", explain(e.reason)));
    const cells = [time(e.timestamp), e.tier, action, e.route || "–", e.check + (e.rule ? " / " + e.rule : ""), e.location || "–", reason, e.client, e.request_id];
    tr.dataset.tier = e.tier;
    tr.dataset.reason = e.reason;
    tr.dataset.requestId = e.request_id;
    cells.forEach((c, i) => {
      const td = el("td", i === 6 ? "reason" : i >= 5 ? "mono" : null);
      if (c instanceof Node) td.appendChild(c);
      else td.textContent = String(c);
      if (!(c instanceof Node)) td.title = String(c);
      tr.appendChild(td);
    });
    tr.dataset.search = [e.tier, e.route, e.check, e.rule, e.location, e.reason, e.client, e.request_id, e.principal || ""].join(" ").toLowerCase();
    const detail = el("tr", "detail");
    detail.hidden = true;
    const td = el("td");
    td.colSpan = 9;
    const lines = [e.reason + ": " + explain(e.reason), "trace " + e.trace_id, "score " + e.score + " · status " + e.status + (e.principal ? " · principal " + e.principal : "")].concat(e.explanation || []);
    td.textContent = lines.join("\n");
    detail.appendChild(td);
    tr.addEventListener("click", () => (detail.hidden = !detail.hidden));
    tbody.insertBefore(detail, tbody.firstChild);
    tbody.insertBefore(tr, detail);
    rows++;
    while (rows > MAX_ROWS) {
      tbody.removeChild(tbody.lastChild);
      tbody.removeChild(tbody.lastChild);
      rows--;
    }
    applyFilter(tr, detail);
    $("event-count").textContent = rows + " shown";
  }

  function applyFilter(tr, detail) {
    const q = $("filter").value.trim().toLowerCase();
    tr.hidden = q !== "" && !tr.dataset.search.includes(q);
    if (tr.hidden) detail.hidden = true;
  }

  $("filter").addEventListener("input", () => {
    document.querySelectorAll("#events tbody tr.ev").forEach((tr) => applyFilter(tr, tr.nextSibling));
  });

  // ---- data ----
  fetch("/admin/events?limit=100", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : { events: [] }))
    .then((doc) => (doc.events || []).slice().reverse().forEach((e) => eventRow(e, false)))
    .catch(() => {});

  function connect() {
    const live = $("live");
    const source = new EventSource("/admin/stream");
    source.addEventListener("open", () => { live.className = "live on"; live.textContent = "live"; });
    source.addEventListener("error", () => { live.className = "live off"; live.textContent = "reconnecting…"; });
    source.addEventListener("overview", (m) => { try { onOverview(JSON.parse(m.data)); } catch (e) { /* keep the last view */ } });
    source.addEventListener("audit", (m) => {
      try {
        const e = JSON.parse(m.data);
        if (e.kind === "decision") eventRow(e, true);
      } catch (err) { /* ignore a malformed event */ }
    });
  }
  // Alerts, when this tier serves them: any other answer (404, 501...) hides the panel
  // for good, so a tier without alerts is not asked again.
  function alerts() {
    fetch("/admin/alerts", { credentials: "same-origin" })
      .then((r) => {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then((doc) => {
        // A tier without [alerts] rules says so; the panel stays hidden.
        if (doc && doc.enabled === false) throw new Error("alerts off");
        const list = (Array.isArray(doc) ? doc : doc.alerts || doc.active || []).slice(0, 20);
        const panel = $("alerts-panel");
        const ul = $("alerts");
        clear(ul);
        panel.hidden = false;
        const firing = list.filter((a) => a.status === "firing").length;
        $("alerts-count").textContent = list.length ? firing + " firing · " + list.length + " recent" : "none";
        list.forEach((a) => {
          const state = String(a.status || a.severity || a.level || "firing").toLowerCase();
          const li = el("li", state === "firing" ? "critical" : state);
          const when = a.last_seen || a.timestamp || a.since || a.started_at;
          if (when) li.appendChild(el("span", "when", time(when)));
          li.appendChild(el("strong", null, a.rule || a.name || a.alert || "alert"));
          const what = [a.tier, a.key, a.count !== undefined ? a.count + " hits" : null, state, a.summary || a.message || null].filter((x) => x);
          li.appendChild(el("span", "muted", " · " + what.join(" · ")));
          ul.appendChild(li);
        });
        setTimeout(alerts, 15000);
      })
      .catch(() => { $("alerts-panel").hidden = true; });
  }

  connect();
  chart();
  alerts();
})();
