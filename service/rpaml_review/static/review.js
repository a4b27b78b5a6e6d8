// Keyboard decisions: a key submits the form button (or form) whose data-key it is;
// "?" toggles the help. Keys typed into the note are text, not commands (Esc leaves it).
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
  const control = document.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
  if (!control || document.body.dataset.submitting) return;
  event.preventDefault();
  // One submission per page: a second key press must not send a second form.
  document.body.dataset.submitting = "1";
  const form = control.closest("form");
  if (control instanceof HTMLButtonElement && form) form.requestSubmit(control);
});
