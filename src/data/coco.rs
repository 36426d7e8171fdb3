//! COCO's instance annotations (`annotations/instances_<split>.json`): the images of a split
//! with their boxes, the 80 categories mapped to class indices 0..79 in ascending category id
//! (the order of Darknet's `coco.names` and of every YOLOv3 port), checked as they are read.
//!
//! What is an error and what is a counted skip:
//! - a missing file, broken JSON, an annotation naming an unknown image or category, or a box
//!   more than one pixel outside its image: an error naming the file (and the annotation id);
//! - a box of zero width or height: skipped and counted (the reference's target assignment,
//!   eriklindernoren/PyTorch-YOLOv3 `utils/loss.py`, can never match it to an anchor);
//! - a crowd region (`iscrowd = 1`): not a training target (Darknet's COCO labels leave them
//!   out), counted, and kept for evaluation, where COCO's evaluator ignores what matches it.
//!
//! Boxes up to one pixel outside their image (COCO's float coordinates round outwards) are
//! clipped to it.

use crate::error::{Error, Result};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// How far (pixels) a box may reach outside its image before it is an error.
const OUTSIDE_TOLERANCE: f64 = 1.0;

/// One annotated box of an image.
#[derive(Debug, Clone, PartialEq)]
pub struct CocoBox {
    /// Class index (0-based, ascending category id).
    pub class: usize,
    /// `[x, y, width, height]` in pixels of the original image.
    pub bbox: [f64; 4],
    /// A crowd region: evaluated as COCO does, never a training target.
    pub crowd: bool,
}

/// One image of a split with its boxes.
#[derive(Debug, Clone, PartialEq)]
pub struct CocoImage {
    /// COCO's image id.
    pub id: u64,
    /// The image file.
    pub path: PathBuf,
    /// Width and height as the annotation file states them.
    pub size: [u32; 2],
    /// Its boxes, in annotation order.
    pub boxes: Vec<CocoBox>,
    /// Its boxes of zero width or height, left out.
    pub degenerate: usize,
}

/// A split as read: its images (ascending id), the category id of each class, and what was
/// skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct CocoSplit {
    /// Images with their boxes.
    pub images: Vec<CocoImage>,
    /// `categories[class]` is COCO's category id.
    pub categories: Vec<u64>,
}

impl CocoSplit {
    /// Boxes that are training targets (not crowd).
    pub fn targets(&self) -> usize {
        self.boxes(|b| !b.crowd)
    }

    /// Crowd regions (kept for evaluation only).
    pub fn crowd(&self) -> usize {
        self.boxes(|b| b.crowd)
    }

    /// Boxes of zero width or height, left out.
    pub fn degenerate(&self) -> usize {
        self.images.iter().map(|image| image.degenerate).sum()
    }

    fn boxes(&self, which: impl Fn(&CocoBox) -> bool) -> usize {
        self.images
            .iter()
            .map(|image| image.boxes.iter().filter(|b| which(b)).count())
            .sum()
    }
}

#[derive(Deserialize)]
struct InstancesFile {
    images: Vec<ImageRecord>,
    annotations: Vec<AnnotationRecord>,
    categories: Vec<CategoryRecord>,
}

#[derive(Deserialize)]
struct ImageRecord {
    id: u64,
    file_name: String,
    width: u32,
    height: u32,
}

#[derive(Deserialize)]
struct AnnotationRecord {
    id: u64,
    image_id: u64,
    category_id: u64,
    bbox: [f64; 4],
    #[serde(default)]
    iscrowd: u8,
    // Polygons and RLE masks are large and unused: skipped without being built.
    #[serde(default)]
    #[allow(dead_code)]
    segmentation: IgnoredAny,
}

#[derive(Deserialize)]
struct CategoryRecord {
    id: u64,
}

/// Reads the instances file `annotations` of a split whose images are in `image_dir`. Image
/// files are not opened here (see [`check_images`]).
pub fn read_split(annotations: &Path, image_dir: &Path) -> Result<CocoSplit> {
    let file = std::fs::File::open(annotations).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Data(format!("missing {}", annotations.display())),
        _ => Error::io(annotations)(e),
    })?;
    let corrupt = |message: String| Error::Corrupt {
        path: annotations.to_owned(),
        message,
    };
    let parsed: InstancesFile = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| corrupt(format!("not a COCO instances file: {e}")))?;
    let mut category_ids: Vec<u64> = parsed.categories.iter().map(|c| c.id).collect();
    category_ids.sort_unstable();
    category_ids.dedup();
    if category_ids.len() != parsed.categories.len() {
        return Err(corrupt("a category id appears twice".into()));
    }
    let class_of: HashMap<u64, usize> = category_ids
        .iter()
        .enumerate()
        .map(|(class, &id)| (id, class))
        .collect();
    let mut images: BTreeMap<u64, CocoImage> = BTreeMap::new();
    for record in parsed.images {
        let image = CocoImage {
            id: record.id,
            path: image_dir.join(&record.file_name),
            size: [record.width, record.height],
            boxes: Vec::new(),
            degenerate: 0,
        };
        if images.insert(record.id, image).is_some() {
            return Err(corrupt(format!("image id {} appears twice", record.id)));
        }
    }
    for ann in parsed.annotations {
        let image = images.get_mut(&ann.image_id).ok_or_else(|| {
            corrupt(format!(
                "annotation {} names image {}, which is not in `images`",
                ann.id, ann.image_id
            ))
        })?;
        let class = *class_of.get(&ann.category_id).ok_or_else(|| {
            corrupt(format!(
                "annotation {} names category {}, which is not in `categories`",
                ann.id, ann.category_id
            ))
        })?;
        let bbox = clip_box(ann.bbox, image.size).map_err(|why| {
            corrupt(format!(
                "annotation {} of {}: box {:?} {why}",
                ann.id,
                image.path.display(),
                ann.bbox
            ))
        })?;
        let is_crowd = ann.iscrowd != 0;
        if bbox[2] <= 0.0 || bbox[3] <= 0.0 {
            image.degenerate += 1;
            continue;
        }
        image.boxes.push(CocoBox {
            class,
            bbox,
            crowd: is_crowd,
        });
    }
    Ok(CocoSplit {
        images: images.into_values().collect(),
        categories: category_ids,
    })
}

/// The box clipped to its image, or why it cannot be (negative size, outside by more than
/// [`OUTSIDE_TOLERANCE`], not finite).
fn clip_box(bbox: [f64; 4], [width, height]: [u32; 2]) -> std::result::Result<[f64; 4], String> {
    let [x, y, w, h] = bbox;
    if !bbox.iter().all(|v| v.is_finite()) || w < 0.0 || h < 0.0 {
        return Err("has a negative or non-finite value".into());
    }
    let (width, height) = (f64::from(width), f64::from(height));
    if x < -OUTSIDE_TOLERANCE
        || y < -OUTSIDE_TOLERANCE
        || x + w > width + OUTSIDE_TOLERANCE
        || y + h > height + OUTSIDE_TOLERANCE
    {
        return Err(format!("lies outside the {width}x{height} image"));
    }
    let (x1, y1) = (x.max(0.0), y.max(0.0));
    let (x2, y2) = ((x + w).min(width), (y + h).min(height));
    Ok([x1, y1, (x2 - x1).max(0.0), (y2 - y1).max(0.0)])
}

/// The images of `split` whose file name is in the Darknet split list `list` (one image path
/// per line, e.g. `5k.txt`; only file names count), and the others.
pub fn partition_by_list(split: CocoSplit, list: &Path) -> Result<(CocoSplit, CocoSplit)> {
    let text = std::fs::read_to_string(list).map_err(Error::io(list))?;
    let names: std::collections::HashSet<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| line.rsplit('/').next().unwrap_or(line))
        .collect();
    if names.is_empty() {
        return Err(Error::Corrupt {
            path: list.to_owned(),
            message: "the split list names no image".into(),
        });
    }
    let (listed, rest) = split.images.into_iter().partition(|image| {
        let name = image.path.file_name().and_then(|n| n.to_str());
        name.is_some_and(|name| names.contains(name))
    });
    let with = |images| CocoSplit {
        images,
        categories: split.categories.clone(),
    };
    Ok((with(listed), with(rest)))
}

/// Checks every image file of `split` exists and its header states the annotated size; the
/// number of images checked. Decoding happens per batch (an image that fails to decode then
/// stops the run with its name).
pub fn check_images(split: &CocoSplit) -> Result<usize> {
    for image in &split.images {
        let (w, h) = image::image_dimensions(&image.path).map_err(|e| {
            Error::Data(format!(
                "{}: cannot read the image ({e})",
                image.path.display()
            ))
        })?;
        if [w, h] != image.size {
            return Err(Error::Data(format!(
                "{}: the image is {w}x{h}, its annotation says {}x{}",
                image.path.display(),
                image.size[0],
                image.size[1]
            )));
        }
    }
    Ok(split.images.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, json: &str) -> PathBuf {
        let path = dir.join("instances.json");
        std::fs::write(&path, json).unwrap();
        path
    }

    const CATEGORIES: &str =
        r#""categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}]"#;

    #[test]
    fn classes_follow_ascending_category_ids_and_skips_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            &format!(
                r#"{{"images": [{{"id": 7, "file_name": "b.jpg", "width": 100, "height": 50}},
                     {{"id": 3, "file_name": "a.jpg", "width": 10, "height": 10}}],
                 "annotations": [
                   {{"id": 1, "image_id": 7, "category_id": 18, "bbox": [10, 5, 20, 30], "segmentation": [[1, 2, 3]]}},
                   {{"id": 2, "image_id": 7, "category_id": 1, "bbox": [-0.5, 0, 100.5, 50.4], "iscrowd": 1}},
                   {{"id": 3, "image_id": 3, "category_id": 1, "bbox": [2, 2, 0, 4]}}],
                 {CATEGORIES}}}"#
            ),
        );
        let split = read_split(&path, Path::new("imgs")).unwrap();
        assert_eq!(split.categories, vec![1, 18]);
        assert_eq!(split.images[0].id, 3);
        assert!(split.images[0].boxes.is_empty());
        assert_eq!(split.images[1].path, Path::new("imgs/b.jpg"));
        assert_eq!(
            split.images[1].boxes,
            vec![
                CocoBox {
                    class: 1,
                    bbox: [10.0, 5.0, 20.0, 30.0],
                    crowd: false
                },
                CocoBox {
                    class: 0,
                    bbox: [0.0, 0.0, 100.0, 50.0],
                    crowd: true
                },
            ]
        );
        assert_eq!(
            (split.degenerate(), split.crowd(), split.targets()),
            (1, 1, 1)
        );
    }

    #[test]
    fn bad_annotations_name_the_file_and_the_annotation() {
        let dir = tempfile::tempdir().unwrap();
        let image = r#"{"id": 7, "file_name": "b.jpg", "width": 100, "height": 50}"#;
        let cases = [
            (
                r#"{"id": 9, "image_id": 7, "category_id": 1, "bbox": [90, 0, 20, 10]}"#,
                "annotation 9 of imgs/b.jpg: box [90.0, 0.0, 20.0, 10.0] lies outside the 100x50 image",
            ),
            (
                r#"{"id": 9, "image_id": 8, "category_id": 1, "bbox": [0, 0, 1, 1]}"#,
                "annotation 9 names image 8",
            ),
            (
                r#"{"id": 9, "image_id": 7, "category_id": 2, "bbox": [0, 0, 1, 1]}"#,
                "annotation 9 names category 2",
            ),
        ];
        for (annotation, expected) in cases {
            let path = write(
                dir.path(),
                &format!(r#"{{"images": [{image}], "annotations": [{annotation}], {CATEGORIES}}}"#),
            );
            let err = read_split(&path, Path::new("imgs"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("instances.json"), "{err}");
            assert!(err.contains(expected), "{err}");
        }
        let path = write(dir.path(), r#"{"images": [], "annotations": ["#);
        let err = read_split(&path, Path::new("imgs"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("instances.json") && err.contains("not a COCO instances file"),
            "{err}"
        );
        let err = read_split(&dir.path().join("none.json"), Path::new("imgs")).unwrap_err();
        assert!(err.to_string().starts_with("missing "), "{err}");
    }

    #[test]
    fn split_lists_match_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("5k.txt");
        std::fs::write(&list, "/images/val2014/a.jpg\n\n").unwrap();
        let image = |id: u64, name: &str| CocoImage {
            id,
            path: PathBuf::from("val2014").join(name),
            size: [1, 1],
            boxes: vec![],
            degenerate: id as usize,
        };
        let split = CocoSplit {
            images: vec![image(1, "a.jpg"), image(2, "b.jpg")],
            categories: vec![1],
        };
        let (kept, rest) = partition_by_list(split, &list).unwrap();
        assert_eq!(
            kept.images.iter().map(|i| i.id).collect::<Vec<_>>(),
            vec![1]
        );
        // Skipped boxes are counted with their images.
        assert_eq!((kept.degenerate(), rest.degenerate()), (1, 2));
        assert_eq!(
            rest.images.iter().map(|i| i.id).collect::<Vec<_>>(),
            vec![2]
        );
    }
}
