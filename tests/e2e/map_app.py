"""Smallest Streamlit page showing a geo.maps map through st_folium (for test_maps_offline).

Real province boundaries as choropleth + outlines, 2,000 clustered points and a few H3
cells, with hostile names, exactly as pages build maps: geo.maps → localize → st_folium.
"""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo import maps, regions

XSS = "<img src=x onerror=alert(1)>"

st.set_page_config(page_title="map e2e", layout="wide")

provinces = regions.simplified("province", 0.02).copy()
provinces["stations"] = np.arange(len(provinces), dtype=float) * 10
provinces.loc[provinces.index[0], "name"] = XSS

rng = np.random.default_rng(3)
n = 2_000
points = pd.DataFrame(
    {
        "lat": rng.uniform(23.0, 41.0, n),
        "lng": rng.uniform(103.0, 120.0, n),
        "name": [XSS if i % 100 == 0 else f"驿站 {i}" for i in range(n)],
    }
)
cells = sorted(h3.grid_disk(h3.latlng_to_cell(39.9, 116.4, 5), 2))
hexes = pd.DataFrame({"h3": cells, "people": np.arange(len(cells), dtype=float)})

m = maps.base_map(34.0, 108.0, 4)
maps.add_choropleth(m, provinces, "stations", legend_title="驿站数")
maps.add_boundaries(m, provinces, name_col="name")
maps.add_hexes(m, hexes, "people")
maps.add_points(m, points, tooltip_col="name", popup_cols={"name": "名称"})
maps.localize_assets(m)

st.title("驿站图 map e2e")
st.caption(f"payload {maps.payload_bytes(m):,} bytes")
st_folium(m, returned_objects=[], height=560, use_container_width=True)
