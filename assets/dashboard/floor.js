// The call floor: a tile per live call (attention first), recently finished calls below.
// Live from /ws/floor: a snapshot, then opened / tile / alert / finished updates.
import { hideToken, el, clock, pct, num, wallTime, endReason, alertKey, follow, sparkline,
  level } from "/assets/common.js";

hideToken();

const FINISHED_SHOWN = 50;
const tiles = new Map();      // id -> CallTile
const nodes = new Map();      // id -> tile element
let finished = [];            // FinishedCall, newest first
// When each alert first appeared on this page (Date.now() ms), by call and alert key, so a
// re-render keeps the first time (the tests measure alert-to-screen delay with it).
const shownAt = new Map();

const liveBox = document.getElementById("live");

function markShown(id, alert) {
  const key = `${id}|${alertKey(alert)}`;
  if (!shownAt.has(key)) shownAt.set(key, Date.now());
  return shownAt.get(key);
}

function tileNode(id) {
  let node = nodes.get(id);
  if (!node) {
    node = el("article", { class: "tile", "data-call": id });
    nodes.set(id, node);
    liveBox.append(node); // in the page before drawing, so the canvas has its CSS size
  }
  return node;
}

function renderTile(tile) {
  const node = tileNode(tile.id);
  const a = tile.latest_alert;
  node.className = "tile" + (a ? ` sev-${a.severity}` : "");
  node.dataset.attention = tile.attention;
  const link = `/call/${encodeURIComponent(tile.id)}`;
  const agentLink = `/agent/${encodeURIComponent(tile.id)}`;
  const spark = el("canvas", { class: "spark", width: 180, height: 36 });
  const children = [
    el("div", { class: "tile-head" },
      el("a", { class: "label", href: link, title: tile.id, text: tile.label || tile.id }),
      el("span", { class: "proto", text: tile.protocol }),
      el("span", { class: "elapsed", title: "call time analysed", text: clock(tile.t) })),
    el("div", { class: "speakers" },
      el("span", { class: "who agent" + (tile.speaking.agent ? " on" : ""), "data-on": tile.speaking.agent ? "1" : "0", text: "Agent" }),
      el("span", { class: "who caller" + (tile.speaking.caller ? " on" : ""), "data-on": tile.speaking.caller ? "1" : "0", text: "Caller" })),
    el("div", { class: "figures" },
      el("span", { class: "fig talk-ratio", title: "agent share of talk time" }, el("b", { text: pct(tile.talk_ratio_agent) }), " agent talk"),
      el("span", { class: "fig overlap", title: "overlap of speech" }, el("b", { text: Math.round(tile.overlap_pct) + "%" }), " overlap")),
    el("div", { class: "agitation-row" },
      el("span", { class: "agitation", title: "caller agitation now" },
        el("span", { class: "dot", "data-level": level(tile.agitation) }),
        el("b", { text: num(tile.agitation) }), " agitation"),
      spark),
  ];
  if (a) {
    const shown = markShown(tile.id, a);
    children.push(el("div", {
      class: `latest-alert sev-${a.severity}`, "data-alert-at": a.at, "data-shown-at": shown,
      "data-kind": a.kind, title: `${a.kind} (${a.who}) at ${clock(a.t)}`,
    }, el("span", { class: "msg", text: a.message }), el("span", { class: "when", text: clock(a.t) })));
  } else {
    children.push(el("div", { class: "latest-alert none", text: "No alerts" }));
  }
  const foot = [el("span", { class: "alert-count", text: `${tile.alerts} alert${tile.alerts === 1 ? "" : "s"}` })];
  if (tile.gap_frames > 0) foot.push(el("span", { class: "gaps", title: "audio frames lost on the way", text: `${tile.gap_frames} gap frames` }));
  foot.push(el("a", { class: "agent-link", href: agentLink, text: "agent view" }));
  children.push(el("div", { class: "tile-foot" }, ...foot));
  node.replaceChildren(...children);
  sparkline(spark, tile.trend || []);
}

function order() {
  const sorted = [...tiles.values()].sort((a, b) =>
    (b.attention - a.attention) || (a.started_at - b.started_at));
  sorted.forEach((t, i) => {
    const node = nodes.get(t.id);
    if (node && liveBox.children[i] !== node) liveBox.insertBefore(node, liveBox.children[i] || null);
  });
  document.getElementById("live-count").textContent = String(tiles.size);
  document.getElementById("live-empty").hidden = tiles.size > 0;
}

function removeTile(id) {
  tiles.delete(id);
  const node = nodes.get(id);
  if (node) node.remove();
  nodes.delete(id);
}

function summaryOf(f) {
  return f.summary || {};
}

function interruptions(s) {
  const i = (s.conversation || s).interruptions;
  if (!i) return "–";
  return `${i.agent ?? "–"} / ${i.caller ?? "–"}`;
}

function renderFinished() {
  const table = document.getElementById("finished");
  const body = table.querySelector("tbody");
  document.getElementById("finished-empty").hidden = finished.length > 0;
  table.hidden = finished.length === 0;
  body.replaceChildren(...finished.map((f) => {
    const s = summaryOf(f);
    const peak = s.agitation ? s.agitation.peak : null;
    return el("tr", { "data-call": f.id, class: f.error ? "failed" : "" },
      el("td", {}, el("a", { href: `/call/${encodeURIComponent(f.id)}`, text: f.label || f.id })),
      el("td", { text: f.protocol }),
      el("td", { class: "duration", text: clock(s.duration_s) }),
      el("td", { text: pct(s.talk_ratio_agent) }),
      el("td", { text: interruptions(s) }),
      el("td", { class: "alerts", text: String(f.alerts) }),
      el("td", {}, el("span", { class: "peak", "data-level": level(peak), text: num(peak) })),
      el("td", { title: f.error || "", text: `${wallTime(f.ended_at)} · ${endReason(f.end_reason)}` }),
      el("td", {}, el("a", { href: `/call/${encodeURIComponent(f.id)}`, text: "details" })));
  }));
}

// Tile updates arrive about twice a second per call: they are drawn once per animation frame.
const pending = new Set();
let framePending = false;
function later(id) {
  pending.add(id);
  if (framePending) return;
  framePending = true;
  requestAnimationFrame(() => {
    framePending = false;
    for (const pid of pending) {
      const t = tiles.get(pid);
      if (t) renderTile(t);
    }
    pending.clear();
    order();
  });
}

function onMessage(msg) {
  switch (msg.type) {
    case "snapshot": {
      const live = msg.floor.live || [];
      for (const id of [...tiles.keys()]) if (!live.some((t) => t.id === id)) removeTile(id);
      for (const t of live) { tiles.set(t.id, t); renderTile(t); }
      finished = (msg.floor.finished || []).slice(0, FINISHED_SHOWN);
      order();
      renderFinished();
      break;
    }
    case "opened":
    case "tile": {
      const t = msg.call;
      if (finished.some((f) => f.id === t.id)) break; // a late tile after "finished"
      tiles.set(t.id, t);
      later(t.id);
      break;
    }
    case "alert": {
      const t = tiles.get(msg.call);
      if (!t) break;
      const cur = t.latest_alert;
      if (!cur || msg.alert.at >= cur.at) {
        if (!cur || alertKey(cur) !== alertKey(msg.alert)) t.alerts = (t.alerts || 0) + 1;
        t.latest_alert = msg.alert;
        later(t.id);
      }
      break;
    }
    case "finished": {
      const f = msg.call;
      removeTile(f.id);
      finished = [f, ...finished.filter((x) => x.id !== f.id)].slice(0, FINISHED_SHOWN);
      order();
      renderFinished();
      break;
    }
    default:
      break;
  }
}

order();
renderFinished();
follow("/ws/floor", onMessage);
