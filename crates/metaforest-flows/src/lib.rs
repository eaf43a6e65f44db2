//! metaforest-flows
