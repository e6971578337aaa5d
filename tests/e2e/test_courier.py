"""The courier web app at /m/ in a real phone-sized browser (Debian Chromium, 390 px), zh and en.

What only a browser shows: the app opens and answers from the phone's position, a place
search (pinyin), typed coordinates (Amap's GCJ-02 "lng,lat"), filters remembered across
visits, a problem report and its status on the card, a shared station link, the answer
with no network from the offline cache, imported markup shown as inert text, and nothing
requested beyond loopback. The JavaScript rules (distance, opening hours, datums, the
offline ordering) are checked against the Python library on a grid of cases.

Each context records every request to another host, every failed request and every HTTP
status >= 400 in ``problems`` (no request interception: Chromium bypasses service workers
while Playwright intercepts, and the offline test needs the service worker).
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest

from geo import datums, hours, store
from geo.distance import haversine_m
from geo.nearest import minute_of_day_now
from tests.e2e.conftest import PHONE, SCREENSHOTS, free_port, start_server
from tests.e2e.test_xss_e2e import INJECTED, PAYLOADS

pytestmark = pytest.mark.e2e

LOOPBACK = ("127.0.0.1", "localhost", None, "")
CARD = "#cards .card"


# ---- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stations(e2e_data_dir: Path) -> Any:
    """The stations the app server reads (for independent expectations)."""
    return store.read_table(e2e_data_dir, "stations").reset_index(drop=True)


@pytest.fixture(scope="module")
def here(stations: Any) -> tuple[float, float]:
    """A point ~300 m from the station nearest to central Beijing (the test data is sparse)."""
    d = haversine_m(39.9087, 116.3975, stations["lat"].to_numpy(), stations["lng"].to_numpy())
    s = stations.iloc[int(np.argmin(d))]
    return float(s["lat"]) + 0.002, float(s["lng"]) + 0.002


@pytest.fixture
def phone(browser: object, app_url: str) -> Iterator[Callable[..., Any]]:
    """Open a path of the app in a new phone-sized context: ``phone(path, geo=(lat, lng)|None)``."""
    contexts = []

    def _open(
        path: str = "/m/",
        geo: tuple[float, float] | None = None,
        base: str | None = None,
        before: Callable[[Any], None] | None = None,
    ) -> Any:
        kwargs: dict[str, Any] = {"viewport": PHONE, "locale": "zh-CN", "is_mobile": True, "has_touch": True}
        if geo:
            kwargs.update(permissions=["geolocation"], geolocation={"latitude": geo[0], "longitude": geo[1]})
        ctx = browser.new_context(**kwargs)  # type: ignore[attr-defined]
        contexts.append(ctx)
        problems: list[str] = []
        dialogs: list[str] = []

        def on_request(req: Any) -> None:
            if urlparse(req.url).hostname not in LOOPBACK and not req.url.startswith(("data:", "blob:")):
                problems.append(f"left loopback: {req.url}")

        ctx.on("request", on_request)
        ctx.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
        ctx.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
        page = ctx.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on(
            "console", lambda m: "Content Security Policy" in m.text and problems.append(f"CSP: {m.text}")
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.problems, page.dialogs, page.ctx = problems, dialogs, ctx
        if before:
            before(ctx)
        page.goto((base or app_url) + path, wait_until="domcontentloaded")
        return page

    yield _open
    for ctx in contexts:
        ctx.close()


def api(app_url: str, path: str) -> Any:
    with urllib.request.urlopen(app_url + path, timeout=20) as r:
        return json.loads(r.read())


def card_ids(page: Any) -> list[str]:
    page.wait_for_selector(CARD, timeout=20_000)
    return [c.get_attribute("data-station") for c in page.locator(CARD).all()]


def open_now_mask(stations: Any, minute: int) -> np.ndarray:
    opens = hours.parse_hhmm(stations["opens"].fillna("00:00"), "opens")
    closes = hours.parse_hhmm(stations["closes"].fillna("24:00"), "closes")
    known = stations["hours_known"].to_numpy(bool) if "hours_known" in stations else True
    return hours.open_at(opens, closes, stations["open_24h"].to_numpy(bool), minute) & known


def expected_nearest(
    stations: Any, lat: float, lng: float, k: int = 5, open_now: bool = True
) -> list[list[str]]:
    """Nearest ids by brute force (haversine over every station), at this minute and the next."""
    d = haversine_m(lat, lng, stations["lat"].to_numpy(), stations["lng"].to_numpy())
    out = []
    for minute in {minute_of_day_now(), (minute_of_day_now() + 1) % 1440}:
        dd = np.where(open_now_mask(stations, minute), d, np.inf) if open_now else d
        out.append(stations["station_id"].to_numpy()[np.argsort(dd, kind="stable")[:k]].astype(str).tolist())
    return out


def no_sideways_scroll_and_big_targets(page: Any) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"horizontal scroll: {width}"
    small = page.evaluate(
        """() => [...document.querySelectorAll(
                'button, a, summary, input[type=search], input[type=text], .chips label')]
            .filter(e => e.offsetParent !== null)
            .map(e => [e.textContent.trim().slice(0, 30) || e.id, e.getBoundingClientRect()])
            .filter(([, r]) => r.width > 0 && (r.height < 44 || r.width < 44))
            .map(([t, r]) => `${t}: ${Math.round(r.width)}x${Math.round(r.height)}`)"""
    )
    assert small == [], f"tap targets under 44 px: {small}"


# ---- every UI string the app asks for exists and is served to it ---------------------------------------
def test_every_string_key_of_the_app_exists_and_is_served() -> None:
    from geo import api, i18n

    root = Path(__file__).parents[2] / "static" / "m"
    used = set(
        re.findall(r'data-t="([a-z_]+\.[a-z0-9_]+)"', (root / "index.html").read_text(encoding="utf-8"))
    )
    for js in root.glob("*.js"):
        # every quoted "section.key" (keys are also picked in ternaries and tables before t())
        used |= set(
            re.findall(r"""["']((?:courier|nearest|common)\.[a-z0-9_]+)["']""", js.read_text("utf-8"))
        )
    assert len(used) > 40
    assert sorted(used - set(i18n.strings())) == []
    assert sorted(k for k in used if k.split(".")[0] not in api.STRING_SECTIONS) == []


# ---- the JavaScript rules against the Python library ----------------------------------------------
def test_phone_rules_agree_with_the_library(phone: Callable[..., Any], stations: Any) -> None:
    page = phone("/m/")
    page.wait_for_selector("#where-h:not(:empty)")
    opens = [*range(0, 1440, 150), 1439]
    closes = [*range(0, 1440, 150), 1440]
    ats = [*range(0, 1440, 53), 1439]
    cases = [(o, c, f, a) for o in opens for c in closes for f in (False, True) for a in ats]
    got = page.evaluate(
        """async (cases) => {
            const c = await import('/m/core.js');
            const p2 = (n) => String(n).padStart(2, '0');
            const hh = (m) => `${p2(Math.floor(m / 60))}:${p2(m % 60)}`;
            return cases.map(([o, cl, f, a]) => {
                const s = c.hoursState({opens: hh(o), closes: hh(cl), open_24h: f, hours_known: true}, a);
                return [s.state === 'open' || s.state === 'open24', s.closesInMin, s.opensInMin];
            });
        }""",
        cases,
    )
    for (o, c, f, a), (is_open, closes_in, opens_in) in zip(cases, got, strict=True):
        assert [is_open, closes_in, opens_in] == list(hours.status_one(o, c, f, a)), (o, c, f, a)
    unknown = page.evaluate(
        """async () => { const c = await import('/m/core.js');
            const u = {station_id: 'u', lat: 30, lng: 114, hours_known: false, open_24h: false};
            return [c.hoursState({hours_known: false, opens: null, closes: null, open_24h: false}, 600).state,
                    c.resultState({hours_known: false, open_now: null}).state,
                    c.nearestFromCache([u],
                                       30, 114, {openNow: true}).length,
                    c.nearestFromCache([u],
                                       30, 114, {openNow: false})[0].open_now]; }"""
    )
    assert unknown == ["unknown", "unknown", 0, None]  # never shown or filtered as open
    # distances, datums and the offline ordering, on the real stations
    rng = np.random.default_rng(7)
    pts = np.column_stack([rng.uniform(22, 45, 40), rng.uniform(100, 125, 40)])
    sample = stations.sample(300, random_state=1)[
        ["station_id", "lat", "lng", "opens", "closes", "open_24h", "kind"]
    ]
    records = json.loads(sample.assign(amenities=[[]] * len(sample)).to_json(orient="records"))
    js = page.evaluate(
        """async ([pts, recs]) => { const c = await import('/m/core.js');
            return pts.map(([la, ln]) => [c.haversineM(la, ln, 39.9, 116.4),
                c.toWgs84(la, ln, 'gcj02'), c.toWgs84(la, ln, 'bd09'),
                c.nearestFromCache(recs, la, ln, {}, 5, 600).map(s => s.station_id)]); }""",
        [pts.tolist(), records],
    )
    for (la, ln), (dist, gcj, bd, ids) in zip(pts, js, strict=True):
        assert dist == pytest.approx(float(haversine_m(la, ln, 39.9, 116.4)), rel=1e-9)
        w = datums.gcj02_to_wgs84(la, ln)
        assert (gcj["lat"], gcj["lng"]) == pytest.approx((float(w[0]), float(w[1])), abs=1e-8)
        w = datums.bd09_to_wgs84(la, ln)
        assert (bd["lat"], bd["lng"]) == pytest.approx((float(w[0]), float(w[1])), abs=1e-8)
        d = haversine_m(la, ln, sample["lat"].to_numpy(), sample["lng"].to_numpy())
        assert ids == sample["station_id"].to_numpy()[np.argsort(d, kind="stable")[:5]].astype(str).tolist()
    assert page.problems == []


# ---- cold open with the phone's location, zh ------------------------------------------------------
def test_cold_open_with_location_shows_the_nearest_open_stations(
    phone: Callable[..., Any], stations: Any, here: tuple[float, float]
) -> None:
    page = phone("/m/", geo=here)
    ids = card_ids(page)
    assert ids in expected_nearest(stations, *here)
    assert page.inner_text("#results-h") == "最近的驿站"
    first = page.locator(CARD).first
    text = first.inner_text()
    assert "估算" in text
    assert "开放中" in text or "24 小时开放" in text or "关门" in text
    hrefs = [a.get_attribute("href") for a in first.locator(".nav a").all()]
    assert hrefs[0].startswith("https://uri.amap.com/navigation?")
    assert hrefs[1].startswith("https://api.map.baidu.com/marker?")
    assert "bd09ll" in hrefs[1]
    assert hrefs[2].startswith("https://www.openstreetmap.org/?mlat=")
    assert hrefs[3].startswith("/m/?station=")
    page.wait_for_selector("#map .leaflet-marker-icon")  # the map comes after the cards
    assert page.locator("#map .leaflet-marker-icon").count() == len(ids)
    no_sideways_scroll_and_big_targets(page)
    assert re.findall(r"\b(?:courier|nearest|common)\.[a-z_]+", page.inner_text("body")) == []  # no raw keys
    assert page.locator("#insecure").is_hidden()
    assert page.problems == []
    assert page.dialogs == []
    page.wait_for_selector("#saved:not(:empty)", timeout=20_000)  # the offline cache is filled
    screenshot_at(page, "courier-zh")


def screenshot_at(page: Any, name: str) -> None:
    """Save the phone's screen under tests/e2e/screenshots/ (docs/screenshots/courier-*.png are copies)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def test_unknown_hours_and_reported_closed_are_states_of_their_own(
    phone: Callable[..., Any], here: tuple[float, float]
) -> None:
    """The API answer is edited in flight: hours and services unknown on card 1, reported closed on card 2."""

    def edit(route: Any) -> None:
        body = route.fetch().json()
        body["results"][0].update(
            hours_known=False, open_now=None, opens=None, closes=None, open_24h=False, closes_in_min=None
        )
        body["results"][0].update(amenities=[], amenities_known=False)
        body["results"][1]["status"] = {"reports_48h": 3, "top_problem": "closed", "reported_closed": True}
        route.fulfill(json=body)

    page = phone("/m/", geo=here, before=lambda ctx: ctx.route("**/api/v1/nearest?*", edit))
    card_ids(page)
    first, second = page.locator(CARD).nth(0), page.locator(CARD).nth(1)
    assert first.locator(".hours").inner_text() == "⚪ 开放时间未知"
    assert "开放中" not in first.inner_text()
    assert "关门" not in first.inner_text()
    assert first.locator(".status").is_hidden()
    assert first.locator(".amenities").inner_text() == "服务项目未知"
    assert "服务项目未知" not in second.inner_text()
    assert second.locator(".status").inner_text() == "⛔ 多人报告:关门了"
    assert page.problems == []


# ---- English: place search in pinyin, typed coordinates ---------------------------------------------
def test_english_place_search_in_pinyin_and_typed_amap_coordinates(
    phone: Callable[..., Any], stations: Any, app_url: str
) -> None:
    page = phone("/m/?lang=en")
    page.wait_for_selector("#where-h:not(:empty)")
    assert page.inner_text("#where-h") == "Where am I"
    assert page.inner_text("#lang") == "中文"
    assert page.locator("html").get_attribute("lang") == "en"
    page.fill("#q", "zhengzhou")
    page.press("#q", "Enter")
    page.locator("#places button").first.wait_for()
    assert "郑州" in page.locator("#places button").first.inner_text()
    page.locator("#places button").first.click()
    ids = card_ids(page)
    place = api(app_url, "/api/v1/places?q=zhengzhou&limit=8")["places"][0]
    assert ids in expected_nearest(stations, place["lat"], place["lng"])
    assert "away" not in page.inner_text("#results-msg")
    assert "(estimate)" in page.locator(CARD).first.inner_text()
    # Amap copies GCJ-02 as "lng,lat": the app sends crs=gcj02 and the server converts
    page.locator("#coords-box summary").click()
    page.fill("#coords-text", "121.473701,31.230416")
    page.locator("#coords input[value=gcj02]").check()
    page.locator("#coords button[type=submit]").click()
    w_lat, w_lng = (float(v) for v in datums.gcj02_to_wgs84(31.230416, 121.473701))
    page.wait_for_selector(f"#here:has-text('{w_lat:.5f}, {w_lng:.5f}')")
    assert card_ids(page) in expected_nearest(stations, w_lat, w_lng)
    no_sideways_scroll_and_big_targets(page)
    assert page.problems == []
    screenshot_at(page, "courier-en")


# ---- filters, remembered on the phone -----------------------------------------------------------------
def test_filters_apply_and_are_remembered(
    phone: Callable[..., Any], stations: Any, here: tuple[float, float], app_url: str
) -> None:
    page = phone("/m/", geo=here)
    card_ids(page)
    page.locator("#filters summary").click()
    page.locator("#f-open").uncheck()
    page.locator("#f-amenities input[value=charging]").check()
    page.locator("#f-kinds input[value=union]").check()
    want = api(
        app_url, f"/api/v1/nearest?lat={here[0]:.6f}&lng={here[1]:.6f}&k=5&amenity=charging&kind=union"
    )
    want_ids = [r["station_id"] for r in want["results"]]
    page.wait_for_selector(f"{CARD}[data-station='{want_ids[0]}']")
    assert card_ids(page) == want_ids
    # brute force: union stations with charging, nearest first
    mask = (stations["kind"] == "union").to_numpy() & stations["amenities"].map(
        lambda a: "charging" in list(a)
    ).to_numpy()
    sub = stations[mask]
    d = haversine_m(here[0], here[1], sub["lat"].to_numpy(), sub["lng"].to_numpy())
    assert want_ids == sub["station_id"].to_numpy()[np.argsort(d, kind="stable")[:5]].astype(str).tolist()
    for card in page.locator(CARD).all():
        assert "充电" in card.locator(".amenities").inner_text()
    page.reload()
    page.wait_for_selector(f"{CARD}[data-station='{want_ids[0]}']")
    assert card_ids(page) == want_ids
    assert page.locator("#f-amenities input[value=charging]").is_checked()
    assert page.locator("#f-kinds input[value=union]").is_checked()
    assert not page.locator("#f-open").is_checked()
    assert page.problems == []


# ---- a report, then the station's status on the card ------------------------------------------------------
def test_report_then_status_on_the_card_and_a_second_report_is_limited(
    phone: Callable[..., Any], here: tuple[float, float]
) -> None:
    page = phone("/m/", geo=here)
    sid = card_ids(page)[-1]
    card = page.locator(f"{CARD}[data-station='{sid}']")
    card.locator(".report summary").click()
    card.locator("input[value=no_hot_water]").check()
    card.locator(".note").fill("<b>水是凉的</b>")
    card.locator(".report-form button").click()
    card.locator(".report-msg:has-text('谢谢')").wait_for()
    status = card.locator(".status")
    assert status.is_visible()
    assert "1 条问题报告" in status.inner_text()
    assert "没有热水" in status.inner_text()
    # the same client again within the hour: 429, said plainly
    card.locator("input[value=closed]").check()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/reports")) as resp:
        card.locator(".report-form button").click()
    assert resp.value.status == 429
    card.locator(".report-msg:has-text('一小时')").wait_for()
    page.problems[:] = [p for p in page.problems if not p.startswith("HTTP 429")]
    # a new visit shows the status from the API
    page.reload()
    page.wait_for_selector(f"{CARD}[data-station='{sid}'] .status:not([hidden])")
    assert page.problems == []


# ---- a shared station link ----------------------------------------------------------------------------
def test_shared_station_link_opens_that_station(phone: Callable[..., Any], stations: Any) -> None:
    s = stations.iloc[len(stations) // 2]
    page = phone(f"/m/?station={s['station_id']}&lang=en")
    page.wait_for_selector(f"{CARD}.shared[data-station='{s['station_id']}']")
    assert page.inner_text("#results-h") == "Shared station"
    assert s["name"] in page.locator(CARD).inner_text()
    page.get_by_role("button", name="Show stations nearby").click()
    ids = card_ids(page)
    page.wait_for_selector(f"{CARD}:not(.shared)")
    ids = card_ids(page)
    assert (
        ids[0] == s["station_id"] or s["station_id"] in ids
    )  # the station itself is 0 m away unless closed now
    assert page.problems == []
    gone = phone("/m/?station=NO-SUCH-STATION")
    gone.wait_for_selector("#results-msg:has-text('NO-SUCH-STATION')")
    assert [p for p in gone.problems if "/api/v1/stations/NO-SUCH-STATION" not in p] == []


# ---- offline: after one visit the app opens and answers from the phone's cache ---------------------
def test_offline_after_a_visit_answers_from_the_cache(
    phone: Callable[..., Any], stations: Any, here: tuple[float, float]
) -> None:
    page = phone("/m/", geo=here)
    online = card_ids(page)
    page.wait_for_selector("#saved:not(:empty)", timeout=30_000)
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_timeout(500)  # the worker finishes caching the shell
    page.ctx.set_offline(True)
    page.reload()
    page.wait_for_selector("#offline:not([hidden])")
    assert "离线" in page.inner_text("#offline")
    assert card_ids(page) == online  # same stations, same order, computed on the phone
    assert "离线结果" in page.inner_text("#results-msg")
    # a new position, typed, answered from the cache by great-circle distance
    cached = page.evaluate(
        """async () => { const out = [];
            for (const name of await caches.keys()) if (name.startsWith('courier-stations-')) {
                const c = await caches.open(name);
                for (const req of await c.keys()) out.push(...(await (await c.match(req)).json()).results); }
            return out; }"""
    )
    assert len(cached) >= min(len(stations), 5)
    ids = np.array([c["station_id"] for c in cached])
    _, first = np.unique(ids, return_index=True)
    pack = stations.set_index("station_id").loc[ids[np.sort(first)]].reset_index()
    # typed with 5 decimals, so the page's toFixed(5) shows exactly what was typed
    lat, lng = round(float(pack["lat"].iloc[3]) + 0.001, 5), round(float(pack["lng"].iloc[3]) - 0.001, 5)
    page.locator("#coords-box summary").click()
    page.fill("#coords-text", f"{lat:.5f}, {lng:.5f}")
    page.locator("#coords button[type=submit]").click()
    page.wait_for_selector(f"#here:has-text('{lat:.5f}')")
    assert card_ids(page) in expected_nearest(pack, lat, lng)
    screenshot_at(page, "courier-offline")
    offline_failures = [p for p in page.problems if "ERR_INTERNET_DISCONNECTED" not in p]
    assert offline_failures == []


# ---- imported markup stays text ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def xss_server(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose stations include the import tests' payload names, near Tiananmen."""
    from geo import ingest

    data = tmp_path_factory.mktemp("courier-xss") / "data"
    shutil.copytree(demo_data_dir, data)
    lines = ["编号,名称,地址,运营单位,经度,纬度,开放时间,服务项目"]
    for i, p in enumerate(PAYLOADS):
        q = p.replace('"', '""')
        lines.append(
            f'XSS{i},"{q}","{q}","{q}",{116.3975 + 0.0004 * i},{39.9087 + 0.0003 * i},24小时,"热水、{q}"'
        )
    report = ingest.import_bytes(
        data, "\n".join(lines).encode(), "xss.csv", "stations", user="t", mode="append"
    )
    assert report.accepted == len(PAYLOADS), report.rejections
    port = free_port()
    proc = start_server(data, port, tmp_path_factory.mktemp("courier-xss-server") / "server.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_imported_markup_is_shown_as_text(phone: Callable[..., Any], xss_server: str) -> None:
    page = phone("/m/", geo=(39.9087, 116.3975), base=xss_server)
    page.wait_for_selector(CARD)
    page.locator("#map .leaflet-marker-icon").first.wait_for()
    page.locator(f"{CARD} .report summary").first.click()
    shared = phone("/m/?station=XSS1", base=xss_server)
    shared.wait_for_selector(CARD)
    for p in (page, shared):
        p.wait_for_timeout(1000)  # time for any injected handler to fire
        text = p.inner_text("#cards")
        assert sum(payload in text for payload in PAYLOADS) >= 1, text[:500]
        assert p.evaluate(INJECTED) == []
        assert p.dialogs == []
        assert p.problems == []


# ---- plain HTTP on a network name: no location, no offline, and the app says why -------------------
def test_plain_http_on_a_network_address_still_searches_and_says_why(browser: Any, app_url: str) -> None:
    port = urlparse(app_url).port
    from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path

    # A name that is not localhost makes http:// an insecure context, as a phone on the LAN sees it.
    lan = browser.browser_type.launch(
        executable_path=chromium_path(),
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP courier.lan 127.0.0.1"],
    )
    try:
        ctx = lan.new_context(viewport=PHONE, locale="zh-CN", permissions=["geolocation"])
        page = ctx.new_page()
        bad: list[str] = []
        page.on("response", lambda r: r.status >= 400 and bad.append(f"HTTP {r.status}: {r.url}"))
        page.on("requestfailed", lambda r: bad.append(f"failed: {r.url}"))
        page.goto(f"http://courier.lan:{port}/m/")
        page.wait_for_selector("#insecure:not([hidden])")
        assert page.evaluate("() => window.isSecureContext") is False
        assert "HTTPS" in page.inner_text("#insecure")
        assert page.locator("#locate").is_hidden()
        page.fill("#q", "武汉")
        page.press("#q", "Enter")
        page.locator("#places button").first.click()
        page.wait_for_selector(CARD)
        assert page.evaluate(
            "() => navigator.serviceWorker === undefined || !navigator.serviceWorker.controller"
        )
        assert bad == []
    finally:
        lan.close()


# ---- the desktop page links to the phone app --------------------------------------------------------------
def test_nearest_page_links_to_the_phone_app_with_a_qr_code(
    open_page: Callable[..., Any], app_url: str
) -> None:
    page = open_page("/nearest")
    link = page.get_by_role("link", name="手机版")
    assert link.get_attribute("href") == app_url + "/m/"
    page.get_by_text("驿站海报二维码").click()
    img = page.locator("[data-testid='stExpander'] img").first
    img.wait_for()
    assert img.evaluate("(i) => i.naturalWidth") >= 200
    assert [
        p
        for p in page.problems
        if not p.endswith(("/nearest/_stcore/health", "/nearest/_stcore/host-config"))
    ] == []
