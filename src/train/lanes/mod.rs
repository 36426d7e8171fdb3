//! Lane detection (Table 4: Ultra-Fast-Lane-Detection on TuSimple): the benchmark's metric.

pub mod eval;
