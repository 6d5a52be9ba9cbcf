// Behaviour every console page shares, asked for with data attributes instead of inline handlers, so the pages
// pass a Content-Security-Policy of "script-src 'self'" (siyu.settings.prod):
//   <form data-confirm="…"> or <button data-confirm="…">   asks before the form is sent
//   <select data-autosubmit>                               sends its form when the choice changes
//   <select data-navigate>                                 goes to the chosen option's value (a URL)
//   <button data-menu-toggle aria-expanded="false">        opens and closes the header's menu on a narrow screen
//                                                          (siyu.css shows the element after it while expanded)
document.addEventListener("submit", (event) => {
  const text = (event.submitter && event.submitter.dataset.confirm) || event.target.dataset.confirm;
  if (text && !window.confirm(text)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

document.addEventListener("change", (event) => {
  const select = event.target;
  if (!(select instanceof HTMLSelectElement)) return;
  if (select.hasAttribute("data-autosubmit") && select.form) select.form.requestSubmit();
  else if (select.hasAttribute("data-navigate") && select.value) window.location.href = select.value;
});

document.addEventListener("click", (event) => {
  const button = event.target instanceof Element && event.target.closest("[data-menu-toggle]");
  if (button) button.setAttribute("aria-expanded", String(button.getAttribute("aria-expanded") !== "true"));
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  document.querySelectorAll("[data-menu-toggle][aria-expanded=true]").forEach((button) => {
    button.setAttribute("aria-expanded", "false");
    button.focus();
  });
});
