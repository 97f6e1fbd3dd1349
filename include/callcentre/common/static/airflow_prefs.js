// The language and time zone the person chose in the Airflow UI, for our pages in its iframe.
// The UI keeps both in this origin's localStorage (the iframe is same-origin, so it sees them):
// "i18nextLng" (i18next's language detector) and "timezone" (a JSON string, the UI's
// useLocalStorage). Shared by every page (served by each page's app from callcentre.common).
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

  // The person changes the language or zone in the Airflow UI (another document of this origin).
  onChange(callback) {
    window.addEventListener("storage", (e) => {
      if (e.key === "i18nextLng" || e.key === "timezone") callback(airflowPrefs.read());
    });
  },
};
