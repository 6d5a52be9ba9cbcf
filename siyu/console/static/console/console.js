// Behaviour every console page shares, asked for with data attributes instead of inline handlers, so the pages
// pass a Content-Security-Policy of "script-src 'self'" (siyu.settings.prod):
//   <form data-confirm="…"> or <button data-confirm="…">   asks before the form is sent
//   <select data-autosubmit>                               sends its form when the choice changes
//   <select data-navigate>                                 goes to the chosen option's value (a URL)
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
