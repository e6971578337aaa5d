// The map, loaded only after the first result cards are on screen (Leaflet is ~40 kB gzip).
// No tile layer: tiles would come from another origin (blocked by the CSP, and absent
// offline); the map shows my position, the stations and a line to the nearest one.
// Text reaches Leaflet as DOM nodes made with textContent, never as HTML strings.

const LEAFLET = "vendor/leaflet/1.9.3/";
let loading = null;
let map = null;
let layer = null;

function loadLeaflet() {
  if (loading) return loading;
  loading = new Promise((resolve, reject) => {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = LEAFLET + "leaflet.css";
    document.head.append(css);
    const js = document.createElement("script");
    js.src = LEAFLET + "leaflet.js";
    js.onload = () => resolve(window.L);
    js.onerror = () => {
      loading = null;
      reject(new Error("leaflet"));
    };
    document.head.append(js);
  });
  return loading;
}

function textNode(tag, text, className) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
}

/**
 * Draw (or redraw) the map: `here` {lat, lng} or null, `stations` [{lat, lng, name}],
 * `onTap(lat, lng)` called when the map is tapped (WGS-84: there are no GCJ-02 tiles).
 */
export async function drawMap(el, here, stations, onTap, meLabel) {
  const L = await loadLeaflet();
  if (!map) {
    map = L.map(el, { zoomControl: true, attributionControl: false, maxZoom: 18, minZoom: 3 });
    map.setView([35.0, 105.0], 4);
    L.control.scale({ imperial: false }).addTo(map);
    map.on("click", (e) => onTap(e.latlng.lat, e.latlng.lng));
    layer = L.layerGroup().addTo(map);
  }
  layer.clearLayers();
  const points = [];
  stations.forEach((s, i) => {
    const pin = L.marker([s.lat, s.lng], {
      icon: L.divIcon({ className: "pin", html: textNode("span", String(i + 1)), iconSize: [28, 28] }),
      keyboard: false,
    });
    pin.bindTooltip(textNode("span", `${i + 1}. ${s.name}`));
    pin.addTo(layer);
    points.push([s.lat, s.lng]);
  });
  if (here) {
    L.circleMarker([here.lat, here.lng], { radius: 9, color: "#fff", weight: 3, fillColor: "#1a56db", fillOpacity: 1 })
      .bindTooltip(textNode("span", meLabel))
      .addTo(layer);
    if (stations.length) {
      L.polyline([[here.lat, here.lng], [stations[0].lat, stations[0].lng]], { color: "#1a56db", dashArray: "6 6" }).addTo(layer);
    }
    points.push([here.lat, here.lng]);
  }
  map.invalidateSize();
  if (points.length > 1) map.fitBounds(points, { padding: [30, 30], maxZoom: 16 });
  else if (points.length === 1) map.setView(points[0], 15);
}
