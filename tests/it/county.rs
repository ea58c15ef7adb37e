//! Integration tests for the county area.
