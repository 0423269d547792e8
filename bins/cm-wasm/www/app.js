// cm's chat page: settings, the conversation (streamed Markdown, tool cards, permission
// prompts), the virtual files and the saved sessions, over the cm-wasm package.
import init, { Cm, listSessions, deleteSession, maxFileBytes } from "../pkg/cm_wasm.js";
import { renderMarkdown } from "./markdown.js";

const $ = (id) => document.getElementById(id);
const SETTINGS_KEY = "cm.page.settings";

let cm = null;
let assistant = null; // the assistant bubble being streamed into
const cards = new Map(); // call id -> tool card

function setStatus(text) {
  $("status").textContent = text;
}

function bubble(kind, text) {
  const div = document.createElement("div");
  div.className = `message ${kind}`;
  if (text !== undefined) div.textContent = text;
  $("messages").append(div);
  div.scrollIntoView({ block: "end" });
  return div;
}

function showError(message) {
  bubble("error", message);
}

function streamText(text) {
  if (!assistant) {
    assistant = bubble("assistant");
    assistant.dataset.source = "";
  }
  assistant.dataset.source += text;
  assistant.innerHTML = renderMarkdown(assistant.dataset.source);
  assistant.scrollIntoView({ block: "end" });
}

function toolCard(callId, name) {
  let card = cards.get(callId);
  if (card) return card;
  card = document.createElement("details");
  card.className = "tool-card running";
  card.dataset.callId = callId;
  card.innerHTML = `<summary><span class="tool-name"></span> <span class="tool-summary">…</span></summary><pre class="tool-args"></pre>`;
  card.querySelector(".tool-name").textContent = name;
  $("messages").append(card);
  cards.set(callId, card);
  assistant = null;
  return card;
}

function permissionPrompt(id, question) {
  const box = document.createElement("div");
  box.className = "permission";
  box.dataset.askId = id;
  const what = document.createElement("p");
  what.textContent = `cm wants to ${question.permission} ${question.subject || ""} (${question.tool})`;
  box.append(what);
  for (const [decision, label] of [
    ["allow_once", "Allow once"],
    ["allow_always", "Allow always"],
    ["deny", "Deny"],
  ]) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.decision = decision;
    button.textContent = label;
    button.onclick = () => {
      box.querySelectorAll("button").forEach((b) => (b.disabled = true));
      box.classList.add("answered");
      what.textContent += ` — ${label.toLowerCase()}`;
      cm.answer(id, decision);
    };
    box.append(button);
  }
  $("messages").append(box);
  box.scrollIntoView({ block: "end" });
}

function setBusy(busy) {
  $("send").disabled = busy || !cm;
  $("stop").disabled = !busy;
  $("prompt").disabled = !cm;
  setStatus(busy ? "working…" : cm ? "ready" : "not started");
}

function onEvent(event) {
  switch (event.type) {
    case "turn_start":
      setBusy(true);
      break;
    case "text_delta":
      streamText(event.text);
      break;
    case "reasoning_delta":
      break;
    case "tool_call_started":
      toolCard(event.call_id, event.name);
      break;
    case "tool_call_ready":
      toolCard(event.call_id, event.name).querySelector(".tool-args").textContent =
        prettyJson(event.arguments);
      break;
    case "tool_done": {
      const card = toolCard(event.call_id, event.name);
      card.classList.remove("running");
      card.classList.add(event.is_error ? "failed" : "ok");
      card.querySelector(".tool-summary").textContent = event.summary;
      break;
    }
    case "permission_asked":
      permissionPrompt(event.id, event.question);
      break;
    case "files_changed":
      refreshFiles(event.paths);
      break;
    case "retry":
      bubble("notice", `Retrying in ${Math.round(event.delay_ms / 1000)} s: ${event.reason}`);
      break;
    case "error":
      showError(event.message);
      break;
    case "notice":
      showError(event.message);
      break;
    case "turn_end":
      assistant = null;
      if (event.end === "aborted") bubble("notice", "Stopped.");
      setBusy(false);
      refreshSessions();
      break;
    default:
      break;
  }
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// Files.

function formatSize(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}

function refreshFiles(changed = []) {
  const list = $("files");
  list.replaceChildren();
  if (!cm) return;
  for (const file of cm.files()) {
    const item = document.createElement("li");
    item.dataset.path = file.path;
    if (changed.includes(file.path)) item.classList.add("changed");
    const name = document.createElement("a");
    name.href = "#";
    name.className = "download";
    name.textContent = file.path;
    name.title = "Download";
    name.onclick = (e) => {
      e.preventDefault();
      download(file.path);
    };
    const size = document.createElement("span");
    size.className = "size";
    size.textContent = formatSize(file.size);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "small";
    remove.textContent = "×";
    remove.title = "Remove";
    remove.onclick = () => {
      cm.removeFile(file.path);
      refreshFiles();
    };
    item.append(name, " ", size, " ", remove);
    list.append(item);
  }
}

function download(path) {
  const bytes = cm.readFile(path);
  if (!bytes) return;
  const url = URL.createObjectURL(new Blob([bytes]));
  const a = document.createElement("a");
  a.href = url;
  a.download = path.split("/").pop();
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function addFiles(fileList) {
  const error = $("files-error");
  const problems = [];
  const max = maxFileBytes();
  for (const file of fileList) {
    const path = file.webkitRelativePath || file.name;
    if (file.size > max) {
      // Not even read: a huge file would stall the tab.
      problems.push(`${path} was not added: it is ${formatSize(file.size)} and files may be at most ${formatSize(max)} here`);
      continue;
    }
    try {
      cm.addFile(path, new Uint8Array(await file.arrayBuffer()));
    } catch (e) {
      problems.push(e.message || String(e));
    }
  }
  error.hidden = problems.length === 0;
  error.textContent = problems.join("\n");
  refreshFiles();
}

// Sessions.

function refreshSessions() {
  const list = $("sessions");
  list.replaceChildren();
  for (const session of listSessions()) {
    const item = document.createElement("li");
    item.dataset.id = session.id;
    if (cm && session.id === cm.sessionId()) item.classList.add("current");
    const open = document.createElement("a");
    open.href = "#";
    open.textContent = session.title || "(untitled)";
    open.title = `${session.model}, ${new Date(session.updated).toLocaleString()}`;
    open.onclick = (e) => {
      e.preventDefault();
      openSession(session.id);
    };
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "small";
    remove.textContent = "×";
    remove.title = "Delete";
    remove.onclick = () => {
      deleteSession(session.id);
      refreshSessions();
    };
    item.append(open, " ", remove);
    list.append(item);
  }
}

function openSession(id) {
  if (!cm) return showError("Start the agent first (Settings), then open a session.");
  try {
    cm.loadSession(id);
  } catch (e) {
    return showError(e.message || String(e));
  }
  renderHistory(cm.history());
  refreshSessions();
}

function renderHistory(history) {
  $("messages").replaceChildren();
  cards.clear();
  assistant = null;
  for (const message of history) {
    for (const part of message.parts) {
      if (part.type === "text" && message.role === "user") bubble("user", part.text);
      if (part.type === "text" && message.role === "assistant") {
        streamText(part.text);
        assistant = null;
      }
      if (part.type === "tool_call") {
        const card = toolCard(part.id, part.name);
        card.querySelector(".tool-args").textContent = prettyJson(part.arguments);
      }
      if (part.type === "tool_result") {
        const card = toolCard(part.call_id, part.name);
        card.classList.remove("running");
        card.classList.add(part.is_error ? "failed" : "ok");
        card.querySelector(".tool-summary").textContent = part.is_error ? "failed" : "done";
      }
    }
  }
}

// Settings.

function readSettings() {
  return {
    provider: $("provider").value,
    baseUrl: $("base-url").value.trim(),
    key: $("api-key").value.trim(),
    model: $("model").value.trim(),
  };
}

function loadSavedSettings() {
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "null");
  } catch {
    saved = null;
  }
  if (!saved) return;
  $("provider").value = saved.provider || "anthropic";
  $("base-url").value = saved.baseUrl || "";
  $("model").value = saved.model || "";
  if (saved.key) {
    $("api-key").value = saved.key;
    $("remember").checked = true;
  }
}

function saveSettings(settings) {
  const kept = { ...settings };
  if (!$("remember").checked) delete kept.key;
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(kept));
  } catch {
    // Storage full or disabled: the settings simply are not remembered.
  }
}

function start(event) {
  event.preventDefault();
  const settings = readSettings();
  const error = $("settings-error");
  try {
    const next = new Cm(settings, onEvent);
    if (cm) {
      // The files move to the new agent; the old one stops and is freed.
      for (const file of cm.files()) next.addFile(file.path, cm.readFile(file.path));
      cm.abort();
      cm.free();
    }
    cm = next;
  } catch (e) {
    error.hidden = false;
    error.textContent = e.message || String(e);
    return;
  }
  error.hidden = true;
  $("messages").replaceChildren();
  cards.clear();
  assistant = null;
  saveSettings(settings);
  setBusy(false);
  refreshFiles();
  refreshSessions();
  $("prompt").focus();
}

function send(event) {
  event.preventDefault();
  const text = $("prompt").value.trim();
  if (!text || !cm) return;
  $("prompt").value = "";
  assistant = null;
  bubble("user", text);
  cm.send(text);
}

async function main() {
  await init();
  loadSavedSettings();
  $("settings").addEventListener("submit", start);
  $("composer").addEventListener("submit", send);
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) send(e);
  });
  $("stop").addEventListener("click", () => cm && cm.abort());
  $("new-session").addEventListener("click", () => {
    if (!cm) return;
    try {
      cm.newSession();
    } catch (e) {
      return showError(e.message || String(e));
    }
    $("messages").replaceChildren();
    cards.clear();
    refreshSessions();
  });
  $("file-input").addEventListener("change", (e) => {
    if (!cm) return showError("Start the agent first (Settings), then add files.");
    addFiles(e.target.files);
    e.target.value = "";
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (!cm) return showError("Start the agent first (Settings), then add files.");
    addFiles(e.dataTransfer.files);
  });
  refreshSessions();
  setStatus("not started");
  document.body.dataset.ready = "true";
}

main().catch((e) => {
  setStatus("failed to load");
  showError(`cm could not start: ${e.message || e}. Build the package with bins/cm-wasm/build.sh and serve bins/cm-wasm/ over HTTP.`);
});

// For tests and the console.
window.cmPage = {
  get cm() {
    return cm;
  },
};
