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
  $("home").hidden = true;
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
  $("home").hidden = false;
  await loadThings();
  follow();
}

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
  const answer = await call("GET", `/ui/api/v1/things/${encodeURIComponent(name)}`);
  if (!answer.ok) return;
  render(card, answer.data);
}

function render(card, thing) {
  const keepCommand = card.querySelector(".command-state");
  const type = thing.deviceType;
  const connectivity = thing.connectivity || {};
  const connected = connectivity.connected === true ? "connected" : connectivity.connected === false ? "disconnected" : "";
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
  card.append(keepCommand || element("p", { class: "command-state", role: "status" }));
  card.append(element("p", { class: "error", role: "alert" }));
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
    const output = element("output", { for: id, class: "value", text: show(desired ?? reported) });
    const input = element("input", {
      id, type: "range", min: schema.min, max: schema.max, step: schema.step || (schema.type === "integer" ? 1 : "any"),
      value: desired ?? reported ?? schema.min, "data-attribute": attribute,
      oninput: () => { output.textContent = show(input.value); },
      onchange: () => set(Number(input.value)),
    });
    row.append(input, output);
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
  } else {
    state.textContent = "";
  }
}

const finalStates = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "EXPIRED", "REJECTED", "CANCELED"]);

function showCommand(state, command) {
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
      const card = cards.get(event.thing);
      const state = card?.querySelector(".command-state");
      if (state && state.dataset.command === event.id) showCommand(state, event);
    }
    if (event.thing && ["shadow.updated", "shadow.deleted", "device.connectivity"].includes(event.type)) scheduleRefresh(event.thing);
    if (event.type === "thing.registered" || event.type === "thing.removed" || event.type === "thing.gone") loadThings();
  };
}

const pending = new Map();
function scheduleRefresh(thing) {
  // A heater reports every second: at most one refresh per thing in flight, the latest state.
  if (pending.has(thing)) return;
  pending.set(thing, setTimeout(async () => { pending.delete(thing); await refresh(thing); }, 150));
}

// --- Start ----------------------------------------------------------------------------------

(async () => {
  const answer = await call("GET", "/ui/session");
  if (answer.ok) await signedIn(answer.data);
  else showSignIn("");
})();
