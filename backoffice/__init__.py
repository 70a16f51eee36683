"""The officers' back-office: an aiohttp app with server-rendered pages (design §1, §4).

Handlers stay thin: translate the request, call one service (accounts, sessions, queue,
lending), render a template. Every route declares who may use it (backoffice.routes).
"""
