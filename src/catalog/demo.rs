//! The demo catalogue shipped in `data/demo-catalog.json`, used by demo mode and tests.
