"""What browser tests share: the devices and locales pages are looked at in, Chromium's flags."""

from __future__ import annotations

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DEVICES = {"phone": {"width": 360, "height": 780}, "desktop": {"width": 1280, "height": 860}}
LOCALES = {"vi": "vi-VN", "zh": "zh-CN", "en": "en-GB"}
