//! The link to the county back office: wire types, HTTP client and the store-and-forward outbox.
