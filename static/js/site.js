// Small behaviours shared by every page; each works only where its markup is present.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});

// A form marked data-confirm asks before it is sent (cancelling a place in the queue).
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

// Countdowns to a sale's opening: the server's text is right when sent; this keeps it so.
function timeLeft(span) {
  const seconds = (Date.parse(span.dataset.countdown) - Date.now()) / 1000;
  if (!(seconds >= 60)) return span.dataset.soon;
  const minutes = Math.floor(seconds / 60);
  const fill = (shape, values) => shape.replace(/\{(\w)\}/g, (_, k) => values[k]);
  if (minutes >= 24 * 60) return fill(span.dataset.days, { d: Math.floor(minutes / 1440), h: Math.floor(minutes / 60) % 24 });
  if (minutes >= 60) return fill(span.dataset.hours, { h: Math.floor(minutes / 60), m: minutes % 60 });
  return fill(span.dataset.minutes, { m: minutes });
}
function tickCountdowns() {
  for (const span of document.querySelectorAll("[data-countdown]")) span.textContent = timeLeft(span);
}
if (document.querySelector("[data-countdown]")) setInterval(tickCountdowns, 15000);

// The request form's limit and total follow the chosen type and quantity.
function updateTicketForm(form) {
  const chosen = form.querySelector("input[name=ticket_type]:checked");
  const quantity = form.querySelector("input[name=quantity]");
  if (!chosen || !quantity) return;
  const most = Number(chosen.dataset.max);
  quantity.max = most;
  const limit = form.querySelector("[data-limit]");
  if (limit) limit.textContent = most;
  const currency = form.dataset.currency;
  const format = new Intl.NumberFormat(document.documentElement.lang || undefined, { style: "currency", currency });
  const digits = format.resolvedOptions().maximumFractionDigits;
  const minor = Number(chosen.dataset.priceMinor);
  const n = Number(quantity.value);
  const count = Number.isInteger(n) && n >= 1 && n <= most ? n : 1;
  form.querySelector("[data-unit-price]").textContent = format.format(minor / 10 ** digits);
  form.querySelector("[data-total]").textContent = format.format((minor * count) / 10 ** digits);
}
document.addEventListener("input", (event) => {
  const form = event.target.closest("form[data-ticket-form]");
  if (form) updateTicketForm(form);
});
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-ticket-form]");
  if (form) updateTicketForm(form);
});
// A page restored from history may come back with another choice than the one it was sent with.
window.addEventListener("pageshow", () => {
  for (const form of document.querySelectorAll("form[data-ticket-form]")) updateTicketForm(form);
});
