// Language tabs over the translated fields of an admin form (grade, benefit and growth-task
// names and descriptions in English and Chinese; docs/operations.md, "Bilingual data").
// modeltranslation's own tabs load jQuery UI from a CDN, which the Content-Security-Policy
// refuses; this shows one language's fields at a time. Without JavaScript every field shows.
"use strict";
// The admin loads form media in the page's head: wait for the form.
document.addEventListener("DOMContentLoaded", () => {
  const byLanguage = new Map();
  for (const input of document.querySelectorAll("[data-translation-language]")) {
    const row = input.closest(".field-row");
    if (!row) continue;
    const language = input.dataset.translationLanguage;
    if (!byLanguage.has(language)) byLanguage.set(language, []);
    byLanguage.get(language).push(row);
  }
  if (byLanguage.size < 2) return;
  const firstRow = [...byLanguage.values()][0][0];
  const bar = document.createElement("div");
  bar.className = "translation-tabs";
  bar.setAttribute("role", "tablist");
  const buttons = new Map();
  const show = (language) => {
    for (const [other, rows] of byLanguage) {
      // Not `hidden`: the theme's display classes would win over it.
      for (const row of rows) row.style.display = other === language ? "" : "none";
      buttons.get(other).setAttribute("aria-selected", String(other === language));
    }
  };
  let start = byLanguage.keys().next().value;
  for (const [language, rows] of byLanguage) {
    // The label reads "name (English)": the tab is the part in brackets.
    const label = rows[0].querySelector("label")?.textContent || language;
    const match = label.match(/[(（]([^()（）]+)[)）][\s*]*$/);
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("role", "tab");
    button.textContent = match ? match[1] : language;
    button.addEventListener("click", () => show(language));
    buttons.set(language, button);
    bar.append(button);
    // A language with an error opens first, so the error is never hidden.
    if (rows.some((row) => row.querySelector(".errorlist, .text-red-600"))) start = language;
  }
  firstRow.before(bar);
  show(start);
});
