// The station map (/ui/map): draws every station from /api/v1/map/stations on Leaflet, a
// dot coloured by state with the station's name always shown, and a card per station in its
// popup. Without tiles (none set, or they fail to load) the dots and names stay on a plain
// background.
(function () {
  "use strict";
  var el = document.getElementById("station-map");
  if (!el || typeof L === "undefined") return;
  var texts = JSON.parse(document.getElementById("map-texts").textContent);
  var notice = document.getElementById("map-notice");
  var tz = el.dataset.tz || undefined;
  var locale = el.dataset.lang === "en" ? "en-GB" : "vi-VN";
  var COLOURS = { online: "#2e7d32", playing: "#f9a825", fault: "#ef6c00", offline: "#c62828", unknown: "#9e9e9e" };

  function t(key) { return texts[key] || key; }
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function when(iso, withDate) {
    if (!iso) return "";
    var opts = { timeZone: tz, hour: "2-digit", minute: "2-digit" };
    if (withDate) { opts.day = "2-digit"; opts.month = "2-digit"; opts.year = "numeric"; }
    try { return new Date(iso).toLocaleString(locale, opts); } catch (e) { return iso; }
  }
  function say(text) { notice.textContent = text; notice.hidden = false; }

  // One station's card: state, last seen, version, on air, today's deliveries, faults.
  function card(s) {
    var h = '<div class="station-card" data-test="station-card" data-node="' + esc(s.id) + '" data-state="' + s.state + '">';
    h += "<b>" + esc(s.name) + "</b><br><small>" + esc(s.zone) + "</small>";
    h += "<dl><dt>" + esc(t("map.state_word")) + '</dt><dd><span class="dot state-' + s.state + '"></span> <span data-test="card-state">' + esc(t("map.state." + s.state)) + "</span></dd>";
    h += "<dt>" + esc(t("map.last_seen")) + '</dt><dd data-test="card-last-seen">' + (s.last_seen ? esc(when(s.last_seen, true)) : esc(t("map.never_seen"))) + "</dd>";
    h += "<dt>" + esc(t("map.version")) + '</dt><dd data-test="card-version">' + esc(s.software || t("station.not_said")) + "</dd>";
    if (s.on_air) h += "<dt>" + esc(t("map.on_air")) + '</dt><dd data-test="card-on-air">' + esc(s.on_air) + "</dd>";
    h += "</dl><b>" + esc(t("map.today")) + "</b>";
    if (s.today.length) {
      h += '<ul data-test="card-today">';
      s.today.forEach(function (d) {
        h += '<li data-stage="' + d.stage + '">' + esc(when(d.start_at, false)) + " " + esc(d.title) + " · " + esc(t("stage." + d.stage)) + "</li>";
      });
      h += "</ul>";
    } else {
      h += '<p class="muted" data-test="card-today-none">' + esc(t("map.nothing_today")) + "</p>";
    }
    h += "<b>" + esc(t("map.faults")) + "</b>";
    if (s.faults.length) {
      h += '<ul data-test="card-faults">';
      s.faults.forEach(function (f) {
        h += '<li data-kind="' + f.kind + '">' + esc(t("fault.kind." + f.kind)) + ": " + esc(f.detail) + "</li>";
      });
      h += "</ul>";
    } else {
      h += '<p class="muted" data-test="card-no-faults">' + esc(t("map.no_faults")) + "</p>";
    }
    h += '<p><a data-test="card-link" href="/ui/nodes/' + encodeURIComponent(s.id) + '">' + esc(t("map.open_station")) + "</a></p></div>";
    return h;
  }

  function draw(data) {
    el.innerHTML = "";
    var map = L.map(el, { zoomControl: true, attributionControl: !!data.tile_url });
    if (data.tile_url) {
      var failed = false;
      L.tileLayer(data.tile_url, { maxZoom: 19, attribution: "&copy; OpenStreetMap" })
        .on("tileerror", function () {
          if (!failed) { failed = true; say(t("map.tiles_failed")); }
        })
        .addTo(map);
    }
    L.control.scale({ imperial: false }).addTo(map);
    // The view first: Leaflet makes a marker's element only once the map has one.
    var placed = data.stations.filter(function (s) { return s.location; });
    if (placed.length) {
      map.fitBounds(placed.map(function (s) { return [s.location.latitude, s.location.longitude]; }),
        { padding: [40, 40], maxZoom: 15 });
    } else {
      map.setView([16.0, 106.0], 5);
    }
    placed.forEach(function (s) {
      var m = L.circleMarker([s.location.latitude, s.location.longitude], {
        radius: 10, weight: 2, color: "#fff", fillColor: COLOURS[s.state] || COLOURS.unknown,
        fillOpacity: 1, className: "station-marker state-" + s.state
      }).addTo(map);
      m.bindTooltip(esc(s.name), { permanent: true, direction: "right", offset: [10, 0], className: "station-name" });
      m.bindPopup(card(s), { maxWidth: 320 });
      var path = m.getElement();
      if (path) { path.setAttribute("data-node", s.id); path.setAttribute("data-state", s.state); }
      var tip = m.getTooltip() && m.getTooltip().getElement();
      if (tip) tip.setAttribute("data-node", s.id);
    });
    el.dataset.state = "ready";
  }

  fetch("/api/v1/map/stations", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(draw)
    .catch(function () { el.dataset.state = "failed"; say(t("map.load_failed")); });
})();
