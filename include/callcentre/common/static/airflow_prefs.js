// What every page of ours shares in the browser: the language and time zone the person chose in
// the Airflow UI, and the helpers that put words, dates, numbers and elements into the page.
// The UI keeps both choices in this origin's localStorage (the iframe is same-origin, so it sees
// them): "i18nextLng" (i18next's language detector) and "timezone" (a JSON string, the UI's
// useLocalStorage). Served by each page's app from callcentre.common; loaded before the page's
// own script. Text from the server goes into the page as text or attribute values, never as HTML.
"use strict";

const airflowPrefs = {
  LANGUAGES: ["en", "es"],

  // { lang: "en" | "es", zone: an IANA zone name, or undefined for the browser's own }
  read() {
    let lang = "en", zone;
    try {
      const chosen = (localStorage.getItem("i18nextLng") || navigator.language || "en").toLowerCase().slice(0, 2);
      lang = airflowPrefs.LANGUAGES.includes(chosen) ? chosen : "en";
      const stored = localStorage.getItem("timezone");
      if (stored) zone = JSON.parse(stored);
      new Intl.DateTimeFormat("en", { timeZone: zone }); // throws on a zone the browser does not know
    } catch (_) { zone = undefined; }
    return { lang, zone: zone || undefined };
  },

  // The zone's IANA name (the browser's own when the person chose none), for the server's days.
  zoneName(zone) {
    return zone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  },

  // TEXT[lang][key] (English where a word is missing) with {0}, {1}… filled in; a list as it is.
  word(TEXT, lang, key, ...args) {
    const text = TEXT[lang][key] ?? TEXT.en[key] ?? key;
    return typeof text === "string" ? text.replace(/\{(\d)\}/g, (_, i) => String(args[Number(i)])) : text;
  },

  // Every [data-t] element's text from TEXT[lang] (English where a word is missing).
  translate(TEXT, lang, root = document) {
    for (const node of root.querySelectorAll("[data-t]")) {
      node.textContent = TEXT[lang][node.dataset.t] ?? TEXT.en[node.dataset.t] ?? node.dataset.t;
    }
    for (const node of root.querySelectorAll("[data-t-placeholder]")) {
      node.placeholder = TEXT[lang][node.dataset.tPlaceholder] ?? TEXT.en[node.dataset.tPlaceholder];
    }
    for (const node of root.querySelectorAll("[data-t-title]")) {
      node.title = TEXT[lang][node.dataset.tTitle] ?? TEXT.en[node.dataset.tTitle];
    }
    document.documentElement.lang = lang;
  },

  // An instant in the chosen zone (the browser's own if none), in the chosen language.
  when(iso, { lang, zone }) {
    if (!iso) return "";
    return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short", timeZone: zone }).format(new Date(iso));
  },

  number(value, { lang }) {
    return value === null || value === undefined ? "" : new Intl.NumberFormat(lang).format(value);
  },

  // The person changes the language or zone in the Airflow UI (another document of this origin).
  onChange(callback) {
    window.addEventListener("storage", (e) => {
      if (e.key === "i18nextLng" || e.key === "timezone") callback(airflowPrefs.read());
    });
  },
};

const $ = (id) => document.getElementById(id);

// A new element: props "class", "text" (textContent) or attributes; then its children.
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
