//! Integration tests for the idcard area.
