//! Lane detection (Table 4: Ultra-Fast-Lane-Detection on TuSimple): the benchmark's metric,
//! UFLD's losses and its decoding of the head into TuSimple lanes.

pub mod decode;
pub mod eval;
pub mod loss;
pub mod task;
