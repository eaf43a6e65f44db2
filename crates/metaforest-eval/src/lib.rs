//! metaforest-eval
