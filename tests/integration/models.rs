//! The paper's models: parameter counts (as PyTorch counts them), names, forward shapes and
//! default prunable layers.

use burn::tensor::{Device, Distribution, Tensor};
use slr_repro::models::Net;
use slr_repro::models::params;
use slr_repro::spec::ModelKind;

const PAPER_MODELS: [(ModelKind, usize); 10] = [
    (ModelKind::Resnet18Cifar, 11_173_962),
    (ModelKind::Resnet18CifarNoPool, 11_173_962),
    (ModelKind::Resnet50Cifar, 23_520_842),
    (ModelKind::Vgg16Cifar, 14_728_266),
    (ModelKind::Resnet18Imagenet, 11_689_512),
    (ModelKind::Resnet50Imagenet, 25_557_032),
    // ResNet-18 without fc 11,176,512 + pool 4,104 + cls 3,688,448 + 46,356,576 + the
    // auxiliary branch 3,395,717 (heads 590,848 + 590,592 + 737,792, combine 1,476,485).
    (ModelKind::Ufld, 64_621_357),
    // The smoke variant (64x160 input, 25 cells): the same backbone, pool and auxiliary
    // branch; cls 80 x 2048 + 2048 = 165,888 and 2048 x 5,824 + 5,824 = 11,933,376.
    (ModelKind::UfldSmall, 26_675_597),
    // Darknet's cfgs with 80 classes, counted by scripts/yolo_reference.py's PyTorch model.
    (ModelKind::Yolov3, 61_949_149),
    (ModelKind::Yolov3Tiny, 8_852_366),
];

#[test]
fn parameter_counts_and_names() {
    let device = Device::flex();
    for (kind, count) in PAPER_MODELS {
        let net = Net::init(kind, &device);
        let shapes = params::shapes(&net);
        // PyTorch's count: parameters, not the BatchNorm running statistics (buffers).
        let pytorch_count: usize = shapes
            .iter()
            .filter(|(name, _)| !name.contains(".running_"))
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum();
        assert_eq!(pytorch_count, count, "{}", kind.name());
        let names: Vec<String> = shapes.into_iter().map(|(n, _)| n).collect();
        // Every prunable candidate is a real weight of the model.
        for candidate in kind.prunable_candidates() {
            assert!(
                names.contains(&candidate),
                "{}: {candidate} in {names:?}",
                kind.name()
            );
        }
    }
    let names: Vec<String> = params::shapes(&Net::init(ModelKind::Resnet18Cifar, &device))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for name in [
        "conv1.weight",
        "bn1.gamma",
        "bn1.beta",
        "layer1.0.conv1.weight",
        "layer1.1.bn2.gamma",
        "layer2.0.downsample.conv.weight",
        "layer2.0.downsample.bn.beta",
        "layer4.1.conv2.weight",
        "fc.weight",
        "fc.bias",
    ] {
        assert!(names.contains(&name.to_owned()), "{name} in {names:?}");
    }
}

#[test]
fn default_prunable_layers_follow_method_md() {
    // ResNet-18: the 16 3x3 convs inside the residual blocks.
    let resnet18 = ModelKind::Resnet18Cifar.default_prunable();
    assert_eq!(resnet18.len(), 16);
    assert!(
        resnet18
            .iter()
            .all(|n| n.starts_with("layer") && !n.contains("downsample"))
    );
    // ResNet-50: the 3 convs of each of the 16 bottlenecks.
    assert_eq!(ModelKind::Resnet50Cifar.default_prunable().len(), 48);
    // VGG-16: every conv except the first.
    let vgg = ModelKind::Vgg16Cifar.default_prunable();
    assert_eq!(vgg.len(), 12);
    assert_eq!(vgg[0], "features.1.conv.weight");
}

#[test]
fn forward_shapes() {
    let device = Device::flex();
    // The lane and detection models' outputs are checked by their own tests.
    for (kind, _) in PAPER_MODELS
        .into_iter()
        .filter(|(k, _)| k.entry().task == slr_repro::catalog::TaskKind::Classification)
    {
        let [c, h, w] = kind.input_shape();
        let net = Net::seeded(kind, &device, 1);
        let x = Tensor::<4>::random([2, c, h, w], Distribution::Default, &device);
        let classes = if h == 224 { 1000 } else { 10 };
        assert_eq!(net.forward(x).dims(), [2, classes], "{}", kind.name());
    }
}

#[test]
fn resnet_convs_are_kaiming_normal() {
    let net = Net::seeded(ModelKind::Resnet18Cifar, &Device::flex(), 7);
    let flat = params::flat(
        &net,
        &["layer4.0.conv2.weight".to_owned(), "bn1.gamma".to_owned()],
    );
    let values = flat["layer4.0.conv2.weight"]
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let std = (values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    // 512 x 512 x 3 x 3 weights, std sqrt(2 / (512 * 9)) = 0.020833.
    assert!(mean.abs() < 1e-4, "{mean}");
    assert!((std - (2.0f64 / 4608.0).sqrt()).abs() < 2e-4, "{std}");
    // BatchNorm starts at gamma = 1.
    let gamma = flat["bn1.gamma"]
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert!(gamma.iter().all(|&g| g == 1.0));
}

#[test]
fn forward_flops_match_hand_counts_and_published_macs() {
    let forward_flops = ModelKind::forward_flops;
    // LeNet-5: conv1 2*1*20*25*24*24 + conv2 2*20*50*25*8*8 + fc 2*(800*500 + 500*10).
    assert_eq!(forward_flops(ModelKind::Lenet5), 4_586_000.0);
    // torchvision's ResNet-18 and ResNet-50: 1.814 and 4.089 GMACs (convolutions and fc).
    let r18 = forward_flops(ModelKind::Resnet18Imagenet) / 2e9;
    let r50 = forward_flops(ModelKind::Resnet50Imagenet) / 2e9;
    assert!((r18 - 1.814).abs() < 0.01, "{r18}");
    assert!((r50 - 4.089).abs() < 0.02, "{r50}");
    // The CIFAR stem pool quarters every block's cost: the pool-free ResNet-18 costs more.
    assert!(
        forward_flops(ModelKind::Resnet18CifarNoPool)
            > 3.0 * forward_flops(ModelKind::Resnet18Cifar)
    );
}

#[test]
fn yolo_flops_match_darknet_and_scale_with_the_data_sets_input() {
    use slr_repro::catalog::DatasetKind;
    // Darknet's own counts at 416x416: 65.86 (YOLOv3) and 5.56 (YOLOv3-tiny) BFLOPs.
    let v3 = ModelKind::Yolov3.forward_flops() / 1e9;
    let tiny = ModelKind::Yolov3Tiny.forward_flops() / 1e9;
    assert!((v3 - 65.86).abs() < 0.7, "{v3}");
    assert!((tiny - 5.56).abs() < 0.06, "{tiny}");
    // Every map of a 128x128 input is 128/416 of a 416x416 one's side.
    let coco = ModelKind::Yolov3Tiny.forward_flops_on(DatasetKind::Coco2014);
    let smoke = ModelKind::Yolov3Tiny.forward_flops_on(DatasetKind::SyntheticCoco);
    assert_eq!(coco, ModelKind::Yolov3Tiny.forward_flops());
    assert!(
        (smoke / coco - (128.0f64 / 416.0).powi(2)).abs() < 1e-12,
        "{smoke} {coco}"
    );
    // Classification models have one input.
    assert_eq!(
        ModelKind::Lenet5.forward_flops_on(DatasetKind::Mnist),
        ModelKind::Lenet5.forward_flops()
    );
}

#[test]
fn stage_flops_of_the_lenet_paper_profile() {
    use slr_repro::perf::estimate::stage_flops;
    use slr_repro::spec::{self, StageKind};
    let loaded = super::common::load_spec(
        &super::common::root().join("experiments/lenet5-mnist.toml"),
        Some("paper"),
    );
    let plan = spec::resolve(loaded, None);
    let run = plan
        .runs
        .iter()
        .find(|r| r.row_name == "slr-paper")
        .unwrap();
    let train = run
        .stages
        .iter()
        .find(|s| s.kind == StageKind::Train)
        .unwrap();
    // 10 epochs x (3 passes x 20,000 training images + 2 evaluations x 10,000 test images).
    assert_eq!(
        stage_flops(run, train),
        4_586_000.0 * (10.0 * (3.0 * 20_000.0 + 2.0 * 10_000.0))
    );
}

#[test]
fn lenet5_relu_has_lenet5s_parameters_and_its_own_forward() {
    let device = Device::flex();
    let caffe = Net::seeded(ModelKind::Lenet5, &device, 7);
    let relu = Net::seeded(ModelKind::Lenet5Relu, &device, 7);
    assert_eq!(params::shapes(&caffe), params::shapes(&relu));
    // The same weights in both (their initialisations differ: PyTorch's and TensorFlow's).
    let names: Vec<String> = params::shapes(&caffe).into_iter().map(|(n, _)| n).collect();
    let weights = params::flat(&caffe, &names);
    let relu = params::map_flat(relu, |name, _| weights.get(name).cloned());
    let x = burn::tensor::Tensor::<4>::ones([2, 1, 28, 28], &device).mul_scalar(-0.5);
    let (a, b) = (caffe.forward(x.clone()), relu.forward(x));
    assert_eq!(b.dims(), [2, 10]);
    let gap: f32 = (a - b).abs().max().into_scalar();
    assert!(gap > 0.0, "the convolution ReLUs change the logits");
    assert_eq!(
        ModelKind::Lenet5Relu.forward_flops(),
        ModelKind::Lenet5.forward_flops()
    );
}

#[test]
fn ufld_has_torchvision_backbone_names_and_the_tusimple_head() {
    let device = Device::flex();
    let net = Net::seeded(ModelKind::Ufld, &device, 1);
    let shapes: std::collections::BTreeMap<String, Vec<usize>> =
        params::shapes(&net).into_iter().collect();
    for (name, shape) in [
        ("conv1.weight", vec![64, 3, 7, 7]),
        ("layer4.1.conv2.weight", vec![512, 512, 3, 3]),
        ("pool.weight", vec![8, 512, 1, 1]),
        // burn's Linear weights are [in, out].
        ("cls.0.weight", vec![1800, 2048]),
        ("cls.1.weight", vec![2048, 101 * 56 * 4]),
        ("aux_header2.0.conv.weight", vec![128, 128, 3, 3]),
        ("aux_header4.0.conv.weight", vec![128, 512, 3, 3]),
        ("aux_combine.0.conv.weight", vec![256, 384, 3, 3]),
        ("aux_out.weight", vec![5, 128, 1, 1]),
    ] {
        assert_eq!(shapes.get(name), Some(&shape), "{name}");
    }
    assert!(!shapes.contains_key("fc.weight"));
    // The head's logits per (cell, row anchor, lane) and the segmentation at 1/8 scale.
    let x = Tensor::<4>::random([1, 3, 288, 800], Distribution::Normal(0.0, 1.0), &device);
    let out = net.forward_lanes(x, true).unwrap();
    assert_eq!(out.cls.dims(), [1, 101, 56, 4]);
    assert_eq!(out.aux.unwrap().dims(), [1, 5, 36, 100]);
    // Backbone convolutions prune by default; heads and the auxiliary branch do not.
    let defaults = ModelKind::Ufld.default_prunable();
    assert_eq!(defaults.len(), 16);
    assert!(
        defaults
            .iter()
            .all(|n| n.starts_with("layer") && !n.contains("downsample"))
    );
    // Inference FLOPs: ResNet-18's convolutions (1.81 GMAC at 224x224) on 288x800, 4.59x the
    // pixels, 16.65 GFLOP, plus pool and head (2 x 50.0 M MAC).
    let flops = ModelKind::Ufld.forward_flops();
    assert_eq!(flops, 16_757_039_104.0);
}

/// The PyTorch name of one of our UFLD parameters (see `scripts/ufld_reference.py`).
fn ufld_torch_name(name: &str) -> String {
    let mut n = bn_torch_name(name)
        .replace("downsample.conv", "downsample.0")
        .replace("downsample.bn", "downsample.1");
    if let Some(rest) = n.strip_prefix("cls.1.") {
        n = format!("cls.2.{rest}");
    }
    if let Some(rest) = n.strip_prefix("aux_out.") {
        n = format!("aux_combine.4.{rest}");
    }
    if n.starts_with("conv1.") || n.starts_with("bn1.") || n.starts_with("layer") {
        n = format!("model.{n}");
    }
    n
}

/// PyTorch's names of burn's BatchNorm parameters (`weight` / `bias`).
fn bn_torch_name(name: &str) -> String {
    name.replace(".gamma", ".weight").replace(".beta", ".bias")
}

/// The reference scripts' formula (`scripts/ufld_reference.py`) for the tensor `torch_name`
/// of PyTorch shape `shape`, in PyTorch's flat order.
fn formula(torch_name: &str, shape: &[usize]) -> Vec<f32> {
    const PHI: f64 = 0.6180339887498949;
    let offset = (torch_name.bytes().map(u64::from).sum::<u64>() % 1000) as f64 / 1000.0;
    let n: usize = shape.iter().product();
    let leaf = torch_name.rsplit_once('.').unwrap().1;
    (0..n)
        .map(|k| {
            let x = k as f64 * PHI + offset;
            let u = x - x.floor() - 0.5;
            let v = match leaf {
                "running_mean" => 0.1 * u,
                "running_var" => 1.0 + u,
                "weight" if shape.len() == 1 => 1.0 + 0.2 * u,
                "bias" => 0.1 * u,
                _ => u * (24.0 / shape[1..].iter().product::<usize>() as f64).sqrt(),
            };
            v as f32
        })
        .collect()
}

/// `net` with every parameter and statistic set by the formula of its PyTorch name
/// (`torch_name` maps ours), Linear weights transposed to burn's `[in, out]`.
fn with_formula_weights(net: Net, torch_name: fn(&str) -> String) -> Net {
    let device = Device::flex();
    let shapes: std::collections::BTreeMap<String, Vec<usize>> =
        params::shapes(&net).into_iter().collect();
    params::map_flat(net, |name, value| {
        let shape = &shapes[name];
        let torch = torch_name(name);
        let values = if name.ends_with(".weight") && shape.len() == 2 {
            // burn's Linear weight is [in, out]; PyTorch's [out, in].
            let (inputs, outputs) = (shape[0], shape[1]);
            let torch_values = formula(&torch, &[outputs, inputs]);
            let mut ours = vec![0.0f32; inputs * outputs];
            for o in 0..outputs {
                for i in 0..inputs {
                    ours[i * outputs + o] = torch_values[o * inputs + i];
                }
            }
            ours
        } else {
            formula(&torch, shape)
        };
        Some(Tensor::from_data(
            burn::tensor::TensorData::new(values, [value.dims()[0]]),
            &device,
        ))
    })
}

/// The reference scripts' input: `frac(k x 0.7548776662466927 + 0.25) - 0.5`.
fn formula_input(shape: [usize; 4]) -> Tensor<4> {
    let n: usize = shape.iter().product();
    let input: Vec<f32> = (0..n)
        .map(|k| {
            let x = k as f64 * 0.7548776662466927 + 0.25;
            (x - x.floor() - 0.5) as f32
        })
        .collect();
    Tensor::<4>::from_data(burn::tensor::TensorData::new(input, shape), &Device::flex())
}

/// Our output against a fixture's evenly spaced values: the shape, and every value within
/// `tolerance` x the largest sampled magnitude (f32 with another summation order).
fn compare_samples(label: &str, ours: Tensor<4>, expected: &serde_json::Value, tolerance: f64) {
    let shape: Vec<usize> = serde_json::from_value(expected["shape"].clone()).unwrap();
    assert_eq!(ours.dims().to_vec(), shape, "{label}");
    let ours: Vec<f32> = ours.into_data().try_to_vec::<f32>().unwrap();
    let indices: Vec<usize> = serde_json::from_value(expected["indices"].clone()).unwrap();
    let values: Vec<f64> = serde_json::from_value(expected["values"].clone()).unwrap();
    let scale = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let max_error = indices
        .iter()
        .zip(&values)
        .map(|(&i, v)| (ours[i] as f64 - v).abs())
        .fold(0.0f64, f64::max);
    assert!(
        max_error <= tolerance * scale,
        "{label}: max abs error {max_error:e} at scale {scale}"
    );
    eprintln!("{label}: max abs error {max_error:e}, largest |value| {scale}");
}

fn fixture(name: &str) -> serde_json::Value {
    let path = super::common::root().join("tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn ufld_forward_matches_the_pytorch_reference() {
    let fixture = fixture("ufld_forward.json");
    let net = with_formula_weights(Net::init(ModelKind::Ufld, &Device::flex()), ufld_torch_name);
    let out = net
        .forward_lanes(formula_input([1, 3, 288, 800]), true)
        .unwrap();
    for (key, tensor) in [("cls", out.cls), ("aux", out.aux.unwrap())] {
        compare_samples(&format!("ufld {key}"), tensor, &fixture[key], 1e-4);
    }
}

#[test]
fn yolo_forward_matches_the_pytorch_reference() {
    let fixture = fixture("yolo_forward.json");
    for kind in [ModelKind::Yolov3Tiny, ModelKind::Yolov3] {
        let expected = &fixture[kind.name()];
        let net = Net::init(kind, &Device::flex());
        // Parameters as PyTorch counts them (YOLOv3: 61,949,149; tiny: 8,852,366).
        let count: usize = params::shapes(&net)
            .iter()
            .filter(|(name, _)| !name.contains(".running_"))
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum();
        assert_eq!(
            count as u64,
            expected["parameters"].as_u64().unwrap(),
            "{}",
            kind.name()
        );
        let net = with_formula_weights(net, bn_torch_name);
        let maps = net
            .forward_detection(formula_input([1, 3, 416, 416]))
            .unwrap();
        let outputs = expected["outputs"].as_array().unwrap();
        assert_eq!(maps.len(), outputs.len());
        for (i, (map, reference)) in maps.into_iter().zip(outputs).enumerate() {
            compare_samples(&format!("{} map {i}", kind.name()), map, reference, 1e-4);
        }
    }
}
