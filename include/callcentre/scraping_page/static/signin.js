// Sends a person whose Airflow session has ended to Airflow's sign-in page, and back here after it,
// as Airflow's own UI does on a 401. The page runs framed in the UI (same origin): the whole window
// goes, not just the frame. page.js calls signIn(); the "session ended" answer has data-signed-out.
"use strict";

function signIn() {
  const root = new URL("../", document.baseURI); // the page lives at <Airflow root>/scraping-jobs/
  const top = window.top || window;
  top.location.replace(new URL(`api/v2/auth/login?next=${encodeURIComponent(top.location.href)}`, root).href);
}

document.addEventListener("DOMContentLoaded", () => { if (document.body.dataset.signedOut === "1") signIn(); });
