// Paints each grade pill in its grade's colour, which operations choose in the admin and the
// template puts in data-color. The Content-Security-Policy refuses style="" attributes, but
// not a colour set from a script; without JavaScript a pill keeps tierhub.css's slate.
// The text is white or near-black, whichever contrasts more with the colour (WCAG's
// relative luminance), so any colour chosen stays readable.
"use strict";
const DARK = "#111827";

function luminance(hex) {
  const channel = (i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

document.querySelectorAll(".grade-pill[data-color]").forEach((pill) => {
  const colour = pill.dataset.color;
  if (!/^#[0-9a-fA-F]{6}$/.test(colour)) return;
  pill.style.backgroundColor = colour;
  const bg = luminance(colour);
  const onWhite = 1.05 / (bg + 0.05);
  const onDark = (bg + 0.05) / (luminance(DARK) + 0.05);
  pill.style.color = onDark > onWhite ? DARK : "#fff";
});
