// The "Scraping jobs" page. Everything that came from users (file names, uploaders, errors) is put
// into the page with textContent or as an attribute value, never as HTML.
//
// Airflow shows this page in a sandboxed iframe (no top navigation, no pop-ups): links to Airflow's
// own pages are followed in the Airflow window itself (same origin): openInAirflow, in signin.js.
"use strict";

const HEADER = { "X-Scraping-Jobs-Page": "1" };
const ACTIVE = new Set(["pending", "processing", "retrying"]);
const REFRESH_MS = 10000; // new jobs (a colleague's upload) appear within this
const ACTIVE_REFRESH_MS = 4000; // while a job on screen is moving
const AWAIT_TRIES = 60; // after an upload: refresh every 2 s until its job row exists
const state = { sort: "created_at", order: "desc", page: 1, selected: new Set(), opened: new Set(), data: null,
  timer: null, awaitRun: null, awaitTries: 0, loadNo: 0, shown: null };

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

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path, options = {}) {
  let resp;
  try {
    resp = await fetch(path, { credentials: "same-origin", ...options });
  } catch (_) {
    throw new ApiError(0, "the Airflow server did not answer; check the connection and try again");
  }
  let body = null;
  try { body = await resp.json(); } catch (_) { /* not JSON */ }
  const detail = body && body.detail !== undefined ? body.detail : resp.statusText;
  if (resp.status === 401 || (resp.status === 403 && detail === "Invalid JWT token")) {
    signIn(); // the session ended: Airflow's sign-in page, then back here
    throw new ApiError(resp.status, "your session has ended; taking you to the sign-in page");
  }
  if (!resp.ok) throw new ApiError(resp.status, plainDetail(resp.status, detail));
  return body;
}

function plainDetail(status, detail) {
  // What went wrong, in words; the server's own text where it speaks to people (upload checks).
  if (status === 403) return "you are not allowed to do this (ask an Airflow administrator for the rights)";
  if (status === 413) return typeof detail === "string" ? detail : "the file is too large";
  if (status >= 500) return "Airflow could not do it just now; try again in a minute"
    + (typeof detail === "string" && detail ? ` (${detail})` : "");
  if (Array.isArray(detail)) { // FastAPI's validation list
    return detail.map((d) => `${(d.loc || []).slice(-1)[0] || "value"}: ${d.msg}`).join("; ");
  }
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function followAirflowLink(event) {
  const link = event.target.closest("a.airflow-link");
  if (!link || (event.type === "auxclick" && event.button !== 1)) return;
  event.preventDefault();
  openInAirflow(link.href, event.type === "auxclick" || event.ctrlKey || event.metaKey || event.shiftKey);
}

function airflowLink(href, cls, text) {
  return el("a", { href, class: `airflow-link ${cls}`, text, title: "Ctrl+click (or middle click): new tab" });
}

function cell(label, props = {}, ...children) {
  return el("td", { "data-label": label, ...props }, ...children);
}

function problemCell(job) {
  const td = cell("Problem", { class: "error" });
  if (!job.last_error) return td;
  td.append(el("span", { class: "problem", text: job.problem }));
  const details = el("details", { class: "technical" }, el("summary", { text: "technical detail" }),
    el("pre", { text: job.last_error }));
  details.open = state.opened.has(job.id);
  details.addEventListener("toggle", () => {
    if (details.open) state.opened.add(job.id); else state.opened.delete(job.id);
  });
  td.append(details);
  return td;
}

function row(job, canEdit) {
  const pick = cell("Select", { class: "pick-cell" });
  if (canEdit) {
    const box = el("input", { type: "checkbox", class: "pick", "data-id": String(job.id),
      "aria-label": `select job ${job.id}` });
    box.checked = state.selected.has(job.id);
    box.addEventListener("change", () => {
      if (box.checked) state.selected.add(job.id); else state.selected.delete(job.id);
      showSelection();
    });
    pick.append(box);
  }
  const results = cell("Results");
  if (job.has_results) {
    results.append(el("a", { href: `api/jobs/${job.id}/results`, download: "", class: "results-link", text: "download" }));
  }
  const logs = new URL(`api/jobs/${job.id}/logs`, document.baseURI).href;
  return el("tr", { "data-id": String(job.id), "data-status": job.status },
    pick,
    cell("Id", { class: "num", text: String(job.id) }),
    cell("File", { class: "file", text: job.file_name }),
    cell("Uploader", { class: "uploader", text: job.uploader }),
    cell("Status", {}, el("span", { class: `status status-${job.status}`, text: job.status_text })),
    cell("Created", { text: when(job.created_at) }),
    cell("Started", { text: when(job.started_at) }),
    cell("Completed", { text: when(job.completed_at) }),
    cell("Numbers", { class: "num", text: `${job.processed_numbers} / ${job.total_numbers}` }),
    cell("Retries", { class: "num retries", text: `${job.retry_count} / ${job.max_retries}` }),
    problemCell(job),
    cell("In Airflow", { class: "links" }, airflowLink(job.run_url, "run-link", "run"), " · ",
      airflowLink(logs, "logs-link", "logs")),
    results);
}

function showPaused(dags) {
  const box = $("paused");
  const paused = dags.filter((d) => d.paused);
  box.hidden = paused.length === 0;
  box.replaceChildren(...paused.map((d) => {
    const line = el("p", { "data-dag": d.dag_id },
      el("strong", { text: `${d.dag_id} is paused in Airflow: ` }), `${d.stops}. `);
    if (d.can_unpause) {
      const button = el("button", { type: "button", class: "unpause", "data-dag": d.dag_id, text: "Unpause it" });
      button.addEventListener("click", () => unpause(d.dag_id, button));
      line.append(button, " ");
    } else {
      line.append("Ask an Airflow administrator to unpause it. ");
    }
    line.append(airflowLink(d.url, "dag-link", "open in Airflow"));
    return line;
  }));
}

async function unpause(dagId, button) {
  button.disabled = true;
  try {
    await api(`api/dags/${encodeURIComponent(dagId)}/unpause`, { method: "POST", headers: HEADER });
  } catch (err) {
    $("error").textContent = `Could not unpause ${dagId}: ${err.message}`;
  }
  await load();
}

function statusOptions(words) {
  const select = $("f-status");
  if (select.options.length > 1) return;
  select.append(...Object.entries(words).map(([code, text]) => el("option", { value: code, text })));
}

function render(data) {
  state.data = data;
  $("who").textContent = `signed in as ${data.user}`;
  statusOptions(data.status_words);
  showPaused(data.dags);
  $("upload-box").hidden = !data.can_trigger;
  $("actions").hidden = !data.can_edit;
  $("jobs").classList.toggle("read-only", !data.can_edit);
  if (!data.can_edit) state.selected.clear();
  // Rebuilt only when something changed: a refresh must not take a checkbox or a link from under
  // the pointer, nor close an opened technical detail for nothing.
  const shown = JSON.stringify([data.jobs, data.can_edit]);
  if (shown !== state.shown) {
    state.shown = shown;
    const body = document.querySelector("#jobs tbody");
    body.replaceChildren(...data.jobs.map((job) => row(job, data.can_edit)));
    if (!data.jobs.length) body.append(el("tr", {}, el("td", { colspan: "13", text: "No jobs match." })));
  }
  $("page-info").textContent = `page ${data.page} of ${data.pages} · ${data.total} jobs`;
  $("refreshed").textContent = `updated ${new Date().toLocaleTimeString()}`;
  $("prev").disabled = data.page <= 1;
  $("next").disabled = data.page >= data.pages;
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.classList.toggle("sorted-asc", th.dataset.sort === state.sort && state.order === "asc");
    th.classList.toggle("sorted-desc", th.dataset.sort === state.sort && state.order === "desc");
  }
  $("select-all").checked = data.jobs.length > 0 && data.jobs.every((j) => state.selected.has(j.id));
  showSelection();
  if (state.awaitRun && (data.jobs.some((j) => j.run_id === state.awaitRun) || ++state.awaitTries > AWAIT_TRIES)) {
    state.awaitRun = null;
  }
}

function schedule() {
  // The list keeps itself current while the page is open; a hidden tab waits for its turn.
  clearTimeout(state.timer);
  const jobs = state.data ? state.data.jobs : [];
  const ms = state.awaitRun ? 2000 : jobs.some((j) => ACTIVE.has(j.status)) ? ACTIVE_REFRESH_MS : REFRESH_MS;
  state.timer = setTimeout(() => (document.hidden ? schedule() : load()), ms);
}

function showSelection() {
  const n = state.selected.size;
  $("selected-count").textContent = n ? `${n} selected` : "";
  $("retry-selected").disabled = $("timeout-selected").disabled = n === 0;
}

async function load() {
  const loadNo = ++state.loadNo; // a slow answer never overwrites a newer one
  try {
    const data = await api(`api/jobs?${queryString()}`);
    if (loadNo !== state.loadNo) return;
    $("error").textContent = "";
    render(data);
  } catch (err) {
    if (loadNo === state.loadNo) $("error").textContent = `Could not load the jobs: ${err.message}`;
  } finally {
    if (loadNo === state.loadNo) schedule();
  }
}

const OUTCOME_WORDS = { retried: "retry started", timed_out: "marked as timed out", skipped: "not changed",
  error: "could not be changed" };

async function act(kind) {
  const ids = [...state.selected];
  const report = $("action-report");
  $("confirm-timeout").hidden = true;
  report.replaceChildren(el("li", { text: `${kind === "retry" ? "Retrying" : "Marking as timed out"} ${ids.length} job(s)…` }));
  try {
    const result = await api(`api/jobs/${kind}`, {
      method: "POST", headers: { ...HEADER, "Content-Type": "application/json" }, body: JSON.stringify({ job_ids: ids }),
    });
    report.replaceChildren(...result.actions.map((a) =>
      el("li", { class: a.outcome, "data-id": String(a.job_id), "data-outcome": a.outcome,
        text: `Job #${a.job_id}: ${OUTCOME_WORDS[a.outcome] || a.outcome} — ${a.message}` })));
    state.selected.clear();
    state.shown = null; // the checkboxes go back to unticked
  } catch (err) {
    report.replaceChildren(el("li", { class: "error", text: `Nothing was changed: ${err.message}` }));
  }
  await load();
}

function askTimeout() {
  const n = state.selected.size;
  $("confirm-text").textContent = `Mark ${n} job(s) as timed out? Their Airflow runs are stopped and they `
    + "are not retried automatically; you can still retry them by hand.";
  $("confirm-timeout").hidden = false;
  $("confirm-timeout-no").focus();
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
    message.textContent = `Not accepted: ${err.message}`;
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
  const filters = $("filters");
  filters.addEventListener("submit", (e) => { e.preventDefault(); state.page = 1; load(); });
  $("reset-filters").addEventListener("click", () => {
    HTMLFormElement.prototype.reset.call(filters); // immune to a control named "reset"
    state.page = 1;
    load();
  });
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
  $("timeout-selected").addEventListener("click", askTimeout);
  $("confirm-timeout-yes").addEventListener("click", () => act("timeout"));
  $("confirm-timeout-no").addEventListener("click", () => { $("confirm-timeout").hidden = true; });
  for (const kind of ["click", "auxclick"]) document.body.addEventListener(kind, followAirflowLink);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) load(); });
  $("upload-form").addEventListener("submit", upload);
  loadUploaders();
  load();
});
