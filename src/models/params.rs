//! Parameters by name: flattened views for reading, and in-place mapping.

use super::Net;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor};
use std::collections::BTreeMap;

/// Tracks the dotted path of the parameter being visited; enum variants (the `Net` wrapper)
/// are not part of names.
#[derive(Default)]
pub(crate) struct PathStack(Vec<String>);

impl PathStack {
    pub(crate) fn enter(&mut self, name: &str, container: &str) {
        if !container.starts_with("Enum") {
            self.0.push(name.to_owned());
        }
    }
    pub(crate) fn exit(&mut self, container: &str) {
        if !container.starts_with("Enum") {
            self.0.pop();
        }
    }
    pub(crate) fn name(&self, leaf: &str) -> String {
        // Mappers see the field name as the last module entered; visitors get it as a path.
        if leaf.is_empty() {
            self.0.join(".")
        } else {
            format!("{}.{leaf}", self.0.join("."))
        }
    }
}

/// Name and shape of every float parameter, in model order.
pub fn shapes(model: &Net) -> Vec<(String, Vec<usize>)> {
    struct Shapes {
        path: PathStack,
        out: Vec<(String, Vec<usize>)>,
    }
    impl ModuleVisitor for Shapes {
        fn enter_module(&mut self, name: &str, container: &str) {
            self.path.enter(name, container);
        }
        fn exit_module(&mut self, _name: &str, container: &str) {
            self.path.exit(container);
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.out
                .push((self.path.name(""), param.val().dims().to_vec()));
        }
    }
    let mut visitor = Shapes {
        path: PathStack::default(),
        out: Vec::new(),
    };
    model.visit(&mut visitor);
    visitor.out
}

/// The gradient of every parameter that has one in `grads`, flattened, by name.
pub fn gradients(model: &Net, grads: &Gradients) -> BTreeMap<String, Tensor<1>> {
    collect(model, None, Read::Gradient(grads))
}

/// The named parameters, flattened to 1-D (values, no autodiff graph).
pub fn flat(model: &Net, names: &[String]) -> BTreeMap<String, Tensor<1>> {
    collect(model, Some(names), Read::Value)
}

/// The named parameters, flattened to 1-D, still attached to the autodiff graph (for loss
/// terms).
pub fn tracked(model: &Net, names: &[String]) -> BTreeMap<String, Tensor<1>> {
    collect(model, Some(names), Read::Tracked)
}

/// What [`collect`] reads of each parameter.
#[derive(Clone, Copy)]
enum Read<'a> {
    /// The value, detached.
    Value,
    /// The value with its autodiff graph.
    Tracked,
    /// Its gradient, if it has one.
    Gradient(&'a Gradients),
}

/// Flattened parameters (all, or those in `names`) as `read` says, by name.
fn collect(model: &Net, names: Option<&[String]>, read: Read) -> BTreeMap<String, Tensor<1>> {
    struct Collect<'a> {
        path: PathStack,
        names: Option<&'a [String]>,
        read: Read<'a>,
        out: BTreeMap<String, Tensor<1>>,
    }
    impl ModuleVisitor for Collect<'_> {
        fn enter_module(&mut self, name: &str, container: &str) {
            self.path.enter(name, container);
        }
        fn exit_module(&mut self, _name: &str, container: &str) {
            self.path.exit(container);
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let name = self.path.name("");
            if self.names.is_some_and(|names| !names.contains(&name)) {
                return;
            }
            let value = match self.read {
                Read::Value => Some(param.val().inner()),
                Read::Tracked => Some(param.val()),
                Read::Gradient(grads) => param.val().grad(grads),
            };
            if let Some(value) = value {
                let n = value.dims().iter().product::<usize>();
                self.out.insert(name, value.reshape([n]));
            }
        }
    }
    let mut visitor = Collect {
        path: PathStack::default(),
        names,
        read,
        out: BTreeMap::new(),
    };
    model.visit(&mut visitor);
    visitor.out
}

/// Rewrites parameters: `f(name, flat value)` returns the new flat value or `None` to keep it.
/// The parameter keeps its id and its require-grad state.
pub fn map_flat(model: Net, mut f: impl FnMut(&str, Tensor<1>) -> Option<Tensor<1>>) -> Net {
    struct Mapper<'a> {
        path: PathStack,
        f: &'a mut dyn FnMut(&str, Tensor<1>) -> Option<Tensor<1>>,
    }
    impl ModuleMapper for Mapper<'_> {
        fn enter_module(&mut self, name: &str, container: &str) {
            self.path.enter(name, container);
        }
        fn exit_module(&mut self, _name: &str, container: &str) {
            self.path.exit(container);
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let name = self.path.name("");
            let (id, tensor, mapper) = param.consume();
            let dims = tensor.dims();
            let require_grad = tensor.is_require_grad();
            let autodiff = tensor.is_autodiff();
            let n = tensor.dims().iter().product::<usize>();
            let value = tensor.clone().inner().reshape([n]);
            let tensor = match (self.f)(&name, value) {
                Some(new) => restore(new.inner().reshape(dims), autodiff, require_grad),
                None => tensor,
            };
            Param::from_mapped_value(id, tensor, mapper)
        }
    }
    let mut mapper = Mapper {
        path: PathStack::default(),
        f: &mut f,
    };
    model.map(&mut mapper)
}

/// Puts a plain tensor back into a parameter's autodiff context.
pub(crate) fn restore<const D: usize>(
    value: Tensor<D>,
    autodiff: bool,
    require_grad: bool,
) -> Tensor<D> {
    match (autodiff, require_grad) {
        (true, true) => value.autodiff().require_grad(),
        (true, false) => value.autodiff(),
        _ => value,
    }
}
