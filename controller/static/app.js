// loa's staff pages: the little script they need. Uploads with a progress bar (recordings,
// node releases), the text-to-speech preview, and making an emergency announcement from a
// text. Everything else works without it. Calls to the REST API carry the session's CSRF token.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";
  var texts = {};
  try { texts = JSON.parse(document.getElementById("i18n").textContent); } catch (e) { /* none */ }
  // A page's own texts (its API errors, say), beside the ones every page has.
  var pageTexts = document.getElementById("i18n-page");
  if (pageTexts) {
    try { Object.assign(texts, JSON.parse(pageTexts.textContent)); } catch (e) { /* none */ }
  }

  // An API error ({error, code}) in the page's language when the page knows the code.
  function errorText(body) {
    if (body && body.code && texts["error." + body.code]) {
      return texts["error." + body.code].replace("{detail}", body.error || "");
    }
    return (body && body.error) || texts["error.network"] || "error";
  }

  function api(method, url, body, kind) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (r.ok) { return kind === "blob" ? r.blob() : r.json(); }
      return r.json().catch(function () { return {}; }).then(function (b) { throw new Error(errorText(b)); });
    }, function () { throw new Error(texts["error.network"]); });
  }

  // One file POSTed as it is to `url` with progress; resolves to the API's answer (201).
  function postFile(url, file, type, onProgress) {
    return new Promise(function (resolve, reject) {
      var x = new XMLHttpRequest();
      x.open("POST", url);
      x.setRequestHeader("X-CSRF-Token", csrf);
      x.setRequestHeader("Content-Type", type);
      x.upload.onprogress = function (e) { if (e.lengthComputable) { onProgress(e.loaded / e.total); } };
      x.onload = function () {
        var body = {};
        try { body = JSON.parse(x.responseText); } catch (e) { /* not JSON */ }
        if (x.status === 201) { resolve(body); } else { reject(new Error(errorText(body))); }
      };
      x.onerror = function () { reject(new Error(texts["error.network"])); };
      x.send(file);
    });
  }

  // One file to POST /api/v1/media with progress; resolves to its SHA-256.
  function upload(file, onProgress) {
    // Over the controller's limit: say so now, not after sending it.
    var limits = document.getElementById("upload-form");
    var max = limits ? Number(limits.dataset.maxBytes || 0) : 0;
    if (max && file.size > max) { return Promise.reject(new Error(limits.dataset.tooLarge)); }
    return postFile("/api/v1/media?name=" + encodeURIComponent(file.name), file,
      file.type || "application/octet-stream", onProgress).then(function (body) { return body.sha256; });
  }

  // A node release bundle (admins, /ui/releases): sent as it is, then the page shows it.
  var release = document.getElementById("release-upload");
  if (release) {
    release.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var status = document.getElementById("release-upload-status");
      var button = document.getElementById("release-upload-submit");
      var file = document.getElementById("release-file").files[0];
      if (!file) { return; }
      status.className = "muted";
      status.textContent = texts["upload.sending"];
      button.disabled = true;
      postFile("/api/v1/releases", file, "application/octet-stream", function (p) {
        status.textContent = texts["upload.sending"] + " " + Math.round(100 * p) + "%";
      }).then(function (r) {
        window.location.href = "/ui/releases?uploaded=" + encodeURIComponent(r.id);
      }).catch(function (e) {
        status.className = "alert";
        status.textContent = e.message;
        button.disabled = false;
      });
    });
  }

  var form = document.getElementById("upload-form");
  if (form) {
    document.getElementById("add-variant").addEventListener("click", function () {
      var first = form.querySelector(".variant");
      var copy = first.cloneNode(true);
      copy.querySelector(".variant-file").value = "";
      document.getElementById("variants").appendChild(copy);
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var status = document.getElementById("upload-status");
      var bar = document.getElementById("upload-progress");
      var rows = Array.prototype.slice.call(form.querySelectorAll(".variant"));
      var files = rows.map(function (r) { return r.querySelector(".variant-file").files[0]; });
      var total = files.reduce(function (n, f) { return n + (f ? f.size : 0); }, 0) || 1;
      var done = 0;
      var recordings = [];
      bar.hidden = false;
      bar.value = 0;
      status.textContent = texts["upload.sending"];
      document.getElementById("upload-submit").disabled = true;
      var chain = Promise.resolve();
      rows.forEach(function (row, i) {
        chain = chain.then(function () {
          var f = files[i];
          if (!f) { return; }
          return upload(f, function (p) { bar.value = 100 * (done + p * f.size) / total; }).then(function (sha) {
            done += f.size;
            recordings.push({ language: row.querySelector(".variant-language").value, media_sha256: sha });
          });
        });
      });
      chain.then(function () {
        return api("POST", "/api/v1/announcements", { title: document.getElementById("upload-title").value, recordings: recordings });
      }).then(function () {
        bar.value = 100;
        status.textContent = texts["upload.done"];
        window.location.reload();
      }).catch(function (e) {
        status.textContent = e.message;
        status.className = "alert";
        document.getElementById("upload-submit").disabled = false;
      });
    });
  }

  var tts = document.getElementById("tts-form");
  if (tts) {
    var say = function (m, bad) { var s = document.getElementById("tts-status"); s.textContent = m; s.className = bad ? "alert" : "muted"; };
    document.getElementById("tts-preview").addEventListener("click", function () {
      say(texts["tts.making"]);
      api("POST", "/api/v1/tts/preview", { text: document.getElementById("tts-text").value, voice: document.getElementById("tts-voice").value }, "blob")
        .then(function (wav) {
          var audio = document.getElementById("tts-audio");
          audio.src = URL.createObjectURL(wav);
          audio.hidden = false;
          say("");
          audio.play();
        }).catch(function (e) { say(e.message, true); });
    });
    tts.addEventListener("submit", function (ev) {
      ev.preventDefault();
      say(texts["tts.making"]);
      api("POST", "/api/v1/tts/announcements", { title: document.getElementById("tts-title").value, text: document.getElementById("tts-text").value, voice: document.getElementById("tts-voice").value })
        .then(function () { say(texts["upload.done"]); window.location.reload(); })
        .catch(function (e) { say(e.message, true); });
    });
  }

  // Emergency: a typed text becomes an announcement, chosen in the list, before "Continue".
  var make = document.getElementById("emergency-tts-button");
  if (make) {
    make.addEventListener("click", function () {
      var status = document.getElementById("emergency-tts-status");
      status.textContent = texts["tts.making"];
      api("POST", "/api/v1/tts/announcements", { title: make.getAttribute("data-title"), text: document.getElementById("emergency-text").value, voice: document.getElementById("emergency-voice").value })
        .then(function (a) {
          var select = document.getElementById("emergency-announcement");
          var opt = document.createElement("option");
          opt.value = a.id;
          opt.textContent = a.title;
          select.appendChild(opt);
          select.value = String(a.id);
          status.textContent = texts["upload.done"];
        }).catch(function (e) { status.textContent = e.message; status.className = "alert"; });
    });
  }
})();
