//! Integration tests for the ui area.
