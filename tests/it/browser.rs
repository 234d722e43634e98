//! The MX Client Dashboard in a real headless browser (Debian's chromium + chromedriver).
