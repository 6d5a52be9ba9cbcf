// Behaviour every console page shares, asked for with data attributes instead of inline handlers, so the pages
// pass a Content-Security-Policy of "script-src 'self'" (siyu.settings.prod):
//   <form data-confirm="…"> or <button data-confirm="…">   asks before the form is sent
//   <select data-autosubmit>                               sends its form when the choice changes
//   <select data-navigate>                                 goes to the chosen option's value (a URL)
//   <button data-menu-toggle aria-expanded="false">        opens and closes the header's menu on a narrow screen
//                                                          (siyu.css shows the element after it while expanded)
//   <input type="checkbox" data-check-all="NAME">          ticks or clears every checkbox named NAME on the page
//   <span data-selected-count data-none="…" data-some="… {n} …">  says how many checkboxes named "member" are ticked
//   <form data-confirm-all="…">                            asks before the form is sent while its [data-select-matching]
//                                                          box ("all that match the filter") is ticked
//   <a data-autodownload>                                  followed once when htmx puts it on the page (a bulk export)
document.addEventListener("submit", (event) => {
  const form = event.target;
  const matching = form.dataset.confirmAll && form.querySelector("[data-select-matching]:checked");
  const text = (event.submitter && event.submitter.dataset.confirm) || form.dataset.confirm || (matching && form.dataset.confirmAll);
  if (text && !window.confirm(text)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

function selectedCountShow() {
  const ticked = document.querySelectorAll("input[type=checkbox][name=member]:checked").length;
  document.querySelectorAll("[data-selected-count]").forEach((label) => {
    label.textContent = ticked ? label.dataset.some.replace("{n}", String(ticked)) : label.dataset.none;
  });
}

document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
  if (box.dataset.checkAll) {
    document.querySelectorAll(`input[type=checkbox][name="${box.dataset.checkAll}"]`).forEach((other) => {
      other.checked = box.checked;
    });
  }
  if (box.dataset.checkAll || box.name === "member") selectedCountShow();
});

document.addEventListener("htmx:afterSettle", () => {
  document.querySelectorAll("a[data-autodownload]").forEach((link) => {
    link.removeAttribute("data-autodownload");
    link.click();
  });
});

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
