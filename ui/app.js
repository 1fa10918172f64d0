// homehub's dashboard (docs/dashboard.md): a client of the hub's JSON API, no logic of its own.
// Every card and control comes from the thing's device type (its manifest): a number with
// min/max/step is a slider, an enum a segmented control, a boolean a switch, a read-only
// attribute a value, a command a button. Refusals show the hub's own sentence.
"use strict";

let csrf = null;
let events = null;
const cards = new Map(); // thing → {element, thing}

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

async function call(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  let data = null;
  try { data = await response.json(); } catch (_) { /* an empty body */ }
  if (response.status === 401 && path.startsWith("/ui/api/")) showSignIn("Your session ended: sign in again.");
  return { status: response.status, ok: response.ok, data };
}

// --- Signing in and out ---------------------------------------------------------------------

function showSignIn(message) {
  csrf = null;
  if (events) { events.close(); events = null; }
  for (const page of document.querySelectorAll(".page")) page.hidden = true;
  $("nav").hidden = true;
  $("live").hidden = true;
  $("who").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  $("name").focus();
}

async function signedIn(session) {
  csrf = session.csrf;
  $("member").textContent = `${session.name} (${session.role})`;
  $("who").hidden = false;
  $("signin").hidden = true;
  $("nav").hidden = false;
  $("live").hidden = false;
  await loadThings();
  follow();
  show("home");
}

// --- Pages ----------------------------------------------------------------------------------

let currentPage = "home";

async function show(page) {
  currentPage = page;
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== page;
  for (const button of $("nav").querySelectorAll("button")) {
    if (button.dataset.page === page) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  if (page === "commands") await loadCommands();
  if (page === "schedules") await loadSchedules();
  if (page === "plugins") await loadPlugins();
}

$("nav").addEventListener("click", (event) => {
  const page = event.target.closest("button")?.dataset.page;
  if (page) show(page);
});

$("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = await call("POST", "/ui/login", { name: $("name").value, password: $("password").value });
  $("password").value = "";
  if (answer.ok) await signedIn(answer.data);
  else $("signin-error").textContent = answer.data?.message || `sign-in failed (${answer.status})`;
});

$("signout").addEventListener("click", async () => {
  await call("POST", "/ui/logout", {});
  showSignIn("Signed out.");
});

// --- The password again, for a sensitive action ---------------------------------------------

function confirmPassword(why) {
  return new Promise((resolve) => {
    const dialog = $("confirm");
    $("confirm-why").textContent = why;
    $("confirm-error").textContent = "";
    $("confirm-password").value = "";
    const form = $("confirm-form");
    const done = (result) => { form.onsubmit = null; $("confirm-cancel").onclick = null; dialog.close(); resolve(result); };
    form.onsubmit = async (event) => {
      event.preventDefault();
      const answer = await call("POST", "/ui/confirm", { password: $("confirm-password").value });
      if (answer.ok) done(true);
      else $("confirm-error").textContent = answer.data?.message || "not confirmed";
    };
    $("confirm-cancel").onclick = () => done(false);
    dialog.showModal();
    $("confirm-password").focus();
  });
}

/// A change through the API; a refusal that asks for the password asks, then tries once more.
async function change(method, path, body, card) {
  let answer = await call(method, path, body);
  if (answer.status === 403 && /confirm your password/.test(answer.data?.message || "")) {
    if (await confirmPassword(answer.data.message)) answer = await call(method, path, body);
  }
  if (!answer.ok && card) card.querySelector(".error").textContent = answer.data?.message || `refused (${answer.status})`;
  else if (card) card.querySelector(".error").textContent = "";
  return answer;
}

// --- Cards from the manifest ----------------------------------------------------------------

async function loadThings() {
  const answer = await call("GET", "/ui/api/v1/things");
  if (!answer.ok) return;
  $("things").replaceChildren();
  cards.clear();
  for (const thing of answer.data.things) {
    if (thing.goneAt) continue;
    const card = element("article", { class: "card", "aria-labelledby": `title-${thing.name}`, "data-thing": thing.name });
    cards.set(thing.name, card);
    $("things").append(card);
    await refresh(thing.name);
  }
}

async function refresh(name) {
  const card = cards.get(name);
  if (!card) return;
  // Never under the member's fingers: while they type in or drag a control of this card, its
  // new state waits until they leave it.
  const active = document.activeElement;
  if (active && card.contains(active) && active.tagName === "INPUT") {
    active.addEventListener("blur", () => scheduleRefresh(name), { once: true });
    return;
  }
  const answer = await call("GET", `/ui/api/v1/things/${encodeURIComponent(name)}`);
  if (!answer.ok) return;
  render(card, answer.data);
}

function render(card, thing) {
  // What the member was told survives the card's refresh (a heater reports every second).
  const keepCommand = card.querySelector(".command-state");
  const keepError = card.querySelector(".error");
  const keepHistory = card.querySelector(".history");
  const type = thing.deviceType;
  const connectivity = thing.connectivity || {};
  const since = connectivity.since ? ` since ${new Date(connectivity.since * 1000).toLocaleString()}` : "";
  const connected = connectivity.connected === true ? `connected${since}` : connectivity.connected === false ? `disconnected${since}` : "";
  card.replaceChildren(
    element("h2", { id: `title-${thing.name}`, text: thing.name }),
    element("p", { class: "meta", text: [type ? type.name : "no device type", connected].filter(Boolean).join(" · ") }),
  );
  const shadows = new Map((thing.shadows || []).map((shadow) => [shadow.name, shadow]));
  for (const shadowType of type ? type.shadows : []) {
    const shadow = shadows.get(shadowType.name) || { state: {} };
    const reported = shadow.state?.reported || {};
    const desired = shadow.state?.desired || {};
    for (const [attribute, schema] of Object.entries(shadowType.attributes).sort()) {
      card.append(control(thing.name, shadowType.name, attribute, schema, reported[attribute], desired[attribute], card));
    }
  }
  for (const [name, command] of Object.entries(type ? type.commands || {} : {}).sort()) {
    card.append(element("div", { class: "row" }, element("button", {
      type: "button", class: "secondary", text: label(name) + (command.sensitive ? " (sensitive)" : ""),
      "aria-label": `${label(name)} ${thing.name}`,
      onclick: () => runCommand(thing.name, name, card),
    })));
  }
  const numbers = (type ? type.shadows : []).some((shadow) => Object.values(shadow.attributes).some((a) => a.type === "number" || a.type === "integer"));
  if (numbers) {
    const chart = keepHistory || element("div", { class: "history" });
    card.append(element("div", { class: "row" },
      element("span", { class: "label", text: "History" }),
      element("button", { type: "button", class: "secondary", text: "24 h", "aria-label": `History of ${thing.name}, 24 hours`, onclick: () => drawHistory(thing.name, 24, chart) }),
      element("button", { type: "button", class: "secondary", text: "7 days", "aria-label": `History of ${thing.name}, 7 days`, onclick: () => drawHistory(thing.name, 168, chart) })), chart);
  }
  card.append(keepCommand || element("p", { class: "command-state", role: "status" }));
  card.append(keepError || element("p", { class: "error", role: "alert" }));
}

const colors = ["#d6452b", "#2857d6", "#137333", "#a05a00"];

/// The thing's reported numbers over the last hours, a line each (the hub keeps them sampled).
async function drawHistory(thing, hours, holder) {
  const answer = await call("GET", `/ui/api/v1/things/${encodeURIComponent(thing)}/history?hours=${hours}`);
  if (!answer.ok) { holder.textContent = answer.data?.message || "no history"; return; }
  const series = Object.entries(answer.data.series).filter(([, points]) => points.length).slice(0, 4);
  holder.replaceChildren();
  if (!series.length) { holder.append(element("p", { class: "meta", text: "Nothing recorded yet." })); return; }
  const end = Date.now() / 1000, start = end - hours * 3600;
  const all = series.flatMap(([, points]) => points.map((p) => p[1]));
  const low = Math.floor(Math.min(...all) - 1), high = Math.ceil(Math.max(...all) + 1);
  const width = 700, height = 160, left = 30;
  const x = (t) => left + ((t - start) / (end - start)) * (width - left - 5);
  const y = (v) => 5 + (high - v) / (high - low) * (height - 25);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${thing} over the last ${hours} hours: ` + series.map(([name, points]) => `${name} from ${points[0][1]} to ${points[points.length - 1][1]}`).join("; "));
  const add = (tag, attributes, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  for (let v = low; v <= high; v += Math.max(1, Math.round((high - low) / 4))) {
    add("line", { class: "grid", x1: left, x2: width, y1: y(v), y2: y(v) });
    add("text", { x: 2, y: y(v) + 3 }, String(v));
  }
  add("text", { x: left, y: height - 5 }, hours === 24 ? "24 h ago" : "7 days ago");
  add("text", { x: width - 30, y: height - 5 }, "now");
  series.forEach(([name, points], index) => {
    add("polyline", { class: "series", fill: "none", stroke: colors[index], "stroke-width": 2, "data-series": name,
      points: points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ") });
  });
  holder.append(svg, element("p", { class: "meta" }, ...series.map(([name], index) =>
    element("span", { class: "legend", "data-color": index, text: `■ ${label(name.split("/").pop())}  ` }))));
}

function label(name) {
  return name.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/[_-]/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function control(thing, shadow, attribute, schema, reported, desired, card) {
  const id = `${thing}-${shadow}-${attribute}`;
  const row = element("div", { class: "row" });
  const unit = schema.unit ? ` ${schema.unit}` : "";
  const show = (value) => (value === undefined || value === null ? "—" : `${value}${unit}`);
  const set = (value) => change("POST", `/ui/api/things/${encodeURIComponent(thing)}/shadow?name=${encodeURIComponent(shadow)}`,
    { state: { desired: { [attribute]: value } } }, card);
  if (schema.writable === false) {
    row.append(element("span", { class: "label", id: `${id}-label`, text: label(attribute) }),
      element("span", { class: "value", "aria-labelledby": `${id}-label`, "data-attribute": attribute, text: show(reported) }));
    return row;
  }
  row.append(element("label", { for: id, text: label(attribute) }));
  if ((schema.type === "number" || schema.type === "integer") && schema.min !== undefined && schema.max !== undefined) {
    // A slider for the thumb, and the same value as a number field for the keyboard.
    const step = schema.step || (schema.type === "integer" ? 1 : "any");
    const exact = element("input", {
      type: "number", min: schema.min, max: schema.max, step, value: desired ?? reported ?? "", class: "exact",
      "aria-label": `${label(attribute)} of ${thing}${unit}`, "data-attribute": attribute,
      onchange: () => set(Number(exact.value)),
    });
    const input = element("input", {
      id, type: "range", min: schema.min, max: schema.max, step,
      value: desired ?? reported ?? schema.min, "data-attribute": attribute,
      oninput: () => { exact.value = input.value; },
      onchange: () => set(Number(input.value)),
    });
    row.append(input, exact, element("span", { class: "value", text: unit.trim() }));
  } else if (schema.type === "number" || schema.type === "integer") {
    const input = element("input", { id, type: "number", value: desired ?? reported ?? "", step: schema.step || "any", "data-attribute": attribute,
      onchange: () => set(Number(input.value)) });
    row.append(input);
  } else if (schema.type === "enum") {
    const group = element("div", { class: "segmented", role: "group", id, "aria-label": label(attribute), "data-attribute": attribute });
    for (const value of schema.values) {
      group.append(element("button", { type: "button", "aria-pressed": String((desired ?? reported) === value), text: value,
        onclick: () => set(value) }));
    }
    row.append(group);
  } else if (schema.type === "boolean") {
    const input = element("input", { id, type: "checkbox", role: "switch", checked: (desired ?? reported) === true, "data-attribute": attribute,
      onchange: () => set(input.checked) });
    row.append(input);
  } else {
    const input = element("input", { id, value: desired ?? reported ?? "", "data-attribute": attribute, onchange: () => set(input.value) });
    row.append(input);
  }
  if (desired !== undefined && desired !== reported) {
    row.append(element("span", { class: "pending", text: `${show(desired)} pending (now ${show(reported)})` }));
  }
  return row;
}

async function runCommand(thing, name, card) {
  const state = card.querySelector(".command-state");
  state.removeAttribute("data-final");
  state.textContent = `${label(name)}: asking…`;
  const answer = await change("POST", `/ui/api/v1/things/${encodeURIComponent(thing)}/commands`, { command: name }, card);
  if (answer.ok) {
    state.dataset.command = answer.data.id;
    showCommand(state, answer.data);
    // What happened while the answer travelled (RUNNING can come first), in order.
    for (const event of seenCommands.get(answer.data.id) || []) showCommand(state, event);
  } else {
    state.textContent = "";
  }
}

const seenCommands = new Map(); // command id → its events, in order
const finalStates = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "EXPIRED", "REJECTED", "CANCELED"]);

function showCommand(state, command) {
  if (state.dataset.final) return; // a final state is the last word
  const progress = command.progress !== null && command.progress !== undefined ? ` ${Math.round(command.progress)}%` : "";
  state.textContent = `${label(command.command)}: ${command.state}${progress}${command.message ? ` — ${command.message}` : ""}`;
  if (finalStates.has(command.state)) state.dataset.final = command.state;
}

// --- Live -----------------------------------------------------------------------------------

function follow() {
  if (events) events.close();
  events = new EventSource("/ui/api/v1/events");
  events.onopen = () => { $("live").textContent = "Live"; };
  events.onerror = () => { $("live").textContent = "Reconnecting…"; }; // EventSource retries by itself
  events.onmessage = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch (_) { return; }
    if (event.type === "command.updated") {
      // Kept a moment for a command whose id the page does not know yet (bounded: 50 commands).
      if (!seenCommands.has(event.id)) {
        seenCommands.set(event.id, []);
        if (seenCommands.size > 50) seenCommands.delete(seenCommands.keys().next().value);
      }
      seenCommands.get(event.id).push(event);
      const card = cards.get(event.thing);
      const state = card?.querySelector(".command-state");
      if (state && state.dataset.command === event.id) showCommand(state, event);
    }
    if (event.thing && ["shadow.updated", "shadow.deleted", "device.connectivity"].includes(event.type)) scheduleRefresh(event.thing);
    if (event.type === "thing.registered" || event.type === "thing.removed" || event.type === "thing.gone") loadThings();
    if (event.type === "command.updated" && currentPage === "commands") scheduleReload("commands", loadCommands);
    if (event.type?.startsWith("schedule") && currentPage === "schedules") scheduleReload("schedules", loadSchedules);
    if (event.type?.startsWith("plugin.") && currentPage === "plugins") scheduleReload("plugins", loadPlugins);
  };
}

const pending = new Map();
function scheduleRefresh(thing) {
  // A heater reports every second: at most one refresh per thing in flight, the latest state.
  if (pending.has(thing)) return;
  pending.set(thing, setTimeout(async () => { pending.delete(thing); await refresh(thing); }, 150));
}

const reloads = new Map();
function scheduleReload(key, load) {
  if (reloads.has(key)) return;
  reloads.set(key, setTimeout(async () => { reloads.delete(key); await load(); }, 200));
}

// --- Commands: the ledger, live ----------------------------------------------------------

function fillThings(select, keepFirst) {
  const chosen = select.value;
  const first = keepFirst ? [select.options[0]] : [];
  select.replaceChildren(...first, ...[...cards.keys()].sort().map((name) => element("option", { value: name, text: name })));
  select.value = chosen;
}

async function loadCommands() {
  fillThings($("commands-thing"), true);
  const query = new URLSearchParams({ limit: "100" });
  if ($("commands-thing").value) query.set("thing", $("commands-thing").value);
  if ($("commands-state").value) query.set("state", $("commands-state").value);
  const answer = await call("GET", `/ui/api/v1/commands?${query}`);
  if (!answer.ok) { $("commands-error").textContent = answer.data?.message || ""; return; }
  $("commands-error").textContent = "";
  const body = $("commands-table").tBodies[0];
  body.replaceChildren(...answer.data.commands.map((command) => {
    const who = command.requester?.identity || command.requester?.user || (command.requester?.schedule ? `schedule:${command.requester.schedule}` : "");
    const progress = command.progress !== null && command.progress !== undefined ? ` ${Math.round(command.progress)}%` : "";
    const cancel = finalStates.has(command.state) ? null : element("button", { type: "button", class: "secondary", text: "Cancel",
      "aria-label": `Cancel ${command.command} on ${command.thing}`,
      onclick: async () => {
        const result = await change("POST", `/ui/api/v1/commands/${command.id}/cancel`, {});
        if (!result.ok) $("commands-error").textContent = result.data?.message || "refused";
        await loadCommands();
      } });
    return element("tr", { "data-command": command.id },
      element("td", { text: new Date(command.createdAt).toLocaleString() }),
      element("td", { text: command.thing }), element("td", { text: command.command }),
      element("td", { class: "command-state", "data-final": finalStates.has(command.state) ? command.state : null,
        text: command.state + progress + (command.message ? ` — ${command.message}` : "") }),
      element("td", { text: who }), element("td", {}, cancel));
  }));
}
$("commands-thing").addEventListener("change", loadCommands);
$("commands-state").addEventListener("change", loadCommands);

// --- Schedules: the week as a picture ---------------------------------------------------------

function isoDate(date) { return date.toISOString().slice(0, 10); }

async function loadSchedules() {
  fillThings($("schedule-thing"), false);
  const answer = await call("GET", "/ui/api/v1/schedules");
  if (!answer.ok) return;
  const list = $("schedule-list");
  list.replaceChildren();
  for (const schedule of answer.data.schedules) list.append(await scheduleCard(schedule));
}

async function scheduleCard(schedule) {
  const box = element("article", { class: "card schedule", "data-schedule": schedule.id, "aria-labelledby": `schedule-${schedule.id}` });
  box.append(element("h3", { id: `schedule-${schedule.id}`, text: `${schedule.thing}: ${schedule.id}` }),
    element("p", { class: "meta", text: `${schedule.program || schedule.cron || schedule.at} · ${schedule.state} · ${schedule.zone}` }));
  const actions = element("div", { class: "row" });
  const act = (text, method, path) => element("button", { type: "button", class: "secondary", text,
    "aria-label": `${text} ${schedule.id}`,
    onclick: async () => {
      const result = await change(method, path, method === "DELETE" ? undefined : {});
      if (!result.ok) box.querySelector(".error").textContent = result.data?.message || "refused";
      else await loadSchedules();
    } });
  if (schedule.state === "held") actions.append(act("Resume the program", "POST", `/ui/api/v1/schedules/${schedule.id}/resume`));
  actions.append(schedule.enabled ? act("Disable", "POST", `/ui/api/v1/schedules/${schedule.id}/disable`)
    : act("Enable", "POST", `/ui/api/v1/schedules/${schedule.id}/enable`));
  actions.append(act("Remove", "DELETE", `/ui/api/v1/schedules/${schedule.id}`));
  if (schedule.program) {
    actions.append(element("button", { type: "button", class: "secondary", text: "Edit", "aria-label": `Edit ${schedule.id}`,
      onclick: () => {
        editing = schedule;
        $("schedule-thing").value = schedule.thing;
        $("schedule-program").value = schedule.program;
        $("schedule-form").querySelector("h3").textContent = `Edit ${schedule.id}`;
        $("schedule-program").focus();
      } }));
  }
  box.append(actions);
  if (schedule.program) box.append(await weekChart(schedule));
  const next = await call("GET", `/ui/api/v1/schedules/${schedule.id}/next?count=8`);
  if (next.ok) {
    const rows = [];
    let offset = null;
    for (const firing of next.data.firings) {
      const thisOffset = firing.at.slice(-6);
      const dst = offset !== null && thisOffset !== offset;
      offset = thisOffset;
      rows.push(element("tr", {}, element("td", { text: `${firing.weekday} ${firing.at.slice(0, 16).replace("T", " ")} ${thisOffset}` }),
        element("td", { text: Object.entries(firing.set || {}).map(([k, v]) => `${k}=${v}`).join(" ") || firing.command || "" }),
        element("td", { class: dst ? "dst" : "", text: dst ? "clocks change this night" : "" })));
    }
    box.append(element("table", { "aria-label": `Next firings of ${schedule.id}` },
      element("thead", {}, element("tr", {}, element("th", { text: "Next" }), element("th", { text: "Sets" }), element("th", { text: "" }))),
      element("tbody", {}, ...rows)));
  }
  box.append(element("p", { class: "error", role: "alert" }));
  return box;
}

/// Monday to Sunday of this week: the value in force at each moment, as a step line.
async function weekChart(schedule) {
  const now = new Date();
  const monday = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - ((now.getUTCDay() + 6) % 7)));
  const before = new Date(monday.getTime() - 7 * 86400000);
  const answer = await call("GET", `/ui/api/v1/schedules/${schedule.id}/next?count=200&from=${isoDate(before)}`);
  const figure = element("figure", {});
  if (!answer.ok) return figure;
  const points = [];
  let attribute = null;
  let start = null;
  for (const firing of answer.data.firings) {
    const entries = Object.entries(firing.set || {}).filter(([, v]) => typeof v === "number");
    if (!entries.length) continue;
    if (!attribute) attribute = entries[0][0];
    const value = firing.set[attribute];
    if (value === undefined) continue;
    const at = Date.parse(firing.at);
    const hours = (at - monday.getTime()) / 3600000;
    if (hours < 0) start = value;
    else if (hours < 168) points.push([hours, value]);
  }
  if (!attribute) return figure;
  const values = points.map((p) => p[1]).concat(start === null ? [] : [start]);
  const low = Math.floor(Math.min(...values) - 1), high = Math.ceil(Math.max(...values) + 1);
  const width = 700, height = 180, left = 30, bottom = 20;
  const x = (h) => left + (h / 168) * (width - left - 5);
  const y = (v) => 5 + (high - v) / (high - low) * (height - bottom - 5);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  const described = points.map(([h, v]) => `${["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][Math.floor(h / 24)]} ${String(Math.floor(h % 24)).padStart(2, "0")}:${String(Math.round((h % 1) * 60)).padStart(2, "0")} ${v}`);
  svg.setAttribute("aria-label", `${attribute} over the week, Monday to Sunday: ${described.join(", ")}`);
  const add = (tag, attributes, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].forEach((day, index) => {
    add("line", { class: "grid", x1: x(index * 24), x2: x(index * 24), y1: 0, y2: height - bottom });
    add("text", { x: x(index * 24) + 3, y: height - 5 }, day);
  });
  for (let v = low; v <= high; v += Math.max(1, Math.round((high - low) / 4))) {
    add("line", { class: "grid", x1: left, x2: width, y1: y(v), y2: y(v) });
    add("text", { x: 2, y: y(v) + 3 }, String(v));
  }
  let current = start ?? (points[0] ? points[0][1] : low);
  let path = `M ${x(0)} ${y(current)}`;
  for (const [h, v] of points) { path += ` H ${x(h)} V ${y(v)}`; current = v; }
  path += ` H ${x(168)}`;
  add("path", { class: "line", d: path, "data-attribute": attribute });
  figure.append(svg, element("figcaption", { class: "meta", text: `${label(attribute)}, this week (Monday to Sunday, ${answer.data.zone})` }));
  return figure;
}

let editing = null; // the schedule the form replaces (PUT), or null to add one

$("schedule-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { thing: $("schedule-thing").value, program: $("schedule-program").value };
  if (editing) body.timeZone = editing.zone;
  const result = editing
    ? await change("PUT", `/ui/api/v1/schedules/${editing.id}`, body)
    : await change("POST", "/ui/api/v1/schedules", body);
  $("schedule-error").textContent = result.ok ? "" : result.data?.message || "refused";
  if (result.ok) {
    editing = null;
    $("schedule-form").querySelector("h3").textContent = "Add a weekly program";
    $("schedule-program").value = "";
    await loadSchedules();
  }
});

// --- Plugins and the hub --------------------------------------------------------------------

async function loadPlugins() {
  const [plugins, status] = await Promise.all([call("GET", "/ui/api/v1/plugins"), call("GET", "/ui/api/v1/status")]);
  if (status.ok) {
    const s = status.data;
    $("hub-status").textContent = `homehub ${s.version ?? ""} · ${s.ready === false ? "not ready" : "ready"} · things ${s.counts?.things ?? "?"} · shadows ${s.counts?.shadows ?? "?"}`;
  }
  if (!plugins.ok) return;
  $("plugins-table").tBodies[0].replaceChildren(...plugins.data.plugins.map((plugin) => element("tr", { "data-plugin": plugin.id },
    element("td", { text: `${plugin.name} (${plugin.id} ${plugin.version})` }),
    element("td", { text: plugin.state }), element("td", { text: String(plugin.restarts ?? 0) }),
    element("td", { text: plugin.lastProblem || "" }),
    element("td", {}, plugin.pid !== undefined && plugin.state !== "type-only" ? element("button", { type: "button", class: "secondary",
      text: "Restart", "aria-label": `Restart ${plugin.id}`,
      onclick: async () => {
        const result = await change("POST", `/ui/api/v1/plugins/${plugin.id}/restart`, {});
        $("plugins-error").textContent = result.ok ? "" : result.data?.message || "refused";
        await loadPlugins();
      } }) : null))));
}

// --- Start ----------------------------------------------------------------------------------

(async () => {
  const answer = await call("GET", "/ui/session");
  if (answer.ok) await signedIn(answer.data);
  else showSignIn("");
})();
