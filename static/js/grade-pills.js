// Paints each grade pill in its grade's colour, which operations choose in the admin and the
// template puts in data-color. The Content-Security-Policy refuses style="" attributes, but
// not a colour set from a script; without JavaScript a pill keeps tierhub.css's slate.
"use strict";
document.querySelectorAll(".grade-pill[data-color]").forEach((pill) => {
  pill.style.backgroundColor = pill.dataset.color;
});
