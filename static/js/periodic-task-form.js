// The periodic-task form of django_celery_beat's admin (templates/admin/djcelery/): shows the
// chosen crontab in words under the crontab field, as the package's own inline script does.
"use strict";
(() => {
  const data = document.getElementById("readable-crontabs");
  const select = document.getElementById("id_crontab");
  const help = document.querySelector(".field-crontab .help");
  const translationRow = document.querySelector(".field-crontab_translation");
  if (translationRow) {
    translationRow.style.display = "none"; // the reading below replaces it
  }
  if (!data || !select || !help) {
    return;
  }
  const readings = JSON.parse(data.textContent);
  const reading = document.createElement("div");
  help.append(reading);
  const show = () => {
    const text = readings[select.value];
    reading.textContent = text ? `Translation: ${text}` : "";
  };
  select.addEventListener("change", show);
  show();
})();
