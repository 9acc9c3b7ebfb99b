// Podium's web chat: a goal per message; the run's task graph, task outputs, answer and
// timeline beside it; your earlier runs in a list to reopen. Talks to `podium serve` only:
// POST /runs, GET /runs, GET /runs/{id}, the run's SSE stream (read with fetch so the API key
// can travel in a header), POST /runs/{id}/escalations/{id}.
// The chat survives a reload: its entries (run ids and what was asked) are kept in
// localStorage, and each run's state is read back from the server.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = {
  waiting: "#c7ccd4", running: "#f2b33d", retrying: "#f2b33d", completed: "#3fae6a",
  failed: "#d9534f", skipped: "#9b7fd1", escalated: "#3b82f6",
};
const TERMINAL = new Set(["completed", "failed", "budget_exceeded", "cancelled"]);
const ACTIVE = new Set(["queued", "running", "resumed"]);
const CLIP_CHARS = 320; // long text is cut here in the detail, with a marker and "Show all",
const CLIP_LINES = 8; // or after this many lines, whichever comes first
const CELL_CHARS = 90; // and here in the tasks table
const CHAT_KEY = "podium-chat";
const WIDE = window.matchMedia("(min-width: 1100px)");

const $ = (id) => document.getElementById(id);
const state = {
  token: localStorage.getItem("podium-token") || "",
  chat: [], // [{run, request, status, answer, error}], this API key's (`loadChat`)
  runs: new Map(), // run id -> the run as the page knows it
  current: null, // the run shown beside the chat
  selected: null, // the task whose detail is open
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
    const err = new Error(message);
    err.status = response.status;
    throw err;
  }
  return data;
}

// Server-sent events over fetch: EventSource cannot send an Authorization header.
async function follow(run, onEvent = apply) {
  run.following = true;
  try {
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
        onEvent(run, JSON.parse(data));
      }
    }
  } finally {
    run.following = false;
  }
  // The stream ends once the server has put the run to rest: its stored result is complete.
  if (onEvent === apply && !ACTIVE.has(run.status)) {
    await refresh(run);
    if (run.status === "waiting_for_human") await showEscalations(run);
    await loadRunList();
  }
}

// -- runs and tasks as the page knows them ----------------------------------------------

function runOf(id, request) {
  if (!state.runs.has(id)) {
    state.runs.set(id, {
      id, request: request || "", seq: -1, plan: null, playbook: null, tasks: new Map(),
      started: null, finished: null, status: "queued", answer: null, error: null, usage: null,
      log: [], following: false,
    });
  }
  return state.runs.get(id);
}

function task(run, id) {
  if (!run.tasks.has(id)) {
    run.tasks.set(id, {
      id, agent: "", instruction: "", inputs: [], state: "waiting", start: null, end: null, note: "",
      output: null, error: null, model: null, routes: [], usage: null, verdicts: [], tools: [],
      rejected: null, approvedBy: null, inPlan: true,
    });
  }
  return run.tasks.get(id);
}

// A run's events, applied in order: live, or replayed from the server's log after a reload.
function apply(run, event) {
  const at = event.at * 1000;
  switch (event.kind) {
    case "run_queued":
      if (!run.started) setStatus(run, "queued");
      break;
    case "run_started":
      run.started = run.started || at;
      run.finished = null;
      setStatus(run, event.resumed ? "resumed" : "running");
      logLine(run, event.resumed ? "run resumed" : "run started");
      break;
    case "plan_created":
      usePlan(run, event.plan);
      run.playbook = event.playbook || run.playbook || null;
      logLine(run, `plan${event.revision ? " (revision " + event.revision + ")" : ""}: ${event.plan.tasks.length} tasks` + (event.playbook ? ` from playbook ${event.playbook}` : ""));
      break;
    case "task_started": {
      const t = task(run, event.task_id);
      Object.assign(t, { state: "running", start: t.start || at, end: null, note: event.tier });
      t.routes.push({ attempt: event.attempt, tier: event.tier, model: null, reason: event.reason, outcome: "running" });
      logLine(run, `▶ ${event.task_id} [${event.agent}] on ${event.tier}`);
      break;
    }
    case "task_completed":
      taskCompleted(run, event, at);
      break;
    case "task_failed": {
      const t = task(run, event.task_id);
      Object.assign(t, { state: event.will_retry ? "retrying" : "failed", note: event.error, error: event.error });
      const route = t.routes[t.routes.length - 1];
      if (route) Object.assign(route, { outcome: "failed", error: event.error });
      if (!event.will_retry) t.end = at;
      logLine(run, `✗ ${event.task_id}: ${shorten(event.error, 120)}`);
      break;
    }
    case "task_skipped":
      Object.assign(task(run, event.task_id), { state: "skipped", end: at, error: event.reason });
      logLine(run, `– ${event.task_id} skipped`);
      break;
    case "replanned":
      for (const id of event.removed) if (run.tasks.has(id)) run.tasks.get(id).inPlan = false;
      logLine(run, `re-planned: ${shorten(event.reason, 120)}`);
      break;
    case "guard_verdict":
      if (event.target === "task") task(run, event.subject).verdicts.push(event);
      break;
    case "escalation":  // the question itself is in the chat, shown as a person reads it
      if (event.task_id) Object.assign(task(run, event.task_id), { state: "escalated", end: at });
      logLine(run, `? ${event.reason === "approval" ? `task ${event.task_id} waits for your approval of a tool call` : shorten(event.question, 120)}`);
      break;
    case "escalation_answered":  // the person's decision, as the audit log keeps it
      logLine(run, `✔ ${event.escalation_id}: ${event.effect}`);
      break;
    case "tool_called":
      task(run, event.task_id).tools.push({ name: event.tool, arguments: event.arguments, ok: event.ok, decision: event.decision, result: null });
      logLine(run, `tool ${event.tool}: ${event.decision}`);
      break;
    case "run_finished":
      run.finished = at;
      run.usage = event.usage;
      run.answer = event.answer;
      run.error = event.error;
      setStatus(run, event.status);
      finish(run, event);
      break;
  }
  if (run === state.current) draw();
}

function usePlan(run, plan) {
  run.plan = plan;
  const ids = new Set(plan.tasks.map((t) => t.id));
  for (const t of run.tasks.values()) t.inPlan = ids.has(t.id);
  for (const t of plan.tasks) {
    Object.assign(task(run, t.id), { agent: t.agent, inputs: t.inputs, instruction: t.instruction, inPlan: true });
  }
}

function taskCompleted(run, event, at) {
  const t = task(run, event.task_id);
  // A task restored from its checkpoint (a resumed run) did not run again: it keeps the place
  // it already has on the timeline; one the page never saw run gets no bar until the run's
  // result gives its real times.
  const restored = event.restored;
  Object.assign(t, { state: "completed", output: event.output, model: event.model || t.model, usage: event.usage });
  if (!restored) {
    t.end = at;
    t.start = t.start || at - event.duration_s * 1000;
    const route = t.routes[t.routes.length - 1];
    if (route) Object.assign(route, { outcome: "completed", model: event.model });
  }
  t.note = `${event.model || ""} · ${event.usage.input_tokens + event.usage.output_tokens} tok`;
  logLine(run, `✓ ${event.task_id} (${restored ? "restored from its checkpoint" : t.note})`);
}

// What GET /runs/{id} says: the stored result is the truth once the run is at rest.
function useDetail(run, detail) {
  run.request = detail.request || detail.goal;
  run.status = detail.status;
  run.answer = detail.answer;
  run.error = detail.error;
  run.usage = detail.usage;
  run.escalations = detail.escalations || [];
  const result = detail.result;
  if (!result) return;
  run.started = result.started_at * 1000;
  run.finished = result.finished_at ? result.finished_at * 1000 : null;
  if (result.playbook) run.playbook = `${result.playbook.name} (${result.playbook.mode}: ${result.playbook.reason})`;
  if (result.plan) usePlan(run, result.plan);
  for (const [id, r] of Object.entries(result.tasks)) {
    const t = task(run, id);
    Object.assign(t, {
      agent: r.task.agent, instruction: r.task.instruction, inputs: r.task.inputs, state: r.status,
      output: r.output, error: r.error, model: r.model, routes: r.routes, usage: r.usage,
      verdicts: r.verdicts, rejected: r.rejected_output, approvedBy: r.approved_by,
      start: r.started_at ? r.started_at * 1000 : null, end: r.finished_at ? r.finished_at * 1000 : null,
      tools: r.tool_calls.map((c) => ({ name: c.name, arguments: c.arguments, ok: c.ok, result: c.result })),
    });
    t.note = r.status === "completed" ? `${r.model || ""} · ${r.usage.input_tokens + r.usage.output_tokens} tok` : r.status;
  }
  // A task the run stopped in (cancelled, budget) has no result: it is not running any more.
  for (const t of run.tasks.values()) {
    if (!(t.id in result.tasks) && ["running", "retrying"].includes(t.state) && !ACTIVE.has(run.status)) t.state = "waiting";
  }
  for (const esc of run.escalations) if (esc.task_id) task(run, esc.task_id).state = "escalated";
}

async function refresh(run) {
  useDetail(run, await api("GET", `/runs/${run.id}`));
  if (run === state.current) draw();
}

// -- the chat --------------------------------------------------------------------------

function entryOf(runId) { return state.chat.find((e) => e.run === runId); }
// Each API key (a tenant) has its own chat: one key's runs are not another's to reopen. The chat
// is kept under a short hash of the key (FNV-1a: a partition, not a protection; the key itself
// is in localStorage already), so switching keys switches chats.
function chatKey(token) {
  if (!token) return CHAT_KEY;
  let hash = 0x811c9dc5;
  for (const c of token) hash = Math.imul(hash ^ c.codePointAt(0), 0x01000193) >>> 0;
  return `${CHAT_KEY}:${hash.toString(16)}`;
}
function loadChat() { return JSON.parse(localStorage.getItem(chatKey(state.token)) || "[]"); }
function saveChat() { localStorage.setItem(chatKey(state.token), JSON.stringify(state.chat.slice(-50))); }

// The earlier turns a new goal carries: what was asked and answered in this chat.
function turns() {
  const done = state.chat.filter((e) => e.status === "completed" && e.answer);
  return done.flatMap((e) => [{ role: "user", content: e.request }, { role: "assistant", content: e.answer }]).slice(-12);
}

function bubbleOf(runId) {
  const all = $("messages").querySelectorAll(`li.assistant[data-run="${runId}"]`);
  return all.length ? all[all.length - 1] : null;
}

function addExchange(request, runId) {
  $("messages").append(element("li", "user", request));
  const bubble = element("li", "assistant");
  if (runId) bubble.dataset.run = runId;
  $("messages").append(bubble);
  return bubble;
}

function finish(run, event) {
  const entry = entryOf(run.id);
  if (entry) {
    Object.assign(entry, { status: event.status, answer: event.answer || null, error: event.error || null });
    saveChat();
  }
  const bubble = bubbleOf(run.id);
  if (bubble) showOutcome(bubble, run.id, event.status, event.answer, event.error, event.usage);
}

function showOutcome(bubble, runId, status, answer, error, usage) {
  bubble.classList.toggle("error", !["completed", "waiting_for_human"].includes(status) && !ACTIVE.has(status));
  if (status === "completed") setBubble(bubble, answer || "(no answer)", `answer${usage ? " · " + usageText(usage) : ""}`);
  else if (status === "waiting_for_human") setBubble(bubble, "The run needs your answer before it can go on.", "waiting for you");
  else if (ACTIVE.has(status)) setBubble(bubble, "Working on it…", `run ${runId}`);
  else setBubble(bubble, error || status, `run ${status}`);
}

function usageText(usage) {
  const tokens = usage.input_tokens + usage.output_tokens;
  return `${usage.calls} calls · ${tokens} tokens · $${usage.cost_usd.toFixed(4)}`;
}

async function send(goal) {
  const bubble = addExchange(goal);
  setBubble(bubble, "Queued…", "podium");
  let accepted;
  try {
    accepted = await api("POST", "/runs", { goal, conversation: turns() });
  } catch (err) {
    bubble.classList.add("error");
    setBubble(bubble, err.message, "refused");
    return;
  }
  const run = runOf(accepted.run_id, goal);
  bubble.dataset.run = run.id;
  state.chat.push({ run: run.id, request: goal, status: "queued", answer: null, error: null });
  saveChat();
  setBubble(bubble, "Working on it…", `run ${run.id}`);
  open(run);
  loadRunList().catch(showError);
  await follow(run).catch(showError);
}

// After a reload: the chat as it was, then each run's state read back (`syncChat`).
function renderChat() {
  for (const entry of state.chat) {
    const bubble = addExchange(entry.request, entry.run);
    showOutcome(bubble, entry.run, entry.status, entry.answer, entry.error, null);
    for (const decided of entry.decisions || []) $("messages").append(answeredItem(decided));
  }
  scrollDown();
}

// Each run of the chat as the server has it now; live runs followed again, questions shown.
async function syncChat() {
  let last = null;
  for (const entry of state.chat) {
    let run;
    try {
      run = await track(entry.run, entry.request);
    } catch (err) {
      if (err.status !== 404) throw err;
      Object.assign(entry, { status: "gone", error: "This run is not on this server (or not yours): it cannot be reopened." });
      showOutcome(bubbleOf(entry.run), entry.run, "gone", null, entry.error, null);
      continue;
    }
    Object.assign(entry, { status: run.status, answer: run.answer, error: run.error });
    showOutcome(bubbleOf(run.id), run.id, run.status, run.answer, run.error, run.usage);
    if (run.status === "waiting_for_human") showEscalations(run).catch(showError);
    last = run;
  }
  saveChat();
  if (last) open(last);
}

// -- the run list ----------------------------------------------------------------------

async function loadRunList() {
  const runs = await api("GET", "/runs?limit=100");
  const list = $("run-list");
  list.replaceChildren();
  $("runs-empty").hidden = runs.length > 0;
  $("runs-tenant").textContent = runs.length ? `tenant ${runs[0].tenant} · newest first` : "";
  for (const summary of runs) {
    const li = element("li");
    const item = button("", "run-item", () => { openRun(summary.run_id).catch(showError); closeRunsOnPhone(); });
    item.dataset.run = summary.run_id;
    item.dataset.status = summary.status;
    item.append(
      element("span", "run-goal", shorten(summary.request || summary.goal, 90)),
      element("span", `chip ${summary.status}`, summary.status.replaceAll("_", " ")),
      element("span", "muted", `${when(summary.created_at)}${summary.usage ? " · " + (summary.usage.input_tokens + summary.usage.output_tokens) + " tok" : ""}`),
    );
    item.title = summary.request || summary.goal;
    li.append(item);
    list.append(li);
  }
  markCurrent();
}

function when(seconds) {
  const d = new Date(seconds * 1000);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : d.toLocaleDateString();
}

async function openRun(id) {
  const run = await track(id);
  open(run);
  // A run waiting for a person, opened from the list (made elsewhere, or in an earlier chat):
  // its questions come to the chat, where they are answered.
  if (run.status === "waiting_for_human") await showEscalations(run);
}

// The run as the server has it: read once at rest; under way, its events replayed from the
// start and followed (a run the page follows already is left as it is).
async function track(id, request) {
  const known = state.runs.get(id);
  if (known && known.following) return known;
  const detail = await api("GET", `/runs/${id}`);
  if (!ACTIVE.has(detail.status)) {
    const run = runOf(id, request);
    useDetail(run, detail);
    return run;
  }
  state.runs.delete(id);
  const run = runOf(id, detail.request || detail.goal);
  run.status = detail.status;
  follow(run).catch(showError);
  return run;
}

function open(run) {
  if (state.current !== run) state.selected = null;
  state.current = run;
  markCurrent();
  draw();
}

function markCurrent() {
  for (const item of $("run-list").querySelectorAll(".run-item")) {
    item.setAttribute("aria-current", state.current && item.dataset.run === state.current.id ? "true" : "false");
  }
}

function setRunsOpen(open) {
  document.body.classList.toggle("runs-open", open);
  $("runs-toggle").setAttribute("aria-expanded", String(open));
}

function closeRunsOnPhone() {
  if (!WIDE.matches) {
    setRunsOpen(false);
    $("side").scrollIntoView({ block: "start" });
  }
}

// -- approvals: the call as a person reads it -------------------------------------------

async function showEscalations(run) {
  const detail = await api("GET", `/runs/${run.id}`);
  for (const esc of detail.escalations) {
    if ($("messages").querySelector(`li.escalation[data-escalation="${CSS.escape(esc.id)}"]`)) continue;
    const li = element("li", "escalation");
    li.dataset.escalation = esc.id;
    li.dataset.run = run.id;
    li.append(element("span", "meta", `${esc.reason} · ${esc.agent || "run"}${esc.task_id ? " · task " + esc.task_id : ""}`));
    li.append(...escalationBody(esc));
    const actions = element("div", "actions");
    // The server lists the decisions this escalation takes: the one vocabulary of every interface.
    for (const decision of esc.decisions) actions.append(decisionButton(run, esc, li, decision));
    li.append(actions);
    // Under the run's own turn (after a reload the chat is redrawn first, questions after).
    const at = bubbleOf(run.id);
    if (at) at.after(li);
    else $("messages").append(li);
  }
  scrollDown();
}

// A question the person answered, kept in the chat's entry: what was asked, what they chose.
function answeredItem(decided) {
  const li = element("li", "escalation answered");
  li.append(element("div", "question", decided.headline), element("span", "meta", `you chose: ${decided.decision}`));
  return li;
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

// What the card says: the server's summary of the escalation (the words the CLI, the chat and
// the OpenAI endpoint use): its headline, then its fields; an email as an email.
function escalationBody(esc) {
  if (!esc.summary) return [element("div", "question", esc.question)];
  return [element("div", "question", esc.summary.headline), summaryView(esc.summary.fields || [])];
}

function summaryView(fields) {
  const body = fields.find((f) => f.label === "Body");
  if (!body || !fields.some((f) => f.label === "To")) return labelledList(fields, "call-args");
  return emailBox(labelledList(fields.filter((f) => f !== body), "email-head"), body.text);
}

function labelledList(fields, cls) {
  const dl = element("dl", cls);
  for (const field of fields) {
    dl.append(element("dt", "", field.label));
    const dd = element("dd");
    dd.dataset.field = field.label.toLowerCase();
    dd.append(textBlock(field.text, "value"));
    dl.append(dd);
  }
  return dl;
}

function callView(raw) {
  let args = raw;
  if (typeof raw === "string") {
    try { args = JSON.parse(raw); } catch { return textBlock(raw, "call-raw"); }
  }
  if (!args || typeof args !== "object" || Array.isArray(args)) return textBlock(JSON.stringify(args, null, 2), "call-raw");
  if (typeof args.to === "string" && ("body" in args || "subject" in args)) return emailView(args);
  return fieldsView(args, "call-args");
}

function emailView(args) {
  const head = fieldsView(Object.fromEntries(Object.entries(args).filter(([k]) => k !== "body")), "email-head");
  return emailBox(head, valueText(args.body ?? ""));
}

// The body whole, with its line breaks: what is approved is read in full before it is sent.
function emailBox(head, body) {
  const box = element("div", "email");
  box.append(head, element("div", "text email-body", body));
  return box;
}

function fieldsView(fields, cls) {
  return labelledList(Object.entries(fields).map(([label, value]) => ({ label, text: valueText(value) })), cls);
}

function valueText(value) {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.join(", ");
  return JSON.stringify(value, null, 2);
}

// Text with its own line breaks, cut at CLIP_CHARS or CLIP_LINES with a marker and "Show all".
function textBlock(text, cls) {
  const div = element("div", `text ${cls || ""}`.trim());
  const cut = clipAt(text);
  if (cut >= text.length) {
    div.textContent = text;
    return div;
  }
  const shown = element("span", "", text.slice(0, cut));
  const marker = element("span", "cut", ` … ${cutMark(text.length - cut)}`);
  const toggle = button("Show all", "more", () => {
    const all = toggle.textContent === "Show all";
    shown.textContent = all ? text : text.slice(0, cut);
    marker.hidden = all;
    toggle.textContent = all ? "Show less" : "Show all";
  });
  div.append(shown, marker, " ", toggle);
  return div;
}

// A cut's mark, as every surface writes it (the CLI's `clip`): "(+412 chars)".
function cutMark(left) { return `(+${left.toLocaleString("en")} chars)`; }

function clipAt(text) {
  let at = -1;
  for (let line = 0; line < CLIP_LINES; line++) {
    at = text.indexOf("\n", at + 1);
    if (at < 0) return Math.min(text.length, CLIP_CHARS);
  }
  return Math.min(at, CLIP_CHARS);
}

async function answer(run, esc, li, body) {
  for (const b of li.querySelectorAll("button")) b.disabled = true;
  try {
    // A run read back from its result (after a reload) has not seen its events: skip them, or
    // following it would replay what the page already shows.
    if (run.seq < 0) await follow(run, () => {});
    await api("POST", `/runs/${run.id}/escalations/${encodeURIComponent(esc.id)}`, body);
  } catch (err) {
    for (const b of li.querySelectorAll("button")) b.disabled = false;
    showError(err);
    return;
  }
  li.append(element("span", "meta", `you chose: ${body.decision}`));
  const entry = entryOf(run.id);
  if (entry) {  // the decision outlives a reload, as the question did
    const headline = esc.summary ? esc.summary.headline : esc.question;
    (entry.decisions ||= []).push({ headline, decision: body.decision });
    saveChat();
  }
  const bubble = element("li", "assistant");  // what follows goes below the question
  bubble.dataset.run = run.id;
  $("messages").append(bubble);
  setBubble(bubble, "Continuing…", `run ${run.id} · ${body.decision}`);
  if (esc.task_id) Object.assign(task(run, esc.task_id), { state: "running", end: null });
  open(run);
  await follow(run).catch(showError);
}

// -- drawing ---------------------------------------------------------------------------

function planned(run) {
  const order = run.plan ? run.plan.tasks.map((t) => t.id) : [...run.tasks.keys()];
  return order.filter((id) => run.tasks.has(id));
}

function layers(run) {
  const depth = new Map();
  const visit = (id, seen) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const t = run.tasks.get(id);
    const inputs = t ? t.inputs.filter((i) => run.tasks.has(i)) : [];
    const d = inputs.length ? 1 + Math.max(...inputs.map((i) => visit(i, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  const order = planned(run);
  for (const id of order) visit(id, new Set());
  const columns = [];
  for (const id of order) (columns[depth.get(id)] = columns[depth.get(id)] || []).push(id);
  return columns.filter(Boolean);
}

function draw() {
  const run = state.current;
  drawHead(run);
  drawGraph(run);
  drawTasks(run);
  drawDetail(run);
  drawAnswer(run);
  drawTimeline(run);
  drawLog(run);
}

function drawHead(run) {
  $("run-head").hidden = !run;
  if (!run) return;
  $("run-request").textContent = run.request;
  const usage = run.usage ? ` · ${usageText(run.usage)}` : "";
  $("run-meta").textContent = `run ${run.id} · ${run.status.replaceAll("_", " ")}${usage}`;
  $("run-status").textContent = `run ${run.id}: ${run.status}`;
  document.body.dataset.runStatus = run.status;
}

function drawGraph(run) {
  const svg = $("graph");
  svg.replaceChildren();
  const columns = run ? layers(run) : [];
  const empty = $("graph-empty");
  empty.hidden = columns.length > 0;
  // The caption always speaks of the run shown: never a count left from another run.
  if (!columns.length) {
    $("graph-caption").textContent = run ? run.status.replaceAll("_", " ") : "";
    empty.textContent = run && TERMINAL.has(run.status)
      ? `No plan: the run ended ${run.status.replaceAll("_", " ")} before it had one${run.error ? ": " + run.error : "."}`
      : "The plan appears here as soon as the run has one.";
  }
  // Which playbook gave the plan, and why (textContent: the label is shown as written).
  $("graph-playbook").hidden = !(run && run.playbook);
  $("graph-playbook").textContent = run && run.playbook ? `playbook ${run.playbook}` : "";
  if (!columns.length) { svg.setAttribute("width", 0); svg.setAttribute("height", 0); return; }
  const W = 150, H = 58, GX = 44, GY = 16, PAD = 8;
  const pos = new Map();
  columns.forEach((col, x) => col.forEach((id, y) => pos.set(id, { x: PAD + x * (W + GX), y: PAD + y * (H + GY) })));
  const width = PAD * 2 + columns.length * W + (columns.length - 1) * GX;
  const height = PAD * 2 + Math.max(...columns.map((c) => c.length)) * (H + GY) - GY;
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  // Scaled down to fit its box (style.css: max-width 100%), but not below 65%, where the labels
  // stop being readable: a wider graph scrolls instead.
  svg.style.minWidth = `${Math.round(width * 0.65)}px`;
  const defs = svgEl("defs");
  const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8a93a3" }));
  defs.append(marker);
  svg.append(defs);
  for (const id of pos.keys()) {
    for (const input of run.tasks.get(id).inputs) {
      const a = pos.get(input), b = pos.get(id);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x - 2, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
      svg.append(svgEl("path", { class: "edge", d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`, "marker-end": "url(#arrow)", "data-from": input, "data-to": id }));
    }
  }
  for (const [id, p] of pos) {
    const t = run.tasks.get(id);
    const g = svgEl("g", {
      class: `node ${t.state}${state.selected === id ? " selected" : ""}`, transform: `translate(${p.x} ${p.y})`,
      "data-task": id, "data-state": t.state, tabindex: 0, role: "button", "aria-label": `task ${id}: ${t.state}; open its detail`,
    });
    const title = svgEl("title");
    title.textContent = `${id} [${t.agent}] ${t.state}: click for the instruction, output and calls`;
    g.append(title, svgEl("rect", { width: W, height: H, rx: 8, fill: COLORS[t.state] || COLORS.waiting }));
    const lines = [
      [id, "id", 18],
      [t.agent, "sub", 34],
      [t.state === "completed" || t.state === "running" ? t.note || t.state : t.state, "sub", 50],
    ];
    svg.append(g);
    for (const [text, cls, y] of lines) {
      const label = svgEl("text", { x: 10, y, class: cls });
      g.append(label);
      fit(label, text || "", W - 20);
    }
    g.addEventListener("click", () => select(id));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(id); } });
  }
  const ids = [...pos.keys()];
  const done = ids.filter((i) => run.tasks.get(i).state === "completed").length;
  const status = run.status.replaceAll("_", " ");
  $("graph-caption").textContent = `${done}/${ids.length} done · ${status}`;
}

// A label cut to the box's width, its end marked with "…" (the full text is in the detail).
function fit(label, text, width) {
  label.textContent = text;
  if (label.getComputedTextLength() <= width) return;
  let n = text.length;
  while (n > 1) {
    n -= 1;
    label.textContent = text.slice(0, n) + "…";
    if (label.getComputedTextLength() <= width) return;
  }
}

function select(id) {
  state.selected = id;
  draw();
  $("detail").scrollIntoView({ block: "nearest" });
}

function drawTasks(run) {
  const body = $("tasks").querySelector("tbody");
  body.replaceChildren();
  $("tasks").hidden = !run || run.tasks.size === 0;
  if (!run) return;
  const ids = [...planned(run), ...[...run.tasks.keys()].filter((id) => !run.tasks.get(id).inPlan)];
  for (const id of new Set(ids)) {
    const t = run.tasks.get(id);
    const row = element("tr");
    row.dataset.task = id;
    row.tabIndex = 0;
    if (state.selected === id) row.classList.add("selected");
    const name = element("td", "", id);
    name.append(element("span", "muted", ` ${t.agent}`));
    const text = t.output ?? t.error ?? "";
    const cell = element("td", "cell-output", shorten(text, CELL_CHARS));
    if (text.length > CELL_CHARS) cell.append(element("span", "cut", ` ${cutMark(text.length - CELL_CHARS + 1)}`));
    row.append(name, element("td", `chip ${t.state}`, t.inPlan ? t.state : `${t.state} (re-planned away)`), cell);
    row.addEventListener("click", () => select(id));
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") select(id); });
    body.append(row);
  }
}

function drawDetail(run) {
  const t = run && state.selected ? run.tasks.get(state.selected) : null;
  $("detail").hidden = !t;
  if (!t) return;
  $("detail-title").textContent = `Task ${t.id} · ${t.agent} · ${t.state}`;
  const table = $("detail-table");
  table.replaceChildren();
  const row = (name, ...content) => {
    const tr = element("tr");
    tr.dataset.field = name;
    const td = element("td");
    td.append(...content);
    tr.append(element("th", "", name), td);
    table.append(tr);
  };
  row("instruction", textBlock(t.instruction || "(not known yet)"));
  row("inputs", ...(t.inputs.length ? t.inputs.map((i) => button(i, "link", () => select(i))) : [element("span", "muted", "none")]));
  if (t.output !== null && t.output !== undefined) row("output", textBlock(t.output, "output-text"));
  if (t.error) row("error", textBlock(t.error));
  if (t.rejected) row("refused output", textBlock(t.rejected));
  row("model", document.createTextNode(t.model || "—"));
  row("tiers tried", routesView(t.routes));
  if (t.usage) {
    row("tokens", document.createTextNode(`${t.usage.input_tokens} in · ${t.usage.output_tokens} out · ${t.usage.calls} calls`));
    row("cost", document.createTextNode(`$${t.usage.cost_usd.toFixed(4)}`));
  }
  if (t.start && t.end) row("duration", document.createTextNode(`${((t.end - t.start) / 1000).toFixed(1)} s`));
  row("guard verdicts", verdictsView(t.verdicts));
  row("tool calls", toolsView(t.tools));
  if (t.approvedBy) row("approved by", document.createTextNode(t.approvedBy));
}

function routesView(routes) {
  if (!routes.length) return element("span", "muted", "none yet");
  const ol = element("ol", "compact");
  for (const r of routes) {
    const li = element("li", "", `${r.tier}${r.model ? " (" + r.model + ")" : ""} → ${r.outcome}`);
    if (r.reason) li.append(element("span", "muted", ` · ${r.reason}`));
    if (r.error) li.append(textBlock(r.error, "muted"));
    ol.append(li);
  }
  return ol;
}

function verdictsView(verdicts) {
  if (!verdicts.length) return element("span", "muted", "none");
  const ol = element("ol", "compact");
  for (const v of verdicts) {
    const li = element("li", "", `try ${v.attempt}: ${v.action}`);
    for (const f of v.failures || []) li.append(textBlock(`${f.validator}: ${f.message}`, "muted"));
    ol.append(li);
  }
  return ol;
}

function toolsView(tools) {
  if (!tools.length) return element("span", "muted", "none");
  const ol = element("ol", "compact");
  for (const c of tools) {
    const how = c.decision ? ` · ${c.decision}` : "";
    const li = element("li", "", `${c.name}${how}${c.ok === false ? " · failed" : ""}`);
    if (c.arguments) li.append(callView(c.arguments));
    if (c.result) li.append(element("span", "muted", "result:"), textBlock(c.result, "tool-result"));
    ol.append(li);
  }
  return ol;
}

function drawAnswer(run) {
  const box = $("answer");
  box.replaceChildren();
  box.className = run && run.answer ? "" : "muted";
  if (!run) { box.textContent = "No answer yet."; return; }
  if (run.answer) box.append(textBlock(run.answer, "answer-text"));
  else if (run.error) box.append(textBlock(`No answer: ${run.error}`));
  else box.textContent = run.status === "waiting_for_human" ? "No answer yet: the run waits for you." : "No answer yet.";
}

// A bar per task that ran, from the run's first start (a resumed run's result starts at its
// resumption; the tasks restored from checkpoints keep their own earlier times).
function drawTimeline(run) {
  const svg = $("timeline");
  svg.replaceChildren();
  if (!run || !run.started) { svg.setAttribute("height", 0); $("timeline-caption").textContent = ""; return; }
  const rows = [...run.tasks.values()].filter((t) => t.start);
  const origin = Math.min(run.started, ...rows.map((t) => t.start));
  const atRest = TERMINAL.has(run.status) || run.status === "waiting_for_human";
  const now = run.finished || (atRest ? Math.max(origin, ...rows.map((t) => t.end || 0)) : Date.now());
  const span = Math.max(now - origin, 1);
  const width = svg.clientWidth || 400, LEFT = 70, ROW = 20, height = 24 + rows.length * ROW;
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const scale = (ms) => LEFT + ((Math.min(ms, now) - origin) / span) * (width - LEFT - 10);
  svg.append(svgEl("line", { class: "axis", x1: LEFT, y1: 4, x2: LEFT, y2: height - 4 }));
  rows.sort((a, b) => a.start - b.start).forEach((t, i) => {
    const y = 8 + i * ROW;
    const label = svgEl("text", { x: 4, y: y + 11 });
    svg.append(label);
    fit(label, t.id, LEFT - 8);
    const x = scale(t.start);
    const bar = svgEl("rect", { x, y, height: 14, rx: 3, width: Math.max(scale(t.end || now) - x, 2), fill: COLORS[t.state] || COLORS.waiting, "data-task": t.id });
    bar.addEventListener("click", () => select(t.id));
    svg.append(bar);
  });
  $("timeline-caption").textContent = `${((now - origin) / 1000).toFixed(1)} s`;
}

function drawLog(run) {
  const log = $("log");
  log.replaceChildren(...(run ? run.log.map((text) => element("li", "", text)) : []));
  log.scrollTop = log.scrollHeight;
}

// -- small helpers ---------------------------------------------------------------------

function setStatus(run, status) {
  run.status = status;
  if (run === state.current) drawHead(run);
}

function setBubble(li, text, meta) {
  li.replaceChildren(element("span", "meta", meta), document.createTextNode(text));
  scrollDown();
}

function logLine(run, text) { run.log.push(text); }

function showError(err) {
  const text = err.message || String(err);
  const previous = $("messages").lastElementChild;
  if (previous && previous.classList.contains("error") && previous.textContent === text) return;
  const li = element("li", "assistant error", text);
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
    // Another key, another tenant: its own chat and run list, nothing of the last key's shown.
    state.chat = loadChat();
    state.runs.clear();
    state.current = state.selected = null;
    $("messages").replaceChildren();
    renderChat();
    draw();
    loadRunList().catch(showError);
    syncChat().catch(showError);
  });
  $("new-chat").addEventListener("click", () => {
    state.chat = [];
    saveChat();
    $("messages").replaceChildren();
  });
  setRunsOpen(WIDE.matches);
  $("runs-toggle").addEventListener("click", () => setRunsOpen(!document.body.classList.contains("runs-open")));
  $("runs-close").addEventListener("click", () => setRunsOpen(false));
  $("runs-refresh").addEventListener("click", () => loadRunList().catch(showError));
  $("messages").addEventListener("click", (e) => {  // an answer opens its run beside the chat
    const bubble = e.target.closest("li.assistant[data-run]");
    if (bubble && !e.target.closest("button, textarea")) openRun(bubble.dataset.run).catch(showError);
  });
  $("detail-close").addEventListener("click", () => { state.selected = null; draw(); });
  state.chat = loadChat();
  draw();
  loadRunList().catch(showError);
  renderChat();
  syncChat().catch(showError);
  state.clock = setInterval(() => {
    const run = state.current;
    if (run && ACTIVE.has(run.status) && run.started) drawTimeline(run);
  }, 250);
});
