"""One process serves the Streamlit app and the JSON API (``make run``).

Run: ``GEO_DATA_DIR=data uvicorn asgi:app --port 8501`` — the app at ``/``, the API at
``/api/v1/...`` (see ``geo/api.py``; :func:`geo.api.with_api` explains why API requests
skip the app's middlewares).
"""

import logging

import streamlit as st

from geo import api, auth, hosts
from geo.settings import load_settings

settings = auth.startup(st.secrets)  # prints the sign-in mode; a half-written [auth] stops the server here
# Host check in front of everything (DNS rebinding): 400 unless Host is allowed (GEO_ALLOWED_HOSTS).
app = hosts.HostCheck(api.with_api(st.App("app.py")), hosts.allowed_hosts(settings.allowed_hosts))

# Streamlit attaches a handler to uvicorn's access logger, which turns per-request logging
# back on even under `uvicorn --no-access-log`; GEO_ACCESS_LOG=1 keeps it.
logging.getLogger("uvicorn.access").disabled = not load_settings().access_log
