"""Thin Streamlit pages: read widgets, call :mod:`geo`, draw."""
