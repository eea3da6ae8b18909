// Shared helpers of the callpulse pages: DOM building, formatting, the live socket with
// reconnection, and small canvas drawings. Plain ES module, no dependencies.

/** Removes `?token=` from the address bar (the page already set the cookie). */
export function hideToken() {
  const url = new URL(location.href);
  if (url.searchParams.has("token")) {
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

/** Creates an element: `el("div", {class: "x", "data-call": id}, child, "text", ...)`. */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Call time or a duration as m:ss (h:mm:ss past an hour). */
export function clock(seconds) {
  if (seconds === undefined || seconds === null || !isFinite(seconds)) return "–";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return (h > 0 ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
}

/** A fraction in [0, 1] as a whole percentage, or "–". */
export function pct(x) {
  return x === undefined || x === null || !isFinite(x) ? "–" : Math.round(x * 100) + "%";
}

/** A number with `digits` decimals, or "–". */
export function num(x, digits = 2) {
  return x === undefined || x === null || !isFinite(x) ? "–" : Number(x).toFixed(digits);
}

/** Wall-clock time of a Unix-seconds instant, HH:MM:SS. */
export function wallTime(unix) {
  if (!unix) return "–";
  return new Date(unix * 1000).toLocaleTimeString([], { hour12: false });
}

/** An end reason (`{reason, detail}`) in words. */
export function endReason(r) {
  if (!r) return "–";
  const words = { completed: "completed", disconnected: "disconnected",
    protocol_error: "protocol error", shutdown: "server shutdown" };
  const base = words[r.reason] || String(r.reason || "–");
  return r.detail ? `${base}: ${r.detail}` : base;
}

/** A stable key of an alert (the same alert seen in a snapshot and an update). */
export function alertKey(a) {
  return `${a.kind}@${a.t}@${a.at}`;
}

/** The call id in a `/call/{id}` or `/agent/{id}` path. */
export function pathId() {
  const parts = location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] || "");
}

/**
 * Follows a live-update socket: calls `onMessage(obj)` for each JSON message, reconnects
 * with backoff (0.5 s doubling to 10 s) when it drops, and shows the state in `#conn`.
 * `shouldReconnect()` may return false to stop (e.g. the call finished).
 * `onGiveUp()` is called if the socket never opens three times in a row.
 */
export function follow(path, onMessage, shouldReconnect = () => true, onGiveUp = null) {
  const conn = document.getElementById("conn");
  const show = (state, text) => {
    if (conn) { conn.dataset.state = state; conn.textContent = text; }
  };
  let delay = 500;
  let failures = 0;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${path}`);
    let opened = false;
    ws.onopen = () => { opened = true; failures = 0; delay = 500; show("live", "connected"); };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      onMessage(msg);
    };
    ws.onclose = () => {
      if (!shouldReconnect()) { show("closed", "ended"); return; }
      if (!opened) failures += 1;
      if (failures >= 3 && onGiveUp) { show("closed", "unavailable"); onGiveUp(); return; }
      show("down", `reconnecting in ${Math.round(delay / 100) / 10} s`);
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  open();
}

/** Sizes a canvas's backing store to its CSS size times the pixel ratio; returns the 2-D
 * context scaled so drawing uses CSS pixels, and the CSS width and height. */
export function prepareCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

/** The colour of an agitation value in [0, 1]: calm teal, amber, muted red. */
export function agitationColour(x) {
  if (x === null || x === undefined) return "#6b7785";
  if (x < 0.4) return "#4fb3a9";
  if (x < 0.7) return "#e0a526";
  return "#e05555";
}

/** The level of an agitation value for styling: none, low, mid, high. */
export function level(x) {
  if (x === null || x === undefined || !isFinite(x)) return "none";
  return x < 0.4 ? "low" : x < 0.7 ? "mid" : "high";
}

/** Draws a sparkline of values in [0, 1] (`null` = gap) on `canvas`. */
export function sparkline(canvas, values) {
  const { ctx, w, h } = prepareCanvas(canvas);
  ctx.strokeStyle = "rgba(255,255,255,0.08)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(0, h * 0.3 + 0.5); ctx.lineTo(w, h * 0.3 + 0.5);
  ctx.stroke();
  const n = Math.max(values.length, 60);
  const x = (i) => (i + (n - values.length)) * (w - 2) / (n - 1) + 1;
  const y = (v) => h - 2 - v * (h - 4);
  ctx.lineWidth = 1.5;
  ctx.lineJoin = "round";
  let last = null;
  ctx.beginPath();
  let drawing = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined || !isFinite(v)) { drawing = false; return; }
    if (drawing) ctx.lineTo(x(i), y(v)); else ctx.moveTo(x(i), y(v));
    drawing = true;
    last = v;
  });
  ctx.strokeStyle = agitationColour(last);
  ctx.stroke();
}
