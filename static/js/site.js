// Small behaviours shared by every page; each works only where its markup is present.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
