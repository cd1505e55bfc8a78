// The periodic-task form of django_celery_beat's admin (templates/admin/djcelery/): shows the
// chosen crontab in words under the crontab field, as the package's own inline script does.
"use strict";
(() => {
  const data = document.getElementById("readable-crontabs");
  const select = document.getElementById("id_crontab");
  // Django's stock row has a .help block; unfold's has the field's column (.field-crontab > .grow).
  const help =
    document.querySelector(".field-crontab .help") ||
    select?.closest(".field-crontab > .grow");
  const translationRow = document.querySelector(".field-crontab_translation");
  if (translationRow) {
    translationRow.style.display = "none"; // the reading below replaces it
  }
  if (!data || !select || !help) {
    return;
  }
  const readings = JSON.parse(data.textContent);
  const reading = document.createElement("div");
  reading.className = "help leading-relaxed mt-2 text-xs";
  help.append(reading);
  const show = () => {
    const text = readings[select.value];
    reading.textContent = text ? `Translation: ${text}` : "";
  };
  select.addEventListener("change", show);
  show();
})();
