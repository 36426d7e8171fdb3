//! `just bench`: the projection of ResNet-18's pruned layers, and one SGD step of LeNet-5
//! (batch 64) and of the authors' CIFAR ResNet-18 (batch 32) on each CPU backend compiled in
//! (`cpu` always, `tch-cpu` with `--features tch`). Compare with PyTorch on the same machine with
//! `just bench-torch-cpu`.

use criterion::{Criterion, criterion_group, criterion_main};
use slr_repro::base::backend::Backend;
use slr_repro::models::Net;
use slr_repro::models::params;
use slr_repro::perf::random_batch;
use slr_repro::prune::{Dense, layers};
use slr_repro::spec::{CountRule, ModelKind, SgdSpec, SparsitySpec, layer_ratios};
use slr_repro::train::optim::Sgd;
use slr_repro::train::{Classification, train_step};

fn backends() -> Vec<(&'static str, Backend)> {
    let mut list = vec![("cpu", Backend::Cpu)];
    if cfg!(feature = "tch") {
        list.push(("tch-cpu", Backend::TchCpu));
    }
    list
}

fn projection(c: &mut Criterion) {
    let mut group = c.benchmark_group("projection");
    group.sample_size(10);
    for (name, backend) in backends() {
        let device = backend.device();
        let ratios = layer_ratios(
            ModelKind::Resnet18Cifar,
            &SparsitySpec {
                uniform: Some(0.8),
                ..Default::default()
            },
        );
        let names: Vec<String> = ratios.keys().cloned().collect();
        let net = Net::seeded(ModelKind::Resnet18Cifar, &device, 1);
        let weights = params::flat(&net, &names);
        group.bench_function(format!("resnet18-cifar 16 layers 0.8 / {name}"), |b| {
            b.iter(|| {
                let masks = layers::masks(&weights, &ratios, CountRule::Exact);
                // Waits for the last mask, so asynchronous backends are timed in full.
                let _ = masks
                    .values()
                    .last()
                    .map(|m| m.clone().sum().into_scalar::<f32>());
            })
        });
    }
    group.finish();
}

fn steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("train step");
    group.sample_size(10);
    for (model, batch) in [(ModelKind::Lenet5, 64), (ModelKind::Resnet18Cifar, 32)] {
        for (name, backend) in backends() {
            let device = backend.device().autodiff();
            let data = random_batch(model, batch, 1, &device);
            let task = Classification::new(&device);
            let mut sgd = Sgd::new(SgdSpec {
                lr: 0.01,
                momentum: 0.5,
                nesterov: true,
                weight_decay: 5e-4,
                ..SgdSpec::default()
            });
            let mut net = Some(Net::seeded(model, &device, 1));
            group.bench_function(format!("{} batch {batch} / {name}", model.name()), |b| {
                b.iter(|| {
                    let (next, _, loss) = train_step(
                        net.take().expect("model"),
                        data.clone().into(),
                        &task,
                        &Dense,
                        &mut sgd,
                        0.01,
                    );
                    net = Some(next);
                    loss.into_scalar::<f32>()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, projection, steps);
criterion_main!(benches);
