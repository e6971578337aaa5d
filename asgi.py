"""One process serves the Streamlit app and the JSON API (``make run``).

Run: ``GEO_DATA_DIR=data uvicorn asgi:app --port 8501`` — the app at ``/``, the API at
``/api/v1/...`` (see ``geo/api.py``).
"""

import streamlit as st

from geo import api

app = st.App("app.py", routes=api.routes())
