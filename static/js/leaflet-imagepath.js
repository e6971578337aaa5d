/*
 * Point Leaflet's default marker images at the vendored copy.
 *
 * Loaded right after leaflet.js (geo.maps.localize_assets puts it there). st_folium adds
 * leaflet.css only after the scripts, so Leaflet would otherwise guess the image folder
 * from a stylesheet that is not there yet and ask for ".../leafletmarker-icon.png" (404).
 * The folder is found relative to this file's own URL, so a server base path works too.
 * When the script is inlined (standalone export) it has no URL and does nothing.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src || typeof L === "undefined" || !L.Icon || !L.Icon.Default) {
    return;
  }
  L.Icon.Default.imagePath = new URL("../vendor/leaflet/1.9.3/images/", script.src).href;
})();
