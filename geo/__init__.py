"""驿站图 Station Atlas: worker rest stations, coverage and the 送温暖 campaign, on H3.

The library is pure (no Streamlit): data model (:mod:`geo.schema`), storage
(:mod:`geo.store`), demo data (:mod:`geo.synth`), regions, H3, nearest stations,
coverage, siting, campaign aggregation, import, maps, API and CLI.
"""

__version__ = "0.1.0"
