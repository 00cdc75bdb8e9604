// Phát trực tiếp (/ui/broadcasts/live): asks for the microphone (unprocessed: no echo
// cancellation, noise suppression or gain control, which change a voice), starts the session
// (POST /api/v1/live), sends the microphone as 16-bit PCM on the session's WebSocket, shows
// the input level, the countdown until the villages are on air and each village's state
// (GET /api/v1/live/{id}), and stops it (POST /api/v1/live/{id}/stop). A session from the
// controller's sound card sends nothing from here. A socket that drops is
// opened again; the controller ends the session if the speaker is gone for long.
(function () {
  "use strict";
  var form = document.getElementById("live-form");
  if (!form) { return; }
  var texts = JSON.parse(document.getElementById("live-texts").textContent);
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";
  var panel = document.getElementById("live-panel");
  var status = document.getElementById("live-status");
  var level = document.getElementById("live-level");
  var countdown = document.getElementById("live-countdown");
  var villages = document.querySelector("#live-villages tbody");
  var errorBox = document.getElementById("live-error");
  var startButton = document.getElementById("live-start");
  var stopButton = document.getElementById("live-stop");
  var session = null, audio = null, mic = null, socket = null, timers = [], over = false;

  function say(key, vars) {
    var s = texts[key] || key;
    Object.keys(vars || {}).forEach(function (k) { s = s.replace("{" + k + "}", vars[k]); });
    return s;
  }

  function state(s, text) {
    panel.hidden = false;
    panel.dataset.state = s;
    status.textContent = text || "";
  }

  function fail(text) {
    errorBox.hidden = false;
    errorBox.textContent = text;
  }

  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) {
        if (!r.ok) { throw new Error(b.error || texts["error.network"]); }
        return b;
      });
    });
  }

  // The socket to the controller; opened again while the session lasts.
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/api/v1/live/" + session.id + "/audio?rate=" + audio.sampleRate);
    socket.binaryType = "arraybuffer";
    socket.onclose = function (ev) {
      if (over) { return; }
      if (ev.reason === "live.ended") { follow(); return; }
      status.textContent = texts["live.reconnecting"];
      timers.push(setTimeout(connect, 1000));
    };
  }

  function tick() {
    if (!session || over) { return; }
    var left = Math.ceil((Date.parse(session.on_air_at) - Date.now()) / 1000);
    if (left > 0) {
      state("countdown", say("live.countdown", { secs: left }));
      countdown.textContent = left;
    } else if (panel.dataset.state !== "on-air") {
      state("on-air", texts["live.on_air"]);
      countdown.textContent = "";
    }
  }

  // Each village's state, and the end of the session.
  function follow() {
    if (!session) { return; }
    api("GET", "/api/v1/live/" + session.id).then(function (v) {
      villages.textContent = "";
      v.broadcast.deliveries.forEach(function (d) {
        var tr = document.createElement("tr");
        tr.dataset.test = "live-village";
        tr.dataset.node = d.node_id;
        tr.dataset.stage = d.stage;
        [d.zone, d.node_id, texts["stage." + d.stage] || d.stage].forEach(function (t) {
          var td = document.createElement("td");
          td.textContent = t;
          tr.appendChild(td);
        });
        villages.appendChild(tr);
      });
      if (v.ended_at && !over) { finish(v.end_reason); }
    }).catch(function () { /* the next poll tries again */ });
  }

  function finish(reason) {
    over = true;
    timers.forEach(function (t) { clearTimeout(t); clearInterval(t); });
    timers = [setInterval(follow, 2000)];
    if (socket) { socket.close(); }
    if (mic) { mic.getTracks().forEach(function (t) { t.stop(); }); }
    if (audio) { audio.close(); }
    level.value = 0;
    countdown.textContent = "";
    stopButton.disabled = true;
    startButton.disabled = false;
    form.hidden = false;
    state("ended", say("live.ended", { reason: reason || "" }));
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    errorBox.hidden = true;
    var zones = Array.prototype.slice.call(form.querySelectorAll("input[name=zones]:checked"))
      .map(function (c) { return Number(c.value); });
    if (!zones.length) { fail(texts["live.no_zone"]); return; }
    startButton.disabled = true;
    over = false;
    var input = form.querySelector("input[name=input]:checked");
    var body = {
      zones: zones,
      priority: document.getElementById("live-priority").value,
      minutes: Number(document.getElementById("live-minutes").value) || undefined
    };
    if (input && input.value === "sound_card") {
      // The controller reads its own sound card: nothing to send from here.
      body.input = "sound_card";
      level.parentNode.hidden = true;
      state("starting", texts["live.starting"]);
      api("POST", "/api/v1/live", body).then(function (s) {
        session = s;
        panel.dataset.session = s.id;
        form.hidden = true;
        stopButton.disabled = false;
        tick();
        follow();
        timers.push(setInterval(tick, 250), setInterval(follow, 1000));
      }).catch(function (e) {
        startButton.disabled = false;
        state("failed", "");
        fail(e.message);
      });
      return;
    }
    level.parentNode.hidden = false;
    state("asking", texts["live.asking_microphone"]);
    navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 }
    }).then(function (stream) {
      mic = stream;
      audio = new AudioContext({ sampleRate: 48000 });
      return audio.audioWorklet.addModule("/ui/static/live-worklet.js");
    }, function (e) {
      throw new Error(say("live.no_microphone", { detail: e.message || e.name }));
    }).then(function () {
      state("starting", texts["live.starting"]);
      return api("POST", "/api/v1/live", body);
    }).then(function (s) {
      session = s;
      panel.dataset.session = s.id;
      // While on air the page shows the session alone: level, countdown, villages, stop.
      form.hidden = true;
      stopButton.disabled = false;
      var node = new AudioWorkletNode(audio, "loa-microphone", {
        processorOptions: { frames: Math.round(audio.sampleRate / 50) }
      });
      node.port.onmessage = function (m) {
        level.value = m.data.peak;
        if (socket && socket.readyState === WebSocket.OPEN) { socket.send(m.data.pcm); }
      };
      audio.createMediaStreamSource(mic).connect(node);
      // Pulled by the output so it runs, silent.
      var mute = audio.createGain();
      mute.gain.value = 0;
      node.connect(mute).connect(audio.destination);
      connect();
      tick();
      follow();
      timers.push(setInterval(tick, 250), setInterval(follow, 1000));
    }).catch(function (e) {
      startButton.disabled = false;
      if (mic) { mic.getTracks().forEach(function (t) { t.stop(); }); }
      state("failed", "");
      fail(e.message);
    });
  });

  stopButton.addEventListener("click", function () {
    if (!session) { return; }
    stopButton.disabled = true;
    api("POST", "/api/v1/live/" + session.id + "/stop").then(function (s) {
      finish(s.end_reason);
    }).catch(function (e) { stopButton.disabled = false; fail(e.message); });
  });
}());
