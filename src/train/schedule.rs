//! Learning-rate schedules.

use crate::spec::{ScheduleKind, ScheduleSpec};

/// Learning rate at `epoch` (0-based) and `step` (0-based within the epoch) of a budget of
/// `total_steps` steps.
pub fn lr_at(
    base: f64,
    schedule: &ScheduleSpec,
    epoch: usize,
    step: usize,
    steps_per_epoch: usize,
    total_steps: usize,
) -> f64 {
    use std::f64::consts::PI;
    let total = total_steps.max(1) as f64;
    match schedule.kind {
        ScheduleKind::Constant => base,
        ScheduleKind::Step => base * schedule.gamma.powi((epoch / schedule.step_size) as i32),
        ScheduleKind::Cosine => {
            let t = (epoch * steps_per_epoch + step) as f64;
            0.5 * base * (1.0 + (PI * t / total).cos())
        }
        // CosineAnnealingLR(T_max = epochs x batches) stepped once per epoch: after `epoch`
        // scheduler steps the rate is the cosine at t = epoch, which barely moves.
        ScheduleKind::ReferenceCosine => 0.5 * base * (1.0 + (PI * epoch as f64 / total).cos()),
    }
}
