// The "Scraping jobs" page. Everything that came from users (file names, uploaders, errors) is put
// into the page with textContent or as an attribute value, never as HTML.
//
// Airflow shows this page in a sandboxed iframe (no top navigation, no pop-ups): links to Airflow's
// own pages are followed in the Airflow window itself (same origin): openInAirflow, in signin.js.
// Words and dates follow the language and time zone chosen in the Airflow UI (airflowPrefs, in
// airflow_prefs.js); statuses and problems come from the server in that language.
"use strict";

const TEXT = {
  en: {
    title: "Scraping jobs", dashboard: "Dashboard", days_from: "Days from", to: "to", show: "Show",
    per_day: "Jobs per day", day: "Day", jobs_by_status: "Jobs by status", jobs: "Jobs",
    numbers_looked_up: "Numbers", numbers_looked_up_hint: "numbers looked up (of the jobs created that day)", per_uploader: "Success and failure per uploader", uploader: "Uploader",
    done: "Done", failed: "Failed", timed_out: "Timed out", success: "Success",
    completion: "Upload to completion: {0} on average, {1} for 95% of the jobs ({2} completed jobs).",
    no_completion: "No job completed in these days.", more_uploaders: "…and {0} more uploaders.",
    days_in_zone: "days in {0}", no_jobs_days: "No jobs in these days.",
    upload_label: "Upload a workbook (.xlsx)", upload: "Upload", notify_label: "Email me when it ends",
    notify_hint: "name@example.com", no_email: "no email for this upload", upload_told: "{0} An email goes to {1} when the job ends.", status: "Status", any: "any",
    created_from: "Created from", search: "Search", search_hint: "#job id, file name or uploader", apply: "Apply",
    reset: "Reset", retry_selected: "Retry selected", timeout_selected: "Mark selected as timed out",
    confirm_yes: "Yes, mark as timed out", cancel: "Cancel", select_all: "select all on this page",
    col_select: "Select", col_id: "Id", col_file: "File", col_uploader: "Uploader", col_status: "Status",
    col_created: "Created", col_started: "Started", col_completed: "Completed", col_numbers: "Numbers",
    col_retries: "Retries", col_problem: "Problem", col_airflow: "In Airflow", col_results: "Results",
    numbers_hint: "numbers looked up / numbers in the file", retries_hint: "retries used / retries allowed",
    previous: "‹ Previous", next: "Next ›", per_page: "per page", signed_in: "signed in as {0}",
    page_info: "page {0} of {1} · {2} jobs", updated: "updated {0}", no_match: "No jobs match.",
    technical: "technical detail", download: "download", run: "run", logs: "logs", new_tab: "Ctrl+click (or middle click): new tab",
    select_job: "select job {0}", selected: "{0} selected", paused: "{0} is paused in Airflow: ",
    stops_scraping_upload: "uploads wait and no new job starts",
    stops_scraping_jobs_reconcile: "failed jobs are not retried automatically and stuck jobs are not timed out",
    unpause: "Unpause it", ask_admin: "Ask an Airflow administrator to unpause it. ", open_airflow: "open in Airflow",
    no_unpause: "Could not unpause {0}: {1}", no_load: "Could not load the jobs: {0}",
    no_dashboard: "Could not load the dashboard: {0}",
    retried: "retry started", timed_out_outcome: "marked as timed out", skipped: "not changed", error: "could not be changed",
    retrying_n: "Retrying {0} job(s)…", timing_out_n: "Marking as timed out {0} job(s)…", job_outcome: "Job #{0}: {1} — {2}",
    nothing_changed: "Nothing was changed: {0}",
    confirm_text: "Mark {0} job(s) as timed out? Their Airflow runs are stopped and they are not retried automatically; you can still retry them by hand.",
    uploading: "Uploading {0}…", not_accepted: "Not accepted: {0}",
    upload_waits: "{0}: uploaded, but it waits: {1} is paused in Airflow, so the job starts only when it is unpaused",
    upload_started: "{0}: uploaded; run {1} started, the job appears in the list when it begins",
    upload_again: "{0}: this file was already uploaded as {1}; no new job was created",
    upload_job: "job #{0} ({1})", upload_run: "run {0} ({1})",
    not_allowed: "you are not allowed to do this (ask an Airflow administrator for the rights)",
    too_large: "the file is too large", try_later: "Airflow could not do it just now; try again in a minute",
    no_answer: "the Airflow server did not answer; check the connection and try again",
    session_ended: "your session has ended; taking you to the sign-in page",
  },
  es: {
    title: "Trabajos de scraping", dashboard: "Resumen", days_from: "Días del", to: "al", show: "Mostrar",
    per_day: "Trabajos por día", day: "Día", jobs_by_status: "Trabajos por estado", jobs: "Total",
    numbers_looked_up: "Números", numbers_looked_up_hint: "números consultados (de los trabajos creados ese día)", per_uploader: "Éxitos y fallos por usuario", uploader: "Usuario",
    done: "Hechos", failed: "Fallos", timed_out: "Agotados", success: "Éxito",
    completion: "De la carga al fin: {0} de media, {1} para el 95 % de los trabajos ({2} trabajos terminados).",
    no_completion: "Ningún trabajo terminó en estos días.", more_uploaders: "…y {0} usuarios más.",
    days_in_zone: "días en {0}", no_jobs_days: "No hay trabajos en estos días.",
    upload_label: "Subir un libro (.xlsx)", upload: "Subir", notify_label: "Avisarme por correo al terminar",
    notify_hint: "nombre@ejemplo.com", no_email: "sin correo para esta subida", upload_told: "{0} Se enviará un correo a {1} cuando el trabajo termine.", status: "Estado", any: "todos",
    created_from: "Creado del", search: "Buscar", search_hint: "#id de trabajo, archivo o usuario", apply: "Aplicar",
    reset: "Limpiar", retry_selected: "Reintentar los seleccionados", timeout_selected: "Marcar los seleccionados como tiempo agotado",
    confirm_yes: "Sí, marcar como tiempo agotado", cancel: "Cancelar", select_all: "seleccionar todos en esta página",
    col_select: "Elegir", col_id: "Id", col_file: "Archivo", col_uploader: "Usuario", col_status: "Estado",
    col_created: "Creado", col_started: "Iniciado", col_completed: "Terminado", col_numbers: "Números",
    col_retries: "Reintentos", col_problem: "Problema", col_airflow: "En Airflow", col_results: "Resultados",
    numbers_hint: "números consultados / números del archivo", retries_hint: "reintentos usados / reintentos permitidos",
    previous: "‹ Anterior", next: "Siguiente ›", per_page: "por página", signed_in: "sesión de {0}",
    page_info: "página {0} de {1} · {2} trabajos", updated: "actualizado {0}", no_match: "Ningún trabajo coincide.",
    technical: "detalle técnico", download: "descargar", run: "ejecución", logs: "logs", new_tab: "Ctrl+clic (o clic central): pestaña nueva",
    select_job: "elegir el trabajo {0}", selected: "{0} seleccionados", paused: "{0} está en pausa en Airflow: ",
    stops_scraping_upload: "las cargas esperan y no empieza ningún trabajo nuevo",
    stops_scraping_jobs_reconcile: "los trabajos fallidos no se reintentan solos y los atascados no se cortan",
    unpause: "Reanudarlo", ask_admin: "Pida a un administrador de Airflow que lo reanude. ", open_airflow: "abrir en Airflow",
    no_unpause: "No se pudo reanudar {0}: {1}", no_load: "No se pudieron cargar los trabajos: {0}",
    no_dashboard: "No se pudo cargar el resumen: {0}",
    retried: "reintento iniciado", timed_out_outcome: "marcado como tiempo agotado", skipped: "sin cambios", error: "no se pudo cambiar",
    retrying_n: "Reintentando {0} trabajo(s)…", timing_out_n: "Marcando {0} trabajo(s) como tiempo agotado…", job_outcome: "Trabajo #{0}: {1} — {2}",
    nothing_changed: "No se cambió nada: {0}",
    confirm_text: "¿Marcar {0} trabajo(s) como tiempo agotado? Sus ejecuciones de Airflow se detienen y no se reintentan solas; aún puede reintentarlos a mano.",
    uploading: "Subiendo {0}…", not_accepted: "No aceptado: {0}",
    upload_waits: "{0}: subido, pero espera: {1} está en pausa en Airflow, así que el trabajo empieza cuando se reanude",
    upload_started: "{0}: subido; la ejecución {1} empezó, el trabajo aparece en la lista cuando comienza",
    upload_again: "{0}: este archivo ya se subió como {1}; no se creó ningún trabajo nuevo",
    upload_job: "el trabajo #{0} ({1})", upload_run: "la ejecución {0} ({1})",
    not_allowed: "no tiene permiso para hacer esto (pida los permisos a un administrador de Airflow)",
    too_large: "el archivo es demasiado grande", try_later: "Airflow no pudo hacerlo ahora; inténtelo en un minuto",
    no_answer: "el servidor de Airflow no respondió; revise la conexión e inténtelo de nuevo",
    session_ended: "su sesión terminó; lo llevamos a la página de inicio de sesión",
  },
};
const prefs = { lang: "en", zone: undefined };

function t(key, ...args) {
  return airflowPrefs.word(TEXT, prefs.lang, key, ...args);
}

const HEADER = { "X-Scraping-Jobs-Page": "1" };
const ACTIVE = new Set(["pending", "processing", "retrying"]);
const REFRESH_MS = 10000; // new jobs (a colleague's upload) appear within this
const ACTIVE_REFRESH_MS = 4000; // while a job on screen is moving
const AWAIT_TRIES = 60; // after an upload: refresh every 2 s until its job row exists
const state = { sort: "created_at", order: "desc", page: 1, selected: new Set(), opened: new Set(), data: null,
  timer: null, awaitRun: null, awaitTries: 0, loadNo: 0, shown: null };

function zoneOffsetMs(zone, instant) {
  // How far ahead of UTC the zone's wall clock is at this instant.
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23",
    year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" })
    .formatToParts(instant).map((p) => [p.type, Number(p.value)]));
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - instant;
}

function localDay(value, plusDays = 0) {
  // A date input's day at midnight in the person's zone (the Airflow UI's, else the browser's), as
  // an instant the API can compare with created_at.
  const [y, m, d] = value.split("-").map(Number);
  if (!prefs.zone) return new Date(y, m - 1, d + plusDays).toISOString();
  const wall = Date.UTC(y, m - 1, d + plusDays);
  let instant = wall - zoneOffsetMs(prefs.zone, wall);
  instant = wall - zoneOffsetMs(prefs.zone, instant); // the offset at that midnight itself (DST)
  return new Date(instant).toISOString();
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
  params.set("lang", prefs.lang);
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
    throw new ApiError(0, t("no_answer"));
  }
  let body = null;
  try { body = await resp.json(); } catch (_) { /* not JSON */ }
  const detail = body && body.detail !== undefined ? body.detail : resp.statusText;
  if (resp.status === 401 || (resp.status === 403 && detail === "Invalid JWT token")) {
    signIn(); // the session ended: Airflow's sign-in page, then back here
    throw new ApiError(resp.status, t("session_ended"));
  }
  if (!resp.ok) throw new ApiError(resp.status, plainDetail(resp.status, detail));
  return body;
}

function plainDetail(status, detail) {
  // What went wrong, in words; the server's own text where it speaks to people (upload checks).
  if (status === 403) return t("not_allowed");
  if (status === 413) return typeof detail === "string" ? detail : t("too_large");
  if (status >= 500) return t("try_later")
    + (typeof detail === "string" && detail ? ` (${detail})` : "");
  if (Array.isArray(detail)) { // FastAPI's validation list
    return detail.map((d) => `${(d.loc || []).slice(-1)[0] || "value"}: ${d.msg}`).join("; ");
  }
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

function when(iso) {
  return airflowPrefs.when(iso, prefs);
}

function number(value) {
  return airflowPrefs.number(value, prefs);
}

function followAirflowLink(event) {
  const link = event.target.closest("a.airflow-link");
  if (!link || (event.type === "auxclick" && event.button !== 1)) return;
  event.preventDefault();
  openInAirflow(link.href, event.type === "auxclick" || event.ctrlKey || event.metaKey || event.shiftKey);
}

function airflowLink(href, cls, text) {
  return el("a", { href, class: `airflow-link ${cls}`, text, title: t("new_tab") });
}

function cell(label, props = {}, ...children) {
  return el("td", { "data-label": label, ...props }, ...children);
}

function problemCell(job) {
  const td = cell(t("col_problem"), { class: "error" });
  if (!job.last_error) return td;
  td.append(el("span", { class: "problem", text: job.problem }));
  const details = el("details", { class: "technical" }, el("summary", { text: t("technical") }),
    el("pre", { text: job.last_error }));
  details.open = state.opened.has(job.id);
  details.addEventListener("toggle", () => {
    if (details.open) state.opened.add(job.id); else state.opened.delete(job.id);
  });
  td.append(details);
  return td;
}

function numbersCell(job) {
  // Progress of a moving job: numbers looked up so far (each finished batch), refreshed by polling.
  const td = cell(t("col_numbers"), { class: "num numbers", text: `${number(job.processed_numbers ?? 0)} / ${number(job.total_numbers ?? 0)}` });
  if (ACTIVE.has(job.status) && job.total_numbers > 0) {
    td.append(el("progress", { class: "progress", max: String(job.total_numbers), value: String(job.processed_numbers) }));
  }
  return td;
}

function row(job, canEdit) {
  const pick = cell(t("col_select"), { class: "pick-cell" });
  if (canEdit) {
    const box = el("input", { type: "checkbox", class: "pick", "data-id": String(job.id),
      "aria-label": t("select_job", job.id) });
    box.checked = state.selected.has(job.id);
    box.addEventListener("change", () => {
      if (box.checked) state.selected.add(job.id); else state.selected.delete(job.id);
      showSelection();
    });
    pick.append(box);
  }
  const results = cell(t("col_results"));
  if (job.has_results) {
    results.append(el("a", { href: `api/jobs/${job.id}/results`, download: "", class: "results-link", text: t("download") }));
  }
  const logs = new URL(`api/jobs/${job.id}/logs`, document.baseURI).href;
  return el("tr", { "data-id": String(job.id), "data-status": job.status },
    pick,
    cell(t("col_id"), { class: "num", text: String(job.id) }),
    cell(t("col_file"), { class: "file", text: job.file_name }),
    cell(t("col_uploader"), { class: "uploader", text: job.uploader }),
    cell(t("col_status"), {}, el("span", { class: `status status-${job.status}`, text: job.status_text })),
    cell(t("col_created"), { text: when(job.created_at) }),
    cell(t("col_started"), { text: when(job.started_at) }),
    cell(t("col_completed"), { text: when(job.completed_at) }),
    numbersCell(job),
    cell(t("col_retries"), { class: "num retries", text: `${job.retry_count} / ${job.max_retries}` }),
    problemCell(job),
    cell(t("col_airflow"), { class: "links" }, airflowLink(job.run_url, "run-link", t("run")), " · ",
      airflowLink(logs, "logs-link", t("logs"))),
    results);
}

function showPaused(dags) {
  const box = $("paused");
  const paused = dags.filter((d) => d.paused);
  box.hidden = paused.length === 0;
  box.replaceChildren(...paused.map((d) => {
    const line = el("p", { "data-dag": d.dag_id },
      el("strong", { text: t("paused", d.dag_id) }), `${TEXT[prefs.lang][`stops_${d.dag_id}`] ? t(`stops_${d.dag_id}`) : d.stops}. `);
    if (d.can_unpause) {
      const button = el("button", { type: "button", class: "unpause", "data-dag": d.dag_id, text: t("unpause") });
      button.addEventListener("click", () => unpause(d.dag_id, button));
      line.append(button, " ");
    } else {
      line.append(t("ask_admin"));
    }
    line.append(airflowLink(d.url, "dag-link", t("open_airflow")));
    return line;
  }));
}

async function unpause(dagId, button) {
  button.disabled = true;
  try {
    await api(`api/dags/${encodeURIComponent(dagId)}/unpause`, { method: "POST", headers: HEADER });
  } catch (err) {
    $("error").textContent = t("no_unpause", dagId, err.message);
  }
  await load();
}

function statusOptions(words) {
  // The statuses in the language of the list just loaded (a language switch renames them).
  const select = $("f-status");
  if (select.dataset.words === JSON.stringify(words)) return; // an open list stays open
  select.dataset.words = JSON.stringify(words);
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", text: t("any") }),
    ...Object.entries(words).map(([code, text]) => el("option", { value: code, text })));
  select.value = chosen;
}

function render(data) {
  state.data = data;
  $("who").textContent = t("signed_in", data.user);
  statusOptions(data.status_words);
  if (dash.data) renderDashboard(dash.data); // its legend speaks the list's words
  showPaused(data.dags);
  $("upload-box").hidden = !data.can_trigger;
  $("actions").hidden = !data.can_edit;
  $("jobs").classList.toggle("read-only", !data.can_edit);
  if (!data.can_edit) state.selected.clear();
  // Rebuilt only when something changed: a refresh must not take a checkbox or a link from under
  // the pointer, nor close an opened technical detail for nothing.
  const shown = JSON.stringify([data.jobs, data.can_edit, prefs]);
  if (shown !== state.shown) {
    state.shown = shown;
    const body = document.querySelector("#jobs tbody");
    body.replaceChildren(...data.jobs.map((job) => row(job, data.can_edit)));
    if (!data.jobs.length) body.append(el("tr", {}, el("td", { colspan: "13", text: t("no_match") })));
  }
  $("page-info").textContent = t("page_info", data.page, data.pages, data.total);
  $("refreshed").textContent = t("updated", new Date().toLocaleTimeString(prefs.lang, { timeZone: prefs.zone }));
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
  $("selected-count").textContent = n ? t("selected", n) : "";
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
    if (loadNo === state.loadNo) $("error").textContent = t("no_load", err.message);
  } finally {
    if (loadNo === state.loadNo) schedule();
  }
}

const OUTCOME_KEYS = { retried: "retried", timed_out: "timed_out_outcome", skipped: "skipped", error: "error" };

async function act(kind) {
  const ids = [...state.selected];
  const report = $("action-report");
  $("confirm-timeout").hidden = true;
  report.replaceChildren(el("li", { text: t(kind === "retry" ? "retrying_n" : "timing_out_n", ids.length) }));
  try {
    const result = await api(`api/jobs/${kind}`, {
      method: "POST", headers: { ...HEADER, "Content-Type": "application/json" }, body: JSON.stringify({ job_ids: ids }),
    });
    report.replaceChildren(...result.actions.map((a) =>
      el("li", { class: a.outcome, "data-id": String(a.job_id), "data-outcome": a.outcome,
        text: t("job_outcome", a.job_id, OUTCOME_KEYS[a.outcome] ? t(OUTCOME_KEYS[a.outcome]) : a.outcome, a.message) })));
    state.selected.clear();
    state.shown = null; // the checkboxes go back to unticked
  } catch (err) {
    report.replaceChildren(el("li", { class: "error", text: t("nothing_changed", err.message) }));
  }
  await load();
}

function askTimeout() {
  const n = state.selected.size;
  $("confirm-text").textContent = t("confirm_text", n);
  $("confirm-timeout").hidden = false;
  $("confirm-timeout-no").focus();
}

async function upload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  const message = $("upload-message");
  if (!file) return;
  message.className = "";
  message.textContent = t("uploading", file.name);
  const form = new FormData();
  form.append("file", file);
  form.append("notify_email", $("upload-email").value.trim());
  if ($("upload-no-email").checked) form.append("no_email", "1");
  $("upload-button").disabled = true;
  try {
    const result = await api("api/uploads", { method: "POST", headers: HEADER, body: form });
    message.className = "ok";
    message.textContent = uploadMessage(result);
    const address = $("upload-email").value;
    $("upload-form").reset();
    $("upload-email").value = address; // the next upload is likely the same person's
    if (result.created) { state.awaitRun = result.run_id; state.awaitTries = 0; }
  } catch (err) {
    message.className = "bad";
    message.textContent = t("not_accepted", err.message);
  } finally {
    $("upload-button").disabled = false;
  }
  await load();
}

// The dashboard: figures over a range of days in the person's zone, refreshed while the page is open.
const DASHBOARD_REFRESH_MS = 30000;
const BAR_ORDER = ["completed", "failed", "timeout", "retrying", "processing", "pending"];
const dash = { timer: null, loadNo: 0, data: null };

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function dayLabel(iso) {
  // A calendar day (no instant): formatted in UTC so no zone moves it.
  const [y, m, d] = iso.split("-").map(Number);
  return new Intl.DateTimeFormat(prefs.lang, { day: "numeric", month: "short", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

function dashboardQuery() {
  const params = new URLSearchParams({ tz: airflowPrefs.zoneName(prefs.zone) });
  if ($("d-from").value) params.set("from_day", $("d-from").value);
  if ($("d-to").value) params.set("to_day", $("d-to").value);
  return params.toString();
}

function statusBar(day, most, words) {
  // One bar per day, a segment per status, its length proportional to the day's jobs (CSSOM widths
  // are allowed by the page's CSP, inline style attributes are not).
  const bar = el("div", { class: "bar", role: "img",
    "aria-label": BAR_ORDER.filter((s) => day.jobs[s]).map((s) => `${words[s] || s}: ${day.jobs[s]}`).join(", ") });
  for (const status of BAR_ORDER) {
    const count = day.jobs[status] || 0;
    if (!count) continue;
    const part = el("span", { class: `seg status-${status}`, "data-status": status, "data-count": String(count),
      title: `${words[status] || status}: ${number(count)}` });
    part.style.width = `${(100 * count) / most}%`;
    bar.append(part);
  }
  return bar;
}

function renderDashboard(data) {
  dash.data = data;
  const words = (state.data && state.data.status_words) || {};
  $("d-zone").textContent = t("days_in_zone", data.timezone);
  if (!$("d-from").value) $("d-from").value = data.from_day;
  if (!$("d-to").value) $("d-to").value = data.to_day;
  const c = data.completion;
  $("d-completion").textContent = c.completed ? t("completion", duration(c.average_s), duration(c.p95_s), number(c.completed))
    : t("no_completion");
  $("d-legend").replaceChildren(...BAR_ORDER.map((s) => el("li", {}, el("span", { class: `swatch status-${s}` }), words[s] || s)));
  const most = Math.max(1, ...data.days.map((d) => d.total));
  const days = [...data.days].reverse(); // newest first, as the job list
  $("d-days").querySelector("tbody").replaceChildren(...days.map((d) => el("tr", { "data-day": d.day },
    el("td", { class: "day", text: dayLabel(d.day), title: d.day }), el("td", { class: "bar-cell" }, statusBar(d, most, words)),
    el("td", { class: "num total", text: number(d.total) }), el("td", { class: "num numbers", text: number(d.numbers) }))));
  const people = data.uploaders;
  $("d-uploaders").querySelector("tbody").replaceChildren(...people.map((u) => {
    const ended = u.completed + u.failed + u.timeout;
    return el("tr", { "data-uploader": u.uploader },
      el("td", { class: "uploader", text: u.uploader }), el("td", { class: "num completed", text: number(u.completed) }),
      el("td", { class: "num failed", text: number(u.failed) }), el("td", { class: "num timeout", text: number(u.timeout) }),
      el("td", { class: "num rate", text: ended ? new Intl.NumberFormat(prefs.lang, { style: "percent" }).format(u.completed / ended) : "–" }));
  }));
  if (!people.length) $("d-uploaders").querySelector("tbody").append(el("tr", {}, el("td", { colspan: "5", text: t("no_jobs_days") })));
  $("d-more").textContent = data.more_uploaders ? t("more_uploaders", number(data.more_uploaders)) : "";
}

async function loadDashboard() {
  const loadNo = ++dash.loadNo;
  clearTimeout(dash.timer);
  try {
    const data = await api(`api/dashboard?${dashboardQuery()}`);
    if (loadNo !== dash.loadNo) return;
    $("d-error").textContent = "";
    renderDashboard(data);
  } catch (err) {
    if (loadNo === dash.loadNo) $("d-error").textContent = t("no_dashboard", err.message);
  } finally {
    if (loadNo === dash.loadNo) {
      dash.timer = setTimeout(() => { if (!document.hidden && $("dashboard").open) loadDashboard(); else dash.timer = null; },
        DASHBOARD_REFRESH_MS);
    }
  }
}

function applyPrefs(chosen) {
  // The language and zone chosen in the Airflow UI: words, dates, and the server's words (reload).
  prefs.lang = chosen.lang;
  prefs.zone = chosen.zone;
  airflowPrefs.translate(TEXT, prefs.lang);
  document.title = t("title");
}

function uploadMessage(r) {
  // What the server did with the upload, in the person's words (its own English message is for scripts).
  if (r.waits) return t("upload_waits", r.file_name, "scraping_upload");
  if (r.created) {
    const started = t("upload_started", r.file_name, r.run_id);
    return r.notify_email ? t("upload_told", started, r.notify_email) : started;
  }
  const words = (state.data && state.data.status_words) || {};
  const which = r.job_id ? t("upload_job", r.job_id, words[r.job_status] || r.job_status) : t("upload_run", r.run_id, r.state);
  return t("upload_again", r.file_name, which);
}

async function loadUploaders() {
  try {
    const names = await api("api/uploaders");
    $("uploader-list").replaceChildren(...names.map((n) => el("option", { value: n })));
  } catch (_) { /* suggestions only */ }
}

document.addEventListener("DOMContentLoaded", () => {
  applyPrefs(airflowPrefs.read());
  airflowPrefs.onChange((chosen) => { applyPrefs(chosen); state.shown = null; load(); loadDashboard(); });
  $("d-range").addEventListener("submit", (e) => { e.preventDefault(); loadDashboard(); });
  $("dashboard").addEventListener("toggle", () => { if ($("dashboard").open) loadDashboard(); });
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
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) return;
    load();
    if (!dash.timer && $("dashboard").open) loadDashboard();
  });
  $("upload-form").addEventListener("submit", upload);
  loadUploaders();
  load();
  loadDashboard();
});
