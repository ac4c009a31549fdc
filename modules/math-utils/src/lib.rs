//! math-utils (placeholder)
