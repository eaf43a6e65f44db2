//! metaforest-forest
