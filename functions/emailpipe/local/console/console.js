// The emailpipe local console. Chat side: the public HTTP API only (/v1/...). Mail side: /local/..., the
// simulated mail world of the local stack (the emails SES sent, and a reply arriving at SES).
"use strict";
const KEY = window.EMAILPIPE_API_KEY;
let current = null;
let currentEmail = null;

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
  return data;
}
const items = (data) => (Array.isArray(data) ? data : data.items || data.conversations || data.people || data.messages || data.records || []);
function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// Each list is fetched first and replaced whole: two refreshes at once (the timer, a click) used to interleave their
// appends after one cleared the list, and showed every agent twice.
async function loadConversations() {
  const open = items(await api("GET", "/v1/conversations?status=open"));
  const closed = items(await api("GET", "/v1/conversations?status=closed").catch(() => []));
  const rows = open.concat(closed).map((c) => {
    const li = el("li", `${c.subject || "(no subject)"} · ${c.user} · ${c.status}`, { "data-id": c.id });
    li.onclick = () => openConversation(c);
    return li;
  });
  document.getElementById("conversations").replaceChildren(...rows);
}

async function openConversation(c) {
  current = c;
  document.getElementById("conversation").hidden = false;
  document.getElementById("conversation-title").textContent = `${c.subject || ""} (${c.id})`;
  // The author is chosen before the messages are fetched: a post made while they load has its author.
  const author = document.getElementById("author");
  if (!author.options.length || author.dataset.for !== c.id) {
    author.replaceChildren(el("option", c.user, { value: c.user }));
    author.dataset.for = c.id;
  }
  const rows = items(await api("GET", `/v1/conversations/${c.id}/messages`)).map((m) => {
    const li = el("li", undefined, { class: "message" });
    li.append(el("span", m.source, { class: `source source-${m.source}` }));
    li.append(el("b", `${(m.author && m.author.email) || "bot"}: `));
    li.append(el("span", m.text, { class: "text" }));
    for (const a of m.attachments || []) li.append(el("span", ` 📎 ${a.filename} (${a.size} B)`, { class: "attachment" }));
    return li;
  });
  if (current === c) document.getElementById("messages").replaceChildren(...rows);
}

async function loadAgents() {
  const rows = [];
  for (const p of items(await api("GET", "/v1/people"))) {
    if (p.role === "user") continue;
    const box = el("input", undefined, { type: "checkbox", "data-email": p.email });
    box.checked = !!p.online;
    box.onchange = async () => {
      await api("PUT", `/v1/agents/${encodeURIComponent(p.email)}/presence`, { online: box.checked });
      await loadAgents();
    };
    const label = el("label");
    label.append(box, ` ${p.email} (${box.checked ? "online" : "offline"})`);
    const li = el("li"); li.append(label); rows.push(li);
  }
  document.getElementById("agents").replaceChildren(...rows);
}

function parseEmail(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split), body = raw.slice(split).trim();
  const header = (name) => ((head.replace(/\r?\n[ \t]+/g, " ").match(new RegExp(`^${name}:\\s*(.*)$`, "im")) || [])[1] || "");
  return { head, body, header };
}
function decodePart(raw, type) {
  // The first part of `type`, decoded (quoted-printable or base64): enough for what the notifier sends.
  const at = raw.search(new RegExp(`Content-Type:\\s*${type}`, "i"));
  if (at < 0) return null;
  const part = raw.slice(at);
  const start = part.search(/\r?\n\r?\n/);
  const end = part.search(/\r?\n--[^\r\n]+/);
  const headers = part.slice(0, start);
  let body = part.slice(start, end > start ? end : undefined).trim();
  const charsetBytes = (bin) => new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
  if (/base64/i.test(headers)) body = charsetBytes(atob(body.replace(/\s+/g, "")));
  else if (/quoted-printable/i.test(headers))
    body = charsetBytes(body.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16))));
  return body;
}

async function loadOutbox() {
  const rows = (await api("GET", "/local/outbox")).map((m) => {
    const li = el("li", `To ${m.destinations.join(", ")} · ${m.Subject}`, { "data-id": m.id, class: "email" });
    li.onclick = () => showEmail(m);
    return li;
  });
  document.getElementById("outbox").replaceChildren(...rows);
}

function showEmail(m) {
  currentEmail = m;
  const e = parseEmail(m.raw);
  document.getElementById("email").hidden = false;
  document.getElementById("email-summary").textContent = `From ${m.From} · To ${m.To} · ${m.Subject}`;
  document.getElementById("email-headers").textContent = e.head;
  const html = decodePart(m.raw, "text/html");
  const frame = document.getElementById("email-html");
  frame.hidden = html === null;
  frame.srcdoc = html || "";
  document.getElementById("email-text").textContent = decodePart(m.raw, "text/plain") || "";
}

async function loadInbound() {
  const rows = items(await api("GET", "/v1/inbound")).map((r) => {
    const tr = el("tr");
    for (const v of [r.received_at, r.status, r.reason, r.matched_by || "-"]) tr.append(el("td", String(v)));
    return tr;
  });
  document.querySelector("#inbound tbody").replaceChildren(...rows);
}

async function refresh() {
  const results = await Promise.allSettled([loadConversations(), loadAgents(), loadOutbox(), loadInbound()]);
  for (const r of results) if (r.status === "rejected") console.error(String(r.reason));
  if (current) await openConversation(current);
}

document.getElementById("refresh").onclick = refresh;
document.getElementById("post").onsubmit = async (event) => {
  event.preventDefault();
  const text = document.getElementById("text");
  await api("POST", `/v1/conversations/${current.id}/messages`, { author: document.getElementById("author").value, text: text.value });
  text.value = "";
  await refresh();
};
document.getElementById("reply").onsubmit = async (event) => {
  event.preventDefault();
  const text = document.getElementById("reply-text");
  const result = await api("POST", "/local/reply", { id: currentEmail.id, text: text.value });
  document.getElementById("reply-status").textContent = `delivered to SES as ${result.s3_key}`;
  text.value = "";
  setTimeout(refresh, 1500);
};
refresh();
setInterval(refresh, 3000);
