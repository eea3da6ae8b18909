// One call: live timeline (canvas), alerts, events, and the summary once it finished.
// Live from /ws/call/{id}: a snapshot, then point / event / alert / tile / finished updates.
import { hideToken, el, clock, pct, num, wallTime, endReason, alertKey, follow, pathId,
  prepareCanvas, level } from "/assets/common.js";

hideToken();

const id = pathId();
const WINDOW_S = 180;
const POINTS_KEPT = 3000;
const EVENTS_SHOWN = 200;

let points = [];
let alerts = [];   // newest last
let events = [];   // newest last
let tile = null;
let finished = null;
let gotSnapshot = false;
const shownAt = new Map();

document.getElementById("agent-link").href = `/agent/${encodeURIComponent(id)}`;
document.getElementById("call-title").textContent = id;

const COLOURS = {
  agent: "#6aa5e8", caller: "#d9a86c", agitation: "#e07b7b",
  warn: "#e0a526", critical: "#e05555", grid: "rgba(255,255,255,0.08)", text: "#8d99a6",
};

let drawPending = false;
function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; drawTimeline(); });
}

function drawTimeline() {
  const canvas = document.getElementById("timeline");
  const empty = finished !== null && points.length === 0;
  canvas.hidden = empty;
  document.getElementById("timeline-empty").hidden = !empty;
  if (empty) return;
  const { ctx, w, h } = prepareCanvas(canvas);
  const left = 92, right = 12, bottom = 22;
  const tEnd = Math.max(points.length ? points[points.length - 1].t : 0, tile ? tile.t : 0, WINDOW_S);
  const tStart = tEnd - WINDOW_S;
  const x = (t) => left + (t - tStart) / WINDOW_S * (w - left - right);
  const lanes = [
    { name: "speech", top: 6, height: 44 },
    { name: "loudness dB", top: 62, height: 100, min: -70, max: 0 },
    { name: "pitch Hz", top: 174, height: 100, min: 50, max: 400 },
    { name: "agitation", top: 286, height: h - bottom - 292, min: 0, max: 1 },
  ];
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  // Lane frames and labels.
  for (const lane of lanes) {
    ctx.fillStyle = "rgba(255,255,255,0.025)";
    ctx.fillRect(left, lane.top, w - left - right, lane.height);
    ctx.fillStyle = COLOURS.text;
    ctx.fillText(lane.name, 8, lane.top + lane.height / 2);
    if (lane.min !== undefined) {
      ctx.fillText(String(lane.max), left - 30, lane.top + 7);
      ctx.fillText(String(lane.min), left - 30, lane.top + lane.height - 7);
    }
  }
  // Time grid every 30 s.
  ctx.strokeStyle = COLOURS.grid;
  ctx.fillStyle = COLOURS.text;
  ctx.beginPath();
  for (let t = Math.ceil(Math.max(tStart, 0) / 30) * 30; t <= tEnd; t += 30) {
    const px = Math.round(x(t)) + 0.5;
    ctx.moveTo(px, 6); ctx.lineTo(px, h - bottom);
    if (px < w - right - 16) ctx.fillText(clock(t), px - 12, h - bottom / 2);
  }
  ctx.stroke();
  const visible = points.filter((p) => p.t >= tStart);
  // Speech bars: agent row above, caller row below.
  const barW = Math.max(1, (w - left - right) / (WINDOW_S * 10) + 0.5);
  for (const [who, i] of [["agent", 0], ["caller", 1]]) {
    ctx.fillStyle = COLOURS[who];
    const y0 = lanes[0].top + 4 + i * 20;
    for (const p of visible) if (p[who] && p[who].speech) ctx.fillRect(x(p.t - 0.1), y0, barW, 16);
  }
  // A line per series; `null` values leave gaps.
  const line = (lane, colour, get) => {
    const y = (v) => lane.top + lane.height - (Math.min(Math.max(v, lane.min), lane.max) - lane.min) / (lane.max - lane.min) * lane.height;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let on = false, lastT = null;
    for (const p of visible) {
      const v = get(p);
      if (v === null || v === undefined || !isFinite(v) || (lastT !== null && p.t - lastT > 0.35)) {
        on = false;
      }
      if (v !== null && v !== undefined && isFinite(v)) {
        if (on) ctx.lineTo(x(p.t), y(v)); else ctx.moveTo(x(p.t), y(v));
        on = true;
      }
      lastT = p.t;
    }
    ctx.stroke();
  };
  for (const who of ["agent", "caller"]) {
    line(lanes[1], COLOURS[who], (p) => (p[who] ? p[who].loudness_db : null));
    // Pitch as dots (it is only defined in voiced stretches).
    ctx.fillStyle = COLOURS[who];
    const lane = lanes[2];
    for (const p of visible) {
      const f = p[who] && p[who].f0_hz;
      if (f) {
        const y = lane.top + lane.height - (Math.min(Math.max(f, lane.min), lane.max) - lane.min) / (lane.max - lane.min) * lane.height;
        ctx.fillRect(x(p.t) - 1, y - 1, 2.5, 2.5);
      }
    }
  }
  line(lanes[3], COLOURS.agitation, (p) => (p.caller ? p.caller.agitation : null));
  // Alert markers across every lane.
  for (const a of alerts) {
    if (a.t < tStart) continue;
    const px = Math.round(x(a.t)) + 0.5;
    ctx.strokeStyle = COLOURS[a.severity] || COLOURS.warn;
    ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(px, 6); ctx.lineTo(px, h - bottom); ctx.stroke();
    ctx.fillStyle = ctx.strokeStyle;
    ctx.beginPath(); ctx.moveTo(px - 5, 2); ctx.lineTo(px + 5, 2); ctx.lineTo(px, 10); ctx.fill();
  }
  ctx.lineWidth = 1;
}

function renderNow() {
  const box = document.getElementById("now");
  const stateEl = document.getElementById("call-state");
  if (finished) {
    stateEl.textContent = `finished · ${endReason(finished.end_reason)}`;
    stateEl.dataset.state = "finished";
    document.getElementById("call-title").textContent = finished.label || id;
    box.replaceChildren();
    return;
  }
  if (!tile) return;
  stateEl.textContent = "live";
  stateEl.dataset.state = "live";
  document.getElementById("call-title").textContent = tile.label || id;
  box.replaceChildren(
    el("div", { class: "stat" }, el("span", { class: "k", text: "call time" }), el("b", { text: clock(tile.t) })),
    el("div", { class: "stat" }, el("span", { class: "k", text: "speaking" }),
      el("span", { class: "who agent" + (tile.speaking.agent ? " on" : ""), text: "Agent" }),
      el("span", { class: "who caller" + (tile.speaking.caller ? " on" : ""), text: "Caller" })),
    el("div", { class: "stat" }, el("span", { class: "k", text: "agent talk" }), el("b", { text: pct(tile.talk_ratio_agent) })),
    el("div", { class: "stat" }, el("span", { class: "k", text: "overlap" }), el("b", { text: Math.round(tile.overlap_pct) + "%" })),
    el("div", { class: "stat" }, el("span", { class: "k", text: "agitation" }),
      el("b", { class: "agit", "data-level": level(tile.agitation), text: num(tile.agitation) })),
    el("div", { class: "stat" }, el("span", { class: "k", text: "protocol" }), el("b", { text: tile.protocol })),
    tile.gap_frames > 0 ? el("div", { class: "stat gaps" }, el("span", { class: "k", text: "gap frames" }), el("b", { text: String(tile.gap_frames) })) : "",
  );
}

function renderAlerts() {
  document.getElementById("alert-count").textContent = String(finished && finished.alerts > alerts.length ? finished.alerts : alerts.length);
  const list = document.getElementById("alerts");
  if (alerts.length === 0) {
    list.replaceChildren(el("li", { class: "empty", text: finished ? "No alerts kept for this call." : "No alerts yet." }));
    return;
  }
  list.replaceChildren(...alerts.slice().reverse().map((a) => {
    const key = alertKey(a);
    if (!shownAt.has(key)) shownAt.set(key, Date.now());
    return el("li", { class: `alert sev-${a.severity}`, "data-alert-at": a.at, "data-shown-at": shownAt.get(key), "data-kind": a.kind },
      el("span", { class: "when", text: clock(a.t) }),
      el("span", { class: "sev", text: a.severity }),
      el("span", { class: "msg", text: a.message }),
      el("span", { class: "kind", text: `${a.kind.replaceAll("_", " ")} · ${a.who} · ${wallTime(a.at)}` }));
  }));
}

function renderEvents() {
  const list = document.getElementById("events");
  if (events.length === 0) {
    list.replaceChildren(el("li", { class: "empty", text: finished ? "No events kept for this call." : "No events yet." }));
    return;
  }
  list.replaceChildren(...events.slice(-EVENTS_SHOWN).reverse().map((e) => {
    const who = e.who || e.by || "";
    const dur = isFinite(e.end - e.start) ? `${num(e.end - e.start, 1)} s` : "";
    return el("li", { class: `event kind-${e.kind}` },
      el("span", { class: "when", text: clock(e.start) }),
      el("span", { class: "kind", text: String(e.kind || e.type).replaceAll("_", " ") }),
      el("span", { class: "party", text: who }),
      el("span", { class: "dur", text: dur + (e.class ? ` · ${String(e.class).replaceAll("_", " ")}` : "") }));
  }));
}

function perParty(v, fmt) {
  if (v && typeof v === "object" && ("agent" in v || "caller" in v)) {
    return `agent ${fmt(v.agent)} · caller ${fmt(v.caller)}`;
  }
  return fmt(v);
}

function renderSummary() {
  const section = document.getElementById("summary-section");
  if (!finished) { section.hidden = true; return; }
  section.hidden = false;
  const s = finished.summary || {};
  const c = s.conversation || s; // the conversation figures are top-level fields of the summary
  const g = s.agitation || {};
  const secs = (x) => (x === null || x === undefined ? "–" : `${num(x, 1)} s`);
  const int = (x) => (x === null || x === undefined ? "–" : String(x));
  const rows = [
    ["Call", finished.label || finished.id],
    ["Protocol", finished.protocol],
    ["Started", wallTime(finished.started_at)],
    ["Ended", `${wallTime(finished.ended_at)} (${endReason(finished.end_reason)})`],
    ["Duration", clock(s.duration_s)],
    ["Agent talk ratio", pct(s.talk_ratio_agent)],
    ["Talk time", perParty(c.talk_s, secs)],
    ["Overlap", c.overlap_pct === undefined ? "–" : `${num(c.overlap_pct, 1)}%`],
    ["Interruptions", perParty(c.interruptions, int)],
    ["Backchannels", perParty(c.backchannels, int)],
    ["Turns", perParty(c.turns, int)],
    ["Longest monologue", perParty(c.longest_monologue_s, secs)],
    ["Dead air", c.dead_air_pct === undefined ? "–" : `${num(c.dead_air_pct, 1)}%`],
    ["Median response gap", secs(c.median_response_gap_s)],
    ["Alerts", String(finished.alerts)],
    ["Agitation peak", g.peak === null || g.peak === undefined ? "–" : `${num(g.peak)} at ${clock(g.peak_t)}`],
    ["Agitation, last minute", num(g.last_minute)],
    ["De-escalated", g.de_escalated === null || g.de_escalated === undefined ? "–" : g.de_escalated ? "yes" : "no"],
    ["Agent mean loudness", s.agent && s.agent.mean_loudness_db !== undefined ? `${num(s.agent.mean_loudness_db, 1)} dBFS` : "–"],
    ["Caller mean loudness", s.caller && s.caller.mean_loudness_db !== undefined ? `${num(s.caller.mean_loudness_db, 1)} dBFS` : "–"],
    ["Gap frames (agent / caller)", `${s.agent ? int(s.agent.gap_frames) : "–"} / ${s.caller ? int(s.caller.gap_frames) : "–"}`],
  ];
  if (finished.error) rows.push(["Analysis error", finished.error]);
  if (finished.file) rows.push(["File", finished.file]);
  document.querySelector("#summary tbody").replaceChildren(...rows.map(([k, v]) =>
    el("tr", {}, el("th", { text: k }), el("td", { text: v }))));
}

function renderAll() {
  renderNow();
  renderAlerts();
  renderEvents();
  renderSummary();
  scheduleDraw();
}

function onMessage(msg) {
  switch (msg.type) {
    case "snapshot": {
      gotSnapshot = true;
      const c = msg.call;
      tile = c.tile || null;
      finished = c.finished || null;
      if (c.timeline && c.timeline.length) points = c.timeline.slice(-POINTS_KEPT);
      if (c.alerts && (c.alerts.length || !finished)) alerts = c.alerts;
      if (c.events && (c.events.length || !finished)) events = c.events;
      renderAll();
      break;
    }
    case "point":
      points.push(msg.point);
      if (points.length > POINTS_KEPT) points.splice(0, points.length - POINTS_KEPT);
      scheduleDraw();
      break;
    case "event":
      events.push(msg.event);
      if (events.length > EVENTS_SHOWN * 2) events.splice(0, events.length - EVENTS_SHOWN);
      renderEvents();
      break;
    case "alert":
      if (!alerts.some((a) => alertKey(a) === alertKey(msg.alert))) alerts.push(msg.alert);
      renderAlerts();
      scheduleDraw();
      break;
    case "tile":
    case "opened":
      tile = msg.call;
      renderNow();
      break;
    case "finished":
      finished = msg.call;
      renderAll();
      break;
    default:
      break;
  }
}

function missing() {
  document.getElementById("missing").hidden = false;
}

window.addEventListener("resize", scheduleDraw);
renderAll();
follow(`/ws/call/${encodeURIComponent(id)}`, onMessage, () => finished === null, () => {
  if (!gotSnapshot) missing();
});
