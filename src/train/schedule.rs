//! Learning-rate schedules.

use crate::spec::{ScheduleKind, ScheduleSpec};

/// `eta_min` of the authors' CosineAnnealingLR (SLR-ADMM-cifar10 slr_pruning/main.py 311).
pub const REFERENCE_ETA_MIN: f64 = 4e-8;

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
        // CosineAnnealingLR(T_max = epochs x batches, eta_min) stepped once before each epoch:
        // 0-based `epoch` runs after epoch + 1 scheduler steps, at a rate that barely moves.
        ScheduleKind::ReferenceCosine => {
            let period = schedule
                .period_epochs
                .map_or(total, |epochs| (epochs * steps_per_epoch).max(1) as f64);
            let t = (epoch + 1) as f64;
            REFERENCE_ETA_MIN + 0.5 * (base - REFERENCE_ETA_MIN) * (1.0 + (PI * t / period).cos())
        }
    }
}
