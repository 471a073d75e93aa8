// paas dashboard: live instance state and live logs. Plain JS, no build step;
// every page works without it (reload shows the same data).
"use strict";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// === Live process table ===
function liveInstances(table) {
  const body = table.tBodies[0];
  const status = document.getElementById("live-status");
  async function refresh() {
    try {
      const response = await fetch(table.dataset.src, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
      if (status) status.textContent = "Live: updated " + new Date().toLocaleTimeString();
    } catch (err) {
      if (status) status.textContent = "Live updates paused (" + err.message + "); retrying.";
    }
  }
  function render(instances) {
    const rows = instances.map(function (i) {
      const tr = el("tr");
      tr.dataset.id = i.id;
      const id = el("th", "mono", i.id.replace(/-/g, "").slice(0, 8));
      id.scope = "row";
      tr.appendChild(id);
      tr.appendChild(el("td", "", i.process_type));
      tr.appendChild(el("td", "", "v" + i.release));
      tr.appendChild(el("td", "", i.node || "unplaced"));
      const state = el("td");
      const label = i.state + (i.desired_state !== "running" ? " → " + i.desired_state : "");
      state.appendChild(el("span", "badge state-" + i.state, label));
      if (i.exit_status !== null && i.exit_status !== undefined) state.appendChild(el("span", "meta", " exit " + i.exit_status));
      if (i.hint) state.appendChild(el("p", "hint instance-hint", i.hint));
      if (i.state === "crashed" && i.last_output && i.last_output.length) {
        const pre = el("pre", "mono last-output", i.last_output.slice(-5).join("\n"));
        pre.setAttribute("aria-label", "last output");
        state.appendChild(pre);
      }
      tr.appendChild(state);
      tr.appendChild(el("td", "", String(i.restarts)));
      tr.appendChild(el("td", "", i.updated_at.replace("T", " ").slice(0, 16) + " UTC"));
      return tr;
    });
    if (rows.length === 0) {
      const tr = el("tr", "empty");
      const td = el("td", "", "No instances.");
      td.colSpan = 7;
      tr.appendChild(td);
      rows.push(tr);
    }
    body.replaceChildren.apply(body, rows);
    summarize(instances);
  }
  // Same words as the server's summary of the app's state.
  function summarize(instances) {
    const badge = document.getElementById("app-state");
    const wanted = instances.filter(function (i) { return i.desired_state === "running"; });
    if (!badge || wanted.length === 0) return;
    const running = wanted.filter(function (i) { return i.state === "running"; }).length;
    const failing = wanted.some(function (i) { return ["crashed", "unhealthy", "failed"].indexOf(i.state) >= 0; });
    const n = wanted.length;
    if (running === n) { badge.textContent = "running " + n + "/" + n; badge.className = "badge ok"; }
    else if (failing) { badge.textContent = "failing, " + running + "/" + n + " running"; badge.className = "badge bad"; }
    else { badge.textContent = "starting, " + running + "/" + n + " running"; badge.className = "badge warn"; }
  }
  setInterval(refresh, 2000);
}

// === Live logs (server-sent events) ===
function liveLogs(list) {
  const status = document.getElementById("log-status");
  let lastId = Number(list.dataset.lastId || 0);
  const source = new EventSource(list.dataset.stream);
  source.onopen = function () { if (status) status.textContent = "Live: connected."; };
  source.onerror = function () { if (status) status.textContent = "Live: reconnecting…"; };
  source.onmessage = function (event) {
    let line;
    try { line = JSON.parse(event.data); } catch (_) { return; }
    if (line.id <= lastId) return;
    lastId = line.id;
    const empty = document.getElementById("log-empty");
    if (empty) empty.remove();
    const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    const li = el("li");
    li.appendChild(el("span", "ts", new Date(line.at).toISOString().slice(11, 19)));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("span", "proc", line.process_type));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("span", "line", line.line));
    list.appendChild(li);
    while (list.children.length > 2000) list.firstElementChild.remove();
    if (stick) list.scrollTop = list.scrollHeight;
  };
}

document.addEventListener("DOMContentLoaded", function () {
  const table = document.getElementById("instances");
  if (table && table.dataset.src) liveInstances(table);
  const log = document.getElementById("log");
  if (log && log.dataset.stream) liveLogs(log);
});
