// Courier app at /m/: where am I -> nearest stations -> navigate, report; offline from a cache.
// Every piece of station or report text goes into the page with textContent (never innerHTML).
import {
  chinaMinuteOfDay,
  fmt,
  formatDistance,
  haversineM,
  nearestFromCache,
  parseCoordinates,
  resultState,
  toWgs84,
} from "./core.js";

const API = "/api/v1/";
const K = 5;
const MAX_WALK_MIN = 120; // beyond this, walking minutes help nobody (as the Streamlit page)
const MAX_RIDE_MIN = 180;
const PACK_RADIUS_M = 30000;
const PACK_LIMIT = 300;
const PACK_KEEP = 3; // positions whose surroundings stay cached
const PACK_REUSE_M = 5000; // a pack made within this distance of a new position is reused
const PACK_MAX_AGE_MS = 6 * 3600 * 1000;
const STORE = "courier.";

const params = new URLSearchParams(location.search);
const lang = params.get("lang") === "en" ? "en" : "zh";
const secure = window.isSecureContext === true;
const canCache = secure && "caches" in window;
const $ = (id) => document.getElementById(id);

let S = {}; // UI strings of this language (GET /api/v1/strings)
let E = {}; // enumerations: amenity, kind, problem, amenity_icon labels
let here = null; // {lat, lng, crs, label}
let lastResults = [];

// ---- small helpers ---------------------------------------------------------------------
function t(key, values) {
  const s = S[key];
  return s === undefined ? key : fmt(s, values);
}

function load(key, fallback) {
  try {
    const v = localStorage.getItem(STORE + key);
    return v === null ? fallback : JSON.parse(v);
  } catch {
    return fallback;
  }
}

function save(key, value) {
  try {
    localStorage.setItem(STORE + key, JSON.stringify(value));
  } catch {
    /* storage full or disabled: the app works without remembering */
  }
}

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}

function show(node, text, className) {
  node.textContent = text || "";
  node.hidden = !text;
  if (className !== undefined) node.className = className;
}

function timeText(ms) {
  const d = new Date(ms);
  const opts = { hour: "2-digit", minute: "2-digit" };
  if (Date.now() - ms > 20 * 3600 * 1000) Object.assign(opts, { month: "numeric", day: "numeric" });
  return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", opts);
}

class Offline extends Error {}

async function getJSON(url, options) {
  let res;
  try {
    res = await fetch(url, options);
  } catch {
    throw new Offline(url);
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(body.error || `HTTP ${res.status}`);
    err.status = res.status;
    err.body = body;
    err.retryAfter = res.headers.get("Retry-After");
    throw err;
  }
  return body;
}

// ---- online / offline ------------------------------------------------------------------
function wentOffline() {
  if (!load("offlineSince", null)) save("offlineSince", Date.now());
  renderOffline();
}

function wentOnline() {
  save("offlineSince", null);
  renderOffline();
}

async function renderOffline() {
  const since = load("offlineSince", null);
  const box = $("offline");
  if (!since) {
    show(box, "");
    return;
  }
  const n = (await cachedStations()).length;
  show(box, t(n ? "courier.offline" : "courier.offline_empty", { since: timeText(since), n }));
}

// ---- strings ---------------------------------------------------------------------------
async function loadStrings() {
  try {
    const body = await getJSON(`${API}strings?lang=${lang}`);
    save(`strings.${lang}`, body);
    return body;
  } catch (e) {
    const kept = load(`strings.${lang}`, null);
    if (kept) {
      if (e instanceof Offline) wentOffline();
      return kept;
    }
    throw e;
  }
}

function applyStrings() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("courier.title");
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  const other = new URLSearchParams(location.search);
  if (lang === "zh") other.set("lang", "en");
  else other.delete("lang");
  const link = $("lang");
  const q = other.toString();
  link.href = q ? `?${q}` : "./";
  link.textContent = t("courier.lang_switch");
  link.setAttribute("aria-label", t("courier.lang_switch_label"));
  link.lang = lang === "zh" ? "en" : "zh-CN";
  link.hreflang = link.lang;
}

// ---- filters (remembered on the phone) ---------------------------------------------------
function filters() {
  const f = load("filters", null) || {};
  return { openNow: f.openNow !== false, amenities: f.amenities || [], kinds: f.kinds || [] };
}

function buildFilters() {
  const f = filters();
  const open = $("f-open");
  open.checked = f.openNow;
  const chips = (box, labels, chosen, icons) => {
    box.replaceChildren();
    for (const [code, label] of Object.entries(labels)) {
      if (box.id === "f-amenities" && code === "other") continue; // "other services" is no need
      const lab = el("label");
      const input = el("input");
      input.type = "checkbox";
      input.value = code;
      input.checked = chosen.includes(code);
      lab.append(input, el("span", icons ? `${icons[code] || ""} ${label}`.trim() : label));
      box.append(lab);
    }
  };
  chips($("f-amenities"), E.amenity || {}, f.amenities, E.amenity_icon);
  chips($("f-kinds"), E.kind || {}, f.kinds);
  $("filters").addEventListener("change", () => {
    const picked = (id) => [...$(id).querySelectorAll("input:checked")].map((i) => i.value);
    save("filters", { openNow: open.checked, amenities: picked("f-amenities"), kinds: picked("f-kinds") });
    if (here) lookup(here);
  });
}

// ---- where am I ----------------------------------------------------------------------------
function setupWhere() {
  const btn = $("locate");
  if (!secure) {
    btn.hidden = true;
    $("insecure").hidden = false;
  } else if (!("geolocation" in navigator)) {
    btn.hidden = true;
    show($("geo-msg"), t("courier.geo_unsupported"), "msg warn");
  }
  btn.addEventListener("click", () => locate());

  let timer = null;
  const search = async (q) => {
    const list = $("places");
    const msg = $("search-msg");
    if (!q.trim()) {
      list.replaceChildren();
      show(msg, "");
      return;
    }
    try {
      const body = await getJSON(`${API}places?q=${encodeURIComponent(q)}&limit=8`);
      if (q !== $("q").value) return; // an older answer
      list.replaceChildren();
      show(msg, body.count ? "" : t("nearest.search_none", { q: q.trim() }), "msg");
      for (const p of body.places || []) {
        const b = el("button", null, "btn");
        b.type = "button";
        b.append(el("span", p.name));
        if (p.detail) b.append(el("span", p.detail, "detail"));
        b.addEventListener("click", () => {
          list.replaceChildren();
          setHere({ lat: p.lat, lng: p.lng, crs: "wgs84", label: p.name }, { reveal: true });
        });
        const li = el("li");
        li.append(b);
        list.append(li);
      }
    } catch (e) {
      if (e instanceof Offline) {
        wentOffline();
        show(msg, t("courier.search_offline"), "msg warn");
      } else show(msg, t("courier.report_failed", { message: e.message }), "msg warn");
    }
  };
  $("search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearTimeout(timer);
    search($("q").value);
  });
  $("q").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => search($("q").value), 350);
  });

  $("coords").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = parseCoordinates($("coords-text").value);
    const crs = new FormData($("coords")).get("crs") || "wgs84";
    if (!p) {
      show($("coords-msg"), t("nearest.coords_label"), "msg warn");
      return;
    }
    show($("coords-msg"), "");
    setHere({ lat: p.lat, lng: p.lng, crs, label: t("nearest.src_coords") }, { reveal: true });
  });
}

const GEO_OPTIONS = { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 };

/** The phone's position as a promise (rejects with the GeolocationPositionError). */
function position() {
  return new Promise((resolve, reject) => navigator.geolocation.getCurrentPosition(resolve, reject, GEO_OPTIONS));
}

function hereFromPosition(pos) {
  const acc = Math.round(pos.coords.accuracy || 0);
  return { lat: pos.coords.latitude, lng: pos.coords.longitude, crs: "wgs84", acc };
}

function locateDone(pending) {
  const msg = $("geo-msg");
  show(msg, t("nearest.locating"), "msg");
  return pending.then(
    (h) => {
      show(msg, "");
      setHere({ ...h, label: t("nearest.src_gps", { acc: h.acc }) });
    },
    (err) => show(msg, t(err && err.code === 1 ? "nearest.geo_denied" : "nearest.geo_failed"), "msg warn"),
  );
}

function locate() {
  if (!secure) {
    show($("geo-msg"), t("nearest.geo_insecure"), "msg warn");
    return;
  }
  locateDone(position().then(hereFromPosition));
}

function setHere(h, { reveal = false } = {}) {
  here = h;
  const done = lookup(h);
  // A search pick or typed coordinates leave the results below the fold on a phone.
  if (reveal) done.then(() => $("results").scrollIntoView({ block: "start" }));
}

// ---- looking up the nearest stations ------------------------------------------------------
let lookupSeq = 0;

const prefetched = new Map(); // nearest URL -> pending answer, started before the strings came

function nearestQuery(h, f) {
  const q = new URLSearchParams({ lat: h.lat.toFixed(6), lng: h.lng.toFixed(6), k: String(K) });
  if (h.crs && h.crs !== "wgs84") q.set("crs", h.crs);
  for (const a of f.amenities) q.append("amenity", a);
  for (const k of f.kinds) q.append("kind", k);
  if (f.openNow) {
    const m = chinaMinuteOfDay();
    q.set("open_at", `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`);
  }
  return q;
}

async function lookup(h) {
  const seq = ++lookupSeq;
  performance.mark(`courier-lookup-${seq}`); // User Timing: bench/bench_courier.py reads these
  const f = filters();
  $("results-msg").textContent = t("courier.searching");
  const q = nearestQuery(h, f);
  let results;
  let fromCache = false;
  let point = h;
  try {
    if (navigator.onLine === false) throw new Offline("navigator.onLine");
    const url = `${API}nearest?${q}`;
    const early = prefetched.get(url);
    prefetched.clear();
    const body = await (early || getJSON(url));
    if (seq !== lookupSeq) return;
    wentOnline();
    results = body.results;
    point = { ...h, lat: body.query.lat, lng: body.query.lng, crs: "wgs84" };
  } catch (e) {
    if (seq !== lookupSeq) return;
    if (!(e instanceof Offline)) {
      $("results-msg").textContent = e.message; // the API names the bad field (≤ 100 chars of input)
      $("cards").replaceChildren();
      return;
    }
    wentOffline();
    point = { ...h, ...toWgs84(h.lat, h.lng, h.crs || "wgs84"), crs: "wgs84" };
    results = nearestFromCache(await cachedStations(), point.lat, point.lng, f, K);
    fromCache = true;
  }
  here = point;
  save("last", { lat: point.lat, lng: point.lng, label: point.label });
  renderHere(point);
  renderCards(results, fromCache);
  performance.measure("courier-lookup", `courier-lookup-${seq}`);
  lastResults = results;
  afterResults(point, fromCache);
}

function renderHere(p) {
  $("here").textContent = `${t("nearest.here_from", { label: p.label })} (${p.lat.toFixed(5)}, ${p.lng.toFixed(5)})`;
}

// ---- cards ----------------------------------------------------------------------------------
function hoursText(r) {
  const st = resultState(r);
  if (st.state === "unknown") return t("courier.hours_unknown");
  if (st.state === "open24") return t("nearest.open_24h");
  if (st.state === "open") {
    if (st.closesInMin !== null && st.closesInMin <= 30) return t("nearest.closing_soon", { m: st.closesInMin, t: r.closes });
    return t("nearest.open_until", { t: r.closes });
  }
  return t("nearest.closed_until", { t: r.opens });
}

function travelText(r) {
  if (r.walk_min <= MAX_WALK_MIN) {
    return t("nearest.travel", { walk: r.walk_min.toFixed(0), ride: r.ride_min.toFixed(0) });
  }
  if (r.ride_min <= MAX_RIDE_MIN) return t("nearest.travel_ride", { ride: r.ride_min.toFixed(0) });
  return t("nearest.travel_far");
}

function statusText(status) {
  if (!status) return "";
  if (status.reported_closed) return t("courier.status_closed");
  if (status.reports_48h > 0) {
    const problem = (E.problem || {})[status.top_problem] || status.top_problem || "";
    return t("courier.status_reports", { n: status.reports_48h, problem });
  }
  return "";
}

function card(r, index, { shared = false } = {}) {
  const li = $("card-tpl").content.firstElementChild.cloneNode(true);
  li.dataset.station = r.station_id;
  if (shared) li.classList.add("shared");
  li.querySelector(".name").textContent = index === null ? r.name : `${index + 1}. ${r.name}`;
  const dist = li.querySelector(".dist");
  const kind = (E.kind || {})[r.kind] || "";
  if (r.distance_m !== undefined) dist.textContent = [formatDistance(r.distance_m, lang), kind].filter(Boolean).join(" · ");
  else dist.textContent = kind;
  li.querySelector(".hours").textContent = hoursText(r);
  const travel = li.querySelector(".travel");
  if (r.walk_min !== undefined) {
    travel.textContent = travelText(r);
    travel.title = t("nearest.travel_help");
  } else travel.remove();
  const st = li.querySelector(".status");
  show(st, statusText(r.status), "line status");
  const am = li.querySelector(".amenities");
  // Imported without a services column: unknown, which an empty list would call "none".
  if (r.amenities_known === false) am.append(el("li", t("nearest.amenities_unknown")));
  for (const a of r.amenities || []) {
    const icon = (E.amenity_icon || {})[a] || "";
    am.append(el("li", `${icon} ${(E.amenity || {})[a] || a}`.trim()));
  }
  li.querySelector(".addr").textContent = r.address ? `📍 ${r.address}` : "";
  const nav = li.querySelector(".nav");
  const links = r.links || {};
  for (const [app, key, primary] of [
    ["amap", "nearest.nav_amap", true],
    ["baidu", "nearest.nav_baidu", false],
    ["osm", "nearest.nav_osm", false],
  ]) {
    const url = links[app];
    if (typeof url !== "string" || !url.startsWith("https://")) continue;
    const a = el("a", t(key), primary ? "btn primary" : "btn");
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    nav.append(a);
  }
  const share = el("a", t("courier.share"), "btn");
  const shareUrl = new URL(`./?station=${encodeURIComponent(r.station_id)}${lang === "en" ? "&lang=en" : ""}`, location.href);
  share.href = shareUrl.pathname + shareUrl.search;
  share.addEventListener("click", (ev) => {
    if (navigator.share) {
      ev.preventDefault();
      navigator.share({ title: r.name, url: shareUrl.href }).catch(() => {});
    }
  });
  nav.append(share);
  setupReport(li, r);
  return li;
}

function renderCards(results, fromCache) {
  const list = $("cards");
  list.replaceChildren(...results.map((r, i) => card(r, i)));
  const msg = results.length ? (fromCache ? t("courier.from_cache") : "") : t("nearest.no_results");
  $("results-msg").textContent = msg;
}

// ---- reports ----------------------------------------------------------------------------------
function setupReport(li, r) {
  const details = li.querySelector(".report");
  details.querySelector("summary").textContent = t("nearest.report");
  const form = details.querySelector("form");
  form.querySelector("legend").textContent = t("nearest.report_problem");
  const box = form.querySelector(".problems");
  const name = `problem-${r.station_id}`;
  Object.entries(E.problem || {}).forEach(([code, label], i) => {
    const lab = el("label", null, "choice");
    const input = el("input");
    input.type = "radio";
    input.name = name;
    input.value = code;
    input.checked = i === 0;
    lab.append(input, el("span", label));
    box.append(lab);
  });
  const note = form.querySelector(".note");
  const noteLabel = form.querySelector(".note-label");
  note.id = `note-${r.station_id}`;
  noteLabel.htmlFor = note.id;
  noteLabel.textContent = t("nearest.report_text");
  const send = form.querySelector("button");
  send.textContent = t("nearest.report_send");
  const msg = form.querySelector(".report-msg");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const problem = new FormData(form).get(name);
    const text = note.value.trim();
    if (problem === "other" && !text) {
      show(msg, t("courier.report_other_needs_text"), "msg warn report-msg");
      return;
    }
    send.disabled = true;
    try {
      const body = await getJSON(`${API}reports`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(text ? { station_id: r.station_id, problem, text } : { station_id: r.station_id, problem }),
      });
      show(msg, t("nearest.report_thanks"), "msg ok report-msg");
      note.value = "";
      r.status = body.station_status;
      show(li.querySelector(".status"), statusText(r.status), "line status");
    } catch (e) {
      if (e instanceof Offline) show(msg, t("courier.report_offline"), "msg warn report-msg");
      else if (e.status === 429) show(msg, t("nearest.report_limited"), "msg warn report-msg");
      else show(msg, t("courier.report_failed", { message: e.message }), "msg warn report-msg");
    } finally {
      send.disabled = false;
    }
  });
}

// ---- after the cards: map, offline pack, dataset, service worker ----------------------------------
let mapShown = null;

function afterResults(point, fromCache) {
  const draw = () =>
    import("./map.js")
      .then((m) => m.drawMap($("map"), point, lastResults, onTap, t("nearest.me")))
      .catch(() => {}); // no map offline before Leaflet was cached: the list still works
  mapShown = (mapShown || Promise.resolve()).then(draw);
  if (!fromCache) mapShown.then(() => background(point));
}

function onTap(lat, lng) {
  setHere({ lat, lng, crs: "wgs84", label: t("nearest.src_tap") });
}

let swStarted = false;
let datasetTag = null;

async function background(point) {
  if (!swStarted && canCache && "serviceWorker" in navigator) {
    swStarted = true;
    navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => {});
  }
  try {
    if (!datasetTag) {
      const health = await getJSON(`${API}health`);
      const ds = health.dataset || {};
      datasetTag = ds.tag || ds.version || "none";
      const src = ds.source === "demo" ? ` · ${t("courier.demo")}` : "";
      $("dataset").textContent = `${ds.version || ""}${src}`;
    }
    if (canCache) await refreshPack(point, datasetTag);
  } catch {
    /* the next lookup tries again */
  }
}

// ---- offline pack: the stations around the last positions, in Cache Storage --------------------
const PACK_CACHE = "courier-stations-";

async function refreshPack(point, tag) {
  let packs = load("packs", []).filter((p) => p.tag === tag);
  for (const name of await caches.keys()) {
    if (name.startsWith(PACK_CACHE) && name !== PACK_CACHE + tag) await caches.delete(name); // older data
  }
  const fresh = packs.find(
    (p) => haversineM(p.lat, p.lng, point.lat, point.lng) < PACK_REUSE_M && Date.now() - p.at < PACK_MAX_AGE_MS,
  );
  if (!fresh) {
    const url = `${API}stations/around?lat=${point.lat.toFixed(5)}&lng=${point.lng.toFixed(5)}&radius_m=${PACK_RADIUS_M}&limit=${PACK_LIMIT}`;
    const res = await fetch(url);
    if (!res.ok) return;
    const cache = await caches.open(PACK_CACHE + tag);
    await cache.put(url, res.clone());
    const body = await res.json();
    packs = packs.filter((p) => p.url !== url);
    packs.unshift({ lat: point.lat, lng: point.lng, url, tag, at: Date.now(), n: body.count });
    for (const old of packs.slice(PACK_KEEP)) await cache.delete(old.url);
    packs = packs.slice(0, PACK_KEEP);
    save("packs", packs);
  }
  const n = (await cachedStations()).length;
  $("saved").textContent = n ? t("courier.offline_saved", { n, time: timeText(packs[0].at) }) : "";
}

/** Every cached station (newest pack first), each once. */
async function cachedStations() {
  if (!canCache) return [];
  const packs = load("packs", []);
  const seen = new Set();
  const out = [];
  for (const p of packs) {
    try {
      const cache = await caches.open(PACK_CACHE + p.tag);
      const res = await cache.match(p.url);
      if (!res) continue;
      const body = await res.json();
      for (const s of body.results || []) {
        if (seen.has(s.station_id)) continue;
        seen.add(s.station_id);
        out.push(s);
      }
    } catch {
      /* a damaged entry: skip it */
    }
  }
  return out;
}

// ---- a shared station: /m/?station=ID -------------------------------------------------------
async function openShared(id) {
  $("results-h").textContent = t("courier.shared_station");
  $("results-msg").textContent = t("courier.searching");
  let station = null;
  try {
    station = (await getJSON(`${API}stations/${encodeURIComponent(id)}`)).station;
  } catch (e) {
    if (e instanceof Offline) {
      wentOffline();
      station = (await cachedStations()).find((s) => s.station_id === id) || null;
      if (station) station = nearestFromCache([station], station.lat, station.lng, {}, 1)[0];
    }
    if (!station) {
      $("results-msg").textContent = t("courier.station_missing", { id });
      return;
    }
  }
  const { distance_m: _d, walk_min: _w, ride_min: _r, ...plain } = station;
  $("results-msg").textContent = "";
  const li = card(plain, null, { shared: true });
  const more = el("button", t("courier.show_nearest"), "btn wide");
  more.type = "button";
  more.addEventListener("click", () => {
    $("results-h").textContent = t("nearest.results");
    setHere({ lat: station.lat, lng: station.lng, crs: "wgs84", label: station.name });
  });
  li.append(more);
  $("cards").replaceChildren(li);
  lastResults = [station];
  afterResults(null, false);
}

// ---- start -------------------------------------------------------------------------------------
async function start() {
  // The strings, the position (when location is already allowed) and the first answer for it
  // are asked for at once: on a slow network each round trip saved is ~0.15-0.3 s.
  const stringsP = loadStrings();
  const shared = params.get("station");
  let early = null;
  if (!shared && secure && navigator.permissions && "geolocation" in navigator) {
    early = navigator.permissions
      .query({ name: "geolocation" })
      .then((p) => (p.state === "granted" ? position().then(hereFromPosition) : null))
      .catch((err) => (err && err.code ? Promise.reject(err) : null));
    early
      .then((h) => {
        if (h && navigator.onLine !== false) {
          const url = `${API}nearest?${nearestQuery(h, filters())}`;
          const answer = getJSON(url);
          answer.catch(() => {}); // lookup() reports failures when it awaits this
          prefetched.set(url, answer);
        }
      })
      .catch(() => {});
  }
  try {
    const body = await stringsP;
    S = body.strings || {};
    E = body.enums || {};
  } catch {
    $("boot-error").hidden = false; // the one message that cannot come from the strings
    return;
  }
  applyStrings();
  buildFilters();
  setupWhere();
  window.addEventListener("online", () => here && lookup(here));
  window.addEventListener("offline", wentOffline);
  renderOffline();
  if (shared) {
    openShared(shared.slice(0, 64));
    return;
  }
  const granted = early ? await early.then((h) => h !== null, () => true) : false;
  if (granted) {
    locateDone(early);
  } else {
    const last = load("last", null);
    if (last) setHere({ ...last, crs: "wgs84" });
    else $("results-msg").textContent = t("nearest.pick_first");
  }
}

start();
