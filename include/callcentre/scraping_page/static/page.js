// The "Scraping jobs" page. Everything that came from users (file names, uploaders, errors) is put
// into the page with textContent or as an attribute value, never as HTML.
"use strict";

const HEADER = { "X-Scraping-Jobs-Page": "1" };
const ACTIVE = new Set(["pending", "processing", "retrying"]);
const REFRESH_MS = 5000;
const state = { sort: "created_at", order: "desc", page: 1, selected: new Set(), data: null, timer: null,
  awaitRun: null, awaitTries: 0 };
const AWAIT_TRIES = 60; // after an upload: refresh until its job row exists (the run's first task writes it)

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function localDay(value, plusDays = 0) {
  // A date input's day at local midnight, as an instant the API can compare with created_at.
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

function queryString() {
  const params = new URLSearchParams();
  if ($("f-status").value) params.append("status", $("f-status").value);
  if ($("f-from").value) params.set("created_from", localDay($("f-from").value));
  if ($("f-to").value) params.set("created_to", localDay($("f-to").value, 1));
  if ($("f-uploader").value.trim()) params.set("uploader", $("f-uploader").value.trim());
  if ($("f-search").value.trim()) params.set("search", $("f-search").value.trim());
  params.set("sort", state.sort);
  params.set("order", state.order);
  params.set("page", state.page);
  params.set("page_size", $("page-size").value);
  return params.toString();
}

async function api(path, options = {}) {
  const resp = await fetch(path, { credentials: "same-origin", ...options });
  let body = null;
  try { body = await resp.json(); } catch (_) { /* not JSON */ }
  if (!resp.ok) {
    let detail = body && body.detail !== undefined ? body.detail : resp.statusText;
    if (typeof detail !== "string") detail = JSON.stringify(detail);
    throw new Error(`${resp.status}: ${detail}`);
  }
  return body;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function row(job) {
  const box = el("input", { type: "checkbox", class: "pick", "data-id": String(job.id) });
  box.checked = state.selected.has(job.id);
  box.addEventListener("change", () => {
    if (box.checked) state.selected.add(job.id); else state.selected.delete(job.id);
    showSelection();
  });
  const airflow = el("td", {},
    el("a", { href: job.run_url, target: "_top", class: "run-link", text: "run" }), " · ",
    el("a", { href: `api/jobs/${job.id}/logs`, target: "_top", class: "logs-link", text: "logs" }));
  const results = el("td");
  if (job.has_results) {
    results.append(el("a", { href: `api/jobs/${job.id}/results`, download: "", class: "results-link", text: "download" }));
  }
  return el("tr", { "data-id": String(job.id), "data-status": job.status },
    el("td", {}, box),
    el("td", { class: "num", text: String(job.id) }),
    el("td", { class: "file", text: job.file_name }),
    el("td", { class: "uploader", text: job.uploader }),
    el("td", {}, el("span", { class: `status status-${job.status}`, text: job.status })),
    el("td", { text: when(job.created_at) }),
    el("td", { text: when(job.started_at) }),
    el("td", { text: when(job.completed_at) }),
    el("td", { class: "num", text: `${job.processed_numbers} / ${job.total_numbers}` }),
    el("td", { class: "num retries", text: `${job.retry_count} / ${job.max_retries}` }),
    el("td", { class: "error", text: job.last_error || "" }),
    airflow,
    results);
}

function render(data) {
  state.data = data;
  $("who").textContent = `signed in as ${data.user}`;
  $("upload-box").hidden = !data.can_trigger;
  $("actions").hidden = !data.can_edit;
  const body = document.querySelector("#jobs tbody");
  body.replaceChildren(...data.jobs.map(row));
  if (!data.jobs.length) body.append(el("tr", {}, el("td", { colspan: "13", text: "No jobs match." })));
  $("page-info").textContent = `page ${data.page} of ${data.pages} · ${data.total} jobs`;
  $("prev").disabled = data.page <= 1;
  $("next").disabled = data.page >= data.pages;
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.classList.toggle("sorted-asc", th.dataset.sort === state.sort && state.order === "asc");
    th.classList.toggle("sorted-desc", th.dataset.sort === state.sort && state.order === "desc");
  }
  $("select-all").checked = data.jobs.length > 0 && data.jobs.every((j) => state.selected.has(j.id));
  showSelection();
  clearTimeout(state.timer);
  if (state.awaitRun && (data.jobs.some((j) => j.run_id === state.awaitRun) || ++state.awaitTries > AWAIT_TRIES)) {
    state.awaitRun = null;
  }
  if (state.awaitRun) state.timer = setTimeout(load, 2000);
  else if (data.jobs.some((j) => ACTIVE.has(j.status))) state.timer = setTimeout(load, REFRESH_MS);
}

function showSelection() {
  const n = state.selected.size;
  $("selected-count").textContent = n ? `${n} selected` : "";
  $("retry-selected").disabled = $("timeout-selected").disabled = n === 0;
}

async function load() {
  $("error").textContent = "";
  try {
    render(await api(`api/jobs?${queryString()}`));
  } catch (err) {
    $("error").textContent = `Could not load the jobs: ${err.message}`;
  }
}

async function act(kind) {
  const ids = [...state.selected];
  const report = $("action-report");
  report.replaceChildren(el("li", { text: `${kind === "retry" ? "Retrying" : "Timing out"} ${ids.length} job(s)…` }));
  try {
    const result = await api(`api/jobs/${kind}`, {
      method: "POST", headers: { ...HEADER, "Content-Type": "application/json" }, body: JSON.stringify({ job_ids: ids }),
    });
    report.replaceChildren(...result.actions.map((a) =>
      el("li", { class: a.outcome, "data-id": String(a.job_id), "data-outcome": a.outcome, text: `job #${a.job_id}: ${a.outcome} — ${a.message}` })));
    state.selected.clear();
  } catch (err) {
    report.replaceChildren(el("li", { class: "error", text: `Failed: ${err.message}` }));
  }
  await load();
}

async function upload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  const message = $("upload-message");
  if (!file) return;
  message.className = "";
  message.textContent = `Uploading ${file.name}…`;
  const form = new FormData();
  form.append("file", file);
  $("upload-button").disabled = true;
  try {
    const result = await api("api/uploads", { method: "POST", headers: HEADER, body: form });
    message.className = "ok";
    message.textContent = result.message;
    $("upload-form").reset();
    if (result.created) { state.awaitRun = result.run_id; state.awaitTries = 0; }
  } catch (err) {
    message.className = "bad";
    message.textContent = `Refused: ${err.message}`;
  } finally {
    $("upload-button").disabled = false;
  }
  await load();
}

async function loadUploaders() {
  try {
    const names = await api("api/uploaders");
    $("uploader-list").replaceChildren(...names.map((n) => el("option", { value: n })));
  } catch (_) { /* suggestions only */ }
}

document.addEventListener("DOMContentLoaded", () => {
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); state.page = 1; load(); });
  $("reset").addEventListener("click", () => { $("filters").reset(); state.page = 1; load(); });
  $("page-size").addEventListener("change", () => { state.page = 1; load(); });
  $("prev").addEventListener("click", () => { state.page -= 1; load(); });
  $("next").addEventListener("click", () => { state.page += 1; load(); });
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.addEventListener("click", () => {
      state.order = state.sort === th.dataset.sort && state.order === "desc" ? "asc" : "desc";
      state.sort = th.dataset.sort;
      state.page = 1;
      load();
    });
  }
  $("select-all").addEventListener("change", (e) => {
    for (const job of (state.data ? state.data.jobs : [])) {
      if (e.target.checked) state.selected.add(job.id); else state.selected.delete(job.id);
    }
    for (const box of document.querySelectorAll("input.pick")) box.checked = e.target.checked;
    showSelection();
  });
  $("retry-selected").addEventListener("click", () => act("retry"));
  $("timeout-selected").addEventListener("click", () => act("timeout"));
  $("upload-form").addEventListener("submit", upload);
  loadUploaders();
  load();
});
