// The review pages' behaviour (the pages work without it, as plain forms).
//
// Keys: a key submits the button whose data-key it is; "?" toggles the help. Keys typed
// into the note are text, not commands (Esc leaves the field).
//
// Forms marked data-swap are sent with fetch and the answer's <main> replaces this one:
// the next item appears without tearing the page down and loading it again, which is
// most of the time between a key press and the next item on screen. The server's answer
// is the same page a plain form post ends on (it follows the redirect to the next item).
"use strict";

function swaps() {
  return Number(document.body.dataset.swaps || 0);
}

async function send(form, submitter) {
  if (document.body.dataset.submitting) return;
  document.body.dataset.submitting = "1";
  const data = new URLSearchParams(new FormData(form));
  if (submitter && submitter.name) data.append(submitter.name, submitter.value);
  try {
    const response = await fetch(form.action, { method: "POST", body: data, credentials: "same-origin" });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const main = page.querySelector("main");
    if (!main || new URL(response.url).pathname === "/login") {
      window.location.assign(response.url);
      return;
    }
    document.querySelector("main").replaceWith(main);
    document.title = page.title;
    if (response.ok && response.url !== window.location.href) {
      window.history.pushState(null, "", response.url);
    }
    document.body.dataset.swaps = String(swaps() + 1);
  } catch (error) {
    // The network failed under fetch: let the browser post the form itself.
    form.submit();
  } finally {
    delete document.body.dataset.submitting;
  }
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !("swap" in form.dataset)) return;
  event.preventDefault();
  send(form, event.submitter);
});

// Back and forward show what the address says.
window.addEventListener("popstate", () => window.location.reload());

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target instanceof HTMLElement && target.closest("textarea, input")) {
    if (event.key === "Escape") target.blur();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (event.key === "?") {
    const help = document.getElementById("help");
    if (help) help.hidden = !help.hidden;
    event.preventDefault();
    return;
  }
  const control = document.querySelector(`main [data-key="${CSS.escape(event.key)}"]`);
  if (!control || document.body.dataset.submitting) return;
  event.preventDefault();
  const form = control.closest("form");
  if (control instanceof HTMLButtonElement && form) form.requestSubmit(control);
});
