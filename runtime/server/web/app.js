// Podium's web chat: a goal per message, the run's task graph and timeline live beside it.
// Talks to `podium serve` only: POST /runs, the run's SSE stream (read with fetch so the API
// key can travel in a header), GET /runs/{id}, POST /runs/{id}/escalations/{id}.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = {
  waiting: "#c7ccd4", running: "#f2b33d", retrying: "#f2b33d", completed: "#3fae6a",
  failed: "#d9534f", skipped: "#9b7fd1", escalated: "#3b82f6",
};
const TERMINAL = new Set(["completed", "failed", "budget_exceeded", "cancelled"]);

const $ = (id) => document.getElementById(id);
const state = {
  token: localStorage.getItem("podium-token") || "",
  turns: JSON.parse(localStorage.getItem("podium-turns") || "[]"),
  run: null, // {id, goal, seq, plan, tasks: Map, started, finished, bubble, status}
  clock: null,
};

// -- HTTP ------------------------------------------------------------------------------

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  if (state.token) h["Authorization"] = "Bearer " + state.token;
  return h;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    $("key-form").hidden = false;
    $("key-input").focus();
    throw new Error("This server needs an API key: enter it above.");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (data.error && data.error.message) || (data.detail && JSON.stringify(data.detail)) || response.statusText;
    throw new Error(message);
  }
  return data;
}

// Server-sent events over fetch: EventSource cannot send an Authorization header.
async function follow(run) {
  const response = await fetch(`/runs/${run.id}/events?after=${run.seq}`, { headers: headers(false) });
  if (!response.ok) throw new Error(`events: ${response.status} ${response.statusText}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let id = null, data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("id:")) id = Number(line.slice(3).trim());
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (!data) continue;
      if (id !== null) run.seq = id;
      apply(run, JSON.parse(data));
    }
  }
}

// -- events -> what the page shows -------------------------------------------------------

function task(run, id) {
  if (!run.tasks.has(id)) run.tasks.set(id, { id, agent: "", inputs: [], state: "waiting", start: null, end: null, note: "" });
  return run.tasks.get(id);
}

function apply(run, event) {
  const at = event.at * 1000;
  switch (event.kind) {
    case "run_started":
      run.started = run.started || at;
      run.finished = null;
      setStatus(run, event.resumed ? "resumed" : "running");
      logLine(event.resumed ? "run resumed" : "run started");
      break;
    case "plan_created":
      run.plan = event.plan;
      run.playbook = event.playbook || run.playbook || null;
      for (const t of event.plan.tasks) Object.assign(task(run, t.id), { agent: t.agent, inputs: t.inputs, instruction: t.instruction });
      logLine(`plan${event.revision ? " (revision " + event.revision + ")" : ""}: ${event.plan.tasks.length} tasks` + (event.playbook ? ` from playbook ${event.playbook}` : ""));
      break;
    case "task_started": {
      const t = task(run, event.task_id);
      Object.assign(t, { state: "running", start: t.start || at, end: null, note: event.tier });
      logLine(`▶ ${event.task_id} [${event.agent}] on ${event.tier}`);
      break;
    }
    case "task_completed": {
      const t = task(run, event.task_id);
      Object.assign(t, { state: "completed", end: at, start: t.start || at - event.duration_s * 1000 });
      t.note = `${event.model || ""} · ${event.usage.input_tokens + event.usage.output_tokens} tok`;
      run.tokens = (run.tokens || 0) + event.usage.input_tokens + event.usage.output_tokens;
      logLine(`✓ ${event.task_id} (${t.note})`);
      break;
    }
    case "task_failed": {
      const t = task(run, event.task_id);
      Object.assign(t, { state: event.will_retry ? "retrying" : "failed", note: event.error.slice(0, 80) });
      if (!event.will_retry) t.end = at;
      logLine(`✗ ${event.task_id}: ${event.error.slice(0, 120)}`);
      break;
    }
    case "task_skipped":
      Object.assign(task(run, event.task_id), { state: "skipped", end: at });
      logLine(`– ${event.task_id} skipped`);
      break;
    case "replanned":
      logLine(`re-planned: ${event.reason.slice(0, 120)}`);
      break;
    case "escalation":
      if (event.task_id) Object.assign(task(run, event.task_id), { state: "escalated", end: at });
      logLine(`? ${event.question}`);
      break;
    case "tool_called":
      logLine(`tool ${event.tool}: ${event.decision}`);
      break;
    case "run_finished":
      run.finished = at;
      run.status = event.status;
      run.usage = event.usage;
      setStatus(run, event.status);
      finish(run, event);
      break;
  }
  draw(run);
}

function finish(run, event) {
  const bubble = run.bubble;
  if (event.status === "completed") {
    bubble.classList.remove("error");
    setBubble(bubble, event.answer || "(no answer)", `answer · ${usageText(event.usage)}`);
    state.turns.push({ role: "user", content: run.goal }, { role: "assistant", content: event.answer || "" });
    saveTurns();
  } else if (event.status === "waiting_for_human") {
    setBubble(bubble, "The run needs your answer before it can go on.", "waiting for you");
    showEscalations(run).catch(showError);
  } else {
    bubble.classList.add("error");
    setBubble(bubble, event.error || event.status, `run ${event.status}`);
  }
}

function usageText(usage) {
  const tokens = usage.input_tokens + usage.output_tokens;
  return `${usage.calls} calls · ${tokens} tokens · $${usage.cost_usd.toFixed(4)}`;
}

async function showEscalations(run) {
  const detail = await api("GET", `/runs/${run.id}`);
  for (const esc of detail.escalations) {
    const li = element("li", "escalation");
    li.dataset.escalation = esc.id;
    li.append(element("span", "meta", `${esc.reason} · ${esc.agent || "run"}${esc.task_id ? " · task " + esc.task_id : ""}`));
    li.append(element("div", "question", esc.question));
    const shown = esc.payload.output !== undefined ? esc.payload.output : esc.payload.arguments;
    if (shown) li.append(element("pre", "", typeof shown === "string" ? shown : JSON.stringify(shown, null, 2)));
    const actions = element("div", "actions");
    // The server lists the decisions this escalation takes: the one vocabulary of every interface.
    for (const decision of esc.decisions) actions.append(decisionButton(run, esc, li, decision));
    li.append(actions);
    $("messages").append(li);
  }
  scrollDown();
}

// A decision's button; edit, instruct and answer first ask for their text in a box.
const WITH_TEXT = {
  edit: { label: "Edit…", field: "output", send: "Use this text" },
  instruct: { label: "Instruct…", field: "instructions", send: "Run it again with these instructions" },
  answer: { label: "Answer…", field: "text", send: "Send the answer" },
};

function decisionButton(run, esc, li, decision) {
  const label = decision.charAt(0).toUpperCase() + decision.slice(1);
  const withText = WITH_TEXT[decision];
  if (!withText) return button(label, decision, () => answer(run, esc, li, { decision }));
  const open = button(withText.label, "", () => {
    const box = element("textarea");
    box.value = decision === "edit" ? esc.payload.output || "" : "";
    box.rows = 4;
    const send = button(withText.send, "primary", () => answer(run, esc, li, { decision, [withText.field]: box.value }));
    li.append(box, send);
    open.disabled = true;
    box.focus();
  });
  return open;
}

async function answer(run, esc, li, body) {
  for (const b of li.querySelectorAll("button")) b.disabled = true;
  try {
    await api("POST", `/runs/${run.id}/escalations/${encodeURIComponent(esc.id)}`, body);
    li.append(element("span", "meta", `you chose: ${body.decision}`));
    run.bubble = element("li", "assistant");  // what follows goes below the question
    $("messages").append(run.bubble);
    setBubble(run.bubble, "Continuing…", `run ${run.id} · ${body.decision}`);
    if (esc.task_id) Object.assign(task(run, esc.task_id), { state: "running", end: null });
    draw(run);
    await follow(run);
  } catch (err) {
    for (const b of li.querySelectorAll("button")) b.disabled = false;
    showError(err);
  }
}

// -- drawing ---------------------------------------------------------------------------

function layers(run) {
  const depth = new Map();
  const order = run.plan ? run.plan.tasks.map((t) => t.id) : [...run.tasks.keys()];
  const visit = (id, seen) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const t = run.tasks.get(id);
    const d = t && t.inputs.length ? 1 + Math.max(...t.inputs.map((i) => visit(i, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  for (const id of order) visit(id, new Set());
  const columns = [];
  for (const id of order) (columns[depth.get(id)] = columns[depth.get(id)] || []).push(id);
  return columns;
}

function draw(run) {
  drawGraph(run);
  drawTimeline(run);
}

function drawGraph(run) {
  const svg = $("graph");
  svg.replaceChildren();
  const columns = layers(run);
  $("graph-empty").hidden = columns.length > 0;
  // Which playbook gave the plan, and why (textContent: the label is shown as written).
  $("graph-playbook").hidden = !run.playbook;
  $("graph-playbook").textContent = run.playbook ? `playbook ${run.playbook}` : "";
  if (!columns.length) { svg.setAttribute("width", 0); svg.setAttribute("height", 0); return; }
  const W = 150, H = 48, GX = 60, GY = 18, PAD = 10;
  const pos = new Map();
  columns.forEach((col, x) => col.forEach((id, y) => pos.set(id, { x: PAD + x * (W + GX), y: PAD + y * (H + GY) })));
  const width = PAD * 2 + columns.length * W + (columns.length - 1) * GX;
  const height = PAD * 2 + Math.max(...columns.map((c) => c.length)) * (H + GY) - GY;
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const defs = svgEl("defs");
  const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8a93a3" }));
  defs.append(marker);
  svg.append(defs);
  for (const t of run.tasks.values()) {
    for (const input of t.inputs) {
      const a = pos.get(input), b = pos.get(t.id);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x - 2, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
      svg.append(svgEl("path", { class: "edge", d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`, "marker-end": "url(#arrow)", "data-from": input, "data-to": t.id }));
    }
  }
  for (const [id, p] of pos) {
    const t = run.tasks.get(id);
    const g = svgEl("g", { class: `node ${t.state}`, transform: `translate(${p.x} ${p.y})`, "data-task": id, "data-state": t.state });
    const title = svgEl("title");
    title.textContent = `${id} [${t.agent}] ${t.state}\n${t.instruction || ""}\n${t.note || ""}`;
    g.append(title, svgEl("rect", { width: W, height: H, rx: 8, fill: COLORS[t.state] || COLORS.waiting }));
    const label = svgEl("text", { x: 10, y: 19, class: "id" });
    label.textContent = `${id}  ·  ${t.agent}`;
    const sub = svgEl("text", { x: 10, y: 37, class: "sub" });
    sub.textContent = t.state === "completed" || t.state === "running" ? shorten(t.note || t.state, 24) : t.state;
    g.append(label, sub);
    svg.append(g);
  }
  const done = [...run.tasks.values()].filter((t) => t.state === "completed").length;
  $("graph-caption").textContent = `${done}/${run.tasks.size} done`;
}

function drawTimeline(run) {
  const svg = $("timeline");
  svg.replaceChildren();
  const rows = [...run.tasks.values()].filter((t) => t.start);
  if (!run.started) { svg.setAttribute("height", 0); return; }
  const now = run.finished || Date.now();
  const span = Math.max(now - run.started, 1);
  const width = svg.clientWidth || 400, LEFT = 70, ROW = 20, height = 24 + rows.length * ROW;
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const scale = (ms) => LEFT + ((ms - run.started) / span) * (width - LEFT - 10);
  svg.append(svgEl("line", { class: "axis", x1: LEFT, y1: 4, x2: LEFT, y2: height - 4 }));
  rows.sort((a, b) => a.start - b.start).forEach((t, i) => {
    const y = 8 + i * ROW;
    const label = svgEl("text", { x: 4, y: y + 11 });
    label.textContent = t.id;
    const x = scale(t.start);
    const bar = svgEl("rect", { x, y, height: 14, rx: 3, width: Math.max(scale(t.end || now) - x, 2), fill: COLORS[t.state] || COLORS.waiting, "data-task": t.id });
    svg.append(label, bar);
  });
  $("timeline-caption").textContent = `${((now - run.started) / 1000).toFixed(1)} s`;
}

// -- chat ------------------------------------------------------------------------------

async function send(goal) {
  const user = element("li", "user", goal);
  $("messages").append(user);
  const bubble = element("li", "assistant");
  setBubble(bubble, "Queued…", "podium");
  $("messages").append(bubble);
  scrollDown();
  try {
    const accepted = await api("POST", "/runs", { goal, conversation: state.turns.slice(-12) });
    const run = { id: accepted.run_id, goal, seq: -1, plan: null, tasks: new Map(), started: null, finished: null, bubble, status: "queued" };
    bubble.dataset.run = run.id;
    state.run = run;
    $("log").replaceChildren();
    setBubble(bubble, "Working on it…", `run ${run.id}`);
    draw(run);
    await follow(run);
  } catch (err) {
    bubble.classList.add("error");
    setBubble(bubble, err.message, "refused");
  }
}

function setStatus(run, status) {
  run.status = status;
  $("run-status").textContent = `run ${run.id}: ${status}`;
  document.body.dataset.runStatus = status;
}

function setBubble(li, text, meta) {
  li.replaceChildren(element("span", "meta", meta), document.createTextNode(text));
  scrollDown();
}

function logLine(text) {
  const li = element("li", "", text);
  $("log").append(li);
  $("log").scrollTop = $("log").scrollHeight;
}

function showError(err) {
  const li = element("li", "assistant error", err.message || String(err));
  $("messages").append(li);
  scrollDown();
}

function element(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(text, cls, onClick) {
  const b = element("button", cls, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function svgEl(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function shorten(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }
function scrollDown() { $("messages").scrollTop = $("messages").scrollHeight; }
function saveTurns() { localStorage.setItem("podium-turns", JSON.stringify(state.turns.slice(-24))); }

document.addEventListener("DOMContentLoaded", () => {
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const goal = $("goal").value.trim();
    if (!goal) return;
    $("goal").value = "";
    send(goal);
  });
  $("goal").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("key-input").value.trim();
    localStorage.setItem("podium-token", state.token);
    $("key-form").hidden = true;
  });
  $("new-chat").addEventListener("click", () => {
    state.turns = [];
    saveTurns();
    $("messages").replaceChildren();
  });
  state.clock = setInterval(() => {
    if (state.run && !TERMINAL.has(state.run.status) && state.run.started) drawTimeline(state.run);
  }, 250);
});
