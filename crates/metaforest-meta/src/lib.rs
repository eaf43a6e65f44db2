//! metaforest-meta
