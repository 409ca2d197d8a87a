"""The demo page (``/``) and the live ops page (``/ops``) of the local stack.

Both are off on a production gateway (``JOURNEYS_GATEWAY_DEMO_PAGES``); the pages are static
HTML/CSS/JS in ``static/``, the ops page's figures come from :mod:`api.demo.ops_summary`.
"""
