// Going somewhere in the Airflow window from this page, and the way to the sign-in page.
//
// Airflow frames the page in a sandboxed iframe (no allow-top-navigation, no allow-popups): the frame
// may not navigate the Airflow window or open one, not even by script (it would be the navigation's
// source). The window is the same origin, so a link made in its own document and clicked there may.
// Shared by our pages (served without sign-in: it carries no data, and it is what a signed-out
// browser needs); loaded before each page's script, and alone by a "session ended" answer
// (data-signed-out).
"use strict";

function openInAirflow(href, newTab = false) {
  const top = window.top || window;
  const link = top.document.createElement("a");
  link.href = href;
  if (newTab) {
    link.target = "_blank";
    link.rel = "noopener";
  }
  link.hidden = true;
  top.document.body.append(link);
  link.click();
  link.remove();
}

function signIn() {
  // As Airflow's UI does on a 401: its login, then back to where the person was.
  const root = new URL("../", document.baseURI); // a page lives at <Airflow root>/<its prefix>/
  const here = (window.top || window).location.href;
  openInAirflow(new URL(`api/v2/auth/login?next=${encodeURIComponent(here)}`, root).href);
}

document.addEventListener("DOMContentLoaded", () => { if (document.body.dataset.signedOut === "1") signIn(); });
