// Pure logic of the courier app: no DOM, no network. Mirrors the server's rules so that an
// answer computed on the phone from the offline cache agrees with GET /api/v1/nearest:
//   distance   great-circle (haversine), mean Earth radius 6,371,008.8 m (geo/distance.py)
//   travel     distance x 1.3 (detour) at 4.5 km/h walking, 15 km/h e-bike (geo/nearest.py)
//   hours      open on [opens, closes), overnight when closes < opens, all day when
//              open_24h or opens == closes or 00:00-24:00 (geo/hours.py status_one);
//              unknown hours are a state of their own, never open or closed
//   time       China time, UTC+8 all year (no daylight saving)
//   datums     GCJ-02 / BD-09 to WGS-84 as geo/datums.py (same constants, iterative inverse)

export const EARTH_RADIUS_M = 6371008.8;
export const DETOUR_FACTOR = 1.3;
export const WALK_M_PER_MIN = (4.5 * 1000) / 60;
export const RIDE_M_PER_MIN = (15 * 1000) / 60;
export const MINUTES_PER_DAY = 1440;
const CHINA_OFFSET_MIN = 8 * 60;

const RAD = Math.PI / 180;

/** Great-circle distance between two WGS-84 points, metres. */
export function haversineM(lat1, lng1, lat2, lng2) {
  const p1 = lat1 * RAD;
  const p2 = lat2 * RAD;
  const dp = p2 - p1;
  const dl = (lng2 - lng1) * RAD;
  const h = Math.sin(dp / 2) ** 2 + Math.cos(p1) * Math.cos(p2) * Math.sin(dl / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Estimated walking and e-bike minutes for a great-circle distance in metres. */
export function travelMinutes(distanceM) {
  const streetM = distanceM * DETOUR_FACTOR;
  return { walkMin: streetM / WALK_M_PER_MIN, rideMin: streetM / RIDE_M_PER_MIN };
}

/** Minute of the day (0-1439) in China time (UTC+8) at a Date (default now). */
export function chinaMinuteOfDay(date = new Date()) {
  const utcMin = date.getUTCHours() * 60 + date.getUTCMinutes();
  return (utcMin + CHINA_OFFSET_MIN) % MINUTES_PER_DAY;
}

/** "HH:MM" (also "24:00", full-width colon) to minutes after midnight, or null. */
export function hhmmToMin(text) {
  if (typeof text !== "string") return null;
  const m = /^\s*(\d{1,2})\s*[:：]\s*(\d{2})\s*$/.exec(text);
  if (!m) return null;
  const h = Number(m[1]);
  const mi = Number(m[2]);
  if (mi > 59 || h > 24 || (h === 24 && mi !== 0)) return null;
  return h * 60 + mi;
}

/**
 * Opening state of one station at a minute of the China day.
 * Returns {state: "open24" | "open" | "closed" | "unknown", closesInMin, opensInMin}.
 * A station whose hours are unknown (hours_known false, or no parseable opens/closes and
 * not open 24 h) is "unknown": never counted as open or closed.
 */
export function hoursState(station, atMin) {
  if (station.hours_known === false) return { state: "unknown", closesInMin: null, opensInMin: null };
  if (station.open_24h) return { state: "open24", closesInMin: null, opensInMin: null };
  const o = hhmmToMin(station.opens);
  const c = hhmmToMin(station.closes);
  if (o === null || c === null) return { state: "unknown", closesInMin: null, opensInMin: null };
  if (o === c || (o === 0 && c >= MINUTES_PER_DAY)) return { state: "open24", closesInMin: null, opensInMin: null };
  const open = (o <= atMin && atMin < c) || (c < o && (atMin >= o || atMin < c));
  if (open) {
    return { state: "open", closesInMin: mod(c - atMin - 1, MINUTES_PER_DAY) + 1, opensInMin: null };
  }
  return { state: "closed", closesInMin: null, opensInMin: mod(o - atMin, MINUTES_PER_DAY) };
}

/** The same state, read from an API result (which carries open_now and the minutes). */
export function resultState(r) {
  if (r.hours_known === false || r.open_now === null || r.open_now === undefined) {
    return { state: "unknown", closesInMin: null, opensInMin: null };
  }
  if (r.open_24h) return { state: "open24", closesInMin: null, opensInMin: null };
  if (r.open_now) return { state: "open", closesInMin: r.closes_in_min, opensInMin: null };
  return { state: "closed", closesInMin: null, opensInMin: r.opens_in_min };
}

function mod(a, n) {
  return ((a % n) + n) % n;
}

/**
 * Nearest stations from a cached set, as the server would answer for that set.
 * filters: {amenities: [codes] (all required), kinds: [codes] (any), openNow: bool}.
 * The server's open-now filter keeps stations open at the minute (unknown hours excluded).
 * Ties in distance keep the cached order (the server's order when the pack was made).
 */
export function nearestFromCache(stations, lat, lng, filters = {}, k = 5, atMin = chinaMinuteOfDay()) {
  const needs = filters.amenities || [];
  const kinds = filters.kinds || [];
  const hits = [];
  stations.forEach((s, i) => {
    if (kinds.length && !kinds.includes(s.kind)) return;
    const am = s.amenities || [];
    if (needs.some((a) => !am.includes(a))) return;
    const st = hoursState(s, atMin);
    if (filters.openNow && !(st.state === "open" || st.state === "open24")) return;
    hits.push({ i, s, st, d: haversineM(lat, lng, s.lat, s.lng) });
  });
  hits.sort((a, b) => a.d - b.d || a.i - b.i);
  return hits.slice(0, k).map(({ s, st, d }) => {
    const t = travelMinutes(d);
    const open24 = st.state === "open24";
    return {
      ...s,
      distance_m: Math.round(d * 10) / 10,
      walk_min: Math.round(t.walkMin * 10) / 10,
      ride_min: Math.round(t.rideMin * 10) / 10,
      open_now: st.state === "unknown" ? null : st.state !== "closed",
      open_24h: open24,
      opens: open24 ? null : s.opens,
      closes: open24 ? null : s.closes,
      closes_in_min: st.closesInMin,
      opens_in_min: st.opensInMin,
    };
  });
}

/**
 * Read two numbers typed or pasted by a user: "39.9087, 116.3975" or Amap's "116.39,39.90"
 * (inside China longitude is always the larger number). Returns {lat, lng} or null.
 */
export function parseCoordinates(text) {
  const nums = String(text || "")
    .replace(/，/g, ",")
    .match(/[-+]?\d+(?:\.\d+)?/g);
  if (!nums || nums.length !== 2) return null;
  const a = Number(nums[0]);
  const b = Number(nums[1]);
  return a > b ? { lat: b, lng: a } : { lat: a, lng: b };
}

// ---- datums (only used offline: online the API converts with crs=) ----------------------
const KRASOVSKY_A_M = 6378245.0;
const KRASOVSKY_EE = 0.00669342162296594323;
const BD_FACTOR = (Math.PI * 3000.0) / 180.0;
const CHINA_BBOX = [0.8293, 72.004, 55.8271, 137.8347];

function inChinaBbox(lat, lng) {
  return lat >= CHINA_BBOX[0] && lat <= CHINA_BBOX[2] && lng >= CHINA_BBOX[1] && lng <= CHINA_BBOX[3];
}

function gcjOffset(lat, lng) {
  const x = lng - 105.0;
  const y = lat - 35.0;
  const s = Math.sqrt(Math.abs(x));
  const common = ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  let dlat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * s + common;
  dlat += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
  dlat += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
  let dlng = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * s + common;
  dlng += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
  dlng += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
  const radLat = lat * RAD;
  const magic = 1 - KRASOVSKY_EE * Math.sin(radLat) ** 2;
  const sm = Math.sqrt(magic);
  dlat = (dlat * 180) / (((KRASOVSKY_A_M * (1 - KRASOVSKY_EE)) / (magic * sm)) * Math.PI);
  dlng = (dlng * 180) / ((KRASOVSKY_A_M / sm) * Math.cos(radLat) * Math.PI);
  return [dlat, dlng];
}

function gcjForward(lat, lng) {
  const [a, b] = gcjOffset(lat, lng);
  return [lat + a, lng + b];
}

function bdForward(lat, lng) {
  const z = Math.hypot(lng, lat) + 0.00002 * Math.sin(lat * BD_FACTOR);
  const th = Math.atan2(lat, lng) + 0.000003 * Math.cos(lng * BD_FACTOR);
  return [z * Math.sin(th) + 0.006, z * Math.cos(th) + 0.0065];
}

function solveInverse(forward, lat, lng, guess) {
  let [a, b] = guess;
  for (let i = 0; i < 30; i++) {
    const [fa, fb] = forward(a, b);
    const ra = fa - lat;
    const rb = fb - lng;
    a -= ra;
    b -= rb;
    if (Math.abs(ra) <= 1e-9 && Math.abs(rb) <= 1e-9) break;
  }
  return [a, b];
}

/** Convert a point in "wgs84" | "gcj02" | "bd09" to WGS-84 {lat, lng}. */
export function toWgs84(lat, lng, crs) {
  if (crs === "wgs84" || !inChinaBbox(lat, lng)) return { lat, lng };
  let g = [lat, lng];
  if (crs === "bd09") {
    const x = lng - 0.0065;
    const y = lat - 0.006;
    const z = Math.hypot(x, y) - 0.00002 * Math.sin(y * BD_FACTOR);
    const th = Math.atan2(y, x) - 0.000003 * Math.cos(x * BD_FACTOR);
    g = solveInverse(bdForward, lat, lng, [z * Math.sin(th), z * Math.cos(th)]);
  }
  if (!inChinaBbox(g[0], g[1])) return { lat: g[0], lng: g[1] };
  const [da, db] = gcjOffset(g[0], g[1]);
  const w = solveInverse(gcjForward, g[0], g[1], [g[0] - da, g[1] - db]);
  return { lat: w[0], lng: w[1] };
}

/** Format a distance like geo.i18n.format_distance. */
export function formatDistance(distanceM, lang) {
  if (distanceM < 1000) return lang === "zh" ? `${distanceM.toFixed(0)} 米` : `${distanceM.toFixed(0)} m`;
  const km = (distanceM / 1000).toFixed(1);
  return lang === "zh" ? `${km} 公里` : `${km} km`;
}

/** Fill "{name}" placeholders of a UI string (Python str.format style, names only). */
export function fmt(text, values = {}) {
  return String(text).replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));
}
