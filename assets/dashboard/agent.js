// The agent's page: the browser twin of the terminal agent view. Large and calm: who is
// speaking, the caller's agitation with its trend, the talk ratio, and the latest coaching
// message in its severity colour, fading after about ten seconds.
import { hideToken, alertKey, follow, pathId, num, level, clock } from "/assets/common.js";

hideToken();

const id = pathId();
const FADE_AFTER_MS = 10000;
let finished = false;
let shownKey = null;
let fadeTimer = null;

function setWho(node, on) {
  node.classList.toggle("on", !!on);
  node.dataset.on = on ? "1" : "0";
}

/** Trend of the last ten seconds of agitation: the newest value against the mean of the
 * values 8–12 s before; an arrow and a word. */
function trend(values) {
  const vals = values || [];
  const now = vals.length ? vals[vals.length - 1] : null;
  const before = vals.slice(-13, -8).filter((v) => v !== null && v !== undefined);
  if (now === null || now === undefined || before.length === 0) return ["→", "steady"];
  const d = now - before.reduce((a, b) => a + b, 0) / before.length;
  if (d > 0.05) return ["↗", "rising"];
  if (d < -0.05) return ["↘", "falling"];
  return ["→", "steady"];
}

function renderTile(tile) {
  document.getElementById("call-title").textContent = tile.label || id;
  setWho(document.getElementById("who-agent"), tile.speaking.agent);
  setWho(document.getElementById("who-caller"), tile.speaking.caller);
  const fill = document.getElementById("gauge-fill");
  const a = tile.agitation;
  // Width set through the CSSOM (allowed by the style-src policy, unlike inline style attributes).
  fill.style.width = a === null || a === undefined ? "0%" : `${Math.round(Math.min(Math.max(a, 0), 1) * 100)}%`;
  fill.dataset.level = level(a);
  document.getElementById("gauge-value").textContent = num(a);
  const [arrow, word] = trend(tile.trend);
  const t = document.getElementById("trend");
  t.textContent = arrow;
  t.dataset.trend = word;
  t.title = `agitation ${word}`;
  const r = tile.talk_ratio_agent;
  document.getElementById("ratio-agent").style.width = r === null || r === undefined ? "0%" : `${Math.round(r * 100)}%`;
  document.getElementById("ratio-text").textContent =
    r === null || r === undefined ? "–" : `You ${Math.round(r * 100)}% · Caller ${100 - Math.round(r * 100)}%`;
  if (tile.latest_alert) showCoaching(tile.latest_alert);
}

function showCoaching(alert) {
  const key = alertKey(alert);
  if (key === shownKey) return;
  // An alert older than the fade time (seen in a snapshot) is not shown as fresh.
  const age = Date.now() - alert.at * 1000;
  shownKey = key;
  const box = document.getElementById("coaching");
  box.className = `coaching sev-${alert.severity}`;
  box.dataset.alertAt = alert.at;
  box.dataset.shownAt = Date.now();
  box.dataset.kind = alert.kind;
  document.getElementById("coaching-message").textContent = alert.message;
  document.getElementById("coaching-time").textContent = `${alert.severity === "critical" ? "Important" : "Tip"} · at ${clock(alert.t)}`;
  clearTimeout(fadeTimer);
  const remaining = Math.max(0, FADE_AFTER_MS - Math.max(0, age));
  fadeTimer = setTimeout(() => box.classList.add("faded"), remaining);
}

function onMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      if (msg.call.tile) renderTile(msg.call.tile);
      if (msg.call.finished) end();
      break;
    case "tile":
    case "opened":
      renderTile(msg.call);
      break;
    case "alert":
      showCoaching(msg.alert);
      break;
    case "finished":
      end();
      break;
    default:
      break;
  }
}

function end() {
  finished = true;
  document.getElementById("ended").hidden = false;
  setWho(document.getElementById("who-agent"), false);
  setWho(document.getElementById("who-caller"), false);
}

follow(`/ws/call/${encodeURIComponent(id)}`, onMessage, () => !finished, () => {
  const e = document.getElementById("ended");
  e.textContent = "No such call.";
  e.hidden = false;
});
