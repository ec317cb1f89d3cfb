// Search and When pages: image queries by picker, drag-and-drop or paste (a new search, or
// a term or step added to the current query); clean URLs; thumbnails that fail to load;
// the count of results marked for a concept.
"use strict";
(function () {
  const form = document.getElementById("image-form");
  const input = document.getElementById("image-input");
  const filters = document.getElementById("search-form");

  // An image query is posted once; the server answers with a redirect to /?image=KEY, so
  // the query lives in the URL like a text query. The filters of the text form go along.
  function submitImage(file) {
    if (!file) return;
    const body = new FormData();
    body.append("image", file, file.name || "pasted.png");
    const add = document.getElementById("image-add");
    if (add && add.value) {
      body.append("add", add.value);
      body.append("query", form.elements.namedItem("query").value);
    }
    for (const name of ["top_k", "min_score"]) {
      const field = filters.elements.namedItem(name);
      if (field && field.value) body.append(name, field.value);
    }
    const videos = filters.elements.namedItem("video");
    if (videos) for (const o of videos.selectedOptions) body.append("video", o.value);
    form.classList.add("busy");
    fetch(form.action, { method: "POST", body: body, headers: { Accept: "application/json" } })
      .then(async (response) => {
        if (response.redirected) { window.location.assign(response.url); return; }
        const error = await response.json().catch(() => ({ error: "Upload failed", message: "" }));
        showError(error.error + ". " + (error.message || ""));
      })
      .catch(() => showError("The web UI cannot be reached."))
      .finally(() => form.classList.remove("busy"));
  }

  function showError(text) {
    let box = document.getElementById("image-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "image-error";
      box.className = "notice bad";
      box.setAttribute("role", "alert");
      form.after(box);
    }
    box.textContent = text;
  }

  // Empty filters and blank term rows stay out of the URL, so a shared link says only what
  // was asked. A row goes whole or not at all: its fields are lists read side by side.
  filters.addEventListener("submit", () => {
    const off = [];
    for (const row of filters.querySelectorAll("tr.term, tr.step")) {
      const value = row.querySelector("[name=tv], [name=sv]");
      if (value && value.value.trim() === "") off.push(...row.querySelectorAll("input, select"));
    }
    for (const field of filters.querySelectorAll("input")) {
      if (field.value === "" && !field.closest("tr.term, tr.step")) off.push(field);
    }
    for (const f of off) f.disabled = true;
    setTimeout(() => { for (const f of off) f.disabled = false; }, 0);
  });

  // How many results are ticked for a concept, beside its Save button.
  const count = document.getElementById("marked-count");
  if (count) {
    const update = () => {
      const good = document.querySelectorAll(".marks input[name=good]:checked").length;
      const bad = document.querySelectorAll(".marks input[name=bad]:checked").length;
      count.textContent = good || bad ? `${good} good, ${bad} bad` : "";
    };
    for (const box of document.querySelectorAll(".marks input")) box.addEventListener("change", update);
  }

  if (form && input) {
    input.addEventListener("change", () => submitImage(input.files[0]));
    for (const kind of ["dragenter", "dragover"]) {
      form.addEventListener(kind, (e) => { e.preventDefault(); form.classList.add("over"); });
    }
    for (const kind of ["dragleave", "drop"]) {
      form.addEventListener(kind, () => form.classList.remove("over"));
    }
    form.addEventListener("drop", (e) => {
      e.preventDefault();
      submitImage(e.dataTransfer && e.dataTransfer.files[0]);
    });
    document.addEventListener("paste", (e) => {
      const files = e.clipboardData ? e.clipboardData.files : [];
      if (files.length && files[0].type.startsWith("image/")) {
        e.preventDefault();
        submitImage(files[0]);
      }
    });
  }

  // A thumbnail the server cannot give (an old server, a deleted scene) shows a hatch.
  for (const img of document.querySelectorAll(".card .thumb img, .seed img")) {
    const mark = () => img.parentElement.classList.add("missing");
    img.addEventListener("error", mark);
    if (img.complete && img.naturalWidth === 0) mark();
  }
})();
