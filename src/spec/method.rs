//! A row's pruning method as one typed value: its name and, for the methods that have them,
//! its settings. In a spec it is written `method = "admm"` with an `admm = { ... }` table; a
//! row accepts only its own method's table. What a method *does* is chosen in
//! `prune::registry`; this module only declares and validates what a spec may say.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

/// The `method` key's values.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MethodName {
    /// No pruning: the dense pretrained model.
    #[default]
    Dense,
    /// One-shot magnitude pruning of the pretrained weights, then masked retraining.
    Magnitude,
    /// ADMM-regularised training, hard pruning, masked retraining (method.md section 3).
    Admm,
    /// Surrogate Lagrangian relaxation training, hard pruning, masked retraining (section 4).
    Slr,
}

impl MethodName {
    /// Every method, in spec order.
    pub const ALL: [MethodName; 4] = [
        MethodName::Dense,
        MethodName::Magnitude,
        MethodName::Admm,
        MethodName::Slr,
    ];

    /// The name used in specs and reports.
    pub fn name(self) -> &'static str {
        match self {
            MethodName::Dense => "dense",
            MethodName::Magnitude => "magnitude",
            MethodName::Admm => "admm",
            MethodName::Slr => "slr",
        }
    }

    /// Whether the method has a settings table (keyed by its name).
    pub fn has_settings(self) -> bool {
        matches!(self, MethodName::Admm | MethodName::Slr)
    }
}

/// A pruning method with its settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum MethodSpec {
    /// No pruning.
    #[default]
    Dense,
    /// One-shot magnitude pruning.
    Magnitude,
    /// ADMM.
    Admm(AdmmSpec),
    /// SLR.
    Slr(SlrSpec),
}

impl MethodSpec {
    /// Builds the method `name` from its settings table (`admm` / `slr`; the others' are
    /// ignored: the loader refuses them first).
    pub fn from_parts(name: MethodName, admm: Option<AdmmSpec>, slr: Option<SlrSpec>) -> Self {
        match name {
            MethodName::Dense => MethodSpec::Dense,
            MethodName::Magnitude => MethodSpec::Magnitude,
            MethodName::Admm => MethodSpec::Admm(admm.unwrap_or_default()),
            MethodName::Slr => MethodSpec::Slr(slr.unwrap_or_default()),
        }
    }

    /// Every method at its default settings, in spec order.
    pub fn defaults() -> Vec<MethodSpec> {
        MethodName::ALL
            .into_iter()
            .map(|name| MethodSpec::from_parts(name, None, None))
            .collect()
    }

    /// Its name.
    pub fn name(&self) -> MethodName {
        match self {
            MethodSpec::Dense => MethodName::Dense,
            MethodSpec::Magnitude => MethodName::Magnitude,
            MethodSpec::Admm(_) => MethodName::Admm,
            MethodSpec::Slr(_) => MethodName::Slr,
        }
    }

    /// Whether it prunes (needs `sparsity`, gets prune and retrain stages).
    pub fn prunes(&self) -> bool {
        !matches!(self, MethodSpec::Dense)
    }

    /// Whether it trains the dense model towards sparsity before pruning (a `train` stage).
    pub fn trains(&self) -> bool {
        matches!(self, MethodSpec::Admm(_) | MethodSpec::Slr(_))
    }

    /// The settings as JSON and their built-in defaults (for canonical stage ids), if any.
    pub fn settings_json(&self) -> Option<(serde_json::Value, serde_json::Value)> {
        fn json<T: Serialize>(value: &T) -> serde_json::Value {
            serde_json::to_value(value).expect("method settings serialise")
        }
        match self {
            MethodSpec::Admm(a) => Some((json(a), json(&AdmmSpec::default()))),
            MethodSpec::Slr(s) => Some((json(s), json(&SlrSpec::default()))),
            MethodSpec::Dense | MethodSpec::Magnitude => None,
        }
    }

    /// "slr (reference, through)": the method with the settings that change its behaviour.
    pub fn label(&self) -> String {
        match self {
            MethodSpec::Admm(a) => format!("admm (ρ {}, {})", a.rho, a.multiplier_grad.name()),
            MethodSpec::Slr(s) => {
                format!("slr ({}, {})", s.variant.name(), s.multiplier_grad().name())
            }
            other => other.name().name().to_owned(),
        }
    }

    /// Checks what serde cannot; the error is `(key, message)` with the key relative to the
    /// row.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let positive = |value: f64| value.is_finite() && value > 0.0;
        let fail = |key: &str, message: String| Err((key.to_owned(), message));
        match self {
            MethodSpec::Admm(a) => {
                if !positive(a.rho) {
                    return fail("admm.rho", format!("{} must be positive", a.rho));
                }
                check_intervals("admm", a.interval, a.interval_steps)?;
                if !positive(a.rho_growth) || !positive(a.rho_max) {
                    return fail("admm.rho_growth", "growth and cap must be positive".into());
                }
            }
            MethodSpec::Slr(s) => {
                for (key, value) in [("slr.rho", s.rho), ("slr.m", s.m), ("slr.s0", s.s0)] {
                    if !positive(value) {
                        return fail(key, format!("{value} must be positive"));
                    }
                }
                if !(s.r.is_finite() && s.r > 0.0 && s.r < 1.0) {
                    return fail("slr.r", format!("{} is outside (0, 1)", s.r));
                }
                check_intervals("slr", s.interval, s.interval_steps)?;
            }
            MethodSpec::Dense | MethodSpec::Magnitude => {}
        }
        Ok(())
    }
}

/// `interval` at least 1; `interval_steps`, if set, at least 1 and not beside a non-default
/// `interval` (one update clock per method).
fn check_intervals(
    method: &str,
    interval: usize,
    interval_steps: Option<usize>,
) -> Result<(), (String, String)> {
    let fail = |key: &str, message: &str| Err((format!("{method}.{key}"), message.to_owned()));
    match interval_steps {
        _ if interval == 0 => fail("interval", "must be at least 1"),
        Some(0) => fail("interval_steps", "must be at least 1"),
        Some(_) if interval != 1 => fail(
            "interval_steps",
            "set either `interval` (epochs) or `interval_steps`, not both",
        ),
        _ => Ok(()),
    }
}

/// Serialised as the spec writes it: `method = "<name>"` plus the settings table.
impl Serialize for MethodSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("method", &self.name())?;
        match self {
            MethodSpec::Admm(a) => map.serialize_entry("admm", a)?,
            MethodSpec::Slr(s) => map.serialize_entry("slr", s)?,
            MethodSpec::Dense | MethodSpec::Magnitude => {}
        }
        map.end()
    }
}

/// How the penalty gradient treats the multipliers (method.md sections 3 and 4).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum MultiplierGrad {
    /// The authors' code: U keeps an autograd link to W, so the penalty gradient is scaled by
    /// 1 + n (ADMM, n updates) or 1 + Σ s_j / ρ (SLR).
    Through,
    /// Textbook: multipliers are constants.
    Detached,
}

impl MultiplierGrad {
    /// The name used in specs and reports.
    pub fn name(self) -> &'static str {
        match self {
            MultiplierGrad::Through => "through",
            MultiplierGrad::Detached => "detached",
        }
    }
}

/// ADMM settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AdmmSpec {
    /// Penalty weight ρ.
    pub rho: f64,
    /// Epochs between Z/U updates (updates at epochs 1 + interval, 1 + 2 interval, ...).
    pub interval: usize,
    /// Steps between Z/U updates instead of epochs: an update before steps interval_steps,
    /// 2 interval_steps, ... (0-based global step), i.e. after every round of that many steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_steps: Option<usize>,
    /// ρ is multiplied by this after every update (1: constant).
    pub rho_growth: f64,
    /// Cap of ρ under growth.
    pub rho_max: f64,
    /// Gradient through the multipliers.
    pub multiplier_grad: MultiplierGrad,
}

impl Default for AdmmSpec {
    fn default() -> Self {
        AdmmSpec {
            rho: 0.1,
            interval: 1,
            interval_steps: None,
            rho_growth: 1.0,
            rho_max: 1.0,
            multiplier_grad: MultiplierGrad::Through,
        }
    }
}

/// Which SLR behaviour (method.md 4.1 and 4.2).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SlrVariant {
    /// What the authors' code effectively computes.
    #[default]
    Reference,
    /// The paper's equations.
    Paper,
}

impl SlrVariant {
    /// The name used in specs and reports.
    pub fn name(self) -> &'static str {
        match self {
            SlrVariant::Reference => "reference",
            SlrVariant::Paper => "paper",
        }
    }
}

/// SLR settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SlrSpec {
    /// Penalty weight ρ.
    pub rho: f64,
    /// M of the step-size factor α(k) = 1 − 1/(M k^(1 − 1/k^r)).
    pub m: f64,
    /// r of the step-size factor.
    pub r: f64,
    /// Initial step size s₀.
    pub s0: f64,
    /// Reference (authors' code) or paper (equations).
    pub variant: SlrVariant,
    /// Epochs between multiplier updates.
    pub interval: usize,
    /// Steps between multiplier updates instead of epochs (as for ADMM); the loss conditions
    /// then compare the mean task loss of the last round of steps with the round before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_steps: Option<usize>,
    /// Gradient through the multipliers (default: `through` for `reference`, `detached` for
    /// `paper`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multiplier_grad: Option<MultiplierGrad>,
}

impl Default for SlrSpec {
    fn default() -> Self {
        SlrSpec {
            rho: 0.1,
            m: 300.0,
            r: 0.1,
            s0: 0.01,
            variant: SlrVariant::Reference,
            interval: 1,
            interval_steps: None,
            multiplier_grad: None,
        }
    }
}

impl SlrSpec {
    /// The multiplier-gradient setting in force.
    pub fn multiplier_grad(&self) -> MultiplierGrad {
        self.multiplier_grad.unwrap_or(match self.variant {
            SlrVariant::Reference => MultiplierGrad::Through,
            SlrVariant::Paper => MultiplierGrad::Detached,
        })
    }
}
