//! Integration tests for the catalog area.
