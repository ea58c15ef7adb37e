//! Integration tests for the printer area.
