// The "IVR days" page. Text from the server goes into the page with textContent or as attribute
// values, never as HTML. Language and time zone follow the Airflow UI's own settings, and the
// element and formatting helpers are shared with our other pages (static/airflow_prefs.js).
"use strict";

const HEADER = { "X-Ivr-Days-Page": "1" };
const TEXT = {
  en: {
    title: "IVR days", from: "From", to: "to", show: "Show", signedIn: "signed in as {0}",
    balanced: "loaded, balanced", rejects: "loaded, many rejects", drifted: "drifted from the source",
    failed: "failed", running: "running",
    late: "late", never_run: "never run", pending: "not due yet",
    rejectsByRule: "Rejected by rule", hoursTitle: "The 24 hours (rows read)", hoursTable: "Hours in detail",
    hour: "Hour", state: "State", read: "Read", loaded: "Loaded", rejected: "Rejected", tries: "Tries",
    error: "Error", metricsTitle: "Metrics", runsTitle: "Airflow runs", alertsTitle: "Slack alerts sent",
    actionsTitle: "Reload", reloadDay: "Reload the day", reloadHour: "Reload this hour",
    backfillTitle: "Backfill a range", reprocess: "Days already run", reprocessAll: "reload them too",
    reprocessFailed: "reload the failed ones", reprocessNone: "skip them", createBackfill: "Create backfill",
    sourceCalls: "Source calls", loadedCalls: "Loaded", rejectedCalls: "Rejected", deadline: "Deadline",
    run: "run", logs: "logs", noRuns: "No run of this day.", noAlerts: "No alert sent for this day.", pendingAlert: "not sent yet (Slack unreachable; retried every 15 min)",
    hoursOnly: "hours {0}", allHours: "all hours", weekdays: ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"],
    loadFailed: "Could not load: {0}", reloading: "Reloading {0}…", reloaded: "{0}: run {1} started ({2}).", cleared: "{0}: run {1} cleared ({2} task(s)); it runs again.",
    backfilling: "Creating the backfill {0}–{1}…", backfilled: "Backfill {0} of {1}–{2} created; the scheduler runs it.",
    actionFailed: "Failed: {0}", success: "loaded", none: "no attempt",
    metric_source_calls: "source calls", metric_total_calls: "loaded calls", metric_rejected_calls: "rejected calls",
    metric_answered_calls: "answered", metric_abandoned_calls: "abandoned", metric_transferred_calls: "transferred",
    metric_failed_calls: "failed or other", metric_avg_duration_s: "average duration (s)",
    metric_avg_wait_s: "average wait (s)", metric_abandonment_rate: "abandonment rate",
    metric_service_level_20s: "service level (20 s)", metric_peak_hour: "peak hour",
    metric_computed_by_run_id: "computed by run", metric_computed_at: "computed at",
    driftTitle: "Drift found", driftWhen: "The drift check of {0} (run {1}) found hours {2} different from the source; not repaired since.",
    driftHour: "{0}: source {1} rows, loaded {2} rows{3}", driftReloaded: "; reloaded {0}",
    driftGate: "The reloaded day failed its quality gate: {0}",
  },
  es: {
    title: "Días del IVR", from: "Desde", to: "hasta", show: "Mostrar", signedIn: "sesión de {0}",
    balanced: "cargado, cuadrado", rejects: "cargado, muchos rechazos", drifted: "difiere del origen",
    failed: "falló", running: "en curso",
    late: "atrasado", never_run: "nunca ejecutado", pending: "aún no vence",
    rejectsByRule: "Rechazadas por regla", hoursTitle: "Las 24 horas (filas leídas)", hoursTable: "Horas en detalle",
    hour: "Hora", state: "Estado", read: "Leídas", loaded: "Cargadas", rejected: "Rechazadas", tries: "Intentos",
    error: "Error", metricsTitle: "Métricas", runsTitle: "Ejecuciones de Airflow", alertsTitle: "Alertas de Slack enviadas",
    actionsTitle: "Recargar", reloadDay: "Recargar el día", reloadHour: "Recargar esta hora",
    backfillTitle: "Recargar un rango (backfill)", reprocess: "Días ya ejecutados", reprocessAll: "recargarlos también",
    reprocessFailed: "recargar los fallidos", reprocessNone: "omitirlos", createBackfill: "Crear backfill",
    sourceCalls: "Llamadas en origen", loadedCalls: "Cargadas", rejectedCalls: "Rechazadas", deadline: "Plazo",
    run: "ejecución", logs: "registros", noRuns: "Ninguna ejecución de este día.", noAlerts: "Ninguna alerta enviada para este día.", pendingAlert: "aún no enviada (Slack no responde; se reintenta cada 15 min)",
    hoursOnly: "horas {0}", allHours: "todas las horas", weekdays: ["lu", "ma", "mi", "ju", "vi", "sá", "do"],
    loadFailed: "No se pudo cargar: {0}", reloading: "Recargando {0}…", reloaded: "{0}: ejecución {1} iniciada ({2}).", cleared: "{0}: ejecución {1} limpiada ({2} tarea(s)); vuelve a ejecutarse.",
    backfilling: "Creando el backfill {0}–{1}…", backfilled: "Backfill {0} de {1}–{2} creado; el planificador lo ejecuta.",
    actionFailed: "Falló: {0}", success: "cargada", none: "sin intento",
    metric_source_calls: "llamadas en origen", metric_total_calls: "llamadas cargadas", metric_rejected_calls: "llamadas rechazadas",
    metric_answered_calls: "contestadas", metric_abandoned_calls: "abandonadas", metric_transferred_calls: "transferidas",
    metric_failed_calls: "fallidas u otras", metric_avg_duration_s: "duración media (s)",
    metric_avg_wait_s: "espera media (s)", metric_abandonment_rate: "tasa de abandono",
    metric_service_level_20s: "nivel de servicio (20 s)", metric_peak_hour: "hora pico",
    metric_computed_by_run_id: "calculado por la ejecución", metric_computed_at: "calculado el",
    driftTitle: "Diferencias con el origen", driftWhen: "El control de diferencias del {0} (ejecución {1}) encontró las horas {2} distintas del origen; sin reparar desde entonces.",
    driftHour: "{0}: origen {1} filas, cargadas {2} filas{3}", driftReloaded: "; recargada el {0}",
    driftGate: "El día recargado no pasó su control de calidad: {0}",
  },
};
const state = { lang: "en", zone: undefined, data: null, day: null, detail: null, timer: null, calendarTimer: null };
const REFRESH_MS = 4000; // while a day is running, watch it until it ends

function t(key, ...args) {
  return airflowPrefs.word(TEXT, state.lang, key, ...args);
}

function readSettings() {
  // The Airflow UI's language and time zone (static/airflow_prefs.js, shared by our pages).
  Object.assign(state, airflowPrefs.read());
  airflowPrefs.translate(TEXT, state.lang);
  document.title = t("title");
}

function when(iso) {
  return airflowPrefs.when(iso, state);
}

function number(value) {
  return airflowPrefs.number(value, state);
}

function airflowLink(url, label, cls) {
  // The UI shows this page in a sandboxed iframe: links to Airflow pages open in its window (signin.js).
  const a = el("a", { href: url, class: `airflow-link ${cls}`, text: label });
  a.addEventListener("click", (event) => { event.preventDefault(); openInAirflow(url); });
  return a;
}

async function api(path, options = {}) {
  const resp = await fetch(path, { credentials: "same-origin", ...options });
  let body = null;
  try { body = await resp.json(); } catch (_) { /* not JSON */ }
  if (resp.status === 401) signIn(); // the session ended: Airflow's sign-in page, then back here
  if (!resp.ok) {
    let detail = body && body.detail !== undefined ? body.detail : resp.statusText;
    if (typeof detail !== "string") detail = JSON.stringify(detail);
    throw new Error(`${resp.status}: ${detail}`);
  }
  return body;
}

function renderCalendar(data) {
  state.data = data;
  $("who").textContent = t("signedIn", data.user);
  $("backfill-box").hidden = !data.can_trigger;
  if (!$("r-from").value) $("r-from").value = data.from_day;
  if (!$("r-to").value) $("r-to").value = data.to_day;
  const counts = {};
  for (const d of data.days) counts[d.state] = (counts[d.state] || 0) + 1;
  $("legend").replaceChildren(...data.states.map((s) =>
    el("li", { class: `s-${s}`, "data-state": s, text: `${t(s)}: ${counts[s] || 0}` })));
  const months = [];
  for (const d of data.days) {
    const month = d.day.slice(0, 7);
    if (!months.length || months[months.length - 1].month !== month) months.push({ month, days: [] });
    months[months.length - 1].days.push(d);
  }
  $("calendar").replaceChildren(...months.map(({ month, days }) => {
    const [y, m] = month.split("-").map(Number);
    const name = new Intl.DateTimeFormat(state.lang, { month: "long", year: "numeric", timeZone: "UTC" })
      .format(new Date(Date.UTC(y, m - 1, 1)));
    const grid = el("div", { class: "week" }, ...t("weekdays").map((w) => el("span", { class: "weekday", text: w })));
    const offset = (new Date(`${days[0].day}T00:00:00Z`).getUTCDay() + 6) % 7; // Monday first
    for (let i = 0; i < offset; i++) grid.append(el("span"));
    for (const d of days) {
      const button = el("button", { type: "button", class: `day s-${d.state}`, "data-day": d.day, "data-state": d.state,
        title: `${d.day}: ${t(d.state)}${d.source_calls !== undefined ? ` · ${number(d.source_calls)}` : ""}`,
        text: String(Number(d.day.slice(8))) });
      if (d.day === state.day) button.classList.add("selected");
      button.addEventListener("click", () => showDay(d.day));
      grid.append(button);
    }
    return el("div", { class: "month" }, el("h3", { text: name }), grid);
  }));
  clearTimeout(state.calendarTimer);
  if (data.days.some((d) => d.state === "running")) state.calendarTimer = setTimeout(loadCalendar, REFRESH_MS);
}

async function loadCalendar() {
  $("error").textContent = "";
  const params = new URLSearchParams();
  if ($("r-from").value) params.set("from_day", $("r-from").value);
  if ($("r-to").value) params.set("to_day", $("r-to").value);
  try {
    renderCalendar(await api(`api/days?${params}`));
  } catch (err) {
    $("error").textContent = t("loadFailed", err.message);
  }
}

function renderDetail(d) {
  state.detail = d;
  $("detail").hidden = false;
  $("d-title").textContent = d.day;
  $("d-state").replaceChildren(el("span", { class: `state-chip s-${d.state}`, "data-state": d.state, text: t(d.state) }));
  const m = d.metrics || {};
  const figures = [["sourceCalls", number(m.source_calls)], ["loadedCalls", number(m.total_calls)],
    ["rejectedCalls", number(m.rejected_calls)], ["deadline", when(d.deadline)]];
  $("d-figures").replaceChildren(...figures.flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", { "data-k": k, text: v })]));
  const links = [];
  if (d.run_url) links.push(airflowLink(d.run_url, t("run"), "run-link"));
  if (d.log_url) links.push(airflowLink(d.log_url, t("logs"), "logs-link"));
  $("d-links").replaceChildren(...links);
  renderDrift(d.drift);
  const stamp = Date.now(); // a new image after an action, not the browser's cached one
  $("d-rejects").src = `api/days/${d.day}/rejects.svg?lang=${state.lang}&v=${stamp}`;
  $("d-rejects").alt = t("rejectsByRule");
  $("d-hours").src = `api/days/${d.day}/hours.svg?lang=${state.lang}&v=${stamp}`;
  $("d-hours").alt = t("hoursTitle");
  $("d-hours-table").querySelector("tbody").replaceChildren(...d.hours.map((h) => el("tr", { "data-hour": String(h.hour), "data-state": h.outcome },
    el("td", { text: String(h.hour).padStart(2, "0") }), el("td", { text: t(h.outcome === "success" ? "success" : h.outcome) }),
    el("td", { class: "num", text: number(h.rows_read) }), el("td", { class: "num", text: number(h.rows_loaded) }),
    el("td", { class: "num", text: number(h.rows_rejected) }), el("td", { class: "num tries", text: String(h.attempts) }),
    el("td", { class: "failure", text: h.error || "" }))));
  $("d-metrics").querySelector("tbody").replaceChildren(...Object.entries(m).map(([k, v]) => el("tr", {},
    el("th", { text: t(`metric_${k}`) }),
    el("td", { "data-metric": k, text: k === "computed_at" ? when(v) : typeof v === "number" ? number(v) : String(v ?? "") }))));
  $("d-runs").replaceChildren(...(d.runs.length ? d.runs.map((r) => el("li", { "data-run": r.run_id, "data-state": r.state },
    airflowLink(r.url, r.run_id, "run-link"),
    `${t(r.state)} · ${r.hours.length ? t("hoursOnly", r.hours.join(", ")) : t("allHours")} · ${when(r.start_date)}`))
    : [el("li", { text: t("noRuns") })]));
  $("d-alerts").replaceChildren(...(d.alerts.length ? d.alerts.map((a) => el("li", { "data-kind": a.kind },
    el("span", { text: `${when(a.sent_at)} · ${a.dag_id} · ${a.kind}${a.pending ? " · " + t("pendingAlert") : ""}` }), el("pre", { class: "alert", text: a.message })))
    : [el("li", { text: t("noAlerts") })]));
  $("d-actions").hidden = !(state.data && state.data.can_trigger);
  const pick = $("reload-hour-pick");
  if (!pick.options.length) {
    for (let h = 0; h < 24; h++) pick.append(el("option", { value: String(h), text: String(h).padStart(2, "0") }));
  }
  for (const b of document.querySelectorAll("button.day")) b.classList.toggle("selected", b.dataset.day === d.day);
  clearTimeout(state.timer);
  if (d.state === "running" || d.runs.some((r) => r.state === "queued" || r.state === "running")) {
    state.timer = setTimeout(refresh, REFRESH_MS); // refreshes the calendar too
  }
}

function renderDrift(drift) {
  $("d-drift").hidden = !drift;
  if (!drift) return;
  const hour = (h) => String(h).padStart(2, "0");
  $("d-drift-when").textContent = t("driftWhen", when(drift.checked_at), drift.run_id, drift.hours.map(hour).join(", "))
    + (drift.repair_error ? ` ${t("driftGate", drift.repair_error)}` : "");
  $("d-drift-hours").replaceChildren(...drift.hour_figures.map((h) => el("li", { "data-hour": String(h.hour),
    text: t("driftHour", hour(h.hour), number(h.source_rows), number(h.target_rows),
      h.reloaded_at ? t("driftReloaded", when(h.reloaded_at)) : "") })));
}

async function showDay(day) {
  state.day = day;
  try {
    renderDetail(await api(`api/days/${day}`));
  } catch (err) {
    $("error").textContent = t("loadFailed", err.message);
  }
}

async function refresh() {
  await loadCalendar();
  if (state.day) await showDay(state.day);
}

function report(text, cls) {
  $("action-report").replaceChildren(el("li", { class: cls, text }));
}

async function act(path, body, pending, done) {
  report(pending, "");
  try {
    const result = await api(path, {
      method: "POST", headers: { ...HEADER, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    report(done(result), "ok");
  } catch (err) {
    report(t("actionFailed", err.message), "failure");
  }
  await refresh();
}

function reload(hours) {
  const what = hours.length ? `${state.day} ${t("hoursOnly", hours.join(", "))}` : state.day;
  return act(`api/days/${state.day}/reload`, { hours }, t("reloading", what),
    (r) => r.action === "cleared" ? t("cleared", what, r.run.run_id, r.tasks) : t("reloaded", what, r.run.run_id, t(r.run.state)));
}

document.addEventListener("DOMContentLoaded", () => {
  readSettings();
  $("range").addEventListener("submit", (e) => { e.preventDefault(); loadCalendar(); });
  $("reload-day").addEventListener("click", () => reload([]));
  $("reload-hour").addEventListener("click", () => reload([Number($("reload-hour-pick").value)]));
  $("backfill-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { from_day: $("b-from").value, to_day: $("b-to").value, reprocess: $("b-reprocess").value };
    act("api/backfills", body, t("backfilling", body.from_day, body.to_day),
      (r) => t("backfilled", r.backfill_id, r.from_day, r.to_day));
  });
  // The person changes language or zone in the Airflow UI: follow at once.
  airflowPrefs.onChange(() => {
    readSettings();
    if (state.data) renderCalendar(state.data);
    if (state.detail) renderDetail(state.detail);
  });
  loadCalendar();
});
