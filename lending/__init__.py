"""The loan domain: answer validators, products, the application workflow, repayment schedules.

Pure and deterministic: no Telegram, no aiohttp, no SQL, no I/O. User-visible text is marked
with `N_` (English message ids) and translated by whichever adapter renders it.
"""
